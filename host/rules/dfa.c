/* Direct feedback alignment (Nokland, 2016): the output error reaches every
 * hidden layer directly through a fixed random B_l (classes x units of the
 * layer's output), delta_l = (e B_l) * f'(z_l); the output layer learns from
 * its own error as in BP. */
#include "rules/backprop_chain.h"

#include <math.h>
#include <stdlib.h>

/* B_l comes from random stream DFA_STREAM + l, apart from other rules' matrices. */
enum { DFA_STREAM = 40 };

typedef struct dfa_state {
    const rt_buf *feedback[NET_MAX_LAYERS]; /* hidden layers only */
} dfa_state;

static pp_status dfa_step(rule *r, const rule_step_args *a) {
    dfa_state *s = r->state;
    network *net = r->net;
    size_t batch = a->batch;
    int last = net->n_layers - 1;
    PP_TRY(net_forward(net, batch, &net->x, 0, 1, a->step, a->seed));
    PP_TRY(net_output_error(net, batch, 0));
    PP_TRY(chain_output_update(r, batch, &net->err));
    for (int i = 0; i < last; i++) {
        net_layer *l = &net->layers[i];
        /* delta_h (batch x out) = e (batch x classes) B_l (classes x out) */
        PP_TRY(op_dense_input_grad(net->ctx, batch, l->out, net->classes, &net->err, s->feedback[i],
                                   &l->delta_h));
        PP_TRY(chain_hidden_update(r, i, a));
    }
    return PP_OK;
}

static void dfa_destroy(rule *r) {
    free(r->state);
}

pp_status rule_dfa_init(rule *r) {
    network *net = r->net;
    dfa_state *s = calloc(1, sizeof *s);
    if (!s) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for DFA");
    r->state = s;
    r->step = dfa_step;
    r->destroy = dfa_destroy;
    for (int i = 0; i < net->n_layers - 1; i++) {
        net_layer *l = &net->layers[i];
        /* scaled like a W_{l+1} fed by this layer (He uniform over its outputs), so with
         * one hidden layer the signal has the magnitude FA's would have */
        float bound = sqrtf(6.0f / (float)l->out);
        PP_TRY(rule_fixed_uniform(r, net->classes * l->out, bound, DFA_STREAM + (uint32_t)i));
        s->feedback[i] = &r->fixed.buf[r->fixed.count - 1];
    }
    return PP_OK;
}
