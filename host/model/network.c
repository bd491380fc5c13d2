/* Building a network and its workspace, and the forward pass. */
#include "model/network.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Random streams: one per layer's weights, and above for fixed matrices. */
enum { STREAM_WEIGHTS = 0 };

static pp_status alloc_floats(rt_context *ctx, rt_buf *buf, size_t n) {
    return rt_buf_create(ctx, n * sizeof(float), buf);
}

static pp_status alloc_activations(rt_context *ctx, const net_layer *l, size_t batch,
                                   net_activations *act) {
    PP_TRY(alloc_floats(ctx, &act->z, batch * l->units));
    if (l->kind == NET_CONV) {
        PP_TRY(alloc_floats(ctx, &act->a, batch * l->units));
        PP_TRY(rt_buf_create(ctx, batch * l->out * sizeof(int32_t), &act->argmax));
    }
    return alloc_floats(ctx, &act->h, batch * l->out);
}

static pp_status alloc_layer(network *net, net_layer *l, uint64_t seed, int index) {
    rt_context *ctx = net->ctx;
    size_t fan_in =
        l->kind == NET_CONV ? (size_t)l->conv.in_c * l->conv.kernel * l->conv.kernel : l->in;
    l->n_weights = l->kind == NET_CONV ? (size_t)l->conv.out_c * fan_in : l->out * l->in;
    PP_TRY(alloc_floats(ctx, &l->w, l->n_weights));
    PP_TRY(alloc_floats(ctx, &l->v, l->n_weights));
    PP_TRY(alloc_floats(ctx, &l->g, l->n_weights));
    /* He uniform: U(-sqrt(6/fan_in), +sqrt(6/fan_in)) */
    float bound = sqrtf(6.0f / (float)fan_in);
    PP_TRY(op_uniform(ctx, l->n_weights, -bound, bound, seed, STREAM_WEIGHTS + (uint32_t)index,
                      &l->w));
    PP_TRY(alloc_activations(ctx, l, net->max_batch, &l->std));
    PP_TRY(alloc_activations(ctx, l, net->max_batch, &l->mod));
    PP_TRY(alloc_floats(ctx, &l->diff, net->max_batch * l->units));
    PP_TRY(alloc_floats(ctx, &l->delta, net->max_batch * l->units));
    return alloc_floats(ctx, &l->delta_h, net->max_batch * l->out);
}

static void add_dense(network *net, size_t in, size_t out) {
    net_layer *l = &net->layers[net->n_layers++];
    l->kind = NET_DENSE;
    l->in = in;
    l->out = out;
    l->units = out;
}

op_act net_hidden_activation(const pp_config *config) {
    return config->rule == PP_RULE_DRTP ? OP_ACT_TANH : OP_ACT_RELU;
}

int net_sigmoid_output(const pp_config *config) {
    return config->rule == PP_RULE_DRTP;
}

const char *net_activation_name(op_act act) {
    static const char *const names[] = {"identity", "ReLU", "tanh", "sigmoid"};
    return act >= OP_ACT_IDENTITY && act <= OP_ACT_SIGMOID ? names[act] : "?";
}

pp_status net_create(rt_context *ctx, const pp_config *config, int in_c, int in_h, int in_w,
                     size_t classes, size_t max_batch, network **out) {
    *out = NULL;
    network *net = calloc(1, sizeof *net);
    if (!net) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory creating the network");
    net->ctx = ctx;
    net->model = config->model;
    net->in_c = in_c;
    net->in_h = in_h;
    net->in_w = in_w;
    net->input_size = (size_t)in_c * in_h * in_w;
    net->classes = classes;
    net->max_batch = max_batch;
    net->hidden_act = net_hidden_activation(config);
    net->sigmoid_output = net_sigmoid_output(config);
    net->dropout = config->model == PP_MODEL_FC ? config->dropout : 0.0f;

    if (config->model == PP_MODEL_CONV) {
        net_layer *l = &net->layers[net->n_layers++];
        l->kind = NET_CONV;
        l->conv = (op_conv_shape){.batch = (int)max_batch,
                                  .in_c = in_c,
                                  .in_h = in_h,
                                  .in_w = in_w,
                                  .out_c = config->conv_filters,
                                  .kernel = config->conv_kernel,
                                  .stride = 1,
                                  .pad = 0};
        int oh = op_conv_out_h(&l->conv), ow = op_conv_out_w(&l->conv);
        l->in = net->input_size;
        l->units = (size_t)config->conv_filters * oh * ow;
        l->out = (size_t)config->conv_filters * (oh / 2) * (ow / 2);
        add_dense(net, l->out, classes);
    } else {
        size_t in = net->input_size;
        for (int i = 0; i < config->n_hidden; i++) {
            add_dense(net, in, (size_t)config->hidden[i]);
            in = (size_t)config->hidden[i];
        }
        add_dense(net, in, classes);
    }

    pp_status st;
    for (int i = 0; i < net->n_layers; i++)
        PP_TRY_GOTO(st, alloc_layer(net, &net->layers[i], config->seed, i), fail);
    PP_TRY_GOTO(st, alloc_floats(ctx, &net->x, max_batch * net->input_size), fail);
    PP_TRY_GOTO(st, alloc_floats(ctx, &net->x_mod, max_batch * net->input_size), fail);
    PP_TRY_GOTO(st, rt_buf_create(ctx, max_batch * sizeof(int32_t), &net->labels), fail);
    PP_TRY_GOTO(st, alloc_floats(ctx, &net->err, max_batch * classes), fail);
    PP_TRY_GOTO(st, alloc_floats(ctx, &net->err_mod, max_batch * classes), fail);
    PP_TRY_GOTO(st, alloc_floats(ctx, &net->onehot, max_batch * classes), fail);
    PP_TRY_GOTO(st, alloc_floats(ctx, &net->loss, max_batch), fail);
    PP_TRY_GOTO(st, alloc_floats(ctx, &net->correct, max_batch), fail);
    *out = net;
    return PP_OK;
fail:
    net_destroy(net);
    return st;
}

static void release_activations(rt_context *ctx, net_activations *act) {
    rt_buf_release(ctx, &act->z);
    rt_buf_release(ctx, &act->a);
    rt_buf_release(ctx, &act->h);
    rt_buf_release(ctx, &act->argmax);
}

void net_destroy(network *net) {
    if (!net) return;
    rt_context *ctx = net->ctx;
    for (int i = 0; i < net->n_layers; i++) {
        net_layer *l = &net->layers[i];
        rt_buf_release(ctx, &l->w);
        rt_buf_release(ctx, &l->v);
        rt_buf_release(ctx, &l->g);
        release_activations(ctx, &l->std);
        release_activations(ctx, &l->mod);
        rt_buf_release(ctx, &l->diff);
        rt_buf_release(ctx, &l->delta);
        rt_buf_release(ctx, &l->delta_h);
    }
    rt_buf *batch_bufs[] = {&net->x,       &net->x_mod,  &net->labels, &net->err,
                            &net->err_mod, &net->onehot, &net->loss,   &net->correct};
    for (size_t i = 0; i < sizeof batch_bufs / sizeof batch_bufs[0]; i++)
        rt_buf_release(ctx, batch_bufs[i]);
    free(net);
}

op_conv_shape net_conv_shape(const net_layer *layer, size_t batch) {
    op_conv_shape s = layer->conv;
    s.batch = (int)batch;
    return s;
}

op_dropout net_dropout(const network *net, int layer, int training, uint32_t step, uint64_t seed) {
    int hidden_dense = net->layers[layer].kind == NET_DENSE && layer < net->n_layers - 1;
    op_dropout d = {.p = training && hidden_dense ? net->dropout : 0.0f,
                    .seed = seed,
                    .step = step,
                    .layer = (uint32_t)layer};
    return d;
}

pp_status net_layer_forward(network *net, int index, size_t batch, const rt_buf *input,
                            net_activations *act, int training, uint32_t step, uint64_t seed) {
    net_layer *l = &net->layers[index];
    int last = index == net->n_layers - 1;
    if (l->kind == NET_CONV) {
        op_conv_shape s = net_conv_shape(l, batch);
        PP_TRY(op_conv_forward(net->ctx, &s, input, &l->w, &act->z));
        PP_TRY(op_act_forward(net->ctx, net->hidden_act, batch * l->units, &act->z, &act->a, NULL));
        return op_maxpool2_forward(net->ctx, batch * (size_t)s.out_c, op_conv_out_h(&s),
                                   op_conv_out_w(&s), &act->a, &act->h, &act->argmax);
    }
    PP_TRY(op_dense_forward(net->ctx, batch, l->in, l->out, input, &l->w, &act->z));
    if (last) return PP_OK; /* the output non-linearity is part of the error */
    op_dropout drop = net_dropout(net, index, training, step, seed);
    return op_act_forward(net->ctx, net->hidden_act, batch * l->out, &act->z, &act->h,
                          drop.p > 0 ? &drop : NULL);
}

pp_status net_forward(network *net, size_t batch, const rt_buf *input, int pass, int training,
                      uint32_t step, uint64_t seed) {
    const rt_buf *in = input;
    for (int i = 0; i < net->n_layers; i++) {
        net_activations *act = pass ? &net->layers[i].mod : &net->layers[i].std;
        PP_TRY(net_layer_forward(net, i, batch, in, act, training, step, seed));
        in = &act->h;
    }
    return PP_OK;
}

pp_status net_output_error(network *net, size_t batch, int pass) {
    net_layer *last = &net->layers[net->n_layers - 1];
    const rt_buf *logits = pass ? &last->mod.z : &last->std.z;
    rt_buf *err = pass ? &net->err_mod : &net->err;
    /* the loss and accuracy are those of the standard pass */
    rt_buf *loss = pass ? NULL : &net->loss, *correct = pass ? NULL : &net->correct;
    if (net->sigmoid_output)
        return op_sigmoid_error(net->ctx, batch, net->classes, logits, &net->labels, err, loss,
                                correct);
    return op_softmax_error(net->ctx, batch, net->classes, logits, &net->labels, err, loss,
                            correct);
}

pp_status net_apply_updates(network *net, float lr, float momentum, float weight_decay) {
    for (int i = 0; i < net->n_layers; i++) {
        net_layer *l = &net->layers[i];
        PP_TRY(op_sgd_momentum(net->ctx, l->n_weights, lr, momentum, weight_decay, &l->w, &l->v,
                               &l->g));
    }
    return PP_OK;
}
