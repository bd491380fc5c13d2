/* The .npy format: "\x93NUMPY", a version, the header's length, then a
 * Python dictionary literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), }
 * padded with spaces to a newline, then the raw elements in C order. The
 * format is documented in numpy.lib.format; this parser accepts exactly the
 * dictionaries NumPy writes (any key order, optional trailing comma). */
#include "data/npy.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "runtime/error.h"

static const char MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

typedef struct dtype_spelling {
    const char *descr; /* after the byte-order character */
    npy_dtype dtype;
    size_t size;
    const char *name;
} dtype_spelling;

static const dtype_spelling dtypes[] = {
    {"u1", NPY_UINT8, 1, "uint8"},     {"i1", NPY_INT8, 1, "int8"},
    {"u2", NPY_UINT16, 2, "uint16"},   {"i2", NPY_INT16, 2, "int16"},
    {"u4", NPY_UINT32, 4, "uint32"},   {"i4", NPY_INT32, 4, "int32"},
    {"u8", NPY_UINT64, 8, "uint64"},   {"i8", NPY_INT64, 8, "int64"},
    {"f4", NPY_FLOAT32, 4, "float32"},
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

const char *npy_dtype_name(npy_dtype dtype) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtypes[i].dtype == dtype) return dtypes[i].name;
    return "?";
}

int npy_dtype_is_integer(npy_dtype dtype) {
    return dtype != NPY_FLOAT32;
}

/* ---- The header's dictionary ------------------------------------------ */

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_spaces(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* Consumes ch (after spaces) when it is next. */
static int accept(cursor *c, char ch) {
    skip_spaces(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string ('...' or "..."), without escapes (NumPy writes none). */
static int read_string(cursor *c, char *out, size_t size) {
    skip_spaces(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char quote = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\\' || n + 1 >= size) return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    out[n] = '\0';
    return 1;
}

static int read_word(cursor *c, const char *word) {
    skip_spaces(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return 0;
    c->p += n;
    return 1;
}

/* A tuple of non-negative integers: (), (n,), (a, b), (a, b,). */
static int read_shape(cursor *c, npy_array *a) {
    if (!accept(c, '(')) return 0;
    a->ndim = 0;
    for (;;) {
        if (accept(c, ')')) return 1;
        skip_spaces(c);
        if (c->p >= c->end || !isdigit((unsigned char)*c->p) || a->ndim >= NPY_MAX_DIMS) return 0;
        size_t v = 0;
        while (c->p < c->end && isdigit((unsigned char)*c->p)) {
            size_t digit = (size_t)(*c->p++ - '0');
            if (v > (SIZE_MAX - digit) / 10) return 0;
            v = v * 10 + digit;
        }
        skip_spaces(c);
        if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2 longs */
        a->shape[a->ndim++] = v;
        if (!accept(c, ',')) return accept(c, ')');
    }
}

static pp_status bad_header(const char *name, const char *what) {
    return pp_fail(PP_ERR_FORMAT, "%s: malformed .npy header: %s", name, what);
}

static pp_status parse_dictionary(const char *text, size_t length, const char *name, npy_array *a,
                                  int *fortran) {
    cursor c = {text, text + length};
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (!accept(&c, '{')) return bad_header(name, "it does not start with '{'");
    while (!accept(&c, '}')) {
        char key[32];
        if (!read_string(&c, key, sizeof key) || !accept(&c, ':'))
            return bad_header(name, "expected 'key': value");
        if (!strcmp(key, "descr") && !have_descr) {
            if (!read_string(&c, a->descr, sizeof a->descr))
                return bad_header(name, "'descr' is not a simple dtype string (structured "
                                        "arrays are not supported)");
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order") && !have_order) {
            if (read_word(&c, "True"))
                *fortran = 1;
            else if (read_word(&c, "False"))
                *fortran = 0;
            else
                return bad_header(name, "'fortran_order' is neither True nor False");
            have_order = 1;
        } else if (!strcmp(key, "shape") && !have_shape) {
            if (!read_shape(&c, a))
                return bad_header(name, "'shape' is not a tuple of at most 8 non-negative "
                                        "integers");
            have_shape = 1;
        } else {
            char what[96];
            snprintf(what, sizeof what, "unexpected or repeated key '%s'", key);
            return bad_header(name, what);
        }
        if (!accept(&c, ',')) {
            if (!accept(&c, '}')) return bad_header(name, "expected ',' or '}'");
            break;
        }
    }
    skip_spaces(&c);
    if (c.p != c.end) return bad_header(name, "text after the dictionary");
    if (!have_descr || !have_order || !have_shape)
        return bad_header(name, "it lacks one of 'descr', 'fortran_order' and 'shape'");
    return PP_OK;
}

/* ---- The file --------------------------------------------------------- */

static pp_status parse_dtype(const char *name, npy_array *a) {
    const char *d = a->descr;
    char order = d[0];
    for (size_t i = 0; i < N_DTYPES; i++) {
        if (strcmp(d + 1, dtypes[i].descr) != 0) continue;
        /* one-byte types are written '|'; wider ones must be little-endian */
        int ok = dtypes[i].size == 1
                     ? (order == '|' || order == '<' || order == '>' || order == '=')
                     : (order == '<');
        if (!ok) break;
        a->dtype = dtypes[i].dtype;
        a->element_size = dtypes[i].size;
        return PP_OK;
    }
    if (order == '>' && strlen(d) > 1)
        return pp_fail(PP_ERR_FORMAT,
                       "%s: dtype '%s' is big-endian; save it little-endian (e.g. "
                       "a.astype('<%s'))",
                       name, d, d + 1);
    return pp_fail(PP_ERR_FORMAT,
                   "%s: unsupported dtype '%s' (expected uint8 or float32 for samples, an "
                   "integer type for labels)",
                   name, d);
}

pp_status npy_parse(const uint8_t *data, size_t size, const char *name, npy_array *out) {
    memset(out, 0, sizeof *out);
    if (size == 0) return pp_fail(PP_ERR_FORMAT, "%s: empty file, not a .npy array", name);
    if (size < 10 || memcmp(data, MAGIC, sizeof MAGIC) != 0)
        return pp_fail(PP_ERR_FORMAT, "%s: not a .npy array (bad magic)", name);
    unsigned major = data[6], minor = data[7];
    size_t prefix, header_len;
    if (major == 1) {
        prefix = 10;
        header_len = (size_t)data[8] | (size_t)data[9] << 8;
    } else if (major == 2 || major == 3) {
        if (size < 12) return pp_fail(PP_ERR_FORMAT, "%s: truncated .npy header", name);
        prefix = 12;
        header_len = (size_t)data[8] | (size_t)data[9] << 8 | (size_t)data[10] << 16 |
                     (size_t)data[11] << 24;
    } else {
        return pp_fail(PP_ERR_FORMAT, "%s: .npy format version %u.%u, this build reads 1.0-3.0",
                       name, major, minor);
    }
    if (header_len > size - prefix)
        return pp_fail(PP_ERR_FORMAT,
                       "%s: truncated .npy header: it declares %zu bytes, the file holds %zu", name,
                       header_len, size - prefix);
    const char *text = (const char *)data + prefix;
    if (header_len == 0 || text[header_len - 1] != '\n')
        return bad_header(name, "it does not end with a newline");
    int fortran = 0;
    PP_TRY(parse_dictionary(text, header_len - 1, name, out, &fortran));
    PP_TRY(parse_dtype(name, out));
    size_t count = 1;
    for (int i = 0; i < out->ndim; i++) {
        if (out->shape[i] && count > SIZE_MAX / out->shape[i])
            return pp_fail(PP_ERR_FORMAT, "%s: the shape's product overflows", name);
        count *= out->shape[i];
    }
    if (fortran && out->ndim > 1)
        return pp_fail(PP_ERR_FORMAT,
                       "%s: the array is in Fortran order; save it in C order (e.g. "
                       "np.ascontiguousarray)",
                       name);
    size_t payload = size - prefix - header_len;
    if (count > SIZE_MAX / out->element_size || count * out->element_size != payload)
        return pp_fail(PP_ERR_FORMAT,
                       "%s: the header declares %zu elements of %zu bytes, the payload holds %zu "
                       "bytes (%s)",
                       name, count, out->element_size, payload,
                       count <= SIZE_MAX / out->element_size && count * out->element_size > payload
                           ? "truncated"
                           : "extra bytes");
    out->count = count;
    out->data = data + prefix + header_len;
    return PP_OK;
}

int64_t npy_integer_at(const npy_array *a, size_t i) {
    const uint8_t *p = a->data + i * a->element_size;
    uint64_t u = 0;
    for (size_t b = 0; b < a->element_size; b++) /* little-endian, any alignment */
        u |= (uint64_t)p[b] << (8 * b);
    switch (a->dtype) {
    case NPY_INT8:
        return (int8_t)u;
    case NPY_INT16:
        return (int16_t)u;
    case NPY_INT32:
        return (int32_t)u;
    case NPY_INT64:
        return (int64_t)u;
    case NPY_UINT64:
        return u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
    case NPY_UINT8:
    case NPY_UINT16:
    case NPY_UINT32:
        return (int64_t)u;
    case NPY_FLOAT32:
        break;
    }
    return 0;
}

size_t npy_write_header(char *out, const char *descr, int ndim, const size_t *shape) {
    char dict[NPY_HEADER_MAX], dims[NPY_HEADER_MAX] = "";
    size_t n = 0;
    for (int i = 0; i < ndim && n < sizeof dims; i++)
        n += (size_t)snprintf(dims + n, sizeof dims - n, "%zu,%s", shape[i],
                              i + 1 < ndim ? " " : "");
    if (n >= sizeof dims) return 0;
    /* a 1-d shape keeps its comma, "(n,)"; others drop the last one */
    if (ndim > 1) dims[n - 1] = '\0';
    int len = snprintf(dict, sizeof dict,
                       "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims);
    if (len < 0 || (size_t)len >= sizeof dict) return 0;
    size_t total = 10 + (size_t)len + 1;
    total = (total + 63) / 64 * 64;
    if (total > NPY_HEADER_MAX) return 0;
    size_t header_len = total - 10;
    memcpy(out, MAGIC, sizeof MAGIC);
    out[6] = 1, out[7] = 0;
    out[8] = (char)(header_len & 0xff), out[9] = (char)(header_len >> 8);
    memcpy(out + 10, dict, (size_t)len);
    memset(out + 10 + len, ' ', header_len - (size_t)len - 1);
    out[total - 1] = '\n';
    return total;
}
