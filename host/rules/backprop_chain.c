/* Layer updates from a signal at the layer's output, and the BP/FA chain. */
#include "rules/backprop_chain.h"

#include <stdlib.h>

const rt_buf *chain_layer_input(const network *net, int layer) {
    return layer == 0 ? &net->x : &net->layers[layer - 1].std.h;
}

pp_status chain_output_update(rule *r, size_t batch, const rt_buf *err) {
    network *net = r->net;
    int last = net->n_layers - 1;
    net_layer *l = &net->layers[last];
    return op_dense_weight_update(net->ctx, batch, l->in, l->out, 1.0f / (float)batch, err,
                                  chain_layer_input(net, last), 0.0f, &l->g);
}

pp_status chain_hidden_update(rule *r, int layer, const rule_step_args *a) {
    network *net = r->net;
    net_layer *l = &net->layers[layer];
    size_t batch = a->batch;
    const rt_buf *input = chain_layer_input(net, layer);
    if (l->kind == NET_CONV) {
        /* the conv layer is the first: nothing below it needs its input gradient */
        if (layer != 0)
            return pp_fail(PP_ERR_INTERNAL, "rule %s: a conv layer must be the first", r->name);
        op_conv_shape s = net_conv_shape(l, batch);
        PP_TRY(op_maxpool2_backward(net->ctx, batch * (size_t)s.out_c, op_conv_out_h(&s),
                                    op_conv_out_w(&s), &l->delta_h, &l->std.argmax, &l->delta));
        PP_TRY(op_act_backward(net->ctx, net->hidden_act, batch * l->units, &l->std.z, &l->delta,
                               &l->delta, NULL));
        return op_conv_weight_grad(net->ctx, &s, 1.0f / (float)batch, &l->delta, input, &l->g);
    }
    op_dropout drop = net_dropout(net, layer, 1, a->step, a->seed);
    PP_TRY(op_act_backward(net->ctx, net->hidden_act, batch * l->out, &l->std.z, &l->delta_h,
                           &l->delta, drop.p > 0 ? &drop : NULL));
    return op_dense_weight_update(net->ctx, batch, l->in, l->out, 1.0f / (float)batch, &l->delta,
                                  input, 0.0f, &l->g);
}

pp_status backprop_chain(rule *r, const rule_step_args *a,
                         const rt_buf *const feedback[NET_MAX_LAYERS]) {
    network *net = r->net;
    size_t batch = a->batch;
    int last = net->n_layers - 1;

    PP_TRY(net_forward(net, batch, &net->x, 0, 1, a->step, a->seed));
    PP_TRY(net_output_error(net, batch, 0));
    /* the signals are taken before any weight moves: the trainer updates after the step */
    PP_TRY(chain_output_update(r, batch, &net->err));
    const rt_buf *delta = &net->err;
    for (int i = last; i > 0; i--) {
        net_layer *l = &net->layers[i], *below = &net->layers[i - 1];
        PP_TRY(op_dense_input_grad(net->ctx, batch, l->in, l->out, delta, feedback[i],
                                   &below->delta_h));
        PP_TRY(chain_hidden_update(r, i - 1, a));
        delta = &below->delta;
    }
    return PP_OK;
}

typedef struct direct_state {
    int from_target;
    const rt_buf *feedback[NET_MAX_LAYERS]; /* hidden layers only */
} direct_state;

static pp_status direct_step(rule *r, const rule_step_args *a) {
    direct_state *s = r->state;
    network *net = r->net;
    size_t batch = a->batch;
    PP_TRY(net_forward(net, batch, &net->x, 0, 1, a->step, a->seed));
    PP_TRY(net_output_error(net, batch, 0));
    PP_TRY(chain_output_update(r, batch, &net->err));
    const rt_buf *signal = &net->err;
    if (s->from_target) {
        PP_TRY(op_onehot(net->ctx, batch, net->classes, &net->labels, 1.0f, &net->onehot));
        signal = &net->onehot;
    }
    for (int i = 0; i < net->n_layers - 1; i++) {
        net_layer *l = &net->layers[i];
        /* delta_h (batch x out) = s (batch x classes) B_l (classes x out) */
        PP_TRY(op_dense_input_grad(net->ctx, batch, l->out, net->classes, signal, s->feedback[i],
                                   &l->delta_h));
        PP_TRY(chain_hidden_update(r, i, a));
    }
    return PP_OK;
}

static void direct_destroy(rule *r) {
    free(r->state);
}

pp_status direct_feedback_init(rule *r, int from_target, const float bounds[NET_MAX_LAYERS],
                               uint32_t stream) {
    network *net = r->net;
    direct_state *s = calloc(1, sizeof *s);
    if (!s) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for %s", r->name);
    s->from_target = from_target;
    r->state = s;
    r->step = direct_step;
    r->destroy = direct_destroy;
    for (int i = 0; i < net->n_layers - 1; i++) {
        PP_TRY(rule_fixed_uniform(r, net->classes * net->layers[i].out, bounds[i],
                                  stream + (uint32_t)i));
        s->feedback[i] = &r->fixed.buf[r->fixed.count - 1];
    }
    return PP_OK;
}
