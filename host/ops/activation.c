/* Activations and dropout: y = act(x) mask/(1-p), its backward, and PEPITA's
 * fused modulated-pass op. The mask is drawn from Philox each time, or, where
 * the caller keeps it (op_dropout.mask), drawn once by the forward op and read
 * back by the later passes. */
#include "ops/op_util.h"
#include "ops/philox.h"

#include <stdio.h>
#include <string.h>

typedef struct drop_args {
    uint32_t threshold; /* 0: no dropout */
    float scale;
    uint32_t seed_lo, seed_hi, step, layer, first;
    const rt_buf *mask; /* the kept mask, or NULL */
    int read_mask;      /* 1: read it (the later passes), 0: write it (the forward op) */
} drop_args;

/* What a kept mask is to an op: written by the forward op, read by the later
 * passes, or not used (the low-rank op draws its mask). */
enum { MASK_WRITE, MASK_READ, MASK_UNUSED };

static pp_status get_drop_args(const char *op, const op_dropout *drop, size_t n, int mask_use,
                               drop_args *out) {
    *out = (drop_args){.threshold = 0, .scale = 1.0f};
    if (!drop || drop->p == 0.0f) return PP_OK;
    if (!(drop->p > 0.0f && drop->p < 1.0f))
        return pp_fail(PP_ERR_ARGUMENT, "%s: dropout probability %g is outside [0, 1)", op,
                       (double)drop->p);
    if (drop->mask && mask_use != MASK_UNUSED) {
        PP_TRY(op_need_buf(op, "mask", drop->mask, n, 1));
        out->mask = drop->mask;
        out->read_mask = mask_use == MASK_READ;
    }
    out->threshold = philox_dropout_threshold(drop->p);
    out->scale = philox_dropout_scale(drop->p);
    out->seed_lo = (uint32_t)drop->seed;
    out->seed_hi = (uint32_t)(drop->seed >> 32);
    out->step = drop->step;
    out->layer = drop->layer;
    out->first = drop->first;
    return PP_OK;
}

static pp_status check_act(const char *op, op_act act, size_t n) {
    if (act != OP_ACT_IDENTITY && act != OP_ACT_RELU && act != OP_ACT_TANH && act != OP_ACT_SIGMOID)
        return pp_fail(PP_ERR_ARGUMENT, "%s: unknown activation %d", op, (int)act);
    return op_need_int(op, "n", n);
}

/* Dropout elements per work-item: the profile's, but one when the mask
 * starts inside a Philox block (a data-parallel rank's rows, cl/activation.cl),
 * and 4 instead of 64 for activations the 64-element kernels do not vectorise
 * (their float16 arithmetic must be act_apply's exactly). */
static int drop_lanes(const rt_context *ctx, const drop_args *d, op_act act) {
    if (d->first % 4 || d->read_mask) return 1;
    int lanes = ctx->device_profile.dropout_elements_per_item;
    if (lanes == 64 && act != OP_ACT_RELU && act != OP_ACT_IDENTITY) return 4;
    return lanes;
}

/* The kernel is built per activation and with or without dropout; the
 * low-rank kernel also per rank (0: the define is left out). */
static pp_status get_kernel_ranked(rt_context *ctx, const char *name, op_act act,
                                   const drop_args *d, size_t rank, rt_kernel **k) {
    char defines[112];
    int n = snprintf(defines, sizeof defines,
                     "-DACT=%d -DDROPOUT=%d -DDROPOUT_LANES=%d -DDROPOUT_RUNS=%d -DDROPOUT_MASK=%d",
                     (int)act, d->threshold != 0, drop_lanes(ctx, d, act),
                     ctx->device_profile.dropout_vector_runs, d->mask != NULL);
    if (rank) snprintf(defines + n, sizeof defines - (size_t)n, " -DRANK=%zu", rank);
    return rt_kernel_get(ctx, "activation", name, defines, k);
}

static pp_status get_kernel(rt_context *ctx, const char *name, op_act act, const drop_args *d,
                            rt_kernel **k) {
    return get_kernel_ranked(ctx, name, act, d, 0, k);
}

#define DROP_ARGS(d)                                                                               \
    RT_UINT((d).threshold), RT_FLOAT((d).scale), RT_UINT((d).seed_lo), RT_UINT((d).seed_hi),       \
        RT_UINT((d).step), RT_UINT((d).layer), RT_UINT((d).first)

/* Launches activation kernel `name` over n elements (the kept mask, if any,
 * as its last argument): one work-item per element without dropout, with the
 * profile's one-element dropout or reading a kept mask; with 64
 * elements per work-item, one per run of 64 (the last one partial) in the
 * profile's groups for them; with four elements per work-item, one per whole
 * block of four (one Philox block, cl/activation.cl) and, for the n % 4
 * elements after them, `name`_tail. */
static pp_status launch_act(rt_context *ctx, const char *name, op_act act, const drop_args *d,
                            size_t n, size_t n_args, const rt_arg *act_args) {
    rt_arg args[16];
    if (n_args >= sizeof args / sizeof args[0])
        return pp_fail(PP_ERR_INTERNAL, "%s: %zu arguments", name, n_args);
    memcpy(args, act_args, n_args * sizeof *args);
    if (d->mask) args[n_args++] = RT_BUF(d->mask);
    rt_kernel *k;
    PP_TRY(get_kernel(ctx, name, act, d, &k));
    size_t local = op_pow2_local(k, ctx->device_profile.elementwise_local);
    const int lanes = drop_lanes(ctx, d, act);
    if (!d->threshold || lanes == 1)
        return rt_launch(ctx, k, 1, (size_t[]){n}, &local, n_args, args);
    if (lanes == 64) {
        local = op_pow2_local(k, ctx->device_profile.dropout_vector_local);
        size_t per_item = 64 * (size_t)ctx->device_profile.dropout_vector_runs;
        return rt_launch(ctx, k, 1, (size_t[]){(n + per_item - 1) / per_item}, &local, n_args,
                         args);
    }
    if (n / 4) PP_TRY(rt_launch(ctx, k, 1, (size_t[]){n / 4}, &local, n_args, args));
    if (n % 4 == 0) return PP_OK;
    char tail[48];
    snprintf(tail, sizeof tail, "%s_tail", name);
    PP_TRY(get_kernel(ctx, tail, act, d, &k));
    return rt_launch(ctx, k, 1, (size_t[]){1}, (size_t[]){1}, n_args, args);
}

#define ACT_LAUNCH(ctx, name, act, d, n, ...)                                                      \
    launch_act((ctx), (name), (act), (d), (n), sizeof((rt_arg[]){__VA_ARGS__}) / sizeof(rt_arg),   \
               (rt_arg[]){__VA_ARGS__})

pp_status op_act_forward(rt_context *ctx, op_act act, size_t n, const rt_buf *x, rt_buf *y,
                         const op_dropout *drop) {
    static const char op[] = "op_act_forward";
    drop_args d;
    PP_TRY(check_act(op, act, n));
    PP_TRY(get_drop_args(op, drop, n, MASK_WRITE, &d));
    PP_TRY(op_need_buf(op, "x", x, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "y", y, n, sizeof(float)));
    if (n == 0) return PP_OK;
    return ACT_LAUNCH(ctx, "act_forward", act, &d, n, RT_INT(n), RT_BUF(x), RT_BUF(y),
                      DROP_ARGS(d));
}

pp_status op_act_backward(rt_context *ctx, op_act act, size_t n, const rt_buf *z, const rt_buf *dy,
                          rt_buf *dx, const op_dropout *drop) {
    static const char op[] = "op_act_backward";
    drop_args d;
    PP_TRY(check_act(op, act, n));
    PP_TRY(get_drop_args(op, drop, n, MASK_READ, &d));
    PP_TRY(op_need_buf(op, "z", z, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "dy", dy, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "dx", dx, n, sizeof(float)));
    if (n == 0) return PP_OK;
    return ACT_LAUNCH(ctx, "act_backward", act, &d, n, RT_INT(n), RT_BUF(z), RT_BUF(dy), RT_BUF(dx),
                      DROP_ARGS(d));
}

pp_status op_act_forward_diff(rt_context *ctx, op_act act, size_t n, const rt_buf *z_mod,
                              const rt_buf *y, rt_buf *y_mod, rt_buf *diff,
                              const op_dropout *drop) {
    static const char op[] = "op_act_forward_diff";
    drop_args d;
    PP_TRY(check_act(op, act, n));
    PP_TRY(get_drop_args(op, drop, n, MASK_READ, &d));
    PP_TRY(op_need_buf(op, "z_mod", z_mod, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "y", y, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "y_mod", y_mod, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "diff", diff, n, sizeof(float)));
    if (n == 0) return PP_OK;
    return ACT_LAUNCH(ctx, "act_forward_diff", act, &d, n, RT_INT(n), RT_BUF(z_mod), RT_BUF(y),
                      RT_BUF(y_mod), RT_BUF(diff), DROP_ARGS(d));
}

pp_status op_act_forward_diff_lowrank(rt_context *ctx, op_act act, size_t rows, size_t cols,
                                      size_t rank, const rt_buf *z, const rt_buf *m,
                                      const rt_buf *basis, const rt_buf *y, rt_buf *y_mod,
                                      rt_buf *diff, const op_dropout *drop) {
    static const char op[] = "op_act_forward_diff_lowrank";
    drop_args d;
    if (rank < 1 || rank > 4096)
        return pp_fail(PP_ERR_ARGUMENT, "%s: rank %zu is outside 1..4096", op, rank);
    if (cols && rows > (size_t)INT_MAX / cols)
        return pp_fail(PP_ERR_ARGUMENT, "%s: %zu x %zu elements exceed INT_MAX", op, rows, cols);
    if (cols && rank > (size_t)INT_MAX / cols)
        return pp_fail(PP_ERR_ARGUMENT, "%s: basis of %zu x %zu exceeds INT_MAX", op, rank, cols);
    const size_t n = rows * cols;
    PP_TRY(check_act(op, act, n));
    PP_TRY(get_drop_args(op, drop, n, MASK_UNUSED, &d));
    PP_TRY(op_need_buf(op, "z", z, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "m", m, rows * rank, sizeof(float)));
    PP_TRY(op_need_buf(op, "basis", basis, rank * cols, sizeof(float)));
    PP_TRY(op_need_buf(op, "y", y, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "y_mod", y_mod, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "diff", diff, n, sizeof(float)));
    if (n == 0) return PP_OK;
    rt_kernel *k;
    PP_TRY(get_kernel_ranked(ctx, "act_forward_diff_lowrank", act, &d, rank, &k));
    /* 8 columns per work-item (cl/activation.cl) */
    size_t global[2] = {(cols + 7) / 8, rows}, local[2] = {op_pow2_local(k, 64), 1};
    return RT_LAUNCH(ctx, k, 2, global, local, RT_INT(n), RT_INT(cols), RT_BUF(z), RT_BUF(m),
                     RT_BUF(basis), RT_BUF(y), RT_BUF(y_mod), RT_BUF(diff), DROP_ARGS(d));
}
