/* Direct random target projection (Frenkel, Lefebvre & Bol, 2021, "Learning
 * without feedback"): each hidden layer's learning signal is the one-hot
 * target projected through a fixed random B_l (classes x units of the
 * layer's output), in place of the error: the gradient estimate at h_l is
 * t B_l, so delta_l = (t B_l) * f'(z_l) and the update descends it, as in
 * the authors' code. Hidden layers are tanh; the sigmoid output layer learns
 * from its own error (sigmoid(z) - t, the binary cross-entropy gradient).
 * No hidden layer's signal depends on the layers above it, so each could
 * learn during the forward pass. */
#include "rules/backprop_chain.h"

#include <math.h>
#include <stdlib.h>

/* B_l comes from random stream DRTP_STREAM + l, apart from other rules' matrices. */
enum { DRTP_STREAM = 60 };

typedef struct drtp_state {
    const rt_buf *feedback[NET_MAX_LAYERS]; /* hidden layers only */
} drtp_state;

static pp_status drtp_step(rule *r, const rule_step_args *a) {
    drtp_state *s = r->state;
    network *net = r->net;
    size_t batch = a->batch;
    int last = net->n_layers - 1;
    PP_TRY(net_forward(net, batch, &net->x, 0, 1, a->step, a->seed));
    PP_TRY(net_output_error(net, batch, 0));
    PP_TRY(chain_output_update(r, batch, &net->err));
    PP_TRY(op_onehot(net->ctx, batch, net->classes, &net->labels, 1.0f, &net->onehot));
    for (int i = 0; i < last; i++) {
        net_layer *l = &net->layers[i];
        /* delta_h (batch x out) = t (batch x classes) B_l (classes x out) */
        PP_TRY(op_dense_input_grad(net->ctx, batch, l->out, net->classes, &net->onehot,
                                   s->feedback[i], &l->delta_h));
        PP_TRY(chain_hidden_update(r, i, a));
    }
    return PP_OK;
}

static void drtp_destroy(rule *r) {
    free(r->state);
}

pp_status rule_drtp_init(rule *r) {
    network *net = r->net;
    drtp_state *s = calloc(1, sizeof *s);
    if (!s) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for DRTP");
    r->state = s;
    r->step = drtp_step;
    r->destroy = drtp_destroy;
    for (int i = 0; i < net->n_layers - 1; i++) {
        net_layer *l = &net->layers[i];
        /* U(-1/sqrt(out), 1/sqrt(out)), as the authors' code (PyTorch's default uniform) */
        float bound = 1.0f / sqrtf((float)l->out);
        PP_TRY(rule_fixed_uniform(r, net->classes * l->out, bound, DRTP_STREAM + (uint32_t)i));
        s->feedback[i] = &r->fixed.buf[r->fixed.count - 1];
    }
    return PP_OK;
}
