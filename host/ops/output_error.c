/* Output layer: softmax or sigmoid error, per-sample loss and correctness,
 * one-hot targets, and the running loss/accuracy totals kept on the device. */
#include <stdio.h>

#include "ops/op_util.h"

/* Must match cl/output_error.cl. */
enum { OUT_ERR = 1, OUT_LOSS = 2, OUT_CORRECT = 4 };

/* The batch's loss and correct count added to totals: inside the per-sample
 * kernel where one work-group holds the batch (one command), else by
 * accumulate2 after it; bit-identical either way. */
static pp_status output_error(rt_context *ctx, const char *op, const char *kernel, size_t batch,
                              size_t classes, const rt_buf *logits, const rt_buf *labels,
                              rt_buf *err, rt_buf *loss, rt_buf *correct, const op_totals *totals) {
    if (classes == 0) return pp_fail(PP_ERR_ARGUMENT, "%s: zero classes", op);
    if (batch > (size_t)INT_MAX / classes)
        return pp_fail(PP_ERR_ARGUMENT, "%s: %zu x %zu logits exceed INT_MAX", op, batch, classes);
    PP_TRY(op_need_buf(op, "logits", logits, batch * classes, sizeof(float)));
    PP_TRY(op_need_buf(op, "labels", labels, batch, sizeof(int32_t)));
    int outputs = 0;
    if (err) {
        PP_TRY(op_need_buf(op, "err", err, batch * classes, sizeof(float)));
        outputs |= OUT_ERR;
    }
    if (loss) {
        PP_TRY(op_need_buf(op, "loss", loss, batch, sizeof(float)));
        outputs |= OUT_LOSS;
    }
    if (correct) {
        PP_TRY(op_need_buf(op, "correct", correct, batch, sizeof(float)));
        outputs |= OUT_CORRECT;
    }
    if (totals) {
        if (!loss || !correct)
            return pp_fail(PP_ERR_ARGUMENT, "%s: totals need the loss and correct outputs", op);
        PP_TRY(op_need_int(op, "totals at + 2", totals->at + 2));
        PP_TRY(op_need_buf(op, "totals", totals->acc, totals->at + 2, sizeof(float)));
    }
    if (batch == 0 || outputs == 0) return PP_OK;
    rt_kernel *k;
    if (ctx->device_profile.output_error_group_per_row) {
        char name[48];
        snprintf(name, sizeof name, "%s_rows", kernel);
        PP_TRY(rt_kernel_get(ctx, "output_error", name, NULL, &k));
        /* the smallest power of two covering the classes, within the profile's group */
        const size_t most = op_pow2_local(k, ctx->device_profile.elementwise_local);
        size_t local = 1;
        while (local < classes && local < most)
            local *= 2;
        const size_t global[2] = {local, batch}, group[2] = {local, 1};
        PP_TRY(RT_LAUNCH(ctx, k, 2, global, group, RT_INT(batch), RT_INT(classes), RT_BUF(logits),
                         RT_BUF(labels), RT_BUF(err ? err : logits), RT_BUF(loss ? loss : logits),
                         RT_BUF(correct ? correct : logits), RT_INT(outputs),
                         RT_LOCAL(local * sizeof(float)), RT_LOCAL(local * sizeof(int32_t)),
                         RT_LOCAL(local * sizeof(float))));
    } else {
        if (totals) { /* the whole batch in one group: the totals in the same launch */
            PP_TRY(rt_kernel_get(ctx, "output_error", kernel, "-DTOTALS=1", &k));
            const size_t local = op_pow2_local(k, 256);
            if (batch <= local)
                return RT_LAUNCH(ctx, k, 1, (size_t[]){local}, (size_t[]){local}, RT_INT(batch),
                                 RT_INT(classes), RT_BUF(logits), RT_BUF(labels),
                                 RT_BUF(err ? err : logits), RT_BUF(loss), RT_BUF(correct),
                                 RT_INT(outputs), RT_BUF(totals->acc), RT_INT(totals->at),
                                 RT_LOCAL(local * sizeof(float)), RT_LOCAL(local * sizeof(float)));
        }
        /* The kernel skips the outputs not asked for; logits stands in for them. */
        PP_TRY(rt_kernel_get(ctx, "output_error", kernel, NULL, &k));
        PP_TRY(OP_LAUNCH_1D(ctx, k, batch, RT_INT(batch), RT_INT(classes), RT_BUF(logits),
                            RT_BUF(labels), RT_BUF(err ? err : logits),
                            RT_BUF(loss ? loss : logits), RT_BUF(correct ? correct : logits),
                            RT_INT(outputs)));
    }
    return totals ? op_accumulate2(ctx, batch, loss, correct, totals->acc, totals->at) : PP_OK;
}

pp_status op_softmax_error(rt_context *ctx, size_t batch, size_t classes, const rt_buf *logits,
                           const rt_buf *labels, rt_buf *err, rt_buf *loss, rt_buf *correct,
                           const op_totals *totals) {
    return output_error(ctx, "op_softmax_error", "softmax_error", batch, classes, logits, labels,
                        err, loss, correct, totals);
}

pp_status op_sigmoid_error(rt_context *ctx, size_t batch, size_t classes, const rt_buf *logits,
                           const rt_buf *labels, rt_buf *err, rt_buf *loss, rt_buf *correct,
                           const op_totals *totals) {
    return output_error(ctx, "op_sigmoid_error", "sigmoid_error", batch, classes, logits, labels,
                        err, loss, correct, totals);
}

pp_status op_onehot(rt_context *ctx, size_t batch, size_t classes, const rt_buf *labels,
                    float value, rt_buf *out) {
    static const char op[] = "op_onehot";
    if (classes == 0) return pp_fail(PP_ERR_ARGUMENT, "%s: zero classes", op);
    if (batch > (size_t)INT_MAX / classes)
        return pp_fail(PP_ERR_ARGUMENT, "%s: %zu x %zu exceeds INT_MAX", op, batch, classes);
    PP_TRY(op_need_buf(op, "labels", labels, batch, sizeof(int32_t)));
    PP_TRY(op_need_buf(op, "out", out, batch * classes, sizeof(float)));
    if (batch == 0) return PP_OK;
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "output_error", "onehot", NULL, &k));
    return OP_LAUNCH_1D(ctx, k, batch * classes, RT_INT(batch * classes), RT_INT(classes),
                        RT_BUF(labels), RT_FLOAT(value), RT_BUF(out));
}

pp_status op_accumulate2(rt_context *ctx, size_t n, const rt_buf *a, const rt_buf *b, rt_buf *acc,
                         size_t acc_off) {
    static const char op[] = "op_accumulate2";
    PP_TRY(op_need_int(op, "n", n));
    PP_TRY(op_need_int(op, "acc_off + 2", acc_off + 2));
    PP_TRY(op_need_buf(op, "a", a, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "b", b, n, sizeof(float)));
    PP_TRY(op_need_buf(op, "acc", acc, acc_off + 2, sizeof(float)));
    if (n == 0) return PP_OK;
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "output_error", "accumulate2", NULL, &k));
    /* One work-group: n is a batch, and a single group keeps the order fixed. */
    const size_t local = op_pow2_local(k, 256);
    return RT_LAUNCH(ctx, k, 1, (size_t[]){local}, (size_t[]){local}, RT_INT(n), RT_BUF(a),
                     RT_BUF(b), RT_BUF(acc), RT_INT(acc_off), RT_LOCAL(local * sizeof(float)),
                     RT_LOCAL(local * sizeof(float)));
}
