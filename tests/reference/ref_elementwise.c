/* References and operator checks for the element-wise area: activations and
 * dropout, output error, element-wise, optimiser, gather, reductions. */
#include "ref_elementwise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/philox.h"
#include "reference.h"

/* ---- References -------------------------------------------------------- */

void ref_dropout_factor(size_t n, const op_dropout *drop, float *factor) {
    const int on = drop && drop->p != 0.0f;
    const uint32_t threshold = on ? philox_dropout_threshold(drop->p) : 0;
    const float scale = on ? philox_dropout_scale(drop->p) : 1.0f;
    for (size_t i = 0; i < n; i++)
        factor[i] =
            !on || philox_dropout_keep(drop->seed, drop->step, drop->layer, (uint32_t)i, threshold)
                ? scale
                : 0.0f;
}

/* ReLU and identity in float (exact); tanh and sigmoid in double, rounded once. */
static float act_value(op_act act, float z) {
    switch (act) {
    case OP_ACT_RELU:
        return z > 0.0f ? z : 0.0f;
    case OP_ACT_TANH:
        return (float)tanh((double)z);
    case OP_ACT_SIGMOID:
        return (float)(1.0 / (1.0 + exp(-(double)z)));
    default:
        return z;
    }
}

static float act_grad(op_act act, float z) {
    switch (act) {
    case OP_ACT_RELU:
        return z > 0.0f ? 1.0f : 0.0f;
    case OP_ACT_TANH: {
        const double t = tanh((double)z);
        return (float)(1.0 - t * t);
    }
    case OP_ACT_SIGMOID: {
        const double s = 1.0 / (1.0 + exp(-(double)z));
        return (float)(s * (1.0 - s));
    }
    default:
        return 1.0f;
    }
}

void ref_act_forward(op_act act, size_t n, const float *x, float *y, const op_dropout *drop) {
    const int on = drop && drop->p != 0.0f;
    const uint32_t threshold = on ? philox_dropout_threshold(drop->p) : 0;
    const float scale = on ? philox_dropout_scale(drop->p) : 1.0f;
    for (size_t i = 0; i < n; i++) {
        const int keep =
            !on || philox_dropout_keep(drop->seed, drop->step, drop->layer, (uint32_t)i, threshold);
        y[i] = keep ? act_value(act, x[i]) * scale : 0.0f;
    }
}

void ref_act_backward(op_act act, size_t n, const float *z, const float *dy, float *dx,
                      const op_dropout *drop) {
    float *f = malloc((n ? n : 1) * sizeof *f);
    if (!f) return;
    ref_dropout_factor(n, drop, f);
    for (size_t i = 0; i < n; i++)
        dx[i] = f[i] == 0.0f ? 0.0f : dy[i] * act_grad(act, z[i]) * f[i];
    free(f);
}

void ref_act_forward_diff(op_act act, size_t n, const float *z_mod, const float *y, float *y_mod,
                          float *diff, const op_dropout *drop) {
    ref_act_forward(act, n, z_mod, y_mod, drop);
    for (size_t i = 0; i < n; i++)
        diff[i] = y[i] - y_mod[i];
}

void ref_act_forward_diff_lowrank(op_act act, size_t rows, size_t cols, size_t rank, const float *z,
                                  const float *m, const float *basis, const float *y, float *y_mod,
                                  float *diff, const op_dropout *drop) {
    const size_t n = rows * cols;
    float *z_mod = malloc((n ? n : 1) * sizeof *z_mod);
    if (!z_mod) return;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            double update = 0.0;
            for (size_t k = 0; k < rank; k++)
                update += (double)m[r * rank + k] * basis[k * cols + c];
            z_mod[r * cols + c] = (float)(z[r * cols + c] + update);
        }
    ref_act_forward_diff(act, n, z_mod, y, y_mod, diff, drop);
    free(z_mod);
}

static size_t row_argmax(const float *z, size_t classes) {
    size_t best = 0;
    for (size_t j = 1; j < classes; j++)
        if (z[j] > z[best]) best = j;
    return best;
}

void ref_softmax_error(size_t batch, size_t classes, const float *logits, const int32_t *labels,
                       float *err, float *loss, float *correct) {
    for (size_t r = 0; r < batch; r++) {
        const float *z = logits + r * classes;
        const size_t best = row_argmax(z, classes);
        const double m = z[best];
        const int32_t label = labels[r];
        const int valid = label >= 0 && (size_t)label < classes;
        double sum = 0.0;
        for (size_t j = 0; j < classes; j++)
            sum += exp((double)z[j] - m);
        if (loss) loss[r] = valid ? (float)(m - z[label] + log(sum)) : NAN;
        if (correct) correct[r] = valid && best == (size_t)label ? 1.0f : 0.0f;
        if (err)
            for (size_t j = 0; j < classes; j++)
                err[r * classes + j] =
                    (float)(exp((double)z[j] - m) / sum - ((int32_t)j == label ? 1.0 : 0.0));
    }
}

void ref_sigmoid_error(size_t batch, size_t classes, const float *logits, const int32_t *labels,
                       float *err, float *loss, float *correct) {
    for (size_t r = 0; r < batch; r++) {
        const float *z = logits + r * classes;
        const int32_t label = labels[r];
        const int valid = label >= 0 && (size_t)label < classes;
        double sum = 0.0;
        for (size_t j = 0; j < classes; j++) {
            const double zj = z[j], t = (int32_t)j == label ? 1.0 : 0.0;
            sum += fmax(zj, 0.0) - zj * t + log1p(exp(-fabs(zj)));
            if (err) err[r * classes + j] = (float)(1.0 / (1.0 + exp(-zj)) - t);
        }
        if (loss) loss[r] = valid ? (float)sum : NAN;
        if (correct) correct[r] = valid && row_argmax(z, classes) == (size_t)label ? 1.0f : 0.0f;
    }
}

void ref_onehot(size_t batch, size_t classes, const int32_t *labels, float value, float *out) {
    for (size_t r = 0; r < batch; r++)
        for (size_t j = 0; j < classes; j++)
            out[r * classes + j] = (int32_t)j == labels[r] ? value : 0.0f;
}

void ref_sub(size_t n, const float *a, const float *b, float *out) {
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] - b[i];
}

void ref_axpby(size_t n, float alpha, const float *x, float beta, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = beta == 0.0f ? alpha * x[i] : alpha * x[i] + beta * y[i];
}

void ref_uniform(size_t n, float lo, float hi, uint64_t seed, uint32_t stream, float *x) {
    for (size_t i = 0; i < n; i++)
        x[i] = philox_uniform(seed, stream, (uint32_t)i, lo, hi);
}

void ref_sgd_momentum(size_t n, float lr, float mu, float wd, float *w, float *v, const float *g) {
    for (size_t i = 0; i < n; i++) {
        v[i] = mu * v[i] + lr * (g[i] + wd * w[i]);
        w[i] -= v[i];
    }
}

void ref_gather_batch(size_t count, size_t sample_size, size_t samples, const uint8_t *data,
                      const uint8_t *labels, const int32_t *idx, float scale, float *x,
                      int32_t *y) {
    for (size_t r = 0; r < count; r++) {
        const int valid = idx[r] >= 0 && (size_t)idx[r] < samples;
        for (size_t c = 0; c < sample_size; c++)
            x[r * sample_size + c] =
                valid ? (float)data[(size_t)idx[r] * sample_size + c] * scale : 0.0f;
        y[r] = valid ? (int32_t)labels[idx[r]] : -1;
    }
}

void ref_gather_batch_f32(size_t count, size_t sample_size, size_t samples, const float *data,
                          const uint8_t *labels, const int32_t *idx, float *x, int32_t *y) {
    for (size_t r = 0; r < count; r++) {
        const int valid = idx[r] >= 0 && (size_t)idx[r] < samples;
        for (size_t c = 0; c < sample_size; c++)
            x[r * sample_size + c] = valid ? data[(size_t)idx[r] * sample_size + c] : 0.0f;
        y[r] = valid ? (int32_t)labels[idx[r]] : -1;
    }
}

double ref_sum(size_t n, const float *x) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

double ref_sum_squares(size_t n, const float *x) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return s;
}

double ref_dot(size_t n, const float *a, const float *b) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

void ref_histogram(size_t n, const float *x, float lo, float hi, int bins, uint32_t *counts) {
    /* The operator's float arithmetic exactly: t = (v - lo) * (bins / (hi - lo)). */
    const float scale = (float)bins / (hi - lo);
    memset(counts, 0, (size_t)bins * sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) continue;
        const float t = (x[i] - lo) * scale;
        const int b = t < 0.0f ? 0 : (t >= (float)bins ? bins - 1 : (int)t);
        counts[b]++;
    }
}

/* ---- Checks ------------------------------------------------------------ */

/* Host and device scratch for one check, released together. */
#define SC_MAX_HOST 12
#define SC_MAX_DEV 9
typedef struct scratch {
    rt_context *ctx;
    pp_status status; /* the first harness failure */
    void *host[SC_MAX_HOST];
    rt_buf dev[SC_MAX_DEV + 1]; /* the last one stays unallocated: handed out on failure */
    int nhost, ndev;
} scratch;

static void *sc_host(scratch *s, size_t bytes) {
    void *p = s->nhost < SC_MAX_HOST ? calloc(bytes ? bytes : 1, 1) : NULL;
    if (!p) {
        if (s->status == PP_OK) s->status = PP_ERR_OUT_OF_MEMORY;
        return NULL;
    }
    s->host[s->nhost++] = p;
    return p;
}

/* A zero-filled device buffer, holding init when given. */
static rt_buf *sc_dev(scratch *s, size_t bytes, const void *init) {
    if (s->status != PP_OK) return &s->dev[SC_MAX_DEV];
    if (s->ndev == SC_MAX_DEV) {
        s->status = PP_ERR_INTERNAL;
        return &s->dev[SC_MAX_DEV];
    }
    rt_buf *b = &s->dev[s->ndev];
    s->status = rt_buf_create(s->ctx, bytes, b);
    if (s->status != PP_OK) return &s->dev[SC_MAX_DEV];
    s->ndev++;
    if (init && bytes) s->status = rt_buf_write(s->ctx, b, 0, bytes, init);
    return b;
}

static void sc_read(scratch *s, const rt_buf *b, void *dst, size_t bytes) {
    if (s->status == PP_OK && bytes) s->status = rt_buf_read(s->ctx, b, 0, bytes, dst);
}

static pp_status sc_end(scratch *s) {
    for (int i = 0; i < s->nhost; i++)
        free(s->host[i]);
    for (int i = 0; i < s->ndev; i++)
        rt_buf_release(s->ctx, &s->dev[i]);
    return s->status;
}

/* Records the operator's status; a failing operator is a failed result, not
 * a harness error. Returns 1 when there is nothing to compare. */
static int op_failed(const scratch *s, ref_check_result *r, pp_status op_status) {
    r->status = op_status;
    return op_status != PP_OK || s->status != PP_OK;
}

/* Folds one more comparison, at the same tolerance, into r. */
static void compare_more(const float *a, const float *b, size_t n, ref_check_result *r) {
    ref_check_result part = *r;
    ref_compare(a, b, n, r->tolerance, &part);
    r->max_abs_error = fmax(r->max_abs_error, part.max_abs_error);
    r->max_rel_error = fmax(r->max_rel_error, part.max_rel_error);
    r->pass = r->pass && part.pass;
}

/* Deterministic test inputs in [lo, hi), distinct per tag: a 64-bit LCG,
 * cheaper than Philox for the millions of values the real shapes need. */
static void fill_uniform(float *x, size_t n, float lo, float hi, uint32_t tag) {
    uint64_t state = 0x9E3779B97F4A7C15ull * (tag + 1);
    for (size_t i = 0; i < n; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = lo + (hi - lo) * ((float)(state >> 40) * (1.0f / 16777216.0f));
    }
}

static void fill_labels(int32_t *labels, size_t n, size_t classes, uint32_t tag) {
    for (size_t i = 0; i < n; i++)
        labels[i] = (int32_t)philox_below(
            philox_u32(0x5EED, PHILOX_DOMAIN_HOST, tag, 1, (uint32_t)i), (uint32_t)classes);
}

static const char *act_name(op_act act) {
    static const char *names[] = {"identity", "relu", "tanh", "sigmoid"};
    return names[act];
}

enum { ACT_FORWARD, ACT_BACKWARD, ACT_FORWARD_DIFF };

/* kept: the mask kept in bytes (op_dropout.mask). The forward op writes it,
 * checked against the reference mask; the later ops run with another seed
 * after a forward op of the reference's key wrote it, so they match the
 * reference only if they read the kept mask instead of drawing one. */
static pp_status check_act(rt_context *ctx, ref_check_list *list, int mode, op_act act, size_t n,
                           float p, int kept) {
    static const char *names[] = {"act_forward", "act_backward", "act_forward_diff"};
    ref_check_result *r = ref_check_list_add(list, names[mode], "%s n=%zu p=%.2f%s", act_name(act),
                                             n, (double)p, kept ? " kept mask" : "");
    if (!r) return PP_ERR_OUT_OF_MEMORY;
    op_dropout drop = {.p = p, .seed = 0x0123456789ABCDEFull, .step = 5, .layer = 1};
    const size_t bytes = n * sizeof(float);
    scratch s = {.ctx = ctx};
    float *x = sc_host(&s, bytes), *y = sc_host(&s, bytes), *out1 = sc_host(&s, bytes),
          *out2 = sc_host(&s, bytes), *ref1 = sc_host(&s, bytes), *ref2 = sc_host(&s, bytes),
          *factor = sc_host(&s, bytes), *kept_out = sc_host(&s, bytes);
    unsigned char *mask = sc_host(&s, n);
    if (s.status != PP_OK) return sc_end(&s);
    fill_uniform(x, n, -4.0f, 4.0f, 1);
    fill_uniform(y, n, -1.0f, 1.0f, 2);
    rt_buf *bx = sc_dev(&s, bytes, x), *by = sc_dev(&s, bytes, y), *b1 = sc_dev(&s, bytes, NULL),
           *b2 = sc_dev(&s, bytes, NULL), *bm = sc_dev(&s, n, NULL);
    if (s.status != PP_OK) return sc_end(&s);
    pp_status op = PP_OK;
    op_dropout later = drop;
    if (kept) {
        drop.mask = later.mask = bm;
        later.seed ^= 1; /* a key whose mask differs */
        if (mode != ACT_FORWARD) op = op_act_forward(ctx, act, n, bx, b2, &drop);
    }
    if (mode == ACT_FORWARD) {
        if (op == PP_OK) op = op_act_forward(ctx, act, n, bx, b1, &drop);
        ref_act_forward(act, n, x, ref1, &drop);
    } else if (mode == ACT_BACKWARD) {
        if (op == PP_OK) op = op_act_backward(ctx, act, n, bx, by, b1, &later);
        ref_act_backward(act, n, x, y, ref1, &drop);
    } else {
        if (op == PP_OK) op = op_act_forward_diff(ctx, act, n, bx, by, b1, b2, &later);
        ref_act_forward_diff(act, n, x, y, ref1, ref2, &drop);
    }
    if (op_failed(&s, r, op)) return sc_end(&s);
    sc_read(&s, b1, out1, bytes);
    sc_read(&s, b2, out2, bytes);
    sc_read(&s, bm, mask, n);
    if (s.status != PP_OK) return sc_end(&s);
    /* ReLU/identity and the mask are exact; tanh, exp: a few ulp (OpenCL allows 5). */
    const double tol = act == OP_ACT_TANH || act == OP_ACT_SIGMOID ? 1e-5 : 0.0;
    ref_compare(out1, ref1, n, tol, r);
    if (mode == ACT_FORWARD_DIFF) compare_more(out2, ref2, n, r);
    if (kept && mode == ACT_FORWARD) { /* nonzero where kept */
        ref_dropout_factor(n, &drop, factor);
        for (size_t i = 0; i < n; i++) {
            kept_out[i] = mask[i] != 0;
            factor[i] = factor[i] != 0.0f;
        }
        compare_more(kept_out, factor, n, r);
    }
    return sc_end(&s);
}

/* The fused low-rank modulated pass against z + m basis formed in double. */
static pp_status check_act_lowrank(rt_context *ctx, ref_check_list *list, op_act act, size_t rows,
                                   size_t cols, size_t rank, float p) {
    ref_check_result *r =
        ref_check_list_add(list, "act_forward_diff_lowrank", "%s %zux%zu rank %zu p=%.2f",
                           act_name(act), rows, cols, rank, (double)p);
    if (!r) return PP_ERR_OUT_OF_MEMORY;
    const op_dropout drop = {.p = p, .seed = 0x0123456789ABCDEFull, .step = 9, .layer = 0};
    const size_t n = rows * cols, bytes = n * sizeof(float);
    scratch s = {.ctx = ctx};
    float *z = sc_host(&s, bytes), *m = sc_host(&s, rows * rank * sizeof(float)),
          *basis = sc_host(&s, rank * cols * sizeof(float)), *y = sc_host(&s, bytes),
          *out1 = sc_host(&s, bytes), *out2 = sc_host(&s, bytes), *ref1 = sc_host(&s, bytes),
          *ref2 = sc_host(&s, bytes);
    if (s.status != PP_OK) return sc_end(&s);
    fill_uniform(z, n, -2.0f, 2.0f, 11);
    fill_uniform(m, rows * rank, -1.0f, 1.0f, 12);
    fill_uniform(basis, rank * cols, -1.0f, 1.0f, 13);
    fill_uniform(y, n, -1.0f, 1.0f, 14);
    rt_buf *bz = sc_dev(&s, bytes, z), *bm = sc_dev(&s, rows * rank * sizeof(float), m),
           *bb = sc_dev(&s, rank * cols * sizeof(float), basis), *by = sc_dev(&s, bytes, y),
           *b1 = sc_dev(&s, bytes, NULL), *b2 = sc_dev(&s, bytes, NULL);
    if (s.status != PP_OK) return sc_end(&s);
    pp_status op = op_act_forward_diff_lowrank(ctx, act, rows, cols, rank, bz, bm, bb, by, b1, b2,
                                               p > 0.0f ? &drop : NULL);
    ref_act_forward_diff_lowrank(act, rows, cols, rank, z, m, basis, y, ref1, ref2,
                                 p > 0.0f ? &drop : NULL);
    if (op_failed(&s, r, op)) return sc_end(&s);
    sc_read(&s, b1, out1, bytes);
    sc_read(&s, b2, out2, bytes);
    if (s.status != PP_OK) return sc_end(&s);
    /* a float sum of rank products against one rounding of the double sum */
    ref_compare(out1, ref1, n, 1e-6 * (double)(rank + 4), r);
    compare_more(out2, ref2, n, r);
    return sc_end(&s);
}

enum { OUT_ERR = 1, OUT_LOSS = 2, OUT_CORRECT = 4, OUT_ALL = 7 };

/* with_totals (all outputs): the op also adds to running totals, which must
 * equal, bit for bit, op_accumulate2 of the loss and correct it wrote. */
static pp_status check_output(rt_context *ctx, ref_check_list *list, int sigmoid, size_t batch,
                              size_t classes, int large, int outputs, int with_totals) {
    ref_check_result *r = ref_check_list_add(
        list, sigmoid ? "sigmoid_error" : "softmax_error", "%zux%zu%s%s%s%s%s", batch, classes,
        large ? " logits+-1000" : "", outputs == OUT_ALL ? "" : " only",
        outputs != OUT_ALL && (outputs & OUT_ERR) ? " err" : "",
        outputs != OUT_ALL && (outputs & OUT_LOSS) ? " loss" : "",
        with_totals ? ", totals as accumulate2" : "");
    if (!r) return PP_ERR_OUT_OF_MEMORY;
    const size_t total = batch * classes;
    scratch s = {.ctx = ctx};
    float *z = sc_host(&s, total * 4), *err = sc_host(&s, total * 4),
          *loss = sc_host(&s, batch * 4), *correct = sc_host(&s, batch * 4),
          *ref_err = sc_host(&s, total * 4), *ref_loss = sc_host(&s, batch * 4),
          *ref_correct = sc_host(&s, batch * 4);
    int32_t *labels = sc_host(&s, batch * 4);
    if (s.status != PP_OK) return sc_end(&s);
    fill_labels(labels, batch, classes, 3);
    fill_uniform(z, total, large ? -1000.0f : -6.0f, large ? 1000.0f : 6.0f, 4);
    if (large) /* the label's logit at either extreme */
        for (size_t i = 0; i < batch; i++)
            z[i * classes + labels[i]] = i % 2 ? -1000.0f : 1000.0f;
    rt_buf *bz = sc_dev(&s, total * 4, z), *bl = sc_dev(&s, batch * 4, labels),
           *be = sc_dev(&s, total * 4, NULL), *bloss = sc_dev(&s, batch * 4, NULL),
           *bc = sc_dev(&s, batch * 4, NULL);
    if (s.status != PP_OK) return sc_end(&s);
    rt_buf *de = outputs & OUT_ERR ? be : NULL, *dl = outputs & OUT_LOSS ? bloss : NULL,
           *dc = outputs & OUT_CORRECT ? bc : NULL;
    const float start[4] = {0.5f, 1.25f, -3.0f, 7.0f}; /* totals already running */
    rt_buf *bacc = sc_dev(&s, sizeof start, start), *bacc2 = sc_dev(&s, sizeof start, start);
    if (s.status != PP_OK) return sc_end(&s);
    const op_totals totals = {.acc = bacc, .at = 1};
    const op_totals *t = with_totals ? &totals : NULL;
    pp_status op = sigmoid ? op_sigmoid_error(ctx, batch, classes, bz, bl, de, dl, dc, t)
                           : op_softmax_error(ctx, batch, classes, bz, bl, de, dl, dc, t);
    if (op == PP_OK && with_totals) op = op_accumulate2(ctx, batch, bloss, bc, bacc2, 1);
    (sigmoid ? ref_sigmoid_error : ref_softmax_error)(batch, classes, z, labels, ref_err, ref_loss,
                                                      ref_correct);
    if (op_failed(&s, r, op)) return sc_end(&s);
    sc_read(&s, be, err, total * 4);
    sc_read(&s, bloss, loss, batch * 4);
    sc_read(&s, bc, correct, batch * 4);
    if (s.status != PP_OK) return sc_end(&s);
    /* Buffers not asked for must stay untouched (zero). */
    if (!(outputs & OUT_ERR)) memset(ref_err, 0, total * 4);
    if (!(outputs & OUT_LOSS)) memset(ref_loss, 0, batch * 4);
    if (!(outputs & OUT_CORRECT)) memset(ref_correct, 0, batch * 4);
    /* exp/log are a few ulp; sigmoid's loss sums up to 100 non-negative float
     * terms (<= 100 eps relative = 6e-6), so it gets 2e-5. correct is exact. */
    ref_compare(err, ref_err, total, sigmoid ? 2e-5 : 1e-5, r);
    compare_more(loss, ref_loss, batch, r);
    compare_more(correct, ref_correct, batch, r);
    if (with_totals) {
        float acc[4], acc2[4];
        sc_read(&s, bacc, acc, sizeof acc);
        sc_read(&s, bacc2, acc2, sizeof acc2);
        if (s.status == PP_OK && memcmp(acc, acc2, sizeof acc) != 0) r->pass = 0;
    }
    return sc_end(&s);
}

static pp_status check_onehot(rt_context *ctx, ref_check_list *list, size_t batch, size_t classes,
                              float value) {
    ref_check_result *r =
        ref_check_list_add(list, "onehot", "%zux%zu value=%g", batch, classes, (double)value);
    if (!r) return PP_ERR_OUT_OF_MEMORY;
    const size_t total = batch * classes;
    scratch s = {.ctx = ctx};
    float *out = sc_host(&s, total * 4), *ref = sc_host(&s, total * 4);
    int32_t *labels = sc_host(&s, batch * 4);
    if (s.status != PP_OK) return sc_end(&s);
    fill_labels(labels, batch, classes, 5);
    rt_buf *bl = sc_dev(&s, batch * 4, labels), *bo = sc_dev(&s, total * 4, NULL);
    if (s.status == PP_OK) /* stale values must be overwritten */
        s.status = op_fill(ctx, total, 7.0f, bo);
    if (s.status != PP_OK) return sc_end(&s);
    if (op_failed(&s, r, op_onehot(ctx, batch, classes, bl, value, bo))) return sc_end(&s);
    ref_onehot(batch, classes, labels, value, ref);
    sc_read(&s, bo, out, total * 4);
    if (s.status == PP_OK) ref_compare(out, ref, total, 0.0, r);
    return sc_end(&s);
}

static pp_status check_accumulate2(rt_context *ctx, ref_check_list *list, size_t n) {
    ref_check_result *r = ref_check_list_add(list, "accumulate2", "n=%zu twice", n);
    if (!r) return PP_ERR_OUT_OF_MEMORY;
    scratch s = {.ctx = ctx};
    float *a = sc_host(&s, n * 4), *b = sc_host(&s, n * 4);
    if (s.status != PP_OK) return sc_end(&s);
    fill_uniform(a, n, 0.0f, 3.0f, 6);
    for (size_t i = 0; i < n; i++)
        b[i] = (float)(i % 3 == 0);
    const float acc0[4] = {-1.0f, 10.0f, 20.0f, -1.0f};
    rt_buf *ba = sc_dev(&s, n * 4, a), *bb = sc_dev(&s, n * 4, b), *bacc = sc_dev(&s, 16, acc0);
    if (s.status != PP_OK) return sc_end(&s);
    pp_status op = op_accumulate2(ctx, n, ba, bb, bacc, 1);
    if (op == PP_OK) op = op_accumulate2(ctx, n, ba, bb, bacc, 1);
    if (op_failed(&s, r, op)) return sc_end(&s);
    float acc[4];
    sc_read(&s, bacc, acc, sizeof acc);
    const float ref[4] = {-1.0f, (float)(10.0 + 2 * ref_sum(n, a)),
                          (float)(20.0 + 2 * ref_sum(n, b)), -1.0f};
    /* Float tree sums of at most ~1000 terms of one sign: far below 1e-5. */
    if (s.status == PP_OK) ref_compare(acc, ref, 4, 1e-5, r);
    return sc_end(&s);
}

enum { EW_SUB, EW_AXPBY, EW_AXPBY_BETA0, EW_FILL, EW_UNIFORM, EW_SGD };

static pp_status check_elementwise(rt_context *ctx, ref_check_list *list, int kind, size_t n) {
    static const char *names[] = {"sub", "axpby", "axpby", "fill", "uniform", "sgd_momentum"};
    ref_check_result *r = ref_check_list_add(list, names[kind], "n=%zu%s", n,
                                             kind == EW_AXPBY_BETA0 ? " beta=0 over NaN" : "");
    if (!r) return PP_ERR_OUT_OF_MEMORY;
    const size_t bytes = n * sizeof(float);
    scratch s = {.ctx = ctx};
    float *a = sc_host(&s, bytes), *b = sc_host(&s, bytes), *c = sc_host(&s, bytes),
          *out = sc_host(&s, bytes), *out2 = sc_host(&s, bytes);
    if (s.status != PP_OK) return sc_end(&s);
    fill_uniform(a, n, -1.0f, 1.0f, 7);
    fill_uniform(b, n, -1.0f, 1.0f, 8);
    fill_uniform(c, n, -0.1f, 0.1f, 9);
    if (kind == EW_AXPBY_BETA0)
        for (size_t i = 0; i < n; i++)
            b[i] = NAN;
    rt_buf *ba = sc_dev(&s, bytes, a), *bb = sc_dev(&s, bytes, b), *bc = sc_dev(&s, bytes, c);
    if (s.status != PP_OK) return sc_end(&s);
    pp_status op = PP_OK;
    rt_buf *result = bb;
    double tol = 0.0; /* element-wise float arithmetic, unfused: exact */
    switch (kind) {
    case EW_SUB:
        op = op_sub(ctx, n, ba, bb, bc);
        ref_sub(n, a, b, c);
        result = bc;
        break;
    case EW_AXPBY:
    case EW_AXPBY_BETA0: {
        const float beta = kind == EW_AXPBY ? -0.75f : 0.0f;
        op = op_axpby(ctx, n, 1.5f, ba, beta, bb);
        ref_axpby(n, 1.5f, a, beta, b);
        break;
    }
    case EW_FILL:
        op = op_fill(ctx, n, -2.5f, bb);
        for (size_t i = 0; i < n; i++)
            b[i] = -2.5f;
        break;
    case EW_UNIFORM: /* bit-identical to the host's Philox */
        op = op_uniform(ctx, n, -0.2f, 0.6f, 0xFEEDFACECAFEBEEFull, 3, bb);
        ref_uniform(n, -0.2f, 0.6f, 0xFEEDFACECAFEBEEFull, 3, b);
        break;
    case EW_SGD: /* w = a, v = b, g = c; compare w then v */
        op = op_sgd_momentum(ctx, n, 0.1f, 0.9f, 1e-4f, ba, bb, bc);
        ref_sgd_momentum(n, 0.1f, 0.9f, 1e-4f, a, b, c);
        result = ba;
        tol = 1e-6; /* the compiler may fuse mu v + lr (...) into an fma */
        break;
    }
    if (op_failed(&s, r, op)) return sc_end(&s);
    sc_read(&s, result, out, bytes);
    if (kind == EW_SGD) sc_read(&s, bb, out2, bytes);
    if (s.status != PP_OK) return sc_end(&s);
    const float *ref = kind == EW_SUB ? c : (kind == EW_SGD ? a : b);
    ref_compare(out, ref, n, tol, r);
    if (kind == EW_SGD) compare_more(out2, b, n, r);
    return sc_end(&s);
}

void ref_weight_project(size_t rows, size_t cols, size_t classes, const float *w, const float *ft,
                        float *p) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < classes; j++) {
            double sum = 0.0;
            for (size_t k = 0; k < cols; k++)
                sum += (double)w[r * cols + k] * (double)ft[j * cols + k];
            p[r * classes + j] = (float)sum;
        }
}

/* The three results of check_sgd_project. */
static pp_status project_results(rt_context *ctx, size_t rows, size_t cols, size_t classes,
                                 ref_check_result *r, ref_check_result *same_step,
                                 ref_check_result *same_p) {
    const size_t n = rows * cols, bytes = n * sizeof(float), pb = rows * classes * sizeof(float);
    const size_t fbytes = cols * classes * sizeof(float),
                 layout = op_project_layout_floats(ctx, cols, classes) * sizeof(float);
    scratch s = {.ctx = ctx};
    float *w = sc_host(&s, bytes), *v = sc_host(&s, bytes), *g = sc_host(&s, bytes),
          *f = sc_host(&s, fbytes), *ft = sc_host(&s, fbytes), *p = sc_host(&s, pb),
          *ref_p = sc_host(&s, pb), *out_w = sc_host(&s, bytes), *out_v = sc_host(&s, bytes),
          *out_p = sc_host(&s, pb), *plain_w = sc_host(&s, bytes), *plain_v = sc_host(&s, bytes);
    if (s.status != PP_OK) return sc_end(&s);
    fill_uniform(w, n, -1.0f, 1.0f, 21);
    fill_uniform(v, n, -0.1f, 0.1f, 22);
    fill_uniform(g, n, -0.1f, 0.1f, 23);
    fill_uniform(f, cols * classes, -1.0f, 1.0f, 24);
    for (size_t k = 0; k < cols; k++)
        for (size_t j = 0; j < classes; j++)
            ft[j * cols + k] = f[k * classes + j];
    rt_buf *bw = sc_dev(&s, bytes, w), *bv = sc_dev(&s, bytes, v), *bg = sc_dev(&s, bytes, g),
           *bf = sc_dev(&s, fbytes, f), *bfb = sc_dev(&s, layout, NULL), *bp = sc_dev(&s, pb, NULL),
           *bp2 = sc_dev(&s, pb, NULL), *bw2 = sc_dev(&s, bytes, w), *bv2 = sc_dev(&s, bytes, v);
    if (s.status != PP_OK) return sc_end(&s);
    pp_status op = op_project_layout(ctx, cols, classes, bf, bfb);
    if (op == PP_OK)
        op = op_sgd_momentum_project(ctx, rows, cols, classes, 0.1f, 0.9f, 1e-4f, bw, bv, bg, bfb,
                                     bp);
    if (op == PP_OK) op = op_sgd_momentum(ctx, n, 0.1f, 0.9f, 1e-4f, bw2, bv2, bg);
    if (op == PP_OK) op = op_weight_project(ctx, rows, cols, classes, bw, bfb, bp2);
    same_step->status = same_p->status = op;
    if (op_failed(&s, r, op)) return sc_end(&s);
    sc_read(&s, bw, out_w, bytes);
    sc_read(&s, bv, out_v, bytes);
    sc_read(&s, bp, out_p, pb);
    sc_read(&s, bw2, plain_w, bytes);
    sc_read(&s, bv2, plain_v, bytes);
    sc_read(&s, bp2, p, pb);
    if (s.status != PP_OK) return sc_end(&s);
    ref_sgd_momentum(n, 0.1f, 0.9f, 1e-4f, w, v, g);
    ref_weight_project(rows, cols, classes, w, ft, ref_p);
    /* sums of cols products in float: the GEMM checks' tolerance */
    ref_compare(out_p, ref_p, rows * classes, 1e-4, r);
    compare_more(out_w, w, n, r);
    compare_more(out_v, v, n, r);
    ref_compare(out_w, plain_w, n, 0.0, same_step);
    compare_more(out_v, plain_v, n, same_step);
    ref_compare(p, out_p, rows * classes, 0.0, same_p);
    return sc_end(&s);
}

/* SGD with W F formed in the same pass: against the references, and bit for
 * bit against the plain SGD kernel (w, v) and the product alone (p), which
 * keeps a fused and an unfused step of training identical. */
static pp_status check_sgd_project(rt_context *ctx, ref_check_list *list, size_t rows, size_t cols,
                                   size_t classes) {
    /* filled here, appended at the end (an append may move earlier results) */
    ref_check_result results[3] = {{.status = PP_OK}, {.status = PP_OK}, {.status = PP_OK}};
    pp_status st = project_results(ctx, rows, cols, classes, &results[0], &results[1], &results[2]);
    static const char *ops[] = {"sgd_momentum_project", "sgd_momentum_project", "weight_project"};
    static const char *what[] = {"", ": w, v as sgd_momentum", ": p as the fused pass"};
    for (int i = 0; i < 3; i++) {
        ref_check_result *added = ref_check_list_add(list, ops[i], "%zux%zu, %zu classes%s", rows,
                                                     cols, classes, what[i]);
        if (!added) return PP_ERR_OUT_OF_MEMORY;
        added->max_abs_error = results[i].max_abs_error;
        added->max_rel_error = results[i].max_rel_error;
        added->tolerance = results[i].tolerance;
        added->pass = results[i].pass;
        added->status = results[i].status;
    }
    return st;
}

/* as_float: the float32 dataset variant (the user's own features), unscaled. */
static pp_status check_gather(rt_context *ctx, ref_check_list *list, size_t count,
                              size_t sample_size, size_t samples, size_t idx_off, int as_float) {
    ref_check_result *r =
        ref_check_list_add(list, as_float ? "gather_batch_f32" : "gather_batch",
                           "%zu of %zu x %zu offset %zu", count, samples, sample_size, idx_off);
    if (!r) return PP_ERR_OUT_OF_MEMORY;
    const size_t total = count * sample_size;
    scratch s = {.ctx = ctx};
    uint8_t *data = sc_host(&s, samples * sample_size), *labels = sc_host(&s, samples);
    float *fdata = sc_host(&s, samples * sample_size * 4);
    int32_t *idx = sc_host(&s, samples * 4), *y = sc_host(&s, count * 4),
            *ref_y = sc_host(&s, count * 4);
    float *x = sc_host(&s, total * 4), *ref_x = sc_host(&s, total * 4),
          *yf = sc_host(&s, count * 4), *ref_yf = sc_host(&s, count * 4);
    if (s.status != PP_OK) return sc_end(&s);
    for (size_t i = 0; i < samples * sample_size; i++)
        data[i] = (uint8_t)(philox_u32(0x5EED, PHILOX_DOMAIN_HOST, 10, 0, (uint32_t)i) >> 24);
    for (size_t i = 0; i < samples * sample_size; i++)
        fdata[i] = ((float)data[i] - 127.5f) * 0.37f; /* negative and fractional values too */
    for (size_t i = 0; i < samples; i++)
        labels[i] = (uint8_t)(i % 100);
    philox_shuffle_i32(idx, samples, 0x5EED, 11);
    const float scale = 1.0f / 255.0f;
    rt_buf *bd = as_float ? sc_dev(&s, samples * sample_size * 4, fdata)
                          : sc_dev(&s, samples * sample_size, data),
           *bl = sc_dev(&s, samples, labels), *bi = sc_dev(&s, samples * 4, idx),
           *bx = sc_dev(&s, total * 4, NULL), *by = sc_dev(&s, count * 4, NULL);
    if (s.status != PP_OK) return sc_end(&s);
    pp_status op =
        as_float ? op_gather_batch_f32(ctx, count, sample_size, bd, bl, bi, idx_off, bx, by)
                 : op_gather_batch(ctx, count, sample_size, bd, bl, bi, idx_off, scale, bx, by);
    if (op_failed(&s, r, op)) return sc_end(&s);
    if (as_float)
        ref_gather_batch_f32(count, sample_size, samples, fdata, labels, idx + idx_off, ref_x,
                             ref_y);
    else
        ref_gather_batch(count, sample_size, samples, data, labels, idx + idx_off, scale, ref_x,
                         ref_y);
    sc_read(&s, bx, x, total * 4);
    sc_read(&s, by, y, count * 4);
    if (s.status != PP_OK) return sc_end(&s);
    for (size_t i = 0; i < count; i++) {
        yf[i] = (float)y[i];
        ref_yf[i] = (float)ref_y[i];
    }
    ref_compare(x, ref_x, total, 0.0, r);
    compare_more(yf, ref_yf, count, r);
    return sc_end(&s);
}

enum { RED_SUM, RED_SUM_SQUARES, RED_DOT };

static pp_status check_reduce(rt_context *ctx, ref_check_list *list, int kind, size_t n) {
    static const char *names[] = {"sum", "sum_squares", "dot"};
    ref_check_result *r = ref_check_list_add(list, names[kind], "n=%zu", n);
    if (!r) return PP_ERR_OUT_OF_MEMORY;
    scratch s = {.ctx = ctx};
    float *a = sc_host(&s, n * 4), *b = sc_host(&s, n * 4);
    if (s.status != PP_OK) return sc_end(&s);
    /* Inputs with a non-zero mean, so |sum| stays within 2x sum(|terms|). */
    fill_uniform(a, n, -0.5f, 1.0f, 12);
    fill_uniform(b, n, 0.0f, 1.0f, 13);
    const float out0[3] = {-7.0f, -7.0f, -7.0f};
    rt_buf *ba = sc_dev(&s, n * 4, a), *bb = sc_dev(&s, n * 4, b), *bo = sc_dev(&s, 12, out0);
    if (s.status != PP_OK) return sc_end(&s);
    pp_status op = kind == RED_SUM           ? op_sum(ctx, n, ba, bo, 1)
                   : kind == RED_SUM_SQUARES ? op_sum_squares(ctx, n, ba, bo, 1)
                                             : op_dot(ctx, n, ba, bb, bo, 1);
    if (op_failed(&s, r, op)) return sc_end(&s);
    float out[3];
    sc_read(&s, bo, out, sizeof out);
    if (s.status != PP_OK) return sc_end(&s);
    const double exact = kind == RED_SUM           ? ref_sum(n, a)
                         : kind == RED_SUM_SQUARES ? ref_sum_squares(n, a)
                                                   : ref_dot(n, a, b);
    const float ref[3] = {-7.0f, (float)exact, -7.0f};
    /* Each term passes through <= ~42 float additions at n = 3M (24 in
     * sequence per work-item, then two trees of 256 and 512), so the error
     * is <= 42 * 2^-24 * sum|terms| = 2.5e-6 sum|terms| <= 5e-6 |sum| here. */
    ref_compare(out, ref, 3, 1e-5, r);
    return sc_end(&s);
}

/* The activation normalisation: x / ||x||_F in double against the operator;
 * zero: an all-zero x (a layer whose units are all dead) must stay zero. */
static pp_status check_normalise(rt_context *ctx, ref_check_list *list, size_t n, int zero) {
    ref_check_result *r =
        ref_check_list_add(list, "normalise_frobenius", "n=%zu%s", n, zero ? " all zero" : "");
    if (!r) return PP_ERR_OUT_OF_MEMORY;
    scratch s = {.ctx = ctx};
    float *x = sc_host(&s, n * 4), *out = sc_host(&s, n * 4), *ref = sc_host(&s, n * 4);
    if (s.status != PP_OK) return sc_end(&s);
    /* ReLU-like activity: a third of the units at zero, the rest in (0, 2) */
    fill_uniform(x, n, -1.0f, 2.0f, 15);
    for (size_t i = 0; i < n; i++)
        x[i] = zero || x[i] < 0.0f ? 0.0f : x[i];
    const float sums0[3] = {-7.0f, -7.0f, -7.0f};
    rt_buf *bx = sc_dev(&s, n * 4, x), *bs = sc_dev(&s, 12, sums0);
    if (s.status != PP_OK) return sc_end(&s);
    if (op_failed(&s, r, op_normalise_frobenius(ctx, n, bx, bs, 1))) return sc_end(&s);
    float sums[3];
    sc_read(&s, bx, out, n * 4);
    sc_read(&s, bs, sums, sizeof sums);
    if (s.status != PP_OK) return sc_end(&s);
    const double sq = ref_sum_squares(n, x), norm = sqrt(sq);
    /* relative to the largest element, so the check does not fade with 1/sqrt(n) */
    double largest = 0.0;
    for (size_t i = 0; i < n; i++) {
        ref[i] = norm > 0 ? (float)(x[i] / norm) : 0.0f;
        largest = fmax(largest, fabs((double)ref[i]));
    }
    const float inv = largest > 0 ? (float)(1.0 / largest) : 1.0f;
    for (size_t i = 0; i < n; i++) {
        out[i] *= inv;
        ref[i] *= inv;
    }
    /* the sum of squares as check_reduce bounds it (5e-6), then a division and
     * a square root (a few ulp): 1e-5 */
    ref_compare(out, ref, n, 1e-5, r);
    const float ref_sums[3] = {-7.0f, (float)sq, -7.0f};
    float rel_sums[3];
    for (int i = 0; i < 3; i++) /* the sum itself, relative to its size */
        rel_sums[i] = sq > 0 && i == 1 ? (float)(sums[i] / sq) : sums[i];
    const float want[3] = {-7.0f, sq > 0 ? 1.0f : ref_sums[1], -7.0f};
    compare_more(rel_sums, want, 3, r);
    return sc_end(&s);
}

static pp_status check_histogram(rt_context *ctx, ref_check_list *list, size_t n, int bins) {
    ref_check_result *r = ref_check_list_add(list, "histogram", "n=%zu bins=%d", n, bins);
    if (!r) return PP_ERR_OUT_OF_MEMORY;
    scratch s = {.ctx = ctx};
    float *x = sc_host(&s, n * 4), *out = sc_host(&s, (size_t)bins * 4),
          *ref = sc_host(&s, (size_t)bins * 4);
    uint32_t *counts = sc_host(&s, (size_t)bins * 4), *ref_counts = sc_host(&s, (size_t)bins * 4);
    if (s.status != PP_OK) return sc_end(&s);
    fill_uniform(x, n, -1.5f, 1.5f, 14); /* a sixth below and above [-1, 1) */
    for (size_t i = 0; i < n; i += 97)
        x[i] = NAN;
    rt_buf *bx = sc_dev(&s, n * 4, x), *bc = sc_dev(&s, (size_t)bins * 4, NULL);
    if (s.status == PP_OK) s.status = op_fill(ctx, (size_t)bins, 1.0f, bc); /* stale counts */
    if (s.status != PP_OK) return sc_end(&s);
    if (op_failed(&s, r, op_histogram(ctx, n, bx, -1.0f, 1.0f, bins, bc))) return sc_end(&s);
    ref_histogram(n, x, -1.0f, 1.0f, bins, ref_counts);
    sc_read(&s, bc, counts, (size_t)bins * 4);
    if (s.status != PP_OK) return sc_end(&s);
    for (int i = 0; i < bins; i++) {
        out[i] = (float)counts[i]; /* exact: counts < 2^24 */
        ref[i] = (float)ref_counts[i];
    }
    ref_compare(out, ref, (size_t)bins, 0.0, r);
    return sc_end(&s);
}

pp_status ref_checks_elementwise(rt_context *ctx, int quick, ref_check_list *list) {
    /* Awkward sizes (1, primes), then the real ones: 1024 x 64 activations,
     * 784 x 1024 and 3072 x 1024 weights. */
    static const size_t act_sizes[] = {1, 7, 997, 65537, 1024 * 64};
    static const size_t vec_sizes[] = {1, 7, 997, 65537, 784 * 1024, 3072 * 1024};
    const size_t n_act = quick ? 3 : 5, n_vec = quick ? 3 : 6;
    static const op_act acts[] = {OP_ACT_IDENTITY, OP_ACT_RELU, OP_ACT_TANH, OP_ACT_SIGMOID};

    for (size_t a = 0; a < 4; a++)
        for (size_t i = 0; i < n_act; i++) {
            PP_TRY(check_act(ctx, list, ACT_FORWARD, acts[a], act_sizes[i], 0.0f, 0));
            PP_TRY(check_act(ctx, list, ACT_BACKWARD, acts[a], act_sizes[i], 0.0f, 0));
            for (int kept = 0; kept < 2; kept++) {
                PP_TRY(check_act(ctx, list, ACT_FORWARD, acts[a], act_sizes[i], 0.1f, kept));
                PP_TRY(check_act(ctx, list, ACT_BACKWARD, acts[a], act_sizes[i], 0.1f, kept));
                PP_TRY(check_act(ctx, list, ACT_FORWARD_DIFF, acts[a], act_sizes[i], 0.1f, kept));
            }
        }
    PP_TRY(check_act(ctx, list, ACT_FORWARD_DIFF, OP_ACT_RELU, 997, 0.0f, 0));
    PP_TRY(check_act(ctx, list, ACT_FORWARD, OP_ACT_RELU, 997, 0.5f, 0));
    PP_TRY(check_act(ctx, list, ACT_FORWARD_DIFF, OP_ACT_RELU, 997, 0.5f, 1));
    /* rows x cols, rank: one element, primes, a rank of 1 and CIFAR-100's 100, then the
     * conv MNIST layer's real shape (100 samples x 32 planes of 24x24, 10 classes). */
    static const size_t lowrank[][3] = {
        {1, 1, 1}, {3, 37, 10}, {7, 101, 1}, {5, 77, 100}, {100, 18432, 10}};
    const size_t n_lowrank = quick ? 4 : 5;
    for (size_t i = 0; i < n_lowrank; i++) {
        PP_TRY(check_act_lowrank(ctx, list, OP_ACT_RELU, lowrank[i][0], lowrank[i][1],
                                 lowrank[i][2], 0.0f));
        PP_TRY(check_act_lowrank(ctx, list, OP_ACT_TANH, lowrank[i][0], lowrank[i][1],
                                 lowrank[i][2], 0.1f));
    }

    /* batch x classes: single sample/class, a last partial batch (37 of 64), real batches. */
    static const size_t shapes[][2] = {{1, 1}, {1, 10}, {7, 10}, {37, 100}, {64, 10}, {100, 100}};
    const size_t n_shapes = quick ? 4 : 6;
    for (int sig = 0; sig < 2; sig++) {
        for (size_t i = 0; i < n_shapes; i++)
            PP_TRY(check_output(ctx, list, sig, shapes[i][0], shapes[i][1], 0, OUT_ALL, 0));
        for (size_t i = 0; i < n_shapes; i++)
            PP_TRY(check_output(ctx, list, sig, shapes[i][0], shapes[i][1], 0, OUT_ALL, 1));
        PP_TRY(check_output(ctx, list, sig, 300, 10, 0, OUT_ALL, 1)); /* more than one group */
        PP_TRY(check_output(ctx, list, sig, 37, 10, 1, OUT_ALL, 0));
        PP_TRY(check_output(ctx, list, sig, 64, 100, 1, OUT_ALL, 0));
        PP_TRY(check_output(ctx, list, sig, 37, 10, 0, OUT_ERR, 0));
        PP_TRY(check_output(ctx, list, sig, 37, 10, 0, OUT_LOSS | OUT_CORRECT, 0));
    }
    PP_TRY(check_onehot(ctx, list, 1, 1, 1.0f));
    PP_TRY(check_onehot(ctx, list, 37, 10, 1.0f));
    PP_TRY(check_onehot(ctx, list, 64, 100, 0.5f));
    static const size_t acc_sizes[] = {1, 37, 64, 997};
    for (size_t i = 0; i < 4; i++)
        PP_TRY(check_accumulate2(ctx, list, acc_sizes[i]));

    for (size_t i = 0; i < n_vec; i++)
        for (int kind = EW_SUB; kind <= EW_SGD; kind++)
            PP_TRY(check_elementwise(ctx, list, kind, vec_sizes[i]));

    /* rows x cols x classes: one of each; odd sizes that leave a tail after
     * the last whole vector (and group); the most classes; MNIST and CIFAR-10's W_1 */
    static const size_t project[][3] = {{1, 1, 1},       {3, 17, 3},      {5, 31, 10},
                                        {2, 100, 16},    {7, 257, 7},     {64, 784, 10},
                                        {1024, 784, 10}, {1024, 3072, 10}};
    for (size_t i = 0; i < (quick ? 6u : 8u); i++)
        PP_TRY(check_sgd_project(ctx, list, project[i][0], project[i][1], project[i][2]));

    for (int as_float = 0; as_float <= 1; as_float++) {
        PP_TRY(check_gather(ctx, list, 1, 7, 5, 0, as_float));
        PP_TRY(check_gather(ctx, list, 37, 784, 101, 64, as_float)); /* last partial batch */
        PP_TRY(check_gather(ctx, list, 64, 784, 200, 128, as_float));
        PP_TRY(check_gather(ctx, list, 9, 20, 13, 3, as_float)); /* feature vectors */
        if (!quick) PP_TRY(check_gather(ctx, list, 100, 3072, 300, 200, as_float));
    }

    PP_TRY(check_reduce(ctx, list, RED_SUM, 0));
    for (size_t i = 0; i < n_vec; i++)
        for (int kind = RED_SUM; kind <= RED_DOT; kind++)
            PP_TRY(check_reduce(ctx, list, kind, vec_sizes[i]));

    /* one element, a prime, a last partial CIFAR batch of 1024 units (37 x 1024), then a
     * full batch (64 x 1024) and the MNIST 784-wide input's batch */
    static const size_t norm_sizes[] = {1, 997, 37 * 1024, 64 * 1024, 100 * 784};
    for (size_t i = 0; i < (quick ? 3u : 5u); i++)
        PP_TRY(check_normalise(ctx, list, norm_sizes[i], 0));
    PP_TRY(check_normalise(ctx, list, 997, 1));

    static const int bins[] = {1, 10, 100, 5000}; /* 5000: too many for local counters */
    for (size_t i = 0; i < n_vec && i < 5; i++)
        for (size_t b = 0; b < 4; b++)
            PP_TRY(check_histogram(ctx, list, vec_sizes[i], bins[b]));
    return PP_OK;
}

double *ref_dropout_factors_double(size_t n, const op_dropout *drop) {
    float *f = malloc(n * sizeof(float));
    double *out = malloc(n * sizeof(double));
    ref_dropout_factor(n, drop, f);
    for (size_t i = 0; i < n; i++)
        out[i] = f[i];
    free(f);
    return out;
}

void ref_normalise_frobenius_double(size_t n, double *x) {
    double sq = 0.0;
    for (size_t i = 0; i < n; i++)
        sq += x[i] * x[i];
    for (size_t i = 0; sq > 0.0 && i < n; i++)
        x[i] /= sqrt(sq);
}
