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
} gemm_call;

/* Both paths expect a validated call with m, n, k > 0. */
pp_status gemm_clblast(rt_context *ctx, const gemm_call *g);
pp_status gemm_native(rt_context *ctx, const gemm_call *g);

/* Whether gemm_native_sgd can run the call: its plan is a gemm_axpy that
 * stores C directly (not a transposed store, not gemm_dot or gemm_strip). */
int gemm_native_fuses_sgd(const rt_context *ctx, const gemm_call *g);
/* The native product with the SGD step as its epilogue: the product is the
 * update of w and v (beta must be 0, C laid out like w); g->c is not touched. */
pp_status gemm_native_sgd(rt_context *ctx, const gemm_call *g, const op_sgd *sgd, rt_buf *w,
                          rt_buf *v);

/* The dispatch's shape class of a call, e.g. "NT m64 n1024 k1024" (sizes
 * rounded up to a power of two): calls of one class share a path. */
void gemm_shape_class(const gemm_call *g, char *out, size_t size);

#endif
