/* Element-wise vector operations and device-side uniform noise. */
#include "ops/op_util.h"

pp_status op_sub(rt_context *ctx, size_t n, const rt_buf *a, const rt_buf *b, rt_buf *out) {
    static const char op[] = "op_sub";
    PP_TRY(op_need_int(op, "n", n));
    PP_TRY(op_need_buf(op, "a", a, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "b", b, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "out", out, n, sizeof(float)));
    if (n == 0) return PP_OK;
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "elementwise", "sub", NULL, &k));
    return OP_LAUNCH_1D(ctx, k, n, RT_INT(n), RT_BUF(a), RT_BUF(b), RT_BUF(out));
}

pp_status op_axpby(rt_context *ctx, size_t n, float alpha, const rt_buf *x, float beta, rt_buf *y) {
    static const char op[] = "op_axpby";
    PP_TRY(op_need_int(op, "n", n));
    PP_TRY(op_need_buf(op, "x", x, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "y", y, n, sizeof(float)));
    if (n == 0) return PP_OK;
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "elementwise", "axpby", NULL, &k));
    return OP_LAUNCH_1D(ctx, k, n, RT_INT(n), RT_FLOAT(alpha), RT_BUF(x), RT_FLOAT(beta),
                        RT_BUF(y));
}

pp_status op_fill(rt_context *ctx, size_t n, float value, rt_buf *x) {
    static const char op[] = "op_fill";
    PP_TRY(op_need_int(op, "n", n));
    PP_TRY(op_need_buf(op, "x", x, n, sizeof(float)));
    if (n == 0) return PP_OK;
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "elementwise", "fill", NULL, &k));
    return OP_LAUNCH_1D(ctx, k, n, RT_INT(n), RT_FLOAT(value), RT_BUF(x));
}

pp_status op_uniform(rt_context *ctx, size_t n, float lo, float hi, uint64_t seed, uint32_t stream,
                     rt_buf *x) {
    static const char op[] = "op_uniform";
    PP_TRY(op_need_int(op, "n", n));
    PP_TRY(op_need_buf(op, "x", x, n, sizeof(float)));
    if (n == 0) return PP_OK;
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "elementwise", "uniform_noise", NULL, &k));
    return OP_LAUNCH_1D(ctx, k, n, RT_INT(n), RT_FLOAT(lo), RT_FLOAT(hi), RT_UINT(seed),
                        RT_UINT(seed >> 32), RT_UINT(stream), RT_BUF(x));
}

pp_status op_scale_rsqrt(rt_context *ctx, size_t n, const rt_buf *s, size_t s_off, rt_buf *x) {
    static const char op[] = "op_scale_rsqrt";
    PP_TRY(op_need_int(op, "n", n));
    PP_TRY(op_need_int(op, "s_off", s_off));
    PP_TRY(op_need_buf(op, "s", s, s_off + 1, sizeof(float)));
    PP_TRY(op_need_buf(op, "x", x, n, sizeof(float)));
    if (n == 0) return PP_OK;
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "elementwise", "scale_rsqrt", NULL, &k));
    return OP_LAUNCH_1D(ctx, k, n, RT_INT(n), RT_BUF(s), RT_INT(s_off), RT_BUF(x));
}

pp_status op_normalise_frobenius(rt_context *ctx, size_t n, rt_buf *x, rt_buf *norm_sq,
                                 size_t off) {
    PP_TRY(op_sum_squares(ctx, n, x, norm_sq, off));
    return op_scale_rsqrt(ctx, n, norm_sq, off, x);
}
