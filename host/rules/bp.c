/* Backpropagation: exact gradients of the mean loss, the error travelling
 * down through the transposed forward weights. */
#include "rules/backprop_chain.h"

static pp_status bp_step(rule *r, const rule_step_args *a) {
    const rt_buf *feedback[NET_MAX_LAYERS] = {0};
    for (int i = 0; i < r->net->n_layers; i++)
        feedback[i] = &r->net->layers[i].w;
    return backprop_chain(r, a, feedback);
}

pp_status rule_bp_init(rule *r) {
    r->step = bp_step;
    return PP_OK;
}
