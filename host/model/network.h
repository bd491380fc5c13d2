/* The network: its layers' weights and optimiser state, the activation
 * workspace for one batch, and the forward pass as a composition of
 * operators. Learning rules use it; it knows nothing of any rule. */
#ifndef PEPITA_MODEL_NETWORK_H
#define PEPITA_MODEL_NETWORK_H

#include "ops/ops.h"

typedef enum net_layer_kind { NET_DENSE, NET_CONV } net_layer_kind;

/* Activations of one layer for one pass over a batch. */
typedef struct net_activations {
    rt_buf z;      /* pre-activation: batch x units (conv: batch x F x oh x ow) */
    rt_buf a;      /* conv only: ReLU output before pooling */
    rt_buf h;      /* the layer's output as the next layer sees it */
    rt_buf argmax; /* conv only: pooling argmax (int32) */
} net_activations;

typedef struct net_layer {
    net_layer_kind kind;
    size_t in, out;     /* features in and out (conv: out = pooled features) */
    size_t units;       /* pre-activation size per sample (conv: F*oh*ow, dense: out) */
    op_conv_shape conv; /* conv only; batch is set per call */
    size_t n_weights;
    rt_buf w, v, g;           /* weights, momentum, gradient (update) */
    net_activations std, mod; /* the standard and the modulated pass */
    rt_buf diff;              /* PEPITA: a - a' (conv) or h - h' (dense hidden) */
    rt_buf delta;             /* gradient-based rules: signal at the pre-activation */
    rt_buf delta_h;           /* gradient-based rules: signal at the output h (conv: pooled) */
} net_layer;

#define NET_MAX_LAYERS (PP_MAX_HIDDEN + 2)

typedef struct network {
    rt_context *ctx;
    pp_model_kind model;
    int n_layers;
    net_layer layers[NET_MAX_LAYERS];
    int in_c, in_h, in_w;
    size_t input_size, classes;
    size_t max_batch;   /* the workspace's capacity */
    op_act hidden_act;  /* ReLU, or tanh for DRTP */
    int sigmoid_output; /* DRTP */
    float dropout;      /* on hidden dense layers while training */
    /* batch buffers */
    rt_buf x, x_mod;      /* input and modulated input: batch x input_size */
    rt_buf labels;        /* int32 */
    rt_buf err, err_mod;  /* output error: batch x classes */
    rt_buf loss, correct; /* per-sample */
    rt_buf onehot;        /* batch x classes (DRTP targets) */
} network;

/* The hidden layers' activation for a configuration: ReLU, or tanh for DRTP
 * (as the paper); and its name ("relu", "tanh"). */
op_act net_hidden_activation(const pp_config *config);
const char *net_activation_name(op_act act);
/* Whether the output is a sigmoid (DRTP, as the paper) rather than a softmax. */
int net_sigmoid_output(const pp_config *config);

/* Builds the layers for a configuration and allocates weights (He uniform
 * from the seed), optimiser state and a workspace for max_batch samples. */
pp_status net_create(rt_context *ctx, const pp_config *config, int in_c, int in_h, int in_w,
                     size_t classes, size_t max_batch, network **out);
void net_destroy(network *net);

/* The standard (pass == 0) or modulated (pass == 1) forward pass of batch
 * rows of `input` up to the logits z of the last layer. Dropout (when
 * training) is keyed by step, identical in both passes. */
pp_status net_forward(network *net, size_t batch, const rt_buf *input, int pass, int training,
                      uint32_t step, uint64_t seed);
/* One layer of a pass: z = layer(input), then its activation (and pooling);
 * the last layer stops at the logits. */
pp_status net_layer_forward(network *net, int index, size_t batch, const rt_buf *input,
                            net_activations *act, int training, uint32_t step, uint64_t seed);
/* The dropout key of hidden layer l at a step (p = 0 when not training). */
op_dropout net_dropout(const network *net, int layer, int training, uint32_t step, uint64_t seed);
/* The output error, loss and correct count of pass 0 or 1 into err (pass 0) or err_mod. */
pp_status net_output_error(network *net, size_t batch, int pass);
/* Conv layer l's shape for a batch. */
op_conv_shape net_conv_shape(const net_layer *layer, size_t batch);
/* v = mu v + lr (g + wd w); w -= v, for every layer. */
pp_status net_apply_updates(network *net, float lr, float momentum, float weight_decay);

#endif
