/* Start-up: the wall time of a child process that opens the device, builds
 * every kernel a PEPITA FC training run uses (and settles the GEMM dispatch),
 * trains a few batches and evaluates, first with empty caches (a fresh
 * POCL_CACHE_DIR, XDG_CACHE_HOME, PEPITA_CACHE_DIR and CUDA_CACHE_PATH), then
 * again with the caches that run left behind. */
#define _XOPEN_SOURCE 700
#include "bench.h"
#include "runtime/error.h"

#include <errno.h>
#include <math.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int bench_startup_child(const char *selector) {
    pp_context *context = NULL;
    pp_trainer *trainer = NULL;
    pp_dataset train = {0}, test = {0};
    pp_config c;
    pp_epoch_stats s;
    pp_status st;
    PP_TRY_GOTO(st, pp_config_preset(&c, PP_DATASET_MNIST, PP_MODEL_FC, PP_RULE_PEPITA), done);
    PP_TRY_GOTO(st, bench_data_generate(4 * (size_t)c.batch, 1, 28, 28, 10, 1, &train), done);
    PP_TRY_GOTO(st, bench_data_generate((size_t)c.batch, 1, 28, 28, 10, 2, &test), done);
    PP_TRY_GOTO(st, pp_context_create(*selector ? selector : NULL, &context), done);
    PP_TRY_GOTO(st, pp_trainer_create(context, &c, &train, &test, &trainer), done);
    PP_TRY_GOTO(st, pp_trainer_run_epoch(trainer, NULL, NULL, &s), done);
done:
    if (st != PP_OK) fprintf(stderr, "pepita-bench start-up child: %s\n", pp_last_error());
    pp_trainer_destroy(trainer);
    pp_context_destroy(context);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    return st == PP_OK ? 0 : 1;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Runs the child, with the caches under dir (NULL: the caches it inherits);
 * its wall time in *seconds. */
static pp_status run_child(const bench_options *o, const char *selector, const char *dir,
                           double *seconds) {
    char pocl[1100], xdg[1100], pepita[1100], cuda[1100];
    if (dir) {
        snprintf(pocl, sizeof pocl, "%s/pocl", dir);
        snprintf(xdg, sizeof xdg, "%s/xdg", dir);
        snprintf(pepita, sizeof pepita, "%s/pepita", dir);
        snprintf(cuda, sizeof cuda, "%s/cuda", dir);
    }
    fflush(stdout);
    fflush(stderr);
    double start = bench_now();
    pid_t pid = fork();
    if (pid < 0) return pp_fail(PP_ERR_IO, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (dir) {
            setenv("POCL_CACHE_DIR", pocl, 1);
            setenv("XDG_CACHE_HOME", xdg, 1);
            setenv("PEPITA_CACHE_DIR", pepita, 1);
            setenv("CUDA_CACHE_PATH", cuda, 1);
        }
        char *argv[] = {(char *)o->self_path, "--startup-child", (char *)(selector ? selector : ""),
                        NULL};
        execv("/proc/self/exe", argv);
        execv(o->self_path, argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return pp_fail(PP_ERR_IO, "waitpid: %s", strerror(errno));
    *seconds = bench_now() - start;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return pp_fail(PP_ERR_INTERNAL, "the start-up child failed (status %d)", status);
    return PP_OK;
}

pp_status bench_startup(const bench_options *o, const char *selector, bench_json *j) {
    double cold = -1, warm = -1, best_warm = -1;
    pp_status st = PP_OK;
    if (o->quick) {
        /* a smoke run: only a start with the caches this process has */
        st = run_child(o, selector, NULL, &best_warm);
    } else {
        const char *tmp = getenv("TMPDIR");
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/pepita-bench-startup-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) return pp_fail(PP_ERR_IO, "mkdtemp %s: %s", dir, strerror(errno));
        st = run_child(o, selector, dir, &cold);
        for (int i = 0; st == PP_OK && i < 3; i++) {
            st = run_child(o, selector, dir, &warm);
            if (st == PP_OK && (best_warm < 0 || warm < best_warm)) best_warm = warm;
        }
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    bj_object_begin(j, "startup");
    bj_string(j, "what",
              "process start to exit: device, kernel builds, GEMM dispatch, "
              "PEPITA FC 784-1024-10 trainer, 4 batches, evaluation");
    if (st != PP_OK) bj_string(j, "error", pp_last_error());
    bj_number(j, "cold_seconds", cold >= 0 ? cold : NAN);
    bj_number(j, "warm_seconds", best_warm >= 0 ? best_warm : NAN);
    bj_object_end(j);
    printf("\n### Start-up (PEPITA FC trainer, 4 batches, evaluation; whole process)\n\n"
           "| cache | seconds | target |\n|---|---|---|\n");
    if (cold >= 0)
        printf("| cold (empty PoCL, GEMM dispatch and driver caches) | %.2f | < 10 |\n", cold);
    else
        printf("| cold | %s | < 10 |\n", o->quick ? "skipped (--quick)" : "failed");
    printf("| warm (best of %d) | %.2f | < 1 |\n", o->quick ? 1 : 3, best_warm);
    return st;
}
