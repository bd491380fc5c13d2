/* The training loop: shuffle, gather, one rule step, optimiser, per batch;
 * the host reads back a few scalars per progress tick and per epoch only. */
#include "train/trainer_internal.h"

#include "model/arch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TOTAL_TRAIN = 0, TOTAL_TEST = 2, N_TOTALS = 4 };
/* Progress ticks per epoch: each costs one wait for the device. */
enum { TICKS_PER_EPOCH = 50 };

double trainer_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static pp_status upload_split(rt_context *ctx, const pp_dataset *d, device_split *out) {
    size_t sample = (size_t)d->channels * d->height * d->width;
    out->n = d->n;
    out->is_float = d->features != NULL;
    size_t bytes = d->n * sample * (out->is_float ? sizeof(float) : 1);
    PP_TRY(rt_buf_create(ctx, bytes, &out->pixels));
    PP_TRY(rt_buf_write(ctx, &out->pixels, 0, bytes,
                        out->is_float ? (const void *)d->features : (const void *)d->pixels));
    PP_TRY(rt_buf_create(ctx, d->n, &out->labels));
    return rt_buf_write(ctx, &out->labels, 0, d->n, d->labels);
}

static pp_status check_datasets(const pp_config *c, const pp_dataset *train,
                                const pp_dataset *test) {
    if (!train || !test || !train->n || !test->n || !train->labels || !test->labels ||
        !(train->pixels || train->features) || !(test->pixels || test->features))
        return pp_fail(PP_ERR_ARGUMENT, "the training and test sets must both hold samples");
    if (!train->features != !test->features)
        return pp_fail(PP_ERR_ARGUMENT, "the training and test sets must both be uint8 pixels or "
                                        "both float32 features");
    if (train->channels != test->channels || train->height != test->height ||
        train->width != test->width || train->classes != test->classes)
        return pp_fail(PP_ERR_ARGUMENT,
                       "the training set (%dx%dx%d, %d classes) and the test set (%dx%dx%d, %d "
                       "classes) differ in shape",
                       train->channels, train->height, train->width, train->classes, test->channels,
                       test->height, test->width, test->classes);
    if (train->n > INT32_MAX || test->n > INT32_MAX)
        return pp_fail(PP_ERR_ARGUMENT, "datasets above 2^31 samples are not supported");
    if (c->arch[0]) {
        arch_spec spec;
        PP_TRY(arch_parse(c->arch, &spec));
        PP_TRY(arch_check_input(&spec, train->channels, train->height, train->width));
    } else if (c->model == PP_MODEL_CONV) {
        int o = train->height - c->conv_kernel + 1, w = train->width - c->conv_kernel + 1;
        if (o < 2 || w < 2)
            return pp_fail(PP_ERR_ARGUMENT,
                           "the conv model needs images larger than its %dx%d kernel plus a 2x2 "
                           "pool; got %dx%d",
                           c->conv_kernel, c->conv_kernel, train->height, train->width);
    }
    return PP_OK;
}

pp_status pp_trainer_create(pp_context *context, const pp_config *config, const pp_dataset *train,
                            const pp_dataset *test, pp_trainer **out) {
    if (!context || !config || !out)
        return pp_fail(PP_ERR_ARGUMENT, "pp_trainer_create: NULL argument");
    *out = NULL;
    PP_TRY(pp_config_validate(config));
    PP_TRY(check_datasets(config, train, test));
    pp_trainer *t = calloc(1, sizeof *t);
    if (!t) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory creating the trainer");
    t->config = *config;
    t->ctx = pp_context_runtime(context);
    const char *device = t->ctx->info.name;
    pp_status st;
    PP_TRY_GOTO(st,
                rule_network_create(t->ctx, &t->config, train->channels, train->height,
                                    train->width, (size_t)train->classes, (size_t)config->batch,
                                    &t->net),
                fail);
    PP_TRY_GOTO(st, rule_create(&t->config, t->net, &t->rule), fail);
    PP_TRY_GOTO(st, upload_split(t->ctx, train, &t->train), fail);
    PP_TRY_GOTO(st, upload_split(t->ctx, test, &t->test), fail);
    size_t n_order = train->n > test->n ? train->n : test->n; /* host scratch for both */
    t->host_order = malloc(n_order * sizeof *t->host_order);
    if (!t->host_order) {
        st = pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for the sample order");
        goto fail;
    }
    PP_TRY_GOTO(st, rt_buf_create(t->ctx, train->n * sizeof(int32_t), &t->order), fail);
    for (size_t i = 0; i < test->n; i++)
        t->host_order[i] = (int32_t)i;
    PP_TRY_GOTO(st, rt_buf_create(t->ctx, test->n * sizeof(int32_t), &t->test_order), fail);
    PP_TRY_GOTO(st,
                rt_buf_write(t->ctx, &t->test_order, 0, test->n * sizeof(int32_t), t->host_order),
                fail);
    PP_TRY_GOTO(st, rt_buf_create(t->ctx, N_TOTALS * sizeof(float), &t->totals), fail);
    if (config->analysis) PP_TRY_GOTO(st, trainer_analysis_create(t), fail);
    PP_TRY_GOTO(st, trainer_parallel_create(t), fail);
    PP_TRY_GOTO(st, rt_finish(t->ctx), fail);
    *out = t;
    return PP_OK;
fail:
    pp_trainer_destroy(t);
    return pp_fail_context(st, "creating the %s %s trainer on %s", pp_rule_name(config->rule),
                           pp_model_name(config->model), device);
}

void pp_trainer_destroy(pp_trainer *t) {
    if (!t) return;
    rule_destroy(t->rule);
    net_destroy(t->net);
    rt_buf_release(t->ctx, &t->train.pixels);
    rt_buf_release(t->ctx, &t->train.labels);
    rt_buf_release(t->ctx, &t->test.pixels);
    rt_buf_release(t->ctx, &t->test.labels);
    rt_buf_release(t->ctx, &t->order);
    rt_buf_release(t->ctx, &t->test_order);
    rt_buf_release(t->ctx, &t->totals);
    trainer_analysis_destroy(t);
    trainer_parallel_destroy(t);
    free(t->host_order);
    free(t);
}

const pp_config *pp_trainer_config(const pp_trainer *t) {
    return &t->config;
}

int pp_trainer_epoch(const pp_trainer *t) {
    return t->epoch;
}

/* Gathers count samples of a split from position start of the given sample
 * order into the network's input. */
static pp_status gather(pp_trainer *t, const device_split *split, const rt_buf *order, size_t start,
                        size_t count) {
    network *net = t->net;
    if (split->is_float)
        return op_gather_batch_f32(t->ctx, count, net->input_size, &split->pixels, &split->labels,
                                   order, start, &net->x, &net->labels);
    return op_gather_batch(t->ctx, count, net->input_size, &split->pixels, &split->labels, order,
                           start, 1.0f / 255.0f, &net->x, &net->labels);
}

/* The running totals, summed over the ranks. */
static pp_status read_totals(pp_trainer *t, float totals[N_TOTALS]) {
    PP_TRY(rt_buf_read(t->ctx, &t->totals, 0, N_TOTALS * sizeof(float), totals));
    return trainer_sum_totals(t, totals, N_TOTALS);
}

/* The shuffled order of the coming epoch: the one upload per epoch. */
static pp_status set_order(pp_trainer *t, size_t n) {
    trainer_shuffle(t->host_order, n, t->config.seed, t->epoch + 1);
    return rt_buf_write(t->ctx, &t->order, 0, n * sizeof(int32_t), t->host_order);
}

pp_status pp_trainer_evaluate(pp_trainer *t, double *loss, double *accuracy) {
    network *net = t->net;
    size_t batch = (size_t)t->config.batch, n = t->test.n;
    PP_TRY(rt_buf_zero(t->ctx, &t->totals, TOTAL_TEST * sizeof(float), 2 * sizeof(float)));
    /* ranks take turns over the test batches */
    for (size_t b = (size_t)t->rank; b * batch < n; b += (size_t)t->ranks) {
        size_t count = n - b * batch < batch ? n - b * batch : batch;
        PP_TRY(gather(t, &t->test, &t->test_order, b * batch, count));
        PP_TRY(net_forward(net, count, &net->x, 0, t->step, t->config.seed));
        net->totals = (op_totals){.acc = &t->totals, .at = TOTAL_TEST};
        pp_status st = net_output_error(net, count);
        net->totals = (op_totals){0};
        PP_TRY(st);
    }
    float totals[N_TOTALS];
    PP_TRY(read_totals(t, totals));
    if (loss) *loss = totals[TOTAL_TEST] / (double)n;
    if (accuracy) *accuracy = totals[TOTAL_TEST + 1] / (double)n;
    return PP_OK;
}

pp_status pp_trainer_run_epoch(pp_trainer *t, pp_progress_fn progress, void *user,
                               pp_epoch_stats *stats) {
    network *net = t->net;
    const pp_config *c = &t->config;
    size_t batch = (size_t)c->batch, n = t->train.n;
    size_t n_batches = (n + batch - 1) / batch;
    size_t tick = n_batches / TICKS_PER_EPOCH ? n_batches / TICKS_PER_EPOCH : 1;
    int epoch = t->epoch + 1;
    float lr = trainer_lr_at(c, epoch);
    double start = trainer_now_seconds();
    float totals[N_TOTALS];

    PP_TRY(set_order(t, n));
    float partial[2] = {(float)t->partial_loss, (float)t->partial_correct};
    /* an interrupted epoch's totals are global: one rank carries them */
    if (t->next_batch == 0 || t->rank != 0) partial[0] = partial[1] = 0.0f;
    t->exchange_seconds = t->allreduce_seconds = 0.0;
    PP_TRY(rt_buf_write(t->ctx, &t->totals, TOTAL_TRAIN * sizeof(float), sizeof partial, partial));

    for (size_t b = t->next_batch; b < n_batches; b++) {
        size_t count = n - b * batch < batch ? n - b * batch : batch;
        size_t first, rows; /* this rank's slice of the global batch */
        trainer_slice(count, t->rank, t->ranks, &first, &rows);
        rule_step_args args = {
            .batch = rows, .step = t->step, .seed = c->seed, .epoch = epoch, .lr = lr};
        if (t->rule->begin_step) PP_TRY(t->rule->begin_step(t->rule, &args));
        /* a rule may leave no update in some epochs (PEPITA's pre-mirroring):
         * then weights and momentum stay as they are, on every rank alike */
        const int updates = !t->rule->updates_weights || t->rule->updates_weights(t->rule, epoch);
        if (rows) {
            PP_TRY(gather(t, &t->train, &t->order, b * batch + first, rows));
            net->first_row = first;
            /* the rule's standard pass adds its loss and correct count to the
             * totals; one process's rule may take the SGD step with its updates */
            net->totals = (op_totals){.acc = &t->totals, .at = TOTAL_TRAIN};
            const op_sgd sgd = {lr, c->momentum, c->weight_decay};
            net->sgd = updates && t->ranks == 1 ? &sgd : NULL;
            pp_status st = t->rule->step(t->rule, &args);
            net->totals = (op_totals){0};
            net->sgd = NULL;
            /* a failed step may have stepped some layers already: none is
             * left marked, so a later step does not skip it */
            if (st != PP_OK) net_forget_steps(net);
            PP_TRY(st);
        } else {
            for (int i = 0; i < net->n_layers; i++) /* nothing to add to the sum */
                PP_TRY(rt_buf_zero(t->ctx, &net->layers[i].g, 0,
                                   net->layers[i].n_weights * sizeof(float)));
        }
        if (updates) {
            PP_TRY(trainer_sum_gradients(t, rows, count));
            PP_TRY(net_apply_updates(net, lr, c->momentum, c->weight_decay));
        }
        t->step++;
        /* ranks > 1: every rank reads the totals at the same ticks (a collective) */
        if ((progress || t->ranks > 1) && ((b + 1) % tick == 0 || b + 1 == n_batches)) {
            PP_TRY(read_totals(t, totals));
            size_t seen = b * batch + count;
            int stop = progress
                           ? progress(user, b + 1, n_batches, totals[TOTAL_TRAIN] / (double)seen,
                                      totals[TOTAL_TRAIN + 1] / (double)seen,
                                      t->partial_seconds + trainer_now_seconds() - start)
                           : 0;
            PP_TRY(trainer_any_stop(t, &stop));
            if (stop && b + 1 < n_batches) {
                t->next_batch = b + 1;
                t->partial_loss = totals[TOTAL_TRAIN];
                t->partial_correct = totals[TOTAL_TRAIN + 1];
                t->partial_seconds += trainer_now_seconds() - start;
                return pp_fail(PP_ERR_INTERRUPTED, "stopped after batch %zu of %zu in epoch %d",
                               b + 1, n_batches, epoch);
            }
        }
    }
    PP_TRY(read_totals(t, totals));
    double seconds = t->partial_seconds + trainer_now_seconds() - start;
    double train_loss = totals[TOTAL_TRAIN] / (double)n;
    if (!isfinite(train_loss))
        return pp_fail(PP_ERR_NUMERIC,
                       "the training loss became %s in epoch %d; try a lower learning rate "
                       "(--lr, now %g)",
                       isnan(train_loss) ? "NaN" : "infinite", epoch, (double)lr);
    memset(stats, 0, sizeof *stats);
    stats->epoch = epoch;
    stats->lr = lr;
    stats->train_loss = train_loss;
    stats->train_accuracy = totals[TOTAL_TRAIN + 1] / (double)n;
    stats->seconds = seconds;
    stats->samples_per_second = seconds > 0 ? (double)n / seconds : 0;
    stats->exchange_seconds = t->exchange_seconds;
    stats->allreduce_seconds = t->allreduce_seconds;
    t->epoch = epoch;
    t->next_batch = 0;
    t->partial_loss = t->partial_correct = t->partial_seconds = 0.0;
    PP_TRY(pp_trainer_evaluate(t, &stats->test_loss, &stats->test_accuracy));
    return t->config.analysis ? trainer_analyse(t, stats) : PP_OK;
}

pp_status pp_trainer_layer_count(const pp_trainer *t, int *count) {
    *count = t->net->n_layers;
    return PP_OK;
}

pp_status pp_trainer_read_weights(pp_trainer *t, int layer, float **values, size_t *count) {
    if (layer < 0 || layer >= t->net->n_layers)
        return pp_fail(PP_ERR_ARGUMENT, "layer %d does not exist (the network has %d)", layer,
                       t->net->n_layers);
    const net_layer *l = &t->net->layers[layer];
    *values = malloc(l->n_weights * sizeof(float));
    if (!*values) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory reading weights");
    *count = l->n_weights;
    pp_status st = rt_buf_read(t->ctx, &l->w, 0, l->n_weights * sizeof(float), *values);
    if (st != PP_OK) {
        free(*values);
        *values = NULL;
    }
    return st;
}
