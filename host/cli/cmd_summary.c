/* pepita summary: runs grouped by dataset, model, rule and modulation, as a
 * Markdown table (and JSON) of the final test accuracy's mean and standard
 * deviation over seeds, beside the paper's Table 1. */
#include "cli/cli.h"
#include "util/json_out.h"
#include "cli/options.h"
#include "cli/run_json.h"
#include "runtime/error.h"
#include "util/atomic_file.h"
#include "util/text_buffer.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The paper's Table 1 (mean of 10 runs, %), and the F = 0 control's plateau (section 4.4). */
double cli_paper_accuracy(const run_data *r) {
    static const struct {
        const char *rule, *model, *dataset, *modulation;
        double accuracy;
    } table[] = {
        {"bp", "fc", "mnist", "error", 98.63},
        {"bp", "fc", "cifar10", "error", 55.27},
        {"bp", "fc", "cifar100", "error", 27.58},
        {"bp", "conv", "mnist", "error", 98.86},
        {"bp", "conv", "cifar10", "error", 64.99},
        {"bp", "conv", "cifar100", "error", 34.20},
        {"fa", "fc", "mnist", "error", 98.42},
        {"fa", "fc", "cifar10", "error", 53.82},
        {"fa", "fc", "cifar100", "error", 24.61},
        {"fa", "conv", "mnist", "error", 98.50},
        {"fa", "conv", "cifar10", "error", 57.51},
        {"fa", "conv", "cifar100", "error", 27.15},
        {"drtp", "fc", "mnist", "error", 95.10},
        {"drtp", "fc", "cifar10", "error", 45.89},
        {"drtp", "fc", "cifar100", "error", 18.32},
        {"drtp", "conv", "mnist", "error", 97.32},
        {"drtp", "conv", "cifar10", "error", 50.53},
        {"drtp", "conv", "cifar100", "error", 20.14},
        {"pepita", "fc", "mnist", "error", 98.01},
        {"pepita", "fc", "cifar10", "error", 52.57},
        {"pepita", "fc", "cifar100", "error", 24.91},
        {"pepita", "conv", "mnist", "error", 98.29},
        {"pepita", "conv", "cifar10", "error", 56.33},
        {"pepita", "conv", "cifar100", "error", 27.56},
        {"pepita", "fc", "cifar10", "zero", 44.6},
    };
    if (*r->arch || *r->variant) return NAN; /* not a network or rule of Table 1 */
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(r->rule, table[i].rule) && !strcmp(r->model, table[i].model) &&
            !strcmp(r->dataset, table[i].dataset) && !strcmp(r->modulation, table[i].modulation))
            return table[i].accuracy;
    return NAN;
}

typedef struct spread {
    double mean, std;
    int n;
} spread;

/* Mean and sample standard deviation of the finite values. */
static spread summarise(const double *v, int n) {
    spread s = {0, 0, 0};
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            s.mean += v[i];
            s.n++;
        }
    if (!s.n) return (spread){NAN, NAN, 0};
    s.mean /= s.n;
    double q = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) q += (v[i] - s.mean) * (v[i] - s.mean);
    s.std = s.n > 1 ? sqrt(q / (s.n - 1)) : NAN;
    return s;
}

static void md_stat(text_buffer *f, spread s, double scale, int digits) {
    if (!s.n)
        text_printf(f, " - |");
    else if (s.n == 1 || !isfinite(s.std))
        text_printf(f, " %.*f |", digits, s.mean * scale);
    else
        text_printf(f, " %.*f ± %.*f |", digits, s.mean * scale, digits, s.std * scale);
}

typedef struct group {
    char label[320];
    int *members; /* indices into the runs */
    int n;
} group;

static void usage(FILE *out) {
    fprintf(out,
            "usage: pepita summary RUN.json... [-o TABLE.md] [--json SUMMARY.json] "
            "[--epochs N]\n"
            "\n"
            "Groups runs by dataset, model, rule and modulation and writes a Markdown table:\n"
            "runs, seeds, epochs done, final and best test accuracy (mean ± sample standard\n"
            "deviation over the runs), the slowness fitted to the first N (default 60) epochs,\n"
            "and the paper's Table 1 value. Without -o the table goes to stdout.\n");
}

/* The distinct values of one text member of the runs (device, source_commit),
 * as "a; b"; FIELD is its offset in run_data. */
static void distinct(const run_data *runs, int n, size_t field, char *out, size_t size) {
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *v = (const char *)&runs[i] + field;
        if (!v[0]) continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(v, (const char *)&runs[j] + field);
        if (seen) continue;
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", used ? "; " : "", v);
    }
}

static pp_status write_outputs(run_data *runs, int n_runs, const char *const *files, group *groups,
                               int n_groups, int max_epochs, const char *note, const char *md_path,
                               const char *json_path) {
    text_buffer m = {0}; /* the Markdown table */
    json_builder b = {0};
    json_t *root = json_object(), *groups_json = json_array();
    jb_put(&b, root, "slowness_epochs", json_integer(max_epochs));
    text_printf(&m, "| cell | runs | seeds | epochs | final test acc. (%%) | best test acc. (%%) | "
                    "slowness (epochs) | paper (%%) |\n");
    text_printf(&m, "|---|---|---|---|---|---|---|---|\n");
    for (int g = 0; g < n_groups; g++) {
        group *gr = &groups[g];
        double *final = calloc((size_t)gr->n * 3, sizeof *final);
        if (!final) {
            text_free(&m);
            json_decref(groups_json);
            json_decref(root);
            return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
        }
        double *best = final + gr->n, *slow = best + gr->n;
        size_t min_epochs = (size_t)-1, max_done = 0;
        int planned = 0;
        for (int k = 0; k < gr->n; k++) {
            const run_data *r = &runs[gr->members[k]];
            final[k] = r->epochs ? r->test_accuracy[r->epochs - 1] : NAN;
            best[k] = NAN;
            for (size_t e = 0; e < r->epochs; e++)
                if (!isfinite(best[k]) || r->test_accuracy[e] > best[k])
                    best[k] = r->test_accuracy[e];
            cli_slowness_fit fit;
            slow[k] = cli_fit_slowness(r->test_accuracy, r->epochs, r->classes, max_epochs, &fit) ==
                                  PP_OK &&
                              !fit.at_bound
                          ? fit.slowness
                          : NAN;
            if (r->epochs < min_epochs) min_epochs = r->epochs;
            if (r->epochs > max_done) max_done = r->epochs;
            if (r->epochs_planned > planned) planned = r->epochs_planned;
        }
        spread sf = summarise(final, gr->n), sb = summarise(best, gr->n),
               ss = summarise(slow, gr->n);
        double paper = cli_paper_accuracy(&runs[gr->members[0]]);
        text_printf(&m, "| %s | %d | ", gr->label, gr->n);
        for (int k = 0; k < gr->n; k++) {
            const run_data *r = &runs[gr->members[k]];
            if (r->has_seed)
                text_printf(&m, "%s%llu", k ? ", " : "", r->seed);
            else
                text_printf(&m, "%s?", k ? ", " : "");
        }
        if (min_epochs == max_done)
            text_printf(&m, " | %zu/%d |", max_done, planned);
        else
            text_printf(&m, " | %zu-%zu/%d |", min_epochs, max_done, planned);
        md_stat(&m, sf, 100, 2);
        md_stat(&m, sb, 100, 2);
        md_stat(&m, ss, 1, 2);
        if (isfinite(paper))
            text_printf(&m, " %.2f |\n", paper);
        else
            text_printf(&m, " - |\n");

        const run_data *r0 = &runs[gr->members[0]];
        json_t *gj = json_object(), *fj = json_array(), *aj = json_array();
        jb_put(&b, gj, "label", jb_text(gr->label));
        jb_put(&b, gj, "dataset", jb_text(r0->dataset));
        jb_put(&b, gj, "model", jb_text(r0->model));
        jb_put(&b, gj, "rule", jb_text(r0->rule));
        jb_put(&b, gj, "modulation", jb_text(r0->modulation));
        jb_put(&b, gj, "runs", json_integer(gr->n));
        jb_put(&b, gj, "epochs_min", json_integer((json_int_t)min_epochs));
        jb_put(&b, gj, "epochs_max", json_integer((json_int_t)max_done));
        jb_put(&b, gj, "epochs_planned", json_integer(planned));
        jb_put(&b, gj, "final_test_accuracy_mean", jb_real(sf.mean, 6));
        jb_put(&b, gj, "final_test_accuracy_std", jb_real(sf.std, 6));
        jb_put(&b, gj, "best_test_accuracy_mean", jb_real(sb.mean, 6));
        jb_put(&b, gj, "best_test_accuracy_std", jb_real(sb.std, 6));
        jb_put(&b, gj, "slowness_mean", jb_real(ss.mean, 6));
        jb_put(&b, gj, "slowness_std", jb_real(ss.std, 6));
        jb_put(&b, gj, "paper_test_accuracy", jb_real(isfinite(paper) ? paper / 100 : NAN, 6));
        for (int k = 0; k < gr->n; k++) {
            jb_append(&b, fj, jb_text(files[gr->members[k]]));
            jb_append(&b, aj, jb_real(final[k], 6));
        }
        jb_put(&b, gj, "files", fj);
        jb_put(&b, gj, "final_test_accuracy", aj);
        jb_append(&b, groups_json, gj);
        free(final);
    }
    jb_put(&b, root, "groups", groups_json);
    char device_list[1024], commit_list[1024];
    distinct(runs, n_runs, offsetof(run_data, device), device_list, sizeof device_list);
    distinct(runs, n_runs, offsetof(run_data, source_commit), commit_list, sizeof commit_list);
    text_printf(&m,
                "\nMean ± sample standard deviation over the runs; final = the last epoch run so "
                "far; slowness fitted to epochs 1-%d (`pepita slowness`).",
                max_epochs);
    if (device_list[0]) text_printf(&m, " Device: %s.", device_list);
    if (commit_list[0]) text_printf(&m, " Source: %s.", commit_list);
    if (note) text_printf(&m, " %s", note);
    text_printf(&m, "\n");
    jb_put(&b, root, "devices", jb_text(device_list));
    jb_put(&b, root, "source_commits", jb_text(commit_list));
    jb_put(&b, root, "note", note ? jb_text(note) : json_null());
    pp_status st =
        m.failed || b.failed ? pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory") : PP_OK;
    if (st == PP_OK) {
        if (md_path)
            st = pp_write_file_atomic(md_path, m.data, m.size);
        else if (fwrite(m.data, 1, m.size, stdout) != m.size)
            st = pp_fail(PP_ERR_IO, "writing to stdout failed");
    }
    if (st == PP_OK && json_path) st = jb_write_file(json_path, root, 6);
    text_free(&m);
    json_decref(root);
    return st;
}

int cli_summary(int argc, char **argv) {
    const char *md_path = NULL, *json_path = NULL, *note = NULL;
    int max_epochs = 60, n = 0;
    const char **files = calloc((size_t)argc, sizeof *files);
    if (!files) return cli_report(pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory"));
    pp_status st = PP_OK;
    enum { OPT_JSON = 256, OPT_NOTE, OPT_EPOCHS };
    static const struct option longs[] = {{"help", no_argument, NULL, 'h'},
                                          {"json", required_argument, NULL, OPT_JSON},
                                          {"note", required_argument, NULL, OPT_NOTE},
                                          {"epochs", required_argument, NULL, OPT_EPOCHS},
                                          {NULL, 0, NULL, 0}};
    cli_options walk;
    cli_options_start(&walk, argc, argv, "ho:", longs, 1);
    for (int c; st == PP_OK && (c = cli_options_next(&walk)) != CLI_OPTION_END;) {
        const char *v = walk.value;
        if (c == 'h') {
            usage(stdout);
            free(files);
            return 0;
        } else if (c == CLI_OPTION_MISSING_VALUE) {
            st = pp_fail(PP_ERR_ARGUMENT, "%s needs a value", walk.word);
        } else if (c == 'o') {
            md_path = v;
        } else if (c == OPT_JSON) {
            json_path = v;
        } else if (c == OPT_NOTE) {
            note = v;
        } else if (c == OPT_EPOCHS) {
            st = cli_parse_int("--epochs", v, 2, 100000, &max_epochs);
        } else if (c == CLI_OPTION_POSITIONAL) {
            files[n++] = v;
        } else {
            st = pp_fail(PP_ERR_ARGUMENT, "pepita summary: unknown option '%s'", walk.word);
        }
    }
    if (st == PP_OK && !n) {
        free(files);
        usage(stderr);
        return 2;
    }
    run_data *runs = NULL;
    group *groups = calloc((size_t)(n ? n : 1), sizeof *groups);
    int *members = calloc((size_t)(n ? n : 1), sizeof *members);
    if (st == PP_OK && (!groups || !members))
        st = pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
    int n_groups = 0, used = 0;
    if (st == PP_OK) st = run_json_load_all(files, n, &runs);
    /* groups in order of first appearance; members stored contiguously */
    int *group_of = malloc((size_t)(n ? n : 1) * sizeof *group_of);
    if (st == PP_OK && !group_of) st = pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
    if (st == PP_OK) n_groups = run_json_groups(runs, n, group_of);
    for (int g = 0; st == PP_OK && g < n_groups; g++) {
        groups[g].members = members + used;
        for (int i = 0; i < n; i++)
            if (group_of[i] == g) groups[g].members[groups[g].n++] = i;
        run_json_label(&runs[groups[g].members[0]], groups[g].label, sizeof groups[g].label);
        used += groups[g].n;
    }
    free(group_of);
    if (st == PP_OK)
        st = write_outputs(runs, n, files, groups, n_groups, max_epochs, note, md_path, json_path);
    run_json_free_all(runs, n);
    free(groups);
    free(members);
    free(files);
    return st == PP_OK ? 0 : cli_report(st);
}
