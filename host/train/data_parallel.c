/* Data-parallel training across the ranks of an MPI job (host/dist): every
 * rank takes its slice of each global batch, and the ranks' updates are summed
 * through host memory (MPI cannot address OpenCL buffers) before every rank
 * applies the same optimiser step. */
#include "train/trainer_internal.h"

#include "dist/dist.h"

#include <stdlib.h>

void trainer_slice(size_t count, int rank, int ranks, size_t *first, size_t *rows) {
    size_t lo = count * (size_t)rank / (size_t)ranks;
    size_t hi = count * (size_t)(rank + 1) / (size_t)ranks;
    *first = lo;
    *rows = hi - lo;
}

pp_status trainer_parallel_create(pp_trainer *t) {
    t->rank = dist_rank();
    t->ranks = dist_size();
    if (t->ranks == 1) return PP_OK;
    if (t->config.modulation == PP_MODULATION_RANDOM)
        return pp_fail(PP_ERR_ARGUMENT,
                       "--modulation random is not supported across %d MPI "
                       "ranks yet (its noise is drawn per local row); run it "
                       "in one process",
                       t->ranks);
    /* its first optimiser step happens inside the rule, on one rank's rows */
    if (t->config.update_form == PP_UPDATE_TIME_LOCAL)
        return pp_fail(PP_ERR_ARGUMENT,
                       "--update time-local is not supported across %d MPI ranks (its first "
                       "optimiser step is taken inside the step, before the ranks' updates are "
                       "summed); run it in one process",
                       t->ranks);
    if (t->config.normalise)
        return pp_fail(PP_ERR_ARGUMENT,
                       "--normalise is not supported across %d MPI ranks (the norm is over the "
                       "whole batch, and each rank holds a slice of it); run it in one process",
                       t->ranks);
    network *net = t->net;
    size_t widest = 0;
    for (int i = 0; i < net->n_layers; i++) {
        t->n_grad += net->layers[i].n_weights;
        if (net->layers[i].units > widest) widest = net->layers[i].units;
    }
    /* dropout indexes the global batch's elements with 32 bits */
    if ((size_t)t->config.batch * widest > UINT32_MAX)
        return pp_fail(PP_ERR_ARGUMENT,
                       "--batch %d is too large for data-parallel dropout masks (%zu units)",
                       t->config.batch, widest);
    t->grad_stage = malloc(t->n_grad * sizeof *t->grad_stage);
    if (!t->grad_stage)
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for the gradient staging buffer");
    return PP_OK;
}

void trainer_parallel_destroy(pp_trainer *t) {
    free(t->grad_stage);
    t->grad_stage = NULL;
}

/* Each rank's update is its mean over its rows; scaled by rows / count and
 * summed, they are the mean over the global batch. */
pp_status trainer_sum_gradients(pp_trainer *t, size_t rows, size_t count) {
    if (t->ranks == 1) return PP_OK;
    network *net = t->net;
    /* the step's kernels first, so the time below is the exchange's alone */
    PP_TRY(rt_finish(t->ctx));
    double start = trainer_now_seconds();
    size_t at = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const net_layer *l = &net->layers[i];
        PP_TRY(rt_buf_read(t->ctx, &l->g, 0, l->n_weights * sizeof(float), t->grad_stage + at));
        at += l->n_weights;
    }
    float share = (float)((double)rows / (double)count);
    for (size_t i = 0; i < t->n_grad; i++)
        t->grad_stage[i] *= share;
    double reduce_start = trainer_now_seconds();
    PP_TRY(dist_sum_floats(t->grad_stage, t->n_grad));
    t->allreduce_seconds += trainer_now_seconds() - reduce_start;
    at = 0;
    for (int i = 0; i < net->n_layers; i++) {
        net_layer *l = &net->layers[i];
        PP_TRY(rt_buf_write(t->ctx, &l->g, 0, l->n_weights * sizeof(float), t->grad_stage + at));
        at += l->n_weights;
    }
    t->exchange_seconds += trainer_now_seconds() - start;
    return PP_OK;
}

pp_status trainer_sum_totals(pp_trainer *t, float *totals, size_t n) {
    if (t->ranks == 1) return PP_OK;
    double sums[4];
    if (n > 4) return pp_fail(PP_ERR_INTERNAL, "trainer_sum_totals: %zu totals", n);
    for (size_t i = 0; i < n; i++)
        sums[i] = totals[i];
    PP_TRY(dist_sum_doubles(sums, n));
    for (size_t i = 0; i < n; i++)
        totals[i] = (float)sums[i];
    return PP_OK;
}

pp_status trainer_any_stop(pp_trainer *t, int *stop) {
    if (t->ranks == 1) return PP_OK;
    *stop = *stop != 0;
    return dist_max_int(stop);
}
