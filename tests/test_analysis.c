/* The analysis tools: the --analysis angle and norms against a host
 * computation, the run JSON reader (strict, every error naming the file),
 * the slowness fit on curves of known parameters, `pepita plot`, and a
 * short CLI run with histograms and a resumed report. */
#include "pepita/pepita.h"
#include "runtime/runtime.h"
#include "test_support.h"
#include "train/trainer_internal.h"

/* The reader is a CLI file (the tests link the library only); it needs
 * nothing but the error module, so it is compiled in here. */
#include "cli/run_json.c"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Running the CLI ------------------------------------------------------ */

/* pepita with args; gnuplot, when not NULL, becomes $PEPITA_GNUPLOT in the child. */
static void run_cli(const char *const *args, const char *gnuplot, ts_cli_result *r) {
    char env[4200];
    snprintf(env, sizeof env, "PEPITA_GNUPLOT=%s", gnuplot ? gnuplot : "");
    ts_cli_options options = {.env = {gnuplot ? env : NULL}};
    ts_run_cli_with(args, &options, r);
}

static int have_gnuplot(void) {
    const char *path = getenv("PATH");
    char candidate[4200];
    while (path && *path) {
        size_t len = strcspn(path, ":");
        snprintf(candidate, sizeof candidate, "%.*s/gnuplot", (int)len, path);
        if (access(candidate, X_OK) == 0) return 1;
        path += len;
        if (*path == ':') path++;
    }
    return 0;
}

/* ---- Generated run JSON --------------------------------------------------- */

typedef struct fake_run {
    const char *dataset, *rule, *modulation;
    int classes, epochs;
    double max_acc, slowness; /* test accuracy follows the paper's curve */
    double noise;             /* +- noise, deterministic */
    int after;                /* from this epoch on (when > 0), accuracy 0.2: not the curve */
    int analysis;
    unsigned long long seed;
} fake_run;

static double noise_at(int e, unsigned long long seed) {
    unsigned x = (unsigned)(e * 2654435761u) ^ (unsigned)(seed * 40503u);
    x ^= x >> 13;
    x *= 0x5bd1e995u;
    x ^= x >> 15;
    return (x % 2001) / 1000.0 - 1.0; /* [-1, 1] */
}

/* config_extra: more members of "config" (", \"variant\": ..."), or NULL. */
static char *write_run_with(const char *dir, const char *name, const fake_run *f,
                            const char *config_extra) {
    char *path = malloc(4200);
    snprintf(path, 4200, "%s/%s", dir, name);
    FILE *o = fopen(path, "w");
    ck_assert_ptr_nonnull(o);
    fprintf(o, "{\n  \"dataset\": \"%s\",\n  \"model\": \"fc\",\n  \"rule\": \"%s\",\n", f->dataset,
            f->rule);
    fprintf(o, "  \"device\": \"test \\\"device\\\" \\u00e9\",\n  \"classes\": %d,\n", f->classes);
    if (f->dataset[0] == 'm') fprintf(o, "  \"source_commit\": \"v0.1-2-gabc\",\n");
    fprintf(o, "  \"epochs\": %d,\n  \"epochs_planned\": %d,\n", f->epochs, f->epochs);
    fprintf(o, "  \"test_accuracy\": [");
    for (int e = 1; e <= f->epochs; e++) {
        double acc = f->after && e >= f->after ? 0.2 : f->max_acc * e / (f->slowness + e);
        acc += f->noise * noise_at(e, f->seed);
        fprintf(o, "%s%.17g", e > 1 ? ", " : "", acc);
    }
    fprintf(o, "],\n  \"train_loss\": [");
    for (int e = 1; e <= f->epochs; e++)
        fprintf(o, "%s%g", e > 1 ? ", " : "", 1.0 / (e + f->seed));
    fprintf(o, "],\n");
    if (f->analysis) {
        fprintf(o, "  \"angle_degrees\": [");
        for (int e = 1; e <= f->epochs; e++)
            fprintf(o, "%s%g", e > 1 ? ", " : "", 95 + 20 * (1 - exp(-e / 3.0)) + f->seed);
        fprintf(o, "],\n  \"weight_norms\": [");
        for (int e = 1; e <= f->epochs; e++)
            fprintf(o, "%s[%g, %g]", e > 1 ? ", " : "", 45 + 0.1 * e, 4.5 + 2 * sqrt(e));
        fprintf(o, "],\n  \"initial_weight_norms\": [45, 4.5],\n");
        fprintf(o, "  \"weight_histograms_epoch\": %d,\n  \"weight_histograms\": [\n", f->epochs);
        for (int l = 1; l <= 2; l++) {
            double std = l == 1 ? 0.05 : 0.2;
            fprintf(o, "    {\"layer\": %d, \"mean\": 0, \"std\": %g, \"edges\": [", l, std);
            for (int b = 0; b <= 20; b++)
                fprintf(o, "%s%g", b ? ", " : "", -4 * std + 8 * std * b / 20);
            fprintf(o, "], \"counts\": [");
            int total = 0;
            for (int b = 0; b < 20; b++) {
                double z = (-4 + 8 * (b + 0.5) / 20);
                int c = (int)(1000 * exp(-z * z / 2));
                total += c;
                fprintf(o, "%s%d", b ? ", " : "", c);
            }
            fprintf(o, "], \"weights\": %d}%s\n", total, l == 1 ? "," : "");
        }
        fprintf(o, "  ],\n");
    }
    fprintf(o, "  \"config\": {\"batch\": 64, \"hidden\": [1024], \"modulation\": \"%s\"%s},\n",
            f->modulation ? f->modulation : "error", config_extra ? config_extra : "");
    fprintf(o, "  \"seed\": %llu\n}\n", f->seed);
    ck_assert_int_eq(fclose(o), 0);
    return path;
}

static char *write_run(const char *dir, const char *name, const fake_run *f) {
    return write_run_with(dir, name, f, NULL);
}

/* The "slowness X  max_acc Y  rms Z" of a `pepita slowness` line. */
static void parse_fit(const char *out, double *slowness, double *max_acc, double *rms) {
    const char *p = strstr(out, "slowness ");
    ck_assert_msg(p != NULL, "no fit in: %s", out);
    ck_assert_int_eq(sscanf(p, "slowness %lf max_acc %lf rms %lf", slowness, max_acc, rms), 3);
}

/* ---- Slowness ------------------------------------------------------------- */

START_TEST(slowness_fit_recovers_known_parameters) {
    if (!ts_cli_path()) {
        ts_skip("slowness_fit_recovers_known_parameters", "no pepita binary");
        return;
    }
    char *dir = ts_make_temp_dir("slowness");
    static const fake_run cases[] = {
        {"mnist", "pepita", NULL, 10, 100, 0.98, 2.5, 0, 0, 0, 1},
        {"cifar10", "bp", NULL, 10, 100, 0.55, 12.0, 0, 0, 0, 2},
        {"cifar100", "fa", NULL, 100, 100, 0.25, 30.0, 0, 0, 0, 3},
        {"mnist", "drtp", NULL, 10, 60, 0.95, 0.4, 0, 0, 0, 4},
        /* 40 epochs: fewer than the 60 fitted */
        {"cifar10", "pepita", NULL, 10, 40, 0.5, 7.0, 0, 0, 0, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "run%zu.json", i);
        char *path = write_run(dir, name, &cases[i]);
        ts_cli_result r;
        run_cli((const char *[]){"slowness", path, NULL}, NULL, &r);
        ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
        double s, a, rms;
        parse_fit(r.out, &s, &a, &rms);
        ck_assert_msg(fabs(s - cases[i].slowness) < 1e-4 * cases[i].slowness,
                      "case %zu: slowness %.8g, made with %g", i, s, cases[i].slowness);
        ck_assert_msg(fabs(a - cases[i].max_acc) < 1e-5, "case %zu: max_acc %.8g, made with %g", i,
                      a, cases[i].max_acc);
        ck_assert_msg(rms < 1e-6, "case %zu: rms %g of an exact curve", i, rms);
        free(path);
    }
    ts_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(slowness_fits_only_the_first_epochs_and_tolerates_noise) {
    if (!ts_cli_path()) {
        ts_skip("slowness_fits_only_the_first_epochs", "no pepita binary");
        return;
    }
    char *dir = ts_make_temp_dir("slowness");
    /* the curve up to epoch 60, something else after: the default fit sees only the curve */
    fake_run broken = {"mnist", "pepita", NULL, 10, 100, 0.9, 4.0, 0, 61, 0, 1};
    char *path = write_run(dir, "after60.json", &broken);
    ts_cli_result r;
    double s, a, rms;
    run_cli((const char *[]){"slowness", path, NULL}, NULL, &r);
    ck_assert_msg(r.exit_code == 0, "%s", r.err);
    parse_fit(r.out, &s, &a, &rms);
    ck_assert_msg(fabs(s - 4.0) < 1e-4 && fabs(a - 0.9) < 1e-5, "slowness %g max_acc %g", s, a);
    /* --epochs 80 takes in the other part, and the fit gets worse */
    run_cli((const char *[]){"slowness", path, "--epochs", "80", NULL}, NULL, &r);
    ck_assert_msg(r.exit_code == 0, "%s", r.err);
    parse_fit(r.out, &s, &a, &rms);
    ck_assert_msg(rms > 0.05, "rms %g with the broken epochs in", rms);
    free(path);

    /* noise of +-0.003 on three seeds: close to the truth, and a mean line */
    char *paths[3];
    for (int k = 0; k < 3; k++) {
        fake_run noisy = {
            "cifar10", "pepita", NULL, 10, 100, 0.52, 6.0, 0.003, 0, 0, (unsigned long long)k + 1};
        char name[32];
        snprintf(name, sizeof name, "noisy%d.json", k);
        paths[k] = write_run(dir, name, &noisy);
    }
    run_cli((const char *[]){"slowness", paths[0], paths[1], paths[2], NULL}, NULL, &r);
    ck_assert_msg(r.exit_code == 0, "%s", r.err);
    const char *line = r.out;
    for (int k = 0; k < 3; k++) {
        parse_fit(line, &s, &a, &rms);
        ck_assert_msg(fabs(s - 6.0) < 0.6 && fabs(a - 0.52) < 0.005 && rms < 0.004,
                      "noisy %d: slowness %g max_acc %g rms %g", k, s, a, rms);
        line = strstr(line, "slowness ") + 1;
    }
    ck_assert_msg(strstr(r.out, "PEPITA FC CIFAR-10, 3 runs: slowness"), "no mean: %s", r.out);
    for (int k = 0; k < 3; k++)
        free(paths[k]);

    /* one epoch cannot be fitted; a bad --epochs is refused */
    fake_run one = {"mnist", "pepita", NULL, 10, 1, 0.9, 1.0, 0, 0, 0, 1};
    path = write_run(dir, "one.json", &one);
    run_cli((const char *[]){"slowness", path, NULL}, NULL, &r);
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_msg(strstr(r.err, path) && strstr(r.err, "at least 2 epochs"), "%s", r.err);
    run_cli((const char *[]){"slowness", path, "--epochs", "x", NULL}, NULL, &r);
    ck_assert_int_eq(r.exit_code, 2);
    free(path);
    ts_remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- The reader ----------------------------------------------------------- */

static const char *const valid_doc =
    "{\"dataset\": \"\\u006dnist\", \"model\": \"fc\", \"rule\": \"pepita\", \"epochs\": 2,\n"
    " \"test_accuracy\": [0.5, 0.75], \"lr\": [0.1, null], \"device\": \"\\ud83d\\ude00 ü\",\n"
    " \"seed\": 9223372036854775807, \"config\": {\"modulation\": \"zero\"}}";

START_TEST(reader_accepts_a_valid_document) {
    run_data d;
    pp_status st = run_json_parse(valid_doc, strlen(valid_doc), "valid.json", &d);
    ck_assert_msg(st == PP_OK, "%s", pp_last_error());
    ck_assert_str_eq(d.dataset, "mnist");
    ck_assert_int_eq(d.classes, 10);
    ck_assert_uint_eq(d.epochs, 2);
    ck_assert(d.test_accuracy[1] == 0.75);
    ck_assert(d.lr[0] == 0.1 && isnan(d.lr[1]));
    ck_assert(isnan(d.angle[0]) && !d.has_angle && d.n_layers == 0);
    ck_assert(d.has_seed && d.seed == 9223372036854775807ull);
    ck_assert_str_eq(d.device, "\xf0\x9f\x98\x80 \xc3\xbc");
    char label[96];
    run_json_label(&d, label, sizeof label);
    ck_assert_str_eq(label, "PEPITA FC MNIST F=0");
    run_json_free(&d);
}
END_TEST

typedef struct bad_doc {
    const char *text;
    const char *message; /* a part of the message after the file name */
} bad_doc;

static const bad_doc bad_docs[] = {
    {"", "empty file"},
    {"   \n ", "empty file"},
    {"{", "expected near end of file"},
    {"{\"dataset\": \"mnist\",}", "string or '}' expected"},
    {"{\"dataset\": NaN}", "invalid token near 'NaN'"},
    {"{\"a\": [1, 2,]}", "unexpected token near ']'"},
    {"{\"a\": 01}", "invalid token near '0'"},
    {"{\"a\": 1.}", "invalid token near '1.'"},
    {"{\"a\": -}", "invalid token near '-'"},
    {"{\"a\": 1e999}", "real number overflow"},
    {"{\"a\": tru}", "invalid token near 'tru'"},
    {"{\"a\": \"x\\q\"}", "invalid escape"},
    {"{\"a\": \"x\\u12\"}", "invalid escape"},
    {"{\"a\": \"\\udc00\"}", "invalid Unicode '\\uDC00'"},
    {"{\"a\": \"\\ud800x\"}", "invalid Unicode '\\uD800'"},
    {"{\"a\": \"\\u0000\"}", "\\u0000 is not allowed"},
    {"{\"a\": \"tab\there\"}", "control character 0x9"},
    {"{\"a\": \"\xc0\xaf\"}", "unable to decode byte 0xc0"},
    {"{\"a\": \"\xed\xa0\x80\"}", "unable to decode byte 0xed"},
    {"{\"a\": \"unterminated", "premature end of input"},
    {"{} {}", "end of file expected"},
    {"\xef\xbb\xbf{}", "'[' or '{' expected"},
    {"[1, 2]", "is an object"},
    {"{\"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 1, \"test_accuracy\": [0.5]}",
     "\"dataset\" is missing"},
    {"{\"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 1}",
     "\"test_accuracy\" is missing"},
    {"{\"dataset\": \"mnist\", \"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"bp\", "
     "\"epochs\": 1, \"test_accuracy\": [0.5]}",
     "duplicate object key near '\"dataset\"'"},
    {"{\"dataset\": \"MNIST\", \"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 1, "
     "\"test_accuracy\": [0.5]}",
     "only a-z"},
    {"{\"dataset\": \"imagenet\", \"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 1, "
     "\"test_accuracy\": [0.5]}",
     "unknown dataset"},
    {"{\"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 3, "
     "\"test_accuracy\": [0.5, 0.6]}",
     "has 2 values but \"epochs\" is 3"},
    {"{\"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 1.5, "
     "\"test_accuracy\": [0.5]}",
     "\"epochs\" must be a whole number"},
    {"{\"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 1, "
     "\"test_accuracy\": [1.5]}",
     "outside [0, 1]"},
    {"{\"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 1, "
     "\"test_accuracy\": [null]}",
     "must hold numbers"},
    {"{\"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 2, "
     "\"test_accuracy\": [0.5, 0.6], \"weight_norms\": [[1, 2], [1]]}",
     "the same count each epoch"},
    {"{\"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 1, "
     "\"test_accuracy\": [0.5], \"angle_degrees\": [190]}",
     "outside [0, 180]"},
    {"{\"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 1, "
     "\"test_accuracy\": [0.5], \"seed\": -1}",
     "\"seed\" must be a non-negative"},
    {"{\"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 1, "
     "\"test_accuracy\": [0.5], \"weight_histograms_epoch\": 1, \"weight_histograms\": "
     "[{\"layer\": 1, \"mean\": 0, \"std\": 1, \"weights\": 3, \"edges\": [0, 1, 2], "
     "\"counts\": [1, 1]}]}",
     "must add up"},
    {"{\"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 1, "
     "\"test_accuracy\": [0.5], \"weight_histograms_epoch\": 1, \"weight_histograms\": "
     "[{\"layer\": 1, \"mean\": 0, \"std\": 1, \"weights\": 2, \"edges\": [0, 1, 1], "
     "\"counts\": [1, 1]}]}",
     "must increase strictly"},
    {"{\"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 1, "
     "\"test_accuracy\": [0.5], \"weight_histograms\": []}",
     "\"weight_histograms_epoch\" is missing"},
};

START_TEST(reader_refuses_malformed_documents_naming_the_file) {
    for (size_t i = 0; i < sizeof bad_docs / sizeof bad_docs[0]; i++) {
        run_data d;
        const bad_doc *b = &bad_docs[i];
        pp_status st = run_json_parse(b->text, strlen(b->text), "bad.json", &d);
        const char *m = pp_last_error();
        ck_assert_msg(st == PP_ERR_FORMAT, "case %zu (%s): status %s", i, b->text,
                      pp_status_name(st));
        ck_assert_msg(!strncmp(m, "bad.json:", 9) && strstr(m, b->message),
                      "case %zu: message '%s' lacks the file or '%s'", i, m, b->message);
    }
    /* nesting beyond jansson's bound (2048) is refused, not a stack overflow */
    enum { DEPTH = 3000 };
    char *deep = malloc(2 * DEPTH);
    ck_assert_ptr_nonnull(deep);
    memset(deep, '[', DEPTH);
    memset(deep + DEPTH, ']', DEPTH);
    run_data d;
    ck_assert_int_eq(run_json_parse(deep, 2 * DEPTH, "deep.json", &d), PP_ERR_FORMAT);
    ck_assert_msg(strstr(pp_last_error(), "maximum parsing depth"), "%s", pp_last_error());
    free(deep);
    /* line and column of a syntax error */
    const char *text = "{\n  \"dataset\": \"mnist\",\n  \"model\" \"fc\"}";
    ck_assert_int_eq(run_json_parse(text, strlen(text), "pos.json", &d), PP_ERR_FORMAT);
    ck_assert_msg(!strncmp(pp_last_error(), "pos.json:3:14: ':' expected", 27), "%s",
                  pp_last_error());
    /* a seed above 2^63 - 1 is written as a string of digits, and read back */
    const char *big =
        "{\"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 1, "
        "\"test_accuracy\": [0.5], \"seed\": \"18446744073709551615\"}";
    ck_assert_msg(run_json_parse(big, strlen(big), "big.json", &d) == PP_OK, "%s", pp_last_error());
    ck_assert(d.has_seed && d.seed == 18446744073709551615ull);
    run_json_free(&d);
    const char *huge =
        "{\"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"bp\", \"epochs\": 1, "
        "\"test_accuracy\": [0.5], \"seed\": \"18446744073709551616\"}";
    ck_assert_int_eq(run_json_parse(huge, strlen(huge), "huge.json", &d), PP_ERR_FORMAT);
    ck_assert_msg(strstr(pp_last_error(), "\"seed\" must be a whole number below 2^64"), "%s",
                  pp_last_error());
}
END_TEST

/* Every prefix and many byte changes of a valid document: errors or
 * success, never a crash (this suite also runs under ASan). */
START_TEST(reader_survives_truncation_and_mutation) {
    size_t n = strlen(valid_doc);
    char *copy = malloc(n + 1);
    run_data d;
    for (size_t cut = 0; cut < n; cut++) {
        memcpy(copy, valid_doc, cut);
        ck_assert_int_ne(run_json_parse(copy, cut, "cut.json", &d), PP_OK);
    }
    unsigned state = 12345;
    static const char bytes[] = "{}[],:\"\\0123456789.eE+-nultrfase \x80\xff\n";
    for (int round = 0; round < 20000; round++) {
        memcpy(copy, valid_doc, n);
        for (int k = 0; k < 1 + round % 3; k++) {
            state = state * 1103515245u + 12345u;
            size_t at = (state >> 8) % n;
            state = state * 1103515245u + 12345u;
            copy[at] = bytes[(state >> 8) % (sizeof bytes - 1)];
        }
        if (run_json_parse(copy, n, "mutated.json", &d) == PP_OK) run_json_free(&d);
    }
    free(copy);
}
END_TEST

/* Runs of the follow-up's variants, of other layers or of a learning rate
 * other than the presets' are groups of their own; the presets' layers and
 * rates are not named. */
START_TEST(labels_name_variants_and_non_preset_layers) {
    static const struct {
        const char *config, *lr, *label;
    } cases[] = {
        {"{\"arch\": \"fc1024\"}", "", "PEPITA FC MNIST"},
        {"{\"arch\": \"fc1024,fc1024\"}", "", "PEPITA FC MNIST fc1024,fc1024"},
        {"{\"arch\": \"fc1024,fc1024\", \"variant\": \"wm+norm\"}", "",
         "PEPITA FC MNIST fc1024,fc1024 +wm+norm"},
        {"{\"modulation\": \"zero\", \"variant\": \"time-local\"}", "",
         "PEPITA FC MNIST F=0 +time-local"},
        {"{}", ", \"lr\": [0.1]", "PEPITA FC MNIST"},
        {"{}", ", \"lr\": [0.02]", "PEPITA FC MNIST lr 0.02"},
        {"{\"variant\": \"norm\"}", ", \"lr\": [3]", "PEPITA FC MNIST +norm"},
        {"{\"variant\": \"norm\"}", ", \"lr\": [0.1]", "PEPITA FC MNIST +norm lr 0.1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512], label[320];
        snprintf(text, sizeof text,
                 "{\"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"pepita\", \"epochs\": 1, "
                 "\"test_accuracy\": [0.5]%s, \"config\": %s}",
                 cases[i].lr, cases[i].config);
        run_data d;
        ck_assert_msg(run_json_parse(text, strlen(text), "v.json", &d) == PP_OK, "%s",
                      pp_last_error());
        run_json_label(&d, label, sizeof label);
        ck_assert_str_eq(label, cases[i].label);
        run_json_free(&d);
    }
    const char *bad =
        "{\"dataset\": \"mnist\", \"model\": \"fc\", \"rule\": \"pepita\", \"epochs\": 1, "
        "\"test_accuracy\": [0.5], \"config\": {\"variant\": \"wm norm\"}}";
    run_data d;
    ck_assert_int_eq(run_json_parse(bad, strlen(bad), "bad.json", &d), PP_ERR_FORMAT);
    ck_assert_msg(strstr(pp_last_error(), "\"variant\" must hold only a-z, 0-9 and '-+'"), "%s",
                  pp_last_error());
}
END_TEST

START_TEST(cli_names_a_malformed_or_missing_run_file) {
    if (!ts_cli_path()) {
        ts_skip("cli_names_a_malformed_or_missing_run_file", "no pepita binary");
        return;
    }
    char *dir = ts_make_temp_dir("badrun");
    const char *broken = "{\"dataset\": \"mnist\", \"epochs\": [}";
    char *path = ts_write_file(dir, "broken.json", broken, strlen(broken));
    char missing[4200], out[4200];
    snprintf(missing, sizeof missing, "%s/missing.json", dir);
    snprintf(out, sizeof out, "%s/fig.png", dir);
    char where[64];
    snprintf(where, sizeof where, ":1:%d: unexpected token near '}'",
             (int)(strchr(broken, '}') - broken) + 1);
    static const char *const commands[] = {"slowness", "summary", "plot"};
    for (int c = 0; c < 3; c++) {
        for (int k = 0; k < 2; k++) {
            const char *file = k ? missing : path;
            const char *args[] = {commands[c], file, c == 2 ? "-o" : NULL, out, NULL};
            ts_cli_result r;
            run_cli(args, NULL, &r);
            ck_assert_msg(r.exit_code == 2, "%s: exit %d", commands[c], r.exit_code);
            ck_assert_msg(!strncmp(r.err, "error: ", 7) && strstr(r.err, file) &&
                              strstr(r.err, k ? "No such file" : where),
                          "%s: %s", commands[c], r.err);
        }
    }
    ck_assert_int_ne(access(out, F_OK), 0);
    free(path);
    ts_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(summary_tables_mean_and_std_per_group) {
    if (!ts_cli_path()) {
        ts_skip("summary_tables_mean_and_std_per_group", "no pepita binary");
        return;
    }
    char *dir = ts_make_temp_dir("summary");
    /* final accuracies 0.9 * 10 / (s + 10) for s = 0, 1, 2: PEPITA FC MNIST; and a BP run */
    char *paths[4];
    double finals[3];
    for (int k = 0; k < 3; k++) {
        fake_run f = {"mnist", "pepita", NULL, 10, 10, 0.9, k, 0, 0, 0, (unsigned long long)k + 1};
        char name[32];
        snprintf(name, sizeof name, "p%d.json", k);
        paths[k] = write_run(dir, name, &f);
        finals[k] = 0.9 * 10 / (k + 10.0);
    }
    fake_run control = {"cifar10", "pepita", "zero", 10, 5, 0.4, 1, 0, 0, 0, 9};
    paths[3] = write_run(dir, "f0.json", &control);
    char md[4200], js[4200];
    snprintf(md, sizeof md, "%s/table.md", dir);
    snprintf(js, sizeof js, "%s/table.json", dir);
    ts_cli_result r;
    run_cli((const char *[]){"summary", paths[0], paths[3], paths[1], paths[2], "-o", md, "--json",
                             js, "--note", "Note here.", NULL},
            NULL, &r);
    ck_assert_msg(r.exit_code == 0, "%s", r.err);
    char want[256], *text = ts_read_file(md, NULL);
    ck_assert_msg(text, "cannot read %s", md);
    double mean = (finals[0] + finals[1] + finals[2]) / 3, q = 0;
    for (int k = 0; k < 3; k++)
        q += (finals[k] - mean) * (finals[k] - mean);
    snprintf(want, sizeof want, "| PEPITA FC MNIST | 3 | 1, 2, 3 | 10/10 | %.2f ± %.2f |",
             100 * mean, 100 * sqrt(q / 2));
    ck_assert_msg(strstr(text, want), "no '%s' in:\n%s", want, text);
    ck_assert_msg(
        strstr(text, "| PEPITA FC CIFAR-10 F=0 | 1 | 9 | 5/5 |") && strstr(text, "| 44.60 |") &&
            strstr(text, "| 98.01 |") &&
            strstr(text, "Device: test \"device\" \xc3\xa9. Source: v0.1-2-gabc. Note here."),
        "%s", text);
    free(text);
    text = ts_read_file(js, NULL);
    ck_assert_msg(text, "cannot read %s", js);
    ck_assert_msg(strstr(text, "\"label\": \"PEPITA FC CIFAR-10 F=0\"") &&
                      strstr(text, "\"modulation\": \"zero\"") &&
                      strstr(text, "\"source_commits\": \"v0.1-2-gabc\""),
                  "%s", text);
    free(text);
    for (int k = 0; k < 4; k++)
        free(paths[k]);
    ts_remove_tree(dir);
    free(dir);
}
END_TEST

/* A weight-mirroring run on another schedule than the wm preset's is its own
 * cell, named by its schedule; one on the preset's is plain "+wm". */
START_TEST(summary_names_a_mirroring_schedule_other_than_the_presets) {
    if (!ts_cli_path()) {
        ts_skip("summary_names_a_mirroring_schedule_other_than_the_presets", "no pepita binary");
        return;
    }
    char *dir = ts_make_temp_dir("schedule");
    const char *preset = ", \"variant\": \"wm\", \"mirror\": true, \"pre_mirror\": 2, "
                         "\"mirror_every\": 0";
    const char *every = ", \"variant\": \"wm\", \"mirror\": true, \"pre_mirror\": 0, "
                        "\"mirror_every\": 1";
    fake_run a = {"cifar10", "pepita", NULL, 10, 5, 0.5, 1, 0, 0, 0, 1};
    fake_run b = {"cifar10", "pepita", NULL, 10, 5, 0.45, 1, 0, 0, 0, 1};
    char *pa = write_run_with(dir, "preset.json", &a, preset),
         *pb = write_run_with(dir, "every.json", &b, every);
    ts_cli_result r;
    run_cli((const char *[]){"summary", pa, pb, NULL}, NULL, &r);
    ck_assert_msg(r.exit_code == 0, "%s", r.err);
    ck_assert_msg(strstr(r.out, "| PEPITA FC CIFAR-10 +wm | 1 | 1 | 5/5 |") &&
                      strstr(r.out,
                             "| PEPITA FC CIFAR-10 +wm pre-mirror 0 mirror-every 1 | 1 | 1 | "
                             "5/5 |"),
                  "%s", r.out);
    free(pa);
    free(pb);
    ts_remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- Plots ---------------------------------------------------------------- */

static void assert_png(const char *path) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s was not written", path);
    unsigned char magic[8] = {0};
    size_t n = fread(magic, 1, 8, f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    ck_assert_msg(n == 8 && !memcmp(magic, "\x89PNG\r\n\x1a\n", 8), "%s is not a PNG", path);
    ck_assert_msg(size > 2000, "%s has only %ld bytes", path, size);
}

/* Nothing but the expected files: no temporary PNG left behind. */
static void assert_no_temporaries(const char *dir) {
    char command[4300], listing[4096];
    snprintf(command, sizeof command, "ls -a '%s'", dir);
    FILE *p = popen(command, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(listing, 1, sizeof listing - 1, p);
    listing[n] = '\0';
    pclose(p);
    ck_assert_msg(!strstr(listing, ".tmp."), "a temporary is left: %s", listing);
}

START_TEST(plot_draws_every_kind) {
    if (!ts_cli_path()) {
        ts_skip("plot_draws_every_kind", "no pepita binary");
        return;
    }
    if (!have_gnuplot()) {
        ts_skip("plot_draws_every_kind", "gnuplot not installed (Debian: gnuplot-nox)");
        return;
    }
    char *dir = ts_make_temp_dir("plot");
    fake_run a = {"mnist", "pepita", NULL, 10, 12, 0.98, 0.6, 0.002, 0, 1, 1};
    fake_run b = a;
    b.seed = 2;
    fake_run c = {"mnist", "bp", NULL, 10, 12, 0.985, 0.3, 0.001, 0, 0, 1};
    char *ra = write_run(dir, "a.json", &a), *rb = write_run(dir, "b.json", &b),
         *rc = write_run(dir, "c.json", &c);
    static const char *const kinds[] = {"curves", "angle", "norms", "histograms"};
    for (int k = 0; k < 4; k++) {
        char out[4200];
        snprintf(out, sizeof out, "%s/%s.png", dir, kinds[k]);
        ts_cli_result r;
        run_cli((const char *[]){"plot", ra, rb, rc, "--kind", kinds[k], "-o", out, NULL}, NULL,
                &r);
        ck_assert_msg(r.exit_code == 0, "%s: exit %d: %s", kinds[k], r.exit_code, r.err);
        assert_png(out);
    }
    char out[4200];
    snprintf(out, sizeof out, "%s/loss.png", dir);
    ts_cli_result r;
    run_cli((const char *[]){"plot", ra, rc, "--metric", "train-loss", "--paper", "--title",
                             "It's a title", "--size", "640x400", "-o", out, NULL},
            NULL, &r);
    ck_assert_msg(r.exit_code == 0, "%s", r.err);
    assert_png(out);
    /* the angle of a run without one is a clear error */
    run_cli((const char *[]){"plot", rc, "--kind", "angle", "-o", out, NULL}, NULL, &r);
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_msg(strstr(r.err, "no run has an angle"), "%s", r.err);
    run_cli((const char *[]){"plot", ra, "--kind", "pie", "-o", out, NULL}, NULL, &r);
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_msg(strstr(r.err, "--kind: unknown value 'pie'"), "%s", r.err);
    assert_no_temporaries(dir);
    free(ra);
    free(rb);
    free(rc);
    ts_remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(plot_without_gnuplot_names_the_package) {
    if (!ts_cli_path()) {
        ts_skip("plot_without_gnuplot_names_the_package", "no pepita binary");
        return;
    }
    char *dir = ts_make_temp_dir("plot");
    fake_run a = {"mnist", "pepita", NULL, 10, 5, 0.98, 0.6, 0, 0, 0, 1};
    char *ra = write_run(dir, "a.json", &a);
    char out[4200];
    snprintf(out, sizeof out, "%s/fig.png", dir);
    ts_cli_result r;
    run_cli((const char *[]){"plot", ra, "-o", out, NULL}, "/nonexistent/gnuplot", &r);
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_msg(strstr(r.err, "gnuplot not found") && strstr(r.err, "gnuplot-nox"), "%s", r.err);
    ck_assert_int_ne(access(out, F_OK), 0);
    /* a gnuplot that fails: its exit code, and no figure */
    run_cli((const char *[]){"plot", ra, "-o", out, NULL}, "/bin/false", &r);
    ck_assert_int_ne(r.exit_code, 0);
    ck_assert_msg(strstr(r.err, "gnuplot (/bin/false) failed with exit code 1"), "%s", r.err);
    ck_assert_int_ne(access(out, F_OK), 0);
    assert_no_temporaries(dir);
    free(ra);
    ts_remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- The angle and norms against the host --------------------------------- */

enum { N_TRAIN = 160, N_TEST = 40 };

/* Norms of the trainer's current weights and (with_f: PEPITA's F) the
 * angle between W_L...W_1 and F^T, in double on the host. */
static double host_angle(pp_trainer *t, double *norms, int with_f) {
    network *net = t->net;
    int layers = net->n_layers;
    size_t c = net->classes, d = net->input_size;
    float *w[8];
    size_t n[8];
    for (int l = 0; l < layers; l++) {
        ck_assert_int_eq(pp_trainer_read_weights(t, l, &w[l], &n[l]), PP_OK);
        double sq = 0;
        for (size_t i = 0; i < n[l]; i++)
            sq += (double)w[l][i] * w[l][i];
        norms[l] = sqrt(sq);
    }
    if (!with_f) {
        for (int l = 0; l < layers; l++)
            free(w[l]);
        return NAN;
    }
    /* P = W_L ... W_1 (c x d); W_l is out x in, row-major */
    const net_layer *last = &net->layers[layers - 1];
    size_t cols = last->in;
    double *p = malloc(c * cols * sizeof *p);
    for (size_t i = 0; i < c * cols; i++)
        p[i] = w[layers - 1][i];
    for (int l = layers - 2; l >= 0; l--) {
        const net_layer *L = &net->layers[l];
        ck_assert_uint_eq(L->out, cols);
        double *next = calloc(c * L->in, sizeof *next);
        for (size_t i = 0; i < c; i++)
            for (size_t k = 0; k < L->out; k++)
                for (size_t j = 0; j < L->in; j++)
                    next[i * L->in + j] += p[i * cols + k] * w[l][k * L->in + j];
        free(p);
        p = next;
        cols = L->in;
    }
    ck_assert_uint_eq(cols, d);
    float *f = malloc(d * c * sizeof *f); /* F: d x c */
    ck_assert_int_eq(rt_buf_read(t->ctx, &t->rule->fixed.buf[0], 0, d * c * sizeof *f, f), PP_OK);
    double dot = 0, pp = 0, ff = 0;
    for (size_t i = 0; i < c; i++)
        for (size_t j = 0; j < d; j++) {
            dot += p[i * d + j] * f[j * c + i];
            pp += p[i * d + j] * p[i * d + j];
            ff += (double)f[j * c + i] * f[j * c + i];
        }
    free(p);
    free(f);
    for (int l = 0; l < layers; l++)
        free(w[l]);
    return acos(dot / sqrt(pp * ff)) * 180 / 3.14159265358979323846;
}

START_TEST(analysis_angle_and_norms_match_the_host) {
    pp_context *context = NULL;
    ck_assert_int_eq(pp_context_create(NULL, &context), PP_OK);
    pp_dataset train = {0}, test = {0};
    ts_quadrant_split(&train, N_TRAIN, 1);
    ts_quadrant_split(&test, N_TEST, 2);
    static const pp_rule_kind rules[] = {PP_RULE_PEPITA, PP_RULE_BP};
    for (int depth = 1; depth <= 2; depth++)
        for (int k = 0; k < 2; k++) {
            pp_config c;
            ck_assert_int_eq(pp_config_preset(&c, PP_DATASET_MNIST, PP_MODEL_FC, rules[k]), PP_OK);
            c.hidden[0] = 24;
            c.hidden[1] = 12;
            c.n_hidden = depth;
            c.batch = 32;
            c.epochs = 3;
            c.lr = 0.05f;
            c.seed = 7;
            c.analysis = 1;
            pp_trainer *t = NULL;
            pp_status st = pp_trainer_create(context, &c, &train, &test, &t);
            ck_assert_msg(st == PP_OK, "%s", pp_last_error());
            double prev_angle = NAN;
            for (int e = 0; e < 3; e++) {
                pp_epoch_stats s;
                ck_assert_int_eq(pp_trainer_run_epoch(t, NULL, NULL, &s), PP_OK);
                double norms[8];
                double angle = host_angle(t, norms, rules[k] == PP_RULE_PEPITA);
                ck_assert_int_eq(s.n_norms, depth + 1);
                for (int l = 0; l <= depth; l++)
                    ck_assert_msg(fabs(s.weight_norms[l] - norms[l]) <= 1e-5 * norms[l],
                                  "layer %d norm %.8g, host %.8g", l + 1, s.weight_norms[l],
                                  norms[l]);
                if (rules[k] == PP_RULE_PEPITA) {
                    ck_assert_msg(fabs(s.angle_degrees - angle) < 0.01,
                                  "depth %d epoch %d: angle %.6f, host %.6f", depth, e + 1,
                                  s.angle_degrees, angle);
                    ck_assert(s.angle_degrees > 0 && s.angle_degrees < 180);
                    ck_assert(s.angle_degrees != prev_angle);
                    prev_angle = s.angle_degrees;
                } else {
                    ck_assert_msg(isnan(s.angle_degrees), "BP has no F, yet angle %g",
                                  s.angle_degrees);
                }
            }
            pp_trainer_destroy(t);
        }
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    pp_context_destroy(context);
}
END_TEST

/* ---- A short CLI run: histograms, and a report that survives --resume ------ */

/* A learnable MNIST-format split: class k lights rows 2k+4 and 2k+5. */
static void write_idx_split(const char *dir, const char *prefix, uint32_t n) {
    size_t size = 16 + (size_t)n * 784;
    uint8_t *img = calloc(size, 1), *lab = malloc(8 + (size_t)n);
    ts_put_be32(img, 0x803), ts_put_be32(img + 4, n);
    ts_put_be32(img + 8, 28), ts_put_be32(img + 12, 28);
    ts_put_be32(lab, 0x801), ts_put_be32(lab + 4, n);
    for (uint32_t i = 0; i < n; i++) {
        int label = (int)(i * 7 % 10);
        lab[8 + i] = (uint8_t)label;
        for (int x = 0; x < 28; x++) {
            img[16 + (size_t)i * 784 + (size_t)(2 * label + 4) * 28 + (size_t)x] = 220;
            img[16 + (size_t)i * 784 + (size_t)(2 * label + 5) * 28 + (size_t)x] =
                (uint8_t)((i * 31 + (uint32_t)x * 17) % 200);
        }
    }
    char name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    free(ts_write_file(dir, name, img, size));
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    free(ts_write_file(dir, name, lab, 8 + (size_t)n));
    free(img);
    free(lab);
}

START_TEST(cli_run_writes_histograms_and_resume_keeps_the_report) {
    if (!ts_cli_path()) {
        ts_skip("cli_run_writes_histograms", "no pepita binary");
        return;
    }
    char *dir = ts_make_temp_dir("analysis-run");
    write_idx_split(dir, "train", 256);
    write_idx_split(dir, "t10k", 64);
    char json[4200], csv[4200], ckpt[4200], straight[4200];
    snprintf(json, sizeof json, "%s/run.json", dir);
    snprintf(csv, sizeof csv, "%s/run.csv", dir);
    snprintf(ckpt, sizeof ckpt, "%s/run.ckpt", dir);
    snprintf(straight, sizeof straight, "%s/straight.json", dir);
#define TRAIN_ARGS                                                                                 \
    "train", "--dataset", "mnist", "--data", dir, "--hidden", "16", "--batch", "32", "--lr",       \
        "0.05", "--quiet", "--analysis"
    ts_cli_result r;
    run_cli((const char *[]){TRAIN_ARGS, "--epochs", "3", "--json", straight, NULL}, NULL, &r);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    run_cli((const char *[]){TRAIN_ARGS, "--epochs", "1", "--json", json, "--log", csv, "--save",
                             ckpt, NULL},
            NULL, &r);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    run_data one;
    ck_assert_msg(run_json_load(json, &one) == PP_OK, "%s", pp_last_error());
    ck_assert_uint_eq(one.epochs, 1);
    ck_assert_int_eq(one.n_layers, 2);
    ck_assert(one.has_angle);
    ck_assert(isfinite(one.initial_norms[0]) && isfinite(one.initial_norms[1]));
    ck_assert_int_eq(one.n_histograms, 2);
    ck_assert_int_eq(one.histogram_epoch, 1);
    ck_assert(one.histograms[0].weights == 784 * 16 && one.histograms[1].weights == 16 * 10);
    for (int l = 0; l < 2; l++) {
        const run_histogram *h = &one.histograms[l];
        ck_assert_int_eq(h->bins, 60);
        ck_assert(fabs(h->edges[0] - (h->mean - 4 * h->std)) < 1e-6 * (1 + h->std));
        ck_assert(fabs(h->edges[60] - (h->mean + 4 * h->std)) < 1e-6 * (1 + h->std));
    }
    /* resume to epoch 3: the report lists all three epochs */
    run_cli((const char *[]){TRAIN_ARGS, "--epochs", "3", "--json", json, "--log", csv, "--save",
                             ckpt, "--resume", ckpt, NULL},
            NULL, &r);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    ck_assert_msg(!strstr(r.err, "warning"), "%s", r.err);
    run_data all, ref;
    ck_assert_msg(run_json_load(json, &all) == PP_OK, "%s", pp_last_error());
    ck_assert_msg(run_json_load(straight, &ref) == PP_OK, "%s", pp_last_error());
    ck_assert_uint_eq(all.epochs, 3);
    ck_assert(all.test_accuracy[0] == one.test_accuracy[0]);
    ck_assert(all.seconds[0] == one.seconds[0]);
    ck_assert(all.initial_norms[0] == one.initial_norms[0]);
    ck_assert_int_eq(all.histogram_epoch, 3);
    /* and it is the same run as one made in one go */
    for (size_t e = 0; e < 3; e++) {
        ck_assert_msg(fabs(all.test_accuracy[e] - ref.test_accuracy[e]) < 1e-9,
                      "epoch %zu: %g vs %g", e + 1, all.test_accuracy[e], ref.test_accuracy[e]);
        ck_assert(fabs(all.angle[e] - ref.angle[e]) < 1e-3);
    }
    char *text = ts_read_file(csv, NULL);
    ck_assert_msg(text, "cannot read %s", csv);
    ck_assert_msg(strstr(text, "\n1,") && strstr(text, "\n2,") && strstr(text, "\n3,"), "%s", text);
    free(text);
    /* a report of another run is not continued, with a warning */
    char other[4200];
    snprintf(other, sizeof other, "%s/other.json", dir);
    fake_run bp = {"mnist", "bp", NULL, 10, 5, 0.9, 1, 0, 0, 0, 1};
    free(write_run(dir, "other.json", &bp));
    run_cli((const char *[]){TRAIN_ARGS, "--epochs", "4", "--json", other, "--resume", ckpt, NULL},
            NULL, &r);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err);
    ck_assert_msg(strstr(r.err, "warning: not continuing the report") &&
                      strstr(r.err, "bp fc mnist"),
                  "%s", r.err);
    run_data restarted;
    ck_assert_msg(run_json_load(other, &restarted) == PP_OK, "%s", pp_last_error());
    ck_assert_uint_eq(restarted.epochs, 1); /* epoch 4 only */
    run_json_free(&restarted);
    run_json_free(&one);
    run_json_free(&all);
    run_json_free(&ref);
    ts_remove_tree(dir);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("analysis");
    TCase *reader = tcase_create("reader");
    tcase_add_test(reader, reader_accepts_a_valid_document);
    tcase_add_test(reader, reader_refuses_malformed_documents_naming_the_file);
    tcase_add_test(reader, reader_survives_truncation_and_mutation);
    suite_add_tcase(s, reader);
    TCase *tools = tcase_create("tools");
    tcase_set_timeout(tools, 300);
    tcase_add_test(tools, slowness_fit_recovers_known_parameters);
    tcase_add_test(tools, slowness_fits_only_the_first_epochs_and_tolerates_noise);
    tcase_add_test(tools, cli_names_a_malformed_or_missing_run_file);
    tcase_add_test(tools, summary_tables_mean_and_std_per_group);
    tcase_add_test(tools, summary_names_a_mirroring_schedule_other_than_the_presets);
    tcase_add_test(tools, labels_name_variants_and_non_preset_layers);
    tcase_add_test(tools, plot_draws_every_kind);
    tcase_add_test(tools, plot_without_gnuplot_names_the_package);
    suite_add_tcase(s, tools);
    TCase *training = tcase_create("training");
    tcase_set_timeout(training, 600);
    tcase_add_test(training, analysis_angle_and_norms_match_the_host);
    tcase_add_test(training, cli_run_writes_histograms_and_resume_keeps_the_report);
    suite_add_tcase(s, training);
    return ts_run_suite(s);
}
