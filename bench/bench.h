/* pepita-bench: shared options, timing, result output (JSON + markdown). */
#ifndef PEPITA_BENCH_BENCH_H
#define PEPITA_BENCH_BENCH_H

#include <stddef.h>
#include <stdio.h>

#include "pepita/pepita.h"
#include "ops/ops.h"
#include "runtime/runtime.h"

typedef struct bench_options {
    int quick;               /* tiny shapes and few repeats: a smoke run */
    const char *device;      /* selector, or "all" */
    const char *json_path;   /* NULL: no JSON */
    const char *data_dir;    /* MNIST IDX files; NULL: generated MNIST-shaped data */
    const char *cifar_dir;   /* CIFAR-10 binary batches: FC epochs on CIFAR-10 too; NULL: none */
    const char *sections;    /* comma list of sections to run; NULL: all */
    int repeats;             /* best of this many timings */
    size_t samples;          /* training samples for the epochs (0: all) */
    int epochs;              /* epochs per end-to-end run (>= 2 shows memory constancy) */
    const char *self_path;   /* this executable, for the start-up child */
    const char *python;      /* interpreter for the PyTorch peer; NULL: no peer */
    const char *peer_device; /* the peer's torch device: "cpu" or "cuda[:N]" */
} bench_options;

/* Monotonic seconds. */
double bench_now(void);
/* Best seconds per call of fn(arg): a warm-up call, then `repeats` timings
 * of calls run back to back (enough to fill about `target` seconds), each
 * ended by rt_finish when ctx is given. */
typedef pp_status (*bench_fn)(void *arg);
pp_status bench_time(rt_context *ctx, bench_fn fn, void *arg, int repeats, double target,
                     double *best);
/* Whether section `name` was asked for. */
int bench_section_on(const bench_options *o, const char *name);
/* Whether any end-to-end epoch run was asked for. */
int bench_epochs_on(const bench_options *o);
/* The end-to-end runs (bench_epoch.c's table, the one list of them): each is
 * section "epoch-" + its name. */
size_t bench_epoch_runs(void);
const char *bench_epoch_run_name(size_t i);
/* Whether run i was asked for ("epochs", or its own section). */
int bench_run_on(const bench_options *o, size_t i);
/* Whether the first len characters of name are a section: a fixed one or an
 * end-to-end run's. */
int bench_section_known(const char *name, size_t len);
/* The sections as help text lists them. */
void bench_print_sections(FILE *f);

/* ---- JSON output: a jansson tree built in order ---------------------- */

typedef struct bench_json {
    struct json_t *root;       /* the outermost object */
    struct json_t *scopes[32]; /* the open objects and arrays, innermost last */
    int depth;
    int failed; /* out of memory, or scopes misnested */
} bench_json;

/* Members of an object take a key, elements of an array take NULL. */
void bj_object_begin(bench_json *j, const char *key);
void bj_object_end(bench_json *j);
void bj_array_begin(bench_json *j, const char *key);
void bj_array_end(bench_json *j);
void bj_number(bench_json *j, const char *key, double value); /* NaN/Inf -> null */
void bj_int(bench_json *j, const char *key, long long value);
void bj_string(bench_json *j, const char *key, const char *value); /* NULL -> null */
void bj_bool(bench_json *j, const char *key, int value);
void bj_null(bench_json *j, const char *key);
/* The whole document, indented, written to path atomically; fails when the
 * tree could not be built (out of memory). */
pp_status bj_write_file(bench_json *j, const char *path);
void bj_free(bench_json *j);

/* ---- Data ------------------------------------------------------------- */

/* MNIST from dir, or (dir NULL) a generated MNIST-shaped set with learnable
 * class prototypes. n_train (0: all) trims the training split. */
pp_status bench_data_mnist(const char *dir, size_t n_train, size_t n_test, pp_dataset *train,
                           pp_dataset *test, int *real);
/* CIFAR-10 from dir, trimmed like bench_data_mnist. */
pp_status bench_data_cifar10(const char *dir, size_t n_train, size_t n_test, pp_dataset *train,
                             pp_dataset *test);
/* A generated set of any shape (CIFAR-shaped runs). */
pp_status bench_data_generate(size_t n, int channels, int height, int width, int classes,
                              uint64_t seed, pp_dataset *out);

/* ---- Sections: each prints its markdown table and adds its JSON ------- */

pp_status bench_gemm(const bench_options *o, rt_context *ctx, bench_json *j);
pp_status bench_kernels(const bench_options *o, rt_context *ctx, bench_json *j);
/* The data of the end-to-end runs: MNIST (real or generated) and, when
 * loaded, CIFAR-10 (cifar_train.n 0: none). */
typedef struct bench_datasets {
    pp_dataset train, test;
    int real; /* MNIST from files */
    pp_dataset cifar_train, cifar_test;
} bench_datasets;
pp_status bench_epochs(const bench_options *o, const char *selector, const bench_datasets *data,
                       double peak_gflops, int peak_width, bench_json *j);
/* The FMA peak of ctx's device in GFLOP/s (cl/peak.cl); 0 when not measured. */
pp_status bench_peak(const bench_options *o, rt_context *ctx, bench_json *j, double *peak_gflops,
                     int *peak_width);
/* The peak again at the best vector width, without output: the epochs take
 * the highest of these (the machine may be shared, so one measurement can be low). */
pp_status bench_peak_again(const bench_options *o, rt_context *ctx, int width, double *gflops);
pp_status bench_startup(const bench_options *o, const char *selector, bench_json *j);
void bench_flops(const bench_options *o, bench_json *j);

/* The start-up child: builds every kernel a PEPITA FC run uses, then exits. */
int bench_startup_child(const char *selector);

/* ---- The CPU-native reference (plain C + OpenBLAS) -------------------- */

typedef struct reference reference;
typedef struct reference_result {
    double seconds; /* training only */
    double train_loss, train_accuracy, test_accuracy;
} reference_result;

/* PEPITA (backprop 0) as DESIGN.md states it, or BP (backprop 1), on the FC
 * model input-hidden-classes with dropout on the hidden layer, SGD with
 * momentum, cblas_sgemm for every product; weights persist across epochs. */
pp_status reference_create(const pp_dataset *train, const pp_dataset *test, int backprop,
                           int hidden, int batch, float lr, float momentum, float dropout,
                           uint64_t seed, reference **out);
pp_status reference_epoch(reference *r, reference_result *out);
void reference_destroy(reference *r);

/* ---- The PyTorch CPU peer (bench/peers/torch_peer.py, a child process) -- */

typedef struct peer peer;
/* Writes both splits to a new temporary file (path receives its name). */
pp_status peer_data_file(const pp_dataset *train, const pp_dataset *test, char *path,
                         size_t path_size);
/* Starts the peer for model ("fc", "conv") and rule ("pepita", "bp") on the
 * data file; about receives e.g. "torch 2.5.1, 2 threads". Fails (nothing
 * left running) when the interpreter or torch is missing. */
pp_status peer_start(const char *python, const char *device, const char *data_file,
                     const char *model, const char *rule, int batch, float lr, peer **out,
                     char *about, size_t about_size);
/* One training epoch in the peer: its training seconds and test accuracy. */
pp_status peer_epoch(peer *p, double *seconds, double *test_accuracy);
void peer_stop(peer *p);

/* FLOPs of one training step (GEMM and convolution multiply-adds x 2). */
double flops_step(const pp_config *c, int in_c, int in_h, int in_w, int classes, size_t batch);

#endif
