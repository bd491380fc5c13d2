#include "cli/run_report.h"

#include "runtime/error.h"
#include "util/atomic_file.h"

#include <math.h>
#include <stdarg.h>
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

void run_report_free(run_report *r) {
    free(r->epochs);
    memset(r, 0, sizeof *r);
}

/* A growing text buffer. */
typedef struct text {
    char *data;
    size_t size, capacity;
    int failed;
} text;

__attribute__((format(printf, 2, 3))) static void emit(text *t, const char *format, ...) {
    if (t->failed) return;
    for (;;) {
        va_list args;
        va_start(args, format);
        size_t room = t->capacity - t->size;
        int n = vsnprintf(t->data ? t->data + t->size : NULL, room, format, args);
        va_end(args);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            t->size += (size_t)n;
            return;
        }
        size_t capacity = t->capacity ? 2 * t->capacity : 4096;
        while (capacity - t->size <= (size_t)n)
            capacity *= 2;
        char *grown = realloc(t->data, capacity);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->data = grown;
        t->capacity = capacity;
    }
}

static pp_status finish(text *t, const char *path) {
    pp_status st = t->failed ? pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", path)
                             : pp_write_file_atomic(path, t->data, t->size);
    free(t->data);
    return st;
}

/* JSON has no NaN: absent analysis values become null. */
static void emit_number(text *t, double v) {
    if (isfinite(v))
        emit(t, "%.6g", v);
    else
        emit(t, "null");
}

pp_status run_report_write_csv(const run_report *r, const char *path) {
    text t = {0};
    int analysis = r->config.analysis;
    int n_norms = r->count ? r->epochs[0].n_norms : 0;
    emit(&t, "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds");
    if (analysis) {
        emit(&t, ",angle_degrees");
        for (int i = 0; i < n_norms; i++)
            emit(&t, ",norm_w%d", i + 1);
    }
    emit(&t, "\n");
    for (size_t i = 0; i < r->count; i++) {
        const pp_epoch_stats *e = &r->epochs[i];
        emit(&t, "%d,%g,%.6f,%.6f,%.6f,%.6f,%.3f", e->epoch, (double)e->lr, e->train_loss,
             e->train_accuracy, e->test_loss, e->test_accuracy, e->seconds);
        if (analysis) {
            emit(&t, ",%.4f", e->angle_degrees);
            for (int k = 0; k < n_norms; k++)
                emit(&t, ",%.6f", e->weight_norms[k]);
        }
        emit(&t, "\n");
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
static double f_angle(const pp_epoch_stats *e) {
    return e->angle_degrees;
}

static void emit_array(text *t, const run_report *r, const char *key, stat_field field) {
    emit(t, "  \"%s\": [", key);
    for (size_t i = 0; i < r->count; i++) {
        if (i) emit(t, ", ");
        emit_number(t, field(&r->epochs[i]));
    }
    emit(t, "],\n");
}

static void emit_string(text *t, const char *key, const char *value) {
    emit(t, "  \"%s\": \"", key);
    for (const char *c = value; *c; c++) {
        if (*c == '"' || *c == '\\')
            emit(t, "\\%c", *c);
        else if ((unsigned char)*c < 0x20)
            emit(t, "\\u%04x", *c);
        else
            emit(t, "%c", *c);
    }
    emit(t, "\",\n");
}

pp_status run_report_write_json(const run_report *r, const char *path) {
    const pp_config *c = &r->config;
    text t = {0};
    double best = 0, final = 0, seconds = 0, samples_per_second = 0;
    for (size_t i = 0; i < r->count; i++) {
        if (r->epochs[i].test_accuracy > best) best = r->epochs[i].test_accuracy;
        seconds += r->epochs[i].seconds;
        samples_per_second += r->epochs[i].samples_per_second / (double)r->count;
    }
    if (r->count) final = r->epochs[r->count - 1].test_accuracy;
    emit(&t, "{\n");
    emit_string(&t, "dataset", pp_dataset_name(c->dataset));
    emit_string(&t, "model", pp_model_name(c->model));
    emit_string(&t, "rule", pp_rule_name(c->rule));
    emit_string(&t, "device", r->device);
    emit(&t, "  \"epochs\": %zu,\n", r->count);
    emit(&t, "  \"epochs_planned\": %d,\n", c->epochs);
    emit(&t, "  \"final_test_accuracy\": %.6f,\n", final);
    emit(&t, "  \"best_test_accuracy\": %.6f,\n", best);
    emit_array(&t, r, "test_accuracy", f_test_acc);
    emit_array(&t, r, "test_loss", f_test_loss);
    emit_array(&t, r, "train_accuracy", f_train_acc);
    emit_array(&t, r, "train_loss", f_train_loss);
    emit_array(&t, r, "lr", f_lr);
    emit_array(&t, r, "epoch_seconds", f_seconds);
    if (c->analysis) {
        emit_array(&t, r, "angle_degrees", f_angle);
        int n_norms = r->count ? r->epochs[0].n_norms : 0;
        emit(&t, "  \"weight_norms\": [");
        for (size_t i = 0; i < r->count; i++) {
            emit(&t, "%s[", i ? ", " : "");
            for (int k = 0; k < n_norms; k++) {
                if (k) emit(&t, ", ");
                emit_number(&t, r->epochs[i].weight_norms[k]);
            }
            emit(&t, "]");
        }
        emit(&t, "],\n");
    }
    emit(&t, "  \"total_seconds\": %.3f,\n", seconds);
    emit(&t, "  \"samples_per_second\": %.1f,\n", samples_per_second);
    emit(&t, "  \"config\": {\"batch\": %d, \"lr\": %g, \"decay_factor\": %g, \"decay_epochs\": [",
         c->batch, (double)c->lr, (double)c->decay_factor);
    for (int i = 0; i < c->n_decay; i++)
        emit(&t, "%s%d", i ? ", " : "", c->decay_epochs[i]);
    emit(&t, "], \"momentum\": %g, \"weight_decay\": %g, \"dropout\": %g, \"f_scale\": %g, ",
         (double)c->momentum, (double)c->weight_decay, (double)c->dropout, (double)c->f_scale);
    emit(&t, "\"hidden\": [");
    for (int i = 0; c->model == PP_MODEL_FC && i < c->n_hidden; i++)
        emit(&t, "%s%d", i ? ", " : "", c->hidden[i]);
    static const char *const output_error[] = {"standard", "modulated"};
    static const char *const presynaptic[] = {"modulated", "standard"};
    static const char *const modulation[] = {"error", "zero", "random"};
    emit(&t, "], \"output_error\": \"%s\", \"presynaptic\": \"%s\", \"modulation\": \"%s\"},\n",
         output_error[c->output_error], presynaptic[c->presynaptic], modulation[c->modulation]);
    emit(&t, "  \"seed\": %llu\n}\n", (unsigned long long)c->seed);
    return finish(&t, path);
}
