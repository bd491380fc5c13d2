/* Max pooling 2x2, stride 2 (cl/pool.cl). The argmax is the flat index
 * within the input plane, so the backward pass needs no window geometry. */
#include "ops/op_util.h"

static pp_status pool_check(const char *op, size_t planes, int h, int w, size_t *in, size_t *out) {
    if (h < 0 || w < 0) return pp_fail(PP_ERR_ARGUMENT, "%s: negative size %dx%d", op, h, w);
    const size_t plane = (size_t)h * (size_t)w;
    if (plane > (size_t)INT_MAX || (plane && planes > (size_t)INT_MAX / plane))
        return pp_fail(PP_ERR_ARGUMENT, "%s: %zu planes of %dx%d exceed INT_MAX elements", op,
                       planes, h, w);
    *in = planes * plane;
    *out = planes * (size_t)(h / 2) * (size_t)(w / 2);
    return PP_OK;
}

/* (1, 8, 1): 8 rows per work-group, valid on any device; kernels bounds-check. */
static const size_t *pool_local(const rt_kernel *k, size_t local[3]) {
    local[0] = 1;
    local[1] = k->max_work_group_size < 8 ? k->max_work_group_size : 8;
    local[2] = 1;
    return local;
}

pp_status op_maxpool2_forward(rt_context *ctx, size_t planes, int h, int w, const rt_buf *x,
                              rt_buf *y, rt_buf *argmax) {
    static const char op[] = "op_maxpool2_forward";
    size_t n_in = 0, n_out = 0;
    PP_TRY(pool_check(op, planes, h, w, &n_in, &n_out));
    PP_TRY(op_need_buf(op, "x", x, n_in, sizeof(float)));
    PP_TRY(op_need_buf(op, "y", y, n_out, sizeof(float)));
    PP_TRY(op_need_buf(op, "argmax", argmax, n_out, sizeof(int32_t)));
    if (n_out == 0) return PP_OK;
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "pool", "maxpool2_forward", NULL, &k));
    size_t local[3];
    const size_t global[3] = {(size_t)(w / 2), (size_t)(h / 2), planes};
    return RT_LAUNCH(ctx, k, 3, global, pool_local(k, local), RT_BUF(x), RT_BUF(y), RT_BUF(argmax),
                     RT_INT(planes), RT_INT(h), RT_INT(w));
}

pp_status op_maxpool2_backward(rt_context *ctx, size_t planes, int h, int w, const rt_buf *dy,
                               const rt_buf *argmax, rt_buf *dx) {
    static const char op[] = "op_maxpool2_backward";
    size_t n_in = 0, n_out = 0;
    PP_TRY(pool_check(op, planes, h, w, &n_in, &n_out));
    PP_TRY(op_need_buf(op, "dy", dy, n_out, sizeof(float)));
    PP_TRY(op_need_buf(op, "argmax", argmax, n_out, sizeof(int32_t)));
    PP_TRY(op_need_buf(op, "dx", dx, n_in, sizeof(float)));
    if (n_in == 0) return PP_OK;
    if (n_out == 0) return rt_buf_zero(ctx, dx, 0, n_in * sizeof(float)); /* no window */
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "pool", "maxpool2_backward", NULL, &k));
    size_t local[3];
    const size_t global[3] = {(size_t)(w / 2), (size_t)(h / 2), planes};
    return RT_LAUNCH(ctx, k, 3, global, pool_local(k, local), RT_BUF(dy), RT_BUF(argmax),
                     RT_BUF(dx), RT_INT(planes), RT_INT(h), RT_INT(w));
}
