/* Layer updates from a signal at the layer's output, and the BP/FA chain. */
#include "rules/backprop_chain.h"

#include <stdlib.h>

/* What layer l saw as input in the standard pass: x, or the layer below's h. */
static const rt_buf *layer_input(const network *net, int layer) {
    return layer == 0 ? &net->x : &net->layers[layer - 1].std.h;
}

/* Layer l's update from the signal delta at its pre-activation: (1/B)
 * delta^T h_{l-1} (conv: the batch-mean weight gradient), or the step taken
 * with it (net_layer_update). */
static pp_status layer_update(rule *r, int layer, size_t batch, const rt_buf *delta) {
    network *net = r->net;
    return net_layer_update(net, layer, batch, 1.0f / (float)batch, delta, layer_input(net, layer));
}

/* Hidden layer l's signal at its pre-activation from the one already in its
 * delta_h (at its output h; pooled for conv): through pooling, the
 * activation derivative and the dropout mask of the standard pass. */
static pp_status hidden_delta(rule *r, int layer, const rule_step_args *a) {
    chain_state *s = r->state;
    network *net = r->net;
    net_layer *l = &net->layers[layer];
    op_dropout drop = net_dropout(net, layer, 1, a->step, a->seed);
    return l->ops->backward(net, l, net->hidden_act, a->batch, &l->std, &s->delta_h[layer],
                            &s->delta[layer], drop.p > 0 ? &drop : NULL);
}

/* The signal below layer i (the layer below's delta_h) from the signal at
 * layer i's pre-activation, through feedback[i] in place of W_i. */
static pp_status input_grad(rule *r, int i, size_t batch, const rt_buf *delta) {
    chain_state *s = r->state;
    net_layer *l = &r->net->layers[i];
    return l->ops->input_grad(r->net, l, batch, delta, s->feedback[i], &s->delta_h[i - 1]);
}

/* A standard pass, its error, then the backward chain: feedback[l] carries
 * layer l's delta to layer l-1's delta_h. Each layer's signal goes down
 * before its update, which may step its weights (BP's feedback). */
static pp_status chain_step(rule *r, const rule_step_args *a) {
    chain_state *s = r->state;
    network *net = r->net;
    size_t batch = a->batch;
    int last = net->n_layers - 1;

    PP_TRY(net_forward(net, batch, &net->x, 1, a->step, a->seed));
    PP_TRY(net_output_error(net, batch));
    const rt_buf *delta = &net->err;
    for (int i = last; i >= 0; i--) {
        if (i < last) {
            PP_TRY(hidden_delta(r, i, a));
            delta = &s->delta[i];
        }
        if (i > 0) PP_TRY(input_grad(r, i, batch, delta));
        PP_TRY(layer_update(r, i, batch, delta));
    }
    return PP_OK;
}

static pp_status direct_step(rule *r, const rule_step_args *a) {
    chain_state *s = r->state;
    network *net = r->net;
    size_t batch = a->batch;
    PP_TRY(net_forward(net, batch, &net->x, 1, a->step, a->seed));
    PP_TRY(net_output_error(net, batch));
    PP_TRY(layer_update(r, net->n_layers - 1, batch, &net->err));
    const rt_buf *signal = &net->err;
    if (s->from_target) {
        PP_TRY(op_onehot(net->ctx, batch, net->classes, &net->labels, 1.0f, &s->onehot));
        signal = &s->onehot;
    }
    /* every unit of hidden layer l (a conv layer's before its pooling, where
     * the DFA/DRTP authors' hook sits: nothing is routed through the pooling)
     * receives s B_l, then the activation derivative and the standard pass's
     * dropout mask, in place */
    for (int i = 0; i < net->n_layers - 1; i++) {
        net_layer *l = &net->layers[i];
        op_dropout drop = net_dropout(net, i, 1, a->step, a->seed);
        PP_TRY(op_dense_input_grad(net->ctx, batch, l->units, net->classes, signal, s->feedback[i],
                                   &s->delta[i]));
        PP_TRY(op_act_backward(net->ctx, net->hidden_act, batch * l->units, &l->std.z, &s->delta[i],
                               &s->delta[i], drop.p > 0 ? &drop : NULL));
        PP_TRY(layer_update(r, i, batch, &s->delta[i]));
    }
    return PP_OK;
}

static void chain_destroy(rule *r) {
    chain_state *s = r->state;
    if (!s) return;
    for (int i = 0; i < r->net->n_layers; i++) {
        rt_buf_release(r->net->ctx, &s->delta[i]);
        rt_buf_release(r->net->ctx, &s->delta_h[i]);
    }
    rt_buf_release(r->net->ctx, &s->onehot);
    free(s);
}

/* The state and its workspace: a signal per hidden layer at its
 * pre-activation, and for the chain (not direct) also at its output. */
static pp_status workspace_create(rule *r, int from_target, int direct) {
    network *net = r->net;
    chain_state *s = calloc(1, sizeof *s);
    if (!s) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for %s", r->name);
    s->from_target = from_target;
    r->state = s;
    r->destroy = chain_destroy;
    size_t b = net->max_batch;
    for (int i = 0; i < net->n_layers - 1; i++) {
        const net_layer *l = &net->layers[i];
        PP_TRY(rt_buf_create(net->ctx, b * l->units * sizeof(float), &s->delta[i]));
        if (!direct) PP_TRY(rt_buf_create(net->ctx, b * l->out * sizeof(float), &s->delta_h[i]));
    }
    if (from_target) PP_TRY(rt_buf_create(net->ctx, b * net->classes * sizeof(float), &s->onehot));
    return PP_OK;
}

pp_status backprop_chain_init(rule *r) {
    PP_TRY(workspace_create(r, 0, 0));
    r->step = chain_step;
    return PP_OK;
}

pp_status direct_feedback_init(rule *r, int from_target, const float bounds[NET_MAX_LAYERS],
                               uint32_t stream) {
    network *net = r->net;
    PP_TRY(workspace_create(r, from_target, 1));
    chain_state *s = r->state;
    r->step = direct_step;
    for (int i = 0; i < net->n_layers - 1; i++) {
        PP_TRY(rule_fixed_uniform(r, net->classes * net->layers[i].units, bounds[i],
                                  stream + (uint32_t)i));
        s->feedback[i] = &r->fixed.buf[r->fixed.count - 1];
    }
    return PP_OK;
}
