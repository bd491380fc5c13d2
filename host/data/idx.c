#include "data/idx.h"

#include <inttypes.h>

#include "runtime/error.h"

static uint32_t read_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* A hint for the common mix-ups: the other IDX kind, or a file that is still
 * compressed (a .gz inside a .gz). */
static const char *magic_hint(const uint8_t *data, uint32_t magic) {
    if (magic == IDX_LABELS_MAGIC) return " (this is an IDX label file)";
    if (magic == IDX_IMAGES_MAGIC) return " (this is an IDX image file)";
    if (data[0] == 0x1f && data[1] == 0x8b) return " (still gzip-compressed: compressed twice?)";
    return "";
}

/* Checks the magic for ndim dimensions and reads the dimension sizes. */
static pp_status parse_header(const uint8_t *data, size_t size, const char *name, unsigned ndim,
                              const char *what, uint32_t *dims) {
    size_t header = 4 + 4 * (size_t)ndim;
    if (size < 4)
        return pp_fail(PP_ERR_FORMAT, "%s: too short for an IDX file: %zu bytes, the header is %zu",
                       name, size, header);
    uint32_t expected = 0x800u | ndim;
    uint32_t magic = read_be32(data);
    if (magic != expected)
        return pp_fail(PP_ERR_FORMAT,
                       "%s: bad magic 0x%08" PRIx32 ", expected 0x%08" PRIx32 " (IDX %s)%s", name,
                       magic, expected, what, magic_hint(data, magic));
    if (size < header)
        return pp_fail(PP_ERR_FORMAT, "%s: truncated IDX header: %zu bytes, need %zu", name, size,
                       header);
    for (unsigned i = 0; i < ndim; i++)
        dims[i] = read_be32(data + 4 + 4 * i);
    if (dims[0] == 0) return pp_fail(PP_ERR_FORMAT, "%s: header says 0 items", name);
    return PP_OK;
}

/* The payload must be exactly count items of item_bytes: a shorter one is a
 * truncated file, a longer one trailing garbage. count * item_bytes may not
 * fit in size_t; then the file cannot hold it either. */
static pp_status check_payload(size_t payload, const char *name, uint32_t count,
                               uint64_t item_bytes, const char *what) {
    int overflow = item_bytes > SIZE_MAX || (size_t)count > SIZE_MAX / (size_t)item_bytes;
    if (overflow || payload < (size_t)count * (size_t)item_bytes)
        return pp_fail(PP_ERR_FORMAT,
                       "%s: truncated: header says %" PRIu32 " items of %" PRIu64
                       " bytes, file holds %zu bytes of %s",
                       name, count, item_bytes, payload, what);
    size_t need = (size_t)count * (size_t)item_bytes;
    if (payload > need)
        return pp_fail(PP_ERR_FORMAT,
                       "%s: %zu bytes of trailing data after the %" PRIu32 " items of %" PRIu64
                       " bytes the header declares",
                       name, payload - need, count, item_bytes);
    return PP_OK;
}

pp_status idx_parse_images(const uint8_t *data, size_t size, const char *name, uint32_t rows,
                           uint32_t cols, idx_images *images) {
    uint32_t dims[3] = {0, 0, 0};
    PP_TRY(parse_header(data, size, name, 3, "images", dims));
    if (dims[1] == 0 || dims[2] == 0)
        return pp_fail(PP_ERR_FORMAT, "%s: images are %" PRIu32 "x%" PRIu32 " pixels", name,
                       dims[1], dims[2]);
    if (rows && cols && (dims[1] != rows || dims[2] != cols))
        return pp_fail(PP_ERR_FORMAT,
                       "%s: images are %" PRIu32 "x%" PRIu32 ", expected %" PRIu32 "x%" PRIu32,
                       name, dims[1], dims[2], rows, cols);
    uint64_t item_bytes = (uint64_t)dims[1] * dims[2]; /* < 2^64: both factors < 2^32 */
    PP_TRY(check_payload(size - IDX_IMAGES_HEADER, name, dims[0], item_bytes, "pixels"));
    images->count = dims[0];
    images->rows = dims[1];
    images->cols = dims[2];
    images->pixels = data + IDX_IMAGES_HEADER;
    return PP_OK;
}

pp_status idx_parse_labels(const uint8_t *data, size_t size, const char *name, int classes,
                           idx_labels *labels) {
    if (classes < 1 || classes > 256)
        return pp_fail(PP_ERR_ARGUMENT, "%s: bad class count %d", name, classes);
    uint32_t count = 0;
    PP_TRY(parse_header(data, size, name, 1, "labels", &count));
    PP_TRY(check_payload(size - IDX_LABELS_HEADER, name, count, 1, "labels"));
    const uint8_t *values = data + IDX_LABELS_HEADER;
    for (size_t i = 0; i < count; i++)
        if (values[i] >= classes)
            return pp_fail(PP_ERR_FORMAT, "%s: label %u at item %zu is out of range (%d classes)",
                           name, values[i], i, classes);
    labels->count = count;
    labels->labels = values;
    return PP_OK;
}
