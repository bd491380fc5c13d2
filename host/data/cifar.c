#include "data/cifar.h"

#include <string.h>

#include "runtime/error.h"

#define CIFAR100_COARSE_CLASSES 20
#define CIFAR100_FINE_CLASSES 100

static size_t label_bytes(cifar_variant variant) {
    return variant == CIFAR_100 ? 2 : 1;
}

size_t cifar_record_bytes(cifar_variant variant) {
    return label_bytes(variant) + CIFAR_PIXELS;
}

int cifar_classes(cifar_variant variant, int coarse) {
    if (variant == CIFAR_10) return 10;
    return coarse ? CIFAR100_COARSE_CLASSES : CIFAR100_FINE_CLASSES;
}

static const char *variant_name(cifar_variant variant) {
    return variant == CIFAR_100 ? "CIFAR-100" : "CIFAR-10";
}

pp_status cifar_parse(const uint8_t *data, size_t size, const char *name, cifar_variant variant,
                      size_t *count) {
    if (variant != CIFAR_10 && variant != CIFAR_100)
        return pp_fail(PP_ERR_ARGUMENT, "%s: unknown CIFAR variant %d", name, (int)variant);
    size_t record = cifar_record_bytes(variant);
    if (size == 0) return pp_fail(PP_ERR_FORMAT, "%s: empty file (no records)", name);
    if (size % record != 0)
        return pp_fail(PP_ERR_FORMAT,
                       "%s: %zu bytes is not a whole number of %zu-byte %s records (%zu records "
                       "and %zu bytes left over)",
                       name, size, record, variant_name(variant), size / record, size % record);
    size_t records = size / record;
    for (size_t i = 0; i < records; i++) {
        const uint8_t *r = data + i * record;
        if (variant == CIFAR_10) {
            if (r[0] >= 10)
                return pp_fail(PP_ERR_FORMAT,
                               "%s: label %u at record %zu is out of range (10 classes)", name,
                               r[0], i);
        } else {
            if (r[0] >= CIFAR100_COARSE_CLASSES)
                return pp_fail(PP_ERR_FORMAT,
                               "%s: coarse label %u at record %zu is out of range (%d classes)",
                               name, r[0], i, CIFAR100_COARSE_CLASSES);
            if (r[1] >= CIFAR100_FINE_CLASSES)
                return pp_fail(PP_ERR_FORMAT,
                               "%s: fine label %u at record %zu is out of range (%d classes)", name,
                               r[1], i, CIFAR100_FINE_CLASSES);
        }
    }
    *count = records;
    return PP_OK;
}

void cifar_unpack(const uint8_t *data, size_t count, cifar_variant variant, int coarse,
                  uint8_t *pixels, uint8_t *labels) {
    size_t record = cifar_record_bytes(variant);
    size_t skip = label_bytes(variant);
    /* CIFAR-100 stores coarse first, fine second. */
    size_t which = variant == CIFAR_100 && !coarse ? 1 : 0;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *r = data + i * record;
        labels[i] = r[which];
        memcpy(pixels + i * CIFAR_PIXELS, r + skip, CIFAR_PIXELS);
    }
}
