/* A double-precision host model of the tiny networks the rule tests use:
 * the forward pass, the loss, and each learning rule's updates, written
 * straight from the equations (no operators), for finite-difference checks
 * and one-step comparisons with the device. */
#ifndef PEPITA_REF_NETWORK_H
#define PEPITA_REF_NETWORK_H

#include <stdint.h>

#include "pepita/pepita.h"

#define REF_NET_MAX_LAYERS 8

/* Dense layers (W_l is out x in, no bias), or a first conv layer (filters x
 * in_c x k x k, stride 1, no padding) -> activation -> maxpool 2x2 whose
 * pooled output (NCHW-flattened) feeds the dense layers. Hidden layers use
 * ReLU, or tanh with a sigmoid output (DRTP); the output is softmax with
 * cross-entropy otherwise. */
typedef struct ref_net {
    int batch, classes;
    int conv; /* layer 0 is conv */
    int in_c, in_h, in_w, filters, kernel;
    int n_layers;
    int in[REF_NET_MAX_LAYERS], out[REF_NET_MAX_LAYERS]; /* conv: in = input, out = pooled */
    int tanh_sigmoid;
    double *w[REF_NET_MAX_LAYERS];          /* weights, the caller's */
    const double *drop[REF_NET_MAX_LAYERS]; /* dense hidden: batch x out factors, or NULL */
} ref_net;

/* Fills the shape fields from a configuration (w and drop stay NULL). */
void ref_net_init(ref_net *net, const pp_config *config, int in_c, int in_h, int in_w, int classes,
                  int batch);
/* Weights in layer l. */
int ref_net_weights(const ref_net *net, int layer);

/* The mean over the batch of the per-sample loss (cross-entropy, or the
 * binary cross-entropy summed over classes with a sigmoid output). */
double ref_net_loss(const ref_net *net, const double *x, const int32_t *labels);

/* The updates a rule computes for one batch into g[l] (n weights each).
 * feedback[l]: FA's B_l (shaped like W_l, l >= 1), DFA's and DRTP's B_l
 * (classes x out_l, hidden l; a conv layer's classes x its units before the
 * pooling); unused for BP. */
void ref_net_updates(const ref_net *net, pp_rule_kind rule, const double *x, const int32_t *labels,
                     const double *const *feedback, double **g);

#endif
