/* Weight mirroring's operators (cl/mirror.cl). */
#include "ops/mirror_ops.h"
#include "ops/op_util.h"

pp_status op_normal(rt_context *ctx, size_t n, float std, uint64_t seed, uint32_t a, uint32_t b,
                    rt_buf *x) {
    static const char op[] = "op_normal";
    PP_TRY(op_need_int(op, "n", n));
    PP_TRY(op_need_buf(op, "x", x, n, sizeof(float)));
    if (n == 0) return PP_OK;
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "mirror", "normal_noise", NULL, &k));
    return OP_LAUNCH_1D(ctx, k, n, RT_INT(n), RT_FLOAT(std), RT_UINT(seed), RT_UINT(seed >> 32),
                        RT_UINT(a), RT_UINT(b), RT_BUF(x));
}

pp_status op_subtract_mean(rt_context *ctx, size_t n, rt_buf *x, rt_buf *stats, size_t at) {
    static const char op[] = "op_subtract_mean";
    PP_TRY(op_need_int(op, "n", n));
    PP_TRY(op_need_int(op, "at", at));
    PP_TRY(op_need_buf(op, "x", x, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "stats", stats, at + 1, sizeof(float)));
    if (n == 0) return PP_OK;
    PP_TRY(op_sum(ctx, n, x, stats, at));
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "mirror", "subtract_mean", NULL, &k));
    return OP_LAUNCH_1D(ctx, k, n, RT_INT(n), RT_BUF(x), RT_BUF(stats), RT_INT(at));
}

pp_status op_std_scale_factor(rt_context *ctx, size_t n, const rt_buf *x, float target, float power,
                              rt_buf *stats, size_t at) {
    static const char op[] = "op_std_scale_factor";
    PP_TRY(op_need_int(op, "n", n));
    PP_TRY(op_need_int(op, "at", at + 2));
    PP_TRY(op_need_buf(op, "x", x, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "stats", stats, at + 3, sizeof(float)));
    PP_TRY(op_sum(ctx, n, x, stats, at));
    PP_TRY(op_sum_squares(ctx, n, x, stats, at + 1));
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "mirror", "std_scale_factor", NULL, &k));
    const size_t one = 1;
    return RT_LAUNCH(ctx, k, 1, &one, &one, RT_INT(n), RT_FLOAT(target), RT_FLOAT(power),
                     RT_BUF(stats), RT_INT(at));
}

pp_status op_scale_by(rt_context *ctx, size_t n, rt_buf *x, const rt_buf *scalars, size_t at) {
    static const char op[] = "op_scale_by";
    PP_TRY(op_need_int(op, "n", n));
    PP_TRY(op_need_int(op, "at", at));
    PP_TRY(op_need_buf(op, "x", x, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "scalars", scalars, at + 1, sizeof(float)));
    if (n == 0) return PP_OK;
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "mirror", "scale_by", NULL, &k));
    return OP_LAUNCH_1D(ctx, k, n, RT_INT(n), RT_BUF(x), RT_BUF(scalars), RT_INT(at));
}
