/* Reading back the run JSON that `pepita train --json` writes, for the
 * analysis commands (slowness, plot, summary) and for --resume. The syntax is
 * jansson's (strict RFC 8259, duplicate keys refused, bounded depth); the
 * schema is checked here, every value's type and range; every error names
 * the file, with the line and column for syntax errors and the key for the
 * rest. */
#ifndef PEPITA_CLI_RUN_JSON_H
#define PEPITA_CLI_RUN_JSON_H

#include "pepita/pepita.h"

#include <stddef.h>

/* Larger files are not run summaries. */
#define RUN_JSON_MAX_BYTES (32u << 20)
#define RUN_JSON_MAX_LAYERS (PP_MAX_HIDDEN + 2)
#define RUN_JSON_MAX_BINS 4096

/* A layer's weight histogram: bins over [edges[0], edges[bins]); weights
 * outside that range are counted in the end bins. mean and std are of all
 * the layer's weights (the normal fit). */
typedef struct run_histogram {
    int layer; /* 1-based */
    int bins;
    double *edges;  /* bins + 1, strictly increasing */
    double *counts; /* bins, non-negative integers */
    double weights; /* how many weights the layer has */
    double mean, std;
} run_histogram;

typedef struct run_data {
    char dataset[32], model[16], rule[16], modulation[16];
    char variant[48]; /* the follow-up's variants on, "wm+norm"; "" for none */
    char arch[128];   /* the hidden layers when not the model's preset's; "" otherwise */
    int pre_mirror, mirror_every; /* weight mirroring's schedule; -1 when absent */
    char device[128];             /* "" when absent */
    char source_commit[64];       /* `git describe` of the writer; "" when absent */
    int classes;                  /* from "classes", else from the dataset's name */
    unsigned long long seed;
    int has_seed;
    /* per epoch, `epochs` values each; NAN where the file holds null or
     * lacks the array (test_accuracy is always present and finite) */
    size_t epochs;
    int epochs_planned; /* 0 when absent */
    double *test_accuracy, *test_loss, *train_accuracy, *train_loss, *lr, *seconds,
        *samples_per_second, *angle;
    int has_angle; /* at least one finite angle */
    /* per epoch, n_layers norms each (epochs * n_layers); 0 layers when absent */
    int n_layers;
    double *norms;
    double initial_norms[RUN_JSON_MAX_LAYERS]; /* before training; NAN when absent */
    double initial_angle;                      /* before training; NAN when absent */
    int n_histograms;
    int histogram_epoch;
    run_histogram histograms[RUN_JSON_MAX_LAYERS];
} run_data;

/* Parses size bytes of text; name labels the messages (a file name). On
 * failure *out is left empty (nothing to free). */
pp_status run_json_parse(const char *text, size_t size, const char *name, run_data *out);
/* Reads and parses a file. */
pp_status run_json_load(const char *path, run_data *out);
void run_json_free(run_data *run);
/* Reads n files into a new array of n runs, or none on failure (the status
 * names the file); free it with run_json_free_all(runs, n). */
pp_status run_json_load_all(const char *const *files, int n, run_data **runs);
void run_json_free_all(run_data *runs, int n);

/* "PEPITA FC MNIST", with " F=0" or " random modulation" for the modulation
 * controls, the hidden layers when not the preset's (" fc1024,fc1024"), the
 * variants (" +wm+norm"), and a learning rate or mirroring schedule that is
 * not the presets' (" lr 0.005", " pre-mirror 0 mirror-every 1"). */
void run_json_label(const run_data *run, char *out, size_t size);

/* Gives each run a group, runs with the same label sharing one, numbered in
 * order of first appearance; returns the number of groups. */
int run_json_groups(const run_data *runs, int n, int *group_of);

#endif
