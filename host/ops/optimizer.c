/* SGD with momentum and L2 weight decay: v = mu v + lr (g + wd w); w -= v,
 * alone or with a product of the stepped weights formed in the same pass. */
#include "ops/op_util.h"

#include <stdio.h>

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

/* The projection kernels of one class count, in the profile's shape. */
static pp_status project_kernel(rt_context *ctx, const char *op, size_t classes, const char *name,
                                rt_kernel **k) {
    if (classes < 1 || classes > OP_PROJECT_MAX_CLASSES)
        return pp_fail(PP_ERR_ARGUMENT, "%s: classes = %zu, not 1 to %d", op, classes,
                       OP_PROJECT_MAX_CLASSES);
    const rt_device_profile *prof = &ctx->device_profile;
    char defines[80];
    snprintf(defines, sizeof defines, "-DPROJ_C=%zu -DVW=%d -DPROJ_ROWS=%d", classes,
             prof->project_vector, prof->project_rows);
    return rt_kernel_get(ctx, "optimizer", name, defines, k);
}

size_t op_project_layout_floats(const rt_context *ctx, size_t cols, size_t classes) {
    size_t vw = (size_t)ctx->device_profile.project_vector;
    return (cols + vw - 1) / vw * vw * classes;
}

pp_status op_project_layout(rt_context *ctx, size_t cols, size_t classes, const rt_buf *f,
                            rt_buf *fb) {
    static const char op[] = "op_project_layout";
    size_t n = op_project_layout_floats(ctx, cols, classes);
    PP_TRY(op_need_int(op, "the layout's floats", n));
    PP_TRY(op_need_buf(op, "f", f, cols * classes, sizeof(float)));
    PP_TRY(op_need_buf(op, "fb", fb, n, sizeof(float)));
    rt_kernel *k;
    PP_TRY(project_kernel(ctx, op, classes, "project_layout", &k));
    if (n == 0) return PP_OK;
    return OP_LAUNCH_1D(ctx, k, n, RT_INT(cols), RT_BUF(f), RT_BUF(fb));
}

/* Both entry points: update 0 leaves w alone and reads neither v nor g. */
static pp_status sgd_project(rt_context *ctx, const char *op, int update, size_t rows, size_t cols,
                             size_t classes, float lr, float mu, float wd, const rt_buf *w,
                             const rt_buf *v, const rt_buf *g, const rt_buf *fb, rt_buf *p) {
    const size_t layout = op_project_layout_floats(ctx, cols, classes);
    PP_TRY(op_need_int(op, "rows", rows));
    PP_TRY(op_need_int(op, "rows x cols", rows * cols));
    PP_TRY(op_need_int(op, "the layout's floats", layout));
    PP_TRY(op_need_buf(op, "w", w, rows * cols, sizeof(float)));
    if (update) {
        PP_TRY(op_need_buf(op, "v", v, rows * cols, sizeof(float)));
        PP_TRY(op_need_buf(op, "g", g, rows * cols, sizeof(float)));
    }
    PP_TRY(op_need_buf(op, "fb", fb, layout, sizeof(float)));
    PP_TRY(op_need_buf(op, "p", p, rows * classes, sizeof(float)));
    rt_kernel *k;
    PP_TRY(project_kernel(ctx, op, classes, "sgd_momentum_project", &k));
    if (rows == 0) return PP_OK;
    const rt_device_profile *prof = &ctx->device_profile;
    size_t local = op_pow2_local(k, prof->project_local);
    /* the tree's partial sums: a block's rows x classes floats per work-item */
    const size_t block = (size_t)prof->project_rows, sums = block * classes * sizeof(float);
    while (local > 1 && sums * local > ctx->info.local_mem_bytes)
        local /= 2;
    const size_t groups = (rows + block - 1) / block;
    /* update 0: v and g are not read; w stands in for them as arguments */
    return RT_LAUNCH(ctx, k, 1, (size_t[]){groups * local}, (size_t[]){local}, RT_INT(rows),
                     RT_INT(cols), RT_INT(update), RT_FLOAT(lr), RT_FLOAT(mu), RT_FLOAT(wd),
                     RT_BUF(w), RT_BUF(update ? v : w), RT_BUF(update ? g : w), RT_BUF(fb),
                     RT_BUF(p), RT_LOCAL(sums * local));
}

pp_status op_sgd_momentum_project(rt_context *ctx, size_t rows, size_t cols, size_t classes,
                                  float lr, float mu, float wd, rt_buf *w, rt_buf *v,
                                  const rt_buf *g, const rt_buf *fb, rt_buf *p) {
    return sgd_project(ctx, "op_sgd_momentum_project", 1, rows, cols, classes, lr, mu, wd, w, v, g,
                       fb, p);
}

pp_status op_weight_project(rt_context *ctx, size_t rows, size_t cols, size_t classes,
                            const rt_buf *w, const rt_buf *fb, rt_buf *p) {
    return sgd_project(ctx, "op_weight_project", 0, rows, cols, classes, 0.0f, 0.0f, 0.0f, w, NULL,
                       NULL, fb, p);
}
