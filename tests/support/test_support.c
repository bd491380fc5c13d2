#define _GNU_SOURCE /* setresuid, setgroups */
#include "test_support.h"

#include <ftw.h>
#include <grp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int ts_run_suite(Suite *suite) {
    SRunner *runner = srunner_create(suite);
    srunner_set_fork_status(runner, CK_NOFORK);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}

char *ts_make_temp_dir(const char *tag) {
    const char *base = getenv("TMPDIR");
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/pepita-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

void ts_remove_tree(const char *path) {
    if (path) nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *ts_write_file(const char *dir, const char *name, const void *data, size_t size) {
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(path);
        return NULL;
    }
    if (size) fwrite(data, 1, size, f);
    fclose(f);
    return path;
}

const char *ts_shared_dataset_dir(const char *name) {
    static char path[4096];
    const char *root = getenv("PEPITA_TEST_DATA");
    if (!root || !*root) root = "../shared/datasets";
    snprintf(path, sizeof path, "%s/%s", root, name);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
    return path;
}

void ts_skip(const char *test, const char *why) {
    printf("SKIP: %s: %s\n", test, why);
    fflush(stdout);
}

void ts_fill_uniform(float *values, size_t n, float lo, float hi, unsigned seed) {
    uint64_t state = 0x9E3779B97F4A7C15ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        values[i] = lo + (hi - lo) * (float)((state >> 40) * (1.0 / 16777216.0));
    }
}

void ts_put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

rt_buf ts_upload(rt_context *ctx, const void *data, size_t bytes) {
    rt_buf b = {0};
    ck_assert_int_eq(rt_buf_create(ctx, bytes, &b), PP_OK);
    if (data) ck_assert_int_eq(rt_buf_write(ctx, &b, 0, bytes, data), PP_OK);
    return b;
}

void ts_download(rt_context *ctx, const rt_buf *b, void *dst, size_t bytes) {
    ck_assert_int_eq(rt_buf_read(ctx, b, 0, bytes, dst), PP_OK);
}

void ts_quadrant_split(pp_dataset *d, size_t n, unsigned seed) {
    enum { SIDE = 10, CLASSES = 4 };
    memset(d, 0, sizeof *d);
    d->n = n;
    d->channels = 1;
    d->height = d->width = SIDE;
    d->classes = CLASSES;
    d->pixels = malloc(n * SIDE * SIDE);
    d->labels = malloc(n);
    float *noise = malloc(n * SIDE * SIDE * sizeof(float));
    ts_fill_uniform(noise, n * SIDE * SIDE, 0.0f, 90.0f, seed);
    for (size_t i = 0; i < n; i++) {
        int label = (int)((i * 7 + seed) % CLASSES);
        d->labels[i] = (uint8_t)label;
        for (int p = 0; p < SIDE * SIDE; p++) {
            int quadrant = (p / SIDE >= SIDE / 2) * 2 + (p % SIDE >= SIDE / 2);
            float v = noise[i * SIDE * SIDE + (size_t)p] + (quadrant == label ? 150.0f : 0.0f);
            d->pixels[i * SIDE * SIDE + (size_t)p] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
    free(noise);
}

double ts_weights_difference(pp_trainer *a, pp_trainer *b, int relative) {
    int layers = 0;
    double worst = 0;
    ck_assert_int_eq(pp_trainer_layer_count(a, &layers), PP_OK);
    for (int l = 0; l < layers; l++) {
        float *wa, *wb;
        size_t na, nb;
        ck_assert_int_eq(pp_trainer_read_weights(a, l, &wa, &na), PP_OK);
        ck_assert_int_eq(pp_trainer_read_weights(b, l, &wb, &nb), PP_OK);
        ck_assert_uint_eq(na, nb);
        for (size_t i = 0; i < na; i++) {
            double d = fabs((double)wa[i] - wb[i]);
            worst = fmax(worst, relative ? d / (1.0 + fabs((double)wb[i])) : d);
        }
        free(wa);
        free(wb);
    }
    return worst;
}

void ts_assert_all_pass(const ref_check_list *list, const char *area) {
    int failed = 0;
    for (size_t i = 0; i < list->count; i++) {
        const ref_check_result *r = &list->items[i];
        if (r->pass) continue;
        failed++;
        printf("FAIL %s %s: status %s, max abs %.3g, max rel %.3g > tolerance %.3g\n", r->op,
               r->shape, pp_status_name(r->status), r->max_abs_error, r->max_rel_error,
               r->tolerance);
    }
    ck_assert_msg(failed == 0, "%d of %zu %s checks failed", failed, list->count, area);
}

size_t ts_run_area_checks(rt_context *ctx, int quick,
                          pp_status (*checks)(rt_context *, int, ref_check_list *),
                          const char *area) {
    ref_check_list list = {0};
    const clock_t start = clock();
    ck_assert_int_eq(checks(ctx, quick, &list), PP_OK);
    printf("%s %s checks: %zu results, %.2f s CPU\n", quick ? "quick" : "full", area, list.count,
           (double)(clock() - start) / CLOCKS_PER_SEC);
    ts_assert_all_pass(&list, area);
    size_t count = list.count;
    ref_check_list_free(&list);
    return count;
}

/* The uid and gid of user nobody. */
enum { NOBODY = 65534 };

const char *ts_cli_path(void) {
    static char path[4096];
    const char *build = getenv("PEPITA_BUILD_DIR");
    if (!build || !*build) return NULL;
    snprintf(path, sizeof path, "%s/pepita", build);
    return access(path, X_OK) == 0 ? path : NULL;
}

char *ts_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *data = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
        data = malloc((size_t)n + 1);
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    if (!data) return NULL;
    data[n] = '\0';
    if (size) *size = (size_t)n;
    return data;
}

static void read_into(const char *path, char *out, size_t size) {
    size_t n = 0;
    char *data = ts_read_file(path, &n);
    if (n > size - 1) n = size - 1;
    if (data) memcpy(out, data, n);
    out[data ? n : 0] = '\0';
    free(data);
}

/* Copies the pepita binary into dir (mode 755) and returns the copy's path:
 * nobody cannot reach the build directory when the repository is cloned
 * under a private (mode 700) directory such as root's home or mktemp -d. */
static int copy_binary_for_nobody(const char *dir, char *copy, size_t size) {
    snprintf(copy, size, "%s/pepita", dir);
    size_t n = 0;
    char *data = ts_read_file(ts_cli_path(), &n);
    if (!data) return -1;
    int fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    ssize_t wrote = fd >= 0 ? write(fd, data, n) : -1;
    int failed = fd < 0 || wrote != (ssize_t)n || fchmod(fd, 0755) != 0;
    if (fd >= 0 && close(fd) != 0) failed = 1;
    free(data);
    return failed ? -1 : 0;
}

/* In the child: gives the output files and a fresh HOME under dir to nobody
 * (PoCL shows no device without a writable cache directory), then drops root. */
static void become_nobody(const char *dir, int out, int err) {
    if (fchown(out, NOBODY, NOBODY) || fchown(err, NOBODY, NOBODY)) _exit(121);
    char home[4200];
    snprintf(home, sizeof home, "%s/home", dir);
    if (mkdir(home, 0755) || chown(home, NOBODY, NOBODY)) _exit(121);
    setenv("HOME", home, 1);
    setenv("XDG_CACHE_HOME", home, 1);
    setenv("POCL_CACHE_DIR", home, 1); /* the suite's own is root's, in the build directory */
    if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
        setresuid(NOBODY, NOBODY, NOBODY))
        _exit(TS_CLI_CANNOT_BECOME_NOBODY);
    /* a private TMPDIR keeps nobody out of everything under it */
    if (access(home, W_OK | X_OK) != 0) _exit(TS_CLI_NOBODY_LOCKED_OUT);
}

const char *ts_cli_nobody_skip_reason(const ts_cli_result *result) {
    switch (result->exit_code) {
    case TS_CLI_CANNOT_BECOME_NOBODY:
        return "cannot switch to user nobody";
    case TS_CLI_NOBODY_LOCKED_OUT:
        return "user nobody cannot reach the temporary directory (is TMPDIR private?)";
    default:
        return NULL;
    }
}

void ts_run_cli(const char *const *args, ts_cli_result *result) {
    ts_run_cli_with(args, NULL, result);
}

void ts_run_cli_with(const char *const *args, const ts_cli_options *options,
                     ts_cli_result *result) {
    const ts_cli_options none = {0};
    if (!options) options = &none;
    char *dir = ts_make_temp_dir("cli");
    /* nobody must reach its HOME in here */
    if (options->as_nobody) chmod(dir, 0755);
    char out_path[4200], err_path[4200];
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    snprintf(err_path, sizeof err_path, "%s/err", dir);
    const char *argv[80];
    int argc = 0;
    char copy[4200];
    for (int i = 0; i < 23 && options->launcher[i]; i++)
        argv[argc++] = options->launcher[i];
    const int binary = argc;
    argv[argc++] = ts_cli_path();
    if (options->as_nobody) {
        if (copy_binary_for_nobody(dir, copy, sizeof copy) != 0) {
            result->exit_code = TS_CLI_NOT_RUN;
            snprintf(result->err, sizeof result->err, "cannot copy %s into %s", argv[binary], dir);
            result->out[0] = '\0';
            ts_remove_tree(dir);
            free(dir);
            return;
        }
        argv[binary] = copy;
    }
    for (; *args && argc < 79; args++)
        argv[argc++] = *args;
    argv[argc] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || err < 0) _exit(120);
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        if (options->as_nobody) become_nobody(dir, out, err);
        for (int i = 0; i < 4 && options->env[i]; i++)
            putenv((char *)options->env[i]);
        execvp(argv[0], (char *const *)argv);
        _exit(123);
    }
    int status = 0;
    result->exit_code = -1000;
    if (pid > 0 && waitpid(pid, &status, 0) == pid)
        result->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    read_into(out_path, result->out, sizeof result->out);
    read_into(err_path, result->err, sizeof result->err);
    ts_remove_tree(dir);
    free(dir);
}

pp_trainer *ts_make_trainer(pp_context *context, const pp_config *config, const pp_dataset *train,
                            const pp_dataset *test) {
    pp_trainer *t = NULL;
    pp_status st = pp_trainer_create(context, config, train, test, &t);
    ck_assert_msg(st == PP_OK, "trainer: %s", pp_last_error());
    return t;
}

void ts_run_epochs(pp_trainer *trainer, int epochs) {
    for (int e = 0; e < epochs; e++) {
        pp_epoch_stats stats;
        pp_status st = pp_trainer_run_epoch(trainer, NULL, NULL, &stats);
        ck_assert_msg(st == PP_OK, "epoch: %s", pp_last_error());
    }
}
