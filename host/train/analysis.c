/* The paper's checks on the dynamics (sections 4.2-4.4): the angle between
 * the flattened product W_L...W_1 and F^T, every layer's Frobenius norm, and
 * weight histograms. Computed on the device; a few scalars come back. */
#include "train/trainer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Scratch space, allocated once with the trainer when analysis is on. */
pp_status trainer_analysis_create(pp_trainer *t) {
    network *net = t->net;
    size_t widest = net->input_size;
    for (int i = 0; i < net->n_layers; i++)
        if (net->layers[i].in > widest) widest = net->layers[i].in;
    PP_TRY(rt_buf_create(t->ctx, widest * net->classes * sizeof(float), &t->analysis_a));
    PP_TRY(rt_buf_create(t->ctx, widest * net->classes * sizeof(float), &t->analysis_b));
    return rt_buf_create(t->ctx,
                         (net->classes * net->classes + 2 * NET_MAX_LAYERS + 2) * sizeof(float),
                         &t->analysis_scalars);
}

void trainer_analysis_destroy(pp_trainer *t) {
    rt_buf_release(t->ctx, &t->analysis_a);
    rt_buf_release(t->ctx, &t->analysis_b);
    rt_buf_release(t->ctx, &t->analysis_scalars);
}

/* P = W_L ... W_1 (classes x input) into t->analysis_a. */
static pp_status weight_product(pp_trainer *t) {
    network *net = t->net;
    size_t c = net->classes;
    rt_buf *p = &t->analysis_a, *next = &t->analysis_b;
    net_layer *last = &net->layers[net->n_layers - 1];
    PP_TRY(rt_buf_copy(t->ctx, &last->w, 0, p, 0, last->n_weights * sizeof(float)));
    for (int i = net->n_layers - 2; i >= 0; i--) {
        net_layer *l = &net->layers[i];
        PP_TRY(op_gemm(t->ctx, OP_NO_TRANS, OP_NO_TRANS, c, l->in, l->out, 1.0f, p, 0, l->out,
                       &l->w, 0, l->in, 0.0f, next, 0, l->in));
        rt_buf *swap = p;
        p = next;
        next = swap;
    }
    if (p != &t->analysis_a)
        PP_TRY(rt_buf_copy(t->ctx, p, 0, &t->analysis_a, 0, c * net->input_size * sizeof(float)));
    return PP_OK;
}

typedef const rt_buf *(*angle_reference_fn)(const rule *r);

pp_status trainer_analyse(pp_trainer *t, pp_epoch_stats *stats) {
    network *net = t->net;
    size_t c = net->classes, d = net->input_size;
    size_t norms_at = c * c; /* scalars: G (c x c), then layer norms, |P|^2, |F|^2 */
    stats->n_norms = net->n_layers;
    stats->angle_degrees = NAN;
    for (int i = 0; i < net->n_layers; i++)
        PP_TRY(op_sum_squares(t->ctx, net->layers[i].n_weights, &net->layers[i].w,
                              &t->analysis_scalars, norms_at + (size_t)i));
    /* the rule's analysis hook: PEPITA's F (input x classes) on FC nets */
    angle_reference_fn reference = t->rule->descriptor->angle_reference;
    const rt_buf *f = reference ? reference(t->rule) : NULL;
    int has_f = f != NULL;
    if (has_f) {
        PP_TRY(weight_product(t));
        /* <P, F^T> = trace(P F) */
        PP_TRY(op_gemm(t->ctx, OP_NO_TRANS, OP_NO_TRANS, c, c, d, 1.0f, &t->analysis_a, 0, d, f, 0,
                       c, 0.0f, &t->analysis_scalars, 0, c));
        PP_TRY(op_sum_squares(t->ctx, c * d, &t->analysis_a, &t->analysis_scalars,
                              norms_at + NET_MAX_LAYERS));
        PP_TRY(
            op_sum_squares(t->ctx, c * d, f, &t->analysis_scalars, norms_at + NET_MAX_LAYERS + 1));
    }
    size_t count = norms_at + NET_MAX_LAYERS + 2;
    float *host = malloc(count * sizeof(float));
    if (!host) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for the analysis");
    pp_status st = rt_buf_read(t->ctx, &t->analysis_scalars, 0, count * sizeof(float), host);
    if (st == PP_OK) {
        for (int i = 0; i < net->n_layers; i++)
            stats->weight_norms[i] = sqrt((double)host[norms_at + (size_t)i]);
        if (has_f) {
            double dot = 0;
            for (size_t k = 0; k < c; k++)
                dot += host[k * c + k];
            double np = sqrt((double)host[norms_at + NET_MAX_LAYERS]);
            double nf = sqrt((double)host[norms_at + NET_MAX_LAYERS + 1]);
            double cosine = np > 0 && nf > 0 ? dot / (np * nf) : 0.0;
            if (cosine > 1) cosine = 1;
            if (cosine < -1) cosine = -1;
            stats->angle_degrees = acos(cosine) * 180.0 / 3.14159265358979323846;
        }
    }
    free(host);
    return st;
}

pp_status pp_trainer_analyse(pp_trainer *t, pp_epoch_stats *stats) {
    if (!t->config.analysis)
        return pp_fail(PP_ERR_ARGUMENT, "the trainer was created without config.analysis");
    return trainer_analyse(t, stats);
}

pp_status pp_trainer_weight_histogram(pp_trainer *t, int layer, int bins, float lo, float hi,
                                      uint32_t *counts) {
    if (layer < 0 || layer >= t->net->n_layers)
        return pp_fail(PP_ERR_ARGUMENT, "layer %d does not exist (the network has %d)", layer,
                       t->net->n_layers);
    if (bins < 1 || bins > 4096 || !(hi > lo))
        return pp_fail(PP_ERR_ARGUMENT, "a histogram needs 1 to 4096 bins and lo < hi");
    const net_layer *l = &t->net->layers[layer];
    rt_buf out;
    PP_TRY(rt_buf_create(t->ctx, (size_t)bins * sizeof(uint32_t), &out));
    pp_status st = op_histogram(t->ctx, l->n_weights, &l->w, lo, hi, bins, &out);
    if (st == PP_OK) st = rt_buf_read(t->ctx, &out, 0, (size_t)bins * sizeof(uint32_t), counts);
    rt_buf_release(t->ctx, &out);
    return st;
}
