/* A dense layer: z = x W^T (W: out x in, no bias), then the hidden
 * activation with dropout. */
#include "model/network.h"

static void dense_shape(net_layer *l, const arch_layer *spec, size_t max_batch, int *c, int *h,
                        int *w) {
    (void)max_batch;
    l->in = (size_t)*c * (size_t)*h * (size_t)*w;
    l->out = (size_t)spec->units;
    l->units = l->out;
    l->positions = 1;
    l->fan_in = l->in;
    l->n_weights = l->out * l->in;
    *c = spec->units;
    *h = *w = 1;
}

static pp_status dense_activations(rt_context *ctx, const net_layer *l, size_t batch,
                                   net_activations *act) {
    PP_TRY(rt_buf_create(ctx, batch * l->units * sizeof(float), &act->z));
    return rt_buf_create(ctx, batch * l->out * sizeof(float), &act->h);
}

static pp_status dense_linear(network *net, const net_layer *l, size_t batch, const rt_buf *input,
                              rt_buf *z) {
    return op_dense_forward(net->ctx, batch, l->in, l->out, input, &l->w, z);
}

static pp_status dense_activate(network *net, const net_layer *l, op_act act, size_t batch,
                                net_activations *a, const op_dropout *drop) {
    return op_act_forward(net->ctx, act, batch * l->out, &a->z, &a->h, drop);
}

static pp_status dense_activate_diff(network *net, const net_layer *l, op_act act, size_t batch,
                                     const net_activations *std, net_activations *mod, rt_buf *diff,
                                     const op_dropout *drop) {
    return op_act_forward_diff(net->ctx, act, batch * l->out, &mod->z, &std->h, &mod->h, diff,
                               drop);
}

static pp_status dense_backward(network *net, const net_layer *l, op_act act, size_t batch,
                                const net_activations *std, const rt_buf *delta_h, rt_buf *delta,
                                const op_dropout *drop) {
    return op_act_backward(net->ctx, act, batch * l->out, &std->z, delta_h, delta, drop);
}

static pp_status dense_input_grad(network *net, const net_layer *l, size_t batch,
                                  const rt_buf *delta, const rt_buf *weights, rt_buf *input_delta) {
    return op_dense_input_grad(net->ctx, batch, l->in, l->out, delta, weights, input_delta);
}

static pp_status dense_weight_update(network *net, const net_layer *l, size_t batch, float scale,
                                     const rt_buf *post, const rt_buf *pre, rt_buf *g) {
    return op_dense_weight_update(net->ctx, batch, l->in, l->out, scale, post, pre, 0.0f, g);
}

static pp_status dense_weight_step(network *net, net_layer *l, size_t batch, float scale,
                                   const rt_buf *post, const rt_buf *pre, const op_sgd *sgd) {
    return op_dense_weight_step(net->ctx, batch, l->in, l->out, scale, post, pre, sgd, &l->w, &l->v,
                                &l->g);
}

const net_layer_ops net_layer_dense = {
    .name = "fc",
    .shape = dense_shape,
    .activations_create = dense_activations,
    .linear = dense_linear,
    .activate = dense_activate,
    .activate_diff = dense_activate_diff,
    .backward = dense_backward,
    .input_grad = dense_input_grad,
    .weight_update = dense_weight_update,
    .weight_step = dense_weight_step,
};
