/* Direct convolution operators (cl/conv.cl): forward, weight gradient (BP and
 * the PEPITA filter update) and input gradient, NCHW, no bias. Kernels are
 * built per kernel size and tiling (-D defines), so tap loops unroll and the
 * accumulators stay in registers. */
#include <stdio.h>

#include "ops/op_util.h"

int op_conv_out_h(const op_conv_shape *s) {
    return (s->in_h + 2 * s->pad - s->kernel) / s->stride + 1;
}

int op_conv_out_w(const op_conv_shape *s) {
    return (s->in_w + 2 * s->pad - s->kernel) / s->stride + 1;
}

/* Unrolled kernels keep kernel^2 accumulators per work-item: beyond this the
 * code grows without bound and the registers spill anyway. */
#define CONV_MAX_KERNEL 11

/* a * b * c * d elements, failing past INT_MAX (kernels index with int). */
static pp_status conv_count(const char *op, const char *what, int a, int b, int c, int d,
                            size_t *out) {
    size_t n = 1;
    const int f[4] = {a, b, c, d};
    for (int i = 0; i < 4; i++) {
        if ((size_t)f[i] > (size_t)INT_MAX / n)
            return pp_fail(PP_ERR_ARGUMENT, "%s: %s has more than INT_MAX elements", op, what);
        n *= (size_t)f[i];
    }
    *out = n;
    return PP_OK;
}

typedef struct conv_sizes {
    int oh, ow;
    size_t x, w, y; /* elements */
} conv_sizes;

static pp_status conv_check_shape(const char *op, const op_conv_shape *s, conv_sizes *z) {
    if (!s) return pp_fail(PP_ERR_ARGUMENT, "%s: no shape", op);
    if (s->batch < 1 || s->in_c < 1 || s->in_h < 1 || s->in_w < 1 || s->out_c < 1)
        return pp_fail(PP_ERR_ARGUMENT,
                       "%s: sizes must be positive (batch %d, in %dx%dx%d, out_c %d)", op, s->batch,
                       s->in_c, s->in_h, s->in_w, s->out_c);
    if (s->kernel < 1 || s->kernel > CONV_MAX_KERNEL || s->stride < 1 || s->pad < 0)
        return pp_fail(PP_ERR_ARGUMENT,
                       "%s: kernel %d (1..%d), stride %d (>= 1) or pad %d (>= 0) out of range", op,
                       s->kernel, CONV_MAX_KERNEL, s->stride, s->pad);
    if (s->in_h + 2 * s->pad < s->kernel || s->in_w + 2 * s->pad < s->kernel)
        return pp_fail(PP_ERR_ARGUMENT, "%s: kernel %d larger than the padded %dx%d input", op,
                       s->kernel, s->in_h + 2 * s->pad, s->in_w + 2 * s->pad);
    z->oh = op_conv_out_h(s);
    z->ow = op_conv_out_w(s);
    PP_TRY(conv_count(op, "x", s->batch, s->in_c, s->in_h, s->in_w, &z->x));
    PP_TRY(conv_count(op, "w", s->out_c, s->in_c, s->kernel, s->kernel, &z->w));
    PP_TRY(conv_count(op, "y", s->batch, s->out_c, z->oh, z->ow, &z->y));
    return PP_OK;
}

/* The build of cl/conv.cl for one layer shape (see its defines), shared by
 * the three operators so a layer costs one program build. */
typedef struct conv_plan {
    int fast, vw, fb, cb;
    char defines[96];
} conv_plan;

static void conv_plan_make(const rt_context *ctx, const op_conv_shape *s, int ow, conv_plan *p) {
    /* The widest tile the profile allows that the row fills: 16 floats is one
     * AVX-512 register on CPUs; GPUs get 4 (a work-item holding 25 float16
     * accumulators would spill). */
    const int widest = ctx->device_profile.conv_max_vector;
    p->vw = widest >= 16 && ow >= 16 ? 16 : widest >= 8 && ow >= 8 ? 8 : 4;
    p->fast = s->stride == 1 && s->pad == 0 && ow >= p->vw;
    /* 8 filters per work-item: each input load feeds 8 FMAs into 8 accumulators. */
    p->fb = s->out_c < 8 ? s->out_c : 8;
    p->cb = s->in_c < 4 ? s->in_c : 4;
    snprintf(p->defines, sizeof p->defines, "-DKS=%d -DFAST=%d -DVW=%d -DFB=%d -DCB=%d", s->kernel,
             p->fast, p->fast ? p->vw : 0, p->fb, p->cb);
}

/* min(want, what the device allows for k) along one dimension. */
static size_t conv_local(const rt_kernel *k, size_t want) {
    return want < k->max_work_group_size ? want : k->max_work_group_size;
}

/* The work-group of a launch over (columns, rows, planes), columns being row
 * tiles for the tiled kernels: the profile's shape, or for a 0 there as many
 * columns as the row has (a power of two) and rows to fill the group. */
static const size_t *conv_group(const rt_context *ctx, const rt_kernel *k, int tiled,
                                size_t columns, size_t local[3]) {
    const rt_device_profile *dp = &ctx->device_profile;
    const size_t *shape = tiled ? dp->conv_tile_local : dp->conv_point_local;
    size_t across = shape[0], down = shape[1];
    if (across == 0) {
        const size_t items = op_pow2_local(k, dp->conv_tile_group_items);
        across = 1;
        while (across < columns && across < items)
            across *= 2;
        down = items / across;
    }
    local[0] = conv_local(k, across);
    local[1] = conv_local(k, down);
    while (local[0] * local[1] > k->max_work_group_size && local[1] > 1)
        local[1] /= 2;
    local[2] = 1;
    return local;
}

pp_status op_conv_forward(rt_context *ctx, const op_conv_shape *s, const rt_buf *x, const rt_buf *w,
                          rt_buf *y) {
    static const char op[] = "op_conv_forward";
    conv_sizes z = {0};
    PP_TRY(conv_check_shape(op, s, &z));
    PP_TRY(op_need_buf(op, "x", x, z.x, sizeof(float)));
    PP_TRY(op_need_buf(op, "w", w, z.w, sizeof(float)));
    PP_TRY(op_need_buf(op, "y", y, z.y, sizeof(float)));
    conv_plan p;
    conv_plan_make(ctx, s, z.ow, &p);
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "conv", "conv_forward", p.defines, &k));
    const size_t groups = (size_t)s->batch * (size_t)((s->out_c + p.fb - 1) / p.fb);
    const size_t global[3] = {(size_t)(p.fast ? (z.ow + p.vw - 1) / p.vw : z.ow), (size_t)z.oh,
                              groups};
    size_t local[3];
    return RT_LAUNCH(ctx, k, 3, global, conv_group(ctx, k, p.fast, global[0], local), RT_BUF(x),
                     RT_BUF(w), RT_BUF(y), RT_INT(s->batch), RT_INT(s->in_c), RT_INT(s->in_h),
                     RT_INT(s->in_w), RT_INT(s->out_c), RT_INT(z.oh), RT_INT(z.ow),
                     RT_INT(s->stride), RT_INT(s->pad));
}

pp_status op_conv_weight_grad_local(rt_context *ctx, const op_conv_shape *s, float scale,
                                    const rt_buf *dy, const rt_buf *x, rt_buf *dw, size_t local) {
    static const char op[] = "op_conv_weight_grad";
    conv_sizes z = {0};
    PP_TRY(conv_check_shape(op, s, &z));
    PP_TRY(op_need_buf(op, "dy", dy, z.y, sizeof(float)));
    PP_TRY(op_need_buf(op, "x", x, z.x, sizeof(float)));
    PP_TRY(op_need_buf(op, "dw", dw, z.w, sizeof(float)));
    if (local & (local - 1))
        return pp_fail(PP_ERR_ARGUMENT, "%s: local size %zu is not a power of two", op, local);
    conv_plan p;
    conv_plan_make(ctx, s, z.ow, &p);
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "conv", "conv_weight_grad", p.defines, &k));
    const size_t kk = (size_t)s->kernel * (size_t)s->kernel;
    if (local == 0) {
        local = p.fast ? ctx->device_profile.conv_wgrad_local_tiled
                       : ctx->device_profile.conv_wgrad_local_point;
        /* The tree's kk * local floats stay within 16 KiB of local memory. */
        while (local > 1 && kk * local * sizeof(float) > 16384)
            local /= 2;
    }
    local = op_pow2_local(k, local);
    const size_t global = local * (size_t)s->out_c * (size_t)s->in_c;
    return RT_LAUNCH(ctx, k, 1, &global, &local, RT_BUF(dy), RT_BUF(x), RT_BUF(dw),
                     RT_INT(s->batch), RT_INT(s->in_c), RT_INT(s->in_h), RT_INT(s->in_w),
                     RT_INT(s->out_c), RT_INT(z.oh), RT_INT(z.ow), RT_INT(s->stride),
                     RT_INT(s->pad), RT_FLOAT(scale), RT_LOCAL(kk * local * sizeof(float)));
}

pp_status op_conv_weight_grad(rt_context *ctx, const op_conv_shape *s, float scale,
                              const rt_buf *dy, const rt_buf *x, rt_buf *dw) {
    return op_conv_weight_grad_local(ctx, s, scale, dy, x, dw, 0);
}

pp_status op_conv_input_grad(rt_context *ctx, const op_conv_shape *s, const rt_buf *dy,
                             const rt_buf *w, rt_buf *dx) {
    static const char op[] = "op_conv_input_grad";
    conv_sizes z = {0};
    PP_TRY(conv_check_shape(op, s, &z));
    PP_TRY(op_need_buf(op, "dy", dy, z.y, sizeof(float)));
    PP_TRY(op_need_buf(op, "w", w, z.w, sizeof(float)));
    PP_TRY(op_need_buf(op, "dx", dx, z.x, sizeof(float)));
    conv_plan p;
    conv_plan_make(ctx, s, z.ow, &p);
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "conv", "conv_input_grad", p.defines, &k));
    const size_t global[3] = {(size_t)(p.fast ? (s->in_w + p.vw - 1) / p.vw : s->in_w),
                              (size_t)s->in_h,
                              (size_t)s->batch * (size_t)((s->in_c + p.cb - 1) / p.cb)};
    size_t local[3];
    return RT_LAUNCH(ctx, k, 3, global, conv_group(ctx, k, p.fast, global[0], local), RT_BUF(dy),
                     RT_BUF(w), RT_BUF(dx), RT_INT(s->batch), RT_INT(s->in_c), RT_INT(s->in_h),
                     RT_INT(s->in_w), RT_INT(s->out_c), RT_INT(z.oh), RT_INT(z.ow),
                     RT_INT(s->stride), RT_INT(s->pad));
}
