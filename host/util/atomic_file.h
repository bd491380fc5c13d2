/* Writing a file so that readers see the old or the new content, never a mix. */
#ifndef PEPITA_UTIL_ATOMIC_FILE_H
#define PEPITA_UTIL_ATOMIC_FILE_H

#include <stddef.h>

#include "pepita/pepita.h"

/* Writes data to a temporary file beside path, flushes and fsyncs it, then
 * renames it over path. On failure the temporary is removed and path is
 * untouched; the message names the path and the system error. After a
 * success, temporaries of path left by killed writers are removed. */
pp_status pp_write_file_atomic(const char *path, const void *data, size_t size);

#endif
