/* pepita plot: PNG figures of runs with gnuplot. The data and a gnuplot
 * script go to a temporary directory; gnuplot draws into a temporary PNG
 * beside the output, which is renamed into place once complete. */
#include "cli/cli.h"
#include "cli/options.h"
#include "cli/run_json.h"
#include "runtime/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef enum plot_kind { KIND_CURVES, KIND_ANGLE, KIND_NORMS, KIND_HISTOGRAMS } plot_kind;

typedef enum metric {
    METRIC_TEST_ACCURACY,
    METRIC_TRAIN_ACCURACY,
    METRIC_TEST_LOSS,
    METRIC_TRAIN_LOSS
} metric;

typedef struct plot_options {
    const char *out;
    const char *title;
    plot_kind kind;
    metric metric;
    int width, height; /* 0: by kind */
    int paper;         /* curves: the paper's accuracy as a dashed line */
    int keep;          /* keep the data and script */
} plot_options;

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};
#define COLOR(i) palette[(i) % (int)(sizeof palette / sizeof palette[0])]

/* ---- Data ---------------------------------------------------------------- */

/* A value of run r at 0-based epoch index e (NAN where absent). */
typedef double (*series_fn)(const run_data *r, size_t e, int arg);

static double s_test_acc(const run_data *r, size_t e, int arg) {
    (void)arg;
    return 100 * r->test_accuracy[e];
}
static double s_train_acc(const run_data *r, size_t e, int arg) {
    (void)arg;
    return 100 * r->train_accuracy[e];
}
static double s_test_loss(const run_data *r, size_t e, int arg) {
    (void)arg;
    return r->test_loss[e];
}
static double s_train_loss(const run_data *r, size_t e, int arg) {
    (void)arg;
    return r->train_loss[e];
}
static double s_angle(const run_data *r, size_t e, int arg) {
    (void)arg;
    return r->angle[e];
}
static double s_norm(const run_data *r, size_t e, int layer) {
    return layer < r->n_layers ? r->norms[e * (size_t)r->n_layers + (size_t)layer] : NAN;
}

/* Epoch-0 values: the analysis before training (NAN when absent). */
typedef double (*initial_fn)(const run_data *r, int arg);
static double i_norm(const run_data *r, int layer) {
    return layer < RUN_JSON_MAX_LAYERS ? r->initial_norms[layer] : NAN;
}
static double i_angle(const run_data *r, int arg) {
    (void)arg;
    return r->initial_angle;
}

/* Run r's value at epoch e (0: before training, when initial is given). */
static double series_value(const run_data *r, size_t e, series_fn fn, initial_fn initial, int arg) {
    if (e == 0) return initial ? initial(r, arg) : NAN;
    return e <= r->epochs ? fn(r, e - 1, arg) : NAN;
}

/* Writes "epoch mean mean-std mean+std runs" for every epoch where a run of
 * group g has a value (epoch 0 from `initial`, may be NULL). Returns the
 * number of rows. */
static int write_series(FILE *f, const run_data *runs, const int *group_of, int n, int g,
                        series_fn fn, int arg, initial_fn initial) {
    size_t epochs = 0;
    for (int i = 0; i < n; i++)
        if (group_of[i] == g && runs[i].epochs > epochs) epochs = runs[i].epochs;
    int rows = 0;
    for (size_t e = 0; e <= epochs; e++) {
        double sum = 0, squares = 0;
        int count = 0;
        for (int i = 0; i < n; i++) {
            double v = group_of[i] == g ? series_value(&runs[i], e, fn, initial, arg) : NAN;
            if (!isfinite(v)) continue;
            sum += v;
            count++;
        }
        if (!count) continue;
        double mean = sum / count;
        for (int i = 0; i < n; i++) {
            double v = group_of[i] == g ? series_value(&runs[i], e, fn, initial, arg) : NAN;
            if (isfinite(v)) squares += (v - mean) * (v - mean);
        }
        double std = count > 1 ? sqrt(squares / (count - 1)) : 0;
        fprintf(f, "%zu %.9g %.9g %.9g %d\n", e, mean, mean - std, mean + std, count);
        rows++;
    }
    return rows;
}

/* ---- gnuplot text -------------------------------------------------------- */

/* A single-quoted gnuplot string ('' stands for '). */
static void quoted(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

static int has_control(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

typedef struct workspace {
    char dir[4096];
    char script[4200];
    char log[4200];
    char png[4200]; /* the temporary output beside the final one */
} workspace;

static void data_path(const workspace *w, const char *name, char *out, size_t size) {
    snprintf(out, size, "%s/%s", w->dir, name);
}

static pp_status open_data(const workspace *w, const char *name, FILE **f, char *path,
                           size_t size) {
    data_path(w, name, path, size);
    *f = fopen(path, "w");
    if (!*f) return pp_fail(PP_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    return PP_OK;
}

static pp_status close_data(FILE *f, const char *path) {
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return pp_fail(PP_ERR_IO, "%s: writing failed", path);
    return PP_OK;
}

static void header(FILE *s, const workspace *w, int width, int height) {
    fprintf(
        s, "set terminal pngcairo size %d,%d font 'Sans,11' noenhanced\nset title font 'Sans,12'\n",
        width, height);
    fprintf(s, "set encoding utf8\nset output ");
    quoted(s, w->png);
    fprintf(s, "\nset grid lc rgb '#dddddd'\nset border lc rgb '#555555'\n"
               "set key opaque box lc rgb '#bbbbbb' samplen 2.5 spacing 1.1\n"
               "set style fill transparent solid 0.18 noborder\n");
}

/* The band and the mean line of one group's series file. */
static void plot_band(FILE *s, const char *path, int color, const char *label, int runs, int rows,
                      int *first) {
    fprintf(s, "%s", *first ? "plot " : ", \\\n     ");
    *first = 0;
    if (runs > 1) {
        quoted(s, path);
        fprintf(s, " using 1:3:4 with filledcurves lc rgb '%s' notitle, \\\n     ", COLOR(color));
    }
    quoted(s, path);
    fprintf(s, " using 1:2 with %s lw 2 lc rgb '%s' title ",
            rows <= 20 ? "linespoints pt 7 ps 0.7" : "lines", COLOR(color));
    char title[160];
    if (runs > 1)
        snprintf(title, sizeof title, "%s (%d runs: mean ± std)", label, runs);
    else
        snprintf(title, sizeof title, "%s (1 run)", label);
    quoted(s, title);
}

/* ---- The kinds ----------------------------------------------------------- */

typedef struct plot_input {
    const run_data *runs;
    const char *const *files;
    int n;
    int *group_of;
    int groups;
} plot_input;

static int group_runs(const plot_input *in, int g) {
    int k = 0;
    for (int i = 0; i < in->n; i++)
        k += in->group_of[i] == g;
    return k;
}

static int group_first(const plot_input *in, int g) {
    for (int i = 0; i < in->n; i++)
        if (in->group_of[i] == g) return i;
    return 0;
}

static pp_status script_curves(FILE *s, const workspace *w, const plot_input *in,
                               const plot_options *o) {
    typedef struct metric_info {
        series_fn fn;
        const char *title, *axis;
        int accuracy;
    } metric_info;
    static const metric_info metrics[] = {
        {s_test_acc, "Test accuracy", "test accuracy (%)", 1},
        {s_train_acc, "Training accuracy", "training accuracy (%)", 1},
        {s_test_loss, "Test loss", "test loss (cross-entropy)", 0},
        {s_train_loss, "Training loss", "training loss", 0},
    };
    const metric_info *m = &metrics[o->metric];
    fprintf(s, "set title ");
    quoted(s, o->title ? o->title : m->title);
    fprintf(s, "\nset xlabel 'epoch'\nset ylabel ");
    quoted(s, m->axis);
    fprintf(s, "\nset key %s right\nset offsets 0, 0, graph 0.04, graph 0.04\n",
            m->accuracy ? "bottom" : "top");
    int first = 1, drawn = 0;
    int *rows = calloc((size_t)in->groups, sizeof *rows);
    if (!rows) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
    pp_status st = PP_OK;
    /* the data and the paper's lines first: gnuplot wants every setting before `plot` */
    for (int g = 0; g < in->groups && st == PP_OK; g++) {
        char name[32], path[4300];
        FILE *f;
        snprintf(name, sizeof name, "curve%d.dat", g);
        st = open_data(w, name, &f, path, sizeof path);
        if (st != PP_OK) break;
        rows[g] = write_series(f, in->runs, in->group_of, in->n, g, m->fn, 0, NULL);
        st = close_data(f, path);
        double paper = cli_paper_accuracy(&in->runs[group_first(in, g)]);
        if (st != PP_OK || !rows[g] || !o->paper || !m->accuracy || !isfinite(paper)) continue;
        fprintf(s,
                "set arrow from graph 0, first %g to graph 1, first %g nohead dt 2 lw 1.5 "
                "lc rgb '%s' back\n",
                paper, paper, COLOR(g));
        char text[128];
        snprintf(text, sizeof text, "paper %.2f%%", paper);
        fprintf(s, "set label %d ", g + 1);
        quoted(s, text);
        /* staggered, so that close values stay readable */
        fprintf(s, " at graph %g, first %g offset 0, 0.6 tc rgb '%s' back\n", 0.01 + 0.2 * (g % 4),
                paper, COLOR(g));
    }
    for (int g = 0; g < in->groups && st == PP_OK; g++) {
        if (!rows[g]) continue;
        char name[32], path[4300], label[320];
        snprintf(name, sizeof name, "curve%d.dat", g);
        data_path(w, name, path, sizeof path);
        run_json_label(&in->runs[group_first(in, g)], label, sizeof label);
        plot_band(s, path, g, label, group_runs(in, g), rows[g], &first);
        drawn++;
    }
    free(rows);
    PP_TRY(st);
    if (!drawn) return pp_fail(PP_ERR_ARGUMENT, "no run has values for %s", m->title);
    fprintf(s, "\n");
    return PP_OK;
}

static pp_status script_angle(FILE *s, const workspace *w, const plot_input *in,
                              const plot_options *o) {
    fprintf(s, "set title ");
    quoted(s, o->title ? o->title : "Angle between W_L···W_1 and F^T (flattened)");
    fprintf(s, "\nset xlabel 'epoch'\nset ylabel 'angle (degrees)'\nset key bottom right\n"
               "set yrange [* < 85 : 95 < *]\nset offsets 0, 0, graph 0.05, graph 0.05\n"
               "set arrow from graph 0, first 90 to graph 1, first 90 nohead dt 2 lc rgb "
               "'#777777'\nset label 'orthogonal (90°)' at graph 0.01, first 90 offset 0, -0.8 "
               "tc rgb '#777777'\n");
    int first = 1;
    for (int g = 0; g < in->groups; g++) {
        const run_data *r = &in->runs[group_first(in, g)];
        int runs = 0;
        for (int i = 0; i < in->n; i++)
            runs += in->group_of[i] == g && in->runs[i].has_angle;
        if (!runs) continue;
        char name[32], path[4300], label[320];
        FILE *f;
        snprintf(name, sizeof name, "angle%d.dat", g);
        PP_TRY(open_data(w, name, &f, path, sizeof path));
        int rows = write_series(f, in->runs, in->group_of, in->n, g, s_angle, 0, i_angle);
        PP_TRY(close_data(f, path));
        run_json_label(r, label, sizeof label);
        plot_band(s, path, g, label, runs, rows, &first);
    }
    if (first)
        return pp_fail(PP_ERR_ARGUMENT,
                       "no run has an angle: it is measured for PEPITA with the FC model, with "
                       "`pepita train --analysis`");
    fprintf(s, "\n");
    return PP_OK;
}

static pp_status script_norms(FILE *s, const workspace *w, const plot_input *in,
                              const plot_options *o, int layers) {
    fprintf(s, "set multiplot layout 1,%d title ", layers);
    quoted(s, o->title ? o->title : "Frobenius norm of each weight matrix (epoch 0: initial)");
    fprintf(s, " font 'Sans,13'\nset xlabel 'epoch'\nset key bottom right\n"
               "set offsets 0, 0, graph 0.05, graph 0.05\n");
    for (int l = 0; l < layers; l++) {
        fprintf(s, "set title '||W%d||'\nset ylabel %s\n", l + 1,
                l == 0 ? "'Frobenius norm'" : "''");
        if (l == 1) fprintf(s, "unset key\n");
        int first = 1;
        for (int g = 0; g < in->groups; g++) {
            char name[32], path[4300], label[320];
            FILE *f;
            snprintf(name, sizeof name, "norm%d_%d.dat", g, l);
            PP_TRY(open_data(w, name, &f, path, sizeof path));
            int rows = write_series(f, in->runs, in->group_of, in->n, g, s_norm, l, i_norm);
            PP_TRY(close_data(f, path));
            if (!rows) continue;
            run_json_label(&in->runs[group_first(in, g)], label, sizeof label);
            plot_band(s, path, g, label, group_runs(in, g), rows, &first);
        }
        if (first)
            fprintf(s, "set label 'no data' at graph 0.5, graph 0.5 center\nplot NaN notitle");
        fprintf(s, "\n");
    }
    fprintf(s, "unset multiplot\n");
    return PP_OK;
}

static pp_status script_histograms(FILE *s, const workspace *w, const plot_input *in,
                                   const plot_options *o) {
    const run_data *r = &in->runs[0];
    char label[320], title[448];
    run_json_label(r, label, sizeof label);
    snprintf(title, sizeof title, "Weight histograms: %s, seed %llu, after epoch %d", label,
             r->seed, r->histogram_epoch);
    fprintf(s, "set multiplot layout 1,%d title ", r->n_histograms);
    quoted(s, o->title ? o->title : title);
    fprintf(s, " font 'Sans,13'\nset xlabel 'weight'\nset key top right\nset samples 500\n"
               "set style fill solid 0.45 border lc rgb '#1f77b4'\n"
               "set offsets 0, 0, graph 0.28, 0\nset yrange [0:*]\nset format x '%%g'\n");
    for (int k = 0; k < r->n_histograms; k++) {
        const run_histogram *h = &r->histograms[k];
        char name[32], path[4300];
        FILE *f;
        snprintf(name, sizeof name, "hist%d.dat", k);
        PP_TRY(open_data(w, name, &f, path, sizeof path));
        for (int b = 0; b < h->bins; b++) {
            double width = h->edges[b + 1] - h->edges[b];
            double density = h->weights > 0 ? h->counts[b] / (h->weights * width) : 0;
            fprintf(f, "%.9g %.9g %.9g\n", 0.5 * (h->edges[b] + h->edges[b + 1]), density, width);
        }
        PP_TRY(close_data(f, path));
        fprintf(s, "set title ");
        char panel[200];
        snprintf(panel, sizeof panel, "W%d: %.0f weights, mean %.3g, std %.3g", h->layer,
                 h->weights, h->mean, h->std);
        quoted(s, panel);
        fprintf(s, "\nset ylabel %s\nset xrange [%.9g:%.9g]\n", k == 0 ? "'density'" : "''",
                h->edges[0], h->edges[h->bins]);
        fprintf(s, "plot ");
        quoted(s, path);
        fprintf(s, " using 1:2:3 with boxes lc rgb '#1f77b4' title 'weights (end bins: beyond "
                   "±4 std)'");
        if (isfinite(h->mean) && isfinite(h->std) && h->std > 0)
            fprintf(s,
                    ", \\\n     exp(-(x - (%.9g))**2 / (2 * (%.9g)**2)) / ((%.9g) * "
                    "sqrt(2 * pi)) with lines lw 2 lc rgb '#d62728' title 'normal fit'",
                    h->mean, h->std, h->std);
        fprintf(s, "\n");
    }
    fprintf(s, "unset multiplot\n");
    return PP_OK;
}

/* ---- Running gnuplot ----------------------------------------------------- */

/* gnuplot from $PEPITA_GNUPLOT (a name or a path), else from PATH. */
static pp_status find_gnuplot(char *out, size_t size) {
    const char *name = getenv("PEPITA_GNUPLOT");
    if (!name || !*name) name = "gnuplot";
    if (strchr(name, '/')) {
        if (access(name, X_OK) == 0) {
            snprintf(out, size, "%s", name);
            return PP_OK;
        }
    } else {
        const char *path = getenv("PATH");
        if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
        while (*path) {
            size_t len = strcspn(path, ":");
            snprintf(out, size, "%.*s/%s", (int)len, len ? path : ".", name);
            if (access(out, X_OK) == 0) return PP_OK;
            path += len;
            if (*path == ':') path++;
        }
    }
    return pp_fail(PP_ERR_NOT_FOUND,
                   "gnuplot not found ('%s'): pepita plot draws with gnuplot; install the Debian "
                   "package gnuplot-nox (apt-get install gnuplot-nox)",
                   name);
}

static void log_tail(const char *path, char *out, size_t size) {
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long end = ftell(f);
    if (end > (long)size - 1)
        fseek(f, end - (long)size + 1, SEEK_SET);
    else
        fseek(f, 0, SEEK_SET);
    size_t n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    fclose(f);
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
}

static pp_status run_gnuplot(const workspace *w) {
    char program[4096];
    PP_TRY(find_gnuplot(program, sizeof program));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return pp_fail(PP_ERR_IO, "cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
        int log = open(w->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int null = open("/dev/null", O_RDONLY);
        if (log < 0 || null < 0) _exit(126);
        dup2(null, STDIN_FILENO);
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        execl(program, program, w->script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return pp_fail(PP_ERR_IO, "waiting for gnuplot: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return PP_OK;
    char tail[1600];
    log_tail(w->log, tail, sizeof tail);
    if (WIFEXITED(status))
        return pp_fail(PP_ERR_IO, "gnuplot (%s) failed with exit code %d:\n%s", program,
                       WEXITSTATUS(status), tail);
    return pp_fail(PP_ERR_IO, "gnuplot (%s) was killed by signal %d", program, WTERMSIG(status));
}

static void remove_workspace(const workspace *w) {
    DIR *d = opendir(w->dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char path[4400];
                snprintf(path, sizeof path, "%s/%s", w->dir, e->d_name);
                unlink(path);
            }
        closedir(d);
    }
    rmdir(w->dir);
}

static pp_status make_figure(const plot_input *in, const plot_options *o) {
    workspace w;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    if (strlen(tmp) > 3000) tmp = "/tmp";
    snprintf(w.dir, sizeof w.dir, "%s/pepita-plot.XXXXXX", tmp);
    if (!mkdtemp(w.dir))
        return pp_fail(PP_ERR_IO, "cannot make a temporary directory in %s: %s", tmp,
                       strerror(errno));
    snprintf(w.script, sizeof w.script, "%s/figure.gp", w.dir);
    snprintf(w.log, sizeof w.log, "%s/gnuplot.log", w.dir);
    snprintf(w.png, sizeof w.png, "%s.tmp.%ld.png", o->out, (long)getpid());

    int layers = 0; /* norms: the most layers of any run */
    for (int i = 0; i < in->n; i++)
        if (in->runs[i].n_layers > layers) layers = in->runs[i].n_layers;
    int panels = o->kind == KIND_NORMS        ? layers
                 : o->kind == KIND_HISTOGRAMS ? in->runs[0].n_histograms
                                              : 1;
    pp_status st = PP_OK;
    if (panels == 0)
        st = pp_fail(PP_ERR_ARGUMENT, "%s has no %s: train with `pepita train --analysis`",
                     in->files[0], o->kind == KIND_NORMS ? "weight norms" : "weight histograms");
    int width = o->width     ? o->width
                : panels > 1 ? (panels * 560 < 2400 ? panels * 560 : 2400)
                             : 900;
    int height = o->height ? o->height : panels > 1 ? 500 : 560;

    FILE *s = NULL;
    if (st == PP_OK) {
        s = fopen(w.script, "w");
        if (!s) st = pp_fail(PP_ERR_IO, "%s: cannot create: %s", w.script, strerror(errno));
    }
    if (st == PP_OK) {
        header(s, &w, width, height);
        size_t epochs = 0;
        for (int i = 0; i < in->n; i++)
            if (in->runs[i].epochs > epochs) epochs = in->runs[i].epochs;
        if (epochs <= 20 && o->kind != KIND_HISTOGRAMS) fprintf(s, "set xtics 1\n");
        switch (o->kind) {
        case KIND_CURVES:
            st = script_curves(s, &w, in, o);
            break;
        case KIND_ANGLE:
            st = script_angle(s, &w, in, o);
            break;
        case KIND_NORMS:
            st = script_norms(s, &w, in, o, layers);
            break;
        case KIND_HISTOGRAMS:
            st = script_histograms(s, &w, in, o);
            break;
        }
        fprintf(s, "unset output\n");
    }
    if (s) {
        pp_status closed = close_data(s, w.script);
        if (st == PP_OK) st = closed;
    }
    if (st == PP_OK) st = run_gnuplot(&w);
    struct stat info;
    if (st == PP_OK && (stat(w.png, &info) != 0 || info.st_size == 0))
        st = pp_fail(PP_ERR_IO, "gnuplot wrote no image to %s", w.png);
    if (st == PP_OK && rename(w.png, o->out) != 0)
        st = pp_fail(PP_ERR_IO, "%s: cannot rename the new figure into place: %s", o->out,
                     strerror(errno));
    if (st != PP_OK) unlink(w.png);
    if (o->keep)
        fprintf(stderr, "data and gnuplot script kept in %s\n", w.dir);
    else
        remove_workspace(&w);
    return st;
}

/* ---- The command --------------------------------------------------------- */

static void usage(FILE *out) {
    fprintf(out,
            "usage: pepita plot RUN.json... -o OUT.png [--kind KIND] [options]\n"
            "\n"
            "Draws runs written by `pepita train --json` into a PNG with gnuplot (Debian\n"
            "package gnuplot-nox). Runs of the same dataset, model, rule and modulation are\n"
            "one group, drawn as the mean with a shaded band of one standard deviation.\n"
            "\n"
            "kinds:\n"
            "  curves       learning curves of every group on one axis (default)\n"
            "  angle        the angle between W_L...W_1 and F^T per epoch (--analysis, PEPITA FC)\n"
            "  norms        the Frobenius norm of every layer per epoch (--analysis)\n"
            "  histograms   the first run's final weight histograms with a normal fit "
            "(--analysis)\n"
            "\n"
            "options:\n"
            "  -o OUT.png           the figure (written atomically)\n"
            "  --metric M           curves: test-accuracy (default), train-accuracy, test-loss,\n"
            "                       train-loss\n"
            "  --paper              curves: the paper's Table 1 accuracy as a dashed line\n"
            "  --title TEXT         replaces the default title\n"
            "  --size WxH           pixels (default by kind)\n"
            "  --keep               keep the data files and the gnuplot script (path on stderr)\n"
            "\n"
            "gnuplot is looked up as $PEPITA_GNUPLOT, else `gnuplot` on PATH.\n");
}

static pp_status parse(int argc, char **argv, plot_options *o, const char **files, int *n,
                       int *help) {
    static const char *const kinds[] = {"curves", "angle", "norms", "histograms"};
    static const char *const metrics[] = {"test-accuracy", "train-accuracy", "test-loss",
                                          "train-loss"};
    enum { OPT_PAPER = 256, OPT_KEEP, OPT_KIND, OPT_METRIC, OPT_TITLE, OPT_SIZE };
    static const struct option longs[] = {{"help", no_argument, NULL, 'h'},
                                          {"paper", no_argument, NULL, OPT_PAPER},
                                          {"keep", no_argument, NULL, OPT_KEEP},
                                          {"kind", required_argument, NULL, OPT_KIND},
                                          {"metric", required_argument, NULL, OPT_METRIC},
                                          {"title", required_argument, NULL, OPT_TITLE},
                                          {"size", required_argument, NULL, OPT_SIZE},
                                          {NULL, 0, NULL, 0}};
    cli_options walk;
    cli_options_start(&walk, argc, argv, "ho:", longs, 1);
    for (int c; (c = cli_options_next(&walk)) != CLI_OPTION_END;) {
        const char *v = walk.value;
        if (c == 'h') {
            *help = 1;
            return PP_OK;
        }
        if (c == OPT_PAPER) {
            o->paper = 1;
            continue;
        }
        if (c == OPT_KEEP) {
            o->keep = 1;
            continue;
        }
        if (c == CLI_OPTION_POSITIONAL) {
            files[(*n)++] = v;
            continue;
        }
        if (c == CLI_OPTION_UNKNOWN)
            return pp_fail(PP_ERR_ARGUMENT, "pepita plot: unknown option '%s' (see --help)",
                           walk.word);
        if (c == CLI_OPTION_MISSING_VALUE)
            return pp_fail(PP_ERR_ARGUMENT, "%s needs a value", walk.word);
        /* the flag as the messages name it, also when written --flag=value */
        char a[16];
        snprintf(a, sizeof a, "%.*s", (int)strcspn(walk.word, "="), walk.word);
        if (c == 'o') {
            o->out = v;
        } else if (c == OPT_TITLE) {
            if (has_control(v)) return pp_fail(PP_ERR_ARGUMENT, "--title: no control characters");
            o->title = v;
        } else if (c == OPT_SIZE) {
            char x = 0, extra = 0;
            if (sscanf(v, "%d%c%d%c", &o->width, &x, &o->height, &extra) != 3 || x != 'x' ||
                o->width < 200 || o->width > 8000 || o->height < 150 || o->height > 8000)
                return pp_fail(PP_ERR_ARGUMENT,
                               "--size: '%s' is not WxH with W in 200-8000, H in 150-8000", v);
        } else {
            const char *const *names = c == OPT_KIND ? kinds : metrics;
            int found = -1;
            for (int k = 0; k < 4; k++)
                if (!strcmp(v, names[k])) found = k;
            if (found < 0)
                return pp_fail(PP_ERR_ARGUMENT,
                               "%s: unknown value '%s' (expected %s, %s, %s or %s)", a, v, names[0],
                               names[1], names[2], names[3]);
            if (c == OPT_KIND)
                o->kind = (plot_kind)found;
            else
                o->metric = (metric)found;
        }
    }
    if (!*n) return pp_fail(PP_ERR_ARGUMENT, "pepita plot needs at least one RUN.json");
    if (!o->out) return pp_fail(PP_ERR_ARGUMENT, "pepita plot needs -o OUT.png");
    if (has_control(o->out))
        return pp_fail(PP_ERR_ARGUMENT, "-o: a path with control characters is not supported");
    if (strlen(o->out) > 3000) return pp_fail(PP_ERR_ARGUMENT, "-o: the path is too long");
    return PP_OK;
}

int cli_plot(int argc, char **argv) {
    plot_options o = {0};
    int n = 0, help = 0;
    const char **files = calloc((size_t)argc, sizeof *files);
    if (!files) return cli_report(pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory"));
    pp_status st = parse(argc, argv, &o, files, &n, &help);
    if (st != PP_OK || help) {
        free(files);
        if (help) usage(stdout);
        return help ? 0 : cli_report(st);
    }
    run_data *runs = NULL;
    int *group_of = calloc((size_t)n, sizeof *group_of);
    if (!group_of) st = pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
    if (st == PP_OK) st = run_json_load_all(files, n, &runs);
    if (st == PP_OK && o.kind == KIND_HISTOGRAMS && n > 1)
        fprintf(stderr, "note: drawing the histograms of %s only (the first run)\n", files[0]);
    if (st == PP_OK) {
        plot_input in = {runs, files, n, group_of, run_json_groups(runs, n, group_of)};
        st = make_figure(&in, &o);
    }
    run_json_free_all(runs, n);
    free(group_of);
    free(files);
    if (st != PP_OK) return cli_report(st);
    printf("wrote %s\n", o.out);
    return 0;
}
