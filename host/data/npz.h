/* NumPy .npz archives (a zip of .npy files, as numpy.savez writes them),
 * read from and written to memory through libzip. */
#ifndef PEPITA_DATA_NPZ_H
#define PEPITA_DATA_NPZ_H

#include <stddef.h>
#include <stdint.h>

#include "pepita/pepita.h"

typedef struct npz_archive npz_archive;

/* Opens the archive in data (which must outlive it). path names it in
 * messages. PP_ERR_FORMAT when it is not a consistent zip archive. */
pp_status npz_open(const uint8_t *data, size_t size, const char *path, npz_archive **archive);
void npz_close(npz_archive *archive);
/* Whether the archive holds array (member "<array>.npy"). */
int npz_has(npz_archive *archive, const char *array);
/* Reads member "<array>.npy" (stored or deflated) into a malloc'd buffer,
 * checking its CRC. PP_ERR_FORMAT when it is missing (the message lists the
 * arrays there are), larger than max_bytes, or corrupt. */
pp_status npz_read(npz_archive *archive, const char *array, size_t max_bytes, uint8_t **data,
                   size_t *size);

/* Builds an archive in memory, member by member. */
typedef struct npz_writer npz_writer;
pp_status npz_writer_create(npz_writer **writer);
/* Adds "<array>.npy" made of a .npy header and its payload (both copied). */
pp_status npz_writer_add(npz_writer *writer, const char *array, const void *header,
                         size_t header_size, const void *payload, size_t payload_size);
/* Finishes the archive: *data (malloc'd) holds its bytes. */
pp_status npz_writer_finish(npz_writer *writer, uint8_t **data, size_t *size);
void npz_writer_destroy(npz_writer *writer);

#endif
