/* Feedback alignment (Lillicrap et al., 2016): backpropagation's chain with
 * each W_l in the backward signal replaced by a fixed random B_l of the same
 * shape and initialisation; the forward pass and the updates are BP's. */
#include "rules/backprop_chain.h"

#include <math.h>

pp_status rule_fa_init(rule *r) {
    network *net = r->net;
    PP_TRY(backprop_chain_init(r));
    chain_state *s = r->state;
    for (int i = 1; i < net->n_layers; i++) {
        net_layer *l = &net->layers[i];
        /* He uniform like W_l: U(-sqrt(6/fan_in), +sqrt(6/fan_in)) */
        float bound = sqrtf(6.0f / (float)l->fan_in);
        PP_TRY(rule_fixed_uniform(r, l->n_weights, bound, STREAM_FA_FEEDBACK + (uint32_t)i));
        s->feedback[i] = &r->fixed.buf[r->fixed.count - 1];
    }
    return PP_OK;
}
