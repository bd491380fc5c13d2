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
#include "util/json_out.h"

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

static json_t *shape_json(json_builder *b, const tensor_shape *s) {
    json_t *a = json_array();
    for (int i = 0; i < s->ndim; i++)
        jb_append(b, a, json_integer((json_int_t)s->dims[i]));
    return a;
}

/* The configuration and the tensors' shapes as one JSON object (one line,
 * floats at 9 digits: exactly). NULL when out of memory. */
static char *config_json(const pp_config *c, int epoch, const export_geometry *g,
                         const export_layout *L) {
    json_builder b = {0};
    json_t *o = json_object(), *shapes = json_object();
    const int input[3] = {g->channels, g->height, g->width};
    jb_put(&b, o, "format", json_string("pepita-export"));
    jb_put(&b, o, "version", json_integer(1));
    jb_put(&b, o, "pepita_version", jb_text(pp_version()));
    jb_put(&b, o, "dataset", json_string(pp_dataset_name(c->dataset)));
    jb_put(&b, o, "model", json_string(pp_model_name(c->model)));
    jb_put(&b, o, "rule", json_string(pp_rule_name(c->rule)));
    jb_put(&b, o, "epochs_completed", json_integer(epoch));
    jb_put(&b, o, "input_shape", jb_int_array(input, 3));
    jb_put(&b, o, "classes", json_integer(g->classes));
    jb_put(&b, o, "layers", json_integer(L->n_layers));
    jb_put(&b, o, "hidden", jb_int_array(c->hidden, c->model == PP_MODEL_FC ? c->n_hidden : 0));
    jb_put(&b, o, "conv_filters", json_integer(c->model == PP_MODEL_CONV ? c->conv_filters : 0));
    jb_put(&b, o, "conv_kernel", json_integer(c->model == PP_MODEL_CONV ? c->conv_kernel : 0));
    jb_put(&b, o, "hidden_activation",
           json_string(net_activation_name(rule_descriptor_of(c->rule)->hidden_act)));
    jb_put(&b, o, "output_activation",
           json_string(rule_descriptor_of(c->rule)->output == NET_OUTPUT_SIGMOID ? "sigmoid"
                                                                                 : "softmax"));
    jb_put(&b, o, "input_scaling",
           json_string("uint8 samples x 1/255, float32 samples as they are"));
    jb_put(&b, o, "batch", json_integer(c->batch));
    jb_put(&b, o, "lr", jb_real(c->lr, 9));
    jb_put(&b, o, "momentum", jb_real(c->momentum, 9));
    jb_put(&b, o, "weight_decay", jb_real(c->weight_decay, 9));
    jb_put(&b, o, "dropout", jb_real(c->dropout, 9));
    jb_put(&b, o, "f_scale", jb_real(c->f_scale, 9));
    jb_put(&b, o, "seed", jb_seed(c->seed));
    /* the follow-up's variants; normalise: each hidden layer's output is
     * divided by its Frobenius norm over the batch, at test time too */
    jb_put(&b, o, "normalise", json_boolean(c->normalise));
    jb_put(&b, o, "update", json_string(pp_update_form_name(c->update_form)));
    jb_put(&b, o, "mirror", json_boolean(c->mirror));
    for (int l = 0; l < L->n_layers; l++) {
        char name[16];
        snprintf(name, sizeof name, "w%d", l + 1);
        jb_put(&b, shapes, name, shape_json(&b, &L->weights[l]));
    }
    for (int i = 0; i < L->n_fixed; i++)
        jb_put(&b, shapes, L->fixed_name[i], shape_json(&b, &L->fixed[i]));
    jb_put(&b, o, "shapes", shapes);
    char *text = b.failed ? NULL : json_dumps(o, JSON_REAL_PRECISION(9));
    json_decref(o);
    return text;
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
    char *json = NULL;
    pp_status st = t && L ? PP_OK : pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
    if (st == PP_OK) st = checkpoint_parse_tensors(bytes, size, checkpoint, &config, &epoch, t);
    export_geometry g = {0, 0, 0, 0};
    if (st == PP_OK) st = geometry_of(checkpoint, &config, t, data, &g);
    if (st == PP_OK) st = layout_of(checkpoint, &config, &g, L);
    if (st == PP_OK) st = check_counts(checkpoint, t, L);
    if (st == PP_OK) {
        json = config_json(&config, epoch, &g, L);
        if (!json) st = pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    if (st == PP_OK) st = write_archive(npz_path, t, L, json);
    free(json);
    free(L);
    free(t);
    free(bytes);
    return st;
}
