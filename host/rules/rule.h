/* A learning rule: given a batch already in net->x / net->labels (which it
 * may overwrite: PEPITA forms x' in net->x where x is not read after), computes
 * every layer's update, handing each finished one to net_layer_update (into
 * layer->g for the trainer's optimiser step, or that step taken at once where
 * the trainer set net->sgd: so a step reads each layer's weights before its
 * update) and leaves the standard pass's per-sample loss and correct
 * flags in net->loss / net->correct, by one net_output_error (which adds
 * them to the trainer's totals). A rule calls operators and the
 * network's forward pass only; adding a rule touches no kernel.
 *
 * Each rule is one file (its init, and its hooks) and one row of the table
 * in rule_table.c (its descriptor). */
#ifndef PEPITA_RULES_RULE_H
#define PEPITA_RULES_RULE_H

#include "model/network.h"
#include "model/random_streams.h"

/* F and weight mirroring's factor per layer (PEPITA), or one per layer. */
#define RULE_MAX_FIXED (NET_MAX_LAYERS + 1)

/* The fixed random matrices a rule owns (F, or the feedback matrices B_l):
 * saved in checkpoints, never trained. */
typedef struct rule_fixed {
    int count;
    rt_buf buf[RULE_MAX_FIXED];
    size_t n[RULE_MAX_FIXED];
} rule_fixed;

typedef struct rule rule;

typedef struct rule_step_args {
    size_t batch;  /* rows in this batch (the last one may be partial) */
    uint32_t step; /* global step: keys dropout and random modulation */
    uint64_t seed;
    int epoch; /* the epoch being trained, 1-based (weight mirroring's schedule) */
    float lr;  /* the learning rate in force (a rule that steps the optimiser itself) */
} rule_step_args;

/* The rows of the paper's Table 2 (the presets of host/train/config.c), in
 * the order of a descriptor's preset_lr. */
typedef enum rule_preset_row {
    RULE_PRESET_FC_MNIST,
    RULE_PRESET_FC_FASHION,
    RULE_PRESET_FC_CIFAR,
    RULE_PRESET_CONV_MNIST,
    RULE_PRESET_CONV_CIFAR,
    RULE_PRESET_ROWS
} rule_preset_row;

/* What a rule is, before any network exists. */
typedef struct rule_descriptor {
    pp_rule_kind kind;
    const char *name; /* as --rule takes it */
    op_act hidden_act;
    net_output output;
    float preset_lr[RULE_PRESET_ROWS];
    /* Sets up a rule for r->net: its workspace, its fixed matrices (from
     * random_streams.h), step, and optionally fixed_changed and destroy. */
    pp_status (*init)(rule *r);
    /* The analysis hook, optional: the matrix (input x classes) that the
     * flattened W_L...W_1 is compared with (PEPITA: F), or NULL where the
     * angle means nothing for this network. */
    const rt_buf *(*angle_reference)(const rule *r);
} rule_descriptor;

struct rule {
    const rule_descriptor *descriptor;
    const char *name;
    const pp_config *config;
    network *net;
    rule_fixed fixed;
    void *state; /* private to the rule: its workspace */
    pp_status (*step)(rule *self, const rule_step_args *args);
    /* Optional: re-derives what the rule keeps from its fixed matrices, after
     * they were drawn (the rule's init calls it) or restored from a checkpoint. */
    pp_status (*fixed_changed)(rule *self);
    void (*destroy)(rule *self);
    /* Optional: runs at the start of every global step on every rank, before
     * step and even on a rank that holds no rows of this batch, so that what
     * the rule learns besides the weights (PEPITA's mirrored F) stays the
     * same on every rank. */
    pp_status (*begin_step)(rule *self, const rule_step_args *args);
    /* Optional: 0 when the steps of this epoch (1-based) leave no update
     * (PEPITA's pre-mirroring epochs): the trainer then moves neither the
     * weights nor their momentum. NULL: every epoch updates. */
    int (*updates_weights)(const rule *self, int epoch);
};

/* The descriptor of a rule kind, or NULL; the index-th row of the table
 * (NULL past the end), for listing every rule. */
const rule_descriptor *rule_descriptor_of(pp_rule_kind kind);
const rule_descriptor *rule_descriptor_at(int index);

/* The network for a configuration, with its rule's activation and output. */
pp_status rule_network_create(rt_context *ctx, const pp_config *config, int in_c, int in_h,
                              int in_w, size_t classes, size_t max_batch, network **out);

/* Creates the rule of config->rule for a network (fixed matrices from config->seed). */
pp_status rule_create(const pp_config *config, network *net, rule **out);
void rule_destroy(rule *r);

/* Each rule file's init and hooks, named in the table. */
pp_status rule_pepita_init(rule *r);
const rt_buf *rule_pepita_angle_reference(const rule *r);
pp_status rule_bp_init(rule *r);
pp_status rule_fa_init(rule *r);
pp_status rule_dfa_init(rule *r);
pp_status rule_drtp_init(rule *r);

/* Allocates fixed matrix i of n floats, U(-bound, bound) keyed by (seed, stream). */
pp_status rule_fixed_uniform(rule *r, size_t n, float bound, uint32_t stream);
/* The same, N(0, std^2) (op_normal at (seed, stream, 0)). */
pp_status rule_fixed_normal(rule *r, size_t n, float std, uint32_t stream);

#endif
