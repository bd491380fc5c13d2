/* Helpers shared by the check suites. */
#ifndef PEPITA_TEST_SUPPORT_H
#define PEPITA_TEST_SUPPORT_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "pepita/pepita.h"
#include "reference.h"

/* Runs a suite without fork (OpenCL contexts live in-process), prints its
 * results and returns the process exit code. */
int ts_run_suite(Suite *suite);

/* Makes a fresh temporary directory (removed by ts_remove_tree). */
char *ts_make_temp_dir(const char *tag);
void ts_remove_tree(const char *path);
/* Writes bytes to dir/name; returns the malloc'd full path. */
char *ts_write_file(const char *dir, const char *name, const void *data, size_t size);

/* ../shared/datasets/<name> when present, else NULL (the caller prints a skip line). */
const char *ts_shared_dataset_dir(const char *name);
/* Prints "SKIP: <why>" so skipped checks are visible in the log. */
void ts_skip(const char *test, const char *why);

/* The output of one run of the pepita command. */
typedef struct ts_cli_result {
    int exit_code; /* negative: killed by that signal */
    char out[262144];
    char err[65536];
} ts_cli_result;

/* $PEPITA_BUILD_DIR/pepita, or NULL when the variable is unset or the
 * binary is not there (the caller skips). */
const char *ts_cli_path(void);
/* Runs `pepita args...` (NULL-terminated) with stdout and stderr captured. */
void ts_run_cli(const char *const *args, ts_cli_result *result);

/* Exit codes of a run that never reached pepita: the binary could not be
 * copied for nobody; the child could not switch to nobody; nobody cannot
 * reach the run's directory (TMPDIR is private). Callers skip on the last
 * two, naming the reason. */
enum { TS_CLI_NOT_RUN = -2000, TS_CLI_CANNOT_BECOME_NOBODY = 122, TS_CLI_NOBODY_LOCKED_OUT = 124 };
/* Why a run as nobody was not made, or NULL when it was. */
const char *ts_cli_nobody_skip_reason(const ts_cli_result *result);

/* What may differ in the child of one run. */
typedef struct ts_cli_options {
    const char *env[4]; /* "NAME=value" settings added to its environment, NULL-ended */
    int as_nobody;      /* drop root to user nobody first, with a private HOME */
    /* a program and its arguments that run pepita (mpirun -np 2 ...), looked
     * up in PATH; NULL-ended, launcher[0] NULL for none */
    const char *launcher[24];
} ts_cli_options;
/* ts_run_cli with options (NULL: none). */
void ts_run_cli_with(const char *const *args, const ts_cli_options *options, ts_cli_result *result);

/* A whole file, malloc'd with a NUL after its size bytes (so text can be
 * searched); NULL when it cannot be read. size may be NULL. */
char *ts_read_file(const char *path, size_t *size);

/* Fails the test when any result in list failed, after printing every
 * failure (the log should name them all, not only the first). */
void ts_assert_all_pass(const ref_check_list *list, const char *area);
/* Runs one area's operator checks as `pepita selftest` does, prints a
 * summary with the CPU time, fails on any failed result, and returns how many
 * results there were (the caller asserts its area's coverage). */
size_t ts_run_area_checks(rt_context *ctx, int quick,
                          pp_status (*checks)(rt_context *, int, ref_check_list *),
                          const char *area);

/* Deterministic pseudo-random floats in [lo, hi) for test inputs. */
void ts_fill_uniform(float *values, size_t n, float lo, float hi, unsigned seed);

/* v as 4 big-endian bytes at p (the IDX header fields). */
void ts_put_be32(uint8_t *p, uint32_t v);

/* A device buffer of bytes, filled from data unless data is NULL; and the
 * way back. Both fail the test on any error. */
rt_buf ts_upload(rt_context *ctx, const void *data, size_t bytes);
void ts_download(rt_context *ctx, const rt_buf *b, void *dst, size_t bytes);

/* A learnable toy split of n 10x10 one-channel images in 4 classes: each
 * class lights one quadrant over uniform noise (labels cycle with seed). */
void ts_quadrant_split(pp_dataset *d, size_t n, unsigned seed);
/* The largest weight difference between two trainers over every layer:
 * |a-b|, or with relative |a-b| / (1 + |b|). */
double ts_weights_difference(pp_trainer *a, pp_trainer *b, int relative);
/* A trainer, and epochs of it; both fail the test with the library's message. */
pp_trainer *ts_make_trainer(pp_context *context, const pp_config *config, const pp_dataset *train,
                            const pp_dataset *test);
void ts_run_epochs(pp_trainer *trainer, int epochs);

#endif
