/* Building a network and its workspace, and the forward pass. */
#include "model/network.h"

#include "model/arch.h"
#include "model/random_streams.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static pp_status alloc_floats(rt_context *ctx, rt_buf *buf, size_t n) {
    return rt_buf_create(ctx, n * sizeof(float), buf);
}

/* Dropout applies to the dense hidden layers. */
static int net_dropout_layer(const network *net, int index) {
    return net->layers[index].kind == NET_DENSE && index < net->n_layers - 1;
}

static pp_status alloc_layer(network *net, net_layer *l, uint64_t seed, int index) {
    rt_context *ctx = net->ctx;
    PP_TRY(alloc_floats(ctx, &l->w, l->n_weights));
    PP_TRY(alloc_floats(ctx, &l->v, l->n_weights));
    PP_TRY(alloc_floats(ctx, &l->g, l->n_weights));
    /* He uniform: U(-sqrt(6/fan_in), +sqrt(6/fan_in)) */
    float bound = sqrtf(6.0f / (float)l->fan_in);
    PP_TRY(op_uniform(ctx, l->n_weights, -bound, bound, seed, STREAM_WEIGHTS + (uint32_t)index,
                      &l->w));
    if (net_dropout_layer(net, index) && net->dropout > 0.0f)
        PP_TRY(rt_buf_create(ctx, net->max_batch * l->units, &l->mask));
    return net_activations_create(net, index, &l->std);
}

int net_normalises(const network *net, int index) {
    return net->normalise && index < net->n_layers - 1 && net->layers[index].kind == NET_DENSE;
}

pp_status net_activations_create(network *net, int layer, net_activations *act) {
    const net_layer *l = &net->layers[layer];
    PP_TRY(l->ops->activations_create(net->ctx, l, net->max_batch, act));
    return net_normalises(net, layer) ? alloc_floats(net->ctx, &act->norm_sq, 1) : PP_OK;
}

const net_layer_ops *net_layer_ops_of(arch_kind kind) {
    return kind == ARCH_CONV ? &net_layer_conv : &net_layer_dense;
}

/* Appends a layer of a spec for an input of c x h x w, advancing them. */
static void add_layer(network *net, const arch_layer *spec, int *c, int *h, int *w) {
    net_layer *l = &net->layers[net->n_layers++];
    l->ops = net_layer_ops_of(spec->kind);
    l->kind = spec->kind == ARCH_CONV ? NET_CONV : NET_DENSE;
    l->ops->shape(l, spec, net->max_batch, c, h, w);
}

const char *net_activation_name(op_act act) {
    static const char *const names[] = {"identity", "ReLU", "tanh", "sigmoid"};
    return act >= OP_ACT_IDENTITY && act <= OP_ACT_SIGMOID ? names[act] : "?";
}

pp_status net_create(rt_context *ctx, const pp_config *config, op_act hidden_act, net_output output,
                     int in_c, int in_h, int in_w, size_t classes, size_t max_batch,
                     network **out) {
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
    net->hidden_act = hidden_act;
    net->output = output;
    net->dropout = config->model == PP_MODEL_FC ? config->dropout : 0.0f;
    net->normalise = config->normalise != 0;

    arch_spec spec;
    pp_status st;
    PP_TRY_GOTO(st, arch_of_config(config, &spec), fail);
    /* the shape each layer sees: channels x height x width, flattened for dense layers */
    int c = in_c, h = in_h, w = in_w;
    for (int i = 0; i < spec.n; i++)
        add_layer(net, &spec.layers[i], &c, &h, &w);
    arch_layer output_layer = {.kind = ARCH_DENSE, .units = (int)classes};
    add_layer(net, &output_layer, &c, &h, &w);

    for (int i = 0; i < net->n_layers; i++)
        PP_TRY_GOTO(st, alloc_layer(net, &net->layers[i], config->seed, i), fail);
    PP_TRY_GOTO(st, alloc_floats(ctx, &net->x, max_batch * net->input_size), fail);
    PP_TRY_GOTO(st, rt_buf_create(ctx, max_batch * sizeof(int32_t), &net->labels), fail);
    PP_TRY_GOTO(st, alloc_floats(ctx, &net->err, max_batch * classes), fail);
    PP_TRY_GOTO(st, alloc_floats(ctx, &net->loss, max_batch), fail);
    PP_TRY_GOTO(st, alloc_floats(ctx, &net->correct, max_batch), fail);
    *out = net;
    return PP_OK;
fail:
    net_destroy(net);
    return st;
}

void net_activations_release(network *net, net_activations *act) {
    rt_buf_release(net->ctx, &act->z);
    rt_buf_release(net->ctx, &act->a);
    rt_buf_release(net->ctx, &act->h);
    rt_buf_release(net->ctx, &act->argmax);
    rt_buf_release(net->ctx, &act->norm_sq);
}

void net_destroy(network *net) {
    if (!net) return;
    rt_context *ctx = net->ctx;
    for (int i = 0; i < net->n_layers; i++) {
        net_layer *l = &net->layers[i];
        rt_buf_release(ctx, &l->w);
        rt_buf_release(ctx, &l->v);
        rt_buf_release(ctx, &l->g);
        rt_buf_release(ctx, &l->mask);
        net_activations_release(net, &l->std);
    }
    rt_buf *batch_bufs[] = {&net->x, &net->labels, &net->err, &net->loss, &net->correct};
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
    const net_layer *l = &net->layers[layer];
    op_dropout d = {.p = training && net_dropout_layer(net, layer) ? net->dropout : 0.0f,
                    .seed = seed,
                    .step = step,
                    .layer = (uint32_t)layer,
                    .first = (uint32_t)(net->first_row * l->units),
                    .mask = l->mask.mem ? &l->mask : NULL};
    return d;
}

pp_status net_layer_forward(network *net, int index, size_t batch, const rt_buf *input,
                            net_activations *act, int training, uint32_t step, uint64_t seed) {
    net_layer *l = &net->layers[index];
    PP_TRY(l->ops->linear(net, l, batch, input, &act->z));
    if (index == net->n_layers - 1)
        return PP_OK; /* the output non-linearity is part of the error */
    return net_layer_activate(net, index, batch, act, training, step, seed, 0);
}

pp_status net_layer_activate(network *net, int index, size_t batch, net_activations *act,
                             int training, uint32_t step, uint64_t seed, uint32_t mask_offset) {
    net_layer *l = &net->layers[index];
    op_dropout drop = net_dropout(net, index, training, step, seed);
    drop.layer += mask_offset;
    if (act != &l->std || mask_offset) drop.mask = NULL; /* it keeps the standard pass's */
    PP_TRY(l->ops->activate(net, l, net->hidden_act, batch, act, drop.p > 0 ? &drop : NULL));
    if (!net_normalises(net, index)) return PP_OK;
    /* over the whole batch matrix, as the follow-up does (not per sample) */
    return op_normalise_frobenius(net->ctx, batch * l->out, &act->h, &act->norm_sq, 0);
}

pp_status net_forward(network *net, size_t batch, const rt_buf *input, int training, uint32_t step,
                      uint64_t seed) {
    const rt_buf *in = input;
    for (int i = 0; i < net->n_layers; i++) {
        net_activations *act = &net->layers[i].std;
        PP_TRY(net_layer_forward(net, i, batch, in, act, training, step, seed));
        in = &act->h;
    }
    return PP_OK;
}

/* The loss and accuracy are recorded for the standard pass only. */
static pp_status output_error(network *net, size_t batch, const rt_buf *logits, rt_buf *err,
                              rt_buf *loss, rt_buf *correct, const op_totals *totals) {
    if (net->output == NET_OUTPUT_SIGMOID)
        return op_sigmoid_error(net->ctx, batch, net->classes, logits, &net->labels, err, loss,
                                correct, totals);
    return op_softmax_error(net->ctx, batch, net->classes, logits, &net->labels, err, loss, correct,
                            totals);
}

pp_status net_output_error(network *net, size_t batch) {
    return output_error(net, batch, &net->layers[net->n_layers - 1].std.z, &net->err, &net->loss,
                        &net->correct, net->totals.acc ? &net->totals : NULL);
}

pp_status net_output_error_of(network *net, size_t batch, const rt_buf *logits, rt_buf *err) {
    return output_error(net, batch, logits, err, NULL, NULL, NULL);
}

pp_status net_layer_update(network *net, int index, size_t batch, float scale, const rt_buf *post,
                           const rt_buf *pre) {
    net_layer *l = &net->layers[index];
    /* a projected layer's step forms its projection in the same pass */
    if (!net->sgd || !l->ops->weight_step || l->proj.fb)
        return l->ops->weight_update(net, l, batch, scale, post, pre, &l->g);
    PP_TRY(l->ops->weight_step(net, l, batch, scale, post, pre, net->sgd));
    l->stepped = 1;
    return PP_OK;
}

void net_forget_steps(network *net) {
    for (int i = 0; i < net->n_layers; i++)
        net->layers[i].stepped = 0;
}

pp_status net_apply_updates(network *net, float lr, float momentum, float weight_decay) {
    for (int i = 0; i < net->n_layers; i++) {
        net_layer *l = &net->layers[i];
        net_projection *p = &l->proj;
        if (l->stepped) { /* net_layer_update took the step */
            l->stepped = 0;
            p->fresh = 0;
            continue;
        }
        if (!p->fb) {
            PP_TRY(op_sgd_momentum(net->ctx, l->n_weights, lr, momentum, weight_decay, &l->w, &l->v,
                                   &l->g));
            continue;
        }
        p->fresh = 0;
        PP_TRY(op_sgd_momentum_project(net->ctx, l->out, l->in, p->classes, lr, momentum,
                                       weight_decay, &l->w, &l->v, &l->g, p->fb, p->out));
        p->fresh = 1;
    }
    return PP_OK;
}

pp_status net_projection_current(network *net, int index, const rt_buf **out) {
    net_layer *l = &net->layers[index];
    net_projection *p = &l->proj;
    if (!p->fb) return pp_fail(PP_ERR_INTERNAL, "layer %d keeps no projection", index + 1);
    if (!p->fresh) {
        PP_TRY(op_weight_project(net->ctx, l->out, l->in, p->classes, &l->w, p->fb, p->out));
        p->fresh = 1;
    }
    *out = p->out;
    return PP_OK;
}
