/* Weight mirroring: PEPITA's F learned as B_1 ... B_L (see pepita_mirror.h). */
#include "rules/pepita_mirror.h"

#include "ops/mirror_ops.h"

#include <math.h>
#include <stdlib.h>

/* Device scalars: [0] the noise's sum, [1..3] sum, sum of squares and the
 * rescale factor of F. */
enum { STAT_NOISE = 0, STAT_F = 1, STAT_Y = 4, N_STATS = 5 };

struct pepita_mirror {
    pepita_mirror_params p;
    network *net;
    rt_buf *f;                      /* the rule's F */
    rt_buf *factor[NET_MAX_LAYERS]; /* the rule's fixed matrices after F */
    rt_buf noise;                   /* batch x the largest in_l */
    rt_buf z, y;                    /* batch x the largest out_l */
    rt_buf no_labels;               /* batch x -1: softmax_error leaves the softmax */
    rt_buf chain[2];                /* the product's partial results: largest in_l x classes */
    rt_buf stats;
};

int pepita_mirror_scheduled(const pepita_mirror_params *p, int epoch) {
    return epoch <= p->pre_mirror || (p->every > 0 && epoch % p->every == 0);
}

int pepita_mirror_updates_weights(const pepita_mirror_params *p, int epoch) {
    return epoch > p->pre_mirror;
}

const rt_buf *pepita_mirror_factor(const pepita_mirror *m, int l) {
    return m->factor[l];
}

pp_status pepita_mirror_product(pepita_mirror *m, rt_buf *out) {
    network *net = m->net;
    int last = net->n_layers - 1;
    size_t c = net->classes;
    if (last == 0)
        return rt_buf_copy(net->ctx, m->factor[0], 0, out, 0, net->input_size * c * sizeof(float));
    /* right to left: every partial product has only `classes` columns */
    const rt_buf *t = m->factor[last];
    for (int l = last - 1; l >= 0; l--) {
        const net_layer *layer = &net->layers[l];
        rt_buf *dst = l == 0 ? out : &m->chain[l & 1];
        PP_TRY(op_gemm(net->ctx, OP_NO_TRANS, OP_NO_TRANS, layer->in, c, layer->out, 1.0f,
                       m->factor[l], 0, layer->out, t, 0, c, 0.0f, dst, 0, c));
        t = dst;
    }
    return PP_OK;
}

/* Scales every factor so that std(F) = target, then recomputes F. */
static pp_status rescale(pepita_mirror *m) {
    network *net = m->net;
    size_t n = net->input_size * net->classes;
    PP_TRY(pepita_mirror_product(m, m->f));
    PP_TRY(op_std_scale_factor(net->ctx, n, m->f, m->p.target_std, 1.0f / (float)net->n_layers,
                               &m->stats, STAT_F));
    for (int l = 0; l < net->n_layers; l++)
        PP_TRY(
            op_scale_by(net->ctx, net->layers[l].n_weights, m->factor[l], &m->stats, STAT_F + 2));
    return pepita_mirror_product(m, m->f);
}

/* Layer l's mirroring update of B_l from fresh noise. */
static pp_status mirror_layer(pepita_mirror *m, int l, uint64_t seed, uint32_t step) {
    network *net = m->net;
    const net_layer *layer = &net->layers[l];
    size_t batch = net->max_batch, in = layer->in, out = layer->out;
    PP_TRY(op_normal(net->ctx, batch * in, m->p.noise, seed, step, MIRROR_NOISE_B + (uint32_t)l,
                     &m->noise));
    PP_TRY(op_subtract_mean(net->ctx, batch * in, &m->noise, &m->stats, STAT_NOISE));
    PP_TRY(op_dense_forward(net->ctx, batch, in, out, &m->noise, &layer->w, &m->z));
    if (l == net->n_layers - 1) {
        PP_TRY(
            op_softmax_error(net->ctx, batch, out, &m->z, &m->no_labels, &m->y, NULL, NULL, NULL));
    } else {
        /* keyed without the rank's row offset: every rank draws the same mask */
        op_dropout drop = {.p = net->dropout,
                           .seed = seed,
                           .step = step,
                           .layer = MIRROR_DROPOUT_LAYER + (uint32_t)l,
                           .first = 0};
        PP_TRY(op_act_forward(net->ctx, net->hidden_act, batch * out, &m->z, &m->y,
                              drop.p > 0 ? &drop : NULL));
        /* with --normalise the layer's output is normalised here too, as in
         * the follow-up (its mirroring runs the layer module as a whole) */
        if (net_normalises(net, l))
            PP_TRY(op_normalise_frobenius(net->ctx, batch * out, &m->y, &m->stats, STAT_Y));
    }
    /* plain SGD with weight decay, one GEMM: B <- (1 - lr decay) B + (lr / N) x~^T y~ */
    float alpha = m->p.lr / (float)batch, beta = 1.0f - m->p.lr * m->p.decay;
    return op_gemm(net->ctx, OP_TRANS, OP_NO_TRANS, in, out, batch, alpha, &m->noise, 0, in, &m->y,
                   0, out, beta, m->factor[l], 0, out);
}

pp_status pepita_mirror_step(pepita_mirror *m, uint64_t seed, uint32_t step) {
    for (int l = 0; l < m->net->n_layers; l++)
        PP_TRY(mirror_layer(m, l, seed, step));
    return rescale(m);
}

void pepita_mirror_destroy(pepita_mirror *m) {
    if (!m) return;
    rt_context *ctx = m->net->ctx;
    rt_buf_release(ctx, &m->noise);
    rt_buf_release(ctx, &m->z);
    rt_buf_release(ctx, &m->y);
    rt_buf_release(ctx, &m->no_labels);
    rt_buf_release(ctx, &m->chain[0]);
    rt_buf_release(ctx, &m->chain[1]);
    rt_buf_release(ctx, &m->stats);
    free(m);
}

static pp_status create(rule *r, pepita_mirror *m) {
    network *net = r->net;
    size_t b = net->max_batch, c = net->classes, max_in = 0, max_out = 0;
    double hidden_units = 1.0;
    for (int l = 0; l < net->n_layers; l++) {
        const net_layer *layer = &net->layers[l];
        if (layer->kind != NET_DENSE)
            return pp_fail(PP_ERR_ARGUMENT,
                           "--mirror: weight mirroring needs a fully connected network; layer %d "
                           "is not dense",
                           l + 1);
        max_in = layer->in > max_in ? layer->in : max_in;
        max_out = layer->out > max_out ? layer->out : max_out;
        if (l < net->n_layers - 1) hidden_units *= (double)layer->out;
    }
    rt_context *ctx = net->ctx;
    PP_TRY(rt_buf_create(ctx, b * max_in * sizeof(float), &m->noise));
    PP_TRY(rt_buf_create(ctx, b * max_out * sizeof(float), &m->z));
    PP_TRY(rt_buf_create(ctx, b * max_out * sizeof(float), &m->y));
    PP_TRY(rt_buf_create(ctx, max_in * c * sizeof(float), &m->chain[0]));
    PP_TRY(rt_buf_create(ctx, max_in * c * sizeof(float), &m->chain[1]));
    PP_TRY(rt_buf_create(ctx, N_STATS * sizeof(float), &m->stats));
    PP_TRY(rt_buf_create(ctx, b * sizeof(int32_t), &m->no_labels));
    int32_t *none = malloc(b * sizeof *none);
    if (!none) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for weight mirroring");
    for (size_t i = 0; i < b; i++)
        none[i] = -1;
    pp_status st = rt_buf_write(ctx, &m->no_labels, 0, b * sizeof(int32_t), none);
    free(none);
    PP_TRY(st);
    /* B_l ~ N(0, s^2) with s = (target / sqrt(hidden units))^(1/L) gives
     * std(F) = target in expectation (as the follow-up's code); the rescale
     * then makes it exact */
    int L = net->n_layers;
    float s = (float)pow(m->p.target_std / sqrt(hidden_units), 1.0 / L);
    for (int l = 0; l < L; l++) {
        PP_TRY(
            rule_fixed_normal(r, net->layers[l].n_weights, s, STREAM_MIRROR_FACTORS + (uint32_t)l));
        m->factor[l] = &r->fixed.buf[r->fixed.count - 1];
    }
    return rescale(m);
}

pp_status pepita_mirror_create(rule *r, rt_buf *f, const pepita_mirror_params *p,
                               pepita_mirror **out) {
    *out = NULL;
    pepita_mirror *m = calloc(1, sizeof *m);
    if (!m) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for weight mirroring");
    m->p = *p;
    m->net = r->net;
    m->f = f;
    pp_status st = create(r, m);
    if (st != PP_OK) {
        pepita_mirror_destroy(m);
        return st;
    }
    *out = m;
    return PP_OK;
}
