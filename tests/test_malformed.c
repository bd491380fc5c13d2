/* Malformed inputs and the exact error each gives (summarised in
 * tests/MALFORMED.md). Every row of the table runs the real `pepita` binary
 * on files written into a fresh directory and checks its exit code and its
 * stderr, whose first line must be "error: <message>" (and the only error
 * line; `pepita frobnicate` prints its usage after it); rows about
 * files also call the library function behind the command and check the
 * status and message it returns. "$D" in arguments and messages stands for
 * the row's directory; a message ending in '*' is matched as a prefix (the
 * rest names this machine's devices). */
#define _GNU_SOURCE /* setresuid, setgroups, memmem */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "data/npy.h"
#include "data/npz.h"
#include "pepita/pepita.h"
#include "test_support.h"

#define TRAIN_N 200
#define TEST_N 50
#define SIDE 28
#define CHECKPOINT "run.ckpt"
#define NOBODY 65534

/* ---- Files ------------------------------------------------------------- */

static char *dir;               /* this row's directory */
static char extra_message[512]; /* replaces "$X" in a message (set by a setup) */

static char *path_in(const char *name) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static void write_bytes(const char *name, const void *data, size_t size) {
    char *path = ts_write_file(dir, name, data, size);
    ck_assert_ptr_nonnull(path);
    free(path);
}

static uint8_t *read_bytes(const char *name, size_t *size) {
    uint8_t *data = (uint8_t *)ts_read_file(path_in(name), size);
    ck_assert_ptr_nonnull(data);
    return data;
}

/* An IDX image file of n images rows x cols (header as given). */
static void write_images(const char *name, uint32_t n, uint32_t rows, uint32_t cols, size_t cut) {
    size_t size = 16 + (size_t)n * rows * cols;
    uint8_t *b = malloc(size);
    ts_put_be32(b, 0x803), ts_put_be32(b + 4, n);
    ts_put_be32(b + 8, rows), ts_put_be32(b + 12, cols);
    for (size_t i = 16; i < size; i++)
        b[i] = (uint8_t)(i * 131 >> 3);
    write_bytes(name, b, size - cut);
    free(b);
}

/* An IDX label file declaring `declared` labels and holding n. */
static void write_labels(const char *name, uint32_t declared, uint32_t n) {
    uint8_t *b = malloc(8 + (size_t)n);
    ts_put_be32(b, 0x801), ts_put_be32(b + 4, declared);
    for (uint32_t i = 0; i < n; i++)
        b[8 + i] = (uint8_t)(i * 7 % 10);
    write_bytes(name, b, 8 + (size_t)n);
    free(b);
}

/* A valid MNIST-format dataset: 200 training and 50 test images. */
static void valid_set(void) {
    write_images("train-images-idx3-ubyte", TRAIN_N, SIDE, SIDE, 0);
    write_labels("train-labels-idx1-ubyte", TRAIN_N, TRAIN_N);
    write_images("t10k-images-idx3-ubyte", TEST_N, SIDE, SIDE, 0);
    write_labels("t10k-labels-idx1-ubyte", TEST_N, TEST_N);
}

/* Replaces name by its gzip-compressed form name.gz, then lets the caller
 * corrupt the compressed bytes. */
static uint8_t *gzip_file(const char *name, size_t *gz_size) {
    size_t size;
    uint8_t *raw = read_bytes(name, &size);
    ck_assert_int_eq(unlink(path_in(name)), 0);
    z_stream z = {0};
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, size);
    uint8_t *gz = malloc(cap);
    z.next_in = raw, z.avail_in = (uInt)size, z.next_out = gz, z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *gz_size = z.total_out;
    deflateEnd(&z);
    free(raw);
    return gz;
}

/* ---- Dataset rows ------------------------------------------------------ */

static void setup_wrong_magic(void) {
    valid_set();
    write_labels("train-images-idx3-ubyte", 4, 4); /* a label file under the image name */
}
static void setup_truncated_header(void) {
    valid_set();
    write_labels("t10k-labels-idx1-ubyte", TEST_N, 0);
    uint8_t six[6] = {0, 0, 8, 1, 0, 0};
    write_bytes("t10k-labels-idx1-ubyte", six, sizeof six);
}
static void setup_truncated_payload(void) {
    valid_set();
    write_images("train-images-idx3-ubyte", TRAIN_N, SIDE, SIDE, 100);
}
static void setup_count_too_large(void) {
    valid_set();
    write_labels("t10k-labels-idx1-ubyte", 1000, TEST_N);
}
static void setup_label_out_of_range(void) {
    valid_set();
    size_t size;
    uint8_t *b = read_bytes("train-labels-idx1-ubyte", &size);
    b[8 + 3] = 12;
    write_bytes("train-labels-idx1-ubyte", b, size);
    free(b);
}
static void setup_count_mismatch(void) {
    valid_set();
    write_labels("train-labels-idx1-ubyte", TRAIN_N - 1, TRAIN_N - 1);
}
static void setup_image_size_mismatch(void) {
    valid_set();
    write_images("t10k-images-idx3-ubyte", TEST_N, 27, SIDE, 0);
}
static void setup_zero_length(void) {
    valid_set();
    write_bytes("t10k-images-idx3-ubyte", NULL, 0);
}
static void setup_directory(void) {
    valid_set();
    ck_assert_int_eq(unlink(path_in("t10k-labels-idx1-ubyte")), 0);
    ck_assert_int_eq(mkdir(path_in("t10k-labels-idx1-ubyte"), 0755), 0);
}
static void setup_missing_file(void) {
    valid_set();
    ck_assert_int_eq(unlink(path_in("t10k-labels-idx1-ubyte")), 0);
}
static void setup_gzip_invalid_block(void) {
    valid_set();
    size_t n;
    uint8_t *gz = gzip_file("train-images-idx3-ubyte", &n);
    gz[10] |= 0x06; /* the first deflate block's type becomes 3, which does not exist */
    write_bytes("train-images-idx3-ubyte.gz", gz, n);
    free(gz);
}
static void setup_gzip_bad_crc(void) {
    valid_set();
    size_t n;
    uint8_t *gz = gzip_file("t10k-labels-idx1-ubyte", &n);
    gz[n - 8] ^= 0xff; /* the trailer's CRC-32 */
    write_bytes("t10k-labels-idx1-ubyte.gz", gz, n);
    free(gz);
}
static void setup_gzip_truncated(void) {
    valid_set();
    size_t n;
    uint8_t *gz = gzip_file("train-labels-idx1-ubyte", &n);
    write_bytes("train-labels-idx1-ubyte.gz", gz, n / 2);
    free(gz);
}

static pp_status api_dataset(void) {
    pp_dataset train, test;
    pp_status st = pp_dataset_load(PP_DATASET_MNIST, dir, 0, &train, &test);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    return st;
}

/* ---- The user's own data (npz) ------------------------------------------ */

#define NPZ_FILE "data.npz"
#define NPZ_TRAIN 60
#define NPZ_TEST 20
#define NPZ_SIDE 6

/* One .npy file in memory. */
typedef struct npy_bytes {
    uint8_t *data;
    size_t size;
} npy_bytes;

static npy_bytes npy_file(const char *descr, int ndim, const size_t *shape, const void *payload,
                          size_t payload_size) {
    char header[NPY_HEADER_MAX];
    size_t n = npy_write_header(header, descr, ndim, shape);
    ck_assert_uint_gt(n, 0);
    npy_bytes b = {malloc(n + payload_size + 1), n + payload_size};
    memcpy(b.data, header, n);
    if (payload_size) memcpy(b.data + n, payload, payload_size);
    return b;
}

static const char *const npz_names[4] = {"x_train", "y_train", "x_test", "y_test"};

/* The four valid arrays: uint8 images NPZ_SIDE x NPZ_SIDE, int64 labels 0..2. */
static void npz_valid_arrays(npy_bytes files[4]) {
    size_t counts[2] = {NPZ_TRAIN, NPZ_TEST};
    for (int s = 0; s < 2; s++) {
        size_t n = counts[s], values = n * NPZ_SIDE * NPZ_SIDE;
        uint8_t *px = malloc(values);
        int64_t *labels = malloc(n * sizeof *labels);
        for (size_t i = 0; i < values; i++)
            px[i] = (uint8_t)(i * 131 >> 3);
        for (size_t i = 0; i < n; i++)
            labels[i] = (int64_t)(i % 3);
        size_t shape[3] = {n, NPZ_SIDE, NPZ_SIDE}, lshape[1] = {n};
        files[2 * s] = npy_file("|u1", 3, shape, px, values);
        files[2 * s + 1] = npy_file("<i8", 1, lshape, labels, n * sizeof *labels);
        free(px);
        free(labels);
    }
}

/* Writes NPZ_FILE from the arrays (NULL data: left out), then frees them. */
static void write_npz(npy_bytes files[4]) {
    npz_writer *w;
    ck_assert_int_eq(npz_writer_create(&w), PP_OK);
    for (int i = 0; i < 4; i++) {
        if (!files[i].data) continue;
        ck_assert_int_eq(npz_writer_add(w, npz_names[i], files[i].data, files[i].size, NULL, 0),
                         PP_OK);
        free(files[i].data);
    }
    uint8_t *data;
    size_t size;
    ck_assert_int_eq(npz_writer_finish(w, &data, &size), PP_OK);
    npz_writer_destroy(w);
    write_bytes(NPZ_FILE, data, size);
    free(data);
}

/* A valid set with array i replaced by b. */
static void npz_with(int i, npy_bytes b) {
    npy_bytes files[4];
    npz_valid_arrays(files);
    free(files[i].data);
    files[i] = b;
    write_npz(files);
}

static void setup_npz_not_zip(void) {
    write_bytes(NPZ_FILE, "x_train,y_train\n", 16);
}
static void setup_npz_missing_array(void) {
    npz_with(3, (npy_bytes){NULL, 0});
}
static void setup_npz_not_npy(void) {
    uint8_t *junk = malloc(64);
    memset(junk, 'j', 64);
    npz_with(0, (npy_bytes){junk, 64});
}
static void setup_npz_header_length(void) {
    npy_bytes files[4];
    npz_valid_arrays(files);
    files[1].data[9] = 0x40; /* y_train's header declares 16384 + 118 bytes */
    write_npz(files);
}
static void setup_npz_fortran(void) {
    size_t shape[3] = {NPZ_TEST, NPZ_SIDE, NPZ_SIDE};
    uint8_t px[NPZ_TEST * NPZ_SIDE * NPZ_SIDE] = {0};
    npy_bytes b = npy_file("|u1", 3, shape, px, sizeof px);
    char *t = memmem(b.data, b.size, "False", 5);
    ck_assert_ptr_nonnull(t);
    memcpy(t, "True ", 5);
    npz_with(2, b);
}
static void setup_npz_float64(void) {
    size_t shape[3] = {NPZ_TRAIN, NPZ_SIDE, NPZ_SIDE};
    double *v = calloc(NPZ_TRAIN * NPZ_SIDE * NPZ_SIDE, sizeof *v);
    npz_with(0, npy_file("<f8", 3, shape, v, NPZ_TRAIN * NPZ_SIDE * NPZ_SIDE * sizeof *v));
    free(v);
}
static void setup_npz_big_endian(void) {
    size_t shape[3] = {NPZ_TEST, NPZ_SIDE, NPZ_SIDE};
    float *v = calloc(NPZ_TEST * NPZ_SIDE * NPZ_SIDE, sizeof *v);
    npz_with(2, npy_file(">f4", 3, shape, v, NPZ_TEST * NPZ_SIDE * NPZ_SIDE * sizeof *v));
    free(v);
}
static void setup_npz_truncated_payload(void) {
    npy_bytes files[4];
    npz_valid_arrays(files);
    files[0].size -= 100;
    write_npz(files);
}
static void setup_npz_int_samples(void) {
    size_t shape[3] = {NPZ_TRAIN, NPZ_SIDE, NPZ_SIDE};
    int16_t *v = calloc(NPZ_TRAIN * NPZ_SIDE * NPZ_SIDE, sizeof *v);
    npz_with(0, npy_file("<i2", 3, shape, v, NPZ_TRAIN * NPZ_SIDE * NPZ_SIDE * sizeof *v));
    free(v);
}
static void setup_npz_label_range(void) {
    int64_t labels[NPZ_TEST] = {0, 1, 2, 300};
    size_t shape[1] = {NPZ_TEST};
    npz_with(3, npy_file("<i8", 1, shape, labels, sizeof labels));
}
static void setup_npz_label_count(void) {
    int32_t labels[NPZ_TRAIN - 1] = {0, 1, 2};
    size_t shape[1] = {NPZ_TRAIN - 1};
    npz_with(1, npy_file("<i4", 1, shape, labels, sizeof labels));
}
static void setup_npz_float_labels(void) {
    float labels[NPZ_TRAIN] = {0, 1, 2};
    size_t shape[1] = {NPZ_TRAIN};
    npz_with(1, npy_file("<f4", 1, shape, labels, sizeof labels));
}
static void setup_npz_shapes_differ(void) {
    size_t shape[3] = {NPZ_TEST, NPZ_SIDE, NPZ_SIDE + 1};
    uint8_t px[NPZ_TEST * NPZ_SIDE * (NPZ_SIDE + 1)] = {0};
    npz_with(2, npy_file("|u1", 3, shape, px, sizeof px));
}
static void setup_npz_bad_crc(void) {
    npy_bytes files[4];
    npz_valid_arrays(files);
    write_npz(files);
    size_t size;
    uint8_t *b = read_bytes(NPZ_FILE, &size);
    /* a pixel of x_train, the first member: past its 30-byte local header,
     * its name and its 128-byte .npy header */
    b[30 + strlen("x_train.npy") + 128 + 40] ^= 0x5a;
    write_bytes(NPZ_FILE, b, size);
    free(b);
}
static void setup_npy_directory_truncated(void) {
    npy_bytes files[4];
    npz_valid_arrays(files);
    ck_assert_int_eq(mkdir(path_in("npy"), 0755), 0);
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "npy/%s.npy", npz_names[i]);
        write_bytes(name, files[i].data, files[i].size - (i == 2 ? 7 : 0));
        free(files[i].data);
    }
}

static pp_status api_npz(void) {
    pp_dataset train, test;
    pp_status st = pp_dataset_load(PP_DATASET_NPZ, path_in(NPZ_FILE), 0, &train, &test);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    return st;
}
static pp_status api_npy_directory(void) {
    pp_dataset train, test;
    pp_status st = pp_dataset_load(PP_DATASET_NPZ, path_in("npy"), 0, &train, &test);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    return st;
}

/* ---- Checkpoint rows --------------------------------------------------- */

static void tiny_config(pp_config *c, int hidden) {
    ck_assert_int_eq(pp_config_preset(c, PP_DATASET_MNIST, PP_MODEL_FC, PP_RULE_PEPITA), PP_OK);
    c->hidden[0] = hidden;
    c->epochs = 2;
    c->batch = 50;
}

/* A trainer over this row's dataset, or NULL with a SKIP line. */
static pp_trainer *tiny_trainer(pp_context **context, int hidden) {
    pp_config c;
    tiny_config(&c, hidden);
    pp_dataset train, test;
    ck_assert_int_eq(pp_dataset_load(PP_DATASET_MNIST, dir, 0, &train, &test), PP_OK);
    pp_trainer *t = NULL;
    ck_assert_msg(pp_context_create(NULL, context) == PP_OK, "%s", pp_last_error());
    pp_status st = pp_trainer_create(*context, &c, &train, &test, &t);
    ck_assert_msg(st == PP_OK, "%s", pp_last_error());
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    return t;
}

/* The dataset and a checkpoint of a fresh 784-16-10 PEPITA network. */
static void valid_checkpoint(void) {
    valid_set();
    pp_context *context = NULL;
    pp_trainer *t = tiny_trainer(&context, 16);
    ck_assert_msg(pp_trainer_save(t, path_in(CHECKPOINT)) == PP_OK, "%s", pp_last_error());
    pp_trainer_destroy(t);
    pp_context_destroy(context);
}

static void setup_checkpoint_other_model(void) {
    valid_checkpoint();
}
static void setup_checkpoint_version(void) {
    valid_checkpoint();
    size_t size;
    uint8_t *b = read_bytes(CHECKPOINT, &size);
    b[8] = 5; /* the version after the 8-byte magic (little-endian) */
    write_bytes(CHECKPOINT, b, size);
    free(b);
}
/* Flips a byte (or cuts the file to keep bytes) and records the CRC message. */
static void corrupt_checkpoint(size_t flip, size_t keep) {
    valid_checkpoint();
    size_t size;
    uint8_t *b = read_bytes(CHECKPOINT, &size);
    if (flip) b[flip] ^= 0x5a;
    if (keep) size = keep;
    uint32_t stored;
    memcpy(&stored, b + size - 4, 4);
    uint32_t computed = (uint32_t)crc32(0L, b, (uInt)(size - 4));
    snprintf(extra_message, sizeof extra_message, "stored %08x, computed %08x", stored, computed);
    write_bytes(CHECKPOINT, b, size);
    free(b);
}
static void setup_checkpoint_bad_crc(void) {
    corrupt_checkpoint(1000, 0);
}
static void setup_checkpoint_truncated(void) {
    corrupt_checkpoint(0, 3000);
}
static void setup_checkpoint_not_one(void) {
    valid_set();
    write_labels(CHECKPOINT, 10, 10);
}
static void setup_checkpoint_empty(void) {
    valid_set();
    write_bytes(CHECKPOINT, NULL, 0);
}
static void setup_checkpoint_directory(void) {
    valid_set();
    ck_assert_int_eq(mkdir(path_in(CHECKPOINT), 0755), 0);
}

/* Exports the row's checkpoint to dir/name (path_in's buffer is shared: copy it). */
static pp_status export_to(const char *name) {
    char checkpoint[4096];
    snprintf(checkpoint, sizeof checkpoint, "%s", path_in(CHECKPOINT));
    return pp_checkpoint_export_npz(checkpoint, NULL, path_in(name));
}
static pp_status api_export(void) {
    return export_to("w.npz");
}
static pp_status api_export_no_directory(void) {
    return export_to("missing/w.npz");
}

static pp_status api_read_config(void) {
    pp_config c;
    return pp_checkpoint_read_config(path_in(CHECKPOINT), &c, NULL);
}

/* Loads the checkpoint into a trainer with 32 hidden units instead of 16. */
static pp_status api_load_other_model(void) {
    pp_context *context = NULL;
    pp_trainer *t = tiny_trainer(&context, 32);
    pp_status st = pp_trainer_load(t, path_in(CHECKPOINT));
    pp_trainer_destroy(t);
    pp_context_destroy(context);
    return st;
}

/* ---- The table --------------------------------------------------------- */

#define TRAIN_ARGS "train --dataset mnist --data $D --epochs 1 --hidden 16 --batch 50 --quiet"
#define NPZ_ARGS "train --dataset npz --data $D/" NPZ_FILE " --epochs 1 --hidden 16 --quiet"

typedef struct malformed_case {
    const char *what;
    void (*setup)(void);    /* writes the files (NULL: none) */
    const char *args;       /* the pepita command line */
    pp_status status;       /* the library's status (the exit code follows from it) */
    pp_status (*api)(void); /* the library call behind the command, or NULL */
    const char *message;    /* stderr after "error: " */
} malformed_case;

static const malformed_case cases[] = {
    /* dataset files */
    {"wrong magic", setup_wrong_magic, TRAIN_ARGS, PP_ERR_FORMAT, api_dataset,
     "$D/train-images-idx3-ubyte: bad magic 0x00000801, expected 0x00000803 (IDX images) (this "
     "is an IDX label file)"},
    {"truncated header", setup_truncated_header, TRAIN_ARGS, PP_ERR_FORMAT, api_dataset,
     "$D/t10k-labels-idx1-ubyte: truncated IDX header: 6 bytes, need 8"},
    {"truncated payload", setup_truncated_payload, TRAIN_ARGS, PP_ERR_FORMAT, api_dataset,
     "$D/train-images-idx3-ubyte: truncated: header says 200 items of 784 bytes, file holds "
     "156700 bytes of pixels"},
    {"item count larger than the file", setup_count_too_large, TRAIN_ARGS, PP_ERR_FORMAT,
     api_dataset,
     "$D/t10k-labels-idx1-ubyte: truncated: header says 1000 items of 1 bytes, file holds 50 "
     "bytes of labels"},
    {"label out of range", setup_label_out_of_range, TRAIN_ARGS, PP_ERR_FORMAT, api_dataset,
     "$D/train-labels-idx1-ubyte: label 12 at item 3 is out of range (10 classes)"},
    {"images and labels disagree on the count", setup_count_mismatch, TRAIN_ARGS, PP_ERR_FORMAT,
     api_dataset,
     "$D/train-labels-idx1-ubyte: 199 labels, but $D/train-images-idx3-ubyte holds 200 images"},
    {"images of another size", setup_image_size_mismatch, TRAIN_ARGS, PP_ERR_FORMAT, api_dataset,
     "$D/t10k-images-idx3-ubyte: images are 27x28, expected 28x28"},
    {"zero-length file", setup_zero_length, TRAIN_ARGS, PP_ERR_FORMAT, api_dataset,
     "$D/t10k-images-idx3-ubyte: empty file (0 bytes)"},
    {"a directory where a file was expected", setup_directory, TRAIN_ARGS, PP_ERR_IO, api_dataset,
     "$D/t10k-labels-idx1-ubyte: is a directory, expected a file"},
    {"a missing file", setup_missing_file, TRAIN_ARGS, PP_ERR_NOT_FOUND, api_dataset,
     "$D/t10k-labels-idx1-ubyte: not found (nor t10k-labels-idx1-ubyte.gz)*"},
    {"corrupt gzip stream (invalid block)", setup_gzip_invalid_block, TRAIN_ARGS, PP_ERR_FORMAT,
     api_dataset, "$D/train-images-idx3-ubyte.gz: corrupt gzip stream: invalid block type"},
    {"corrupt gzip stream (bad CRC)", setup_gzip_bad_crc, TRAIN_ARGS, PP_ERR_FORMAT, api_dataset,
     "$D/t10k-labels-idx1-ubyte.gz: corrupt gzip stream: incorrect data check"},
    {"truncated gzip stream", setup_gzip_truncated, TRAIN_ARGS, PP_ERR_FORMAT, api_dataset,
     "$D/train-labels-idx1-ubyte.gz: corrupt gzip stream: unexpected end of file (truncated "
     "download?)"},
    /* the user's own data: .npz and .npy */
    {"npz: not a zip archive", setup_npz_not_zip, NPZ_ARGS, PP_ERR_FORMAT, api_npz,
     "$D/" NPZ_FILE ": not a valid .npz (zip) archive: Not a zip archive"},
    {"npz: an array missing", setup_npz_missing_array, NPZ_ARGS, PP_ERR_FORMAT, api_npz,
     "$D/" NPZ_FILE ": no array 'y_test' in the archive (it holds x_train.npy, y_train.npy, "
     "x_test.npy)"},
    {"npz: a member that is not .npy", setup_npz_not_npy, NPZ_ARGS, PP_ERR_FORMAT, api_npz,
     "$D/" NPZ_FILE ": x_train: not a .npy array (bad magic)"},
    {"npy: header length beyond the array", setup_npz_header_length, NPZ_ARGS, PP_ERR_FORMAT,
     api_npz,
     "$D/" NPZ_FILE ": y_train: truncated .npy header: it declares 16502 bytes, the file holds "
     "598"},
    {"npy: Fortran order", setup_npz_fortran, NPZ_ARGS, PP_ERR_FORMAT, api_npz,
     "$D/" NPZ_FILE ": x_test: the array is in Fortran order; save it in C order (e.g. "
     "np.ascontiguousarray)"},
    {"npy: float64 samples", setup_npz_float64, NPZ_ARGS, PP_ERR_FORMAT, api_npz,
     "$D/" NPZ_FILE ": x_train: unsupported dtype '<f8' (expected uint8 or float32 for samples, "
     "an integer type for labels)"},
    {"npy: big-endian samples", setup_npz_big_endian, NPZ_ARGS, PP_ERR_FORMAT, api_npz,
     "$D/" NPZ_FILE ": x_test: dtype '>f4' is big-endian; save it little-endian (e.g. "
     "a.astype('<f4'))"},
    {"npy: truncated payload", setup_npz_truncated_payload, NPZ_ARGS, PP_ERR_FORMAT, api_npz,
     "$D/" NPZ_FILE ": x_train: the header declares 2160 elements of 1 bytes, the payload holds "
     "2060 bytes (truncated)"},
    {"npz: integer samples", setup_npz_int_samples, NPZ_ARGS, PP_ERR_FORMAT, api_npz,
     "$D/" NPZ_FILE ": x_train: samples are int16; expected uint8 or float32"},
    {"npz: label out of range", setup_npz_label_range, NPZ_ARGS, PP_ERR_FORMAT, api_npz,
     "$D/" NPZ_FILE ": y_test: label 300 at item 3 is out of range (labels must be 0..255)"},
    {"npz: labels and samples disagree on the count", setup_npz_label_count, NPZ_ARGS,
     PP_ERR_FORMAT, api_npz,
     "$D/" NPZ_FILE ": y_train: 59 labels, but $D/" NPZ_FILE ": x_train holds 60 samples"},
    {"npz: float labels", setup_npz_float_labels, NPZ_ARGS, PP_ERR_FORMAT, api_npz,
     "$D/" NPZ_FILE ": y_train: labels are float32; expected an integer type"},
    {"npz: train and test samples of other shapes", setup_npz_shapes_differ, NPZ_ARGS,
     PP_ERR_FORMAT, api_npz,
     "$D/" NPZ_FILE ": x_test: samples are 1x6x7, but $D/" NPZ_FILE ": x_train holds 1x6x6"},
    {"npz: a corrupt member (CRC)", setup_npz_bad_crc, NPZ_ARGS, PP_ERR_FORMAT, api_npz,
     "$D/" NPZ_FILE ": array 'x_train' is corrupt: CRC error"},
    {"npy directory: a truncated file", setup_npy_directory_truncated,
     "train --dataset npz --data $D/npy --epochs 1 --hidden 16 --quiet", PP_ERR_FORMAT,
     api_npy_directory,
     "$D/npy/x_test.npy: the header declares 720 elements of 1 bytes, the payload holds 713 bytes "
     "(truncated)"},
    {"npz: a missing file", NULL, NPZ_ARGS, PP_ERR_NOT_FOUND, api_npz,
     "$D/" NPZ_FILE ": not found*"},
    {"npz without --data", NULL, "train --dataset npz", PP_ERR_ARGUMENT, NULL,
     "--dataset npz needs --data FILE.npz (or a directory of x_train.npy, y_train.npy, "
     "x_test.npy, y_test.npy), or $PEPITA_DATA"},
    /* export */
    {"export without --npz", NULL, "export --checkpoint $D/" CHECKPOINT, PP_ERR_ARGUMENT, NULL,
     "pepita export needs --checkpoint FILE and --npz FILE"},
    {"export with an unknown option", NULL, "export --frobnicate", PP_ERR_ARGUMENT, NULL,
     "pepita export: unknown option --frobnicate"},
    {"export with a flag without a value", NULL, "export --checkpoint $D/" CHECKPOINT " --npz",
     PP_ERR_ARGUMENT, NULL, "--npz needs a value"},
    {"export of a file that is not a checkpoint", setup_checkpoint_not_one,
     "export --checkpoint $D/" CHECKPOINT " --npz $D/w.npz", PP_ERR_FORMAT, api_export,
     "$D/" CHECKPOINT ": not a pepita checkpoint (bad magic number)"},
    {"export into a missing directory", setup_checkpoint_other_model,
     "export --checkpoint $D/" CHECKPOINT " --npz $D/missing/w.npz", PP_ERR_IO,
     api_export_no_directory, "$D/missing/w.npz.tmp.*"},
    /* checkpoints */
    {"checkpoint of another model", setup_checkpoint_other_model,
     "train --resume $D/" CHECKPOINT " --data $D --hidden 32 --quiet", PP_ERR_MISMATCH,
     api_load_other_model,
     "$D/" CHECKPOINT ": the checkpoint is of another model (--hidden differs: saved mnist fc "
     "pepita)"},
    {"checkpoint of another version", setup_checkpoint_version,
     "eval --checkpoint $D/" CHECKPOINT " --data $D", PP_ERR_MISMATCH, api_read_config,
     "$D/" CHECKPOINT ": checkpoint format version 5, this build reads versions 1 to 4"},
    {"checkpoint with a bad checksum", setup_checkpoint_bad_crc,
     "eval --checkpoint $D/" CHECKPOINT " --data $D", PP_ERR_FORMAT, api_read_config,
     "$D/" CHECKPOINT ": checksum mismatch ($X): the file is corrupt or truncated"},
    {"truncated checkpoint", setup_checkpoint_truncated,
     "train --resume $D/" CHECKPOINT " --data $D --quiet", PP_ERR_FORMAT, api_read_config,
     "$D/" CHECKPOINT ": checksum mismatch ($X): the file is corrupt or truncated"},
    {"not a checkpoint", setup_checkpoint_not_one, "eval --checkpoint $D/" CHECKPOINT,
     PP_ERR_FORMAT, api_read_config,
     "$D/" CHECKPOINT ": not a pepita checkpoint (bad magic number)"},
    {"empty checkpoint", setup_checkpoint_empty, "eval --checkpoint $D/" CHECKPOINT, PP_ERR_FORMAT,
     api_read_config, "$D/" CHECKPOINT ": empty file, not a checkpoint"},
    {"checkpoint is a directory", setup_checkpoint_directory, "eval --checkpoint $D/" CHECKPOINT,
     PP_ERR_IO, api_read_config, "$D/" CHECKPOINT ": is a directory, expected a checkpoint file"},
    {"missing checkpoint", NULL, "train --resume $D/" CHECKPOINT, PP_ERR_NOT_FOUND, api_read_config,
     "$D/" CHECKPOINT ": No such file or directory"},
    /* flags and values */
    {"negative epochs", NULL, "train --epochs -3", PP_ERR_ARGUMENT, NULL,
     "--epochs must be between 1 and 100000, got -3"},
    {"zero batch", NULL, "train --batch 0", PP_ERR_ARGUMENT, NULL,
     "--batch must be between 1 and 65536, got 0"},
    {"epochs not a number", NULL, "train --epochs ten", PP_ERR_ARGUMENT, NULL,
     "--epochs: 'ten' is not an integer"},
    {"negative learning rate", NULL, "train --lr -0.1", PP_ERR_ARGUMENT, NULL,
     "--lr must not be negative, got -0.1"},
    {"learning rate not finite", NULL, "train --lr nan", PP_ERR_ARGUMENT, NULL,
     "--lr: 'nan' is not a finite number"},
    {"momentum of 1", NULL, "train --momentum 1", PP_ERR_ARGUMENT, NULL,
     "--momentum must be in [0, 1), got 1"},
    {"empty item in a list", NULL, "train --hidden 16,,8", PP_ERR_ARGUMENT, NULL,
     "--hidden: '16,,8' has an empty item"},
    {"too many hidden layers", NULL, "train --hidden 1,2,3,4,5,6,7,8,9", PP_ERR_ARGUMENT, NULL,
     "--hidden takes at most 8 values, got '1,2,3,4,5,6,7,8,9'"},
    {"unknown rule", NULL, "train --rule sgd", PP_ERR_ARGUMENT, NULL,
     "--rule: unknown rule 'sgd' (expected pepita, bp, fa, dfa or drtp)"},
    {"unknown dataset", NULL, "train --dataset imagenet", PP_ERR_ARGUMENT, NULL,
     "--dataset: unknown dataset 'imagenet' (expected mnist, fashion-mnist, cifar10, cifar100 "
     "or npz)"},
    {"unknown model", NULL, "train --model transformer", PP_ERR_ARGUMENT, NULL,
     "--model: unknown model 'transformer' (expected fc or conv)"},
    {"unknown device", NULL, "train --dataset mnist --data $D --device quantum", PP_ERR_NO_DEVICE,
     NULL, "no OpenCL device matches --device 'quantum'; available: *"},
    {"malformed device index", NULL, "train --device 0:x", PP_ERR_ARGUMENT, NULL,
     "--device '0:x' is not a valid P:D index (expected two non-negative numbers, e.g. 0:0)"},
    {"unknown modulation", NULL, "train --modulation random:x", PP_ERR_ARGUMENT, NULL,
     "--modulation random:A: 'x' is not a finite number"},
    {"a variant of PEPITA with another rule", NULL, "train --rule bp --variant wm", PP_ERR_ARGUMENT,
     NULL, "--mirror is a variant of PEPITA: it needs --rule pepita"},
    {"a variant on the conv model", NULL, "train --model conv --normalise", PP_ERR_ARGUMENT, NULL,
     "--normalise needs a fully connected model (--model fc)"},
    {"unknown variant", NULL, "train --variant wm,dropconnect", PP_ERR_ARGUMENT, NULL,
     "--variant: unknown variant 'dropconnect' (expected wm, norm, hebbian or time-local)"},
    {"unknown update form", NULL, "train --update oja", PP_ERR_ARGUMENT, NULL,
     "--update: unknown value 'oja' (expected difference or hebbian or time-local)"},
    {"mirroring without noise", NULL, "train --mirror --mirror-noise 0", PP_ERR_ARGUMENT, NULL,
     "--mirror-noise must be a positive number, got 0"},
    {"mirroring settings without mirroring", NULL, "train --mirror-lr 0.2", PP_ERR_ARGUMENT, NULL,
     "--mirror-lr sets weight mirroring: it needs --mirror (or --variant wm)"},
    {"mirroring that flips F", NULL, "train --variant wm --mirror-lr 3", PP_ERR_ARGUMENT, NULL,
     "--mirror-lr x --mirror-decay must stay below 1 (the factors shrink by 1 - lr decay per "
     "step), got 3 x 0.5"},
    {"mirroring without the error's modulation", NULL, "train --mirror --modulation zero",
     PP_ERR_ARGUMENT, NULL,
     "--mirror learns F for the error's modulation: it needs --modulation error"},
    {"normalisation without hidden layers", NULL, "train --normalise --hidden none",
     PP_ERR_ARGUMENT, NULL, "--normalise acts on hidden layers: this network has none"},
    {"an architecture without its pool", NULL, "train --model conv --arch conv32k5",
     PP_ERR_ARGUMENT, NULL, "--arch: the last conv layer needs its pool2"},
    {"conv layers on the fc model", NULL, "train --arch conv8k3,pool2", PP_ERR_ARGUMENT, NULL,
     "--arch 'conv8k3,pool2' has conv layers: it needs --model conv"},
    {"unknown option", NULL, "train --frobnicate 3", PP_ERR_ARGUMENT, NULL,
     "pepita train: unknown option '--frobnicate' (see --help)"},
    {"a flag without a value", NULL, "train --dataset mnist --epochs", PP_ERR_ARGUMENT, NULL,
     "--epochs needs a value"},
    {"an abbreviated flag", NULL, "train --epoch 3", PP_ERR_ARGUMENT, NULL,
     "pepita train: unknown option '--epoch' (see --help)"},
    {"a stray word", NULL, "train --quiet 3", PP_ERR_ARGUMENT, NULL,
     "pepita train: unknown option '3' (see --help)"},
    {"a bad value written with '='", NULL, "train --epochs=0", PP_ERR_ARGUMENT, NULL,
     "--epochs must be between 1 and 100000, got 0"},
    {"eval without a checkpoint", NULL, "eval --data $D", PP_ERR_ARGUMENT, NULL,
     "pepita eval needs --checkpoint FILE"},
    {"eval with a training flag", setup_checkpoint_other_model,
     "eval --checkpoint $D/" CHECKPOINT " --save $D/x.ckpt", PP_ERR_ARGUMENT, NULL,
     "pepita eval takes no --save, --resume or --log"},
    {"unknown command", NULL, "frobnicate", PP_ERR_ARGUMENT, NULL, "unknown command 'frobnicate'*"},
};

#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

/* ---- Running the CLI --------------------------------------------------- */

/* Replaces every "$D" by the row's directory and "$X" by extra_message. */
static void expand(const char *text, char *out, size_t size) {
    size_t n = 0;
    for (const char *p = text; *p && n + 1 < size; p++) {
        const char *with = NULL;
        if (p[0] == '$' && p[1] == 'D') with = dir;
        if (p[0] == '$' && p[1] == 'X') with = extra_message;
        if (with) {
            n += (size_t)snprintf(out + n, size - n, "%s", with);
            p++;
        } else {
            out[n++] = *p;
        }
        if (n >= size) n = size - 1;
    }
    out[n] = '\0';
}

/* Runs pepita with the expanded space-separated args; as_nobody drops root
 * in the child first. */
static void run_cli(const char *args, int as_nobody, ts_cli_result *r) {
    /* split before expanding: $D may hold spaces (a TMPDIR with a space) */
    char line[8192];
    static char expanded[64][4096];
    snprintf(line, sizeof line, "%s", args);
    const char *argv[64];
    int argc = 0;
    for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok && argc < 63;
         tok = strtok_r(NULL, " ", &save)) {
        expand(tok, expanded[argc], sizeof expanded[argc]);
        argv[argc] = expanded[argc];
        argc++;
    }
    argv[argc] = NULL;
    ts_run_cli_with(argv, &(ts_cli_options){.as_nobody = as_nobody}, r);
}

/* A message matches exactly, or up to a final '*'. */
static int message_matches(const char *got, const char *want) {
    size_t n = strlen(want);
    if (n && want[n - 1] == '*') return strncmp(got, want, n - 1) == 0;
    return strcmp(got, want) == 0;
}

static void check_cli(const malformed_case *c, int as_nobody) {
    ts_cli_result r;
    char want[4096], line[sizeof r.err];
    expand(c->message, want, sizeof want);
    run_cli(c->args, as_nobody, &r);
    const char *skip = as_nobody ? ts_cli_nobody_skip_reason(&r) : NULL;
    if (skip) {
        ts_skip(c->what, skip);
        return;
    }
    int code = pp_status_exit_code(c->status);
    ck_assert_msg(r.exit_code == code, "%s: pepita %s exited %d, expected %d; stderr: %s", c->what,
                  c->args, r.exit_code, code, r.err);
    /* the first line is "error: <message>", and the only error line */
    char *newline = strchr(r.err, '\n');
    ck_assert_msg(newline != NULL, "%s: no complete line on stderr: '%s'", c->what, r.err);
    ck_assert_msg(strstr(newline, "\nerror: ") == NULL, "%s: more than one error line: '%s'",
                  c->what, r.err);
    *newline = '\0';
    snprintf(line, sizeof line, "%s", r.err);
    ck_assert_msg(!strncmp(line, "error: ", 7),
                  "%s: stderr '%s' does not start with error:", c->what, line);
    ck_assert_msg(message_matches(line + 7, want), "%s:\n  got      '%s'\n  expected '%s'", c->what,
                  line + 7, want);
}

static void check_api(const malformed_case *c) {
    char want[4096];
    expand(c->message, want, sizeof want);
    pp_status st = c->api();
    ck_assert_msg(st == c->status, "%s: the library returned %s (%s), expected %s", c->what,
                  pp_status_name(st), pp_last_error(), pp_status_name(c->status));
    ck_assert_msg(message_matches(pp_last_error(), want),
                  "%s (library):\n  got      '%s'\n  expected '%s'", c->what, pp_last_error(),
                  want);
}

static void setup(void) {
    dir = ts_make_temp_dir("malformed");
    ck_assert_ptr_nonnull(dir);
    extra_message[0] = '\0';
}

static void teardown(void) {
    ts_remove_tree(dir);
    free(dir);
    dir = NULL;
}

START_TEST(test_malformed_table) {
    const malformed_case *c = &cases[_i];
    if (!ts_cli_path()) {
        ts_skip(c->what, "no pepita binary in $PEPITA_BUILD_DIR");
        return;
    }
    if (c->setup) c->setup();
    if (c->api) check_api(c);
    check_cli(c, 0);
}
END_TEST

/* A file the user may not read: the library's message, and the CLI's. Root
 * reads a mode-000 file anyway, so as root both run as nobody in a child. */
START_TEST(test_unreadable_file) {
    valid_set();
    const char *name = "train-labels-idx1-ubyte";
    ck_assert_int_eq(chmod(path_in(name), 0), 0);
    if (access(path_in(name), R_OK) == 0 && geteuid() != 0) {
        ts_skip("test_unreadable_file", "a mode-000 file is still readable by this user");
        return;
    }
    malformed_case c = {
        "unreadable file", NULL, TRAIN_ARGS,
        PP_ERR_IO,         NULL, "$D/train-labels-idx1-ubyte: cannot open: Permission denied"};
    if (geteuid() != 0) {
        c.api = api_dataset;
        check_api(&c);
        check_cli(&c, 0);
        return;
    }
    /* as root: let nobody into the directory and the other files (whatever
     * the umask made them), then read as nobody */
    ck_assert_int_eq(chmod(dir, 0755), 0);
    static const char *const others[] = {"train-images-idx3-ubyte", "t10k-images-idx3-ubyte",
                                         "t10k-labels-idx1-ubyte"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        ck_assert_int_eq(chmod(path_in(others[i]), 0644), 0);
    char want[4096];
    expand(c.message, want, sizeof want);
    fflush(stdout);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
            setresuid(NOBODY, NOBODY, NOBODY))
            _exit(77);
        if (access(dir, X_OK) != 0) _exit(78); /* a private TMPDIR above it */
        pp_status st = api_dataset();
        _exit(st == PP_ERR_IO && !strcmp(pp_last_error(), want) ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77 || WEXITSTATUS(status) == 78) {
        ts_skip("test_unreadable_file", WEXITSTATUS(status) == 77
                                            ? "cannot switch to user nobody"
                                            : "user nobody cannot reach TMPDIR");
        return;
    }
    ck_assert_msg(WEXITSTATUS(status) == 0, "as nobody, the library did not report '%s'", want);
    if (ts_cli_path())
        check_cli(&c, 1);
    else
        ts_skip("test_unreadable_file (CLI)", "no pepita binary in $PEPITA_BUILD_DIR");
}
END_TEST

static Suite *malformed_suite(void) {
    Suite *s = suite_create("malformed");
    TCase *tc = tcase_create("table");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_malformed_table, 0, N_CASES);
    tcase_add_test(tc, test_unreadable_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(malformed_suite());
}
