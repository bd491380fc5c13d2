/* End to end: training epochs of PEPITA and BP, FC and conv, through the
 * public trainer on a profiling context. Reports seconds per epoch, samples/s,
 * device memory (peak, and whether it stays constant after the first epoch),
 * each kernel's share of the training time from profiling events, and for
 * PEPITA FC the ratio to the CPU-native OpenBLAS reference epoch, timed
 * alternately in the same run. */
#include "bench.h"
#include "runtime/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* CPU seconds of the calling (host) thread: enqueueing, argument setting and
 * waiting, without the OpenCL driver's worker threads. */
static double thread_cpu_seconds(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return NAN;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of the whole process: the host thread and the OpenCL
 * driver's worker threads (PoCL runs kernels on them). On a shared machine
 * this moves far less with the other processes' load than wall time. */
static double process_cpu_seconds(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return NAN;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct op_time {
    char name[64];
    double seconds;
    size_t launches;
} op_time;

typedef struct op_times {
    op_time *items;
    size_t count;
    double idle_seconds; /* device idle between consecutive launches */
} op_times;

static pp_status op_times_add(op_times *t, const rt_profile_entry *e, size_t n, double sign) {
    for (size_t i = 0; i < n; i++) {
        op_time *found = NULL;
        for (size_t k = 0; k < t->count && !found; k++)
            if (!strcmp(t->items[k].name, e[i].name)) found = &t->items[k];
        if (!found) {
            op_time *grown = realloc(t->items, (t->count + 1) * sizeof *grown);
            if (!grown) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory (bench)");
            t->items = grown;
            found = &t->items[t->count++];
            memset(found, 0, sizeof *found);
            snprintf(found->name, sizeof found->name, "%s", e[i].name);
        }
        found->seconds += sign * e[i].seconds;
        found->launches += (size_t)((double)e[i].launches * sign);
    }
    return PP_OK;
}

static int by_seconds(const void *a, const void *b) {
    double x = ((const op_time *)a)->seconds, y = ((const op_time *)b)->seconds;
    return (x < y) - (x > y);
}

/* Adds (sign +1) or removes (-1) what the profile holds since the last reset. */
static pp_status take_profile(rt_context *ctx, op_times *t, double sign) {
    rt_profile_entry *e = NULL;
    size_t n = 0;
    PP_TRY(rt_profile_collect(ctx, &e, &n));
    pp_status st = op_times_add(t, e, n, sign);
    t->idle_seconds += sign * rt_profile_idle_seconds(ctx);
    free(e);
    rt_profile_reset(ctx);
    return st;
}

typedef struct epoch_run {
    const char *name;
    pp_dataset_kind dataset; /* MNIST (real or generated) or CIFAR-10 (with --cifar) */
    pp_model_kind model;
    pp_rule_kind rule;
    int with_reference;                 /* FC: alternate with the CPU-native epoch */
    const char *peer_model, *peer_rule; /* the PyTorch peer's arguments */
} epoch_run;

static const epoch_run runs[] = {
    {"pepita-fc", PP_DATASET_MNIST, PP_MODEL_FC, PP_RULE_PEPITA, 1, "fc", "pepita"},
    {"bp-fc", PP_DATASET_MNIST, PP_MODEL_FC, PP_RULE_BP, 1, "fc", "bp"},
    {"pepita-conv", PP_DATASET_MNIST, PP_MODEL_CONV, PP_RULE_PEPITA, 0, "conv", "pepita"},
    {"bp-conv", PP_DATASET_MNIST, PP_MODEL_CONV, PP_RULE_BP, 0, "conv", "bp"},
    {"pepita-fc-cifar10", PP_DATASET_CIFAR10, PP_MODEL_FC, PP_RULE_PEPITA, 1, "fc", "pepita"},
    {"bp-fc-cifar10", PP_DATASET_CIFAR10, PP_MODEL_FC, PP_RULE_BP, 1, "fc", "bp"},
};

size_t bench_epoch_runs(void) {
    return sizeof runs / sizeof runs[0];
}

const char *bench_epoch_run_name(size_t i) {
    return i < bench_epoch_runs() ? runs[i].name : NULL;
}

typedef struct epoch_result {
    double best_s, best_ref_s, best_peer_s; /* best_peer_s 0: no peer */
    /* each round's ratio (pepita-cl's epoch / the peer's next one), after the
     * first round: the spread the machine's load gives the ratio */
    double ref_ratio_lo, ref_ratio_hi, peer_ratio_lo, peer_ratio_hi;
    double peer_test_accuracy;
    char peer_about[96];
    double samples_per_s;
    double test_accuracy, ref_test_accuracy;
    size_t live_first, peak_first, live_last, peak_last;
    double kernel_s, train_s; /* summed over the profiled epochs */
    double host_cpu_s;        /* the host thread's CPU time in training, profiled epochs */
    double process_cpu_s;     /* every thread's CPU time in training, profiled epochs */
    double flops_per_epoch;   /* GEMM and convolution FLOPs (bench_flops.c's count) */
    op_times ops;
    size_t batches; /* summed over the profiled epochs */
    int epochs;     /* profiled */
} epoch_result;

/* Widens [lo, hi] (0, 0: empty) to hold x. */
static void widen(double *lo, double *hi, double x) {
    if (*hi == 0 || x < *lo) *lo = x;
    if (*hi == 0 || x > *hi) *hi = x;
}

static pp_status run_one(const bench_options *o, const char *selector, const epoch_run *r,
                         const pp_dataset *train, const pp_dataset *test, const char *peer_data,
                         int peak_width, double *peak_gflops, epoch_result *res) {
    pp_config c;
    PP_TRY(pp_config_preset(&c, r->dataset, r->model, r->rule));
    c.epochs = o->epochs;
    pp_context *context = NULL;
    pp_trainer *trainer = NULL;
    reference *ref = NULL;
    peer *torch_peer = NULL;
    pp_status st;
    PP_TRY_GOTO(st, pp_context_create_profiling(selector, &context), done);
    rt_context *ctx = pp_context_runtime(context);
    PP_TRY_GOTO(st, pp_trainer_create(context, &c, train, test, &trainer), done);
    /* the peak again next to this run, on its context: the highest measured counts */
    double peak_now = 0.0;
    PP_TRY_GOTO(st, bench_peak_again(o, ctx, peak_width, &peak_now), done);
    if (peak_now > *peak_gflops) *peak_gflops = peak_now;
    if (r->with_reference)
        PP_TRY_GOTO(st,
                    reference_create(train, test, r->rule == PP_RULE_BP, c.hidden[0], c.batch, c.lr,
                                     c.momentum, c.dropout, c.seed + 1, &ref),
                    done);
    if (peer_data &&
        peer_start(o->python, o->peer_device, peer_data, r->peer_model, r->peer_rule, c.batch, c.lr,
                   &torch_peer, res->peer_about, sizeof res->peer_about) != PP_OK)
        fprintf(stderr, "  %s: no PyTorch peer: %s\n", r->name, pp_last_error());
    size_t n_batches = (train->n + (size_t)c.batch - 1) / (size_t)c.batch;
    size_t full = train->n / (size_t)c.batch, rest = train->n % (size_t)c.batch;
    res->flops_per_epoch =
        (double)full * flops_step(&c, train->channels, train->height, train->width, train->classes,
                                  (size_t)c.batch) +
        (rest ? flops_step(&c, train->channels, train->height, train->width, train->classes, rest)
              : 0.0);
    rt_profile_reset(ctx);
    for (int e = 0; e < o->epochs; e++) {
        pp_epoch_stats s;
        double cpu0 = thread_cpu_seconds(), all0 = process_cpu_seconds();
        PP_TRY_GOTO(st, pp_trainer_run_epoch(trainer, NULL, NULL, &s), done);
        double cpu1 = thread_cpu_seconds(), all1 = process_cpu_seconds();
        /* shares come from the epochs after the first (which builds kernels
         * and settles the GEMM dispatch), unless there is only one */
        int profiled = e > 0 || o->epochs == 1;
        if (e == 1) {
            free(res->ops.items);
            memset(&res->ops, 0, sizeof res->ops);
        }
        PP_TRY_GOTO(st, take_profile(ctx, &res->ops, 1.0), done);
        /* the epoch call also evaluated the test set: take one evaluation out */
        PP_TRY_GOTO(st, pp_trainer_evaluate(trainer, NULL, NULL), done);
        double cpu2 = thread_cpu_seconds(), all2 = process_cpu_seconds();
        PP_TRY_GOTO(st, take_profile(ctx, &res->ops, -1.0), done);
        if (e == 0 || s.seconds < res->best_s) {
            res->best_s = s.seconds;
            res->samples_per_s = s.samples_per_second;
        }
        if (profiled) {
            res->train_s += s.seconds;
            res->host_cpu_s += (cpu1 - cpu0) - (cpu2 - cpu1);
            res->process_cpu_s += (all1 - all0) - (all2 - all1);
            res->batches += n_batches;
            res->epochs++;
        }
        res->test_accuracy = s.test_accuracy;
        if (e == 0) {
            res->live_first = ctx->bytes_live;
            res->peak_first = ctx->bytes_peak;
        }
        res->live_last = ctx->bytes_live;
        res->peak_last = ctx->bytes_peak;
        fprintf(stderr, "  %s epoch %d: %.2f s, test %.2f%%\n", r->name, e + 1, s.seconds,
                100 * s.test_accuracy);
        if (ref) {
            reference_result rr;
            PP_TRY_GOTO(st, reference_epoch(ref, &rr), done);
            if (e == 0 || rr.seconds < res->best_ref_s) res->best_ref_s = rr.seconds;
            if (profiled) widen(&res->ref_ratio_lo, &res->ref_ratio_hi, s.seconds / rr.seconds);
            res->ref_test_accuracy = rr.test_accuracy;
            fprintf(stderr, "  cpu-native reference epoch %d: %.2f s, test %.2f%%\n", e + 1,
                    rr.seconds, 100 * rr.test_accuracy);
        }
        if (torch_peer) {
            double seconds, accuracy;
            PP_TRY_GOTO(st, peer_epoch(torch_peer, &seconds, &accuracy), done);
            if (e == 0 || seconds < res->best_peer_s) res->best_peer_s = seconds;
            if (profiled) widen(&res->peer_ratio_lo, &res->peer_ratio_hi, s.seconds / seconds);
            res->peer_test_accuracy = accuracy;
            fprintf(stderr, "  PyTorch peer epoch %d: %.2f s, test %.2f%%\n", e + 1, seconds,
                    100 * accuracy);
        }
    }
    for (size_t i = 0; i < res->ops.count; i++)
        res->kernel_s += res->ops.items[i].seconds;
    qsort(res->ops.items, res->ops.count, sizeof *res->ops.items, by_seconds);
done:
    peer_stop(torch_peer);
    reference_destroy(ref);
    pp_trainer_destroy(trainer);
    pp_context_destroy(context);
    return st;
}

static double mib(size_t bytes) {
    return (double)bytes / (1024.0 * 1024.0);
}

static void report(const epoch_run *r, const epoch_result *res, size_t n_train, double peak_gflops,
                   bench_json *j) {
    int constant = res->live_first == res->live_last && res->peak_first == res->peak_last;
    double ratio = res->best_ref_s > 0 ? res->best_s / res->best_ref_s : NAN;
    double gflops = res->flops_per_epoch / res->best_s * 1e-9;
    double of_peak = peak_gflops > 0 ? gflops / peak_gflops : NAN;
    printf("| %s | %.3f | %.0f | %.1f | %.1f%% | %.1f | %s | %.2f%% |", r->name, res->best_s,
           res->samples_per_s, gflops, 100 * of_peak, mib(res->peak_last), constant ? "yes" : "NO",
           100 * res->test_accuracy);
    double peer_ratio = res->best_peer_s > 0 ? res->best_s / res->best_peer_s : NAN;
    if (r->with_reference)
        printf(" %.3f s (%.2f%%) | **%.2fx** (%.2f-%.2f) |", res->best_ref_s,
               100 * res->ref_test_accuracy, ratio, res->ref_ratio_lo, res->ref_ratio_hi);
    else
        printf(" - | - |");
    if (res->best_peer_s > 0)
        printf(" %.3f s (%.2f%%) | **%.2fx** (%.2f-%.2f) |\n", res->best_peer_s,
               100 * res->peer_test_accuracy, peer_ratio, res->peer_ratio_lo, res->peer_ratio_hi);
    else
        printf(" - | - |\n");

    bj_object_begin(j, NULL);
    bj_string(j, "run", r->name);
    bj_string(j, "model", pp_model_name(r->model));
    bj_string(j, "rule", pp_rule_name(r->rule));
    bj_int(j, "train_samples", (long long)n_train);
    bj_number(j, "seconds_per_epoch", res->best_s);
    bj_number(j, "samples_per_second", res->samples_per_s);
    bj_number(j, "test_accuracy", res->test_accuracy);
    bj_int(j, "peak_device_bytes", (long long)res->peak_last);
    bj_int(j, "live_device_bytes_after_first_epoch", (long long)res->live_first);
    bj_int(j, "live_device_bytes_after_last_epoch", (long long)res->live_last);
    bj_int(j, "peak_device_bytes_after_first_epoch", (long long)res->peak_first);
    bj_bool(j, "memory_constant_after_first_epoch", constant);
    bj_number(j, "kernel_seconds_per_epoch", res->kernel_s / res->epochs);
    bj_number(j, "flops_per_epoch", res->flops_per_epoch);
    bj_number(j, "effective_gflops", gflops);
    bj_number(j, "fraction_of_peak", of_peak);
    double batches = (double)res->batches, launches = 0.0;
    for (size_t i = 0; i < res->ops.count; i++)
        launches += (double)res->ops.items[i].launches;
    bj_object_begin(j, "step");
    bj_number(j, "wall_seconds", res->train_s / batches);
    bj_number(j, "kernel_seconds", res->kernel_s / batches);
    bj_number(j, "idle_between_kernels_seconds", res->ops.idle_seconds / batches);
    bj_number(j, "host_cpu_seconds", res->host_cpu_s / batches);
    bj_number(j, "process_cpu_seconds", res->process_cpu_s / batches);
    bj_number(j, "gflops_per_cpu_second",
              res->flops_per_epoch * res->epochs / res->process_cpu_s * 1e-9);
    bj_number(j, "launches", launches / batches);
    bj_object_end(j);
    if (r->with_reference) {
        bj_number(j, "cpu_reference_seconds_per_epoch", res->best_ref_s);
        bj_number(j, "cpu_reference_test_accuracy", res->ref_test_accuracy);
        bj_number(j, "ratio_to_cpu_reference", ratio);
        bj_number(j, "ratio_to_cpu_reference_min", res->ref_ratio_lo);
        bj_number(j, "ratio_to_cpu_reference_max", res->ref_ratio_hi);
    }
    if (res->best_peer_s > 0) {
        bj_string(j, "torch_peer", res->peer_about);
        bj_number(j, "torch_peer_seconds_per_epoch", res->best_peer_s);
        bj_number(j, "torch_peer_test_accuracy", res->peer_test_accuracy);
        bj_number(j, "ratio_to_torch_peer", peer_ratio);
        bj_number(j, "ratio_to_torch_peer_min", res->peer_ratio_lo);
        bj_number(j, "ratio_to_torch_peer_max", res->peer_ratio_hi);
    }
    bj_array_begin(j, "operators");
    for (size_t i = 0; i < res->ops.count; i++) {
        const op_time *t = &res->ops.items[i];
        if (t->launches == 0 && t->seconds <= 0) continue;
        bj_object_begin(j, NULL);
        bj_string(j, "kernel", t->name);
        bj_number(j, "share", res->kernel_s > 0 ? t->seconds / res->kernel_s : NAN);
        bj_number(j, "seconds_per_batch", t->seconds / (double)res->batches);
        bj_number(j, "launches_per_batch", (double)t->launches / (double)res->batches);
        bj_object_end(j);
    }
    bj_array_end(j);
    bj_object_end(j);
}

static void report_shares(const epoch_run *r, const epoch_result *res) {
    double batches = (double)res->batches, launches = 0.0;
    for (size_t i = 0; i < res->ops.count; i++)
        launches += (double)res->ops.items[i].launches;
    printf("\n%s: kernel time %.3f s of %.3f s training wall time (%.0f%% busy) in %d epoch%s. "
           "Per step: wall %.3f ms, kernels %.3f ms, device idle between kernels %.3f ms, "
           "%.1f launches, host thread CPU %.3f ms, CPU of all threads %.3f ms (%.1f GFLOP "
           "per CPU-second). Per kernel:\n\n",
           r->name, res->kernel_s, res->train_s,
           res->train_s > 0 ? 100 * res->kernel_s / res->train_s : 0.0, res->epochs,
           res->epochs == 1 ? "" : "s", 1e3 * res->train_s / batches, 1e3 * res->kernel_s / batches,
           1e3 * res->ops.idle_seconds / batches, launches / batches,
           1e3 * res->host_cpu_s / batches, 1e3 * res->process_cpu_s / batches,
           res->flops_per_epoch * res->epochs / res->process_cpu_s * 1e-9);
    printf("| kernel | share | ms/batch | launches/batch |\n|---|---|---|---|\n");
    for (size_t i = 0; i < res->ops.count && i < 12; i++) {
        const op_time *t = &res->ops.items[i];
        if (t->launches == 0 && t->seconds <= 0) continue;
        printf("| %s | %.1f%% | %.3f | %.1f |\n", t->name,
               res->kernel_s > 0 ? 100 * t->seconds / res->kernel_s : 0.0,
               1e3 * t->seconds / (double)res->batches, (double)t->launches / (double)res->batches);
    }
}

pp_status bench_epochs(const bench_options *o, const char *selector, const bench_datasets *data,
                       double peak_gflops, int peak_width, bench_json *j) {
    enum { RUNS = sizeof runs / sizeof runs[0] };
    int wanted[RUNS], any = 0;
    for (size_t i = 0; i < RUNS; i++) {
        int has_data = runs[i].dataset != PP_DATASET_CIFAR10 || data->cifar_train.n > 0;
        wanted[i] = has_data && bench_run_on(o, i);
        any |= wanted[i];
    }
    if (!any) return PP_OK;
    /* the PyTorch peer reads the same samples from a file, one per data set */
    char peer_data[2][512];
    int have_peer_data[2] = {0, 0};
    for (int d = 0; d < 2 && o->python; d++) {
        const pp_dataset *train = d ? &data->cifar_train : &data->train;
        const pp_dataset *test = d ? &data->cifar_test : &data->test;
        if (train->n == 0) continue;
        if (peer_data_file(train, test, peer_data[d], sizeof peer_data[d]) == PP_OK)
            have_peer_data[d] = 1;
        else
            fprintf(stderr, "pepita-bench: no PyTorch peer: %s\n", pp_last_error());
    }
    epoch_result results[RUNS];
    int ok[RUNS];
    char errors[RUNS][256];
    memset(results, 0, sizeof results);
    /* run everything first: the rows need the highest peak measured among the runs */
    for (size_t i = 0; i < RUNS; i++) {
        ok[i] = 0;
        errors[i][0] = 0;
        if (!wanted[i]) continue;
        int cifar = runs[i].dataset == PP_DATASET_CIFAR10;
        const pp_dataset *train = cifar ? &data->cifar_train : &data->train;
        const pp_dataset *test = cifar ? &data->cifar_test : &data->test;
        pp_status st = run_one(o, selector, &runs[i], train, test,
                               have_peer_data[cifar] ? peer_data[cifar] : NULL, peak_width,
                               &peak_gflops, &results[i]);
        if (st == PP_OK)
            ok[i] = 1;
        else
            snprintf(errors[i], sizeof errors[i], "%s", pp_last_error());
    }
    bj_object_begin(j, "epochs");
    bj_string(j, "data", data->real ? "mnist" : "generated mnist-shaped");
    bj_int(j, "train_samples", (long long)data->train.n);
    bj_int(j, "test_samples", (long long)data->test.n);
    if (data->cifar_train.n) bj_int(j, "cifar10_train_samples", (long long)data->cifar_train.n);
    bj_int(j, "epochs_per_run", o->epochs);
    bj_number(j, "device_peak_gflops", peak_gflops);
    bj_array_begin(j, "runs");
    printf("\n### End to end (%s, %zu training samples",
           data->real ? "MNIST" : "generated MNIST-shaped data", data->train.n);
    if (data->cifar_train.n) printf("; CIFAR-10, %zu", data->cifar_train.n);
    printf("; best of %d epochs; each peer's epoch right after pepita-cl's)\n\n", o->epochs);
    printf("| run | s/epoch | samples/s | effective GFLOP/s | of peak (%.0f GFLOP/s, the highest "
           "measured) | peak MiB | memory constant | test acc | CPU-native OpenBLAS epoch (acc) | "
           "ratio, best (rounds) | PyTorch peer epoch (acc) | ratio, best (rounds) |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|---|\n",
           peak_gflops);
    for (size_t i = 0; i < RUNS; i++) {
        int cifar = runs[i].dataset == PP_DATASET_CIFAR10;
        if (ok[i]) {
            report(&runs[i], &results[i], (cifar ? &data->cifar_train : &data->train)->n,
                   peak_gflops, j);
        } else if (wanted[i]) {
            printf("| %s | failed: %s | | | | | | | | | | |\n", runs[i].name, errors[i]);
            bj_object_begin(j, NULL);
            bj_string(j, "run", runs[i].name);
            bj_string(j, "error", errors[i]);
            bj_object_end(j);
        }
    }
    bj_array_end(j);
    bj_object_end(j);
    for (size_t i = 0; i < RUNS; i++) {
        if (ok[i]) report_shares(&runs[i], &results[i]);
        free(results[i].ops.items);
    }
    for (int d = 0; d < 2; d++)
        if (have_peer_data[d]) unlink(peer_data[d]);
    return PP_OK;
}
