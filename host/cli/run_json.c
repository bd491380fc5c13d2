/* The run summary's fields out of a JSON document read by jansson, with
 * their types and ranges checked. Jansson is strict where run JSON needs it:
 * RFC 8259 only (no NaN, comments or trailing commas), duplicate keys and
 * \u0000 refused, UTF-8 validated, nesting bounded, and the line and column
 * of every syntax error. */
#include "cli/run_json.h"

#include "runtime/error.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct extract {
    const char *name;
} extract;

static pp_status field_error(const extract *x, const char *key, const char *what) {
    return pp_fail(PP_ERR_FORMAT, "%s: \"%s\" %s", x->name, key, what);
}

static pp_status out_of_memory(const extract *x) {
    return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", x->name);
}

static pp_status required(const extract *x, const json_t *obj, const char *key,
                          const json_t **out) {
    *out = json_object_get(obj, key);
    if (!*out)
        return pp_fail(PP_ERR_FORMAT,
                       "%s: the key \"%s\" is missing (not a run JSON from "
                       "`pepita train --json`?)",
                       x->name, key);
    return PP_OK;
}

/* A short lower-case name: letters, digits and '-'. */
/* A name of a-z, 0-9 and the characters of `punctuation` (it reaches figure
 * titles and file names, so nothing else). */
static pp_status name_string_of(const extract *x, const char *key, const json_t *v, char *out,
                                size_t size, const char *punctuation) {
    if (!json_is_string(v)) return field_error(x, key, "must be a string");
    const char *text = json_string_value(v);
    size_t n = strlen(text);
    if (n == 0 || n >= size) return field_error(x, key, "has an impossible length");
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(punctuation, c))) {
            char what[64];
            snprintf(what, sizeof what, "must hold only a-z, 0-9 and '%s'", punctuation);
            return field_error(x, key, what);
        }
    }
    memcpy(out, text, n + 1);
    return PP_OK;
}

static pp_status name_string(const extract *x, const char *key, const json_t *v, char *out,
                             size_t size) {
    return name_string_of(x, key, v, out, size, "-");
}

/* An integral number in [lo, hi]. */
static pp_status integer(const extract *x, const char *key, const json_t *v, double lo, double hi,
                         double *out) {
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    if (!json_is_number(v) || d != floor(d) || d < lo || d > hi)
        return field_error(x, key, "must be a whole number in range");
    *out = d;
    return PP_OK;
}

/* A number in [lo, hi], or null (NAN) when nullable. */
static pp_status number(const extract *x, const char *key, const json_t *v, double lo, double hi,
                        int nullable, double *out) {
    if (json_is_null(v) && nullable) {
        *out = NAN;
        return PP_OK;
    }
    if (!json_is_number(v)) return field_error(x, key, "must hold numbers");
    double d = json_number_value(v);
    if (d < lo || d > hi) {
        char what[96];
        snprintf(what, sizeof what, "has %g, outside [%g, %g]", d, lo, hi);
        return field_error(x, key, what);
    }
    *out = d;
    return PP_OK;
}

/* A per-epoch array of `epochs` numbers into a new allocation (NANs when absent). */
static pp_status epoch_array(const extract *x, const json_t *root, const char *key, size_t epochs,
                             int needed, double lo, double hi, int nullable, double **out) {
    const json_t *v = json_object_get(root, key);
    if (needed) PP_TRY(required(x, root, key, &v));
    *out = malloc((epochs ? epochs : 1) * sizeof **out);
    if (!*out) return out_of_memory(x);
    for (size_t i = 0; i < epochs; i++)
        (*out)[i] = NAN;
    if (!v) return PP_OK;
    if (!json_is_array(v)) return field_error(x, key, "must be an array");
    if (json_array_size(v) != epochs) {
        char what[96];
        snprintf(what, sizeof what, "has %zu values but \"epochs\" is %zu", json_array_size(v),
                 epochs);
        return field_error(x, key, what);
    }
    for (size_t i = 0; i < epochs; i++)
        PP_TRY(number(x, key, json_array_get(v, i), lo, hi, nullable, &(*out)[i]));
    return PP_OK;
}

static pp_status read_norms(const extract *x, const json_t *root, run_data *r) {
    const json_t *v = json_object_get(root, "weight_norms");
    if (v) {
        if (!json_is_array(v)) return field_error(x, "weight_norms", "must be an array");
        if (json_array_size(v) != r->epochs)
            return field_error(x, "weight_norms", "must hold one list per epoch");
        for (size_t e = 0; e < r->epochs; e++) {
            const json_t *row = json_array_get(v, e);
            size_t count = json_array_size(row);
            if (!json_is_array(row) || count > RUN_JSON_MAX_LAYERS ||
                (e && (int)count != r->n_layers))
                return field_error(x, "weight_norms",
                                   "must hold lists of at most 10 norms, the same count each "
                                   "epoch");
            if (!e && count) {
                r->n_layers = (int)count;
                r->norms = malloc(r->epochs * (size_t)r->n_layers * sizeof *r->norms);
                if (!r->norms) return out_of_memory(x);
            }
            for (int k = 0; k < r->n_layers; k++)
                PP_TRY(number(x, "weight_norms", json_array_get(row, (size_t)k), 0, INFINITY, 1,
                              &r->norms[e * (size_t)r->n_layers + (size_t)k]));
        }
    }
    r->initial_angle = NAN;
    v = json_object_get(root, "initial_angle_degrees");
    if (v) PP_TRY(number(x, "initial_angle_degrees", v, 0, 180, 1, &r->initial_angle));
    for (int k = 0; k < RUN_JSON_MAX_LAYERS; k++)
        r->initial_norms[k] = NAN;
    v = json_object_get(root, "initial_weight_norms");
    if (v) {
        size_t count = json_array_size(v);
        if (!json_is_array(v) || count < 1 || count > RUN_JSON_MAX_LAYERS ||
            (r->n_layers && (int)count != r->n_layers))
            return field_error(x, "initial_weight_norms", "must hold one norm per layer (1 to 10)");
        for (size_t k = 0; k < count; k++)
            PP_TRY(number(x, "initial_weight_norms", json_array_get(v, k), 0, INFINITY, 1,
                          &r->initial_norms[k]));
    }
    return PP_OK;
}

static pp_status read_histogram(const extract *x, const json_t *v, run_histogram *h) {
    if (!json_is_object(v)) return field_error(x, "weight_histograms", "must hold objects");
    const json_t *layer, *edges, *counts, *weights, *mean, *std;
    PP_TRY(required(x, v, "layer", &layer));
    PP_TRY(required(x, v, "edges", &edges));
    PP_TRY(required(x, v, "counts", &counts));
    PP_TRY(required(x, v, "weights", &weights));
    PP_TRY(required(x, v, "mean", &mean));
    PP_TRY(required(x, v, "std", &std));
    double d = 0;
    PP_TRY(integer(x, "layer", layer, 1, RUN_JSON_MAX_LAYERS, &d));
    h->layer = (int)d;
    PP_TRY(integer(x, "weights", weights, 0, 9007199254740992.0, &h->weights));
    PP_TRY(number(x, "mean", mean, -INFINITY, INFINITY, 0, &h->mean));
    PP_TRY(number(x, "std", std, 0, INFINITY, 0, &h->std));
    size_t bins = json_array_size(counts);
    if (!json_is_array(counts) || bins < 1 || bins > RUN_JSON_MAX_BINS)
        return field_error(x, "counts", "must be an array of 1 to 4096 counts");
    if (!json_is_array(edges) || json_array_size(edges) != bins + 1)
        return field_error(x, "edges", "must hold one more value than \"counts\"");
    h->bins = (int)bins;
    h->edges = malloc((bins + 1) * sizeof *h->edges);
    h->counts = malloc(bins * sizeof *h->counts);
    if (!h->edges || !h->counts) return out_of_memory(x);
    for (size_t i = 0; i <= bins; i++) {
        PP_TRY(number(x, "edges", json_array_get(edges, i), -INFINITY, INFINITY, 0, &h->edges[i]));
        if (i && !(h->edges[i] > h->edges[i - 1]))
            return field_error(x, "edges", "must increase strictly");
    }
    double total = 0;
    for (size_t i = 0; i < bins; i++) {
        PP_TRY(
            integer(x, "counts", json_array_get(counts, i), 0, 9007199254740992.0, &h->counts[i]));
        total += h->counts[i];
    }
    if (total != h->weights) return field_error(x, "counts", "must add up to \"weights\"");
    return PP_OK;
}

static pp_status read_histograms(const extract *x, const json_t *root, run_data *r) {
    const json_t *v = json_object_get(root, "weight_histograms"), *epoch;
    if (!v) return PP_OK;
    if (!json_is_array(v) || json_array_size(v) > RUN_JSON_MAX_LAYERS)
        return field_error(x, "weight_histograms", "must be an array of at most 10 layers");
    PP_TRY(required(x, root, "weight_histograms_epoch", &epoch));
    double d = 0;
    PP_TRY(integer(x, "weight_histograms_epoch", epoch, 0, 1e6, &d));
    r->histogram_epoch = (int)d;
    for (size_t i = 0; i < json_array_size(v); i++) {
        r->n_histograms++; /* counted first so a failure frees it */
        PP_TRY(read_histogram(x, json_array_get(v, i), &r->histograms[i]));
    }
    return PP_OK;
}

static int classes_of(const char *dataset) {
    if (!strcmp(dataset, "cifar100")) return 100;
    if (!strcmp(dataset, "mnist") || !strcmp(dataset, "fashion-mnist") ||
        !strcmp(dataset, "cifar10"))
        return 10;
    return 0;
}

/* An optional free-text member (device, source_commit): a string that fits in
 * SIZE bytes, with no control characters; "" when absent. */
static pp_status optional_text(const extract *x, const json_t *root, const char *key, char *out,
                               size_t size) {
    const json_t *v = json_object_get(root, key);
    out[0] = '\0';
    if (!v) return PP_OK;
    if (!json_is_string(v) || strlen(json_string_value(v)) >= size) {
        char what[64];
        snprintf(what, sizeof what, "must be a string of at most %zu bytes", size - 1);
        return field_error(x, key, what);
    }
    const char *text = json_string_value(v);
    for (const char *c = text; *c; c++)
        if ((unsigned char)*c < 0x20) return field_error(x, key, "must hold no control characters");
    memcpy(out, text, strlen(text) + 1);
    return PP_OK;
}

/* The seed: a whole number, or (above 2^63 - 1, beyond jansson's integers)
 * its decimal digits in a string. */
static pp_status read_seed(const extract *x, const json_t *v, run_data *r) {
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        r->seed = (unsigned long long)json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *text = json_string_value(v);
        char *end = NULL;
        errno = 0;
        if (!isdigit((unsigned char)text[0]) || strlen(text) > 20)
            return field_error(x, "seed", "must be a non-negative whole number");
        r->seed = strtoull(text, &end, 10);
        if (*end || errno) return field_error(x, "seed", "must be a whole number below 2^64");
    } else {
        return field_error(x, "seed", "must be a non-negative whole number");
    }
    r->has_seed = 1;
    return PP_OK;
}

static pp_status read_run(const extract *x, const json_t *root, run_data *r) {
    if (!json_is_object(root))
        return pp_fail(PP_ERR_FORMAT, "%s: a run JSON is an object, this is not", x->name);
    const json_t *v;
    PP_TRY(required(x, root, "dataset", &v));
    PP_TRY(name_string(x, "dataset", v, r->dataset, sizeof r->dataset));
    PP_TRY(required(x, root, "model", &v));
    PP_TRY(name_string(x, "model", v, r->model, sizeof r->model));
    PP_TRY(required(x, root, "rule", &v));
    PP_TRY(name_string(x, "rule", v, r->rule, sizeof r->rule));
    PP_TRY(optional_text(x, root, "device", r->device, sizeof r->device));
    PP_TRY(optional_text(x, root, "source_commit", r->source_commit, sizeof r->source_commit));
    double d = 0;
    v = json_object_get(root, "classes");
    if (v) {
        PP_TRY(integer(x, "classes", v, 2, 65536, &d));
        r->classes = (int)d;
    } else if (!(r->classes = classes_of(r->dataset))) {
        return pp_fail(PP_ERR_FORMAT, "%s: unknown dataset \"%s\" and no \"classes\"", x->name,
                       r->dataset);
    }
    PP_TRY(required(x, root, "epochs", &v));
    PP_TRY(integer(x, "epochs", v, 0, 1e6, &d));
    r->epochs = (size_t)d;
    v = json_object_get(root, "epochs_planned");
    if (v) {
        PP_TRY(integer(x, "epochs_planned", v, 0, 1e6, &d));
        r->epochs_planned = (int)d;
    }
    v = json_object_get(root, "seed");
    if (v) PP_TRY(read_seed(x, v, r));
    snprintf(r->modulation, sizeof r->modulation, "error");
    r->pre_mirror = r->mirror_every = -1;
    v = json_object_get(root, "config");
    if (v) {
        if (!json_is_object(v)) return field_error(x, "config", "must be an object");
        const json_t *m = json_object_get(v, "modulation");
        if (m) PP_TRY(name_string(x, "modulation", m, r->modulation, sizeof r->modulation));
        m = json_object_get(v, "variant");
        if (m) PP_TRY(name_string_of(x, "variant", m, r->variant, sizeof r->variant, "-+"));
        m = json_object_get(v, "arch");
        if (m) PP_TRY(name_string_of(x, "arch", m, r->arch, sizeof r->arch, ","));
        double d = -1;
        m = json_object_get(v, "pre_mirror");
        if (m) PP_TRY(integer(x, "pre_mirror", m, 0, 1e6, &d));
        r->pre_mirror = (int)d;
        d = -1;
        m = json_object_get(v, "mirror_every");
        if (m) PP_TRY(integer(x, "mirror_every", m, 0, 1e6, &d));
        r->mirror_every = (int)d;
        /* the presets' own layers need no mention */
        if (!strcmp(r->arch, "fc1024") || !strcmp(r->arch, "conv32k5,pool2")) r->arch[0] = '\0';
    }
    size_t n = r->epochs;
    PP_TRY(epoch_array(x, root, "test_accuracy", n, 1, 0, 1, 0, &r->test_accuracy));
    PP_TRY(epoch_array(x, root, "train_accuracy", n, 0, 0, 1, 1, &r->train_accuracy));
    PP_TRY(epoch_array(x, root, "test_loss", n, 0, 0, INFINITY, 1, &r->test_loss));
    PP_TRY(epoch_array(x, root, "train_loss", n, 0, 0, INFINITY, 1, &r->train_loss));
    PP_TRY(epoch_array(x, root, "lr", n, 0, 0, INFINITY, 1, &r->lr));
    PP_TRY(epoch_array(x, root, "epoch_seconds", n, 0, 0, INFINITY, 1, &r->seconds));
    PP_TRY(epoch_array(x, root, "epoch_samples_per_second", n, 0, 0, INFINITY, 1,
                       &r->samples_per_second));
    PP_TRY(epoch_array(x, root, "angle_degrees", n, 0, 0, 180, 1, &r->angle));
    for (size_t i = 0; i < n; i++)
        if (isfinite(r->angle[i])) r->has_angle = 1;
    PP_TRY(read_norms(x, root, r));
    return read_histograms(x, root, r);
}

/* Only blanks: an empty file, said so rather than as a syntax error. */
static int blank(const char *text, size_t size) {
    for (size_t i = 0; i < size; i++)
        if (!strchr(" \t\r\n", text[i])) return 0;
    return 1;
}

pp_status run_json_parse(const char *text, size_t size, const char *name, run_data *out) {
    memset(out, 0, sizeof *out);
    if (blank(text, size))
        return pp_fail(PP_ERR_FORMAT, "%s: empty file, not a run JSON from `pepita train --json`",
                       name);
    json_error_t error;
    json_t *root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &error);
    if (!root)
        return pp_fail(json_error_code(&error) == json_error_out_of_memory ? PP_ERR_OUT_OF_MEMORY
                                                                           : PP_ERR_FORMAT,
                       "%s:%d:%d: %s", name, error.line, error.column, error.text);
    extract x = {.name = name};
    pp_status st = read_run(&x, root, out);
    json_decref(root);
    if (st != PP_OK) run_json_free(out);
    return st;
}

pp_status run_json_load(const char *path, run_data *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return pp_fail(errno == ENOENT ? PP_ERR_NOT_FOUND : PP_ERR_IO, "%s: cannot open: %s", path,
                       strerror(errno));
    struct stat s;
    if (fstat(fd, &s) != 0 || !S_ISREG(s.st_mode)) {
        close(fd);
        return pp_fail(PP_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)s.st_size > RUN_JSON_MAX_BYTES) {
        close(fd);
        return pp_fail(PP_ERR_FORMAT, "%s: %lld bytes, larger than any run JSON (32 MiB)", path,
                       (long long)s.st_size);
    }
    size_t size = (size_t)s.st_size;
    char *text = malloc(size ? size : 1);
    if (!text) {
        close(fd);
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, text + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    int read_errno = errno;
    close(fd);
    if (got != size) {
        free(text);
        return pp_fail(PP_ERR_IO, "%s: read %zu of %zu bytes: %s", path, got, size,
                       strerror(read_errno));
    }
    pp_status st = run_json_parse(text, size, path, out);
    free(text);
    return st;
}

pp_status run_json_load_all(const char *const *files, int n, run_data **out) {
    *out = NULL;
    run_data *runs = calloc((size_t)(n > 0 ? n : 1), sizeof *runs);
    if (!runs) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory reading %d runs", n);
    for (int i = 0; i < n; i++) {
        pp_status st = run_json_load(files[i], &runs[i]);
        if (st != PP_OK) {
            run_json_free_all(runs, i);
            return st;
        }
    }
    *out = runs;
    return PP_OK;
}

void run_json_free_all(run_data *runs, int n) {
    for (int i = 0; runs && i < n; i++)
        run_json_free(&runs[i]);
    free(runs);
}

void run_json_free(run_data *r) {
    free(r->test_accuracy);
    free(r->test_loss);
    free(r->train_accuracy);
    free(r->train_loss);
    free(r->lr);
    free(r->seconds);
    free(r->samples_per_second);
    free(r->angle);
    free(r->norms);
    for (int i = 0; i < r->n_histograms; i++) {
        free(r->histograms[i].edges);
        free(r->histograms[i].counts);
    }
    memset(r, 0, sizeof *r);
}

/* The configuration the run's presets give (the paper's row, then the
 * follow-up's variant presets it names); 0 when its names are unknown. */
static int preset_config(const run_data *r, pp_config *c) {
    pp_dataset_kind dataset;
    pp_model_kind model;
    pp_rule_kind rule;
    if (pp_dataset_parse(r->dataset, &dataset) != PP_OK ||
        pp_model_parse(r->model, &model) != PP_OK || pp_rule_parse(r->rule, &rule) != PP_OK ||
        pp_config_preset(c, dataset, model, rule) != PP_OK)
        return 0;
    char variants[sizeof r->variant];
    snprintf(variants, sizeof variants, "%s", r->variant);
    for (char *name = strtok(variants, "+"); name; name = strtok(NULL, "+"))
        if (pp_config_variant(c, name) != PP_OK) return 0;
    return 1;
}

void run_json_label(const run_data *r, char *out, size_t size) {
    static const struct {
        const char *name, *label;
    } datasets[] = {{"mnist", "MNIST"},
                    {"fashion-mnist", "Fashion-MNIST"},
                    {"cifar10", "CIFAR-10"},
                    {"cifar100", "CIFAR-100"}};
    const char *dataset = r->dataset;
    for (size_t i = 0; i < sizeof datasets / sizeof datasets[0]; i++)
        if (!strcmp(r->dataset, datasets[i].name)) dataset = datasets[i].label;
    char rule[sizeof r->rule];
    for (size_t i = 0; i < sizeof rule; i++)
        rule[i] = (char)toupper((unsigned char)r->rule[i]);
    const char *control = !strcmp(r->modulation, "zero")     ? " F=0"
                          : !strcmp(r->modulation, "random") ? " random modulation"
                                                             : "";
    /* a learning rate or mirroring schedule other than the presets' is part of the cell */
    char lr[32] = "", schedule[64] = "";
    pp_config want;
    int known = preset_config(r, &want);
    if (known && r->epochs > 0 && isfinite(r->lr[0]) &&
        fabs(r->lr[0] - want.lr) > 1e-6 * fabs(want.lr))
        snprintf(lr, sizeof lr, " lr %g", r->lr[0]);
    if (known && want.mirror && r->pre_mirror >= 0 && r->mirror_every >= 0 &&
        (r->pre_mirror != want.pre_mirror || r->mirror_every != want.mirror_every))
        snprintf(schedule, sizeof schedule, " pre-mirror %d mirror-every %d", r->pre_mirror,
                 r->mirror_every);
    snprintf(out, size, "%s %s %s%s%s%s%s%s%s%s", rule, !strcmp(r->model, "fc") ? "FC" : r->model,
             dataset, control, *r->arch ? " " : "", r->arch, *r->variant ? " +" : "", r->variant,
             lr, schedule);
}

int run_json_groups(const run_data *runs, int n, int *group_of) {
    int groups = 0;
    for (int i = 0; i < n; i++) {
        char label[320], other[320];
        run_json_label(&runs[i], label, sizeof label);
        group_of[i] = -1;
        for (int j = 0; j < i && group_of[i] < 0; j++) {
            run_json_label(&runs[j], other, sizeof other);
            if (!strcmp(label, other)) group_of[i] = group_of[j];
        }
        if (group_of[i] < 0) group_of[i] = groups++;
    }
    return groups;
}
