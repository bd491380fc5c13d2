#include "data/gz_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "runtime/error.h"

/* gzread takes an unsigned length and returns an int: read in slices. */
#define GZ_SLICE ((size_t)1 << 30)

/* zlib prefixes its messages with the stream's name ("<fd:N>" after
 * gzdopen); ours already start with the path. */
static const char *without_stream_name(const char *message) {
    if (strncmp(message, "<fd:", 4) == 0) {
        const char *rest = strstr(message, ": ");
        if (rest) return rest + 2;
    }
    return message;
}

static pp_status stream_failure(gzFile gz, const char *path, int saved_errno) {
    int code = Z_OK;
    const char *message = gzerror(gz, &code);
    switch (code) {
    case Z_ERRNO:
        return pp_fail(PP_ERR_IO, "%s: read error: %s", path, strerror(saved_errno));
    case Z_MEM_ERROR:
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of memory while decompressing", path);
    case Z_BUF_ERROR:
        return pp_fail(PP_ERR_FORMAT,
                       "%s: corrupt gzip stream: unexpected end of file (truncated download?)",
                       path);
    default:
        return pp_fail(PP_ERR_FORMAT, "%s: corrupt gzip stream: %s", path,
                       without_stream_name(message));
    }
}

/* Opens path for reading and checks it is a non-empty regular file, so that
 * a directory or an empty file gets its own message instead of a zlib one. */
static pp_status open_regular(const char *path, int *fd_out, size_t *file_size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR) return pp_fail(PP_ERR_NOT_FOUND, "%s: not found", path);
        return pp_fail(PP_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    struct stat st;
    pp_status status = PP_OK;
    if (fstat(fd, &st) != 0)
        status = pp_fail(PP_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode))
        status = pp_fail(PP_ERR_IO, "%s: is a directory, expected a file", path);
    else if (!S_ISREG(st.st_mode))
        status = pp_fail(PP_ERR_IO, "%s: not a regular file", path);
    else if (st.st_size == 0)
        status = pp_fail(PP_ERR_FORMAT, "%s: empty file (0 bytes)", path);
    if (status != PP_OK) {
        close(fd);
        return status;
    }
    *fd_out = fd;
    *file_size = (uintmax_t)st.st_size > SIZE_MAX ? SIZE_MAX : (size_t)st.st_size;
    return PP_OK;
}

pp_status gz_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size) {
    *data = NULL;
    *size = 0;
    if (max_bytes == 0 || max_bytes >= SIZE_MAX / 2)
        return pp_fail(PP_ERR_ARGUMENT, "%s: bad size limit %zu", path, max_bytes);
    int fd = -1;
    size_t file_size = 0;
    PP_TRY(open_regular(path, &fd, &file_size));
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: cannot start decompression", path);
    }
    gzbuffer(gz, 1u << 17);

    /* A raw file fits in its own size (+1 to see the end without growing);
     * a compressed one grows the buffer by doubling. */
    size_t capacity = file_size < max_bytes ? file_size + 1 : max_bytes + 1;
    size_t length = 0;
    uint8_t *buffer = malloc(capacity);
    pp_status status = PP_OK;
    if (!buffer) {
        status =
            pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of memory allocating %zu bytes", path, capacity);
        goto done;
    }
    for (;;) {
        if (length == capacity) {
            if (capacity > max_bytes) {
                status = pp_fail(PP_ERR_FORMAT,
                                 "%s: more than %zu bytes once decompressed, too large for a "
                                 "dataset file",
                                 path, max_bytes);
                goto done;
            }
            size_t grown = capacity > (max_bytes + 1) / 2 ? max_bytes + 1 : capacity * 2;
            uint8_t *bigger = realloc(buffer, grown);
            if (!bigger) {
                status = pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of memory allocating %zu bytes",
                                 path, grown);
                goto done;
            }
            buffer = bigger;
            capacity = grown;
        }
        size_t want = capacity - length < GZ_SLICE ? capacity - length : GZ_SLICE;
        errno = 0;
        int got = gzread(gz, buffer + length, (unsigned)want);
        if (got < 0) {
            status = stream_failure(gz, path, errno);
            goto done;
        }
        if (got == 0) break;
        length += (size_t)got;
    }
    /* gzread reports a truncated stream only through gzerror (Z_BUF_ERROR). */
    int code = Z_OK;
    gzerror(gz, &code);
    if (code != Z_OK) {
        status = stream_failure(gz, path, errno);
        goto done;
    }
    if (length == 0) {
        status = pp_fail(PP_ERR_FORMAT, "%s: empty once decompressed (0 bytes)", path);
        goto done;
    }

done:
    gzclose(gz);
    if (status != PP_OK) {
        free(buffer);
        return status;
    }
    *data = buffer;
    *size = length;
    return PP_OK;
}
