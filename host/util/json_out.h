/* Writing JSON with jansson: a builder that remembers any failed allocation,
 * rounded numbers, text that may not be UTF-8, and the atomic file write. */
#ifndef PEPITA_UTIL_JSON_OUT_H
#define PEPITA_UTIL_JSON_OUT_H

#include "pepita/pepita.h"

#include <jansson.h>
#include <stdint.h>

/* A failed allocation anywhere makes the whole write fail: the set/append
 * calls take (and free) a NULL value and report it here. */
typedef struct json_builder {
    int failed;
} json_builder;

void jb_put(json_builder *b, json_t *object, const char *key, json_t *value);
void jb_append(json_builder *b, json_t *array, json_t *value);
/* v at `digits` significant digits; JSON has no NaN, so a non-finite v is null. */
json_t *jb_real(double v, int digits);
/* A string; jansson refuses text that is not UTF-8 (a device name from a
 * driver could be anything), which is then written with '?' for such bytes. */
json_t *jb_text(const char *text);
/* The n values as a JSON array, or NULL when out of memory. */
json_t *jb_int_array(const int *values, int n);
/* A seed: above jansson's integers (2^63 - 1) it is written as its digits in
 * a string (the run JSON reader takes both). */
json_t *jb_seed(uint64_t seed);
/* root (not freed) indented, reals at `digits` significant digits, with a
 * final newline, written to path atomically. */
pp_status jb_write_file(const char *path, const json_t *root, int digits);

#endif
