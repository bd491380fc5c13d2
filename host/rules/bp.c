/* Backpropagation: exact gradients of the mean loss, the error travelling
 * down through the transposed forward weights. */
#include "rules/backprop_chain.h"

pp_status rule_bp_init(rule *r) {
    PP_TRY(backprop_chain_init(r));
    chain_state *s = r->state;
    for (int i = 1; i < r->net->n_layers; i++)
        s->feedback[i] = &r->net->layers[i].w;
    return PP_OK;
}
