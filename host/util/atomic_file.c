/* Temporary file, write, fsync, rename: a crash or a full disk leaves the old file. */
#include "util/atomic_file.h"

#include "runtime/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Splits path into its directory (dir, "." when none) and base name. */
static const char *split_path(const char *path, char *dir, size_t size) {
    snprintf(dir, size, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *base = strrchr(path, '/');
    if (!slash)
        snprintf(dir, size, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    return base ? base + 1 : path;
}

/* Removes "<path>.tmp.<pid>" files left by writers that were killed mid-write
 * (their process is gone); best effort. */
static void remove_stale_temporaries(const char *path) {
    char dir[4096], prefix[4096];
    const char *base = split_path(path, dir, sizeof dir);
    int n = snprintf(prefix, sizeof prefix, "%s.tmp.", base);
    if (n <= 0 || (size_t)n >= sizeof prefix) return;
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, prefix, (size_t)n) != 0) continue;
        char *end = NULL;
        long pid = strtol(e->d_name + n, &end, 10);
        if (pid <= 0 || *end || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* its writer may be alive */
        char stale[8192];
        if ((size_t)snprintf(stale, sizeof stale, "%s/%s", dir, e->d_name) < sizeof stale)
            unlink(stale);
    }
    closedir(d);
}

/* Makes the rename itself durable; best effort, as some filesystems refuse. */
static void sync_directory_of(const char *path) {
    char dir[4096];
    split_path(path, dir, sizeof dir);
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
    if (st == PP_OK) remove_stale_temporaries(path);
    free(tmp);
    return st;
}
