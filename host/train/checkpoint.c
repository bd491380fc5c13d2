/* Checkpoints: the configuration, the training position, every layer's
 * weights and momentum, and the rule's fixed matrices, in one file with a
 * magic, a version and a CRC-32. Written to a temporary name, flushed,
 * fsynced and renamed, so a crash or a full disk never harms the previous
 * checkpoint. Numbers are stored in the host's byte order (little-endian on
 * every supported machine). */
#include "train/checkpoint_parse.h"
#include "train/trainer_internal.h"
#include "util/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char MAGIC[8] = {'P', 'E', 'P', 'I', 'T', 'A', 'C', 'K'};
/* Version 2 added the architecture text (--arch) after the configuration's
 * other fields; version 1 files are read as having none (their network is
 * the preset's, which is what they were trained with). Version 3 adds the
 * number of MPI ranks after the training position; it is written only by
 * data-parallel runs, so a one-process checkpoint stays a version 2 file,
 * and version 1 and 2 files are of one process. Version 4 adds the
 * follow-up's variants (update form, normalisation, weight mirroring) after
 * the architecture, and always the ranks; it is written only when a variant
 * is on, so the checkpoints of every other run keep their older format. */
enum { VERSION = 4, OLDEST_VERSION = 1, ONE_PROCESS_VERSION = 2, RANKS_VERSION = 3 };

/* The format a configuration's checkpoint is written in. */
static uint32_t version_for(const pp_config *c, int ranks) {
    if (c->update_form != PP_UPDATE_DIFFERENCE || c->normalise || c->mirror) return VERSION;
    return ranks > 1 ? RANKS_VERSION : ONE_PROCESS_VERSION;
}
/* Checkpoints hold at most this much (a sanity bound for corrupt headers). */
#define MAX_TENSOR_FLOATS ((uint64_t)1 << 32)

/* CRC-32 of any size (zlib takes at most a uInt per call). */
static uint32_t crc_of(const unsigned char *data, size_t size) {
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < size;) {
        size_t chunk = size - off > (1u << 30) ? (1u << 30) : size - off;
        crc = crc32(crc, data + off, (uInt)chunk);
        off += chunk;
    }
    return (uint32_t)crc;
}

/* ---- A growing byte buffer for writing -------------------------------- */

typedef struct writer {
    unsigned char *data;
    size_t size, capacity;
    int failed;
} writer;

/* Appends n bytes from src, or reserves them when src is NULL. */
static void put(writer *w, const void *src, size_t n) {
    if (w->failed) return;
    if (w->size + n > w->capacity) {
        size_t capacity = w->capacity ? w->capacity : 4096;
        while (capacity < w->size + n)
            capacity *= 2;
        unsigned char *grown = realloc(w->data, capacity);
        if (!grown) {
            w->failed = 1;
            return;
        }
        w->data = grown;
        w->capacity = capacity;
    }
    if (src) memcpy(w->data + w->size, src, n);
    w->size += n;
}

static void put_u32(writer *w, uint32_t v) {
    put(w, &v, sizeof v);
}
static void put_u64(writer *w, uint64_t v) {
    put(w, &v, sizeof v);
}
static void put_f32(writer *w, float v) {
    put(w, &v, sizeof v);
}
static void put_f64(writer *w, double v) {
    put(w, &v, sizeof v);
}

/* ---- A bounds-checked reader ------------------------------------------ */

typedef struct reader {
    const unsigned char *data;
    size_t size, pos;
    int failed;
} reader;

static void get(reader *r, void *dst, size_t n) {
    if (r->failed || n > r->size - r->pos) {
        r->failed = 1;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->data + r->pos, n);
    r->pos += n;
}

static uint32_t get_u32(reader *r) {
    uint32_t v;
    get(r, &v, sizeof v);
    return v;
}
static uint64_t get_u64(reader *r) {
    uint64_t v;
    get(r, &v, sizeof v);
    return v;
}
static float get_f32(reader *r) {
    float v;
    get(r, &v, sizeof v);
    return v;
}
static double get_f64(reader *r) {
    double v;
    get(r, &v, sizeof v);
    return v;
}

/* ---- The configuration, field by field -------------------------------- */

static void put_config(writer *w, uint32_t version, const pp_config *c) {
    put_u32(w, (uint32_t)c->dataset);
    put_u32(w, (uint32_t)c->model);
    put_u32(w, (uint32_t)c->rule);
    put_u32(w, (uint32_t)c->n_hidden);
    for (int i = 0; i < PP_MAX_HIDDEN; i++)
        put_u32(w, (uint32_t)c->hidden[i]);
    put_u32(w, (uint32_t)c->conv_filters);
    put_u32(w, (uint32_t)c->conv_kernel);
    put_u32(w, (uint32_t)c->epochs);
    put_u32(w, (uint32_t)c->batch);
    put_f32(w, c->lr);
    put_u32(w, (uint32_t)c->n_decay);
    for (int i = 0; i < PP_MAX_DECAY; i++)
        put_u32(w, (uint32_t)c->decay_epochs[i]);
    put_f32(w, c->decay_factor);
    put_f32(w, c->momentum);
    put_f32(w, c->weight_decay);
    put_f32(w, c->dropout);
    put_f32(w, c->f_scale);
    put_u64(w, c->seed);
    put_u32(w, (uint32_t)c->output_error);
    put_u32(w, (uint32_t)c->presynaptic);
    put_u32(w, (uint32_t)c->modulation);
    put_f32(w, c->random_amplitude);
    put_u32(w, (uint32_t)c->naive_modulated_pass);
    put_u32(w, (uint32_t)c->cifar100_coarse);
    put_u32(w, (uint32_t)c->analysis);
    uint32_t arch_len = (uint32_t)strnlen(c->arch, sizeof c->arch - 1);
    put_u32(w, arch_len);
    put(w, c->arch, arch_len);
    if (version < 4) return;
    put_u32(w, (uint32_t)c->update_form);
    put_u32(w, (uint32_t)c->normalise);
    put_u32(w, (uint32_t)c->mirror);
    put_f32(w, c->mirror_lr);
    put_f32(w, c->mirror_decay);
    put_f32(w, c->mirror_noise);
    put_u32(w, (uint32_t)c->pre_mirror);
    put_u32(w, (uint32_t)c->mirror_every);
}

static void get_config(reader *r, uint32_t version, pp_config *c) {
    memset(c, 0, sizeof *c);
    config_variant_defaults(c); /* what older files mean: no variant */
    c->dataset = (pp_dataset_kind)get_u32(r);
    c->model = (pp_model_kind)get_u32(r);
    c->rule = (pp_rule_kind)get_u32(r);
    c->n_hidden = (int)get_u32(r);
    for (int i = 0; i < PP_MAX_HIDDEN; i++)
        c->hidden[i] = (int)get_u32(r);
    c->conv_filters = (int)get_u32(r);
    c->conv_kernel = (int)get_u32(r);
    c->epochs = (int)get_u32(r);
    c->batch = (int)get_u32(r);
    c->lr = get_f32(r);
    c->n_decay = (int)get_u32(r);
    for (int i = 0; i < PP_MAX_DECAY; i++)
        c->decay_epochs[i] = (int)get_u32(r);
    c->decay_factor = get_f32(r);
    c->momentum = get_f32(r);
    c->weight_decay = get_f32(r);
    c->dropout = get_f32(r);
    c->f_scale = get_f32(r);
    c->seed = get_u64(r);
    c->output_error = (pp_output_error)get_u32(r);
    c->presynaptic = (pp_presynaptic)get_u32(r);
    c->modulation = (pp_modulation)get_u32(r);
    c->random_amplitude = get_f32(r);
    c->naive_modulated_pass = (int)get_u32(r);
    c->cifar100_coarse = (int)get_u32(r);
    c->analysis = (int)get_u32(r);
    if (version < 2) return;
    uint32_t arch_len = get_u32(r);
    if (arch_len >= sizeof c->arch) {
        r->failed = 1; /* no architecture is that long: a corrupt length */
        return;
    }
    get(r, c->arch, arch_len);
    c->arch[r->failed ? 0 : arch_len] = '\0';
    if (version < 4) return;
    c->update_form = (pp_update_form)get_u32(r);
    c->normalise = (int)get_u32(r);
    c->mirror = (int)get_u32(r);
    c->mirror_lr = get_f32(r);
    c->mirror_decay = get_f32(r);
    c->mirror_noise = get_f32(r);
    c->pre_mirror = (int)get_u32(r);
    c->mirror_every = (int)get_u32(r);
}

/* ---- Writing ---------------------------------------------------------- */

static pp_status put_tensor(writer *w, rt_context *ctx, const rt_buf *buf, size_t n) {
    put_u64(w, n);
    size_t at = w->size;
    put(w, NULL, n * sizeof(float));
    if (w->failed) return PP_OK;
    return rt_buf_read(ctx, buf, 0, n * sizeof(float), w->data + at);
}

pp_status pp_trainer_save(const pp_trainer *t, const char *path) {
    if (!t || !path || !*path) return pp_fail(PP_ERR_ARGUMENT, "--save: no checkpoint path");
    writer w = {0};
    put(&w, MAGIC, sizeof MAGIC);
    uint32_t version = version_for(&t->config, t->ranks);
    put_u32(&w, version);
    put_config(&w, version, &t->config);
    put_u32(&w, (uint32_t)t->epoch);
    put_u64(&w, (uint64_t)t->next_batch);
    put_u32(&w, t->step);
    put_f64(&w, t->partial_loss);
    put_f64(&w, t->partial_correct);
    put_f64(&w, t->partial_seconds);
    if (version >= RANKS_VERSION) put_u32(&w, (uint32_t)t->ranks);
    put_u32(&w, (uint32_t)t->net->n_layers);
    pp_status st = PP_OK;
    for (int i = 0; i < t->net->n_layers && st == PP_OK; i++) {
        const net_layer *l = &t->net->layers[i];
        st = put_tensor(&w, t->ctx, &l->w, l->n_weights);
        if (st == PP_OK) st = put_tensor(&w, t->ctx, &l->v, l->n_weights);
    }
    put_u32(&w, (uint32_t)t->rule->fixed.count);
    for (int i = 0; i < t->rule->fixed.count && st == PP_OK; i++)
        st = put_tensor(&w, t->ctx, &t->rule->fixed.buf[i], t->rule->fixed.n[i]);
    if (st == PP_OK && !w.failed) {
        put_u32(&w, crc_of(w.data, w.size));
    }
    if (st == PP_OK && w.failed)
        st = pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory assembling the checkpoint");
    if (st == PP_OK) st = pp_write_file_atomic(path, w.data, w.size);
    free(w.data);
    return st;
}

/* ---- Reading ---------------------------------------------------------- */

pp_status checkpoint_read_file(const char *path, unsigned char **data, size_t *size) {
    struct stat sb;
    *data = NULL;
    if (stat(path, &sb) != 0)
        return pp_fail(errno == ENOENT ? PP_ERR_NOT_FOUND : PP_ERR_IO, "%s: %s", path,
                       strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return pp_fail(PP_ERR_IO, "%s: is a directory, expected a checkpoint file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return pp_fail(PP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t n = (size_t)sb.st_size;
    *data = malloc(n ? n : 1);
    if (!*data) {
        fclose(f);
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory reading %zu bytes", path, n);
    }
    size_t got = fread(*data, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        free(*data);
        *data = NULL;
        return pp_fail(PP_ERR_IO, "%s: read %zu of %zu bytes", path, got, n);
    }
    *size = n;
    return PP_OK;
}

/* Checks magic, version and checksum; leaves r just past the version. */
static pp_status open_checkpoint(const char *path, const unsigned char *data, size_t size,
                                 reader *r, uint32_t *version_out) {
    if (size == 0) return pp_fail(PP_ERR_FORMAT, "%s: empty file, not a checkpoint", path);
    if (size < sizeof MAGIC + 8 || memcmp(data, MAGIC, sizeof MAGIC) != 0)
        return pp_fail(PP_ERR_FORMAT, "%s: not a pepita checkpoint (bad magic number)", path);
    uint32_t version;
    memcpy(&version, data + sizeof MAGIC, sizeof version);
    if (version < OLDEST_VERSION || version > VERSION)
        return pp_fail(PP_ERR_MISMATCH,
                       "%s: checkpoint format version %u, this build reads versions %d to %d", path,
                       version, OLDEST_VERSION, VERSION);
    *version_out = version;
    uint32_t stored, crc = crc_of(data, size - sizeof stored);
    memcpy(&stored, data + size - sizeof stored, sizeof stored);
    if (crc != stored)
        return pp_fail(PP_ERR_FORMAT,
                       "%s: checksum mismatch (stored %08x, computed %08x): the file is corrupt "
                       "or truncated",
                       path, stored, crc);
    *r = (reader){.data = data, .size = size - sizeof stored, .pos = sizeof MAGIC + 4};
    return PP_OK;
}

pp_status checkpoint_parse_config(const unsigned char *data, size_t size, const char *name,
                                  pp_config *config, int *epoch) {
    reader r;
    uint32_t version = 0;
    PP_TRY(open_checkpoint(name, data, size, &r, &version));
    get_config(&r, version, config);
    uint32_t e = get_u32(&r);
    if (epoch) *epoch = (int)e;
    if (r.failed) return pp_fail(PP_ERR_FORMAT, "%s: truncated configuration", name);
    return PP_OK;
}

/* One tensor header and its place; false when the file ends first. */
static int walk_tensor(reader *r, checkpoint_tensor *t) {
    uint64_t n = get_u64(r);
    if (r->failed || n > MAX_TENSOR_FLOATS || n * sizeof(float) > r->size - r->pos) return 0;
    t->bytes = r->data + r->pos;
    t->count = (size_t)n;
    r->pos += (size_t)n * sizeof(float);
    return 1;
}

pp_status checkpoint_parse_tensors(const unsigned char *data, size_t size, const char *name,
                                   pp_config *config, int *epoch, checkpoint_tensors *out) {
    reader r;
    memset(out, 0, sizeof *out);
    uint32_t version = 0;
    PP_TRY(open_checkpoint(name, data, size, &r, &version));
    get_config(&r, version, config);
    uint32_t e = get_u32(&r);
    get_u64(&r); /* the training position: not needed here */
    get_u32(&r);
    get_f64(&r), get_f64(&r), get_f64(&r);
    if (version >= RANKS_VERSION) get_u32(&r); /* the MPI ranks */
    uint32_t n_layers = get_u32(&r);
    if (r.failed) return pp_fail(PP_ERR_FORMAT, "%s: truncated header", name);
    if (n_layers == 0 || n_layers > CHECKPOINT_MAX_TENSORS)
        return pp_fail(PP_ERR_FORMAT, "%s: %u layers is out of range", name, n_layers);
    for (uint32_t i = 0; i < n_layers; i++)
        if (!walk_tensor(&r, &out->weights[i]) || !walk_tensor(&r, &out->momentum[i]))
            return pp_fail(PP_ERR_FORMAT, "%s: truncated in layer %u", name, i + 1);
    uint32_t n_fixed = get_u32(&r);
    if (r.failed || n_fixed > CHECKPOINT_MAX_TENSORS)
        return pp_fail(PP_ERR_FORMAT, "%s: bad count of fixed matrices", name);
    for (uint32_t i = 0; i < n_fixed; i++)
        if (!walk_tensor(&r, &out->fixed[i]))
            return pp_fail(PP_ERR_FORMAT, "%s: truncated in fixed matrix %u", name, i + 1);
    if (r.pos != r.size)
        return pp_fail(PP_ERR_FORMAT, "%s: %zu unexpected bytes after the data", name,
                       r.size - r.pos);
    out->n_layers = (int)n_layers;
    out->n_fixed = (int)n_fixed;
    if (epoch) *epoch = (int)e;
    return PP_OK;
}

pp_status pp_checkpoint_read_config(const char *path, pp_config *config, int *epoch) {
    unsigned char *data = NULL;
    size_t size = 0;
    PP_TRY(checkpoint_read_file(path, &data, &size));
    pp_status st = checkpoint_parse_config(data, size, path, config, epoch);
    free(data);
    return st;
}

/* The first architecture field where two configurations differ, or NULL. */
static const char *architecture_difference(const pp_config *a, const pp_config *b) {
    if (a->dataset != b->dataset) return "--dataset";
    if (a->model != b->model) return "--model";
    if (a->rule != b->rule) return "--rule";
    if (a->cifar100_coarse != b->cifar100_coarse) return "--coarse";
    if (a->model == PP_MODEL_FC) {
        if (a->n_hidden != b->n_hidden) return "--hidden";
        for (int i = 0; i < a->n_hidden; i++)
            if (a->hidden[i] != b->hidden[i]) return "--hidden";
    } else if (!a->arch[0] &&
               (a->conv_filters != b->conv_filters || a->conv_kernel != b->conv_kernel)) {
        return "the conv layer's shape";
    }
    if (strcmp(a->arch, b->arch)) return "--arch";
    /* what the network computes, and the fixed matrices saved */
    if (a->normalise != b->normalise) return "--normalise";
    if (a->mirror != b->mirror) return "--mirror";
    return NULL;
}

/* Reads one tensor's header and checks its size; uploads it unless dry. */
static pp_status get_tensor(reader *r, const char *path, const char *what, rt_context *ctx,
                            rt_buf *buf, size_t expected, int dry) {
    uint64_t n = get_u64(r);
    if (r->failed) return pp_fail(PP_ERR_FORMAT, "%s: truncated before %s", path, what);
    if (n != expected)
        return pp_fail(PP_ERR_MISMATCH, "%s: %s holds %llu values, this network needs %zu", path,
                       what, (unsigned long long)n, expected);
    size_t bytes = (size_t)n * sizeof(float);
    if (bytes > r->size - r->pos) return pp_fail(PP_ERR_FORMAT, "%s: truncated in %s", path, what);
    if (!dry) PP_TRY(rt_buf_write(ctx, buf, 0, bytes, r->data + r->pos));
    r->pos += bytes;
    return PP_OK;
}

/* Walks every tensor: a dry pass validates the whole file before the second
 * pass changes anything, so a bad checkpoint leaves the trainer as it was. */
static pp_status get_tensors(reader *r, const char *path, pp_trainer *t, int dry) {
    pp_status st = PP_OK;
    for (int i = 0; i < t->net->n_layers && st == PP_OK; i++) {
        net_layer *l = &t->net->layers[i];
        char what[64];
        snprintf(what, sizeof what, "layer %d weights", i + 1);
        if (!dry) l->proj.fresh = 0; /* a product of the weights no longer current */
        st = get_tensor(r, path, what, t->ctx, &l->w, l->n_weights, dry);
        snprintf(what, sizeof what, "layer %d momentum", i + 1);
        if (st == PP_OK) st = get_tensor(r, path, what, t->ctx, &l->v, l->n_weights, dry);
    }
    if (st != PP_OK) return st;
    uint32_t n_fixed = get_u32(r);
    if (r->failed || n_fixed != (uint32_t)t->rule->fixed.count)
        return pp_fail(PP_ERR_MISMATCH, "%s: %u fixed matrices saved, the %s rule has %d", path,
                       n_fixed, t->rule->name, t->rule->fixed.count);
    for (int i = 0; i < t->rule->fixed.count && st == PP_OK; i++)
        st = get_tensor(r, path, "a fixed feedback matrix", t->ctx, &t->rule->fixed.buf[i],
                        t->rule->fixed.n[i], dry);
    if (st == PP_OK && r->pos != r->size)
        st = pp_fail(PP_ERR_FORMAT, "%s: %zu unexpected bytes after the data", path,
                     r->size - r->pos);
    return st;
}

/* same_ranks: refuse a checkpoint of another number of MPI ranks (--resume). */
static pp_status restore(pp_trainer *t, const unsigned char *data, size_t size, const char *path,
                         int same_ranks) {
    reader r;
    pp_config saved;
    uint32_t version = 0;
    PP_TRY(open_checkpoint(path, data, size, &r, &version));
    get_config(&r, version, &saved);
    uint32_t epoch = get_u32(&r);
    uint64_t next_batch = get_u64(&r);
    uint32_t step = get_u32(&r);
    double partial_loss = get_f64(&r), partial_correct = get_f64(&r);
    double partial_seconds = get_f64(&r);
    uint32_t ranks = version >= RANKS_VERSION ? get_u32(&r) : 1;
    uint32_t n_layers = get_u32(&r);
    if (r.failed) return pp_fail(PP_ERR_FORMAT, "%s: truncated header", path);
    /* the CRC only vouches for the writer: an epoch that does not fit an int is nonsense */
    if (epoch > (uint32_t)INT_MAX)
        return pp_fail(PP_ERR_FORMAT, "%s: saved epoch count %u is out of range", path, epoch);
    const char *diff = architecture_difference(&saved, &t->config);
    if (diff)
        return pp_fail(PP_ERR_MISMATCH,
                       "%s: the checkpoint is of another model (%s differs: saved %s %s %s)", path,
                       diff, pp_dataset_name(saved.dataset), pp_model_name(saved.model),
                       pp_rule_name(saved.rule));
    /* the ranks' slices of each batch, and so the rounding of the run, follow the count */
    if (same_ranks && ranks != (uint32_t)t->ranks)
        return pp_fail(
            PP_ERR_MISMATCH,
            "%s: the checkpoint was trained on %u MPI rank%s and this run has %d; resume it "
            "with the same number of ranks (mpirun -np %u)",
            path, ranks, ranks == 1 ? "" : "s", t->ranks, ranks);
    if (n_layers != (uint32_t)t->net->n_layers)
        return pp_fail(PP_ERR_MISMATCH, "%s: %u layers saved, this network has %d", path, n_layers,
                       t->net->n_layers);
    if (next_batch > t->train.n)
        return pp_fail(PP_ERR_MISMATCH,
                       "%s: saved position (batch %llu) is beyond this training set of %zu samples",
                       path, (unsigned long long)next_batch, t->train.n);
    size_t tensors_at = r.pos;
    PP_TRY(get_tensors(&r, path, t, 1));
    r.pos = tensors_at;
    PP_TRY(get_tensors(&r, path, t, 0));
    if (t->rule->fixed_changed) PP_TRY(t->rule->fixed_changed(t->rule));
    t->epoch = (int)epoch;
    t->next_batch = (size_t)next_batch;
    t->step = step;
    t->partial_loss = partial_loss;
    t->partial_correct = partial_correct;
    t->partial_seconds = partial_seconds;
    /* training options (epochs, lr, ...) stay as the caller configured them */
    return rt_finish(t->ctx);
}

pp_status checkpoint_restore(pp_trainer *t, const unsigned char *data, size_t size,
                             const char *path) {
    return restore(t, data, size, path, 0);
}

static pp_status load(pp_trainer *t, const char *path, int same_ranks) {
    unsigned char *data = NULL;
    size_t size = 0;
    PP_TRY(checkpoint_read_file(path, &data, &size));
    pp_status st = restore(t, data, size, path, same_ranks);
    free(data);
    return st;
}

pp_status pp_trainer_load(pp_trainer *t, const char *path) {
    return load(t, path, 0);
}

pp_status pp_trainer_resume(pp_trainer *t, const char *path) {
    return load(t, path, 1);
}
