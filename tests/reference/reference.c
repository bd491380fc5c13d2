#include "reference.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ref_compare(const float *a, const float *b, size_t n, double tolerance,
                 ref_check_result *result) {
    double max_abs = 0.0, max_rel = 0.0;
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) && isfinite(b[i])) finite = 0;
        double diff = fabs((double)a[i] - (double)b[i]);
        double rel = diff / (1.0 + fabs((double)b[i]));
        if (diff > max_abs) max_abs = diff;
        if (rel > max_rel) max_rel = rel;
    }
    result->max_abs_error = max_abs;
    result->max_rel_error = max_rel;
    result->tolerance = tolerance;
    result->pass = finite && max_rel <= tolerance && result->status == PP_OK;
}

ref_check_result *ref_check_list_add(ref_check_list *list, const char *op, const char *shape_fmt,
                                     ...) {
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? 2 * list->capacity : 32;
        ref_check_result *items = realloc(list->items, capacity * sizeof *items);
        if (!items) return NULL;
        list->items = items;
        list->capacity = capacity;
    }
    ref_check_result *r = &list->items[list->count++];
    memset(r, 0, sizeof *r);
    snprintf(r->op, sizeof r->op, "%s", op);
    va_list args;
    va_start(args, shape_fmt);
    vsnprintf(r->shape, sizeof r->shape, shape_fmt, args);
    va_end(args);
    r->status = PP_OK;
    return r;
}

void ref_check_list_free(ref_check_list *list) {
    free(list->items);
    memset(list, 0, sizeof *list);
}
