/* libFuzzer target: the IDX parsers (host/data/idx.c), directly on the bytes
 * or after gz_read_file (host/data/gz_reader.c) when the mode byte asks.
 * Input: one mode byte, then the file.
 *   bits 0-1: 0 images 28x28, 1 images of any size, 2 labels of 10 classes,
 *             3 labels of (next byte + 1) classes
 *   bit 7:    the file goes through gz_read_file first (raw or gzip)
 * Every accepted file's payload is read in full and its invariants checked,
 * so ASan sees any pointer the parser gets wrong. */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "data/gz_reader.h"
#include "data/idx.h"
#include "fuzz_check.h"

static volatile unsigned sink;

static void parse(const uint8_t *data, size_t size, unsigned mode, int classes) {
    if ((mode & 3) < 2) {
        uint32_t want = (mode & 3) == 0 ? 28 : 0;
        idx_images images;
        if (idx_parse_images(data, size, "fuzz-images", want, want, &images) != PP_OK) return;
        size_t bytes = images.count * images.rows * images.cols;
        CHECK(images.count > 0 && images.rows > 0 && images.cols > 0);
        CHECK(want == 0 || (images.rows == 28 && images.cols == 28));
        CHECK(images.pixels == data + IDX_IMAGES_HEADER && bytes == size - IDX_IMAGES_HEADER);
        unsigned sum = 0;
        for (size_t i = 0; i < bytes; i++)
            sum += images.pixels[i];
        sink = sum;
    } else {
        idx_labels labels;
        if (idx_parse_labels(data, size, "fuzz-labels", classes, &labels) != PP_OK) return;
        CHECK(labels.count > 0 && labels.count == size - IDX_LABELS_HEADER);
        for (size_t i = 0; i < labels.count; i++)
            CHECK(labels.labels[i] < classes);
    }
}

/* Hands the bytes to gz_read_file through an in-memory file. */
static void parse_through_gz(const uint8_t *data, size_t size, unsigned mode, int classes) {
    int fd = memfd_create("fuzz-idx", 0);
    if (fd < 0) return;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) break;
        done += (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    uint8_t *file = NULL;
    size_t file_size = 0;
    /* a small cap keeps gzip bombs quick */
    if (done == size && gz_read_file(path, (size_t)1 << 22, &file, &file_size) == PP_OK) {
        CHECK(file && file_size > 0 && file_size <= (size_t)1 << 22);
        parse(file, file_size, mode, classes);
        free(file);
    } else {
        CHECK(file == NULL && file_size == 0);
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned mode = data[0];
    data++, size--;
    int classes = 10;
    if ((mode & 3) == 3) {
        if (size < 1) return 0;
        classes = data[0] + 1;
        data++, size--;
    }
    /* an exact-size heap copy, so reading one byte too far is caught */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (mode & 0x80)
        parse_through_gz(copy, size, mode, classes);
    else
        parse(copy, size, mode, classes);
    free(copy);
    return 0;
}
