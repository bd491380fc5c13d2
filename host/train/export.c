/* pp_checkpoint_export_npz: a checkpoint's tensors, shaped, and its
 * configuration as JSON, in the .npz layout numpy.savez writes, so NumPy or
 * PyTorch users can take a trained network out without a device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/npy.h"
#include "data/npz.h"
#include "model/network.h"
#include "rules/rule.h"
#include "runtime/error.h"
#include "train/checkpoint_parse.h"
#include "util/atomic_file.h"
#include "util/text_buffer.h"

typedef struct tensor_shape {
    int ndim;
    size_t dims[4];
} tensor_shape;

static tensor_shape shape2(size_t a, size_t b) {
    return (tensor_shape){2, {a, b, 0, 0}};
}

static size_t shape_count(const tensor_shape *s) {
    size_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->dims[i];
    return n;
}

/* What the network looked like: input C x H x W and the class count. */
typedef struct export_geometry {
    int channels, height, width, classes;
} export_geometry;

/* The input shape and classes from the dataset kind, the caller's data, or
 * (an npz-trained FC net with hidden layers) the first and last weights. */
static pp_status geometry_of(const char *path, const pp_config *c, const checkpoint_tensors *t,
                             const pp_dataset *data, export_geometry *g) {
    if (data) {
        *g = (export_geometry){data->channels, data->height, data->width, data->classes};
        return PP_OK;
    }
    switch (c->dataset) {
    case PP_DATASET_MNIST:
    case PP_DATASET_FASHION_MNIST:
        *g = (export_geometry){1, 28, 28, 10};
        return PP_OK;
    case PP_DATASET_CIFAR10:
        *g = (export_geometry){3, 32, 32, 10};
        return PP_OK;
    case PP_DATASET_CIFAR100:
        *g = (export_geometry){3, 32, 32, c->cifar100_coarse ? 20 : 100};
        return PP_OK;
    case PP_DATASET_NPZ:
        break;
    }
    if (c->model != PP_MODEL_FC || c->n_hidden < 1 || c->hidden[0] < 1 ||
        c->hidden[c->n_hidden - 1] < 1 || t->n_layers != c->n_hidden + 1)
        return pp_fail(PP_ERR_ARGUMENT,
                       "%s: the checkpoint does not tell the input shape of this %s model "
                       "trained on npz data: pass its --data FILE",
                       path, pp_model_name(c->model));
    size_t first = (size_t)c->hidden[0], last = (size_t)c->hidden[c->n_hidden - 1];
    size_t d = t->weights[0].count / first, k = t->weights[t->n_layers - 1].count / last;
    if (d == 0 || d > (size_t)1 << 30 || k == 0 || k > 256)
        return pp_fail(PP_ERR_MISMATCH, "%s: the weights do not fit --hidden", path);
    *g = (export_geometry){1, 1, (int)d, (int)k};
    return PP_OK;
}

/* The shapes a configuration gives every tensor. */
typedef struct export_layout {
    int n_layers;
    tensor_shape weights[CHECKPOINT_MAX_TENSORS];
    int n_fixed;
    tensor_shape fixed[CHECKPOINT_MAX_TENSORS];
    char fixed_name[CHECKPOINT_MAX_TENSORS][16];
} export_layout;

static pp_status layout_of(const char *path, const pp_config *c, const export_geometry *g,
                           export_layout *L) {
    memset(L, 0, sizeof *L);
    size_t d = (size_t)g->channels * g->height * g->width, k = (size_t)g->classes;
    size_t outs[CHECKPOINT_MAX_TENSORS];  /* features each layer hands on */
    size_t units[CHECKPOINT_MAX_TENSORS]; /* its units (conv: before pooling) */
    /* every hidden layer of the architecture (--arch, or the preset's), then the output */
    arch_spec spec;
    PP_TRY(arch_of_config(c, &spec));
    int ch = g->channels, h = g->height, w = g->width;
    size_t in = d;
    for (int l = 0; l < spec.n; l++) {
        const arch_layer *a = &spec.layers[l];
        if (a->kind == ARCH_CONV) {
            int oh = h - a->kernel + 1, ow = w - a->kernel + 1;
            if (oh < 2 || ow < 2)
                return pp_fail(PP_ERR_MISMATCH, "%s: a %dx%d input is too small for conv layer %d",
                               path, h, w, l + 1);
            L->weights[l] = (tensor_shape){
                4, {(size_t)a->filters, (size_t)ch, (size_t)a->kernel, (size_t)a->kernel}};
            units[l] = (size_t)a->filters * (size_t)oh * (size_t)ow;
            ch = a->filters, h = oh / 2, w = ow / 2;
            outs[l] = (size_t)ch * (size_t)h * (size_t)w;
        } else {
            L->weights[l] = shape2((size_t)a->units, in);
            outs[l] = units[l] = (size_t)a->units;
        }
        in = outs[l];
    }
    L->n_layers = spec.n + 1;
    L->weights[spec.n] = shape2(k, in);
    outs[spec.n] = k;
    switch (c->rule) {
    case PP_RULE_PEPITA:
        L->n_fixed = 1;
        L->fixed[0] = shape2(d, k);
        snprintf(L->fixed_name[0], sizeof L->fixed_name[0], "F");
        /* weight mirroring: F = B1 ... BL, each B_l shaped like W_l^T */
        for (int l = 0; c->mirror && l < L->n_layers; l++, L->n_fixed++) {
            L->fixed[L->n_fixed] = shape2(L->weights[l].dims[1], L->weights[l].dims[0]);
            snprintf(L->fixed_name[L->n_fixed], sizeof L->fixed_name[0], "B%d", l + 1);
        }
        break;
    case PP_RULE_FA: /* B_l stands in for W_l in the backward pass, l >= 2 */
        for (int l = 1; l < L->n_layers; l++, L->n_fixed++) {
            L->fixed[L->n_fixed] = L->weights[l];
            snprintf(L->fixed_name[L->n_fixed], sizeof L->fixed_name[0], "B%d", l + 1);
        }
        break;
    case PP_RULE_DFA: /* B_l projects the output signal onto hidden layer l */
    case PP_RULE_DRTP:
        for (int l = 0; l + 1 < L->n_layers; l++, L->n_fixed++) {
            L->fixed[L->n_fixed] = shape2(k, units[l]); /* conv: before pooling */
            snprintf(L->fixed_name[L->n_fixed], sizeof L->fixed_name[0], "B%d", l + 1);
        }
        break;
    case PP_RULE_BP:
        break;
    }
    return PP_OK;
}

static pp_status check_counts(const char *path, const checkpoint_tensors *t,
                              const export_layout *L) {
    if (t->n_layers != L->n_layers || t->n_fixed != L->n_fixed)
        return pp_fail(PP_ERR_MISMATCH,
                       "%s: %d layers and %d fixed matrices saved, the configuration gives %d "
                       "and %d",
                       path, t->n_layers, t->n_fixed, L->n_layers, L->n_fixed);
    for (int l = 0; l < L->n_layers; l++)
        if (t->weights[l].count != shape_count(&L->weights[l]) ||
            t->momentum[l].count != t->weights[l].count)
            return pp_fail(PP_ERR_MISMATCH,
                           "%s: layer %d holds %zu weights, the configuration and input shape "
                           "give %zu (was it trained on other data?)",
                           path, l + 1, t->weights[l].count, shape_count(&L->weights[l]));
    for (int i = 0; i < L->n_fixed; i++)
        if (t->fixed[i].count != shape_count(&L->fixed[i]))
            return pp_fail(PP_ERR_MISMATCH, "%s: %s holds %zu values, the configuration gives %zu",
                           path, L->fixed_name[i], t->fixed[i].count, shape_count(&L->fixed[i]));
    return PP_OK;
}

static void json_shape(text_buffer *j, const tensor_shape *s) {
    text_printf(j, "[");
    for (int i = 0; i < s->ndim; i++)
        text_printf(j, "%s%zu", i ? ", " : "", s->dims[i]);
    text_printf(j, "]");
}

/* The configuration and the tensors' shapes as one JSON object. */
static void config_json(text_buffer *j, const pp_config *c, int epoch, const export_geometry *g,
                        const export_layout *L) {
    text_printf(j, "{\"format\": \"pepita-export\", \"version\": 1, \"pepita_version\": ");
    text_json_string(j, pp_version());
    text_printf(j, ", \"dataset\": \"%s\", \"model\": \"%s\", \"rule\": \"%s\"",
                pp_dataset_name(c->dataset), pp_model_name(c->model), pp_rule_name(c->rule));
    text_printf(j, ", \"epochs_completed\": %d, \"input_shape\": [%d, %d, %d], \"classes\": %d",
                epoch, g->channels, g->height, g->width, g->classes);
    text_printf(j, ", \"layers\": %d, \"hidden\": [", L->n_layers);
    for (int i = 0; c->model == PP_MODEL_FC && i < c->n_hidden; i++)
        text_printf(j, "%s%d", i ? ", " : "", c->hidden[i]);
    text_printf(j, "], \"conv_filters\": %d, \"conv_kernel\": %d",
                c->model == PP_MODEL_CONV ? c->conv_filters : 0,
                c->model == PP_MODEL_CONV ? c->conv_kernel : 0);
    text_printf(j, ", \"hidden_activation\": \"%s\", \"output_activation\": \"%s\"",
                net_activation_name(rule_descriptor_of(c->rule)->hidden_act),
                rule_descriptor_of(c->rule)->output == NET_OUTPUT_SIGMOID ? "sigmoid" : "softmax");
    text_printf(j, ", \"input_scaling\": \"uint8 samples x 1/255, float32 samples as they are\"");
    text_printf(j,
                ", \"batch\": %d, \"lr\": %.9g, \"momentum\": %.9g, \"weight_decay\": %.9g, "
                "\"dropout\": %.9g, \"f_scale\": %.9g, \"seed\": %llu",
                c->batch, (double)c->lr, (double)c->momentum, (double)c->weight_decay,
                (double)c->dropout, (double)c->f_scale, (unsigned long long)c->seed);
    /* the follow-up's variants; normalise: each hidden layer's output is
     * divided by its Frobenius norm over the batch, at test time too */
    text_printf(j, ", \"normalise\": %s, \"update\": \"%s\", \"mirror\": %s",
                c->normalise ? "true" : "false", pp_update_form_name(c->update_form),
                c->mirror ? "true" : "false");
    text_printf(j, ", \"shapes\": {");
    for (int l = 0; l < L->n_layers; l++) {
        text_printf(j, "%s\"w%d\": ", l ? ", " : "", l + 1);
        json_shape(j, &L->weights[l]);
    }
    for (int i = 0; i < L->n_fixed; i++) {
        text_printf(j, ", \"%s\": ", L->fixed_name[i]);
        json_shape(j, &L->fixed[i]);
    }
    text_printf(j, "}}");
}

static pp_status add_tensor(npz_writer *w, const char *name, const tensor_shape *s,
                            const checkpoint_tensor *t) {
    char header[NPY_HEADER_MAX];
    size_t n = npy_write_header(header, "<f4", s->ndim, s->dims);
    if (!n) return pp_fail(PP_ERR_INTERNAL, "array %s: header does not fit", name);
    return npz_writer_add(w, name, header, n, t->bytes, t->count * sizeof(float));
}

/* The JSON text as a 0-d NumPy unicode array ('<U<n>', UTF-32LE). */
static pp_status add_string(npz_writer *w, const char *name, const char *text) {
    size_t len = strlen(text);
    char descr[32], header[NPY_HEADER_MAX];
    snprintf(descr, sizeof descr, "<U%zu", len ? len : 1);
    size_t n = npy_write_header(header, descr, 0, NULL);
    uint8_t *utf32 = calloc(len ? len : 1, 4);
    if (!n || !utf32) {
        free(utf32);
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "array %s: out of host memory", name);
    }
    for (size_t i = 0; i < len; i++) /* the JSON is ASCII: pepita escapes the rest */
        utf32[4 * i] = (uint8_t)text[i];
    pp_status st = npz_writer_add(w, name, header, n, utf32, 4 * (len ? len : 1));
    free(utf32);
    return st;
}

static pp_status write_archive(const char *npz_path, const checkpoint_tensors *t,
                               const export_layout *L, const char *json) {
    npz_writer *w = NULL;
    PP_TRY(npz_writer_create(&w));
    pp_status st = PP_OK;
    char name[32];
    for (int l = 0; l < L->n_layers && st == PP_OK; l++) {
        snprintf(name, sizeof name, "w%d", l + 1);
        st = add_tensor(w, name, &L->weights[l], &t->weights[l]);
        snprintf(name, sizeof name, "momentum%d", l + 1);
        if (st == PP_OK) st = add_tensor(w, name, &L->weights[l], &t->momentum[l]);
    }
    for (int i = 0; i < L->n_fixed && st == PP_OK; i++)
        st = add_tensor(w, L->fixed_name[i], &L->fixed[i], &t->fixed[i]);
    if (st == PP_OK) st = add_string(w, "config", json);
    uint8_t *bytes = NULL;
    size_t size = 0;
    if (st == PP_OK) st = npz_writer_finish(w, &bytes, &size);
    npz_writer_destroy(w);
    if (st == PP_OK) st = pp_write_file_atomic(npz_path, bytes, size);
    free(bytes);
    return st;
}

pp_status pp_checkpoint_export_npz(const char *checkpoint, const pp_dataset *data,
                                   const char *npz_path) {
    if (!checkpoint || !*checkpoint || !npz_path || !*npz_path)
        return pp_fail(PP_ERR_ARGUMENT, "pp_checkpoint_export_npz: a checkpoint and an output path "
                                        "are needed");
    unsigned char *bytes = NULL;
    size_t size = 0;
    PP_TRY(checkpoint_read_file(checkpoint, &bytes, &size));
    pp_config config;
    int epoch = 0;
    checkpoint_tensors *t = malloc(sizeof *t);
    export_layout *L = malloc(sizeof *L);
    text_buffer json = {0};
    pp_status st = t && L ? PP_OK : pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
    if (st == PP_OK) st = checkpoint_parse_tensors(bytes, size, checkpoint, &config, &epoch, t);
    export_geometry g = {0, 0, 0, 0};
    if (st == PP_OK) st = geometry_of(checkpoint, &config, t, data, &g);
    if (st == PP_OK) st = layout_of(checkpoint, &config, &g, L);
    if (st == PP_OK) st = check_counts(checkpoint, t, L);
    if (st == PP_OK) {
        config_json(&json, &config, epoch, &g, L);
        if (json.failed) st = pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    if (st == PP_OK) st = write_archive(npz_path, t, L, json.data);
    text_free(&json);
    free(L);
    free(t);
    free(bytes);
    return st;
}
