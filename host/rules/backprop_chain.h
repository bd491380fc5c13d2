/* The pieces gradient-style rules share: their workspace (the signal at
 * every layer), each layer's update from a signal at its output, the full
 * backward chain of BP and FA, where the error travels down through one
 * matrix per layer (W_l for BP, a fixed B_l for FA), and the direct
 * projection of DFA and DRTP. */
#ifndef PEPITA_RULES_BACKPROP_CHAIN_H
#define PEPITA_RULES_BACKPROP_CHAIN_H

#include "rules/rule.h"

/* The rule's state (r->state) for every rule of this file. */
typedef struct chain_state {
    rt_buf delta[NET_MAX_LAYERS];   /* the signal at each pre-activation */
    rt_buf delta_h[NET_MAX_LAYERS]; /* the chain: the signal at each output h (conv: pooled) */
    rt_buf onehot;                  /* batch x classes: the targets (from_target) */
    int from_target;
    /* backward chain: feedback[l] shaped like W_l ([0] unused); direct:
     * feedback[l] (classes x layer l's out) for hidden layers */
    const rt_buf *feedback[NET_MAX_LAYERS];
} chain_state;

/* Makes r a backward-chain rule (BP, FA): its workspace and its step; the
 * caller then fills feedback[l] for l >= 1. */
pp_status backprop_chain_init(rule *r);

/* Makes r a direct-feedback rule (DFA, DRTP): a standard pass, its error and
 * the output layer's update, then every hidden layer l gets s B_l at its units
 * straight from the top, where s (batch x classes) is the error, or with
 * from_target the one-hot target, and B_l (classes x layer l's units, a conv
 * layer's before its pooling) is fixed, U(-bounds[l], bounds[l]) from random
 * stream stream + l. */
pp_status direct_feedback_init(rule *r, int from_target, const float bounds[NET_MAX_LAYERS],
                               uint32_t stream);

#endif
