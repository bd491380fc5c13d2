/* Max pooling 2x2, stride 2 (cl/pool.cl). The argmax is the flat index
 * within the input plane, so the backward pass needs no window geometry. */
#include <stdio.h>

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

/* One work-group per plane where the device allows (work-items of 4 windows,
 * cl/pool.cl), else per row of windows, else single work-items. Measured on
 * the conv MNIST layer (3200 planes of 24x24, PoCL CPU): forward 0.50-0.53 ms,
 * backward 0.68-0.75 ms, against 1.1 ms each with single-work-item groups and
 * 1.18 / 2.15 ms for the former one-window work-items in (1, 8, 1) groups. */
static const size_t *pool_local(const rt_kernel *k, int h, int w, size_t local[3]) {
    size_t across = ((size_t)(w / 2) + 3) / 4, rows = (size_t)(h / 2);
    size_t max = k->max_work_group_size;
    local[0] = 1;
    local[1] = 1;
    local[2] = 1;
    if (across * rows <= max) {
        local[0] = across;
        local[1] = rows;
    } else if (across <= max) {
        local[0] = across;
    }
    return local;
}

/* The profile's shape: 4 windows per work-item in plane groups, or one per
 * work-item over a flat range (cl/pool.cl); global and local sizes in out. */
typedef struct pool_launch {
    rt_kernel *k;
    cl_uint dims;
    size_t global[3], local[3];
} pool_launch;

static pp_status pool_plan(rt_context *ctx, const char *name, size_t planes, int h, int w,
                           pool_launch *l) {
    char flat[48];
    const int per_window = ctx->device_profile.pool_windows_per_item == 1;
    snprintf(flat, sizeof flat, "%s_flat", name);
    PP_TRY(rt_kernel_get(ctx, "pool", per_window ? flat : name, NULL, &l->k));
    if (per_window) {
        l->dims = 1;
        l->global[0] = planes * (size_t)(h / 2) * (size_t)(w / 2);
        l->local[0] = op_pow2_local(l->k, ctx->device_profile.elementwise_local);
        return PP_OK;
    }
    l->dims = 3;
    l->global[0] = ((size_t)(w / 2) + 3) / 4;
    l->global[1] = (size_t)(h / 2);
    l->global[2] = planes;
    pool_local(l->k, h, w, l->local);
    return PP_OK;
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
    pool_launch l;
    PP_TRY(pool_plan(ctx, "maxpool2_forward", planes, h, w, &l));
    return RT_LAUNCH(ctx, l.k, l.dims, l.global, l.local, RT_BUF(x), RT_BUF(y), RT_BUF(argmax),
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
    pool_launch l;
    PP_TRY(pool_plan(ctx, "maxpool2_backward", planes, h, w, &l));
    return RT_LAUNCH(ctx, l.k, l.dims, l.global, l.local, RT_BUF(dy), RT_BUF(argmax), RT_BUF(dx),
                     RT_INT(planes), RT_INT(h), RT_INT(w));
}
