/* The user's own data and the network out: the .npy header parser (every
 * field, every version, every way to break it), the .npz reader and writer,
 * pp_dataset_from_memory, the npz dataset (shapes, types, labels), training
 * on float32 features against the same data as uint8, and the export's
 * tensors against the trainer's own weights, bit for bit. */
#define _GNU_SOURCE /* memmem */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "data/npy.h"
#include "data/npz.h"
#include "data/npz_dataset.h"
#include "pepita/pepita.h"
#include "test_support.h"

static char *tmp;

static void setup(void) {
    tmp = ts_make_temp_dir("npz");
    ck_assert_ptr_nonnull(tmp);
}

static void teardown(void) {
    ts_remove_tree(tmp);
    free(tmp);
    tmp = NULL;
}

/* ---- Building files ---------------------------------------------------- */

typedef struct bytes {
    uint8_t *data;
    size_t size;
} bytes;

/* An .npy file whose header dictionary is given as text (padded as NumPy
 * pads it, version 1.0 or 2.0) followed by payload. */
static bytes npy_raw(int version, const char *dict, const void *payload, size_t payload_size) {
    size_t prefix = version == 1 ? 10 : 12, len = strlen(dict) + 1;
    size_t total = (prefix + len + 63) / 64 * 64, header_len = total - prefix;
    bytes b = {calloc(1, total + payload_size + 1), total + payload_size};
    memcpy(b.data, "\x93NUMPY", 6);
    b.data[6] = (uint8_t)version, b.data[7] = 0;
    b.data[8] = (uint8_t)header_len, b.data[9] = (uint8_t)(header_len >> 8);
    if (version != 1) b.data[10] = b.data[11] = 0;
    memcpy(b.data + prefix, dict, len - 1);
    memset(b.data + prefix + len - 1, ' ', header_len - len);
    b.data[total - 1] = '\n';
    if (payload_size) memcpy(b.data + total, payload, payload_size);
    return b;
}

/* An .npy file made by the library's own header writer. */
static bytes npy_of(const char *descr, int ndim, const size_t *shape, const void *payload,
                    size_t payload_size) {
    char header[NPY_HEADER_MAX];
    size_t n = npy_write_header(header, descr, ndim, shape);
    ck_assert_uint_gt(n, 0);
    bytes b = {malloc(n + payload_size + 1), n + payload_size};
    memcpy(b.data, header, n);
    if (payload_size) memcpy(b.data + n, payload, payload_size);
    return b;
}

/* An .npz of named .npy files (stored, or deflated when deflate is set). */
static bytes npz_of(int count, const char *const *names, const bytes *files, int deflate) {
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &error);
    ck_assert_ptr_nonnull(src);
    zip_t *z = zip_open_from_source(src, ZIP_TRUNCATE, &error);
    ck_assert_ptr_nonnull(z);
    zip_source_keep(src);
    for (int i = 0; i < count; i++) {
        char member[64];
        snprintf(member, sizeof member, "%s.npy", names[i]);
        zip_source_t *s = zip_source_buffer(z, files[i].data, files[i].size, 0);
        ck_assert_ptr_nonnull(s);
        zip_int64_t index = zip_file_add(z, member, s, 0);
        ck_assert_int_ge(index, 0);
        ck_assert_int_eq(zip_set_file_compression(z, (zip_uint64_t)index,
                                                  deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0),
                         0);
    }
    ck_assert_int_eq(zip_close(z), 0);
    zip_stat_t st;
    ck_assert_int_eq(zip_source_stat(src, &st), 0);
    ck_assert_int_eq(zip_source_open(src), 0);
    bytes b = {malloc(st.size), (size_t)st.size};
    ck_assert_int_eq(zip_source_read(src, b.data, st.size), (zip_int64_t)st.size);
    zip_source_close(src);
    zip_source_free(src);
    zip_error_fini(&error);
    return b;
}

static void free_bytes(bytes *b) {
    free(b->data);
    b->data = NULL;
}

/* The four arrays of a small image set: n x side x side uint8 (or float32
 * when as_float: the same pixels x 1/255) and int64 labels. */
typedef struct four_arrays {
    bytes file[4];
} four_arrays;

static const char *const names4[4] = {"x_train", "y_train", "x_test", "y_test"};

static four_arrays image_arrays(size_t n_train, size_t n_test, int side, int classes,
                                int as_float) {
    four_arrays a;
    size_t ns[2] = {n_train, n_test};
    for (int s = 0; s < 2; s++) {
        size_t n = ns[s], values = n * (size_t)side * side;
        uint8_t *px = malloc(values);
        float *f = malloc(values * sizeof(float));
        int64_t *labels = malloc(n * sizeof *labels);
        for (size_t i = 0; i < values; i++) {
            px[i] = (uint8_t)((i * 2654435761u) >> 13);
            f[i] = (float)px[i] * (1.0f / 255.0f);
        }
        for (size_t i = 0; i < n; i++)
            labels[i] = (int64_t)((i * 7 + (size_t)s) % (size_t)classes);
        size_t shape[3] = {n, (size_t)side, (size_t)side}, lshape[1] = {n};
        a.file[2 * s] = as_float ? npy_of("<f4", 3, shape, f, values * sizeof(float))
                                 : npy_of("|u1", 3, shape, px, values);
        a.file[2 * s + 1] = npy_of("<i8", 1, lshape, labels, n * sizeof *labels);
        free(px);
        free(f);
        free(labels);
    }
    return a;
}

static void free_arrays(four_arrays *a) {
    for (int i = 0; i < 4; i++)
        free_bytes(&a->file[i]);
}

/* ---- The .npy parser --------------------------------------------------- */

START_TEST(test_npy_versions_and_spellings) {
    float v[6] = {1, 2, 3, 4, 5, 6};
    /* NumPy's own spelling, then other key orders, no trailing comma, double quotes, 'L' */
    static const char *const dicts[] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
        "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2L, 3L)}",
        "{ 'fortran_order' : False , 'descr' : '<f4' , 'shape' : ( 2 , 3 , ) , }",
    };
    for (int version = 1; version <= 3; version++)
        for (size_t d = 0; d < sizeof dicts / sizeof dicts[0]; d++) {
            bytes b = npy_raw(version, dicts[d], v, sizeof v);
            npy_array a;
            pp_status st = npy_parse(b.data, b.size, "t.npy", &a);
            ck_assert_msg(st == PP_OK, "version %d, '%s': %s", version, dicts[d], pp_last_error());
            ck_assert_int_eq(a.dtype, NPY_FLOAT32);
            ck_assert_int_eq(a.ndim, 2);
            ck_assert_uint_eq(a.shape[0], 2);
            ck_assert_uint_eq(a.shape[1], 3);
            ck_assert_uint_eq(a.count, 6);
            ck_assert_int_eq(memcmp(a.data, v, sizeof v), 0);
            free_bytes(&b);
        }
}
END_TEST

START_TEST(test_npy_dtypes_and_integers) {
    static const struct {
        const char *descr;
        npy_dtype dtype;
        size_t size;
    } cases[] = {{"|u1", NPY_UINT8, 1},  {"|i1", NPY_INT8, 1},   {"<u2", NPY_UINT16, 2},
                 {"<i2", NPY_INT16, 2},  {"<u4", NPY_UINT32, 4}, {"<i4", NPY_INT32, 4},
                 {"<u8", NPY_UINT64, 8}, {"<i8", NPY_INT64, 8},  {"<f4", NPY_FLOAT32, 4},
                 {"=u1", NPY_UINT8, 1},  {"<u1", NPY_UINT8, 1}};
    uint8_t payload[24];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = 0xff; /* -1 as every signed type, the maximum as every unsigned one */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t shape[1] = {3};
        bytes b = npy_of(cases[c].descr, 1, shape, payload, 3 * cases[c].size);
        npy_array a;
        ck_assert_msg(npy_parse(b.data, b.size, "t.npy", &a) == PP_OK, "%s: %s", cases[c].descr,
                      pp_last_error());
        ck_assert_int_eq(a.dtype, cases[c].dtype);
        ck_assert_uint_eq(a.element_size, cases[c].size);
        int64_t want = 0;
        switch (cases[c].dtype) {
        case NPY_INT8:
        case NPY_INT16:
        case NPY_INT32:
        case NPY_INT64:
            want = -1;
            break;
        case NPY_UINT8:
            want = 255;
            break;
        case NPY_UINT16:
            want = 65535;
            break;
        case NPY_UINT32:
            want = 4294967295;
            break;
        case NPY_UINT64:
            want = INT64_MAX; /* saturates */
            break;
        case NPY_FLOAT32:
            want = 0;
            break;
        }
        if (npy_dtype_is_integer(a.dtype)) ck_assert_int_eq(npy_integer_at(&a, 2), want);
        free_bytes(&b);
    }
    /* 0-d and an empty dimension */
    size_t none[1] = {0};
    bytes b = npy_of("<f4", 0, none, payload, 4);
    npy_array a;
    ck_assert_int_eq(npy_parse(b.data, b.size, "t.npy", &a), PP_OK);
    ck_assert_int_eq(a.ndim, 0);
    ck_assert_uint_eq(a.count, 1);
    free_bytes(&b);
    b = npy_of("<f4", 1, none, NULL, 0);
    ck_assert_int_eq(npy_parse(b.data, b.size, "t.npy", &a), PP_OK);
    ck_assert_uint_eq(a.count, 0);
    free_bytes(&b);
}
END_TEST

START_TEST(test_npy_header_writer) {
    /* lengths are multiples of 64 and the text is what NumPy writes */
    size_t shape[4] = {60000, 1, 28, 28};
    char header[NPY_HEADER_MAX];
    size_t n = npy_write_header(header, "|u1", 4, shape);
    ck_assert_uint_eq(n % 64, 0);
    ck_assert_int_eq(header[n - 1], '\n');
    const char *want = "{'descr': '|u1', 'fortran_order': False, 'shape': (60000, 1, 28, 28), }";
    ck_assert_int_eq(memcmp(header + 10, want, strlen(want)), 0);
    size_t one[1] = {5};
    n = npy_write_header(header, "<f4", 1, one);
    want = "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }";
    ck_assert_int_eq(memcmp(header + 10, want, strlen(want)), 0);
    n = npy_write_header(header, "<U7", 0, NULL);
    want = "{'descr': '<U7', 'fortran_order': False, 'shape': (), }";
    ck_assert_int_eq(memcmp(header + 10, want, strlen(want)), 0);
    /* too long a shape does not fit */
    size_t huge[8] = {SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX,
                      SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX};
    ck_assert_uint_eq(
        npy_write_header(header, "<U1234567890123456789012345678901234567890", 8, huge), 0);
}
END_TEST

/* Parses b and checks the FORMAT status and the message. */
static void expect_npy_error(bytes b, const char *want) {
    npy_array a;
    pp_status st = npy_parse(b.data, b.size, "t.npy", &a);
    ck_assert_msg(st == PP_ERR_FORMAT, "expected FORMAT for '%s', got %s", want,
                  pp_status_name(st));
    ck_assert_msg(!strcmp(pp_last_error(), want), "\n  got      '%s'\n  expected '%s'",
                  pp_last_error(), want);
    free_bytes(&b);
}

START_TEST(test_npy_errors) {
    float v[6] = {0};
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    expect_npy_error((bytes){calloc(1, 1), 0}, "t.npy: empty file, not a .npy array");
    bytes b = npy_raw(1, ok, v, sizeof v);
    b.data[1] = 'X';
    expect_npy_error(b, "t.npy: not a .npy array (bad magic)");
    b = npy_raw(1, ok, v, sizeof v);
    b.data[6] = 4;
    expect_npy_error(b, "t.npy: .npy format version 4.0, this build reads 1.0-3.0");
    b = npy_raw(1, ok, v, sizeof v);
    b.data[9] = 0x10; /* header length 4096 + 118 */
    expect_npy_error(b, "t.npy: truncated .npy header: it declares 4214 bytes, the file holds 142");
    b = npy_raw(1, ok, v, sizeof v);
    b.data[10 + (b.data[8] | b.data[9] << 8) - 1] = ' '; /* the header's final newline */
    expect_npy_error(b, "t.npy: malformed .npy header: it does not end with a newline");
    expect_npy_error(npy_raw(1, "{'descr': '<f4', 'shape': (2, 3), }", v, sizeof v),
                     "t.npy: malformed .npy header: it lacks one of 'descr', 'fortran_order' and "
                     "'shape'");
    expect_npy_error(
        npy_raw(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", v, sizeof v),
        "t.npy: the array is in Fortran order; save it in C order (e.g. "
        "np.ascontiguousarray)");
    expect_npy_error(
        npy_raw(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", v, sizeof v),
        "t.npy: unsupported dtype '<f8' (expected uint8 or float32 for samples, an "
        "integer type for labels)");
    expect_npy_error(
        npy_raw(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", v, sizeof v),
        "t.npy: dtype '>f4' is big-endian; save it little-endian (e.g. "
        "a.astype('<f4'))");
    expect_npy_error(
        npy_raw(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", v, 8),
        "t.npy: malformed .npy header: 'descr' is not a simple dtype string (structured arrays "
        "are not supported)");
    expect_npy_error(
        npy_raw(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", v, sizeof v),
        "t.npy: malformed .npy header: 'shape' is not a tuple of at most 8 "
        "non-negative integers");
    expect_npy_error(npy_raw(1,
                             "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "
                             "'shape': (6,), }",
                             v, sizeof v),
                     "t.npy: malformed .npy header: unexpected or repeated key 'shape'");
    expect_npy_error(
        npy_raw(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x", v, sizeof v),
        "t.npy: malformed .npy header: text after the dictionary");
    expect_npy_error(npy_raw(1, ok, v, sizeof v - 4),
                     "t.npy: the header declares 6 elements of 4 bytes, the payload holds 20 "
                     "bytes (truncated)");
    expect_npy_error(
        npy_raw(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", v, sizeof v),
        "t.npy: the header declares 4 elements of 4 bytes, the payload holds 24 "
        "bytes (extra bytes)");
    expect_npy_error(npy_raw(1,
                             "{'descr': '<f4', 'fortran_order': False, 'shape': "
                             "(4294967296, 4294967296, 16), }",
                             v, sizeof v),
                     "t.npy: the shape's product overflows");
    expect_npy_error(npy_raw(1,
                             "{'descr': '<f4', 'fortran_order': False, 'shape': "
                             "(99999999999999999999999, 2), }",
                             v, sizeof v),
                     "t.npy: malformed .npy header: 'shape' is not a tuple of at most 8 "
                     "non-negative integers");
}
END_TEST

/* Every prefix of a valid file fails cleanly (no read past the end). */
START_TEST(test_npy_every_prefix) {
    float v[6] = {1, 2, 3, 4, 5, 6};
    size_t shape[2] = {2, 3};
    bytes b = npy_of("<f4", 2, shape, v, sizeof v);
    for (size_t n = 0; n < b.size; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
        memcpy(copy, b.data, n);
        npy_array a;
        ck_assert_int_eq(npy_parse(copy, n, "t.npy", &a), PP_ERR_FORMAT);
        free(copy);
    }
    free_bytes(&b);
}
END_TEST

/* ---- The .npz reader and writer ---------------------------------------- */

START_TEST(test_npz_round_trip_stored_and_deflated) {
    four_arrays a = image_arrays(30, 10, 6, 3, 0);
    for (int deflate = 0; deflate <= 1; deflate++) {
        bytes z = npz_of(4, names4, a.file, deflate);
        npz_archive *archive;
        ck_assert_int_eq(npz_open(z.data, z.size, "d.npz", &archive), PP_OK);
        for (int i = 0; i < 4; i++) {
            ck_assert(npz_has(archive, names4[i]));
            uint8_t *data;
            size_t size;
            ck_assert_int_eq(npz_read(archive, names4[i], 1 << 20, &data, &size), PP_OK);
            ck_assert_uint_eq(size, a.file[i].size);
            ck_assert_int_eq(memcmp(data, a.file[i].data, size), 0);
            free(data);
        }
        ck_assert(!npz_has(archive, "x_val"));
        uint8_t *data;
        size_t size;
        ck_assert_int_eq(npz_read(archive, "x_val", 1 << 20, &data, &size), PP_ERR_FORMAT);
        ck_assert_str_eq(pp_last_error(), "d.npz: no array 'x_val' in the archive (it holds "
                                          "x_train.npy, y_train.npy, x_test.npy, y_test.npy)");
        ck_assert_int_eq(npz_read(archive, "x_train", 100, &data, &size), PP_ERR_FORMAT);
        char want[256];
        snprintf(want, sizeof want,
                 "d.npz: array 'x_train' is %zu bytes, more than the 100 accepted", a.file[0].size);
        ck_assert_str_eq(pp_last_error(), want);
        npz_close(archive);
        free_bytes(&z);
    }
    free_arrays(&a);
}
END_TEST

START_TEST(test_npz_corrupt) {
    four_arrays a = image_arrays(30, 10, 6, 3, 0);
    bytes z = npz_of(4, names4, a.file, 0);
    npz_archive *archive;
    /* a payload byte of the first (stored) member: its CRC no longer matches */
    z.data[30 + strlen("x_train.npy") + 200] ^= 0x55;
    ck_assert_int_eq(npz_open(z.data, z.size, "d.npz", &archive), PP_OK);
    uint8_t *data;
    size_t size;
    ck_assert_int_eq(npz_read(archive, "x_train", 1 << 20, &data, &size), PP_ERR_FORMAT);
    ck_assert_str_eq(pp_last_error(), "d.npz: array 'x_train' is corrupt: CRC error");
    npz_close(archive);
    /* not a zip at all, and an archive cut short */
    ck_assert_int_eq(npz_open(a.file[0].data, a.file[0].size, "d.npz", &archive), PP_ERR_FORMAT);
    ck_assert_str_eq(pp_last_error(), "d.npz: not a valid .npz (zip) archive: Not a zip archive");
    ck_assert_int_eq(npz_open(z.data, z.size - 10, "d.npz", &archive), PP_ERR_FORMAT);
    ck_assert_int_eq(npz_open(z.data, 0, "d.npz", &archive), PP_ERR_FORMAT);
    ck_assert_str_eq(pp_last_error(), "d.npz: empty file, not an .npz archive");
    free_bytes(&z);
    free_arrays(&a);
}
END_TEST

START_TEST(test_npz_writer) {
    npz_writer *w;
    ck_assert_int_eq(npz_writer_create(&w), PP_OK);
    float v[3] = {1.5f, -2.0f, 3.25f};
    size_t shape[1] = {3};
    char header[NPY_HEADER_MAX];
    size_t hn = npy_write_header(header, "<f4", 1, shape);
    ck_assert_int_eq(npz_writer_add(w, "v", header, hn, v, sizeof v), PP_OK);
    ck_assert_int_eq(npz_writer_add(w, "empty", header, hn, NULL, 0), PP_OK);
    uint8_t *data;
    size_t size;
    ck_assert_int_eq(npz_writer_finish(w, &data, &size), PP_OK);
    npz_writer_destroy(w);
    npz_archive *archive;
    ck_assert_int_eq(npz_open(data, size, "w.npz", &archive), PP_OK);
    uint8_t *member;
    size_t msize;
    ck_assert_int_eq(npz_read(archive, "v", 1 << 20, &member, &msize), PP_OK);
    npy_array a;
    ck_assert_int_eq(npy_parse(member, msize, "v", &a), PP_OK);
    ck_assert_int_eq(memcmp(a.data, v, sizeof v), 0);
    free(member);
    npz_close(archive);
    free(data);
}
END_TEST

/* ---- Datasets ---------------------------------------------------------- */

START_TEST(test_dataset_from_memory) {
    uint8_t px[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    int32_t labels[3] = {0, 4, 2};
    pp_dataset d;
    ck_assert_int_eq(pp_dataset_from_memory(px, PP_SAMPLES_UINT8, 3, 1, 2, 2, labels, 0, &d),
                     PP_OK);
    ck_assert_int_eq(d.classes, 5);
    ck_assert_ptr_null(d.features);
    ck_assert_int_eq(memcmp(d.pixels, px, sizeof px), 0);
    ck_assert_int_eq(d.labels[1], 4);
    pp_dataset_free(&d);
    float f[6] = {0.5f, -1, 2, 3, 4, 5};
    ck_assert_int_eq(pp_dataset_from_memory(f, PP_SAMPLES_FLOAT32, 2, 1, 1, 3, labels, 7, &d),
                     PP_OK);
    ck_assert_int_eq(d.classes, 7);
    ck_assert_ptr_null(d.pixels);
    ck_assert_int_eq(memcmp(d.features, f, sizeof f), 0);
    pp_dataset_free(&d);
    /* errors */
    ck_assert_int_eq(pp_dataset_from_memory(px, PP_SAMPLES_UINT8, 3, 1, 2, 2, labels, 4, &d),
                     PP_ERR_ARGUMENT);
    ck_assert_str_eq(pp_last_error(),
                     "pp_dataset_from_memory: label 4 of sample 1 is out of range [0, 4)");
    f[4] = NAN;
    ck_assert_int_eq(pp_dataset_from_memory(f, PP_SAMPLES_FLOAT32, 2, 1, 1, 3, labels, 0, &d),
                     PP_ERR_ARGUMENT);
    ck_assert_str_eq(pp_last_error(), "pp_dataset_from_memory: value 1 of sample 1 is not finite");
    ck_assert_int_eq(pp_dataset_from_memory(px, PP_SAMPLES_UINT8, 3, 0, 2, 2, labels, 0, &d),
                     PP_ERR_ARGUMENT);
    ck_assert_int_eq(pp_dataset_from_memory(px, PP_SAMPLES_UINT8, 3, 1, 2, 2, labels, 300, &d),
                     PP_ERR_ARGUMENT);
    ck_assert_int_eq(pp_dataset_from_memory(NULL, PP_SAMPLES_UINT8, 3, 1, 2, 2, labels, 0, &d),
                     PP_ERR_ARGUMENT);
    ck_assert_ptr_null(d.pixels);
}
END_TEST

/* Parses an npz of the four given files; checks status (and message). */
static pp_status parse4(const bytes *files, pp_dataset *train, pp_dataset *test) {
    bytes z = npz_of(4, names4, files, 0);
    pp_status st = npz_dataset_parse(z.data, z.size, "d.npz", train, test);
    free_bytes(&z);
    return st;
}

START_TEST(test_npz_dataset_shapes) {
    /* N x H x W keeps the image; the pixels and labels arrive unchanged */
    four_arrays a = image_arrays(40, 12, 7, 5, 0);
    pp_dataset train, test;
    ck_assert_msg(parse4(a.file, &train, &test) == PP_OK, "%s", pp_last_error());
    ck_assert_uint_eq(train.n, 40);
    ck_assert_uint_eq(test.n, 12);
    ck_assert_int_eq(train.channels, 1);
    ck_assert_int_eq(train.height, 7);
    ck_assert_int_eq(train.width, 7);
    ck_assert_int_eq(train.classes, 5);
    ck_assert_int_eq(test.classes, 5);
    npy_array x;
    ck_assert_int_eq(npy_parse(a.file[0].data, a.file[0].size, "x", &x), PP_OK);
    ck_assert_int_eq(memcmp(train.pixels, x.data, 40 * 49), 0);
    for (size_t i = 0; i < 12; i++)
        ck_assert_int_eq(test.labels[i], (int)((i * 7 + 1) % 5));
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    free_arrays(&a);

    /* N x C x H x W, N x d, and a 5-d array flattened; float32 stays float32 */
    static const struct {
        int ndim;
        size_t dims[4]; /* after N */
        int c, h, w;
    } shapes[] = {{4, {3, 5, 6}, 3, 5, 6}, {2, {17}, 1, 1, 17}, {5, {2, 3, 2, 2}, 1, 1, 24}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t per = (size_t)shapes[s].c * shapes[s].h * shapes[s].w, n = 9;
        float *f = malloc(n * per * sizeof(float));
        ts_fill_uniform(f, n * per, -3, 3, (unsigned)s);
        int32_t labels[9];
        for (int i = 0; i < 9; i++)
            labels[i] = i % 3;
        size_t shape[5] = {n}, lshape[1] = {n};
        for (int d = 1; d < shapes[s].ndim; d++)
            shape[d] = shapes[s].dims[d - 1];
        bytes files[4] = {npy_of("<f4", shapes[s].ndim, shape, f, n * per * sizeof(float)),
                          npy_of("<i4", 1, lshape, labels, sizeof labels),
                          npy_of("<f4", shapes[s].ndim, shape, f, n * per * sizeof(float)),
                          npy_of("<i4", 1, lshape, labels, sizeof labels)};
        ck_assert_msg(parse4(files, &train, &test) == PP_OK, "%s", pp_last_error());
        ck_assert_int_eq(train.channels, shapes[s].c);
        ck_assert_int_eq(train.height, shapes[s].h);
        ck_assert_int_eq(train.width, shapes[s].w);
        ck_assert_int_eq(train.classes, 3);
        ck_assert_ptr_null(train.pixels);
        ck_assert_int_eq(memcmp(train.features, f, n * per * sizeof(float)), 0);
        pp_dataset_free(&train);
        pp_dataset_free(&test);
        for (int i = 0; i < 4; i++)
            free_bytes(&files[i]);
        free(f);
    }
}
END_TEST

/* Replaces array i of a valid set by b and checks the message. */
static void expect_dataset_error(int i, bytes b, const char *want) {
    four_arrays a = image_arrays(20, 10, 5, 3, 0);
    free_bytes(&a.file[i]);
    a.file[i] = b;
    pp_dataset train, test;
    pp_status st = parse4(a.file, &train, &test);
    ck_assert_msg(st == PP_ERR_FORMAT, "expected FORMAT for '%s', got %s (%s)", want,
                  pp_status_name(st), pp_last_error());
    ck_assert_msg(!strcmp(pp_last_error(), want), "\n  got      '%s'\n  expected '%s'",
                  pp_last_error(), want);
    ck_assert_ptr_null(train.pixels);
    ck_assert_ptr_null(test.labels);
    free_arrays(&a);
}

START_TEST(test_npz_dataset_errors) {
    int64_t labels[40] = {0};
    int16_t shorts[20 * 25] = {0};
    size_t n20[1] = {20}, n19[1] = {19}, img[3] = {20, 5, 5}, other[3] = {10, 5, 4};
    size_t col[2] = {20, 1}, mat[2] = {20, 2};
    float f[10 * 20] = {0};
    expect_dataset_error(0, npy_of("<i2", 3, img, shorts, sizeof shorts),
                         "d.npz: x_train: samples are int16; expected uint8 or float32");
    expect_dataset_error(0, npy_of("<i8", 1, n20, labels, 20 * sizeof labels[0]),
                         "d.npz: x_train: samples must have at least 2 dimensions (N x features), "
                         "got 1");
    expect_dataset_error(2, npy_of("<f4", 3, other, f, sizeof f),
                         "d.npz: x_test: samples are float32, but d.npz: x_train holds uint8");
    uint8_t px[10 * 20] = {0};
    expect_dataset_error(2, npy_of("|u1", 3, other, px, sizeof px),
                         "d.npz: x_test: samples are 1x5x4, but d.npz: x_train holds 1x5x5");
    expect_dataset_error(1, npy_of("<i8", 1, n19, labels, 19 * sizeof labels[0]),
                         "d.npz: y_train: 19 labels, but d.npz: x_train holds 20 samples");
    expect_dataset_error(1, npy_of("<f4", 1, n20, f, 20 * sizeof(float)),
                         "d.npz: y_train: labels are float32; expected an integer type");
    expect_dataset_error(1, npy_of("<i8", 2, mat, labels, 40 * sizeof labels[0]),
                         "d.npz: y_train: labels must be a 1-d array of N, got 2 dimensions");
    labels[7] = 256;
    expect_dataset_error(1, npy_of("<i8", 1, n20, labels, 20 * sizeof labels[0]),
                         "d.npz: y_train: label 256 at item 7 is out of range (labels must be "
                         "0..255)");
    labels[7] = -1;
    expect_dataset_error(1, npy_of("<i8", 2, col, labels, 20 * sizeof labels[0]),
                         "d.npz: y_train: label -1 at item 7 is out of range (labels must be "
                         "0..255)");
    /* one class in both splits */
    four_arrays a = image_arrays(20, 10, 5, 1, 0);
    pp_dataset train, test;
    ck_assert_int_eq(parse4(a.file, &train, &test), PP_ERR_FORMAT);
    ck_assert_str_eq(pp_last_error(),
                     "d.npz: y_train: every label is 0: at least 2 classes are needed");
    free_arrays(&a);
    /* an array missing */
    a = image_arrays(20, 10, 5, 3, 0);
    bytes z = npz_of(3, names4, a.file, 0);
    ck_assert_int_eq(npz_dataset_parse(z.data, z.size, "d.npz", &train, &test), PP_ERR_FORMAT);
    ck_assert_str_eq(pp_last_error(), "d.npz: no array 'y_test' in the archive (it holds "
                                      "x_train.npy, y_train.npy, x_test.npy)");
    free_bytes(&z);
    free_arrays(&a);
}
END_TEST

/* A directory of four .npy files loads like the archive. */
START_TEST(test_npy_directory) {
    four_arrays a = image_arrays(25, 8, 6, 4, 1);
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s.npy", names4[i]);
        free(ts_write_file(tmp, name, a.file[i].data, a.file[i].size));
    }
    pp_dataset train, test, ztrain, ztest;
    ck_assert_msg(pp_dataset_load(PP_DATASET_NPZ, tmp, 0, &train, &test) == PP_OK, "%s",
                  pp_last_error());
    ck_assert_int_eq(parse4(a.file, &ztrain, &ztest), PP_OK);
    ck_assert_uint_eq(train.n, ztrain.n);
    ck_assert_int_eq(memcmp(train.features, ztrain.features, train.n * 36 * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(test.labels, ztest.labels, test.n), 0);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    pp_dataset_free(&ztrain);
    pp_dataset_free(&ztest);
    /* one file missing: its path in the message */
    char path[4200];
    snprintf(path, sizeof path, "%s/y_test.npy", tmp);
    ck_assert_int_eq(remove(path), 0);
    ck_assert_int_eq(pp_dataset_load(PP_DATASET_NPZ, tmp, 0, &train, &test), PP_ERR_NOT_FOUND);
    ck_assert_msg(!strncmp(pp_last_error(), path, strlen(path)), "%s", pp_last_error());
    /* no path at all */
    unsetenv("PEPITA_DATA");
    ck_assert_int_eq(pp_dataset_load(PP_DATASET_NPZ, NULL, 0, &train, &test), PP_ERR_ARGUMENT);
    free_arrays(&a);
}
END_TEST

/* ---- Training and export ----------------------------------------------- */

static pp_config small_config(pp_model_kind model, pp_rule_kind rule) {
    pp_config c;
    ck_assert_int_eq(pp_config_preset(&c, PP_DATASET_NPZ, model, rule), PP_OK);
    c.hidden[0] = 24;
    c.hidden[1] = 12;
    c.n_hidden = model == PP_MODEL_FC ? 2 : 0;
    c.conv_filters = 4;
    c.conv_kernel = 3;
    c.batch = 16;
    c.epochs = 3;
    c.lr = 0.05f;
    return c;
}

static pp_trainer *trained(pp_context *ctx, const pp_config *c, const pp_dataset *train,
                           const pp_dataset *test) {
    pp_trainer *t = NULL;
    ck_assert_msg(pp_trainer_create(ctx, c, train, test, &t) == PP_OK, "%s", pp_last_error());
    for (int e = 0; e < c->epochs; e++) {
        pp_epoch_stats s;
        ck_assert_msg(pp_trainer_run_epoch(t, NULL, NULL, &s) == PP_OK, "%s", pp_last_error());
    }
    return t;
}

/* Float32 features equal to pixels x 1/255 train exactly as the pixels do:
 * the float gather path changes nothing but the type. */
START_TEST(test_float_features_train_as_pixels) {
    pp_dataset train, test, ftrain, ftest;
    ts_quadrant_split(&train, 160, 1);
    ts_quadrant_split(&test, 40, 2);
    const pp_dataset *src[2] = {&train, &test};
    pp_dataset *dst[2] = {&ftrain, &ftest};
    for (int s = 0; s < 2; s++) {
        size_t values = src[s]->n * 100;
        float *f = malloc(values * sizeof(float));
        int32_t *labels = malloc(src[s]->n * sizeof *labels);
        for (size_t i = 0; i < values; i++)
            f[i] = (float)src[s]->pixels[i] * (1.0f / 255.0f);
        for (size_t i = 0; i < src[s]->n; i++)
            labels[i] = src[s]->labels[i];
        ck_assert_int_eq(
            pp_dataset_from_memory(f, PP_SAMPLES_FLOAT32, src[s]->n, 1, 10, 10, labels, 4, dst[s]),
            PP_OK);
        free(f);
        free(labels);
    }
    pp_context *ctx;
    ck_assert_msg(pp_context_create(NULL, &ctx) == PP_OK, "%s", pp_last_error());
    for (int m = 0; m < 2; m++) {
        pp_config c = small_config(m ? PP_MODEL_CONV : PP_MODEL_FC, PP_RULE_PEPITA);
        pp_trainer *a = trained(ctx, &c, &train, &test), *b = trained(ctx, &c, &ftrain, &ftest);
        ck_assert_msg(ts_weights_difference(a, b, 0) == 0.0, "%s: float features differ",
                      pp_model_name(c.model));
        double la, aa, lb, ab;
        ck_assert_int_eq(pp_trainer_evaluate(a, &la, &aa), PP_OK);
        ck_assert_int_eq(pp_trainer_evaluate(b, &lb, &ab), PP_OK);
        ck_assert(la == lb && aa == ab);
        ck_assert_msg(aa > 0.5, "%s: test accuracy %g: it did not learn", pp_model_name(c.model),
                      aa);
        pp_trainer_destroy(a);
        pp_trainer_destroy(b);
    }
    /* mixing the two is refused */
    pp_trainer *t = NULL;
    pp_config c = small_config(PP_MODEL_FC, PP_RULE_PEPITA);
    ck_assert_int_eq(pp_trainer_create(ctx, &c, &train, &ftest, &t), PP_ERR_ARGUMENT);
    pp_context_destroy(ctx);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    pp_dataset_free(&ftrain);
    pp_dataset_free(&ftest);
}
END_TEST

/* Reads array name of an exported archive into a fresh float array. */
static float *exported(npz_archive *z, const char *name, npy_array *a, uint8_t **owner) {
    size_t size;
    ck_assert_msg(npz_read(z, name, 1 << 28, owner, &size) == PP_OK, "%s", pp_last_error());
    ck_assert_msg(npy_parse(*owner, size, name, a) == PP_OK, "%s", pp_last_error());
    ck_assert_int_eq(a->dtype, NPY_FLOAT32);
    float *v = malloc(a->count * sizeof(float) + 1);
    memcpy(v, a->data, a->count * sizeof(float));
    return v;
}

/* The export holds the trainer's weights bit for bit, shaped as documented,
 * for each model and rule; its config names the shapes. */
START_TEST(test_export_matches_trainer) {
    pp_dataset train, test;
    ts_quadrant_split(&train, 96, 3);
    ts_quadrant_split(&test, 32, 4);
    pp_context *ctx;
    ck_assert_msg(pp_context_create(NULL, &ctx) == PP_OK, "%s", pp_last_error());
    static const struct {
        pp_model_kind model;
        pp_rule_kind rule;
        const char *fixed[4]; /* the fixed matrices' names */
        size_t fixed_shape[4][2];
        int mirror;       /* weight mirroring: F and its factors B_l, shaped like W_l^T */
        const char *arch; /* fc layers 20, 8, 6 by --arch instead of --hidden */
    } cases[] = {
        {PP_MODEL_FC, PP_RULE_PEPITA, {"F"}, {{100, 4}}, 0, NULL},
        {PP_MODEL_FC, PP_RULE_FA, {"B2", "B3"}, {{12, 24}, {4, 12}}, 0, NULL},
        {PP_MODEL_FC, PP_RULE_DRTP, {"B1", "B2"}, {{4, 24}, {4, 12}}, 0, NULL},
        {PP_MODEL_FC, PP_RULE_BP, {NULL}, {{0}}, 0, NULL},
        {PP_MODEL_CONV, PP_RULE_PEPITA, {"F"}, {{100, 4}}, 0, NULL},
        /* a conv layer's direct feedback reaches its units before the pooling */
        {PP_MODEL_CONV, PP_RULE_DFA, {"B1"}, {{4, 256}}, 0, NULL},
        {PP_MODEL_FC,
         PP_RULE_PEPITA,
         {"F", "B1", "B2", "B3"},
         {{100, 4}, {100, 24}, {24, 12}, {12, 4}},
         1,
         NULL},
        {PP_MODEL_FC,
         PP_RULE_DRTP,
         {"B1", "B2", "B3"},
         {{4, 20}, {4, 8}, {4, 6}},
         0,
         "fc20,fc8,fc6"},
    };
    char ckpt[4200], npz[4200];
    snprintf(ckpt, sizeof ckpt, "%s/run.ckpt", tmp);
    snprintf(npz, sizeof npz, "%s/w.npz", tmp);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        pp_config c = small_config(cases[k].model, cases[k].rule);
        c.epochs = 1;
        c.mirror = cases[k].mirror;
        if (cases[k].arch) { /* the widths the checks below read */
            snprintf(c.arch, sizeof c.arch, "%s", cases[k].arch);
            c.hidden[0] = 20, c.hidden[1] = 8, c.hidden[2] = 6, c.n_hidden = 3;
        }
        pp_trainer *t = trained(ctx, &c, &train, &test);
        ck_assert_int_eq(pp_trainer_save(t, ckpt), PP_OK);
        pp_status st = pp_checkpoint_export_npz(ckpt, c.model == PP_MODEL_CONV ? &test : NULL, npz);
        ck_assert_msg(st == PP_OK, "%s", pp_last_error());
        size_t size;
        uint8_t *file = (uint8_t *)ts_read_file(npz, &size);
        npz_archive *z;
        ck_assert_int_eq(npz_open(file, size, npz, &z), PP_OK);
        int layers;
        ck_assert_int_eq(pp_trainer_layer_count(t, &layers), PP_OK);
        for (int l = 0; l < layers; l++) {
            char name[32];
            snprintf(name, sizeof name, "w%d", l + 1);
            npy_array a;
            uint8_t *owner;
            float *got = exported(z, name, &a, &owner);
            float *want;
            size_t n;
            ck_assert_int_eq(pp_trainer_read_weights(t, l, &want, &n), PP_OK);
            ck_assert_uint_eq(a.count, n);
            ck_assert_int_eq(memcmp(got, want, n * sizeof(float)), 0);
            /* dense (out, in); conv (filters, C, k, k) */
            if (c.model == PP_MODEL_CONV && l == 0) {
                ck_assert_int_eq(a.ndim, 4);
                ck_assert_uint_eq(a.shape[0], 4);
                ck_assert_uint_eq(a.shape[1], 1);
                ck_assert_uint_eq(a.shape[2], 3);
            } else {
                ck_assert_int_eq(a.ndim, 2);
                size_t out = l == layers - 1 ? 4 : (size_t)c.hidden[l];
                ck_assert_uint_eq(a.shape[0], out);
            }
            free(got);
            free(want);
            free(owner);
            snprintf(name, sizeof name, "momentum%d", l + 1);
            ck_assert(npz_has(z, name));
        }
        for (int i = 0; i < 4 && cases[k].fixed[i]; i++) {
            npy_array a;
            uint8_t *owner;
            free(exported(z, cases[k].fixed[i], &a, &owner));
            ck_assert_msg(a.ndim == 2 && a.shape[0] == cases[k].fixed_shape[i][0] &&
                              a.shape[1] == cases[k].fixed_shape[i][1],
                          "%s %s: %s is %zux%zu", pp_model_name(c.model), pp_rule_name(c.rule),
                          cases[k].fixed[i], a.shape[0], a.shape[1]);
            free(owner);
        }
        ck_assert(!npz_has(z, "B4") && (cases[k].rule == PP_RULE_PEPITA) == npz_has(z, "F"));
        /* the config: a 0-d '<U' array holding JSON */
        uint8_t *owner;
        size_t csize;
        ck_assert_int_eq(npz_read(z, "config", 1 << 20, &owner, &csize), PP_OK);
        ck_assert(memmem(owner, 128, "'descr': '<U", 12) != NULL);
        ck_assert(memmem(owner, 128, "'shape': ()", 11) != NULL);
        free(owner);
        npz_close(z);
        free(file);
        pp_trainer_destroy(t);
    }
    pp_context_destroy(ctx);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
}
END_TEST

START_TEST(test_export_errors) {
    pp_dataset train, test;
    ts_quadrant_split(&train, 64, 5);
    ts_quadrant_split(&test, 16, 6);
    pp_context *ctx;
    ck_assert_msg(pp_context_create(NULL, &ctx) == PP_OK, "%s", pp_last_error());
    pp_config c = small_config(PP_MODEL_CONV, PP_RULE_PEPITA);
    pp_trainer *t = NULL;
    ck_assert_int_eq(pp_trainer_create(ctx, &c, &train, &test, &t), PP_OK);
    char ckpt[4200], npz[4200], want[9000];
    snprintf(ckpt, sizeof ckpt, "%s/conv.ckpt", tmp);
    snprintf(npz, sizeof npz, "%s/w.npz", tmp);
    ck_assert_int_eq(pp_trainer_save(t, ckpt), PP_OK);
    /* an npz-trained conv net: the input shape must come from the data */
    ck_assert_int_eq(pp_checkpoint_export_npz(ckpt, NULL, npz), PP_ERR_ARGUMENT);
    snprintf(want, sizeof want,
             "%s: the checkpoint does not tell the input shape of this conv model trained on npz "
             "data: pass its --data FILE",
             ckpt);
    ck_assert_str_eq(pp_last_error(), want);
    /* data of another shape */
    pp_dataset other;
    ts_quadrant_split(&other, 4, 7);
    other.height = other.width = 3; /* only the shape is read */
    ck_assert_int_eq(pp_checkpoint_export_npz(ckpt, &other, npz), PP_ERR_MISMATCH);
    snprintf(want, sizeof want, "%s: a 3x3 input is too small for conv layer 1", ckpt);
    ck_assert_str_eq(pp_last_error(), want);
    other.height = other.width = 12;
    ck_assert_int_eq(pp_checkpoint_export_npz(ckpt, &other, npz), PP_ERR_MISMATCH);
    snprintf(want, sizeof want,
             "%s: layer 2 holds 256 weights, the configuration and input shape give 400 (was it "
             "trained on other data?)",
             ckpt);
    ck_assert_str_eq(pp_last_error(), want);
    pp_dataset_free(&other);
    ck_assert_int_ne(access(npz, F_OK), 0); /* nothing written */
    pp_trainer_destroy(t);
    pp_context_destroy(ctx);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
}
END_TEST

static Suite *npz_suite(void) {
    Suite *s = suite_create("npz");
    TCase *parse = tcase_create("parse");
    tcase_add_checked_fixture(parse, setup, teardown);
    tcase_add_test(parse, test_npy_versions_and_spellings);
    tcase_add_test(parse, test_npy_dtypes_and_integers);
    tcase_add_test(parse, test_npy_header_writer);
    tcase_add_test(parse, test_npy_errors);
    tcase_add_test(parse, test_npy_every_prefix);
    tcase_add_test(parse, test_npz_round_trip_stored_and_deflated);
    tcase_add_test(parse, test_npz_corrupt);
    tcase_add_test(parse, test_npz_writer);
    tcase_add_test(parse, test_dataset_from_memory);
    tcase_add_test(parse, test_npz_dataset_shapes);
    tcase_add_test(parse, test_npz_dataset_errors);
    tcase_add_test(parse, test_npy_directory);
    suite_add_tcase(s, parse);
    TCase *train = tcase_create("train");
    tcase_add_checked_fixture(train, setup, teardown);
    tcase_set_timeout(train, 600);
    tcase_add_test(train, test_float_features_train_as_pixels);
    tcase_add_test(train, test_export_matches_trainer);
    tcase_add_test(train, test_export_errors);
    suite_add_tcase(s, train);
    return s;
}

int main(void) {
    return ts_run_suite(npz_suite());
}
