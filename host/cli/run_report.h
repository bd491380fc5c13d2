/* The per-epoch CSV log and the JSON summary of a training run, each
 * rewritten atomically after every epoch so a stopped run leaves both whole. */
#ifndef PEPITA_CLI_RUN_REPORT_H
#define PEPITA_CLI_RUN_REPORT_H

#include "pepita/pepita.h"

typedef struct run_report {
    pp_config config;
    char device[128];
    pp_epoch_stats *epochs;
    size_t count, capacity;
} run_report;

pp_status run_report_add(run_report *r, const pp_epoch_stats *stats);
pp_status run_report_write_csv(const run_report *r, const char *path);
pp_status run_report_write_json(const run_report *r, const char *path);
void run_report_free(run_report *r);

#endif
