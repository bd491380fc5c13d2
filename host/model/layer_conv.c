/* A conv layer: N filters of K x K over the input's channels (stride 1, no
 * padding, no bias), then the hidden activation a, then a 2x2 max pooling
 * to h. No dropout. */
#include "model/network.h"

static void conv_shape(net_layer *l, const arch_layer *spec, size_t max_batch, int *c, int *h,
                       int *w) {
    l->conv = (op_conv_shape){.batch = (int)max_batch,
                              .in_c = *c,
                              .in_h = *h,
                              .in_w = *w,
                              .out_c = spec->filters,
                              .kernel = spec->kernel,
                              .stride = 1,
                              .pad = 0};
    int oh = op_conv_out_h(&l->conv), ow = op_conv_out_w(&l->conv);
    l->in = (size_t)*c * (size_t)*h * (size_t)*w;
    l->units = (size_t)spec->filters * (size_t)oh * (size_t)ow;
    l->out = (size_t)spec->filters * (size_t)(oh / 2) * (size_t)(ow / 2);
    l->positions = (size_t)oh * (size_t)ow;
    l->fan_in = (size_t)*c * (size_t)spec->kernel * (size_t)spec->kernel;
    l->n_weights = (size_t)spec->filters * l->fan_in;
    *c = spec->filters;
    *h = oh / 2;
    *w = ow / 2;
}

static pp_status conv_activations(rt_context *ctx, const net_layer *l, size_t batch,
                                  net_activations *act) {
    PP_TRY(rt_buf_create(ctx, batch * l->units * sizeof(float), &act->z));
    PP_TRY(rt_buf_create(ctx, batch * l->units * sizeof(float), &act->a));
    PP_TRY(rt_buf_create(ctx, batch * l->out * sizeof(int32_t), &act->argmax));
    return rt_buf_create(ctx, batch * l->out * sizeof(float), &act->h);
}

static pp_status conv_linear(network *net, const net_layer *l, size_t batch, const rt_buf *input,
                             rt_buf *z) {
    op_conv_shape s = net_conv_shape(l, batch);
    return op_conv_forward(net->ctx, &s, input, &l->w, z);
}

static pp_status pool(network *net, const net_layer *l, size_t batch, net_activations *a) {
    op_conv_shape s = net_conv_shape(l, batch);
    return op_maxpool2_forward(net->ctx, batch * (size_t)s.out_c, op_conv_out_h(&s),
                               op_conv_out_w(&s), &a->a, &a->h, &a->argmax);
}

static pp_status conv_activate(network *net, const net_layer *l, op_act act, size_t batch,
                               net_activations *a, const op_dropout *drop) {
    (void)drop; /* no dropout on conv layers */
    PP_TRY(op_act_forward(net->ctx, act, batch * l->units, &a->z, &a->a, NULL));
    return pool(net, l, batch, a);
}

static pp_status conv_activate_diff(network *net, const net_layer *l, op_act act, size_t batch,
                                    const net_activations *std, net_activations *mod, rt_buf *diff,
                                    const op_dropout *drop) {
    (void)drop;
    PP_TRY(op_act_forward_diff(net->ctx, act, batch * l->units, &mod->z, &std->a, &mod->a, diff,
                               NULL));
    return pool(net, l, batch, mod);
}

static pp_status conv_backward(network *net, const net_layer *l, op_act act, size_t batch,
                               const net_activations *std, const rt_buf *delta_h, rt_buf *delta,
                               const op_dropout *drop) {
    (void)drop;
    op_conv_shape s = net_conv_shape(l, batch);
    PP_TRY(op_maxpool2_backward(net->ctx, batch * (size_t)s.out_c, op_conv_out_h(&s),
                                op_conv_out_w(&s), delta_h, &std->argmax, delta));
    return op_act_backward(net->ctx, act, batch * l->units, &std->z, delta, delta, NULL);
}

static pp_status conv_input_grad(network *net, const net_layer *l, size_t batch,
                                 const rt_buf *delta, const rt_buf *weights, rt_buf *input_delta) {
    op_conv_shape s = net_conv_shape(l, batch);
    return op_conv_input_grad(net->ctx, &s, delta, weights, input_delta);
}

static pp_status conv_weight_update(network *net, const net_layer *l, size_t batch, float scale,
                                    const rt_buf *post, const rt_buf *pre, rt_buf *g) {
    op_conv_shape s = net_conv_shape(l, batch);
    return op_conv_weight_grad(net->ctx, &s, scale, post, pre, g);
}

const net_layer_ops net_layer_conv = {
    .name = "conv",
    .shape = conv_shape,
    .activations_create = conv_activations,
    .linear = conv_linear,
    .activate = conv_activate,
    .activate_diff = conv_activate_diff,
    .backward = conv_backward,
    .input_grad = conv_input_grad,
    .weight_update = conv_weight_update,
};
