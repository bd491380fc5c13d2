/* A learning rule: given a batch already in net->x / net->labels, computes
 * every layer's update into layer->g (the trainer then applies the
 * optimiser) and leaves the standard pass's per-sample loss and correct
 * flags in net->loss / net->correct. A rule calls operators and the
 * network's forward pass only; adding a rule touches no kernel. */
#ifndef PEPITA_RULES_RULE_H
#define PEPITA_RULES_RULE_H

#include "model/network.h"

#define RULE_MAX_FIXED NET_MAX_LAYERS

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
} rule_step_args;

struct rule {
    const char *name;
    const pp_config *config;
    network *net;
    rule_fixed fixed;
    void *state; /* private to the rule */
    pp_status (*step)(rule *self, const rule_step_args *args);
    /* Optional: re-derives what the rule keeps from its fixed matrices, after
     * they were drawn (the rule's init calls it) or restored from a checkpoint. */
    pp_status (*fixed_changed)(rule *self);
    void (*destroy)(rule *self);
};

/* Creates the rule of config->rule for a network (fixed matrices from config->seed). */
pp_status rule_create(const pp_config *config, network *net, rule **out);
void rule_destroy(rule *r);

/* One constructor per rule file. */
pp_status rule_pepita_init(rule *r);
pp_status rule_bp_init(rule *r);
pp_status rule_fa_init(rule *r);
pp_status rule_dfa_init(rule *r);
pp_status rule_drtp_init(rule *r);

/* Allocates fixed matrix i of n floats, U(-bound, bound) keyed by (seed, stream). */
pp_status rule_fixed_uniform(rule *r, size_t n, float bound, uint32_t stream);

/* Random streams of fixed matrices start here (weights use 0..NET_MAX_LAYERS-1). */
enum { RULE_STREAM_BASE = 100 };

#endif
