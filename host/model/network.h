/* The network: its layers' weights and optimiser state, the activation
 * workspace of the standard pass for one batch, and the forward pass as a
 * composition of operators. Learning rules use it; it knows nothing of any
 * rule: a rule's own buffers (PEPITA's modulated pass, BP's deltas) are the
 * rule's, and the rule chooses the hidden activation and the output. */
#ifndef PEPITA_MODEL_NETWORK_H
#define PEPITA_MODEL_NETWORK_H

#include "model/layer.h"
#include "ops/ops.h"

typedef enum net_layer_kind { NET_DENSE, NET_CONV } net_layer_kind;

/* The output layer's non-linearity and loss: softmax with cross-entropy, or
 * a sigmoid per class with binary cross-entropy. */
typedef enum net_output { NET_OUTPUT_SOFTMAX, NET_OUTPUT_SIGMOID } net_output;

/* Activations of one layer for one pass over a batch. */
struct net_activations {
    rt_buf z;       /* pre-activation: batch x units (conv: batch x F x oh x ow) */
    rt_buf a;       /* conv only: ReLU output before pooling */
    rt_buf h;       /* the layer's output as the next layer sees it */
    rt_buf argmax;  /* conv only: pooling argmax (int32) */
    rt_buf norm_sq; /* with net->normalise, dense hidden layers: sum(h^2) before h was scaled */
};

/* A product of a dense layer's weights that a rule keeps (PEPITA's W_1 F):
 * out = W F (out x classes) for F (in x classes) in fb, in op_project_layout's
 * layout, formed by the optimiser's pass, which streams W anyway, instead of
 * a product that reads W again. fresh: out is the product of W as it is now;
 * the optimiser sets it, whatever else writes W or fb clears it (a
 * checkpoint's restore, the rule when F changes). */
typedef struct net_projection {
    const rt_buf *fb; /* NULL: none */
    rt_buf *out;
    size_t classes;
    int fresh;
} net_projection;

struct net_layer {
    const net_layer_ops *ops;
    net_layer_kind kind; /* for PEPITA's first-layer shortcuts, exact for one kind each */
    size_t in, out;      /* features in and out (conv: out = pooled features) */
    size_t units;        /* pre-activation size per sample (conv: F*oh*ow, dense: out) */
    size_t positions;    /* output positions per filter (conv: oh*ow, dense: 1) */
    op_conv_shape conv;  /* conv only; batch is set per call */
    size_t fan_in;       /* inputs per unit: in, or in_c k k for conv (He init) */
    size_t n_weights;
    rt_buf w, v, g;      /* weights, momentum, gradient (update) */
    net_activations std; /* the standard pass */
    /* the standard pass's dropout mask, batch x units bytes (dense hidden
     * layers with dropout): the later passes of a step read it (net_dropout) */
    rt_buf mask;
    net_projection proj; /* optional, dense layers */
    int stepped;         /* net_layer_update took this step's SGD step */
};

#define NET_MAX_LAYERS (PP_MAX_HIDDEN + 2)

struct network {
    rt_context *ctx;
    pp_model_kind model;
    int n_layers;
    net_layer layers[NET_MAX_LAYERS];
    int in_c, in_h, in_w;
    size_t input_size, classes;
    size_t max_batch;  /* the workspace's capacity */
    op_act hidden_act; /* chosen by the rule */
    net_output output; /* chosen by the rule */
    float dropout;     /* on hidden dense layers while training */
    int normalise;     /* h /= ||h||_F over the batch after hidden dense layers (the
                          follow-up's activation normalisation; PEPITA only), in every pass */
    size_t
        first_row; /* the global batch row of row 0 (a data-parallel rank's slice): keys dropout */
    /* batch buffers */
    rt_buf x;             /* input: batch x input_size */
    rt_buf labels;        /* int32 */
    rt_buf err;           /* the standard pass's output error: batch x classes */
    rt_buf loss, correct; /* per-sample */
    /* where net_output_error also adds the batch's summed loss and correct
     * count (the trainer's running totals), or acc NULL */
    op_totals totals;
    /* The SGD step that net_apply_updates takes after this rule step, set
     * by the trainer where nothing else reads the updates (one process), or
     * NULL: net_layer_update then takes each layer's step with its update. */
    const op_sgd *sgd;
};

/* An activation's name ("ReLU", "tanh"). */
const char *net_activation_name(op_act act);

/* Builds the layers for a configuration and allocates weights (He uniform
 * from the seed), optimiser state and a workspace for max_batch samples;
 * hidden layers use hidden_act, the output layer `output`. */
pp_status net_create(rt_context *ctx, const pp_config *config, op_act hidden_act, net_output output,
                     int in_c, int in_h, int in_w, size_t classes, size_t max_batch, network **out);
void net_destroy(network *net);

/* Activation buffers shaped for layer l and max_batch samples (a rule's
 * second pass), and their release. */
pp_status net_activations_create(network *net, int layer, net_activations *act);
void net_activations_release(network *net, net_activations *act);

/* The standard forward pass of batch rows of `input` up to the logits z of
 * the last layer, into each layer's std. Dropout (when training) is keyed by
 * step, so a second pass of a rule can repeat the same mask. */
pp_status net_forward(network *net, size_t batch, const rt_buf *input, int training, uint32_t step,
                      uint64_t seed);
/* One layer of a pass: z = layer(input), then its activation (and pooling);
 * the last layer stops at the logits. */
pp_status net_layer_forward(network *net, int index, size_t batch, const rt_buf *input,
                            net_activations *act, int training, uint32_t step, uint64_t seed);
/* The second half of that for a hidden layer: from act->z to act->h, the
 * activation with dropout, then the normalisation where net->normalise. The
 * dropout mask is the layer's, or another stream's with mask_offset > 0
 * (model/random_streams.h). */
pp_status net_layer_activate(network *net, int index, size_t batch, net_activations *act,
                             int training, uint32_t step, uint64_t seed, uint32_t mask_offset);
/* Whether layer index's output is normalised (a dense hidden layer, net->normalise). */
int net_normalises(const network *net, int index);
/* The dropout key of hidden layer l at a step (p = 0 when not training),
 * with the layer's kept mask: the standard pass writes it (net_layer_activate
 * on std with mask_offset 0), the step's later passes read it. */
op_dropout net_dropout(const network *net, int layer, int training, uint32_t step, uint64_t seed);
/* The standard pass's output error into err, and its per-sample loss and
 * correct flags, their sums added to net->totals where set. */
pp_status net_output_error(network *net, size_t batch);
/* The output error of other logits (a rule's second pass) into err. */
pp_status net_output_error_of(network *net, size_t batch, const rt_buf *logits, rt_buf *err);
/* Conv layer l's shape for a batch. */
op_conv_shape net_conv_shape(const net_layer *layer, size_t batch);
/* Layer index's update from post and pre (its weight_update, scaled), the
 * last thing a rule's step writes to it: with net->sgd, the layer's SGD step
 * taken with it where the layer can (weight_step), else into l->g. */
pp_status net_layer_update(network *net, int index, size_t batch, float scale, const rt_buf *post,
                           const rt_buf *pre);
/* Clears what net_layer_update marked (after a failed rule step). */
void net_forget_steps(network *net);
/* v = mu v + lr (g + wd w); w -= v, for every layer that net_layer_update
 * has not stepped (and the projections, or they are formed when next asked). */
pp_status net_apply_updates(network *net, float lr, float momentum, float weight_decay);
/* Layer index's projection of its current weights: left by the last update,
 * or formed now (op_weight_project sums in the same order, so either way it
 * is the same to the bit). */
pp_status net_projection_current(network *net, int index, const rt_buf **out);

#endif
