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
    int rank, ranks;   /* data-parallel: this process among the MPI job's */
    float *grad_stage; /* ranks > 1: every layer's update, staged for the sum */
    size_t n_grad;
    double exchange_seconds;  /* this epoch: staging and summing updates */
    double allreduce_seconds; /* of which in MPI_Allreduce */
};

/* The variants' settings of a preset (all off, weight mirroring's rates and
 * schedule at their defaults): also what a checkpoint older than the
 * variants means. */
void config_variant_defaults(pp_config *config);

/* The learning rate in force during epoch `epoch` (1-based). */
float trainer_lr_at(const pp_config *config, int epoch);
/* The sample order of an epoch: a permutation of n keyed by (seed, epoch). */
void trainer_shuffle(int32_t *order, size_t n, uint64_t seed, int epoch);

/* A monotonic clock in seconds. */
double trainer_now_seconds(void);

/* Data parallelism (data_parallel.c). A global batch of count rows is split
 * into ranks slices; this rank's starts at *first and holds *rows. */
void trainer_slice(size_t count, int rank, int ranks, size_t *first, size_t *rows);
/* Joins the MPI job's ranks (one rank without MPI) and stages updates. */
pp_status trainer_parallel_create(pp_trainer *t);
void trainer_parallel_destroy(pp_trainer *t);
/* The global batch's mean update in every layer's g, from this rank's mean
 * over its rows of count. */
pp_status trainer_sum_gradients(pp_trainer *t, size_t rows, size_t count);
/* totals[0..n) summed over the ranks (n <= 4). */
pp_status trainer_sum_totals(pp_trainer *t, float *totals, size_t n);
/* *stop becomes 1 on every rank when any rank asks to stop. */
pp_status trainer_any_stop(pp_trainer *t, int *stop);

/* Per-epoch analysis (config.analysis): angle and norms into stats. */
pp_status trainer_analysis_create(pp_trainer *t);
void trainer_analysis_destroy(pp_trainer *t);
pp_status trainer_analyse(pp_trainer *t, pp_epoch_stats *stats);

#endif
