/* libFuzzer target: the user's own data (host/data/npy.c, npz.c,
 * npz_dataset.c). Input: one mode byte, then the file.
 *   bit 0 clear: a .npy file for the header parser; every accepted array's
 *                payload is read in full and its shape checked against it
 *   bit 0 set:   an .npz archive for the whole loader (libzip, the four
 *                arrays, labels, shapes); an accepted dataset's invariants
 *                are checked and every value read
 * The parsers get an exact-size heap copy, so ASan sees any overread. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/npy.h"
#include "data/npz_dataset.h"
#include "fuzz_check.h"

static volatile unsigned sink;

static void parse_npy(const uint8_t *data, size_t size) {
    npy_array a;
    if (npy_parse(data, size, "fuzz.npy", &a) != PP_OK) return;
    size_t count = 1;
    for (int i = 0; i < a.ndim; i++)
        count *= a.shape[i];
    CHECK(a.ndim >= 0 && a.ndim <= NPY_MAX_DIMS && count == a.count);
    CHECK(a.data >= data && (size_t)(a.data - data) + a.count * a.element_size == size);
    unsigned sum = 0;
    for (size_t i = 0; i < a.count * a.element_size; i++)
        sum += a.data[i];
    if (npy_dtype_is_integer(a.dtype) && a.count) sum += (unsigned)npy_integer_at(&a, a.count - 1);
    sink = sum;
}

static void check_split(const pp_dataset *d, int classes) {
    CHECK(d->n > 0 && d->channels > 0 && d->height > 0 && d->width > 0);
    CHECK(d->classes == classes && classes >= 2 && classes <= 256);
    CHECK((d->pixels == NULL) != (d->features == NULL));
    size_t values = d->n * (size_t)d->channels * (size_t)d->height * (size_t)d->width;
    unsigned sum = 0;
    for (size_t i = 0; i < values; i++)
        sum += d->pixels ? d->pixels[i] : (unsigned)(d->features[i] != 0.0f);
    for (size_t i = 0; i < d->n; i++)
        CHECK(d->labels[i] < classes);
    sink = sum;
}

static void parse_npz(const uint8_t *data, size_t size) {
    pp_dataset train, test;
    if (npz_dataset_parse(data, size, "fuzz.npz", &train, &test) != PP_OK) {
        CHECK(!train.pixels && !train.features && !train.labels && !test.labels);
        return;
    }
    check_split(&train, train.classes);
    check_split(&test, train.classes);
    CHECK(train.channels == test.channels && train.height == test.height &&
          train.width == test.width && !train.features == !test.features);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned mode = data[0];
    data++, size--;
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (mode & 1)
        parse_npz(copy, size);
    else
        parse_npy(copy, size);
    free(copy);
    return 0;
}
