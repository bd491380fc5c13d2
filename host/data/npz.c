/* .npz archives through libzip, entirely in memory: reading one so the
 * loader can validate every byte before it trusts a size, and writing one so
 * the export can hand the finished bytes to the atomic file writer. */
#include "data/npz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "runtime/error.h"

struct npz_archive {
    zip_t *zip;
    char path[4096];
};

struct npz_writer {
    zip_source_t *source; /* the archive's bytes, kept after zip_close */
    zip_t *zip;
};

static pp_status zip_failure(pp_status status, const char *path, const char *doing,
                             zip_error_t *error) {
    pp_status st = pp_fail(status, "%s: %s: %s", path, doing, zip_error_strerror(error));
    zip_error_fini(error);
    return st;
}

pp_status npz_open(const uint8_t *data, size_t size, const char *path, npz_archive **out) {
    *out = NULL;
    if (size == 0) return pp_fail(PP_ERR_FORMAT, "%s: empty file, not an .npz archive", path);
    npz_archive *a = calloc(1, sizeof *a);
    if (!a) return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    snprintf(a->path, sizeof a->path, "%s", path);
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t *source = zip_source_buffer_create(data, size, 0, &error);
    if (!source) {
        free(a);
        return zip_failure(PP_ERR_OUT_OF_MEMORY, path, "reading the archive", &error);
    }
    a->zip = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
    if (!a->zip) {
        zip_source_free(source);
        free(a);
        return zip_failure(PP_ERR_FORMAT, path, "not a valid .npz (zip) archive", &error);
    }
    zip_error_fini(&error);
    *out = a;
    return PP_OK;
}

void npz_close(npz_archive *a) {
    if (!a) return;
    zip_discard(a->zip);
    free(a);
}

static zip_int64_t locate(npz_archive *a, const char *array) {
    char member[256];
    snprintf(member, sizeof member, "%s.npy", array);
    return zip_name_locate(a->zip, member, 0);
}

int npz_has(npz_archive *a, const char *array) {
    return locate(a, array) >= 0;
}

/* "a, b, c" of the archive's member names (for the message about a missing one). */
static void list_members(npz_archive *a, char *out, size_t size) {
    size_t n = 0;
    out[0] = '\0';
    zip_int64_t count = zip_get_num_entries(a->zip, 0);
    for (zip_int64_t i = 0; i < count && n < size; i++) {
        const char *name = zip_get_name(a->zip, (zip_uint64_t)i, 0);
        if (name) n += (size_t)snprintf(out + n, size - n, "%s%s", n ? ", " : "", name);
    }
    if (!count) snprintf(out, size, "nothing");
}

pp_status npz_read(npz_archive *a, const char *array, size_t max_bytes, uint8_t **data,
                   size_t *size) {
    *data = NULL;
    *size = 0;
    zip_int64_t index = locate(a, array);
    if (index < 0) {
        char members[1024];
        list_members(a, members, sizeof members);
        return pp_fail(PP_ERR_FORMAT, "%s: no array '%s' in the archive (it holds %s)", a->path,
                       array, members);
    }
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(a->zip, (zip_uint64_t)index, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return pp_fail(PP_ERR_FORMAT, "%s: array '%s': %s", a->path, array, zip_strerror(a->zip));
    if (st.size > max_bytes)
        return pp_fail(PP_ERR_FORMAT, "%s: array '%s' is %llu bytes, more than the %zu accepted",
                       a->path, array, (unsigned long long)st.size, max_bytes);
    zip_file_t *f = zip_fopen_index(a->zip, (zip_uint64_t)index, 0);
    if (!f)
        return pp_fail(PP_ERR_FORMAT, "%s: array '%s': %s", a->path, array, zip_strerror(a->zip));
    size_t n = (size_t)st.size;
    uint8_t *buffer = malloc(n ? n : 1);
    if (!buffer) {
        zip_fclose(f);
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory for array '%s' (%zu bytes)",
                       a->path, array, n);
    }
    /* reading to the end makes libzip check the member's CRC */
    size_t got = 0;
    zip_int64_t r = 0;
    while (got < n && (r = zip_fread(f, buffer + got, n - got)) > 0)
        got += (size_t)r;
    uint8_t probe;
    if (r >= 0 && got == n) r = zip_fread(f, &probe, 1);
    pp_status status = PP_OK;
    if (r < 0 || got != n)
        status = pp_fail(PP_ERR_FORMAT, "%s: array '%s' is corrupt: %s", a->path, array,
                         r < 0 ? zip_error_strerror(zip_file_get_error(f)) : "truncated");
    else if (r > 0)
        status = pp_fail(PP_ERR_FORMAT, "%s: array '%s' is longer than its directory entry says",
                         a->path, array);
    zip_fclose(f);
    if (status != PP_OK) {
        free(buffer);
        return status;
    }
    *data = buffer;
    *size = n;
    return PP_OK;
}

/* ---- Writing ---------------------------------------------------------- */

pp_status npz_writer_create(npz_writer **out) {
    *out = NULL;
    npz_writer *w = calloc(1, sizeof *w);
    if (!w) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for the .npz archive");
    zip_error_t error;
    zip_error_init(&error);
    w->source = zip_source_buffer_create(NULL, 0, 0, &error);
    if (w->source) w->zip = zip_open_from_source(w->source, ZIP_TRUNCATE, &error);
    /* the archive owns one reference; ours keeps the bytes after zip_close */
    if (w->zip) zip_source_keep(w->source);
    if (!w->zip) {
        npz_writer_destroy(w);
        return zip_failure(PP_ERR_OUT_OF_MEMORY, "the .npz archive", "creating it in memory",
                           &error);
    }
    zip_error_fini(&error);
    *out = w;
    return PP_OK;
}

pp_status npz_writer_add(npz_writer *w, const char *array, const void *header, size_t header_size,
                         const void *payload, size_t payload_size) {
    char member[256];
    snprintf(member, sizeof member, "%s.npy", array);
    size_t n = header_size + payload_size;
    uint8_t *bytes = malloc(n);
    if (!bytes) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for array '%s'", array);
    memcpy(bytes, header, header_size);
    if (payload_size) memcpy(bytes + header_size, payload, payload_size);
    /* libzip frees bytes when the archive is closed */
    zip_source_t *s = zip_source_buffer(w->zip, bytes, n, 1);
    if (!s) {
        free(bytes);
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "array '%s': %s", array, zip_strerror(w->zip));
    }
    zip_int64_t index = zip_file_add(w->zip, member, s, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
        zip_source_free(s);
        return pp_fail(PP_ERR_INTERNAL, "array '%s': %s", array, zip_strerror(w->zip));
    }
    /* stored, as numpy.savez writes: a reader needs no inflater */
    if (zip_set_file_compression(w->zip, (zip_uint64_t)index, ZIP_CM_STORE, 0) != 0)
        return pp_fail(PP_ERR_INTERNAL, "array '%s': %s", array, zip_strerror(w->zip));
    return PP_OK;
}

pp_status npz_writer_finish(npz_writer *w, uint8_t **data, size_t *size) {
    *data = NULL;
    *size = 0;
    if (zip_close(w->zip) != 0)
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "assembling the .npz archive: %s",
                       zip_strerror(w->zip));
    w->zip = NULL;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_source_stat(w->source, &st) != 0 || zip_source_open(w->source) != 0)
        return pp_fail(PP_ERR_INTERNAL, "reading the assembled .npz archive: %s",
                       zip_error_strerror(zip_source_error(w->source)));
    size_t n = (size_t)st.size;
    uint8_t *bytes = malloc(n ? n : 1);
    zip_int64_t got = bytes ? zip_source_read(w->source, bytes, n) : -1;
    zip_source_close(w->source);
    if (!bytes || got < 0 || (size_t)got != n) {
        free(bytes);
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "reading the assembled .npz archive back");
    }
    *data = bytes;
    *size = n;
    return PP_OK;
}

void npz_writer_destroy(npz_writer *w) {
    if (!w) return;
    if (w->zip) zip_discard(w->zip);
    if (w->source) zip_source_free(w->source);
    free(w);
}
