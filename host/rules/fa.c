/* Feedback alignment (Lillicrap et al., 2016): backpropagation's chain with
 * each W_l in the backward signal replaced by a fixed random B_l of the same
 * shape and initialisation; the forward pass and the updates are BP's. */
#include "rules/backprop_chain.h"

#include <math.h>
#include <stdlib.h>

/* B_l comes from random stream FA_STREAM + l, apart from other rules' matrices. */
enum { FA_STREAM = 20 };

typedef struct fa_state {
    const rt_buf *feedback[NET_MAX_LAYERS]; /* [0] unused: nothing lies below layer 0 */
} fa_state;

static pp_status fa_step(rule *r, const rule_step_args *a) {
    fa_state *s = r->state;
    return backprop_chain(r, a, s->feedback);
}

static void fa_destroy(rule *r) {
    free(r->state);
}

pp_status rule_fa_init(rule *r) {
    network *net = r->net;
    fa_state *s = calloc(1, sizeof *s);
    if (!s) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for FA");
    r->state = s;
    r->step = fa_step;
    r->destroy = fa_destroy;
    for (int i = 1; i < net->n_layers; i++) {
        net_layer *l = &net->layers[i];
        /* He uniform like W_l: U(-sqrt(6/fan_in), +sqrt(6/fan_in)) */
        float bound = sqrtf(6.0f / (float)l->in);
        PP_TRY(rule_fixed_uniform(r, l->n_weights, bound, FA_STREAM + (uint32_t)i));
        s->feedback[i] = &r->fixed.buf[r->fixed.count - 1];
    }
    return PP_OK;
}
