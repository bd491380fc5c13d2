/* Plain-C references for every operator, and the operator checks that both
 * the check suites and `pepita selftest` run: each check runs one operator on
 * the device at one shape, runs its reference on the host, and compares. */
#ifndef PEPITA_REFERENCE_H
#define PEPITA_REFERENCE_H

#include <stddef.h>

#include "ops/ops.h"

typedef struct ref_check_result {
    char op[48];
    char shape[80];
    double max_abs_error;
    double max_rel_error; /* max |a-b| / (1 + |b|) */
    double tolerance;     /* on max_rel_error */
    int pass;
    pp_status status; /* PP_OK unless the operator itself failed */
} ref_check_result;

/* Compares device output a with reference b, filling the error fields and pass. */
void ref_compare(const float *a, const float *b, size_t n, double tolerance,
                 ref_check_result *result);

/* A growable list of results. */
typedef struct ref_check_list {
    ref_check_result *items;
    size_t count, capacity;
} ref_check_list;
ref_check_result *ref_check_list_add(ref_check_list *list, const char *op, const char *shape_fmt,
                                     ...) __attribute__((format(printf, 3, 4)));
void ref_check_list_free(ref_check_list *list);

/* Each area runs its checks at its awkward and real training shapes and
 * appends one result per (operator, shape). quick != 0 keeps to the small
 * shapes (for a fast selftest). Returns PP_OK unless the harness itself failed
 * (a failed comparison is a result, not an error). */
pp_status ref_checks_gemm(rt_context *ctx, int quick, ref_check_list *list);
pp_status ref_checks_elementwise(rt_context *ctx, int quick, ref_check_list *list);
pp_status ref_checks_conv(rt_context *ctx, int quick, ref_check_list *list);
pp_status ref_checks_mirror(rt_context *ctx, int quick, ref_check_list *list);

#endif
