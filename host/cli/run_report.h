/* The per-epoch CSV log and the JSON summary of a training run, each
 * rewritten atomically after every epoch so a stopped run leaves both whole. */
#ifndef PEPITA_CLI_RUN_REPORT_H
#define PEPITA_CLI_RUN_REPORT_H

#include "cli/run_json.h"
#include "pepita/pepita.h"

/* Weight histograms (with --analysis): REPORT_BINS bins over
 * [mean - 4 std, mean + 4 std] of each layer, the normal fit's mean and std. */
enum { REPORT_BINS = 60 };

typedef struct report_histogram {
    double lo, hi, mean, std;
    size_t weights;
    uint32_t counts[REPORT_BINS]; /* weights outside [lo, hi) are in the end bins */
} report_histogram;

typedef struct run_report {
    pp_config config;
    char device[128];
    int classes;
    pp_epoch_stats *epochs;
    size_t count, capacity;
    /* with --analysis */
    int n_initial_norms; /* before the first epoch */
    double initial_norms[PP_MAX_HIDDEN + 2];
    double initial_angle; /* NaN where there is no F */
    int n_histograms, histogram_epoch;
    report_histogram histograms[PP_MAX_HIDDEN + 2];
} run_report;

pp_status run_report_add(run_report *r, const pp_epoch_stats *stats);
/* Records every layer's norm and the angle before training. */
pp_status run_report_initial_analysis(run_report *r, pp_trainer *trainer);
/* Records every layer's histogram of the trainer's current weights. */
pp_status run_report_histograms(run_report *r, pp_trainer *trainer);
/* Takes the first `epochs` epochs (and the initial norms) of an earlier
 * report of the same run, for --resume; fails if it does not match. */
pp_status run_report_restore(run_report *r, const run_data *earlier, int epochs);
pp_status run_report_write_csv(const run_report *r, const char *path);
pp_status run_report_write_json(const run_report *r, const char *path);
void run_report_free(run_report *r);

#endif
