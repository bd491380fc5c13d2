/* The pepita command-line tool: one file per subcommand. */
#ifndef PEPITA_CLI_CLI_H
#define PEPITA_CLI_CLI_H

#include "pepita/pepita.h"

/* Each returns the process exit code. argv[0] is the subcommand's name. */
int cli_devices(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_selftest(int argc, char **argv);
int cli_slowness(int argc, char **argv);
int cli_plot(int argc, char **argv);
int cli_summary(int argc, char **argv);

/* Prints "error: <message>" for a failed status and returns its exit code. */
int cli_report(pp_status status);

/* The paper's slowness fit (Appendix C) of a test-accuracy curve. */
typedef struct cli_slowness_fit {
    double slowness;     /* epochs to reach half of max_accuracy */
    double max_accuracy; /* the asymptote */
    double rms;          /* of the residuals over the fitted epochs */
    int epochs;          /* epochs fitted (the chance point at epoch 0 comes on top) */
    int at_bound;        /* the best slowness is the search's upper end (1e4) */
} cli_slowness_fit;

/* Fits acc = max_acc * e / (slowness + e) to (0, 1/classes) and
 * (e, accuracy[e-1]) for e = 1..min(epochs, max_epochs); slowness >= 0. */
pp_status cli_fit_slowness(const double *accuracy, size_t epochs, int classes, int max_epochs,
                           cli_slowness_fit *fit);

/* The paper's Table 1 test accuracy (%) for a run's dataset, model, rule and
 * modulation (the F = 0 control's plateau, section 4.4), or NAN. */
struct run_data;
double cli_paper_accuracy(const struct run_data *run);

#endif
