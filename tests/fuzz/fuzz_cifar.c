/* libFuzzer target: the CIFAR batch parser and unpacker (host/data/cifar.c).
 * Input: one mode byte (bit 0: CIFAR-100, bit 1: coarse labels), then the
 * file. An accepted file is unpacked into exact-size arrays and every label
 * checked against the class count the loader will use. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/cifar.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    cifar_variant variant = data[0] & 1 ? CIFAR_100 : CIFAR_10;
    int coarse = (data[0] >> 1) & 1;
    data++, size--;
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    size_t count = 0;
    if (cifar_parse(copy, size, "fuzz.bin", variant, &count) == PP_OK) {
        CHECK(count > 0 && count * cifar_record_bytes(variant) == size);
        uint8_t *pixels = malloc(count * CIFAR_PIXELS);
        uint8_t *labels = malloc(count);
        if (pixels && labels) {
            cifar_unpack(copy, count, variant, coarse, pixels, labels);
            int classes = cifar_classes(variant, coarse);
            for (size_t i = 0; i < count; i++)
                CHECK(labels[i] < classes);
        }
        free(pixels);
        free(labels);
    }
    free(copy);
    return 0;
}
