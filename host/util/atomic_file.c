/* Temporary file, write, fsync, rename: a crash or a full disk leaves the old file. */
#include "util/atomic_file.h"

#include "runtime/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Makes the rename itself durable; best effort, as some filesystems refuse. */
static void sync_directory_of(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

pp_status pp_write_file_atomic(const char *path, const void *data, size_t size) {
    size_t len = strlen(path) + 32;
    char *tmp = malloc(len);
    if (!tmp) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
    snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
    pp_status st = PP_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        st = pp_fail(PP_ERR_IO, "%s: cannot create a temporary file: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    const unsigned char *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            st = pp_fail(PP_ERR_IO,
                         "%s: writing failed after %zu of %zu bytes: %s; the previous file is "
                         "untouched",
                         path, size - left, size, n < 0 ? strerror(errno) : "no space written");
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (st == PP_OK && fsync(fd) != 0)
        st = pp_fail(PP_ERR_IO, "%s: fsync failed: %s; the previous file is untouched", path,
                     strerror(errno));
    if (close(fd) != 0 && st == PP_OK)
        st = pp_fail(PP_ERR_IO, "%s: close failed: %s", path, strerror(errno));
    if (st == PP_OK && rename(tmp, path) != 0)
        st = pp_fail(PP_ERR_IO, "%s: renaming the new file into place failed: %s", path,
                     strerror(errno));
    if (st != PP_OK) unlink(tmp);
    if (st == PP_OK) sync_directory_of(path);
    free(tmp);
    return st;
}
