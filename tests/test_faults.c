/* Faults during training: a run killed while it writes a checkpoint, a file
 * that may not grow, a model too large for the device, an OpenCL error in
 * the middle of an epoch. Each must leave the last checkpoint intact and
 * loadable and say clearly what went wrong.
 *
 * The processes that write checkpoints are this test binary re-executed in a
 * helper mode (`test_faults save-loop DIR`, `test_faults fsize DIR LIMIT`):
 * an OpenCL implementation cannot be used in a child forked after the
 * parent touched it, and exec gives each child a clean one. */
#define _GNU_SOURCE /* setresuid, setgroups */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pepita/pepita.h"
#include "test_support.h"

#define TRAIN_N 200
#define TEST_N 50
#define SIDE 28

/* ---- Shared helpers ---------------------------------------------------- */

static char *dir; /* a fresh directory per test */

static char *path_in(const char *name) {
    static char paths[4][4096];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s/%s", dir, name);
    return path;
}

/* A dataset in memory: n images with a deterministic pattern. */
static void make_dataset(pp_dataset *d, size_t n, unsigned seed) {
    memset(d, 0, sizeof *d);
    d->n = n;
    d->channels = 1, d->height = SIDE, d->width = SIDE, d->classes = 10;
    d->pixels = malloc(n * SIDE * SIDE);
    d->labels = malloc(n);
    for (size_t i = 0; i < n * SIDE * SIDE; i++)
        d->pixels[i] = (uint8_t)((i * 2654435761u + seed) >> 7);
    for (size_t i = 0; i < n; i++)
        d->labels[i] = (uint8_t)((i * 7 + seed) % 10);
}

static void tiny_config(pp_config *c, int hidden, uint64_t seed) {
    pp_config_preset(c, PP_DATASET_MNIST, PP_MODEL_FC, PP_RULE_PEPITA);
    c->hidden[0] = hidden;
    c->epochs = 2;
    c->batch = 50;
    c->seed = seed;
}

/* A trainer over an in-memory dataset; returns its status. */
static pp_status make_trainer(pp_context *context, int hidden, uint64_t seed, pp_trainer **t) {
    pp_config c;
    tiny_config(&c, hidden, seed);
    pp_dataset train, test;
    make_dataset(&train, TRAIN_N, 1);
    make_dataset(&test, TEST_N, 2);
    pp_status st = pp_trainer_create(context, &c, &train, &test, t);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    return st;
}

static int same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    uint8_t *da = (uint8_t *)ts_read_file(a, &na), *db = (uint8_t *)ts_read_file(b, &nb);
    int same = da && db && na == nb && memcmp(da, db, na) == 0;
    free(da);
    free(db);
    return same;
}

/* Entries of dir whose name starts with prefix. */
static int count_prefixed(const char *prefix) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, prefix, strlen(prefix))) n++;
    closedir(d);
    return n;
}

/* Copies file from over file to. */
static void restore(const char *to, const char *from) {
    size_t size = 0;
    uint8_t *data = (uint8_t *)ts_read_file(from, &size);
    ck_assert_ptr_nonnull(data);
    FILE *f = fopen(to, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
    free(data);
}

/* Removes dir/ck.tmp.* (what a killed save leaves) and says how many. */
static int remove_temporaries(void) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, "ck.tmp.", 7)) n += unlink(path_in(e->d_name)) == 0;
    closedir(d);
    return n;
}

/* Loads a checkpoint fully into a trainer of its own configuration. */
static void check_loadable(const char *path) {
    pp_config c;
    int epoch = -1;
    ck_assert_msg(pp_checkpoint_read_config(path, &c, &epoch) == PP_OK, "%s", pp_last_error());
    pp_context *context = NULL;
    ck_assert_msg(pp_context_create(NULL, &context) == PP_OK, "%s", pp_last_error());
    pp_trainer *t = NULL;
    ck_assert_msg(make_trainer(context, c.hidden[0], c.seed, &t) == PP_OK, "%s", pp_last_error());
    ck_assert_msg(pp_trainer_load(t, path) == PP_OK, "%s", pp_last_error());
    ck_assert_int_eq(pp_trainer_epoch(t), epoch);
    pp_trainer_destroy(t);
    pp_context_destroy(context);
}

static void setup(void) {
    dir = ts_make_temp_dir("faults");
    ck_assert_ptr_nonnull(dir);
}

static void teardown(void) {
    ts_remove_tree(dir);
    free(dir);
    dir = NULL;
}

/* ---- Helper modes (run in a re-executed child) ------------------------- */

static int helper_fail(const char *what) {
    printf("FAIL %s: %s\n", what, pp_last_error());
    fflush(stdout);
    return 1;
}

/* Saves two different trainers (seeds 1 and 2) as a.ref and b.ref, says
 * "ready", then saves them alternately to ck until killed. Checkpoints of
 * 1024 hidden units (6.5 MB) make each write last a while. */
static int helper_save_loop(const char *where) {
    dir = (char *)where;
    pp_context *context = NULL;
    pp_trainer *t[2] = {NULL, NULL};
    if (pp_context_create(NULL, &context) != PP_OK) return helper_fail("context");
    for (int i = 0; i < 2; i++)
        if (make_trainer(context, 1024, (uint64_t)i + 1, &t[i]) != PP_OK)
            return helper_fail("trainer");
    if (pp_trainer_save(t[0], path_in("a.ref")) != PP_OK ||
        pp_trainer_save(t[1], path_in("b.ref")) != PP_OK ||
        pp_trainer_save(t[0], path_in("ck")) != PP_OK)
        return helper_fail("first saves");
    printf("ready\n");
    fflush(stdout);
    for (unsigned i = 1;; i++)
        if (pp_trainer_save(t[i % 2], path_in("ck")) != PP_OK) return helper_fail("save");
}

/* Saves trainer A to ck, then under RLIMIT_FSIZE = limit (SIGXFSZ ignored)
 * tries to save trainer B over it; prints the status name and message. */
static int helper_fsize(const char *where, const char *limit_text) {
    dir = (char *)where;
    pp_context *context = NULL;
    pp_trainer *a = NULL, *b = NULL;
    if (pp_context_create(NULL, &context) != PP_OK) return helper_fail("context");
    if (make_trainer(context, 64, 1, &a) != PP_OK || make_trainer(context, 64, 2, &b) != PP_OK)
        return helper_fail("trainer");
    if (pp_trainer_save(a, path_in("ck")) != PP_OK) return helper_fail("first save");
    rlim_t limit = (rlim_t)strtoull(limit_text, NULL, 10);
    struct rlimit rl = {.rlim_cur = limit, .rlim_max = limit};
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) {
        printf("FAIL setrlimit: %s\n", strerror(errno));
        return 1;
    }
    pp_status st = pp_trainer_save(b, path_in("ck"));
    printf("%s\n%s\n", pp_status_name(st), pp_last_error());
    pp_trainer_destroy(a);
    pp_trainer_destroy(b);
    pp_context_destroy(context);
    return 0;
}

/* ---- Running children -------------------------------------------------- */

typedef struct child {
    pid_t pid;
    FILE *out; /* its stdout */
} child;

/* Starts argv with stdout on a pipe (stderr into dir/child.err). extra_env
 * ("NAME=value") may be NULL. */
static child start(char *const *argv, const char *extra_env) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    char err_path[4200];
    snprintf(err_path, sizeof err_path, "%s/child.err", dir);
    fflush(stdout);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (err >= 0) dup2(err, STDERR_FILENO);
        if (extra_env) putenv((char *)extra_env);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    return (child){pid, fdopen(fds[0], "r")};
}

/* Waits for a child; returns its exit code, or -signal. */
static int finish(child *c, char *out, size_t size) {
    size_t n = 0;
    if (out) {
        n = fread(out, 1, size - 1, c->out);
        out[n] = '\0';
    }
    fclose(c->out);
    int status = 0;
    ck_assert_int_eq(waitpid(c->pid, &status, 0), c->pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

static char self[4096];

/* ---- Tests ------------------------------------------------------------- */

/* SIGKILL at random moments of a loop of saves: the checkpoint is always a
 * complete one of the two states, and loads. */
START_TEST(test_sigkill_while_saving) {
    /* until three kills land inside a write (about one in four does) */
    enum { MAX_KILLS = 60, WANTED = 3 };
    int interrupted_writes = 0, k = 0;
    srand((unsigned)time(NULL));
    for (; k < MAX_KILLS && interrupted_writes < WANTED; k++) {
        char *argv[] = {self, "save-loop", dir, NULL};
        child c = start(argv, NULL);
        char line[256] = "";
        ck_assert_msg(fgets(line, sizeof line, c.out) && !strcmp(line, "ready\n"),
                      "the saving child did not start: %s", line);
        struct timespec pause = {0, (long)(rand() % 60) * 1000000L};
        nanosleep(&pause, NULL);
        kill(c.pid, SIGKILL);
        ck_assert_int_eq(finish(&c, NULL, 0), -SIGKILL);
        /* a temporary file left behind means the kill landed inside a write */
        interrupted_writes += remove_temporaries() > 0;
        ck_assert_msg(same_file(path_in("ck"), path_in("a.ref")) ||
                          same_file(path_in("ck"), path_in("b.ref")),
                      "kill %d: the checkpoint is neither complete state", k);
        pp_config config;
        ck_assert_msg(pp_checkpoint_read_config(path_in("ck"), &config, NULL) == PP_OK, "%s",
                      pp_last_error());
    }
    printf("test_sigkill_while_saving: %d of %d kills interrupted a write\n", interrupted_writes,
           k);
    ck_assert_msg(interrupted_writes > 0, "no kill landed inside a write; the test proved nothing");
    check_loadable(path_in("ck"));
}
END_TEST

/* A file-size limit below the checkpoint's size: a clear PP_ERR_IO, the
 * previous checkpoint untouched, no temporary file left. */
START_TEST(test_file_size_limit) {
    char *argv[] = {self, "fsize", dir, "65536", NULL};
    child c = start(argv, NULL);
    char out[4096];
    ck_assert_int_eq(finish(&c, out, sizeof out), 0);
    char *newline = strchr(out, '\n');
    ck_assert_msg(newline && !strncmp(out, "PP_ERR_IO\n", 10), "the child said: %s", out);
    size_t size = 0;
    uint8_t *saved = (uint8_t *)ts_read_file(path_in("ck"), &size);
    ck_assert_ptr_nonnull(saved);
    char want[8192];
    snprintf(want, sizeof want,
             "%s: writing failed after 65536 of %zu bytes: File too large; the previous file is "
             "untouched\n",
             path_in("ck"), size);
    ck_assert_str_eq(newline + 1, want);
    ck_assert_int_eq(count_prefixed("ck.tmp."), 0);
    /* still trainer A's checkpoint (seed 1), complete */
    pp_config config;
    ck_assert_msg(pp_checkpoint_read_config(path_in("ck"), &config, NULL) == PP_OK, "%s",
                  pp_last_error());
    ck_assert_uint_eq(config.seed, 1);
    free(saved);
    check_loadable(path_in("ck"));
}
END_TEST

/* --hidden 1048576,1048576: the first layer alone is 3.2 GB. */
START_TEST(test_model_too_large_api) {
    pp_context *context = NULL;
    ck_assert_msg(pp_context_create(NULL, &context) == PP_OK, "%s", pp_last_error());
    pp_config c;
    tiny_config(&c, 1 << 20, 1);
    c.hidden[1] = 1 << 20;
    c.n_hidden = 2;
    pp_dataset train, test;
    make_dataset(&train, TRAIN_N, 1);
    make_dataset(&test, TEST_N, 2);
    pp_trainer *t = NULL;
    pp_status st = pp_trainer_create(context, &c, &train, &test, &t);
    const char *message = pp_last_error();
    ck_assert_msg(st == PP_ERR_OUT_OF_MEMORY, "got %s: %s", pp_status_name(st), message);
    ck_assert_ptr_null(t);
    /* the size of the buffer that did not fit: layer 1 (784 x 2^20 floats)
     * on most devices, layer 2 (2^40 floats) on very large ones */
    ck_assert_msg(strstr(message, "3288334336 bytes") || strstr(message, "4398046511104 bytes"),
                  "the message names no size: %s", message);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    pp_context_destroy(context);
}
END_TEST

/* ---- Through the CLI --------------------------------------------------- */

/* The in-memory dataset as MNIST IDX files in dir. */
static void write_idx(const pp_dataset *d, const char *images, const char *labels) {
    size_t bytes = d->n * SIDE * SIDE;
    uint8_t *b = malloc(16 + bytes);
    ts_put_be32(b, 0x803), ts_put_be32(b + 4, (uint32_t)d->n), ts_put_be32(b + 8, SIDE);
    ts_put_be32(b + 12, SIDE);
    memcpy(b + 16, d->pixels, bytes);
    free(ts_write_file(dir, images, b, 16 + bytes));
    ts_put_be32(b, 0x801), ts_put_be32(b + 4, (uint32_t)d->n);
    memcpy(b + 8, d->labels, d->n);
    free(ts_write_file(dir, labels, b, 8 + d->n));
    free(b);
}

static void write_tiny_mnist(void) {
    pp_dataset train, test;
    make_dataset(&train, TRAIN_N, 1);
    make_dataset(&test, TEST_N, 2);
    write_idx(&train, "train-images-idx3-ubyte", "train-labels-idx1-ubyte");
    write_idx(&test, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
    pp_dataset_free(&train);
    pp_dataset_free(&test);
}

/* pepita with args (NULL-terminated), env "NAME=value" or NULL. */
static void run_cli(ts_cli_result *r, const char *env, const char *const *args) {
    ts_run_cli_with(args, &(ts_cli_options){.env = {env}}, r);
}

START_TEST(test_model_too_large_cli) {
    if (!ts_cli_path()) {
        ts_skip("test_model_too_large_cli", "no pepita binary in $PEPITA_BUILD_DIR");
        return;
    }
    write_tiny_mnist();
    ts_cli_result r;
    run_cli(&r, NULL,
            (const char *const[]){"train", "--dataset", "mnist", "--data", dir, "--hidden",
                                  "1048576,1048576", "--quiet", NULL});
    ck_assert_msg(r.exit_code == pp_status_exit_code(PP_ERR_OUT_OF_MEMORY), "exit %d, stderr: %s",
                  r.exit_code, r.err);
    ck_assert_msg(!strncmp(r.err, "error: creating the pepita fc trainer on ", 41) &&
                      (strstr(r.err, "3288334336 bytes") || strstr(r.err, "4398046511104 bytes")),
                  "stderr: %s", r.err);
}
END_TEST

/* The N-th kernel launch of the second epoch fails (the runtime's
 * PEPITA_FAULT_AFTER_LAUNCHES hook): the run stops with the OpenCL error's
 * name, and the checkpoint of epoch 1 is untouched and evaluates. */
START_TEST(test_opencl_error_mid_epoch) {
    if (!ts_cli_path()) {
        ts_skip("test_opencl_error_mid_epoch", "no pepita binary in $PEPITA_BUILD_DIR");
        return;
    }
    write_tiny_mnist();
    char *ck = strdup(path_in("run.ckpt")), *copy = strdup(path_in("epoch1.copy"));
    const char *common[] = {"--dataset", "mnist",   "--data", dir,      "--hidden",
                            "16",        "--batch", "50",     "--save", ck};
    ts_cli_result r;
    run_cli(&r, NULL,
            (const char *const[]){"train", common[0], common[1], common[2], common[3], common[4],
                                  common[5], common[6], common[7], common[8], common[9], "--epochs",
                                  "1", "--quiet", NULL});
    ck_assert_msg(r.exit_code == 0, "epoch 1 failed (%d): %s", r.exit_code, r.err);
    size_t size = 0;
    uint8_t *epoch1 = (uint8_t *)ts_read_file(ck, &size);
    ck_assert_ptr_nonnull(epoch1);
    free(ts_write_file(dir, "epoch1.copy", epoch1, size));
    free(epoch1);

    /* the largest power of two of launches that still fails inside epoch 2:
     * after the resumed trainer is set up (stdout's "training ..." line),
     * before the epoch completes; each try starts from the epoch-1 file */
    const char *const resume[] = {
        "train",   common[0], common[1], common[2],  common[3], common[4],  common[5], common[6],
        common[7], common[8], common[9], "--resume", ck,        "--epochs", "2",       NULL};
    static char env[64];
    unsigned long last = 0;
    for (unsigned long n = 4; n <= 1ul << 20; n *= 2) {
        restore(ck, copy);
        snprintf(env, sizeof env, "PEPITA_FAULT_AFTER_LAUNCHES=%lu", n);
        run_cli(&r, env, resume);
        if (r.exit_code == 0) break; /* past the end of the run */
        if (strstr(r.out, "training ")) last = n;
    }
    ck_assert_msg(last > 0, "no fault landed inside epoch 2");
    restore(ck, copy);
    snprintf(env, sizeof env, "PEPITA_FAULT_AFTER_LAUNCHES=%lu", last);
    run_cli(&r, env, resume);
    ck_assert_msg(strstr(r.out, "epoch 2/2") == NULL, "epoch 2 completed: %s", r.out);
    ck_assert_int_eq(r.exit_code, pp_status_exit_code(PP_ERR_OPENCL));
    char *newline = strchr(r.err, '\n');
    const char *name = "(CL_OUT_OF_RESOURCES)";
    ck_assert_msg(newline && !strncmp(r.err, "error: ", 7) &&
                      newline - r.err >= (ptrdiff_t)strlen(name) &&
                      !strncmp(newline - strlen(name), name, strlen(name)),
                  "stderr: %s", r.err);
    printf("test_opencl_error_mid_epoch: launch %lu failed: %.*s\n", last, (int)(newline - r.err),
           r.err);

    ck_assert_msg(same_file(ck, copy), "the epoch-1 checkpoint changed");
    run_cli(&r, NULL, (const char *const[]){"eval", "--checkpoint", ck, "--data", dir, NULL});
    ck_assert_msg(r.exit_code == 0, "eval failed (%d): %s", r.exit_code, r.err);
    ck_assert_msg(strstr(r.out, "after 1 epochs: test accuracy "), "eval said: %s", r.out);
    free(ck);
    free(copy);
}
END_TEST

static Suite *faults_suite(void) {
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("faults");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_sigkill_while_saving);
    tcase_add_test(tc, test_file_size_limit);
    tcase_add_test(tc, test_model_too_large_api);
    tcase_add_test(tc, test_model_too_large_cli);
    tcase_add_test(tc, test_opencl_error_mid_epoch);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "save-loop")) return helper_save_loop(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "fsize")) return helper_fsize(argv[2], argv[3]);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        snprintf(self, sizeof self, "%s", argv[0]);
    else
        self[n] = '\0';
    return ts_run_suite(faults_suite());
}
