#include "cli/run_report.h"

#include "runtime/error.h"
#include "util/atomic_file.h"
#include "util/text_buffer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pp_status run_report_add(run_report *r, const pp_epoch_stats *stats) {
    if (r->count == r->capacity) {
        size_t capacity = r->capacity ? 2 * r->capacity : 64;
        pp_epoch_stats *grown = realloc(r->epochs, capacity * sizeof *grown);
        if (!grown) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for the run log");
        r->epochs = grown;
        r->capacity = capacity;
    }
    r->epochs[r->count++] = *stats;
    return PP_OK;
}

pp_status run_report_initial_analysis(run_report *r, pp_trainer *trainer) {
    pp_epoch_stats initial = {0};
    PP_TRY(pp_trainer_analyse(trainer, &initial));
    for (int l = 0; l < initial.n_norms; l++)
        r->initial_norms[l] = initial.weight_norms[l];
    r->n_initial_norms = initial.n_norms;
    r->initial_angle = initial.angle_degrees;
    return PP_OK;
}

/* Mean and standard deviation of a layer (the normal fit), then its
 * histogram over mean +- 4 std on the device. */
static pp_status layer_histogram(pp_trainer *trainer, int layer, report_histogram *h) {
    float *w;
    size_t n;
    PP_TRY(pp_trainer_read_weights(trainer, layer, &w, &n));
    double sum = 0, squares = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i];
    double mean = n ? sum / (double)n : 0;
    for (size_t i = 0; i < n; i++)
        squares += ((double)w[i] - mean) * ((double)w[i] - mean);
    free(w);
    h->mean = mean;
    h->std = n ? sqrt(squares / (double)n) : 0;
    float lo = (float)(mean - 4 * h->std), hi = (float)(mean + 4 * h->std);
    if (!(hi > lo)) { /* a constant layer */
        lo = (float)mean - 1.0f;
        hi = (float)mean + 1.0f;
    }
    h->lo = lo;
    h->hi = hi;
    PP_TRY(pp_trainer_weight_histogram(trainer, layer, REPORT_BINS, lo, hi, h->counts));
    h->weights = 0; /* NaNs are not counted */
    for (int b = 0; b < REPORT_BINS; b++)
        h->weights += h->counts[b];
    return PP_OK;
}

pp_status run_report_histograms(run_report *r, pp_trainer *trainer) {
    int layers = 0;
    PP_TRY(pp_trainer_layer_count(trainer, &layers));
    if (layers > PP_MAX_HIDDEN + 2)
        return pp_fail(PP_ERR_INTERNAL, "%d layers, more than the report holds", layers);
    r->n_histograms = 0;
    for (int l = 0; l < layers; l++) {
        PP_TRY(layer_histogram(trainer, l, &r->histograms[l]));
        /* a diverged layer has no histogram worth drawing */
        if (!isfinite(r->histograms[l].mean) || !isfinite(r->histograms[l].std)) break;
        r->n_histograms = l + 1;
    }
    r->histogram_epoch = pp_trainer_epoch(trainer);
    return PP_OK;
}

pp_status run_report_restore(run_report *r, const run_data *d, int epochs) {
    const pp_config *c = &r->config;
    if (strcmp(d->dataset, pp_dataset_name(c->dataset)) ||
        strcmp(d->model, pp_model_name(c->model)) || strcmp(d->rule, pp_rule_name(c->rule)))
        return pp_fail(PP_ERR_MISMATCH,
                       "it is a run of %s %s %s, not of this checkpoint's %s %s %s", d->rule,
                       d->model, d->dataset, pp_rule_name(c->rule), pp_model_name(c->model),
                       pp_dataset_name(c->dataset));
    if (epochs < 0 || (size_t)epochs > d->epochs)
        return pp_fail(PP_ERR_MISMATCH, "it holds %zu epochs, the checkpoint is at epoch %d",
                       d->epochs, epochs);
    r->count = 0;
    for (int i = 0; i < epochs; i++) {
        pp_epoch_stats s = {.epoch = i + 1,
                            .lr = (float)d->lr[i],
                            .train_loss = d->train_loss[i],
                            .train_accuracy = d->train_accuracy[i],
                            .test_loss = d->test_loss[i],
                            .test_accuracy = d->test_accuracy[i],
                            .seconds = d->seconds[i],
                            .samples_per_second = d->samples_per_second[i],
                            .angle_degrees = d->angle[i],
                            .n_norms = d->n_layers};
        for (int k = 0; k < d->n_layers; k++)
            s.weight_norms[k] = d->norms[(size_t)i * (size_t)d->n_layers + (size_t)k];
        PP_TRY(run_report_add(r, &s));
    }
    r->n_initial_norms = 0;
    r->initial_angle = d->initial_angle;
    for (int k = 0; k < RUN_JSON_MAX_LAYERS && isfinite(d->initial_norms[k]); k++) {
        r->initial_norms[k] = d->initial_norms[k];
        r->n_initial_norms = k + 1;
    }
    return PP_OK;
}

void run_report_free(run_report *r) {
    free(r->epochs);
    memset(r, 0, sizeof *r);
}

static pp_status finish(text_buffer *t, const char *path) {
    pp_status st = t->failed ? pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", path)
                             : pp_write_file_atomic(path, t->data, t->size);
    text_free(t);
    return st;
}

/* JSON has no NaN: absent analysis values become null. */
static void emit_number(text_buffer *t, double v) {
    if (isfinite(v))
        text_printf(t, "%.6g", v);
    else
        text_printf(t, "null");
}

/* The most norms any epoch has (a resumed run may add analysis midway). */
static int max_norms(const run_report *r) {
    int n = 0;
    for (size_t i = 0; i < r->count; i++)
        if (r->epochs[i].n_norms > n) n = r->epochs[i].n_norms;
    return n;
}

pp_status run_report_write_csv(const run_report *r, const char *path) {
    text_buffer t = {0};
    int analysis = r->config.analysis;
    int n_norms = max_norms(r);
    text_printf(&t, "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds");
    if (analysis) {
        text_printf(&t, ",angle_degrees");
        for (int i = 0; i < n_norms; i++)
            text_printf(&t, ",norm_w%d", i + 1);
    }
    text_printf(&t, "\n");
    for (size_t i = 0; i < r->count; i++) {
        const pp_epoch_stats *e = &r->epochs[i];
        text_printf(&t, "%d,%g,%.6f,%.6f,%.6f,%.6f,%.3f", e->epoch, (double)e->lr, e->train_loss,
                    e->train_accuracy, e->test_loss, e->test_accuracy, e->seconds);
        if (analysis) {
            text_printf(&t, ",%.4f", e->angle_degrees);
            for (int k = 0; k < n_norms; k++)
                if (k < e->n_norms)
                    text_printf(&t, ",%.6f", e->weight_norms[k]);
                else
                    text_printf(&t, ",");
        }
        text_printf(&t, "\n");
    }
    return finish(&t, path);
}

typedef double (*stat_field)(const pp_epoch_stats *);
static double f_test_acc(const pp_epoch_stats *e) {
    return e->test_accuracy;
}
static double f_test_loss(const pp_epoch_stats *e) {
    return e->test_loss;
}
static double f_train_acc(const pp_epoch_stats *e) {
    return e->train_accuracy;
}
static double f_train_loss(const pp_epoch_stats *e) {
    return e->train_loss;
}
static double f_seconds(const pp_epoch_stats *e) {
    return e->seconds;
}
static double f_lr(const pp_epoch_stats *e) {
    return e->lr;
}
static double f_samples_per_second(const pp_epoch_stats *e) {
    return e->samples_per_second;
}
static double f_angle(const pp_epoch_stats *e) {
    return e->angle_degrees;
}

static void emit_array(text_buffer *t, const run_report *r, const char *key, stat_field field) {
    text_printf(t, "  \"%s\": [", key);
    for (size_t i = 0; i < r->count; i++) {
        if (i) text_printf(t, ", ");
        emit_number(t, field(&r->epochs[i]));
    }
    text_printf(t, "],\n");
}

static void emit_string(text_buffer *t, const char *key, const char *value) {
    text_printf(t, "  \"%s\": ", key);
    text_json_string(t, value);
    text_printf(t, ",\n");
}

/* The initial norms and the latest weight histograms. */
static void emit_analysis_end(text_buffer *t, const run_report *r) {
    if (r->n_initial_norms) {
        text_printf(t, "  \"initial_weight_norms\": [");
        for (int k = 0; k < r->n_initial_norms; k++) {
            if (k) text_printf(t, ", ");
            emit_number(t, r->initial_norms[k]);
        }
        text_printf(t, "],\n");
        text_printf(t, "  \"initial_angle_degrees\": ");
        emit_number(t, r->initial_angle);
        text_printf(t, ",\n");
    }
    if (!r->n_histograms) return;
    text_printf(t, "  \"weight_histograms_epoch\": %d,\n", r->histogram_epoch);
    text_printf(t, "  \"weight_histograms\": [\n");
    for (int l = 0; l < r->n_histograms; l++) {
        const report_histogram *h = &r->histograms[l];
        text_printf(t, "    {\"layer\": %d, \"weights\": %zu, \"mean\": %.9g, \"std\": %.9g,\n",
                    l + 1, h->weights, h->mean, h->std);
        text_printf(t, "     \"edges\": [");
        for (int b = 0; b <= REPORT_BINS; b++)
            text_printf(t, "%s%.17g", b ? ", " : "", h->lo + (h->hi - h->lo) * b / REPORT_BINS);
        text_printf(t, "],\n     \"counts\": [");
        for (int b = 0; b < REPORT_BINS; b++)
            text_printf(t, "%s%u", b ? ", " : "", h->counts[b]);
        text_printf(t, "]}%s\n", l + 1 < r->n_histograms ? "," : "");
    }
    text_printf(t, "  ],\n");
}

pp_status run_report_write_json(const run_report *r, const char *path) {
    const pp_config *c = &r->config;
    text_buffer t = {0};
    double best = 0, final = 0, seconds = 0, samples_per_second = 0;
    size_t timed = 0; /* epochs restored from an older report may lack timings */
    for (size_t i = 0; i < r->count; i++) {
        if (r->epochs[i].test_accuracy > best) best = r->epochs[i].test_accuracy;
        if (isfinite(r->epochs[i].seconds)) seconds += r->epochs[i].seconds;
        if (isfinite(r->epochs[i].samples_per_second)) {
            samples_per_second += r->epochs[i].samples_per_second;
            timed++;
        }
    }
    if (timed) samples_per_second /= (double)timed;
    if (r->count) final = r->epochs[r->count - 1].test_accuracy;
    text_printf(&t, "{\n");
    emit_string(&t, "dataset", pp_dataset_name(c->dataset));
    emit_string(&t, "model", pp_model_name(c->model));
    emit_string(&t, "rule", pp_rule_name(c->rule));
    emit_string(&t, "device", r->device);
    emit_string(&t, "pepita_version", pp_version());
    emit_string(&t, "source_commit", pp_source_commit());
    if (r->classes) text_printf(&t, "  \"classes\": %d,\n", r->classes);
    text_printf(&t, "  \"epochs\": %zu,\n", r->count);
    text_printf(&t, "  \"epochs_planned\": %d,\n", c->epochs);
    text_printf(&t, "  \"final_test_accuracy\": %.6f,\n", final);
    text_printf(&t, "  \"best_test_accuracy\": %.6f,\n", best);
    emit_array(&t, r, "test_accuracy", f_test_acc);
    emit_array(&t, r, "test_loss", f_test_loss);
    emit_array(&t, r, "train_accuracy", f_train_acc);
    emit_array(&t, r, "train_loss", f_train_loss);
    emit_array(&t, r, "lr", f_lr);
    emit_array(&t, r, "epoch_seconds", f_seconds);
    emit_array(&t, r, "epoch_samples_per_second", f_samples_per_second);
    if (c->analysis) {
        emit_array(&t, r, "angle_degrees", f_angle);
        int n_norms = max_norms(r);
        text_printf(&t, "  \"weight_norms\": [");
        for (size_t i = 0; i < r->count; i++) {
            text_printf(&t, "%s[", i ? ", " : "");
            for (int k = 0; k < n_norms; k++) {
                if (k) text_printf(&t, ", ");
                emit_number(&t, k < r->epochs[i].n_norms ? r->epochs[i].weight_norms[k] : NAN);
            }
            text_printf(&t, "]");
        }
        text_printf(&t, "],\n");
        emit_analysis_end(&t, r);
    }
    text_printf(&t, "  \"total_seconds\": %.3f,\n", seconds);
    text_printf(&t, "  \"samples_per_second\": %.1f,\n", samples_per_second);
    text_printf(
        &t, "  \"config\": {\"batch\": %d, \"lr\": %g, \"decay_factor\": %g, \"decay_epochs\": [",
        c->batch, (double)c->lr, (double)c->decay_factor);
    for (int i = 0; i < c->n_decay; i++)
        text_printf(&t, "%s%d", i ? ", " : "", c->decay_epochs[i]);
    text_printf(&t, "], \"momentum\": %g, \"weight_decay\": %g, \"dropout\": %g, \"f_scale\": %g, ",
                (double)c->momentum, (double)c->weight_decay, (double)c->dropout,
                (double)c->f_scale);
    text_printf(&t, "\"hidden\": [");
    for (int i = 0; c->model == PP_MODEL_FC && i < c->n_hidden; i++)
        text_printf(&t, "%s%d", i ? ", " : "", c->hidden[i]);
    static const char *const output_error[] = {"standard", "modulated"};
    static const char *const presynaptic[] = {"modulated", "standard"};
    static const char *const modulation[] = {"error", "zero", "random"};
    text_printf(
        &t, "], \"output_error\": \"%s\", \"presynaptic\": \"%s\", \"modulation\": \"%s\"},\n",
        output_error[c->output_error], presynaptic[c->presynaptic], modulation[c->modulation]);
    text_printf(&t, "  \"seed\": %llu\n}\n", (unsigned long long)c->seed);
    return finish(&t, path);
}
