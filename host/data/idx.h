/* MNIST's IDX format, parsed from memory: a big-endian header (magic
 * 0x000008NN for NN dimensions of unsigned bytes, then NN 32-bit sizes)
 * followed by the data. The parsers only read the buffer and allocate
 * nothing, so a fuzz target can call them on arbitrary bytes. */
#ifndef PEPITA_DATA_IDX_H
#define PEPITA_DATA_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "pepita/pepita.h"

#define IDX_IMAGES_MAGIC 0x00000803u /* unsigned bytes, 3 dimensions */
#define IDX_LABELS_MAGIC 0x00000801u /* unsigned bytes, 1 dimension */
#define IDX_IMAGES_HEADER 16u
#define IDX_LABELS_HEADER 8u

typedef struct idx_images {
    size_t count;
    uint32_t rows, cols;
    const uint8_t *pixels; /* count * rows * cols bytes, inside the parsed buffer */
} idx_images;

typedef struct idx_labels {
    size_t count;
    const uint8_t *labels; /* count bytes, inside the parsed buffer */
} idx_labels;

/* Validates an IDX image file of size bytes: the magic, a non-zero item
 * count, rows x cols (when rows and cols are non-zero they must match) and a
 * size equal to what the header declares. name (the file's path) starts
 * every message. */
pp_status idx_parse_images(const uint8_t *data, size_t size, const char *name, uint32_t rows,
                           uint32_t cols, idx_images *images);

/* Validates an IDX label file: the magic, a non-zero count, the exact size
 * and every label < classes (1..256). */
pp_status idx_parse_labels(const uint8_t *data, size_t size, const char *name, int classes,
                           idx_labels *labels);

#endif
