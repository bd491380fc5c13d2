/* The rule tests' host model in double precision, straight from the equations. */
#include "ref_network.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ref_acts {
    double *z[REF_NET_MAX_LAYERS]; /* pre-activations (conv: batch x F x oh x ow) */
    double *h[REF_NET_MAX_LAYERS]; /* outputs (conv: pooled); the last layer's = z */
    int *argmax[REF_NET_MAX_LAYERS];
} ref_acts;

void ref_net_init(ref_net *net, const pp_config *c, int in_c, int in_h, int in_w, int classes,
                  int batch) {
    memset(net, 0, sizeof *net);
    net->batch = batch;
    net->classes = classes;
    net->in_c = in_c;
    net->in_h = in_h;
    net->in_w = in_w;
    net->tanh_sigmoid = c->rule == PP_RULE_DRTP;
    int in = in_c * in_h * in_w;
    if (c->model == PP_MODEL_CONV) {
        net->conv = 1;
        net->filters = c->conv_filters;
        net->kernel = c->conv_kernel;
        int oh = in_h - c->conv_kernel + 1, ow = in_w - c->conv_kernel + 1;
        net->in[0] = in;
        net->out[0] = c->conv_filters * (oh / 2) * (ow / 2);
        in = net->out[0];
        net->n_layers = 1;
    } else {
        for (int i = 0; i < c->n_hidden; i++) {
            net->in[net->n_layers] = in;
            net->out[net->n_layers++] = c->hidden[i];
            in = c->hidden[i];
        }
    }
    net->in[net->n_layers] = in;
    net->out[net->n_layers++] = classes;
}

int ref_net_weights(const ref_net *net, int l) {
    if (l == 0 && net->conv) return net->filters * net->in_c * net->kernel * net->kernel;
    return net->in[l] * net->out[l];
}

static int conv_oh(const ref_net *n) {
    return n->in_h - n->kernel + 1;
}
static int conv_ow(const ref_net *n) {
    return n->in_w - n->kernel + 1;
}
/* Pre-activation values per sample of layer l. */
static int units(const ref_net *n, int l) {
    return l == 0 && n->conv ? n->filters * conv_oh(n) * conv_ow(n) : n->out[l];
}

static double act(const ref_net *n, double z) {
    return n->tanh_sigmoid ? tanh(z) : (z > 0 ? z : 0);
}
static double act_grad(const ref_net *n, double z) {
    if (n->tanh_sigmoid) {
        double t = tanh(z);
        return 1 - t * t;
    }
    return z > 0 ? 1 : 0;
}

static void conv_forward(const ref_net *n, const double *x, double *z) {
    int oh = conv_oh(n), ow = conv_ow(n), k = n->kernel, C = n->in_c;
    for (int b = 0; b < n->batch; b++)
        for (int f = 0; f < n->filters; f++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double s = 0;
                    for (int c = 0; c < C; c++)
                        for (int i = 0; i < k; i++)
                            for (int j = 0; j < k; j++)
                                s += n->w[0][((f * C + c) * k + i) * k + j] *
                                     x[((size_t)(b * C + c) * n->in_h + oy + i) * n->in_w + ox + j];
                    z[((b * n->filters + f) * oh + oy) * ow + ox] = s;
                }
}

/* Max over each 2x2 window of act(z); argmax is the flat index within the plane. */
static void pool_forward(const ref_net *n, const double *z, double *h, int *argmax) {
    int oh = conv_oh(n), ow = conv_ow(n), ph = oh / 2, pw = ow / 2;
    for (int p = 0; p < n->batch * n->filters; p++)
        for (int py = 0; py < ph; py++)
            for (int px = 0; px < pw; px++) {
                int best = -1;
                double m = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        int idx = (2 * py + dy) * ow + 2 * px + dx;
                        double v = act(n, z[(size_t)p * oh * ow + idx]);
                        if (best < 0 || v > m) best = idx, m = v;
                    }
                h[(p * ph + py) * pw + px] = m;
                argmax[(p * ph + py) * pw + px] = best;
            }
}

static void forward(const ref_net *n, const double *x, ref_acts *a) {
    const double *in = x;
    for (int l = 0; l < n->n_layers; l++) {
        a->z[l] = calloc((size_t)n->batch * units(n, l), sizeof(double));
        a->h[l] = calloc((size_t)n->batch * n->out[l], sizeof(double));
        if (l == 0 && n->conv) {
            a->argmax[l] = calloc((size_t)n->batch * n->out[l], sizeof(int));
            conv_forward(n, in, a->z[l]);
            pool_forward(n, a->z[l], a->h[l], a->argmax[l]);
        } else {
            int I = n->in[l], O = n->out[l], last = l == n->n_layers - 1;
            for (int b = 0; b < n->batch; b++)
                for (int o = 0; o < O; o++) {
                    double s = 0;
                    for (int i = 0; i < I; i++)
                        s += in[(size_t)b * I + i] * n->w[l][(size_t)o * I + i];
                    size_t at = (size_t)b * O + o;
                    a->z[l][at] = s;
                    double f = n->drop[l] && !last ? n->drop[l][at] : 1;
                    a->h[l][at] = last ? s : act(n, s) * f;
                }
        }
        in = a->h[l];
    }
}

static void free_acts(const ref_net *n, ref_acts *a) {
    for (int l = 0; l < n->n_layers; l++) {
        free(a->z[l]);
        free(a->h[l]);
        free(a->argmax[l]);
    }
}

/* err = softmax(z) - t (or sigmoid(z) - t); returns the mean loss. */
static double output_error(const ref_net *n, const double *z, const int32_t *labels, double *err) {
    int C = n->classes;
    double total = 0;
    for (int b = 0; b < n->batch; b++) {
        const double *zb = z + (size_t)b * C;
        double *e = err + (size_t)b * C;
        if (n->tanh_sigmoid) {
            for (int j = 0; j < C; j++) {
                double t = j == labels[b], s = 1 / (1 + exp(-zb[j]));
                e[j] = s - t;
                total -= t * log(s) + (1 - t) * log(1 - s);
            }
        } else {
            double m = zb[0], sum = 0;
            for (int j = 1; j < C; j++)
                m = zb[j] > m ? zb[j] : m;
            for (int j = 0; j < C; j++)
                sum += exp(zb[j] - m);
            for (int j = 0; j < C; j++)
                e[j] = exp(zb[j] - m) / sum - (j == labels[b]);
            total += m + log(sum) - zb[labels[b]];
        }
    }
    return total / n->batch;
}

double ref_net_loss(const ref_net *n, const double *x, const int32_t *labels) {
    ref_acts a = {0};
    forward(n, x, &a);
    double *err = malloc((size_t)n->batch * n->classes * sizeof(double));
    double loss = output_error(n, a.z[n->n_layers - 1], labels, err);
    free(err);
    free_acts(n, &a);
    return loss;
}

/* g (O x I) = (1/B) delta^T in. */
static void dense_update(const ref_net *n, int l, const double *delta, const double *in,
                         double *g) {
    int I = n->in[l], O = n->out[l];
    for (int o = 0; o < O; o++)
        for (int i = 0; i < I; i++) {
            double s = 0;
            for (int b = 0; b < n->batch; b++)
                s += delta[(size_t)b * O + o] * in[(size_t)b * I + i];
            g[(size_t)o * I + i] = s / n->batch;
        }
}

/* dh (B x cols) = d (B x rows) M (rows x cols). */
static void project(int batch, int rows, int cols, const double *d, const double *m, double *dh) {
    for (int b = 0; b < batch; b++)
        for (int c = 0; c < cols; c++) {
            double s = 0;
            for (int r = 0; r < rows; r++)
                s += d[(size_t)b * rows + r] * m[(size_t)r * cols + c];
            dh[(size_t)b * cols + c] = s;
        }
}

/* Layer 0's conv weight gradient from d, the signal at its pre-activations
 * (batch x filters x oh x ow). */
static void conv_update(const ref_net *n, const double *d, const double *in, double *g) {
    int oh = conv_oh(n), ow = conv_ow(n), k = n->kernel, C = n->in_c;
    for (int f = 0; f < n->filters; f++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++) {
                    double s = 0;
                    for (int b = 0; b < n->batch; b++)
                        for (int oy = 0; oy < oh; oy++)
                            for (int ox = 0; ox < ow; ox++)
                                s +=
                                    d[((b * n->filters + f) * oh + oy) * ow + ox] *
                                    in[((size_t)(b * C + c) * n->in_h + oy + i) * n->in_w + ox + j];
                    g[((f * C + c) * k + i) * k + j] = s / n->batch;
                }
}

/* Hidden layer l's update from the signal dh at its output; leaves delta
 * (dense layers) for the layer below. */
static void hidden_update(const ref_net *n, int l, const ref_acts *a, const double *in,
                          const double *dh, double *delta, double *g) {
    if (l == 0 && n->conv) {
        int oh = conv_oh(n), ow = conv_ow(n), ppl = n->out[0] / n->filters;
        size_t nu = (size_t)n->batch * units(n, 0);
        double *d = calloc(nu, sizeof(double));
        for (int p = 0; p < n->batch * n->filters; p++)
            for (int q = 0; q < ppl; q++) {
                int idx = a->argmax[0][p * ppl + q];
                size_t at = (size_t)p * oh * ow + idx;
                d[at] += dh[p * ppl + q] * act_grad(n, a->z[0][at]);
            }
        conv_update(n, d, in, g);
        free(d);
        return;
    }
    size_t count = (size_t)n->batch * n->out[l];
    for (size_t i = 0; i < count; i++)
        delta[i] = dh[i] * act_grad(n, a->z[l][i]) * (n->drop[l] ? n->drop[l][i] : 1);
    dense_update(n, l, delta, in, g);
}

void ref_net_updates(const ref_net *n, pp_rule_kind rule, const double *x, const int32_t *labels,
                     const double *const *feedback, double **g) {
    ref_acts a = {0};
    forward(n, x, &a);
    int L = n->n_layers - 1, B = n->batch, C = n->classes;
    double *err = malloc((size_t)B * C * sizeof(double));
    output_error(n, a.z[L], labels, err);
    dense_update(n, L, err, L ? a.h[L - 1] : x, g[L]);

    double *target = calloc((size_t)B * C, sizeof(double));
    for (int b = 0; b < B; b++)
        target[(size_t)b * C + labels[b]] = 1;
    const double *delta = err; /* the signal of the layer above (BP, FA) */
    double *deltas[REF_NET_MAX_LAYERS] = {0};
    for (int l = L - 1; l >= 0; l--) {
        deltas[l] = malloc((size_t)B * n->out[l] * sizeof(double));
        if (l == 0 && n->conv && (rule == PP_RULE_DFA || rule == PP_RULE_DRTP)) {
            /* the direct signal reaches the conv units before the pooling:
             * B_0 is C x (filters oh ow), nothing is routed through the pool */
            size_t nu = (size_t)B * units(n, 0);
            double *d = malloc(nu * sizeof(double));
            project(B, C, units(n, 0), rule == PP_RULE_DFA ? err : target, feedback[0], d);
            for (size_t i = 0; i < nu; i++)
                d[i] *= act_grad(n, a.z[0][i]);
            conv_update(n, d, x, g[0]);
            free(d);
            continue;
        }
        double *dh = malloc((size_t)B * n->out[l] * sizeof(double));
        if (rule == PP_RULE_BP || rule == PP_RULE_FA)
            project(B, n->out[l + 1], n->out[l], delta,
                    rule == PP_RULE_BP ? n->w[l + 1] : feedback[l + 1], dh);
        else /* DFA: the error; DRTP: the target, straight through B_l (C x out_l) */
            project(B, C, n->out[l], rule == PP_RULE_DFA ? err : target, feedback[l], dh);
        hidden_update(n, l, &a, l ? a.h[l - 1] : x, dh, deltas[l], g[l]);
        delta = deltas[l];
        free(dh);
    }
    for (int l = 0; l < L; l++)
        free(deltas[l]);
    free(target);
    free(err);
    free_acts(n, &a);
}
