#include "cli/train_options.h"
#include "dist/dist.h"

#include "cli/options.h"

#include "runtime/error.h"

#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static pp_status parse_float(const char *flag, const char *text, float *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno || !isfinite(v))
        return pp_fail(PP_ERR_ARGUMENT, "%s: '%s' is not a finite number", flag, text);
    if (v < 0) return pp_fail(PP_ERR_ARGUMENT, "%s must not be negative, got %s", flag, text);
    *out = (float)v;
    return PP_OK;
}

static pp_status parse_u64(const char *flag, const char *text, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    if (!*text || *text == '-')
        return pp_fail(PP_ERR_ARGUMENT, "%s: '%s' is not a non-negative integer", flag, text);
    unsigned long long v = strtoull(text, &end, 10);
    if (*end || errno)
        return pp_fail(PP_ERR_ARGUMENT, "%s: '%s' is not a non-negative integer", flag, text);
    *out = (uint64_t)v;
    return PP_OK;
}

/* "1024,512" into values; "none" or "" is an empty list. */
static pp_status parse_int_list(const char *flag, const char *text, int max, long lo, long hi,
                                int *values, int *count) {
    *count = 0;
    if (!strcmp(text, "none") || !*text) return PP_OK;
    char buf[256];
    if (strlen(text) >= sizeof buf) return pp_fail(PP_ERR_ARGUMENT, "%s: list too long", flag);
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (*count == max)
            return pp_fail(PP_ERR_ARGUMENT, "%s takes at most %d values, got '%s'", flag, max,
                           text);
        PP_TRY(cli_parse_int(flag, item, lo, hi, &values[(*count)++]));
    }
    if (text[strlen(text) - 1] == ',' || text[0] == ',' || strstr(text, ",,"))
        return pp_fail(PP_ERR_ARGUMENT, "%s: '%s' has an empty item", flag, text);
    return PP_OK;
}

static pp_status parse_choice(const char *flag, const char *text, const char *const *names, int n,
                              int *out) {
    for (int i = 0; i < n; i++)
        if (!strcmp(text, names[i])) {
            *out = i;
            return PP_OK;
        }
    char expected[128] = "";
    for (int i = 0; i < n; i++) {
        strncat(expected, names[i], sizeof expected - strlen(expected) - 1);
        if (i + 1 < n) strncat(expected, " or ", sizeof expected - strlen(expected) - 1);
    }
    return pp_fail(PP_ERR_ARGUMENT, "%s: unknown value '%s' (expected %s)", flag, text, expected);
}

static pp_status parse_modulation(const char *text, pp_config *c) {
    if (!strcmp(text, "error")) {
        c->modulation = PP_MODULATION_ERROR;
    } else if (!strcmp(text, "zero")) {
        c->modulation = PP_MODULATION_ZERO;
    } else if (!strncmp(text, "random", 6) && (text[6] == '\0' || text[6] == ':')) {
        c->modulation = PP_MODULATION_RANDOM;
        if (text[6] == ':')
            PP_TRY(parse_float("--modulation random:A", text + 7, &c->random_amplitude));
    } else {
        return pp_fail(PP_ERR_ARGUMENT,
                       "--modulation: unknown value '%s' (expected error, zero or random:A)", text);
    }
    return PP_OK;
}

/* "wm,norm": each preset of the follow-up's variants in turn. */
static pp_status parse_variants(const char *text, pp_config *c) {
    char buf[128];
    if (!*text || strlen(text) >= sizeof buf)
        return pp_fail(PP_ERR_ARGUMENT, "--variant: expected a list such as wm,norm, got '%s'",
                       text);
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save))
        PP_TRY(pp_config_variant(c, item));
    return PP_OK;
}

/* Every option of train and eval. Those that take a value are applied by
 * name (apply), the switches by their letter or id. */
enum { OPT_COARSE = 256, OPT_ANALYSIS, OPT_NAIVE, OPT_NORMALISE, OPT_MIRROR, OPT_VALUED };
#define VALUED(name)                                                                               \
    { name, required_argument, NULL, OPT_VALUED }
static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"quiet", no_argument, NULL, 'q'},
    {"coarse", no_argument, NULL, OPT_COARSE},
    {"analysis", no_argument, NULL, OPT_ANALYSIS},
    {"naive-modulated-pass", no_argument, NULL, OPT_NAIVE},
    {"normalise", no_argument, NULL, OPT_NORMALISE},
    {"mirror", no_argument, NULL, OPT_MIRROR},
    VALUED("dataset"),
    VALUED("data"),
    VALUED("model"),
    VALUED("rule"),
    VALUED("hidden"),
    VALUED("arch"),
    VALUED("epochs"),
    VALUED("batch"),
    VALUED("lr"),
    VALUED("decay-epochs"),
    VALUED("decay-factor"),
    VALUED("momentum"),
    VALUED("weight-decay"),
    VALUED("dropout"),
    VALUED("f-scale"),
    VALUED("seed"),
    VALUED("output-error"),
    VALUED("presynaptic"),
    VALUED("modulation"),
    VALUED("update"),
    VALUED("variant"),
    VALUED("mirror-lr"),
    VALUED("mirror-decay"),
    VALUED("mirror-noise"),
    VALUED("pre-mirror"),
    VALUED("mirror-every"),
    VALUED("device"),
    VALUED("log"),
    VALUED("json"),
    VALUED("save"),
    VALUED("resume"),
    VALUED("checkpoint"),
    {NULL, 0, NULL, 0},
};
#undef VALUED

/* One option of the walk: its id, and for a valued one "--name" (the flag as
 * the messages spell it, also for "--name=value") and the value. */
typedef struct parsed_option {
    int id;
    char flag[32];
    const char *value;
} parsed_option;

/* The next option; PP_ERR_ARGUMENT for an unknown one or a missing value;
 * *done at the end. */
static pp_status next_option(cli_options *walk, int for_eval, parsed_option *p, int *done) {
    int c = cli_options_next(walk);
    *done = c == CLI_OPTION_END;
    if (c == CLI_OPTION_UNKNOWN)
        return pp_fail(PP_ERR_ARGUMENT, "pepita %s: unknown option '%s' (see --help)",
                       for_eval ? "eval" : "train", walk->word);
    if (c == CLI_OPTION_MISSING_VALUE)
        return pp_fail(PP_ERR_ARGUMENT, "%s needs a value", walk->word);
    p->id = c;
    p->value = walk->value;
    p->flag[0] = '\0';
    if (c == OPT_VALUED) {
        size_t n = strcspn(walk->word, "=");
        snprintf(p->flag, sizeof p->flag, "%.*s", (int)n, walk->word);
    }
    return PP_OK;
}

static pp_status apply(const char *flag, const char *v, cli_train_options *o) {
    pp_config *c = &o->config;
    static const char *const output_errors[] = {"standard", "modulated"};
    static const char *const presynaptic[] = {"modulated", "standard"};
    static const char *const update_forms[] = {"difference", "hebbian", "time-local"};
    int choice = 0;
    if (!strcmp(flag, "--data"))
        o->data_dir = v;
    else if (!strcmp(flag, "--device"))
        o->device = v;
    else if (!strcmp(flag, "--log"))
        o->log_path = v;
    else if (!strcmp(flag, "--json"))
        o->json_path = v;
    else if (!strcmp(flag, "--save"))
        o->save_path = v;
    else if (!strcmp(flag, "--resume"))
        o->resume_path = v;
    else if (!strcmp(flag, "--checkpoint"))
        o->checkpoint_path = v;
    else if (!strcmp(flag, "--arch")) {
        if (strlen(v) >= sizeof c->arch)
            return pp_fail(PP_ERR_ARGUMENT, "--arch: longer than %d characters",
                           (int)sizeof c->arch - 1);
        snprintf(c->arch, sizeof c->arch, "%s", v);
    } else if (!strcmp(flag, "--hidden"))
        return parse_int_list(flag, v, PP_MAX_HIDDEN, 1, 1 << 20, c->hidden, &c->n_hidden);
    else if (!strcmp(flag, "--epochs"))
        return cli_parse_int(flag, v, 1, 100000, &c->epochs);
    else if (!strcmp(flag, "--batch"))
        return cli_parse_int(flag, v, 1, 65536, &c->batch);
    else if (!strcmp(flag, "--lr"))
        return parse_float(flag, v, &c->lr);
    else if (!strcmp(flag, "--decay-epochs"))
        return parse_int_list(flag, v, PP_MAX_DECAY, 1, 100000, c->decay_epochs, &c->n_decay);
    else if (!strcmp(flag, "--decay-factor"))
        return parse_float(flag, v, &c->decay_factor);
    else if (!strcmp(flag, "--momentum"))
        return parse_float(flag, v, &c->momentum);
    else if (!strcmp(flag, "--weight-decay"))
        return parse_float(flag, v, &c->weight_decay);
    else if (!strcmp(flag, "--dropout"))
        return parse_float(flag, v, &c->dropout);
    else if (!strcmp(flag, "--f-scale"))
        return parse_float(flag, v, &c->f_scale);
    else if (!strcmp(flag, "--seed"))
        return parse_u64(flag, v, &c->seed);
    else if (!strcmp(flag, "--modulation"))
        return parse_modulation(v, c);
    else if (!strcmp(flag, "--output-error")) {
        PP_TRY(parse_choice(flag, v, output_errors, 2, &choice));
        c->output_error = (pp_output_error)choice;
    } else if (!strcmp(flag, "--presynaptic")) {
        PP_TRY(parse_choice(flag, v, presynaptic, 2, &choice));
        c->presynaptic = (pp_presynaptic)choice;
    } else if (!strcmp(flag, "--update")) {
        PP_TRY(parse_choice(flag, v, update_forms, 3, &choice));
        c->update_form = (pp_update_form)choice;
    } else if (!strcmp(flag, "--variant"))
        return parse_variants(v, c);
    else if (!strcmp(flag, "--mirror-lr"))
        return parse_float(flag, v, &c->mirror_lr);
    else if (!strcmp(flag, "--mirror-decay"))
        return parse_float(flag, v, &c->mirror_decay);
    else if (!strcmp(flag, "--mirror-noise"))
        return parse_float(flag, v, &c->mirror_noise);
    else if (!strcmp(flag, "--pre-mirror"))
        return cli_parse_int(flag, v, 0, 100000, &c->pre_mirror);
    else if (!strcmp(flag, "--mirror-every"))
        return cli_parse_int(flag, v, 0, 100000, &c->mirror_every);
    return PP_OK;
}

pp_status cli_parse_train_options(int argc, char **argv, int for_eval, cli_train_options *o) {
    memset(o, 0, sizeof *o);
    cli_options walk;
    parsed_option p;
    int done = 0;
    /* first: the shape of argv, and what decides the base configuration */
    pp_dataset_kind dataset = PP_DATASET_FASHION_MNIST;
    pp_model_kind model = PP_MODEL_FC;
    pp_rule_kind rule = PP_RULE_PEPITA;
    int coarse = 0;
    cli_options_start(&walk, argc, argv, "hq", options, 0);
    for (;;) {
        PP_TRY(next_option(&walk, for_eval, &p, &done));
        if (done) break;
        if (p.id == 'h') o->help = 1;
        if (p.id == 'q') o->quiet = 1;
        if (p.id == OPT_COARSE) coarse = 1;
    }
    cli_options_start(&walk, argc, argv, "hq", options, 0);
    for (;;) {
        PP_TRY(next_option(&walk, for_eval, &p, &done));
        if (done) break;
        if (!strcmp(p.flag, "--dataset"))
            PP_TRY(pp_dataset_parse(p.value, &dataset));
        else if (!strcmp(p.flag, "--model"))
            PP_TRY(pp_model_parse(p.value, &model));
        else if (!strcmp(p.flag, "--rule"))
            PP_TRY(pp_rule_parse(p.value, &rule));
        else if (!strcmp(p.flag, "--resume"))
            o->resume_path = p.value;
        else if (!strcmp(p.flag, "--checkpoint"))
            o->checkpoint_path = p.value;
    }
    const char *saved = for_eval ? o->checkpoint_path : o->resume_path;
    if (for_eval && !saved && !o->help)
        return pp_fail(PP_ERR_ARGUMENT, "pepita eval needs --checkpoint FILE");
    if (saved && !o->help) {
        PP_TRY(pp_checkpoint_read_config(saved, &o->config, NULL));
    } else {
        PP_TRY(pp_config_preset(&o->config, dataset, model, rule));
    }
    /* then every override, in order; a weight-mirroring setting is kept
     * to be refused without --mirror */
    char mirror_flag[32] = "";
    cli_options_start(&walk, argc, argv, "hq", options, 0);
    for (;;) {
        PP_TRY(next_option(&walk, for_eval, &p, &done));
        if (done) break;
        if (!strcmp(p.flag, "--dataset"))
            o->config.dataset = dataset;
        else if (!strcmp(p.flag, "--model"))
            o->config.model = model;
        else if (!strcmp(p.flag, "--rule"))
            o->config.rule = rule;
        else if (p.id == OPT_COARSE)
            o->config.cifar100_coarse = coarse;
        else if (p.id == OPT_ANALYSIS)
            o->config.analysis = 1;
        else if (p.id == OPT_NAIVE)
            o->config.naive_modulated_pass = 1;
        else if (p.id == OPT_NORMALISE)
            o->config.normalise = 1;
        else if (p.id == OPT_MIRROR)
            o->config.mirror = 1;
        if (p.id == OPT_VALUED) PP_TRY(apply(p.flag, p.value, o));
        if (p.id == OPT_VALUED &&
            (!strncmp(p.flag, "--mirror-", 9) || !strcmp(p.flag, "--pre-mirror")))
            snprintf(mirror_flag, sizeof mirror_flag, "%s", p.flag);
    }
    if (o->help) return PP_OK;
    if (mirror_flag[0] && !o->config.mirror)
        return pp_fail(PP_ERR_ARGUMENT,
                       "%s sets weight mirroring: it needs --mirror (or --variant wm)",
                       mirror_flag);
    if (for_eval && (o->save_path || o->resume_path || o->log_path))
        return pp_fail(PP_ERR_ARGUMENT, "pepita eval takes no --save, --resume or --log");
    return pp_config_validate(&o->config);
}

void cli_print_train_help(FILE *out, const cli_train_options *o) {
    const pp_config *c = &o->config;
    fprintf(out,
            "usage: pepita train [options]\n"
            "\n"
            "Trains a network and evaluates it on the test set after every epoch.\n"
            "\n"
            "what to train:\n"
            "  --dataset NAME        mnist, fashion-mnist (default), cifar10, cifar100, npz\n"
            "  --data DIR            dataset directory (default: $PEPITA_DATA, else %s);\n"
            "                        npz: FILE.npz or a directory of .npy files holding\n"
            "                        x_train, y_train, x_test, y_test\n"
            "  --coarse              CIFAR-100: the 20 coarse labels\n"
            "  --model fc|conv       fully connected (default) or conv 32@5x5-ReLU-maxpool-FC\n"
            "  --hidden N[,N...]     fc hidden widths (default 1024; 'none' for no hidden layer)\n"
            "  --arch SPEC           the hidden layers as text, e.g.\n"
            "                        conv32k5,pool2,conv64k5,pool2,fc1024 (conv layers need\n"
            "                        --model conv; replaces --hidden and the preset's layers)\n"
            "  --rule NAME           pepita (default), bp, fa, dfa, drtp\n"
            "\n"
            "hyperparameters (defaults: the paper's Table 2 preset, below):\n"
            "  --epochs N  --batch N  --lr X  --decay-epochs E[,E...]|none  --decay-factor X\n"
            "  --momentum X  --weight-decay X  --dropout P  --f-scale X  --seed N\n"
            "\n"
            "PEPITA variants:\n"
            "  --output-error standard|modulated   error for the output layer (paper: standard)\n"
            "  --presynaptic modulated|standard    presynaptic pass of the updates (paper: "
            "modulated)\n"
            "  --modulation error|zero|random:A    modulate by the error, nothing (F = 0), or\n"
            "                                      noise in [-A, A]\n"
            "  --naive-modulated-pass              compute W1 (x + e F^T) in full (for checks)\n"
            "\n"
            "the follow-up's variants (Srinivasan et al., ICLR 2024; PEPITA, fc models):\n"
            "  --variant NAME[,NAME...]  presets: wm (weight mirroring), norm (activation\n"
            "                            normalisation), hebbian, time-local; values below\n"
            "  --update difference|hebbian|time-local\n"
            "                            the update: (h - h') h'^T (paper), h h^T - h' h'^T,\n"
            "                            or two optimiser steps per batch\n"
            "  --normalise               h / ||h||_F over the batch after each hidden layer\n"
            "  presets, applied where --variant stands (a later --lr wins), chosen on\n"
            "  CIFAR-10 FC 1x1024 (README, \"The follow-up's forms\"):\n"
            "    norm        --normalise --lr 3 (the normalised h is ~1/100 as large, and so\n"
            "                are its updates: 0.01 does not learn, 3 was best of 0.01-10)\n"
            "    hebbian     --update hebbian (the preset's lr: as good as the paper's form)\n"
            "    time-local  --update time-local --f-scale 1 --lr 1e-4 (its first step moves\n"
            "                the units more than the error does at f-scale 0.05: there it\n"
            "                learns nothing from the error on CIFAR-10 at any lr tried);\n"
            "                it peaks at 38-39%% on CIFAR-10 in epochs 10-12, then its\n"
            "                weights grow\n"
            "    wm          --mirror, F learned in 2 epochs of mirroring with W frozen,\n"
            "                then fixed (the follow-up's config.py schedule; values below).\n"
            "                Mirroring every epoch keeps F closer but is unstable over 100\n"
            "                epochs on CIFAR-10: 1x1024 ends at 47.4%% (best 52.0%%), 2x1024\n"
            "                and 3x1024 blow up (README: \"Weight mirroring\")\n"
            "  --mirror                  weight mirroring: F = B_1...B_L learned from noise,\n"
            "                            modulation x - e F^T\n"
            "  --mirror-lr X  --mirror-decay X  --mirror-noise X\n"
            "                            its rate eta, decay lambda and noise std (wm:\n"
            "                            0.1, 0.5, 0.1, chosen by measurement on CIFAR-10)\n"
            "  --pre-mirror N            epochs of mirroring only, at the start (wm: 2)\n"
            "  --mirror-every N          mirror during every N-th epoch too (0: never;\n"
            "                            wm: 0; every epoch: 2-3x an epoch's time)\n"
            "\n"
            "output and state:\n"
            "  --device D            cpu, gpu, P:D or part of a name (default: $PEPITA_DEVICE,\n"
            "                        else the first GPU, else the first CPU)\n"
            "  --log FILE.csv        one row per epoch\n"
            "  --json FILE           a summary of the run\n"
            "  --save FILE           checkpoint after every epoch (and on Ctrl-C)\n"
            "  --resume FILE         continue from a checkpoint\n"
            "  --analysis            per-epoch angle between W_L...W_1 and F^T, weight norms\n"
            "  --quiet               no progress output\n"
            "\n"
            "data-parallel training: %s\n"
            "\n",
            pp_dataset_default_dir(c->dataset) ? pp_dataset_default_dir(c->dataset) : "none",
            dist_available()
                ? "mpirun -np N pepita train ... splits each batch over N ranks;\n"
                  "  each takes the device at its node-local rank among those --device matches,\n"
                  "  or from a list (--device 0:0,0:1); rank 0 prints and writes the files"
                : "not in this build; install Open MPI (Debian: libopenmpi-dev openmpi-bin)\n"
                  "  and rebuild, then run mpirun -np N pepita train ...");
    fprintf(out, "preset for --dataset %s --model %s --rule %s:\n", pp_dataset_name(c->dataset),
            pp_model_name(c->model), pp_rule_name(c->rule));
    fprintf(out, "  epochs %d, batch %d, lr %g, lr x%g after epoch", c->epochs, c->batch,
            (double)c->lr, (double)c->decay_factor);
    for (int i = 0; i < c->n_decay; i++)
        fprintf(out, "%s %d", i ? "," : "", c->decay_epochs[i]);
    fprintf(out, "%s, momentum %g, weight decay %g, dropout %g, f-scale %g, seed %llu\n",
            c->n_decay ? "" : " (none)", (double)c->momentum, (double)c->weight_decay,
            (double)c->dropout, (double)c->f_scale, (unsigned long long)c->seed);
    fprintf(out,
            "  variants: mirror-lr %g, mirror-decay %g, mirror-noise %g, pre-mirror %d, "
            "mirror-every %d\n",
            (double)c->mirror_lr, (double)c->mirror_decay, (double)c->mirror_noise, c->pre_mirror,
            c->mirror_every);
    if (c->model == PP_MODEL_FC) {
        fprintf(out, "  hidden");
        for (int i = 0; i < c->n_hidden; i++)
            fprintf(out, "%s%d", i ? "," : " ", c->hidden[i]);
        fprintf(out, "%s\n", c->n_hidden ? "" : " none");
    }
}
