/* Weight mirroring's F = B_1 ... B_L and its mirroring step in double, from
 * the equations (ref_weight_mirroring.h). */
#include "ref_weight_mirroring.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/philox.h"
#include "ref_elementwise.h"
#include "ref_mirror.h"

/* y (batch x out) = x (batch x in) W^T, W out x in. */
static void dense(int batch, int in, int out, const double *x, const double *w, double *y) {
    for (int r = 0; r < batch; r++)
        for (int o = 0; o < out; o++) {
            double s = 0.0;
            for (int i = 0; i < in; i++)
                s += x[(size_t)r * in + i] * w[(size_t)o * in + i];
            y[(size_t)r * out + o] = s;
        }
}

static void softmax_rows(int batch, int classes, double *z) {
    for (int r = 0; r < batch; r++) {
        double *row = z + (size_t)r * classes, m = row[0], sum = 0.0;
        for (int j = 1; j < classes; j++)
            m = row[j] > m ? row[j] : m;
        for (int j = 0; j < classes; j++)
            sum += exp(row[j] - m);
        for (int j = 0; j < classes; j++)
            row[j] = exp(row[j] - m) / sum;
    }
}

void ref_mirror_product(const ref_net *n, double *const *b, double *f) {
    int L = n->n_layers, C = n->classes;
    /* left to right: t = B_1 ... B_l, in_0 x out_l */
    size_t d = (size_t)n->in[0];
    double *t = malloc(d * n->out[0] * sizeof *t);
    memcpy(t, b[0], d * n->out[0] * sizeof *t);
    for (int l = 1; l < L; l++) {
        double *next = calloc(d * n->out[l], sizeof *next);
        for (size_t i = 0; i < d; i++)
            for (int k = 0; k < n->in[l]; k++)
                for (int j = 0; j < n->out[l]; j++)
                    next[i * n->out[l] + j] +=
                        t[i * n->in[l] + k] * b[l][(size_t)k * n->out[l] + j];
        free(t);
        t = next;
    }
    memcpy(f, t, d * C * sizeof *f);
    free(t);
}

void ref_mirror_step(const ref_net *n, double **b, double *f, double lr, double decay,
                     float noise_std, float dropout, int normalise, uint64_t seed, uint32_t step,
                     double target_std) {
    int L = n->n_layers, N = n->batch;
    for (int l = 0; l < L; l++) {
        int I = n->in[l], O = n->out[l];
        size_t nx = (size_t)N * I, ny = (size_t)N * O;
        float *noise = malloc(nx * sizeof *noise);
        ref_normal(nx, noise_std, seed, step, 1u + (uint32_t)l, noise);
        double *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y), mean = 0.0;
        for (size_t i = 0; i < nx; i++)
            mean += noise[i];
        mean /= (double)nx;
        for (size_t i = 0; i < nx; i++)
            x[i] = noise[i] - mean;
        dense(N, I, O, x, n->w[l], y);
        if (l == L - 1) {
            softmax_rows(N, O, y);
        } else {
            float *keep = malloc(ny * sizeof *keep);
            op_dropout d = {.p = dropout, .seed = seed, .step = step, .layer = 64u + (uint32_t)l};
            ref_dropout_factor(ny, &d, keep);
            for (size_t i = 0; i < ny; i++)
                y[i] = (y[i] > 0.0 ? y[i] : 0.0) * keep[i];
            if (normalise) ref_normalise_frobenius_double(ny, y);
            free(keep);
        }
        for (int i = 0; i < I; i++)
            for (int o = 0; o < O; o++) {
                double s = 0.0;
                for (int r = 0; r < N; r++)
                    s += x[(size_t)r * I + i] * y[(size_t)r * O + o];
                double *bio = &b[l][(size_t)i * O + o];
                *bio = (1.0 - lr * decay) * *bio + lr * s / N;
            }
        free(noise);
        free(x);
        free(y);
    }
    size_t nf = (size_t)n->in[0] * n->classes;
    ref_mirror_product(n, b, f);
    double sum = 0.0, sq = 0.0;
    for (size_t i = 0; i < nf; i++)
        sum += f[i];
    for (size_t i = 0; i < nf; i++)
        sq += (f[i] - sum / nf) * (f[i] - sum / nf);
    double scale = pow(target_std / sqrt(sq / (double)(nf - 1)), 1.0 / L);
    for (int l = 0; l < L; l++)
        for (size_t i = 0; i < (size_t)n->in[l] * n->out[l]; i++)
            b[l][i] *= scale;
    ref_mirror_product(n, b, f);
}
