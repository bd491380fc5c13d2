#include "cli/run_report.h"

#include "util/json_out.h"

#include "model/arch.h"
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

/* Dumped at 9 significant digits: every rounded value above prints as it was
 * rounded, and a float (lr, the histogram's ends) exactly. */
enum { JSON_DIGITS = 9 };

static json_t *epoch_array(const run_report *r, stat_field field) {
    json_t *a = json_array();
    json_builder b = {0};
    for (size_t i = 0; a && i < r->count; i++)
        jb_append(&b, a, jb_real(field(&r->epochs[i]), 6));
    if (b.failed) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *norms_row(const double *norms, int n, int count) {
    json_t *a = json_array();
    json_builder b = {0};
    for (int k = 0; a && k < count; k++)
        jb_append(&b, a, jb_real(k < n ? norms[k] : NAN, 6));
    if (b.failed) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *histogram(const report_histogram *h, int layer) {
    json_t *o = json_object(), *edges = json_array(), *counts = json_array();
    json_builder b = {0};
    if (!o || !edges || !counts) b.failed = 1;
    for (int i = 0; !b.failed && i <= REPORT_BINS; i++)
        jb_append(&b, edges, json_real(h->lo + (h->hi - h->lo) * i / REPORT_BINS));
    for (int i = 0; !b.failed && i < REPORT_BINS; i++)
        jb_append(&b, counts, json_integer(h->counts[i]));
    if (b.failed) {
        json_decref(o);
        json_decref(edges);
        json_decref(counts);
        return NULL;
    }
    jb_put(&b, o, "layer", json_integer(layer));
    jb_put(&b, o, "weights", json_integer((json_int_t)h->weights));
    jb_put(&b, o, "mean", jb_real(h->mean, 9));
    jb_put(&b, o, "std", jb_real(h->std, 9));
    jb_put(&b, o, "edges", edges);
    jb_put(&b, o, "counts", counts);
    if (b.failed) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The initial norms and the latest weight histograms. */
static void put_analysis(json_builder *b, json_t *root, const run_report *r) {
    int n_norms = max_norms(r);
    json_t *norms = json_array();
    if (!norms) b->failed = 1;
    for (size_t i = 0; norms && i < r->count; i++)
        jb_append(b, norms, norms_row(r->epochs[i].weight_norms, r->epochs[i].n_norms, n_norms));
    jb_put(b, root, "weight_norms", norms);
    if (r->n_initial_norms) {
        jb_put(b, root, "initial_weight_norms",
               norms_row(r->initial_norms, r->n_initial_norms, r->n_initial_norms));
        jb_put(b, root, "initial_angle_degrees", jb_real(r->initial_angle, 6));
    }
    if (!r->n_histograms) return;
    jb_put(b, root, "weight_histograms_epoch", json_integer(r->histogram_epoch));
    json_t *histograms = json_array();
    if (!histograms) b->failed = 1;
    for (int l = 0; histograms && l < r->n_histograms; l++)
        jb_append(b, histograms, histogram(&r->histograms[l], l + 1));
    jb_put(b, root, "weight_histograms", histograms);
}

/* The follow-up's variants: "variant" names those on ("wm+norm"), for
 * grouping runs; the settings follow. Nothing for a run without them. */
static void put_variants(json_builder *b, json_t *o, const pp_config *c) {
    char variant[48] = "";
    if (c->mirror) strcat(variant, "+wm");
    if (c->normalise) strcat(variant, "+norm");
    if (c->update_form != PP_UPDATE_DIFFERENCE) {
        strcat(variant, "+");
        strcat(variant, pp_update_form_name(c->update_form));
    }
    if (!*variant) return;
    jb_put(b, o, "variant", json_string(variant + 1));
    jb_put(b, o, "update", json_string(pp_update_form_name(c->update_form)));
    jb_put(b, o, "normalise", json_boolean(c->normalise));
    jb_put(b, o, "mirror", json_boolean(c->mirror));
    if (!c->mirror) return;
    jb_put(b, o, "mirror_lr", jb_real(c->mirror_lr, 6));
    jb_put(b, o, "mirror_decay", jb_real(c->mirror_decay, 6));
    jb_put(b, o, "mirror_noise", jb_real(c->mirror_noise, 6));
    jb_put(b, o, "pre_mirror", json_integer(c->pre_mirror));
    jb_put(b, o, "mirror_every", json_integer(c->mirror_every));
}

static json_t *config_object(const pp_config *c) {
    static const char *const output_error[] = {"standard", "modulated"};
    static const char *const presynaptic[] = {"modulated", "standard"};
    static const char *const modulation[] = {"error", "zero", "random"};
    json_t *o = json_object();
    json_builder b = {0};
    if (!o) return NULL;
    jb_put(&b, o, "batch", json_integer(c->batch));
    jb_put(&b, o, "lr", jb_real(c->lr, 6));
    jb_put(&b, o, "decay_factor", jb_real(c->decay_factor, 6));
    jb_put(&b, o, "decay_epochs", jb_int_array(c->decay_epochs, c->n_decay));
    jb_put(&b, o, "momentum", jb_real(c->momentum, 6));
    jb_put(&b, o, "weight_decay", jb_real(c->weight_decay, 6));
    jb_put(&b, o, "dropout", jb_real(c->dropout, 6));
    jb_put(&b, o, "f_scale", jb_real(c->f_scale, 6));
    jb_put(&b, o, "hidden", jb_int_array(c->hidden, c->model == PP_MODEL_FC ? c->n_hidden : 0));
    /* every hidden layer as --arch writes it, also for the presets */
    arch_spec spec;
    char arch[PP_MAX_ARCH * 2];
    if (arch_of_config(c, &spec) == PP_OK) {
        arch_format(&spec, arch, sizeof arch);
        jb_put(&b, o, "arch", json_string(arch));
    }
    jb_put(&b, o, "output_error", json_string(output_error[c->output_error]));
    jb_put(&b, o, "presynaptic", json_string(presynaptic[c->presynaptic]));
    jb_put(&b, o, "modulation", json_string(modulation[c->modulation]));
    put_variants(&b, o, c);
    if (b.failed) {
        json_decref(o);
        return NULL;
    }
    return o;
}

pp_status run_report_write_json(const run_report *r, const char *path) {
    const pp_config *c = &r->config;
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
    json_builder b = {0};
    json_t *root = json_object();
    if (!root) return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    jb_put(&b, root, "dataset", json_string(pp_dataset_name(c->dataset)));
    jb_put(&b, root, "model", json_string(pp_model_name(c->model)));
    jb_put(&b, root, "rule", json_string(pp_rule_name(c->rule)));
    jb_put(&b, root, "device", jb_text(r->device));
    jb_put(&b, root, "pepita_version", json_string(pp_version()));
    jb_put(&b, root, "source_commit", jb_text(pp_source_commit()));
    if (r->classes) jb_put(&b, root, "classes", json_integer(r->classes));
    jb_put(&b, root, "epochs", json_integer((json_int_t)r->count));
    jb_put(&b, root, "epochs_planned", json_integer(c->epochs));
    jb_put(&b, root, "final_test_accuracy", json_real(round(final * 1e6) / 1e6));
    jb_put(&b, root, "best_test_accuracy", json_real(round(best * 1e6) / 1e6));
    jb_put(&b, root, "test_accuracy", epoch_array(r, f_test_acc));
    jb_put(&b, root, "test_loss", epoch_array(r, f_test_loss));
    jb_put(&b, root, "train_accuracy", epoch_array(r, f_train_acc));
    jb_put(&b, root, "train_loss", epoch_array(r, f_train_loss));
    jb_put(&b, root, "lr", epoch_array(r, f_lr));
    jb_put(&b, root, "epoch_seconds", epoch_array(r, f_seconds));
    jb_put(&b, root, "epoch_samples_per_second", epoch_array(r, f_samples_per_second));
    if (c->analysis) {
        jb_put(&b, root, "angle_degrees", epoch_array(r, f_angle));
        put_analysis(&b, root, r);
    }
    jb_put(&b, root, "total_seconds", json_real(round(seconds * 1e3) / 1e3));
    jb_put(&b, root, "samples_per_second", json_real(round(samples_per_second * 10) / 10));
    jb_put(&b, root, "config", config_object(c));
    jb_put(&b, root, "seed", jb_seed(c->seed));
    pp_status st = b.failed ? pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", path)
                            : jb_write_file(path, root, JSON_DIGITS);
    json_decref(root);
    return st;
}
