/* Plain-C reference for GEMM (host/ops/gemm.c, dense.c). */
#ifndef PEPITA_REF_GEMM_H
#define PEPITA_REF_GEMM_H

#include <stddef.h>

#include "reference.h"

/* Row-major C = alpha op(A) op(B) + beta C, accumulated in double. beta == 0
 * does not read C (BLAS semantics). */
void ref_gemm(op_trans ta, op_trans tb, size_t m, size_t n, size_t k, float alpha, const float *a,
              size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* One GEMM case on the device against ref_gemm: a_off/b_off/c_off and the
 * leading dimensions may exceed their minimum (pad > 0 adds that many
 * columns to each). The whole C buffer is compared, so writes outside the
 * m x n window are caught. Appends one result named op. */
typedef struct ref_gemm_case {
    op_trans ta, tb;
    size_t m, n, k;
    float alpha, beta;
    size_t offset; /* element offset of each operand */
    size_t pad;    /* extra columns in each leading dimension */
} ref_gemm_case;
pp_status ref_check_gemm_case(rt_context *ctx, op_gemm_path path, const ref_gemm_case *c,
                              ref_check_list *list);

#endif
