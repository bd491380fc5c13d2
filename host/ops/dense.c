/* Fully connected layers as GEMMs on row-major batches (no biases). */
#include "ops/ops.h"

pp_status op_dense_forward(rt_context *ctx, size_t batch, size_t in, size_t out, const rt_buf *x,
                           const rt_buf *w, rt_buf *y) {
    /* y = x W^T */
    return op_gemm(ctx, OP_NO_TRANS, OP_TRANS, batch, out, in, 1.0f, x, 0, in, w, 0, in, 0.0f, y, 0,
                   out);
}

pp_status op_dense_weight_update(rt_context *ctx, size_t batch, size_t in, size_t out, float alpha,
                                 const rt_buf *delta, const rt_buf *a, float beta, rt_buf *dw) {
    /* dW = alpha delta^T a + beta dW */
    return op_gemm(ctx, OP_TRANS, OP_NO_TRANS, out, in, batch, alpha, delta, 0, out, a, 0, in, beta,
                   dw, 0, in);
}

pp_status op_dense_weight_step(rt_context *ctx, size_t batch, size_t in, size_t out, float alpha,
                               const rt_buf *delta, const rt_buf *a, const op_sgd *sgd, rt_buf *w,
                               rt_buf *v, rt_buf *g) {
    int stepped = 0;
    PP_TRY(op_gemm_sgd_step(ctx, OP_TRANS, out, in, batch, alpha, delta, out, a, in, sgd, w, v,
                            &stepped));
    if (stepped) return PP_OK;
    PP_TRY(op_dense_weight_update(ctx, batch, in, out, alpha, delta, a, 0.0f, g));
    return op_sgd_momentum(ctx, in * out, sgd->lr, sgd->momentum, sgd->weight_decay, w, v, g);
}

pp_status op_dense_input_grad(rt_context *ctx, size_t batch, size_t in, size_t out,
                              const rt_buf *dy, const rt_buf *w, rt_buf *dx) {
    /* dx = dy W */
    return op_gemm(ctx, OP_NO_TRANS, OP_NO_TRANS, batch, in, out, 1.0f, dy, 0, out, w, 0, in, 0.0f,
                   dx, 0, in);
}
