/* x_train, y_train, x_test, y_test as NumPy writes them (numpy.savez, or
 * numpy.save for each) into two pp_datasets, checking every array against
 * the others before anything is copied. */
#include "data/npz_dataset.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/gz_reader.h"
#include "data/npy.h"
#include "data/npz.h"
#include "runtime/error.h"

#define MAX_CLASSES 256

enum { X_TRAIN, Y_TRAIN, X_TEST, Y_TEST, N_ARRAYS };
static const char *const array_names[N_ARRAYS] = {"x_train", "y_train", "x_test", "y_test"};

/* The four arrays: each file's bytes (owned) and the parsed view into them. */
typedef struct npz_arrays {
    uint8_t *bytes[N_ARRAYS];
    npy_array a[N_ARRAYS];
    char where[N_ARRAYS][4200]; /* "file: array" or "dir/x_train.npy", for messages */
} npz_arrays;

static void free_arrays(npz_arrays *s) {
    for (int i = 0; i < N_ARRAYS; i++)
        free(s->bytes[i]);
}

/* The sample shape of a samples array: C x H x W for N x C x H x W, 1 x H x W
 * for N x H x W, 1 x 1 x d otherwise. */
static pp_status sample_shape(const npy_array *x, const char *where, int shape[3]) {
    if (x->ndim < 2)
        return pp_fail(PP_ERR_FORMAT,
                       "%s: samples must have at least 2 dimensions (N x features), got %d", where,
                       x->ndim);
    if (x->dtype != NPY_UINT8 && x->dtype != NPY_FLOAT32)
        return pp_fail(PP_ERR_FORMAT, "%s: samples are %s; expected uint8 or float32", where,
                       npy_dtype_name(x->dtype));
    size_t per = x->shape[0] ? x->count / x->shape[0] : 1;
    for (int i = 1; i < x->ndim && !x->shape[0]; i++)
        per *= x->shape[i];
    if (per == 0) return pp_fail(PP_ERR_FORMAT, "%s: samples of zero values", where);
    if (per > INT_MAX / 4)
        return pp_fail(PP_ERR_FORMAT, "%s: samples of %zu values are too large", where, per);
    shape[0] = x->ndim == 4 ? (int)x->shape[1] : 1;
    shape[1] = x->ndim == 4 ? (int)x->shape[2] : x->ndim == 3 ? (int)x->shape[1] : 1;
    shape[2] = x->ndim == 4 ? (int)x->shape[3] : x->ndim == 3 ? (int)x->shape[2] : (int)per;
    return PP_OK;
}

/* Checks a labels array against its samples; raises *largest. */
static pp_status check_labels(const npy_array *y, const char *where, size_t n,
                              const char *samples_where, int64_t *largest) {
    if (!npy_dtype_is_integer(y->dtype))
        return pp_fail(PP_ERR_FORMAT, "%s: labels are %s; expected an integer type", where,
                       npy_dtype_name(y->dtype));
    if (y->ndim != 1 && !(y->ndim == 2 && y->shape[1] == 1))
        return pp_fail(PP_ERR_FORMAT, "%s: labels must be a 1-d array of N, got %d dimensions",
                       where, y->ndim);
    if (y->shape[0] != n)
        return pp_fail(PP_ERR_FORMAT, "%s: %zu labels, but %s holds %zu samples", where,
                       y->shape[0], samples_where, n);
    for (size_t i = 0; i < n; i++) {
        int64_t l = npy_integer_at(y, i);
        if (l < 0 || l >= MAX_CLASSES)
            return pp_fail(PP_ERR_FORMAT,
                           "%s: label %lld at item %zu is out of range (labels must be 0..%d)",
                           where, (long long)l, i, MAX_CLASSES - 1);
        if (l > *largest) *largest = l;
    }
    return PP_OK;
}

/* One split from its checked arrays. */
static pp_status make_split(const npy_array *x, const npy_array *y, const int shape[3], int classes,
                            const char *where, pp_dataset *out) {
    size_t n = x->shape[0];
    int32_t *labels = malloc(n * sizeof *labels);
    if (!labels) return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", where);
    for (size_t i = 0; i < n; i++)
        labels[i] = (int32_t)npy_integer_at(y, i);
    /* the payload may be unaligned inside the file: copy floats out first */
    const void *samples = x->data;
    float *aligned = NULL;
    if (x->dtype == NPY_FLOAT32 && ((uintptr_t)x->data % sizeof(float)) != 0) {
        aligned = malloc(x->count * sizeof(float));
        if (!aligned) {
            free(labels);
            return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", where);
        }
        memcpy(aligned, x->data, x->count * sizeof(float));
        samples = aligned;
    }
    if (x->dtype == NPY_FLOAT32) {
        const float *f = samples;
        for (size_t i = 0; i < x->count; i++)
            if (!isfinite(f[i])) {
                free(labels);
                free(aligned);
                return pp_fail(PP_ERR_FORMAT, "%s: value %zu of sample %zu is not finite", where,
                               i % (x->count / n), i / (x->count / n));
            }
    }
    pp_status st = pp_dataset_from_memory(
        samples, x->dtype == NPY_FLOAT32 ? PP_SAMPLES_FLOAT32 : PP_SAMPLES_UINT8, n, shape[0],
        shape[1], shape[2], labels, classes, out);
    free(labels);
    free(aligned);
    if (st != PP_OK) return pp_fail_context(st, "%s", where);
    return PP_OK;
}

/* Validates the four parsed arrays together, then builds both splits. */
static pp_status build(const npz_arrays *s, pp_dataset *train, pp_dataset *test) {
    const npy_array *a = s->a;
    int shape[2][3];
    PP_TRY(sample_shape(&a[X_TRAIN], s->where[X_TRAIN], shape[0]));
    PP_TRY(sample_shape(&a[X_TEST], s->where[X_TEST], shape[1]));
    if (a[X_TRAIN].shape[0] == 0 || a[X_TEST].shape[0] == 0)
        return pp_fail(PP_ERR_FORMAT, "%s: no samples",
                       s->where[a[X_TRAIN].shape[0] ? X_TEST : X_TRAIN]);
    if (a[X_TRAIN].dtype != a[X_TEST].dtype)
        return pp_fail(PP_ERR_FORMAT, "%s: samples are %s, but %s holds %s", s->where[X_TEST],
                       npy_dtype_name(a[X_TEST].dtype), s->where[X_TRAIN],
                       npy_dtype_name(a[X_TRAIN].dtype));
    if (memcmp(shape[0], shape[1], sizeof shape[0]) != 0)
        return pp_fail(PP_ERR_FORMAT, "%s: samples are %dx%dx%d, but %s holds %dx%dx%d",
                       s->where[X_TEST], shape[1][0], shape[1][1], shape[1][2], s->where[X_TRAIN],
                       shape[0][0], shape[0][1], shape[0][2]);
    int64_t largest = -1;
    PP_TRY(check_labels(&a[Y_TRAIN], s->where[Y_TRAIN], a[X_TRAIN].shape[0], s->where[X_TRAIN],
                        &largest));
    PP_TRY(
        check_labels(&a[Y_TEST], s->where[Y_TEST], a[X_TEST].shape[0], s->where[X_TEST], &largest));
    if (largest < 1)
        return pp_fail(PP_ERR_FORMAT, "%s: every label is %lld: at least 2 classes are needed",
                       s->where[Y_TRAIN], (long long)largest);
    int classes = (int)largest + 1;
    PP_TRY(make_split(&a[X_TRAIN], &a[Y_TRAIN], shape[0], classes, s->where[X_TRAIN], train));
    return make_split(&a[X_TEST], &a[Y_TEST], shape[1], classes, s->where[X_TEST], test);
}

static pp_status finish(npz_arrays *s, pp_status st, pp_dataset *train, pp_dataset *test) {
    if (st == PP_OK) st = build(s, train, test);
    free_arrays(s);
    if (st != PP_OK) {
        pp_dataset_free(train);
        pp_dataset_free(test);
    }
    return st;
}

pp_status npz_dataset_parse(const uint8_t *data, size_t size, const char *path, pp_dataset *train,
                            pp_dataset *test) {
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    npz_arrays *s = calloc(1, sizeof *s);
    if (!s) return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    npz_archive *archive = NULL;
    pp_status st = npz_open(data, size, path, &archive);
    for (int i = 0; i < N_ARRAYS && st == PP_OK; i++) {
        snprintf(s->where[i], sizeof s->where[i], "%s: %s", path, array_names[i]);
        size_t n = 0;
        st = npz_read(archive, array_names[i], GZ_READER_MAX_BYTES, &s->bytes[i], &n);
        if (st == PP_OK) st = npy_parse(s->bytes[i], n, s->where[i], &s->a[i]);
    }
    npz_close(archive);
    st = finish(s, st, train, test);
    free(s);
    return st;
}

/* The four .npy files of a directory. */
static pp_status load_npy_directory(const char *dir, pp_dataset *train, pp_dataset *test) {
    npz_arrays *s = calloc(1, sizeof *s);
    if (!s) return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", dir);
    pp_status st = PP_OK;
    for (int i = 0; i < N_ARRAYS && st == PP_OK; i++) {
        snprintf(s->where[i], sizeof s->where[i], "%s/%s.npy", dir, array_names[i]);
        size_t n = 0;
        st = gz_read_file(s->where[i], GZ_READER_MAX_BYTES, &s->bytes[i], &n);
        if (st == PP_OK) st = npy_parse(s->bytes[i], n, s->where[i], &s->a[i]);
    }
    st = finish(s, st, train, test);
    free(s);
    return st;
}

pp_status npz_dataset_load(const char *path, pp_dataset *train, pp_dataset *test) {
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!path || !*path)
        return pp_fail(PP_ERR_ARGUMENT,
                       "--dataset npz needs --data FILE.npz (or a directory of x_train.npy, "
                       "y_train.npy, x_test.npy, y_test.npy), or $PEPITA_DATA");
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return load_npy_directory(path, train, test);
    uint8_t *data = NULL;
    size_t size = 0;
    PP_TRY(gz_read_file(path, GZ_READER_MAX_BYTES, &data, &size));
    pp_status st = npz_dataset_parse(data, size, path, train, test);
    free(data);
    return st;
}
