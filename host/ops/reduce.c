/* Reductions whose results stay on the device: sum, sum of squares, dot
 * product (norms and angles) and a histogram. */
#include "ops/op_util.h"

#include <math.h>

/* Must match cl/reduce.cl. */
enum { REDUCE_SUM = 0, REDUCE_SUM_SQUARES = 1, REDUCE_DOT = 2 };

static pp_status reduce(rt_context *ctx, const char *op, int mode, size_t n, const rt_buf *a,
                        const rt_buf *b, rt_buf *out, size_t out_off) {
    PP_TRY(op_need_int(op, "n", n));
    PP_TRY(op_need_int(op, "out_off", out_off));
    PP_TRY(op_need_buf(op, "x", a, n, sizeof(float)));
    if (mode == REDUCE_DOT) PP_TRY(op_need_buf(op, "b", b, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "out", out, out_off + 1, sizeof(float)));
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "reduce", "reduce", NULL, &k));
    /* group size, terms per work-item before another group is worth it, and
     * the most groups: from the device profile */
    const rt_device_profile *dp = &ctx->device_profile;
    const size_t local = op_pow2_local(k, dp->reduce_local);
    const size_t per_group = local * dp->reduce_items_per_item;
    size_t groups = (n + per_group - 1) / per_group;
    if (groups < 1) groups = 1; /* n == 0 still writes 0 */
    if (groups > dp->reduce_max_groups) groups = dp->reduce_max_groups;
    const size_t global = groups * local;
    if (groups == 1)
        return RT_LAUNCH(ctx, k, 1, &global, &local, RT_INT(n), RT_BUF(a), RT_BUF(b), RT_INT(mode),
                         RT_BUF(out), RT_INT(out_off), RT_LOCAL(local * sizeof(float)));

    /* the groups' partials in the context's scratch buffer: no allocation per call */
    rt_buf *partial;
    PP_TRY(rt_scratch(ctx, groups * sizeof(float), &partial));
    PP_TRY(RT_LAUNCH(ctx, k, 1, &global, &local, RT_INT(n), RT_BUF(a), RT_BUF(b), RT_INT(mode),
                     RT_BUF(partial), RT_INT(0), RT_LOCAL(local * sizeof(float))));
    return RT_LAUNCH(ctx, k, 1, &local, &local, RT_INT(groups), RT_BUF(partial), RT_BUF(partial),
                     RT_INT(REDUCE_SUM), RT_BUF(out), RT_INT(out_off),
                     RT_LOCAL(local * sizeof(float)));
}

pp_status op_sum(rt_context *ctx, size_t n, const rt_buf *x, rt_buf *out, size_t out_off) {
    return reduce(ctx, "op_sum", REDUCE_SUM, n, x, x, out, out_off);
}

pp_status op_sum_squares(rt_context *ctx, size_t n, const rt_buf *x, rt_buf *out, size_t out_off) {
    return reduce(ctx, "op_sum_squares", REDUCE_SUM_SQUARES, n, x, x, out, out_off);
}

pp_status op_dot(rt_context *ctx, size_t n, const rt_buf *a, const rt_buf *b, rt_buf *out,
                 size_t out_off) {
    return reduce(ctx, "op_dot", REDUCE_DOT, n, a, b, out, out_off);
}

/* Local counters up to this many bins (well under the 32 KiB OpenCL 1.2 minimum). */
#define HISTOGRAM_LOCAL_MAX_BYTES 16384
#define HISTOGRAM_ITEMS_PER_THREAD 64
#define HISTOGRAM_MAX_GROUPS 64

pp_status op_histogram(rt_context *ctx, size_t n, const rt_buf *x, float lo, float hi, int bins,
                       rt_buf *counts) {
    static const char op[] = "op_histogram";
    PP_TRY(op_need_int(op, "n", n));
    if (bins < 1) return pp_fail(PP_ERR_ARGUMENT, "%s: %d bins", op, bins);
    /* The reference (tests/reference) computes the bin the same way, in float. */
    const float scale = (float)bins / (hi - lo);
    if (!(hi > lo) || !isfinite(lo) || !isfinite(scale) || !(scale > 0.0f))
        return pp_fail(PP_ERR_ARGUMENT, "%s: bad range [%g, %g) for %d bins", op, (double)lo,
                       (double)hi, bins);
    PP_TRY(op_need_buf(op, "x", x, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "counts", counts, (size_t)bins, sizeof(uint32_t)));
    PP_TRY(rt_buf_zero(ctx, counts, 0, (size_t)bins * sizeof(uint32_t)));
    if (n == 0) return PP_OK;

    const size_t local_bytes = (size_t)bins * sizeof(uint32_t);
    rt_kernel *k;
    if (local_bytes <= HISTOGRAM_LOCAL_MAX_BYTES && local_bytes <= ctx->info.local_mem_bytes / 2) {
        PP_TRY(rt_kernel_get(ctx, "histogram", "histogram_local", NULL, &k));
        const size_t local = op_pow2_local(k, ctx->device_profile.elementwise_local);
        size_t groups =
            (n + local * HISTOGRAM_ITEMS_PER_THREAD - 1) / (local * HISTOGRAM_ITEMS_PER_THREAD);
        if (groups > HISTOGRAM_MAX_GROUPS) groups = HISTOGRAM_MAX_GROUPS;
        const size_t global = groups * local;
        return RT_LAUNCH(ctx, k, 1, &global, &local, RT_INT(n), RT_BUF(x), RT_FLOAT(lo),
                         RT_FLOAT(scale), RT_INT(bins), RT_BUF(counts), RT_LOCAL(local_bytes));
    }
    PP_TRY(rt_kernel_get(ctx, "histogram", "histogram_global", NULL, &k));
    return OP_LAUNCH_1D(ctx, k, n, RT_INT(n), RT_BUF(x), RT_FLOAT(lo), RT_FLOAT(scale),
                        RT_INT(bins), RT_BUF(counts));
}
