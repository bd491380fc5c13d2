/* PEPITA's forms in double precision, from the equations (ref_pepita.h). */
#include "ref_pepita.h"

#include "ref_elementwise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pass {
    double *h[REF_PEPITA_MAX_LAYERS]; /* hidden outputs; the last layer's logits */
} pass;

/* A pass from input x with the current weights; hidden: ReLU, dropout
 * (factors drop[l]), norm. */
static void forward(const ref_pepita *p, const double *x, const double *const *drop, pass *a) {
    const double *in = x;
    for (int l = 0; l < p->n_layers; l++) {
        int I = p->in[l], O = p->out[l], last = l == p->n_layers - 1;
        size_t n = (size_t)p->batch * O;
        a->h[l] = calloc(n, sizeof(double));
        for (int b = 0; b < p->batch; b++)
            for (int o = 0; o < O; o++) {
                double z = 0;
                for (int i = 0; i < I; i++)
                    z += in[(size_t)b * I + i] * p->w[l][(size_t)o * I + i];
                size_t at = (size_t)b * O + o;
                a->h[l][at] = last ? z : (z > 0 ? z : 0) * (drop[l] ? drop[l][at] : 1);
            }
        if (!last && p->normalise) ref_normalise_frobenius_double(n, a->h[l]);
        in = a->h[l];
    }
}

static void free_pass(const ref_pepita *p, pass *a) {
    for (int l = 0; l < p->n_layers; l++)
        free(a->h[l]);
}

/* g (O x I) = alpha post^T pre + beta g, post: batch x O, pre: batch x I. */
static void outer(const ref_pepita *p, int l, double alpha, const double *post, const double *pre,
                  double beta, double *g) {
    int I = p->in[l], O = p->out[l];
    for (int o = 0; o < O; o++)
        for (int i = 0; i < I; i++) {
            double s = 0;
            for (int b = 0; b < p->batch; b++)
                s += post[(size_t)b * O + o] * pre[(size_t)b * I + i];
            g[(size_t)o * I + i] = alpha * s + beta * g[(size_t)o * I + i];
        }
}

void ref_pepita_step(ref_pepita *p, const double *x, const int32_t *labels, double **g) {
    int B = p->batch, C = p->classes, L = p->n_layers - 1, D = p->in[0];
    pass std = {0}, mod = {0};
    forward(p, x, p->drop, &std);
    /* y = softmax(z), t = one-hot, e = y - t */
    double *y = malloc((size_t)B * C * sizeof(double)), *t = calloc((size_t)B * C, sizeof(double)),
           *e = malloc((size_t)B * C * sizeof(double));
    for (int b = 0; b < B; b++) {
        const double *z = std.h[L] + (size_t)b * C;
        double m = z[0], sum = 0;
        for (int j = 1; j < C; j++)
            m = z[j] > m ? z[j] : m;
        for (int j = 0; j < C; j++)
            sum += exp(z[j] - m);
        t[(size_t)b * C + labels[b]] = 1;
        for (int j = 0; j < C; j++) {
            y[(size_t)b * C + j] = exp(z[j] - m) / sum;
            e[(size_t)b * C + j] = y[(size_t)b * C + j] - t[(size_t)b * C + j];
        }
    }
    const double inv = 1.0 / B;
    if (p->form == PP_UPDATE_TIME_LOCAL) {
        /* step with +h_l h_{l-1}^T / B (output y h^T / B) right away */
        for (int l = 0; l <= L; l++) {
            size_t n = (size_t)p->in[l] * p->out[l];
            outer(p, l, inv, l == L ? y : std.h[l], l ? std.h[l - 1] : x, 0, g[l]);
            for (size_t i = 0; i < n; i++) {
                p->v[l][i] =
                    p->momentum * p->v[l][i] + p->lr * (g[l][i] + p->weight_decay * p->w[l][i]);
                p->w[l][i] -= p->v[l][i];
            }
        }
    }
    /* x' = x + sign e F^T, then the modulated pass (on the updated weights for time-local) */
    double *xm = calloc((size_t)B * D, sizeof(double));
    for (int b = 0; b < B; b++)
        for (int j = 0; j < D; j++) {
            double s = x[(size_t)b * D + j];
            double ef = 0;
            for (int k = 0; k < C; k++)
                ef += e[(size_t)b * C + k] * p->f[(size_t)j * C + k];
            xm[(size_t)b * D + j] = s + p->sign * ef;
        }
    const double *drop_mod[REF_PEPITA_MAX_LAYERS] = {0};
    for (int l = 0; l <= L; l++)
        drop_mod[l] = p->drop_mod[l] ? p->drop_mod[l] : p->drop[l];
    forward(p, xm, drop_mod, &mod);
    for (int l = 0; l <= L; l++) {
        const double *pre = l ? std.h[l - 1] : x, *pre_mod = l ? mod.h[l - 1] : xm;
        switch (p->form) {
        case PP_UPDATE_DIFFERENCE:
            if (l == L) {
                outer(p, l, inv, e, pre_mod, 0, g[l]);
            } else {
                size_t n = (size_t)B * p->out[l];
                double *diff = malloc(n * sizeof(double));
                for (size_t i = 0; i < n; i++)
                    diff[i] = std.h[l][i] - mod.h[l][i];
                outer(p, l, inv, diff, pre_mod, 0, g[l]);
                free(diff);
            }
            break;
        case PP_UPDATE_HEBBIAN: /* h h_{l-1}^T - h' h_{l-1}'^T; output y h^T - t h'^T */
            outer(p, l, inv, l == L ? y : std.h[l], pre, 0, g[l]);
            outer(p, l, -inv, l == L ? t : mod.h[l], pre_mod, 1, g[l]);
            break;
        case PP_UPDATE_TIME_LOCAL: /* the second step: -h' h_{l-1}'^T; output -t h'^T */
            outer(p, l, -inv, l == L ? t : mod.h[l], pre_mod, 0, g[l]);
            break;
        }
    }
    free(xm);
    free(y);
    free(t);
    free(e);
    free_pass(p, &std);
    free_pass(p, &mod);
}
