/* Private to the GEMM operator: one validated call, and the two paths that
 * can run it (CLBlast, and the hand-written kernels of cl/gemm.cl). */
#ifndef PEPITA_OPS_GEMM_INTERNAL_H
#define PEPITA_OPS_GEMM_INTERNAL_H

#include "ops/ops.h"

/* The arguments of one op_gemm call, checked by gemm_validate. */
typedef struct gemm_call {
    op_trans ta, tb;
    size_t m, n, k;
    float alpha, beta;
    const rt_buf *a, *b;
    rt_buf *c;
    size_t a_off, lda, b_off, ldb, c_off, ldc;
    /* With sgd, the native path's SGD_STEP epilogue: C is a weight matrix,
     * v its momentum (C's layout), and the product their step's gradient. */
    const op_sgd *sgd;
    rt_buf *v;
} gemm_call;

/* Both paths expect a validated call with m, n, k > 0. */
pp_status gemm_clblast(rt_context *ctx, const gemm_call *g);
pp_status gemm_native(rt_context *ctx, const gemm_call *g);
/* Whether the native path can take g's SGD step in its store (gemm_axpy
 * storing C untransposed: B not transposed). */
int gemm_native_can_step(const gemm_call *g);

/* The dispatch's shape class of a call, e.g. "NT m64 n1024 k1024" (sizes
 * rounded up to a power of two): calls of one class share a path. */
void gemm_shape_class(const gemm_call *g, char *out, size_t size);

#endif
