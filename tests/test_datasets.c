/* Dataset loaders: exact round trips on generated IDX and CIFAR files (raw and
 * gzip), every malformed-file error with its status and message, directory
 * resolution, and the real datasets when this machine has them. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/cifar.h"
#include "data/gz_reader.h"
#include "data/idx.h"
#include "pepita/pepita.h"
#include "test_support.h"

/* ---- Fixture files ----------------------------------------------------- */

static char *tmp; /* a fresh directory per test */

static void setup(void) {
    tmp = ts_make_temp_dir("datasets");
    ck_assert_ptr_nonnull(tmp);
}

static void teardown(void) {
    ts_remove_tree(tmp);
    free(tmp);
    tmp = NULL;
}

static uint8_t next_byte(uint32_t *state) {
    *state = *state * 1664525u + 1013904223u;
    return (uint8_t)(*state >> 24);
}

/* A growable byte buffer holding one file's content. */
typedef struct bytes {
    uint8_t *data;
    size_t size;
} bytes;

static bytes idx_images_file(uint32_t n, uint32_t rows, uint32_t cols, uint32_t seed) {
    bytes b = {malloc(16 + (size_t)n * rows * cols), 16 + (size_t)n * rows * cols};
    ts_put_be32(b.data, IDX_IMAGES_MAGIC);
    ts_put_be32(b.data + 4, n);
    ts_put_be32(b.data + 8, rows);
    ts_put_be32(b.data + 12, cols);
    for (size_t i = 16; i < b.size; i++)
        b.data[i] = next_byte(&seed);
    return b;
}

static bytes idx_labels_file(uint32_t n, int classes, uint32_t seed) {
    bytes b = {malloc(8 + (size_t)n), 8 + (size_t)n};
    ts_put_be32(b.data, IDX_LABELS_MAGIC);
    ts_put_be32(b.data + 4, n);
    for (size_t i = 8; i < b.size; i++)
        b.data[i] = (uint8_t)(next_byte(&seed) % classes);
    return b;
}

static bytes cifar_file(size_t n, cifar_variant variant, uint32_t seed) {
    size_t record = cifar_record_bytes(variant);
    bytes b = {malloc(n * record), n * record};
    for (size_t i = 0; i < n; i++) {
        uint8_t *r = b.data + i * record;
        for (size_t j = 0; j < record; j++)
            r[j] = next_byte(&seed);
        if (variant == CIFAR_10) {
            r[0] %= 10;
        } else {
            r[0] %= 20;
            r[1] %= 100;
        }
    }
    return b;
}

static char *join_path(const char *dir, const char *name) {
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    snprintf(path, len, "%s/%s", dir, name);
    return path;
}

static void write_raw(const char *dir, const char *name, bytes b) {
    char *path = ts_write_file(dir, name, b.data, b.size);
    ck_assert_ptr_nonnull(path);
    free(path);
}

/* Writes name + ".gz", compressed with zlib. */
static void write_gz(const char *dir, const char *name, bytes b) {
    char gz_name[256];
    snprintf(gz_name, sizeof gz_name, "%s.gz", name);
    char *path = join_path(dir, gz_name);
    gzFile gz = gzopen(path, "wb");
    ck_assert_ptr_nonnull(gz);
    if (b.size) ck_assert_int_eq(gzwrite(gz, b.data, (unsigned)b.size), (int)b.size);
    ck_assert_int_eq(gzclose(gz), Z_OK);
    free(path);
}

static void write_file(const char *dir, const char *name, bytes b, int gz) {
    if (gz)
        write_gz(dir, name, b);
    else
        write_raw(dir, name, b);
}

static bytes read_whole(const char *path) {
    bytes b = {0};
    b.data = (uint8_t *)ts_read_file(path, &b.size);
    ck_assert_ptr_nonnull(b.data);
    return b;
}
static char *make_subdir(const char *dir, const char *name) {
    char *path = join_path(dir, name);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    return path;
}

/* An MNIST-like set: [0] train, [1] test. */
typedef struct idx_set {
    bytes images[2], labels[2];
} idx_set;

static const char *const idx_names[2][2] = {
    {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
    {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
};

static idx_set make_idx_set(uint32_t n_train, uint32_t n_test, uint32_t seed) {
    idx_set s;
    s.images[0] = idx_images_file(n_train, 28, 28, seed);
    s.labels[0] = idx_labels_file(n_train, 10, seed + 1);
    s.images[1] = idx_images_file(n_test, 28, 28, seed + 2);
    s.labels[1] = idx_labels_file(n_test, 10, seed + 3);
    return s;
}

static void write_idx_set(const char *dir, idx_set s, int gz) {
    for (int split = 0; split < 2; split++) {
        write_file(dir, idx_names[split][0], s.images[split], gz);
        write_file(dir, idx_names[split][1], s.labels[split], gz);
    }
}

static void free_idx_set(idx_set s) {
    for (int split = 0; split < 2; split++) {
        free(s.images[split].data);
        free(s.labels[split].data);
    }
}

static void check_idx_split(const pp_dataset *d, bytes images, bytes labels) {
    size_t n = labels.size - 8;
    ck_assert_uint_eq(d->n, n);
    ck_assert_int_eq(d->channels, 1);
    ck_assert_int_eq(d->height, 28);
    ck_assert_int_eq(d->width, 28);
    ck_assert_int_eq(d->classes, 10);
    ck_assert_mem_eq(d->pixels, images.data + 16, n * 784);
    ck_assert_mem_eq(d->labels, labels.data + 8, n);
}

#define CK_LOAD_OK(kind, dir, coarse, train, test)                                                 \
    do {                                                                                           \
        pp_status st_ = pp_dataset_load((kind), (dir), (coarse), (train), (test));                 \
        ck_assert_msg(st_ == PP_OK, "load failed: %s: %s", pp_status_name(st_), pp_last_error());  \
    } while (0)

/* Checks a status and that the message contains the expected text. */
static void check_failure(pp_status got, pp_status want, const char *text) {
    ck_assert_msg(got == want, "got %s (%s), expected %s", pp_status_name(got), pp_last_error(),
                  pp_status_name(want));
    ck_assert_msg(strstr(pp_last_error(), text) != NULL, "message \"%s\" lacks \"%s\"",
                  pp_last_error(), text);
}

/* Loads kind from tmp expecting a failure; the datasets must come back empty. */
static void check_load_fails(pp_dataset_kind kind, int coarse, pp_status want, const char *text) {
    pp_dataset train, test;
    memset(&train, 0xAB, sizeof train);
    memset(&test, 0xAB, sizeof test);
    check_failure(pp_dataset_load(kind, tmp, coarse, &train, &test), want, text);
    ck_assert_ptr_null(train.pixels);
    ck_assert_ptr_null(train.labels);
    ck_assert_ptr_null(test.pixels);
    ck_assert_uint_eq(train.n, 0);
}

/* "<tmp>/<name>" followed by fmt: the expected start of an error message. */
static const char *expect(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *expect(const char *name, const char *fmt, ...) {
    static char text[1024];
    int n = snprintf(text, sizeof text, "%s/%s", tmp, name);
    va_list args;
    va_start(args, fmt);
    vsnprintf(text + n, sizeof text - (size_t)n, fmt, args);
    va_end(args);
    return text;
}

/* ---- Round trips ------------------------------------------------------- */

START_TEST(test_idx_raw_round_trip) {
    idx_set s = make_idx_set(7, 3, 1);
    write_idx_set(tmp, s, 0);
    pp_dataset train, test;
    CK_LOAD_OK(PP_DATASET_MNIST, tmp, 0, &train, &test);
    check_idx_split(&train, s.images[0], s.labels[0]);
    check_idx_split(&test, s.images[1], s.labels[1]);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    ck_assert_ptr_null(train.pixels);
    ck_assert_uint_eq(train.n, 0);
    free_idx_set(s);
}
END_TEST

START_TEST(test_idx_gzip_round_trip) {
    idx_set s = make_idx_set(5, 4, 2);
    write_idx_set(tmp, s, 1);
    pp_dataset train, test;
    CK_LOAD_OK(PP_DATASET_FASHION_MNIST, tmp, 0, &train, &test);
    check_idx_split(&train, s.images[0], s.labels[0]);
    check_idx_split(&test, s.images[1], s.labels[1]);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    free_idx_set(s);
}
END_TEST

/* With both forms present the raw file wins; each file is chosen on its own. */
START_TEST(test_idx_raw_preferred_and_mixed) {
    idx_set raw = make_idx_set(4, 2, 3), gz = make_idx_set(6, 3, 4);
    write_idx_set(tmp, gz, 1);
    write_raw(tmp, idx_names[0][0], raw.images[0]);
    write_raw(tmp, idx_names[0][1], raw.labels[0]);
    pp_dataset train, test;
    CK_LOAD_OK(PP_DATASET_MNIST, tmp, 0, &train, &test);
    check_idx_split(&train, raw.images[0], raw.labels[0]);
    check_idx_split(&test, gz.images[1], gz.labels[1]);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    free_idx_set(raw);
    free_idx_set(gz);
}
END_TEST

/* A .gz name holding raw bytes still loads: zlib passes them through. */
START_TEST(test_idx_gz_name_raw_content) {
    idx_set s = make_idx_set(3, 2, 5);
    for (int split = 0; split < 2; split++) {
        char name[64];
        snprintf(name, sizeof name, "%s.gz", idx_names[split][0]);
        write_raw(tmp, name, s.images[split]);
        write_gz(tmp, idx_names[split][1], s.labels[split]);
    }
    pp_dataset train, test;
    CK_LOAD_OK(PP_DATASET_MNIST, tmp, 0, &train, &test);
    check_idx_split(&train, s.images[0], s.labels[0]);
    check_idx_split(&test, s.images[1], s.labels[1]);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    free_idx_set(s);
}
END_TEST

/* The dataset's own subdirectory of the given directory is searched too. */
START_TEST(test_idx_subdirectory) {
    char *sub = make_subdir(tmp, "mnist");
    idx_set s = make_idx_set(2, 2, 6);
    write_idx_set(sub, s, 1);
    pp_dataset train, test;
    CK_LOAD_OK(PP_DATASET_MNIST, tmp, 0, &train, &test);
    check_idx_split(&train, s.images[0], s.labels[0]);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    /* Fashion-MNIST looks in fashion-mnist/, not mnist/. */
    check_load_fails(PP_DATASET_FASHION_MNIST, 0, PP_ERR_NOT_FOUND, "fashion-mnist/ subdirectory");
    free_idx_set(s);
    free(sub);
}
END_TEST

static void check_cifar_split(const pp_dataset *d, const bytes *files, size_t n_files,
                              cifar_variant variant, int coarse) {
    size_t record = cifar_record_bytes(variant), k = 0;
    ck_assert_int_eq(d->channels, 3);
    ck_assert_int_eq(d->height, 32);
    ck_assert_int_eq(d->width, 32);
    ck_assert_int_eq(d->classes, variant == CIFAR_10 ? 10 : coarse ? 20 : 100);
    for (size_t f = 0; f < n_files; f++) {
        for (size_t i = 0; i < files[f].size / record; i++, k++) {
            const uint8_t *r = files[f].data + i * record;
            size_t label_at = variant == CIFAR_100 && !coarse ? 1 : 0;
            ck_assert_uint_eq(d->labels[k], r[label_at]);
            ck_assert_mem_eq(d->pixels + k * 3072, r + record - 3072, 3072);
        }
    }
    ck_assert_uint_eq(d->n, k);
}

static const char *const cifar10_names[6] = {"data_batch_1.bin", "data_batch_2.bin",
                                             "data_batch_3.bin", "data_batch_4.bin",
                                             "data_batch_5.bin", "test_batch.bin"};

static void cifar10_round_trip(const char *dir, int gz) {
    static const size_t counts[6] = {2, 3, 1, 4, 2, 3};
    bytes files[6];
    for (int i = 0; i < 6; i++) {
        files[i] = cifar_file(counts[i], CIFAR_10, 10u + (uint32_t)i);
        write_file(dir, cifar10_names[i], files[i], gz);
    }
    pp_dataset train, test;
    CK_LOAD_OK(PP_DATASET_CIFAR10, tmp, 0, &train, &test);
    check_cifar_split(&train, files, 5, CIFAR_10, 0);
    ck_assert_uint_eq(train.n, 12);
    check_cifar_split(&test, files + 5, 1, CIFAR_10, 0);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    for (int i = 0; i < 6; i++)
        free(files[i].data);
}

START_TEST(test_cifar10_raw_round_trip) {
    cifar10_round_trip(tmp, 0);
}
END_TEST

START_TEST(test_cifar10_gzip_in_batches_dir) {
    char *sub = make_subdir(tmp, "cifar-10-batches-bin");
    cifar10_round_trip(sub, 1);
    free(sub);
}
END_TEST

static void cifar100_round_trip(const char *dir, int gz, int coarse) {
    bytes train_file = cifar_file(5, CIFAR_100, 20), test_file = cifar_file(3, CIFAR_100, 21);
    write_file(dir, "train.bin", train_file, gz);
    write_file(dir, "test.bin", test_file, gz);
    pp_dataset train, test;
    CK_LOAD_OK(PP_DATASET_CIFAR100, tmp, coarse, &train, &test);
    check_cifar_split(&train, &train_file, 1, CIFAR_100, coarse);
    check_cifar_split(&test, &test_file, 1, CIFAR_100, coarse);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    free(train_file.data);
    free(test_file.data);
}

START_TEST(test_cifar100_fine_raw) {
    cifar100_round_trip(tmp, 0, 0);
}
END_TEST

START_TEST(test_cifar100_coarse_gzip_in_binary_dir) {
    char *sub = make_subdir(tmp, "cifar-100-binary");
    cifar100_round_trip(sub, 1, 1);
    free(sub);
}
END_TEST

/* ---- Directory resolution ---------------------------------------------- */

START_TEST(test_default_dirs) {
    ck_assert_str_eq(pp_dataset_default_dir(PP_DATASET_MNIST), "/usr/share/datasets/mnist");
    ck_assert_str_eq(pp_dataset_default_dir(PP_DATASET_FASHION_MNIST),
                     "/usr/share/datasets/fashion-mnist");
    ck_assert_str_eq(pp_dataset_default_dir(PP_DATASET_CIFAR10), "/usr/share/datasets/cifar-10");
    ck_assert_str_eq(pp_dataset_default_dir(PP_DATASET_CIFAR100), "/usr/share/datasets/cifar-100");
    ck_assert_ptr_null(pp_dataset_default_dir((pp_dataset_kind)99));
}
END_TEST

/* Restores $PEPITA_DATA after a test changes it. */
static char *saved_env;
static void save_env(void) {
    const char *v = getenv("PEPITA_DATA");
    saved_env = v ? strdup(v) : NULL;
}
static void restore_env(void) {
    if (saved_env)
        setenv("PEPITA_DATA", saved_env, 1);
    else
        unsetenv("PEPITA_DATA");
    free(saved_env);
    saved_env = NULL;
}

START_TEST(test_env_dir) {
    idx_set s = make_idx_set(2, 1, 7);
    write_idx_set(tmp, s, 0);
    pp_dataset train, test;
    save_env();
    setenv("PEPITA_DATA", tmp, 1);
    CK_LOAD_OK(PP_DATASET_MNIST, NULL, 0, &train, &test);
    check_idx_split(&train, s.images[0], s.labels[0]);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    CK_LOAD_OK(PP_DATASET_MNIST, "", 0, &train, &test); /* "" means "not given" */
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    /* The given directory wins over the environment. */
    setenv("PEPITA_DATA", "/nonexistent/pepita", 1);
    CK_LOAD_OK(PP_DATASET_MNIST, tmp, 0, &train, &test);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    check_failure(pp_dataset_load(PP_DATASET_MNIST, NULL, 0, &train, &test), PP_ERR_NOT_FOUND,
                  "/nonexistent/pepita: mnist not found");
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "(from $PEPITA_DATA; it does not exist)"));
    restore_env();
    free_idx_set(s);
}
END_TEST

START_TEST(test_not_found_messages) {
    char text[512];
    snprintf(text, sizeof text,
             "%s: mnist not found: looked in this directory (given) and in its mnist/ "
             "subdirectory for train-images-idx3-ubyte, train-labels-idx1-ubyte, "
             "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each raw or .gz); download it",
             tmp);
    check_load_fails(PP_DATASET_MNIST, 0, PP_ERR_NOT_FOUND, text);
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "datasets/fetch.sh mnist DIR"));
    check_load_fails(PP_DATASET_FASHION_MNIST, 0, PP_ERR_NOT_FOUND,
                     "install the Debian package dataset-fashion-mnist");
    check_load_fails(PP_DATASET_CIFAR10, 0, PP_ERR_NOT_FOUND,
                     "data_batch_1.bin .. data_batch_5.bin, test_batch.bin (each raw or .gz)");
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "cifar-10-batches-bin/ subdirectory"));
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "datasets/fetch.sh cifar10 DIR"));
    check_load_fails(PP_DATASET_CIFAR100, 0, PP_ERR_NOT_FOUND, "train.bin, test.bin");
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "datasets/fetch.sh cifar100 DIR"));

    /* The default directory, named as such. */
    pp_dataset train, test;
    save_env();
    unsetenv("PEPITA_DATA");
    check_failure(pp_dataset_load(PP_DATASET_CIFAR100, NULL, 0, &train, &test), PP_ERR_NOT_FOUND,
                  "/usr/share/datasets/cifar-100: cifar100 not found");
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "(the default; it does not exist)"));
    restore_env();

    /* A file given as the directory. */
    bytes b = idx_labels_file(1, 10, 0);
    char *file = ts_write_file(tmp, "plain-file", b.data, b.size);
    check_failure(pp_dataset_load(PP_DATASET_MNIST, file, 0, &train, &test), PP_ERR_NOT_FOUND,
                  "(given; it is not a directory)");
    free(file);
    free(b.data);
}
END_TEST

START_TEST(test_missing_one_file) {
    idx_set s = make_idx_set(2, 2, 8);
    write_idx_set(tmp, s, 1);
    char *path = join_path(tmp, "t10k-labels-idx1-ubyte.gz");
    ck_assert_int_eq(unlink(path), 0);
    free(path);
    check_load_fails(PP_DATASET_MNIST, 0, PP_ERR_NOT_FOUND,
                     expect("t10k-labels-idx1-ubyte",
                            ": not found (nor t10k-labels-idx1-ubyte.gz): the mnist files in %s "
                            "are incomplete",
                            tmp));
    free_idx_set(s);

    bytes batch = cifar_file(1, CIFAR_10, 9);
    for (int i = 0; i < 6; i++)
        if (i != 3) write_raw(tmp, cifar10_names[i], batch);
    check_load_fails(PP_DATASET_CIFAR10, 0, PP_ERR_NOT_FOUND,
                     expect("data_batch_4.bin", ": not found (nor data_batch_4.bin.gz)"));
    free(batch.data);
}
END_TEST

START_TEST(test_bad_arguments) {
    pp_dataset d;
    check_failure(pp_dataset_load(PP_DATASET_MNIST, tmp, 0, NULL, &d), PP_ERR_ARGUMENT,
                  "train and test");
    check_failure(pp_dataset_load(PP_DATASET_MNIST, tmp, 0, &d, &d), PP_ERR_ARGUMENT,
                  "train and test");
    pp_dataset train, test;
    check_failure(pp_dataset_load((pp_dataset_kind)42, tmp, 0, &train, &test), PP_ERR_ARGUMENT,
                  "unknown dataset kind 42");
    pp_dataset_free(NULL);
    memset(&d, 0, sizeof d);
    pp_dataset_free(&d);
}
END_TEST

/* ---- Malformed IDX files ------------------------------------------------ */

/* Writes a valid raw set (train 7, test 3) with one file replaced. */
static void write_set_with(const char *name, bytes replacement, int gz) {
    idx_set s = make_idx_set(7, 3, 11);
    for (int split = 0; split < 2; split++)
        for (int kind = 0; kind < 2; kind++) {
            const char *n = idx_names[split][kind];
            bytes b = kind == 0 ? s.images[split] : s.labels[split];
            if (strcmp(n, name) == 0)
                write_file(tmp, n, replacement, gz);
            else
                write_raw(tmp, n, b);
        }
    free_idx_set(s);
}

START_TEST(test_idx_bad_magic) {
    bytes b = idx_images_file(7, 28, 28, 1);
    ts_put_be32(b.data, IDX_LABELS_MAGIC);
    write_set_with("train-images-idx3-ubyte", b, 0);
    check_load_fails(PP_DATASET_MNIST, 0, PP_ERR_FORMAT,
                     expect("train-images-idx3-ubyte",
                            ": bad magic 0x00000801, expected 0x00000803 (IDX images) (this is an "
                            "IDX label file)"));
    free(b.data);
}
END_TEST

START_TEST(test_idx_bad_label_magic) {
    bytes b = idx_labels_file(3, 10, 1);
    ts_put_be32(b.data, 0xdeadbeefu);
    write_set_with("t10k-labels-idx1-ubyte", b, 1);
    check_load_fails(PP_DATASET_MNIST, 0, PP_ERR_FORMAT,
                     expect("t10k-labels-idx1-ubyte.gz",
                            ": bad magic 0xdeadbeef, expected 0x00000801 (IDX labels)"));
    free(b.data);
}
END_TEST

START_TEST(test_idx_wrong_dimensions) {
    bytes b = idx_images_file(7, 27, 28, 1);
    write_set_with("train-images-idx3-ubyte", b, 0);
    check_load_fails(PP_DATASET_FASHION_MNIST, 0, PP_ERR_FORMAT,
                     expect("train-images-idx3-ubyte", ": images are 27x28, expected 28x28"));
    free(b.data);
}
END_TEST

START_TEST(test_idx_count_mismatch) {
    bytes b = idx_labels_file(6, 10, 1);
    write_set_with("train-labels-idx1-ubyte", b, 0);
    char text[512];
    snprintf(text, sizeof text,
             "%s/train-labels-idx1-ubyte: 6 labels, but %s/train-images-idx3-ubyte holds 7 images",
             tmp, tmp);
    check_load_fails(PP_DATASET_MNIST, 0, PP_ERR_FORMAT, text);
    free(b.data);
}
END_TEST

START_TEST(test_idx_truncated_payload) {
    bytes b = idx_images_file(7, 28, 28, 1);
    b.size -= 10;
    write_set_with("train-images-idx3-ubyte", b, 1);
    check_load_fails(PP_DATASET_MNIST, 0, PP_ERR_FORMAT,
                     expect("train-images-idx3-ubyte.gz",
                            ": truncated: header says 7 items of 784 bytes, file holds 5478 "
                            "bytes of pixels"));
    free(b.data);
}
END_TEST

START_TEST(test_idx_trailing_garbage) {
    bytes b = idx_labels_file(3, 10, 1);
    uint8_t *longer = realloc(b.data, b.size + 3);
    ck_assert_ptr_nonnull(longer);
    b.data = longer;
    memset(b.data + b.size, 0, 3);
    b.size += 3;
    write_set_with("t10k-labels-idx1-ubyte", b, 0);
    check_load_fails(PP_DATASET_MNIST, 0, PP_ERR_FORMAT,
                     expect("t10k-labels-idx1-ubyte",
                            ": 3 bytes of trailing data after the 3 items of 1 bytes the header "
                            "declares"));
    free(b.data);
}
END_TEST

START_TEST(test_idx_label_out_of_range) {
    bytes b = idx_labels_file(7, 10, 1);
    b.data[8 + 3] = 12;
    write_set_with("train-labels-idx1-ubyte", b, 1);
    check_load_fails(
        PP_DATASET_MNIST, 0, PP_ERR_FORMAT,
        expect("train-labels-idx1-ubyte.gz", ": label 12 at item 3 is out of range (10 classes)"));
    free(b.data);
}
END_TEST

START_TEST(test_idx_short_headers) {
    bytes b = idx_labels_file(3, 10, 1);
    b.size = 6;
    write_set_with("t10k-labels-idx1-ubyte", b, 0);
    check_load_fails(PP_DATASET_MNIST, 0, PP_ERR_FORMAT,
                     expect("t10k-labels-idx1-ubyte", ": truncated IDX header: 6 bytes, need 8"));
    free(b.data);
    b = idx_images_file(7, 28, 28, 1);
    b.size = 3;
    write_set_with("train-images-idx3-ubyte", b, 0);
    check_load_fails(PP_DATASET_MNIST, 0, PP_ERR_FORMAT,
                     expect("train-images-idx3-ubyte",
                            ": too short for an IDX file: 3 bytes, the header is 16"));
    free(b.data);
}
END_TEST

START_TEST(test_idx_zero_items) {
    bytes b = idx_images_file(0, 28, 28, 1);
    write_set_with("train-images-idx3-ubyte", b, 0);
    check_load_fails(PP_DATASET_MNIST, 0, PP_ERR_FORMAT,
                     expect("train-images-idx3-ubyte", ": header says 0 items"));
    free(b.data);
}
END_TEST

START_TEST(test_empty_files) {
    bytes empty = {NULL, 0};
    write_set_with("train-labels-idx1-ubyte", empty, 0);
    check_load_fails(PP_DATASET_MNIST, 0, PP_ERR_FORMAT,
                     expect("train-labels-idx1-ubyte", ": empty file (0 bytes)"));
    /* A valid gzip stream of nothing. */
    char *raw = join_path(tmp, "train-labels-idx1-ubyte");
    ck_assert_int_eq(unlink(raw), 0);
    free(raw);
    write_gz(tmp, "train-labels-idx1-ubyte", empty);
    check_load_fails(PP_DATASET_MNIST, 0, PP_ERR_FORMAT,
                     expect("train-labels-idx1-ubyte.gz", ": empty once decompressed (0 bytes)"));
}
END_TEST

START_TEST(test_directory_instead_of_file) {
    write_set_with("none", (bytes){NULL, 0}, 0);
    char *path = join_path(tmp, "t10k-images-idx3-ubyte");
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    free(path);
    check_load_fails(PP_DATASET_MNIST, 0, PP_ERR_IO,
                     expect("t10k-images-idx3-ubyte", ": is a directory, expected a file"));
}
END_TEST

START_TEST(test_unreadable_file) {
    write_set_with("none", (bytes){NULL, 0}, 0);
    char *path = join_path(tmp, "train-labels-idx1-ubyte");
    ck_assert_int_eq(chmod(path, 0), 0);
    if (access(path, R_OK) == 0) {
        /* root (or CAP_DAC_OVERRIDE) reads a mode-000 file anyway. */
        ts_skip("test_unreadable_file", "a mode-000 file is still readable by this user (root?)");
    } else {
        check_load_fails(PP_DATASET_MNIST, 0, PP_ERR_IO,
                         expect("train-labels-idx1-ubyte", ": cannot open: Permission denied"));
    }
    free(path);
}
END_TEST

/* The gzip trailer's CRC-32 no longer matches the data. */
START_TEST(test_gzip_bad_checksum) {
    bytes b = idx_images_file(7, 28, 28, 1);
    write_set_with("train-images-idx3-ubyte", b, 1);
    char *path = join_path(tmp, "train-images-idx3-ubyte.gz");
    bytes gz = read_whole(path);
    gz.data[gz.size - 8] ^= 0xFF;
    free(ts_write_file(tmp, "train-images-idx3-ubyte.gz", gz.data, gz.size));
    check_load_fails(
        PP_DATASET_MNIST, 0, PP_ERR_FORMAT,
        expect("train-images-idx3-ubyte.gz", ": corrupt gzip stream: incorrect data check"));
    free(gz.data);
    free(path);
    free(b.data);
}
END_TEST

/* Garbage after a valid gzip header. */
START_TEST(test_gzip_corrupt_stream) {
    uint8_t garbage[200] = {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0x03};
    uint32_t seed = 5;
    for (size_t i = 10; i < sizeof garbage; i++)
        garbage[i] = next_byte(&seed) | 0x06;
    write_set_with("none", (bytes){NULL, 0}, 0);
    char *path = join_path(tmp, "t10k-images-idx3-ubyte");
    ck_assert_int_eq(unlink(path), 0);
    free(path);
    free(ts_write_file(tmp, "t10k-images-idx3-ubyte.gz", garbage, sizeof garbage));
    check_load_fails(PP_DATASET_MNIST, 0, PP_ERR_FORMAT,
                     expect("t10k-images-idx3-ubyte.gz", ": corrupt gzip stream: "));
}
END_TEST

START_TEST(test_gzip_truncated) {
    bytes b = idx_images_file(7, 28, 28, 1);
    write_set_with("train-images-idx3-ubyte", b, 1);
    char *path = join_path(tmp, "train-images-idx3-ubyte.gz");
    bytes gz = read_whole(path);
    free(ts_write_file(tmp, "train-images-idx3-ubyte.gz", gz.data, gz.size / 2));
    check_load_fails(
        PP_DATASET_MNIST, 0, PP_ERR_FORMAT,
        expect("train-images-idx3-ubyte.gz", ": corrupt gzip stream: unexpected end of file"));
    free(gz.data);
    free(path);
    free(b.data);
}
END_TEST

/* ---- Malformed CIFAR files ---------------------------------------------- */

static void write_cifar10_with(const char *name, bytes replacement, int gz) {
    bytes ok = cifar_file(2, CIFAR_10, 30);
    for (int i = 0; i < 6; i++)
        write_file(tmp, cifar10_names[i], strcmp(cifar10_names[i], name) ? ok : replacement, gz);
    free(ok.data);
}

START_TEST(test_cifar_size_not_multiple) {
    bytes b = cifar_file(3, CIFAR_10, 1);
    b.size = 2 * 3073 + 5;
    write_cifar10_with("data_batch_3.bin", b, 0);
    check_load_fails(PP_DATASET_CIFAR10, 0, PP_ERR_FORMAT,
                     expect("data_batch_3.bin",
                            ": 6151 bytes is not a whole number of 3073-byte CIFAR-10 records (2 "
                            "records and 5 bytes left over)"));
    free(b.data);
}
END_TEST

START_TEST(test_cifar_empty) {
    write_cifar10_with("test_batch.bin", (bytes){NULL, 0}, 0);
    check_load_fails(PP_DATASET_CIFAR10, 0, PP_ERR_FORMAT,
                     expect("test_batch.bin", ": empty file (0 bytes)"));
}
END_TEST

START_TEST(test_cifar10_label_out_of_range) {
    bytes b = cifar_file(3, CIFAR_10, 1);
    b.data[3073] = 10;
    write_cifar10_with("data_batch_5.bin", b, 1);
    check_load_fails(
        PP_DATASET_CIFAR10, 0, PP_ERR_FORMAT,
        expect("data_batch_5.bin.gz", ": label 10 at record 1 is out of range (10 classes)"));
    free(b.data);
}
END_TEST

START_TEST(test_cifar100_labels_out_of_range) {
    bytes ok = cifar_file(2, CIFAR_100, 40), bad = cifar_file(4, CIFAR_100, 41);
    bad.data[0] = 20;
    write_raw(tmp, "train.bin", bad);
    write_raw(tmp, "test.bin", ok);
    /* Both labels are checked, whichever one is used. */
    check_load_fails(
        PP_DATASET_CIFAR100, 0, PP_ERR_FORMAT,
        expect("train.bin", ": coarse label 20 at record 0 is out of range (20 classes)"));
    bad.data[0] = 0;
    bad.data[2 * 3074 + 1] = 100;
    write_raw(tmp, "train.bin", bad);
    check_load_fails(
        PP_DATASET_CIFAR100, 1, PP_ERR_FORMAT,
        expect("train.bin", ": fine label 100 at record 2 is out of range (100 classes)"));
    /* A CIFAR-10 batch is not a whole number of CIFAR-100 records. */
    bytes c10 = cifar_file(5, CIFAR_10, 42);
    write_raw(tmp, "test.bin", c10);
    write_raw(tmp, "train.bin", ok);
    check_load_fails(PP_DATASET_CIFAR100, 0, PP_ERR_FORMAT,
                     expect("test.bin", ": 15365 bytes is not a whole number of 3074-byte "
                                        "CIFAR-100 records"));
    free(ok.data);
    free(bad.data);
    free(c10.data);
}
END_TEST

START_TEST(test_cifar_gzip_truncated) {
    bytes b = cifar_file(3, CIFAR_10, 1);
    write_cifar10_with("data_batch_2.bin", b, 1);
    char *path = join_path(tmp, "data_batch_2.bin.gz");
    bytes gz = read_whole(path);
    free(ts_write_file(tmp, "data_batch_2.bin.gz", gz.data, gz.size - 4));
    check_load_fails(
        PP_DATASET_CIFAR10, 0, PP_ERR_FORMAT,
        expect("data_batch_2.bin.gz", ": corrupt gzip stream: unexpected end of file"));
    free(gz.data);
    free(path);
    free(b.data);
}
END_TEST

/* ---- The in-memory parsers (what a fuzz target calls) ------------------- */

/* A header whose sizes overflow any size_t product. */
START_TEST(test_idx_parse_overflow) {
    uint8_t header[16];
    ts_put_be32(header, IDX_IMAGES_MAGIC);
    ts_put_be32(header + 4, 0xFFFFFFFFu);
    ts_put_be32(header + 8, 0xFFFFFFFFu);
    ts_put_be32(header + 12, 0xFFFFFFFFu);
    idx_images images;
    check_failure(idx_parse_images(header, sizeof header, "mem", 0, 0, &images), PP_ERR_FORMAT,
                  "mem: truncated: header says 4294967295 items of 18446744065119617025 bytes, "
                  "file holds 0 bytes of pixels");
    ts_put_be32(header + 8, 0);
    check_failure(idx_parse_images(header, sizeof header, "mem", 0, 0, &images), PP_ERR_FORMAT,
                  "mem: images are 0x4294967295 pixels");
    idx_labels labels;
    check_failure(idx_parse_labels(header, 8, "mem", 0, &labels), PP_ERR_ARGUMENT,
                  "bad class count 0");
    size_t count;
    check_failure(cifar_parse(header, 0, "mem", CIFAR_10, &count), PP_ERR_FORMAT,
                  "mem: empty file (no records)");
}
END_TEST

/* Every prefix of a valid file, each in its own exact-size allocation so that
 * AddressSanitizer catches any read past the end. */
START_TEST(test_parse_every_prefix) {
    bytes images = idx_images_file(2, 3, 4, 1), labels = idx_labels_file(5, 10, 2);
    bytes c100 = cifar_file(1, CIFAR_100, 3);
    for (size_t len = 0; len <= images.size; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, images.data, len);
        idx_images im;
        pp_status st = idx_parse_images(copy, len, "mem", 3, 4, &im);
        ck_assert_int_eq(st, len == images.size ? PP_OK : PP_ERR_FORMAT);
        free(copy);
    }
    for (size_t len = 0; len <= labels.size; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, labels.data, len);
        idx_labels lb;
        ck_assert_int_eq(idx_parse_labels(copy, len, "mem", 10, &lb),
                         len == labels.size ? PP_OK : PP_ERR_FORMAT);
        free(copy);
    }
    for (size_t len = 0; len <= c100.size; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, c100.data, len);
        size_t count;
        ck_assert_int_eq(cifar_parse(copy, len, "mem", CIFAR_100, &count),
                         len == c100.size ? PP_OK : PP_ERR_FORMAT);
        free(copy);
    }
    free(images.data);
    free(labels.data);
    free(c100.data);
}
END_TEST

/* Random byte flips: each parse either fails with PP_ERR_FORMAT or succeeds
 * with a result consistent with the buffer. */
START_TEST(test_parse_mutations) {
    bytes images = idx_images_file(3, 2, 2, 4), labels = idx_labels_file(6, 10, 5);
    uint32_t seed = 99;
    for (int round = 0; round < 3000; round++) {
        bytes b = round % 2 ? images : labels;
        uint8_t *copy = malloc(b.size);
        memcpy(copy, b.data, b.size);
        int flips = 1 + next_byte(&seed) % 3;
        for (int f = 0; f < flips; f++)
            copy[next_byte(&seed) % b.size] = next_byte(&seed);
        size_t len = b.size - (next_byte(&seed) % 4 == 0 ? next_byte(&seed) % b.size : 0);
        pp_status st;
        if (round % 2) {
            idx_images im;
            st = idx_parse_images(copy, len, "mem", 0, 0, &im);
            if (st == PP_OK) ck_assert_uint_eq(16 + im.count * im.rows * im.cols, len);
        } else {
            idx_labels lb;
            st = idx_parse_labels(copy, len, "mem", 10, &lb);
            if (st == PP_OK) {
                ck_assert_uint_eq(8 + lb.count, len);
                for (size_t i = 0; i < lb.count; i++)
                    ck_assert_uint_lt(lb.labels[i], 10);
            }
        }
        ck_assert(st == PP_OK || st == PP_ERR_FORMAT);
        free(copy);
    }
    free(images.data);
    free(labels.data);
}
END_TEST

/* gz_read_file on its own: the size cap, and a missing file. */
START_TEST(test_gz_reader_limits) {
    bytes b = idx_images_file(4, 28, 28, 1);
    write_gz(tmp, "big", b);
    char *path = join_path(tmp, "big.gz");
    uint8_t *data;
    size_t size;
    check_failure(gz_read_file(path, 1000, &data, &size), PP_ERR_FORMAT,
                  "more than 1000 bytes once decompressed");
    ck_assert_ptr_null(data);
    ck_assert_int_eq(gz_read_file(path, GZ_READER_MAX_BYTES, &data, &size), PP_OK);
    ck_assert_uint_eq(size, b.size);
    ck_assert_mem_eq(data, b.data, b.size);
    free(data);
    free(path);
    path = join_path(tmp, "missing");
    check_failure(gz_read_file(path, 1000, &data, &size), PP_ERR_NOT_FOUND, "missing: not found");
    free(path);
    free(b.data);
}
END_TEST

/* ---- The real datasets -------------------------------------------------- */

static void check_real(const pp_dataset *d, size_t n, int channels, int side, uint32_t pixels_crc,
                       uint32_t labels_crc, const size_t *class_counts) {
    ck_assert_uint_eq(d->n, n);
    ck_assert_int_eq(d->channels, channels);
    ck_assert_int_eq(d->height, side);
    ck_assert_int_eq(d->width, side);
    ck_assert_int_eq(d->classes, 10);
    size_t counts[10] = {0};
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_lt(d->labels[i], 10);
        counts[d->labels[i]]++;
    }
    for (int c = 0; c < 10; c++)
        ck_assert_uint_eq(counts[c], class_counts[c]);
    /* CRC-32s of the decompressed payloads, computed once with Python's zlib. */
    size_t bytes_total = n * (size_t)channels * (size_t)side * (size_t)side;
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < bytes_total; off += 1u << 30) {
        size_t len = bytes_total - off < (1u << 30) ? bytes_total - off : 1u << 30;
        crc = crc32(crc, d->pixels + off, (uInt)len);
    }
    ck_assert_uint_eq(crc, pixels_crc);
    ck_assert_uint_eq(crc32(crc32(0L, Z_NULL, 0), d->labels, (uInt)n), labels_crc);
}

START_TEST(test_real_fashion_mnist) {
    const char *dir = "/usr/share/datasets/fashion-mnist";
    struct stat st;
    if (stat(dir, &st) != 0) {
        ts_skip("test_real_fashion_mnist", "/usr/share/datasets/fashion-mnist is absent "
                                           "(Debian package dataset-fashion-mnist)");
        return;
    }
    /* Loaded from the default directory: no dir, no $PEPITA_DATA. */
    save_env();
    unsetenv("PEPITA_DATA");
    pp_dataset train, test;
    CK_LOAD_OK(PP_DATASET_FASHION_MNIST, NULL, 0, &train, &test);
    restore_env();
    static const size_t train_counts[10] = {6000, 6000, 6000, 6000, 6000,
                                            6000, 6000, 6000, 6000, 6000};
    static const size_t test_counts[10] = {1000, 1000, 1000, 1000, 1000,
                                           1000, 1000, 1000, 1000, 1000};
    check_real(&train, 60000, 1, 28, 0xae65dccdu, 0x2ed6e46au, train_counts);
    check_real(&test, 10000, 1, 28, 0x12728439u, 0x242bc73fu, test_counts);
    ck_assert_uint_eq(train.labels[0], 9); /* ankle boot */
    pp_dataset_free(&train);
    pp_dataset_free(&test);
}
END_TEST

START_TEST(test_real_mnist) {
    const char *dir = ts_shared_dataset_dir("mnist");
    if (!dir) {
        ts_skip("test_real_mnist", "the shared MNIST copy (../shared/datasets/mnist) is absent");
        return;
    }
    pp_dataset train, test;
    CK_LOAD_OK(PP_DATASET_MNIST, dir, 0, &train, &test);
    static const size_t train_counts[10] = {5923, 6742, 5958, 6131, 5842,
                                            5421, 5918, 6265, 5851, 5949};
    static const size_t test_counts[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    check_real(&train, 60000, 1, 28, 0xf3639b56u, 0xba07e8efu, train_counts);
    check_real(&test, 10000, 1, 28, 0xe4ca5f57u, 0xee8604d9u, test_counts);
    ck_assert_uint_eq(train.labels[0], 5);
    ck_assert_uint_eq(test.labels[0], 7);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
}
END_TEST

START_TEST(test_real_cifar10) {
    const char *dir = ts_shared_dataset_dir("cifar-10-batches-bin");
    if (!dir) {
        ts_skip("test_real_cifar10",
                "the shared CIFAR-10 copy (../shared/datasets/cifar-10-batches-bin) is absent");
        return;
    }
    pp_dataset train, test;
    CK_LOAD_OK(PP_DATASET_CIFAR10, dir, 0, &train, &test);
    static const size_t train_counts[10] = {5000, 5000, 5000, 5000, 5000,
                                            5000, 5000, 5000, 5000, 5000};
    static const size_t test_counts[10] = {1000, 1000, 1000, 1000, 1000,
                                           1000, 1000, 1000, 1000, 1000};
    check_real(&train, 50000, 3, 32, 0xe26e264du, 0x4ee6ac62u, train_counts);
    check_real(&test, 10000, 3, 32, 0x6e8778c0u, 0xbada58c9u, test_counts);
    ck_assert_uint_eq(train.labels[0], 6); /* frog */
    ck_assert_uint_eq(test.labels[0], 3);  /* cat */
    pp_dataset_free(&train);
    pp_dataset_free(&test);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("datasets");
    TCase *round = tcase_create("round_trip");
    tcase_add_checked_fixture(round, setup, teardown);
    tcase_add_test(round, test_idx_raw_round_trip);
    tcase_add_test(round, test_idx_gzip_round_trip);
    tcase_add_test(round, test_idx_raw_preferred_and_mixed);
    tcase_add_test(round, test_idx_gz_name_raw_content);
    tcase_add_test(round, test_idx_subdirectory);
    tcase_add_test(round, test_cifar10_raw_round_trip);
    tcase_add_test(round, test_cifar10_gzip_in_batches_dir);
    tcase_add_test(round, test_cifar100_fine_raw);
    tcase_add_test(round, test_cifar100_coarse_gzip_in_binary_dir);
    suite_add_tcase(s, round);

    TCase *where = tcase_create("resolution");
    tcase_add_checked_fixture(where, setup, teardown);
    tcase_add_test(where, test_default_dirs);
    tcase_add_test(where, test_env_dir);
    tcase_add_test(where, test_not_found_messages);
    tcase_add_test(where, test_missing_one_file);
    tcase_add_test(where, test_bad_arguments);
    suite_add_tcase(s, where);

    TCase *bad = tcase_create("malformed");
    tcase_add_checked_fixture(bad, setup, teardown);
    tcase_add_test(bad, test_idx_bad_magic);
    tcase_add_test(bad, test_idx_bad_label_magic);
    tcase_add_test(bad, test_idx_wrong_dimensions);
    tcase_add_test(bad, test_idx_count_mismatch);
    tcase_add_test(bad, test_idx_truncated_payload);
    tcase_add_test(bad, test_idx_trailing_garbage);
    tcase_add_test(bad, test_idx_label_out_of_range);
    tcase_add_test(bad, test_idx_short_headers);
    tcase_add_test(bad, test_idx_zero_items);
    tcase_add_test(bad, test_empty_files);
    tcase_add_test(bad, test_directory_instead_of_file);
    tcase_add_test(bad, test_unreadable_file);
    tcase_add_test(bad, test_gzip_bad_checksum);
    tcase_add_test(bad, test_gzip_corrupt_stream);
    tcase_add_test(bad, test_gzip_truncated);
    tcase_add_test(bad, test_cifar_size_not_multiple);
    tcase_add_test(bad, test_cifar_empty);
    tcase_add_test(bad, test_cifar10_label_out_of_range);
    tcase_add_test(bad, test_cifar100_labels_out_of_range);
    tcase_add_test(bad, test_cifar_gzip_truncated);
    suite_add_tcase(s, bad);

    TCase *parse = tcase_create("parsers");
    tcase_add_checked_fixture(parse, setup, teardown);
    tcase_add_test(parse, test_idx_parse_overflow);
    tcase_add_test(parse, test_parse_every_prefix);
    tcase_add_test(parse, test_parse_mutations);
    tcase_add_test(parse, test_gz_reader_limits);
    suite_add_tcase(s, parse);

    TCase *real = tcase_create("real");
    tcase_set_timeout(real, 120);
    tcase_add_test(real, test_real_fashion_mnist);
    tcase_add_test(real, test_real_mnist);
    tcase_add_test(real, test_real_cifar10);
    suite_add_tcase(s, real);
    return s;
}

int main(void) {
    return ts_run_suite(suite());
}
