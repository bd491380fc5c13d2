/* The CIFAR binary batches, parsed from memory: fixed-size records of label
 * byte(s) followed by 3072 pixels (1024 R, 1024 G, 1024 B: CHW, 32x32).
 * CIFAR-10: 1 label byte. CIFAR-100: a coarse (20 classes) then a fine (100
 * classes) label byte. cifar_parse only reads the buffer, so a fuzz target can
 * call it on arbitrary bytes. */
#ifndef PEPITA_DATA_CIFAR_H
#define PEPITA_DATA_CIFAR_H

#include <stddef.h>
#include <stdint.h>

#include "pepita/pepita.h"

#define CIFAR_CHANNELS 3
#define CIFAR_SIDE 32
#define CIFAR_PIXELS (CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE)

typedef enum cifar_variant { CIFAR_10, CIFAR_100 } cifar_variant;

/* Bytes per record: 3073 (CIFAR-10) or 3074 (CIFAR-100). */
size_t cifar_record_bytes(cifar_variant variant);
/* Classes of the labels unpacked: 10, or for CIFAR-100 100 (fine) or 20 (coarse). */
int cifar_classes(cifar_variant variant, int coarse);

/* Validates a batch of size bytes: a non-zero whole number of records and
 * every label in range (both labels for CIFAR-100). Sets *count. name (the
 * file's path) starts every message. */
pp_status cifar_parse(const uint8_t *data, size_t size, const char *name, cifar_variant variant,
                      size_t *count);

/* Copies count records parsed by cifar_parse: pixels (count * CIFAR_PIXELS
 * bytes, as stored) and one label each (CIFAR-100: the coarse label when
 * coarse is non-zero, else the fine one). */
void cifar_unpack(const uint8_t *data, size_t count, cifar_variant variant, int coarse,
                  uint8_t *pixels, uint8_t *labels);

#endif
