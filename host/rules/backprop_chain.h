/* The pieces gradient-style rules share: each layer's update from a signal
 * at its output, the full backward chain of BP and FA, where the error
 * travels down through one matrix per layer (W_l for BP, a fixed B_l for FA),
 * and the direct projection of DFA and DRTP. */
#ifndef PEPITA_RULES_BACKPROP_CHAIN_H
#define PEPITA_RULES_BACKPROP_CHAIN_H

#include "rules/rule.h"

/* What layer l saw as input in the standard pass: x, or the layer below's h. */
const rt_buf *chain_layer_input(const network *net, int layer);

/* The output layer's update: g_L = (1/B) err^T h_{L-1}. */
pp_status chain_output_update(rule *r, size_t batch, const rt_buf *err);

/* Hidden layer l's update from the signal already in its delta_h (at its
 * output h; pooled for conv): delta = delta_h through pooling, the activation
 * derivative and the dropout mask of the standard pass; g = (1/B) delta^T h_{l-1}
 * (conv: the batch-mean weight gradient). */
pp_status chain_hidden_update(rule *r, int layer, const rule_step_args *a);

/* A standard pass, its error, then the backward chain: feedback[l] (shaped
 * like W_l) carries layer l's delta to layer l-1's delta_h. feedback[0] is
 * unused. Leaves every layer's update in g. */
pp_status backprop_chain(rule *r, const rule_step_args *a,
                         const rt_buf *const feedback[NET_MAX_LAYERS]);

/* Makes r a direct-feedback rule (DFA, DRTP): a standard pass, its error and
 * the output layer's update, then every hidden layer l gets delta_h = s B_l
 * straight from the top, where s (batch x classes) is the error, or with
 * from_target the one-hot target, and B_l (classes x layer l's out) is fixed,
 * U(-bounds[l], bounds[l]) from random stream stream + l. */
pp_status direct_feedback_init(rule *r, int from_target, const float bounds[NET_MAX_LAYERS],
                               uint32_t stream);

#endif
