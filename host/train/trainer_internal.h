/* The trainer's state, shared by the training loop and the checkpoint code. */
#ifndef PEPITA_TRAIN_TRAINER_INTERNAL_H
#define PEPITA_TRAIN_TRAINER_INTERNAL_H

#include "rules/rule.h"

/* A dataset split resident on the device: uint8 pixels, or float32
 * features when is_float. */
typedef struct device_split {
    size_t n;
    int is_float;
    rt_buf pixels, labels;
} device_split;

struct pp_trainer {
    pp_config config;
    rt_context *ctx;
    network *net;
    rule *rule;
    device_split train, test;
    rt_buf order;      /* int32 sample order of the current epoch */
    rt_buf test_order; /* int32 0..n_test-1: uploaded once */
    int32_t *host_order;
    rt_buf totals;     /* running sums: train loss, train correct, test loss, test correct */
    int epoch;         /* epochs completed */
    size_t next_batch; /* within the current epoch (non-zero after an interrupt) */
    uint32_t step;     /* global step: keys dropout */
    double partial_loss, partial_correct; /* of an interrupted epoch */
    double partial_seconds;
    rt_buf analysis_a, analysis_b, analysis_scalars; /* with config.analysis */
};

/* The learning rate in force during epoch `epoch` (1-based). */
float trainer_lr_at(const pp_config *config, int epoch);
/* The sample order of an epoch: a permutation of n keyed by (seed, epoch). */
void trainer_shuffle(int32_t *order, size_t n, uint64_t seed, int epoch);

/* Per-epoch analysis (config.analysis): angle and norms into stats. */
pp_status trainer_analysis_create(pp_trainer *t);
void trainer_analysis_destroy(pp_trainer *t);
pp_status trainer_analyse(pp_trainer *t, pp_epoch_stats *stats);

#endif
