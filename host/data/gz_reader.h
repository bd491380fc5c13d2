/* Reading a whole data file into memory, raw or gzip-compressed. */
#ifndef PEPITA_DATA_GZ_READER_H
#define PEPITA_DATA_GZ_READER_H

#include <stddef.h>
#include <stdint.h>

#include "pepita/pepita.h"

/* The largest file the loaders accept once decompressed. The biggest real
 * one, CIFAR-100's train.bin, is 154 MB; the cap keeps a gzip bomb from
 * exhausting memory. */
#define GZ_READER_MAX_BYTES ((size_t)1 << 30)

/* Reads path into a malloc'd buffer, decompressing it if it is gzip (zlib
 * passes other files through unchanged, whatever their name). Fails, with a
 * message that starts with the path, with PP_ERR_NOT_FOUND (missing), PP_ERR_IO
 * (a directory or other non-regular file, no permission, a read error),
 * PP_ERR_FORMAT (empty, a corrupt or truncated gzip stream, more than
 * max_bytes) or PP_ERR_OUT_OF_MEMORY. On failure *data is NULL and *size 0. */
pp_status gz_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size);

#endif
