/* The options of `pepita train` and `pepita eval`, parsed strictly: every
 * error names the flag and what is wrong with its value. */
#ifndef PEPITA_CLI_TRAIN_OPTIONS_H
#define PEPITA_CLI_TRAIN_OPTIONS_H

#include <stdio.h>

#include "pepita/pepita.h"

typedef struct cli_train_options {
    pp_config config;
    const char *data_dir;
    const char *device;
    const char *log_path;
    const char *json_path;
    const char *save_path;
    const char *resume_path;
    const char *checkpoint_path; /* eval */
    int quiet;
    int help;
} cli_train_options;

/* Parses argv[1..argc) of `train` (or `eval` when for_eval != 0): the preset
 * of the chosen dataset, model and rule (or the configuration saved in
 * --resume's checkpoint), then every override in order. */
pp_status cli_parse_train_options(int argc, char **argv, int for_eval, cli_train_options *o);

/* Usage, the options, and the preset that applies to o's dataset, model and rule. */
void cli_print_train_help(FILE *out, const cli_train_options *o);

#endif
