/* The layer interface: what each kind of layer does, one file per kind
 * (layer_dense.c, layer_conv.c). A layer is its parametrised operation and
 * what follows it up to its output h: the hidden activation (and dropout)
 * for a dense layer, the activation and the 2x2 max pooling for a conv
 * layer. The network (network.c) builds a list of them from an arch_spec;
 * rules drive them through these operations (only PEPITA's exact shortcuts
 * for the first layer look at its kind).
 *
 * Adding a kind of layer: a file defining its net_layer_ops, a keyword in
 * arch.c's grammar, and a case in net_layer_ops_of. */
#ifndef PEPITA_MODEL_LAYER_H
#define PEPITA_MODEL_LAYER_H

#include "model/arch.h"
#include "ops/ops.h"

typedef struct network network;
typedef struct net_layer net_layer;
typedef struct net_activations net_activations;

typedef struct net_layer_ops {
    const char *name;
    /* Sets the layer's shapes for an input of c x h x w (flattened for a
     * dense layer) and advances them to its output's. */
    void (*shape)(net_layer *l, const arch_layer *spec, size_t max_batch, int *c, int *h, int *w);
    /* The buffers of one pass over max_batch samples. */
    pp_status (*activations_create)(rt_context *ctx, const net_layer *l, size_t max_batch,
                                    net_activations *act);
    /* z = the layer's operation on input (batch rows). */
    pp_status (*linear)(network *net, const net_layer *l, size_t batch, const rt_buf *input,
                        rt_buf *z);
    /* From act->z to act->h: the activation act (and the dropout mask when
     * drop is set, and the pooling); act->a and act->argmax where the kind
     * keeps them. */
    pp_status (*activate)(network *net, const net_layer *l, op_act act, size_t batch,
                          net_activations *a, const op_dropout *drop);
    /* A second pass's activation from mod->z, with diff = (its output
     * before pooling) - (the same of the standard pass `std`) and the same
     * dropout mask (PEPITA's modulated pass). */
    pp_status (*activate_diff)(network *net, const net_layer *l, op_act act, size_t batch,
                               const net_activations *std, net_activations *mod, rt_buf *diff,
                               const op_dropout *drop);
    /* delta (at z) from delta_h (at h), through the pooling, the
     * activation's derivative at std->z and the dropout mask. */
    pp_status (*backward)(network *net, const net_layer *l, op_act act, size_t batch,
                          const net_activations *std, const rt_buf *delta_h, rt_buf *delta,
                          const op_dropout *drop);
    /* The signal at the input from the signal delta at z, through `weights`
     * shaped like w (w itself, or a rule's fixed feedback matrix). */
    pp_status (*input_grad)(network *net, const net_layer *l, size_t batch, const rt_buf *delta,
                            const rt_buf *weights, rt_buf *input_delta);
    /* g = scale * (the weight gradient of post, a signal at z, and pre, the
     * presynaptic input): the outer product summed over the batch (and the
     * positions of a conv layer). */
    pp_status (*weight_update)(network *net, const net_layer *l, size_t batch, float scale,
                               const rt_buf *post, const rt_buf *pre, rt_buf *g);
    /* Optional (NULL: none): the SGD step of the layer's w and v with that
     * update as its gradient, bit-identical to weight_update into l->g and
     * then op_sgd_momentum (net_layer_update calls it). */
    pp_status (*weight_step)(network *net, net_layer *l, size_t batch, float scale,
                             const rt_buf *post, const rt_buf *pre, const op_sgd *sgd);
} net_layer_ops;

extern const net_layer_ops net_layer_dense;
extern const net_layer_ops net_layer_conv;

/* The operations of a kind of spec layer. */
const net_layer_ops *net_layer_ops_of(arch_kind kind);

#endif
