/* The NumPy .npy format (numpy.lib.format, versions 1.0-3.0): parsing a
 * header and payload held in memory, and writing a header. */
#ifndef PEPITA_DATA_NPY_H
#define PEPITA_DATA_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "pepita/pepita.h"

#define NPY_MAX_DIMS 8

/* The element types pepita reads: bytes and float32 for samples, any
 * integer for labels. */
typedef enum npy_dtype {
    NPY_UINT8,
    NPY_INT8,
    NPY_UINT16,
    NPY_INT16,
    NPY_UINT32,
    NPY_INT32,
    NPY_UINT64,
    NPY_INT64,
    NPY_FLOAT32,
} npy_dtype;

typedef struct npy_array {
    npy_dtype dtype;
    char descr[16]; /* as the header spells it, e.g. "<f4" */
    int ndim;
    size_t shape[NPY_MAX_DIMS];
    size_t count;        /* the product of the shape (1 for a 0-d array) */
    const uint8_t *data; /* the payload inside the parsed buffer */
    size_t element_size; /* bytes per element */
} npy_array;

/* Parses a whole .npy file of size bytes. name (the file, and the array
 * within an archive) starts every message. Checks the magic, version,
 * header length, the header's dictionary (descr, fortran_order, shape and
 * nothing else), a supported little-endian dtype, C order, the product of
 * the shape, and that the payload is exactly the size the header declares.
 * PP_ERR_FORMAT on any of these. */
pp_status npy_parse(const uint8_t *data, size_t size, const char *name, npy_array *out);

/* Element i of an integer array as int64 (uint64 above INT64_MAX saturates). */
int64_t npy_integer_at(const npy_array *a, size_t i);
/* Whether a dtype is an integer type. */
int npy_dtype_is_integer(npy_dtype dtype);
const char *npy_dtype_name(npy_dtype dtype); /* "uint8", "float32", ... */

/* Writes a version 1.0 header for a C-order array of descr ("<f4", "<U123")
 * and shape (ndim 0 for a scalar) into out (at least NPY_HEADER_MAX bytes);
 * returns its length, a multiple of 64, or 0 when it does not fit. */
#define NPY_HEADER_MAX 256
size_t npy_write_header(char *out, const char *descr, int ndim, const size_t *shape);

#endif
