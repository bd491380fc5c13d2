/* Writes the fuzz targets' seed corpora: small valid files of every kind
 * each target accepts, a few near misses, and argument lists covering every
 * option. Usage: make_seeds DIR (creates DIR/{idx,cifar,checkpoint,options,npz}). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data/cifar.h"
#include "data/idx.h"
#include "data/npy.h"
#include "data/npz.h"
#include "fake_trainer.h"

static const char *root;

static void fail(const char *what) {
    fprintf(stderr, "make_seeds: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void make_dir(const char *sub) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, sub);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) fail(path);
}

/* Writes DIR/sub/name: the mode byte(s), then the content. */
static void seed(const char *sub, const char *name, const uint8_t *mode, size_t mode_size,
                 const uint8_t *data, size_t size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", root, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f) fail(path);
    if (fwrite(mode, 1, mode_size, f) != mode_size || fwrite(data, 1, size, f) != size) fail(path);
    if (fclose(f) != 0) fail(path);
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static size_t write_idx_images(uint8_t *out, uint32_t n, uint32_t rows, uint32_t cols) {
    put_be32(out, IDX_IMAGES_MAGIC);
    put_be32(out + 4, n);
    put_be32(out + 8, rows);
    put_be32(out + 12, cols);
    size_t bytes = (size_t)n * rows * cols;
    for (size_t i = 0; i < bytes; i++)
        out[16 + i] = (uint8_t)(i * 37);
    return 16 + bytes;
}

static size_t write_idx_labels(uint8_t *out, uint32_t n, int classes) {
    put_be32(out, IDX_LABELS_MAGIC);
    put_be32(out + 4, n);
    for (uint32_t i = 0; i < n; i++)
        out[8 + i] = (uint8_t)(i % (uint32_t)classes);
    return 8 + n;
}

/* gzip-compresses src into out (capacity cap); returns the size. */
static size_t gzip(const uint8_t *src, size_t size, uint8_t *out, size_t cap) {
    z_stream z = {0};
    if (deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) fail("deflateInit2");
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)size;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) fail("deflate");
    size_t n = z.total_out;
    deflateEnd(&z);
    return n;
}

static void idx_seeds(void) {
    static uint8_t buf[1 << 14], gz[1 << 14];
    uint8_t mode;
    size_t n = write_idx_images(buf, 2, 28, 28);
    mode = 0;
    seed("idx", "images-28x28", &mode, 1, buf, n);
    mode = 0x80;
    seed("idx", "images-28x28.gz", &mode, 1, gz, gzip(buf, n, gz, sizeof gz));
    seed("idx", "images-28x28-truncated.gz", &mode, 1, gz, gzip(buf, n, gz, sizeof gz) / 2);
    mode = 0;
    seed("idx", "images-28x28-truncated", &mode, 1, buf, n - 5);
    n = write_idx_images(buf, 3, 2, 3);
    mode = 1;
    seed("idx", "images-2x3", &mode, 1, buf, n);
    mode = 0x81;
    seed("idx", "images-2x3-raw-through-gz", &mode, 1, buf, n);
    n = write_idx_labels(buf, 12, 10);
    mode = 2;
    seed("idx", "labels", &mode, 1, buf, n);
    mode = 0x82;
    seed("idx", "labels.gz", &mode, 1, gz, gzip(buf, n, gz, sizeof gz));
    uint8_t modes[2] = {3, 4}; /* 5 classes */
    n = write_idx_labels(buf, 7, 5);
    seed("idx", "labels-5-classes", modes, 2, buf, n);
    buf[8 + 3] = 5; /* out of range */
    seed("idx", "labels-out-of-range", modes, 2, buf, n);
    mode = 2;
    seed("idx", "labels-as-images-magic", &mode, 1, buf, 4);
}

static void cifar_seeds(void) {
    static uint8_t buf[2 * 3074];
    for (int variant = 0; variant < 2; variant++) {
        size_t record = cifar_record_bytes(variant ? CIFAR_100 : CIFAR_10);
        for (size_t i = 0; i < 2 * record; i++)
            buf[i] = (uint8_t)(i * 13);
        for (int r = 0; r < 2; r++) {
            buf[r * record] = (uint8_t)(r + 3);
            if (variant) buf[r * record + 1] = (uint8_t)(r + 42);
        }
        uint8_t mode = (uint8_t)variant;
        seed("cifar", variant ? "cifar100-fine" : "cifar10", &mode, 1, buf, 2 * record);
        mode = (uint8_t)(variant | 2);
        seed("cifar", variant ? "cifar100-coarse" : "cifar10-coarse-flag", &mode, 1, buf, record);
        mode = (uint8_t)variant;
        seed("cifar", variant ? "cifar100-partial" : "cifar10-partial", &mode, 1, buf,
             record + 100);
    }
}

static uint8_t *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) fail(path);
    static uint8_t data[1 << 16];
    *size = fread(data, 1, sizeof data, f);
    fclose(f);
    return data;
}

static void checkpoint_seeds(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint/valid", root);
    fake_trainer f;
    if (fake_trainer_init(&f, 3) != 0 || pp_trainer_save(&f.trainer, path) != PP_OK) {
        fprintf(stderr, "make_seeds: %s\n", pp_last_error());
        exit(1);
    }
    size_t size;
    uint8_t *data = read_all(path, &size);
    uint8_t none = 0;
    /* another version (the fuzz target fixes the CRC up) */
    uint8_t version = data[8];
    data[8] = 3;
    seed("checkpoint", "version-3", &none, 0, data, size);
    data[8] = version;
    seed("checkpoint", "truncated", &none, 0, data, size / 2);
    data[size / 2] ^= 0x40;
    seed("checkpoint", "bad-crc", &none, 0, data, size);
}

/* One argument list: the mode byte, then NUL-separated arguments. */
static void options(const char *name, int eval, const char *const *args) {
    static uint8_t buf[4096];
    size_t n = 0;
    for (int i = 0; args[i]; i++) {
        size_t len = strlen(args[i]);
        if (i) buf[n++] = 0;
        memcpy(buf + n, args[i], len);
        n += len;
    }
    uint8_t mode = (uint8_t)eval;
    seed("options", name, &mode, 1, buf, n);
}

static void options_seeds(void) {
    options("defaults", 0, (const char *const[]){"--quiet", NULL});
    options("mnist-small", 0,
            (const char *const[]){"--dataset", "mnist", "--data", "d", "--epochs", "2", "--hidden",
                                  "16", "--batch", "50", NULL});
    options("cifar-conv", 0,
            (const char *const[]){"--dataset", "cifar100", "--coarse", "--model", "conv", "--rule",
                                  "bp", "--lr", "0.01", "--momentum", "0.5", NULL});
    options("everything", 0,
            (const char *const[]){"--dataset",
                                  "fashion-mnist",
                                  "--hidden",
                                  "1024,512,none",
                                  "--decay-epochs",
                                  "10,20",
                                  "--decay-factor",
                                  "0.5",
                                  "--weight-decay",
                                  "1e-4",
                                  "--dropout",
                                  "0.2",
                                  "--f-scale",
                                  "0.05",
                                  "--seed",
                                  "18446744073709551615",
                                  "--output-error",
                                  "modulated",
                                  "--presynaptic",
                                  "standard",
                                  "--modulation",
                                  "random:0.5",
                                  "--naive-modulated-pass",
                                  "--analysis",
                                  "--device",
                                  "cpu",
                                  "--log",
                                  "l.csv",
                                  "--json",
                                  "j.json",
                                  "--save",
                                  "s.ckpt",
                                  NULL});
    options("resume", 0,
            (const char *const[]){"--resume", "c", "--epochs", "5", "--modulation", "zero", NULL});
    options("resume-missing", 0, (const char *const[]){"--resume", "n", NULL});
    options("help", 0, (const char *const[]){"--rule", "drtp", "--help", NULL});
    options("eval", 1, (const char *const[]){"--checkpoint", "c", "--device", "0:0", NULL});
    options("eval-bad", 1, (const char *const[]){"--checkpoint", "c", "--save", "x", NULL});
    options("bad-values", 0,
            (const char *const[]){"--epochs", "-1", "--batch", "0", "--rule", "sgd", NULL});
    options("no-value", 0, (const char *const[]){"--epochs", NULL});
}

/* An .npy file of n elements of size bytes (values i * 7), into out. */
static size_t npy_bytes(uint8_t *out, const char *descr, int ndim, const size_t *shape,
                        size_t elem) {
    char header[NPY_HEADER_MAX];
    size_t h = npy_write_header(header, descr, ndim, shape);
    if (!h) fail("npy header");
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    memcpy(out, header, h);
    memset(out + h, 0, n * elem);
    for (size_t i = 0; i < n; i++)
        out[h + i * elem] = (uint8_t)(i * 7 % 3); /* small values: valid labels too */
    return h + n * elem;
}

/* An .npz of the four arrays: samples of descr/elem and shape (n first), int64 labels. */
static void npz_seed(const char *name, const char *descr, size_t elem, int ndim,
                     const size_t *shape) {
    static uint8_t files[4][8192];
    size_t sizes[4], label_shape[1] = {shape[0]};
    sizes[0] = npy_bytes(files[0], descr, ndim, shape, elem);
    sizes[1] = npy_bytes(files[1], "<i8", 1, label_shape, 8);
    sizes[2] = npy_bytes(files[2], descr, ndim, shape, elem);
    sizes[3] = npy_bytes(files[3], "<i8", 1, label_shape, 8);
    static const char *const names[4] = {"x_train", "y_train", "x_test", "y_test"};
    npz_writer *w;
    if (npz_writer_create(&w) != PP_OK) fail("npz writer");
    for (int i = 0; i < 4; i++)
        if (npz_writer_add(w, names[i], files[i], sizes[i], NULL, 0) != PP_OK) fail("npz add");
    uint8_t *data;
    size_t size;
    if (npz_writer_finish(w, &data, &size) != PP_OK) fail("npz finish");
    npz_writer_destroy(w);
    const uint8_t mode = 1;
    seed("npz", name, &mode, 1, data, size);
    free(data);
}

static void npz_seeds(void) {
    static uint8_t buf[8192];
    const uint8_t npy_mode = 0;
    size_t images[3] = {4, 5, 5}, features[2] = {3, 7}, chw[4] = {2, 3, 4, 4}, labels[1] = {9};
    seed("npz", "npy-u1-3d", &npy_mode, 1, buf, npy_bytes(buf, "|u1", 3, images, 1));
    seed("npz", "npy-f4-2d", &npy_mode, 1, buf, npy_bytes(buf, "<f4", 2, features, 4));
    seed("npz", "npy-i8-1d", &npy_mode, 1, buf, npy_bytes(buf, "<i8", 1, labels, 8));
    seed("npz", "npy-f4-0d", &npy_mode, 1, buf, npy_bytes(buf, "<f4", 0, NULL, 4));
    size_t n = npy_bytes(buf, "<u2", 4, chw, 2);
    buf[6] = 2; /* version 2.0: a 4-byte header length */
    memmove(buf + 12, buf + 10, n - 10);
    buf[10] = buf[11] = 0;
    seed("npz", "npy-v2-u2-4d", &npy_mode, 1, buf, n + 2);
    npz_seed("npz-u1-images", "|u1", 1, 3, images);
    npz_seed("npz-f4-features", "<f4", 4, 2, features);
    npz_seed("npz-u1-chw", "|u1", 1, 4, chw);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0755) != 0 && errno != EEXIST) fail(root);
    make_dir("idx");
    make_dir("cifar");
    make_dir("checkpoint");
    make_dir("options");
    make_dir("npz");
    idx_seeds();
    cifar_seeds();
    checkpoint_seeds();
    options_seeds();
    npz_seeds();
    return 0;
}
