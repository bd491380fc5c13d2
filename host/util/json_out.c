#include "util/json_out.h"

#include "runtime/error.h"
#include "util/atomic_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jb_put(json_builder *b, json_t *object, const char *key, json_t *value) {
    if (json_object_set_new(object, key, value) != 0) b->failed = 1;
}

void jb_append(json_builder *b, json_t *array, json_t *value) {
    if (json_array_append_new(array, value) != 0) b->failed = 1;
}

json_t *jb_real(double v, int digits) {
    if (!isfinite(v)) return json_null();
    char text[40];
    snprintf(text, sizeof text, "%.*g", digits, v);
    return json_real(strtod(text, NULL));
}

json_t *jb_text(const char *text) {
    json_t *v = json_string(text);
    if (v) return v;
    char ascii[256];
    snprintf(ascii, sizeof ascii, "%s", text);
    for (char *c = ascii; *c; c++)
        if ((unsigned char)*c > 0x7f) *c = '?';
    return json_string(ascii);
}

json_t *jb_int_array(const int *values, int n) {
    json_t *a = json_array();
    json_builder b = {0};
    for (int i = 0; a && i < n; i++)
        jb_append(&b, a, json_integer(values[i]));
    if (b.failed) {
        json_decref(a);
        return NULL;
    }
    return a;
}

json_t *jb_seed(uint64_t seed) {
    if (seed <= (uint64_t)INT64_MAX) return json_integer((json_int_t)seed);
    char digits[24];
    snprintf(digits, sizeof digits, "%llu", (unsigned long long)seed);
    return json_string(digits);
}

pp_status jb_write_file(const char *path, const json_t *root, int digits) {
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(digits));
    if (!text) return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    size_t size = strlen(text);
    char *whole = realloc(text, size + 2); /* a final newline, as text files have */
    if (!whole) {
        free(text);
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    }
    whole[size] = '\n';
    whole[size + 1] = '\0';
    pp_status st = pp_write_file_atomic(path, whole, size + 1);
    free(whole);
    return st;
}
