/* SGD with momentum and L2 weight decay: v = mu v + lr (g + wd w); w -= v. */
#include "ops/op_util.h"

pp_status op_sgd_momentum(rt_context *ctx, size_t n, float lr, float mu, float wd, rt_buf *w,
                          rt_buf *v, const rt_buf *g) {
    static const char op[] = "op_sgd_momentum";
    PP_TRY(op_need_int(op, "n", n));
    PP_TRY(op_need_buf(op, "w", w, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "v", v, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "g", g, n, sizeof(float)));
    if (n == 0) return PP_OK;
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "optimizer", "sgd_momentum", NULL, &k));
    return OP_LAUNCH_1D(ctx, k, n, RT_INT(n), RT_FLOAT(lr), RT_FLOAT(mu), RT_FLOAT(wd), RT_BUF(w),
                        RT_BUF(v), RT_BUF(g));
}
