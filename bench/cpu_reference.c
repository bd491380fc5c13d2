/* The CPU-native reference: one PEPITA or BP FC epoch in plain C with
 * OpenBLAS, as a user would write it: PEPITA as DESIGN.md states the algorithm
 * (two full forward passes, no algebraic shortcut, nothing fused), BP as the
 * textbook backward pass. pepita-cl's epochs are judged against it. */
#include "bench.h"
#include "runtime/error.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct reference {
    const pp_dataset *train, *test;
    int d, h, c, batch;
    int backprop; /* 1: BP's step, 0: PEPITA's */
    float lr, mu, p_drop;
    uint64_t rng;
    float *w1, *w2, *v1, *v2, *f;        /* H x D, C x H, momenta, F: D x C */
    float *x, *xm, *t, *mask;            /* B x D, B x D, B x C, B x H */
    float *h1, *h1m, *z2, *z2m, *e, *dh; /* B x H, B x H, B x C, B x C, B x C, B x H */
    float *dw1, *dw2;
    int32_t *order;
    int epoch;
};

static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float uniform(uint64_t *s, float lo, float hi) {
    return lo + (hi - lo) * (float)((double)(next_u64(s) >> 40) / (double)(1ull << 24));
}

void reference_destroy(reference *r) {
    if (!r) return;
    float *arrays[] = {r->w1, r->w2,  r->v1, r->v2,  r->f, r->x,  r->xm,  r->t,  r->mask,
                       r->h1, r->h1m, r->z2, r->z2m, r->e, r->dh, r->dw1, r->dw2};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        free(arrays[i]);
    free(r->order);
    free(r);
}

pp_status reference_create(const pp_dataset *train, const pp_dataset *test, int backprop,
                           int hidden, int batch, float lr, float momentum, float dropout,
                           uint64_t seed, reference **out) {
    reference *r = calloc(1, sizeof *r);
    if (!r) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory (reference)");
    r->train = train;
    r->test = test;
    r->d = train->channels * train->height * train->width;
    r->h = hidden;
    r->c = train->classes;
    r->backprop = backprop;
    r->batch = batch;
    r->lr = lr;
    r->mu = momentum;
    r->p_drop = dropout;
    r->rng = seed;
    size_t d = (size_t)r->d, h = (size_t)r->h, c = (size_t)r->c, b = (size_t)batch;
    r->w1 = malloc(h * d * sizeof(float));
    r->w2 = malloc(c * h * sizeof(float));
    r->v1 = calloc(h * d, sizeof(float));
    r->v2 = calloc(c * h, sizeof(float));
    r->f = malloc(d * c * sizeof(float));
    r->x = malloc(b * d * sizeof(float));
    r->xm = malloc(b * d * sizeof(float));
    r->t = malloc(b * c * sizeof(float));
    r->mask = malloc(b * h * sizeof(float));
    r->h1 = malloc(b * h * sizeof(float));
    r->h1m = malloc(b * h * sizeof(float));
    r->z2 = malloc(b * c * sizeof(float));
    r->z2m = malloc(b * c * sizeof(float));
    r->e = malloc(b * c * sizeof(float));
    r->dh = malloc(b * h * sizeof(float));
    r->dw1 = malloc(h * d * sizeof(float));
    r->dw2 = malloc(c * h * sizeof(float));
    size_t n = train->n > test->n ? train->n : test->n;
    r->order = malloc(n * sizeof(int32_t));
    if (!r->w1 || !r->w2 || !r->v1 || !r->v2 || !r->f || !r->x || !r->xm || !r->t || !r->mask ||
        !r->h1 || !r->h1m || !r->z2 || !r->z2m || !r->e || !r->dh || !r->dw1 || !r->dw2 ||
        !r->order) {
        reference_destroy(r);
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory (reference)");
    }
    /* He uniform weights; F ~ U(-a, a), a = 0.05 sqrt(6 / d) */
    float b1 = sqrtf(6.0f / (float)d), b2 = sqrtf(6.0f / (float)h), bf = 0.05f * b1;
    for (size_t i = 0; i < h * d; i++)
        r->w1[i] = uniform(&r->rng, -b1, b1);
    for (size_t i = 0; i < c * h; i++)
        r->w2[i] = uniform(&r->rng, -b2, b2);
    for (size_t i = 0; i < d * c; i++)
        r->f[i] = uniform(&r->rng, -bf, bf);
    *out = r;
    return PP_OK;
}

/* Loads samples order[0..count) of a split into x and the one-hot t. */
static void load_batch(reference *r, const pp_dataset *s, const int32_t *order, int count) {
    size_t d = (size_t)r->d, c = (size_t)r->c;
    for (int i = 0; i < count; i++) {
        const uint8_t *px = s->pixels + (size_t)order[i] * d;
        for (size_t k = 0; k < d; k++)
            r->x[(size_t)i * d + k] = (float)px[k] / 255.0f;
        for (size_t k = 0; k < c; k++)
            r->t[(size_t)i * c + k] = k == s->labels[order[i]] ? 1.0f : 0.0f;
    }
}

/* out (B x N) = in (B x K) W^T, W is N x K. */
static void dense(int b, int n, int k, const float *in, const float *w, float *out) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, n, k, 1.0f, in, k, w, k, 0.0f, out, n);
}

/* Softmax rows of z into e = p - t; adds the loss and correct count. */
static void softmax_error(reference *r, int count, const float *z, double *loss, double *correct) {
    int c = r->c;
    for (int i = 0; i < count; i++) {
        const float *zi = z + (size_t)i * c;
        const float *ti = r->t + (size_t)i * c;
        float *ei = r->e + (size_t)i * c;
        int arg = 0;
        for (int k = 1; k < c; k++)
            if (zi[k] > zi[arg]) arg = k;
        double sum = 0;
        for (int k = 0; k < c; k++)
            sum += exp((double)(zi[k] - zi[arg]));
        for (int k = 0; k < c; k++) {
            float p = (float)(exp((double)(zi[k] - zi[arg])) / sum);
            ei[k] = p - ti[k];
            if (ti[k] > 0.5f) {
                *loss -= log(p > 1e-30f ? (double)p : 1e-30);
                *correct += k == arg;
            }
        }
    }
}

/* v = mu v + lr dW; W -= v. */
static void sgd(reference *r, size_t n, float *w, float *v, const float *dw) {
    for (size_t i = 0; i < n; i++) {
        v[i] = r->mu * v[i] + r->lr * dw[i];
        w[i] -= v[i];
    }
}

/* The standard pass: h1 = relu(x W1^T) * mask (a fresh mask), z2 = h1 W2^T, e = p - t. */
static void forward(reference *r, int b, double *loss, double *correct) {
    size_t bh = (size_t)b * r->h;
    float keep = 1.0f / (1.0f - r->p_drop);
    dense(b, r->h, r->d, r->x, r->w1, r->h1);
    for (size_t i = 0; i < bh; i++) {
        r->mask[i] = uniform(&r->rng, 0.0f, 1.0f) >= r->p_drop ? keep : 0.0f;
        r->h1[i] = (r->h1[i] > 0.0f ? r->h1[i] : 0.0f) * r->mask[i];
    }
    dense(b, r->c, r->h, r->h1, r->w2, r->z2);
    softmax_error(r, b, r->z2, loss, correct);
}

/* dW1 = dh^T pre1 / B, dW2 = e^T pre2 / B, then the SGD steps. */
static void update(reference *r, int b, const float *pre1, const float *pre2) {
    int d = r->d, h = r->h, c = r->c;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, h, d, b, 1.0f / (float)b, r->dh, h, pre1,
                d, 0.0f, r->dw1, d);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, h, b, 1.0f / (float)b, r->e, c, pre2, h,
                0.0f, r->dw2, h);
    sgd(r, (size_t)h * d, r->w1, r->v1, r->dw1);
    sgd(r, (size_t)c * h, r->w2, r->v2, r->dw2);
}

static void pepita_step(reference *r, int b, double *loss, double *correct) {
    int d = r->d, h = r->h, c = r->c;
    size_t bh = (size_t)b * h;
    forward(r, b, loss, correct);
    /* modulated pass: x' = x + e F^T, same layers, same mask */
    memcpy(r->xm, r->x, (size_t)b * d * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, d, c, 1.0f, r->e, c, r->f, c, 1.0f,
                r->xm, d);
    dense(b, h, d, r->xm, r->w1, r->h1m);
    for (size_t i = 0; i < bh; i++)
        r->h1m[i] = (r->h1m[i] > 0.0f ? r->h1m[i] : 0.0f) * r->mask[i];
    dense(b, c, h, r->h1m, r->w2, r->z2m);
    /* updates: dW1 = (h1 - h1')^T x' / B, dW2 = e^T h1' / B */
    for (size_t i = 0; i < bh; i++)
        r->dh[i] = r->h1[i] - r->h1m[i];
    update(r, b, r->xm, r->h1m);
}

static void bp_step(reference *r, int b, double *loss, double *correct) {
    size_t bh = (size_t)b * r->h;
    forward(r, b, loss, correct);
    /* dh = (e W2) through the dropout mask and ReLU (h1 > 0 where both pass) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, r->h, r->c, 1.0f, r->e, r->c, r->w2,
                r->h, 0.0f, r->dh, r->h);
    for (size_t i = 0; i < bh; i++)
        r->dh[i] = r->h1[i] > 0.0f ? r->dh[i] * r->mask[i] : 0.0f;
    update(r, b, r->x, r->h1);
}

static double test_accuracy(reference *r) {
    const pp_dataset *s = r->test;
    double loss = 0, correct = 0;
    for (size_t i = 0; i < s->n; i++)
        r->order[i] = (int32_t)i;
    for (size_t start = 0; start < s->n; start += (size_t)r->batch) {
        int b = (int)(s->n - start < (size_t)r->batch ? s->n - start : (size_t)r->batch);
        load_batch(r, s, r->order + start, b);
        dense(b, r->h, r->d, r->x, r->w1, r->h1);
        for (size_t i = 0; i < (size_t)b * r->h; i++)
            r->h1[i] = r->h1[i] > 0.0f ? r->h1[i] : 0.0f;
        dense(b, r->c, r->h, r->h1, r->w2, r->z2);
        softmax_error(r, b, r->z2, &loss, &correct);
    }
    return correct / (double)s->n;
}

pp_status reference_epoch(reference *r, reference_result *out) {
    const pp_dataset *s = r->train;
    double start = bench_now();
    /* Fisher-Yates shuffle */
    for (size_t i = 0; i < s->n; i++)
        r->order[i] = (int32_t)i;
    for (size_t i = s->n - 1; i > 0; i--) {
        size_t j = (size_t)(next_u64(&r->rng) % (i + 1));
        int32_t tmp = r->order[i];
        r->order[i] = r->order[j];
        r->order[j] = tmp;
    }
    double loss = 0, correct = 0;
    for (size_t b0 = 0; b0 < s->n; b0 += (size_t)r->batch) {
        int b = (int)(s->n - b0 < (size_t)r->batch ? s->n - b0 : (size_t)r->batch);
        load_batch(r, s, r->order + b0, b);
        if (r->backprop)
            bp_step(r, b, &loss, &correct);
        else
            pepita_step(r, b, &loss, &correct);
    }
    out->seconds = bench_now() - start;
    out->train_loss = loss / (double)s->n;
    out->train_accuracy = correct / (double)s->n;
    out->test_accuracy = test_accuracy(r);
    r->epoch++;
    return isfinite(out->train_loss)
               ? PP_OK
               : pp_fail(PP_ERR_NUMERIC, "the CPU reference's loss is not finite");
}
