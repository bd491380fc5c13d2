/* pepita slowness: the paper's convergence speed (Appendix C). Fits
 * acc(e) = max_acc * e / (slowness + e) by least squares to the first 60
 * epochs of a run's test accuracy, with a chance-level point (1/classes) at
 * epoch 0. For a fixed slowness the best max_acc is linear (closed form), so
 * the fit is a 1-D search over slowness: a log grid, then golden section. */
#include "cli/cli.h"
#include "cli/options.h"
#include "cli/run_json.h"
#include "runtime/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOWNESS_MIN 1e-4
#define SLOWNESS_MAX 1e4
enum { GRID = 1600 };

typedef struct curve {
    const double *y; /* y[0] is the chance point at epoch 0, y[e] epoch e's accuracy */
    int n;           /* points: epochs 0..n-1 */
} curve;

/* The best max_acc for slowness s, and the sum of squared residuals. */
static double residual(const curve *c, double s, double *max_acc) {
    double gy = 0, gg = 0, yy = 0;
    for (int e = 0; e < c->n; e++) {
        double g = e ? e / (s + e) : 0.0; /* the model is 0 at epoch 0 for every s */
        gy += g * c->y[e];
        gg += g * g;
        yy += c->y[e] * c->y[e];
    }
    double a = gg > 0 ? gy / gg : 0;
    if (max_acc) *max_acc = a;
    double r = yy - a * gy; /* sum (y - a g)^2 at the optimal a */
    return r > 0 ? r : 0;
}

static double grid_point(int k) {
    return k == 0 ? 0.0
                  : SLOWNESS_MIN * pow(SLOWNESS_MAX / SLOWNESS_MIN, (double)(k - 1) / (GRID - 1));
}

pp_status cli_fit_slowness(const double *accuracy, size_t epochs, int classes, int max_epochs,
                           cli_slowness_fit *fit) {
    memset(fit, 0, sizeof *fit);
    size_t m = epochs < (size_t)max_epochs ? epochs : (size_t)max_epochs;
    if (m < 2)
        return pp_fail(PP_ERR_ARGUMENT, "the slowness fit needs at least 2 epochs, the run has %zu",
                       epochs);
    if (classes < 2) return pp_fail(PP_ERR_ARGUMENT, "%d classes", classes);
    double *y = malloc((m + 1) * sizeof *y);
    if (!y) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
    y[0] = 1.0 / classes;
    for (size_t e = 1; e <= m; e++) {
        if (!isfinite(accuracy[e - 1])) {
            free(y);
            return pp_fail(PP_ERR_ARGUMENT, "epoch %zu has no test accuracy", e);
        }
        y[e] = accuracy[e - 1];
    }
    curve c = {y, (int)m + 1};
    int best = 0;
    double best_r = INFINITY;
    for (int k = 0; k <= GRID; k++) {
        double r = residual(&c, grid_point(k), NULL);
        if (r < best_r) {
            best_r = r;
            best = k;
        }
    }
    /* golden section between the grid neighbours of the best point */
    double lo = grid_point(best > 0 ? best - 1 : 0), hi = grid_point(best < GRID ? best + 1 : GRID);
    const double phi = 0.6180339887498949;
    double x1 = hi - phi * (hi - lo), x2 = lo + phi * (hi - lo);
    double r1 = residual(&c, x1, NULL), r2 = residual(&c, x2, NULL);
    for (int i = 0; i < 200 && hi - lo > 1e-13 * (1 + hi); i++) {
        if (r1 < r2) {
            hi = x2;
            x2 = x1;
            r2 = r1;
            x1 = hi - phi * (hi - lo);
            r1 = residual(&c, x1, NULL);
        } else {
            lo = x1;
            x1 = x2;
            r1 = r2;
            x2 = lo + phi * (hi - lo);
            r2 = residual(&c, x2, NULL);
        }
    }
    double s = 0.5 * (lo + hi);
    if (residual(&c, s, NULL) > best_r) s = grid_point(best);
    fit->slowness = s;
    residual(&c, s, &fit->max_accuracy);
    double sq = 0;
    for (int e = 1; e < c.n; e++) {
        double d = y[e] - fit->max_accuracy * e / (s + e);
        sq += d * d;
    }
    fit->rms = sqrt(sq / (c.n - 1));
    fit->epochs = (int)m;
    fit->at_bound = best == GRID;
    free(y);
    return PP_OK;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: pepita slowness RUN.json... [--epochs N]\n"
            "\n"
            "Fits acc = max_acc * epochs / (slowness + epochs) by least squares to the first N\n"
            "(default 60) epochs of each run's test accuracy, with chance level (1/classes) as\n"
            "a point at epoch 0, as in the paper's Appendix C. Prints slowness (in epochs: the\n"
            "epoch at which half of max_acc is reached), max_acc, and the RMS of the residuals\n"
            "over the epochs. Several runs of one dataset, model and rule also give the mean\n"
            "and standard deviation. RUN.json files come from `pepita train --json`.\n");
}

/* Mean and sample standard deviation (0 for one value). */
static void mean_std(const double *v, int n, double *mean, double *std) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++)
        q += (v[i] - *mean) * (v[i] - *mean);
    *std = n > 1 ? sqrt(q / (n - 1)) : 0;
}

int cli_slowness(int argc, char **argv) {
    int max_epochs = 60;
    const char **files = calloc((size_t)argc, sizeof *files);
    if (!files) return cli_report(pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory"));
    int n = 0;
    enum { OPT_EPOCHS = 256 };
    static const struct option longs[] = {{"help", no_argument, NULL, 'h'},
                                          {"epochs", required_argument, NULL, OPT_EPOCHS},
                                          {NULL, 0, NULL, 0}};
    cli_options walk;
    cli_options_start(&walk, argc, argv, "h", longs, 1);
    for (int c; (c = cli_options_next(&walk)) != CLI_OPTION_END;) {
        if (c == 'h') {
            usage(stdout);
            free(files);
            return 0;
        }
        if (c == OPT_EPOCHS || (c == CLI_OPTION_MISSING_VALUE && !strcmp(walk.word, "--epochs"))) {
            pp_status st = walk.value
                               ? cli_parse_int("--epochs", walk.value, 2, 100000, &max_epochs)
                               : pp_fail(PP_ERR_ARGUMENT, "--epochs needs a value");
            if (st != PP_OK) {
                free(files);
                return cli_report(st);
            }
        } else if (c == CLI_OPTION_POSITIONAL) {
            files[n++] = walk.value;
        } else {
            free(files);
            return cli_report(
                pp_fail(PP_ERR_ARGUMENT, "pepita slowness: unknown option '%s'", walk.word));
        }
    }
    if (!n) {
        free(files);
        usage(stderr);
        return 2;
    }
    run_data *runs = NULL;
    cli_slowness_fit *fits = calloc((size_t)n, sizeof *fits);
    double *values = calloc(2 * (size_t)n, sizeof *values);
    pp_status st = fits && values ? PP_OK : pp_fail(PP_ERR_OUT_OF_MEMORY, "out of memory");
    if (st == PP_OK) st = run_json_load_all(files, n, &runs);
    for (int i = 0; st == PP_OK && i < n; i++) {
        st = cli_fit_slowness(runs[i].test_accuracy, runs[i].epochs, runs[i].classes, max_epochs,
                              &fits[i]);
        if (st != PP_OK) st = pp_fail_context(st, "%s", files[i]);
    }
    if (st == PP_OK) {
        for (int i = 0; i < n; i++) {
            char label[320];
            run_json_label(&runs[i], label, sizeof label);
            printf("%s  %s seed %llu  slowness %.6g  max_acc %.6g  rms %.6g  (epochs 1-%d, "
                   "chance %.4g at epoch 0)%s\n",
                   files[i], label, runs[i].seed, fits[i].slowness, fits[i].max_accuracy,
                   fits[i].rms, fits[i].epochs, 1.0 / runs[i].classes,
                   fits[i].at_bound ? "  [slowness at the search's bound: the curve has not bent "
                                      "yet, the fit is unreliable]"
                                    : "");
        }
        /* the mean of each group of two or more runs */
        int *done = calloc((size_t)n, sizeof *done);
        for (int i = 0; done && i < n; i++) {
            if (done[i]) continue;
            char label[320], other[320];
            run_json_label(&runs[i], label, sizeof label);
            int k = 0;
            for (int j = i; j < n; j++) {
                run_json_label(&runs[j], other, sizeof other);
                if (done[j] || strcmp(label, other)) continue;
                done[j] = 1;
                values[k] = fits[j].slowness;
                values[n + k] = fits[j].max_accuracy;
                k++;
            }
            if (k < 2) continue;
            double sm, ss, am, as;
            mean_std(values, k, &sm, &ss);
            mean_std(values + n, k, &am, &as);
            printf("%s, %d runs: slowness %.4g +- %.2g  max_acc %.4g +- %.2g (mean +- sample "
                   "std)\n",
                   label, k, sm, ss, am, as);
        }
        free(done);
    }
    run_json_free_all(runs, n);
    free(fits);
    free(values);
    free(files);
    return st == PP_OK ? 0 : cli_report(st);
}
