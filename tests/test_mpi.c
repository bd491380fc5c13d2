/* Data-parallel training under mpirun (host/dist, host/train/data_parallel.c):
 * `mpirun -np 2 pepita train` against the same run in one process, on a
 * Fashion-MNIST subset, for PEPITA FC (with dropout), PEPITA conv and BP; and
 * the faults: a dataset missing on one rank, --resume with another count.
 *
 * CMake sets PEPITA_MPIEXEC (and the flags a root user in a container needs,
 * PEPITA_MPIEXEC_FLAGS) when the build has MPI; without it every check here
 * prints SKIP. */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Final weights of the two runs agree to this much, |a - b| / (1 + |b|),
 * after 200 steps: the ranks sum their mean updates in another order than
 * one process sums the batch, and training amplifies that float rounding.
 * Measured on PoCL (largest over all weights): BP FC 1.3e-7, PEPITA FC 5e-5,
 * PEPITA conv 8.5e-4 (a max-pool choice or a ReLU flips on a rounding
 * difference; the conv run's gap grows 1e-9, 1e-7, 1e-6, 8.5e-4 after 1, 10,
 * 50, 200 steps). Two seeds end 0.5 apart (checked below). */
#define TOLERANCE 1e-4
#define CONV_TOLERANCE 4e-3

static char *data_dir;
static const char *launcher[24];
/* The environment of the MPI runs. In the sanitizer build LeakSanitizer is off
 * for the ranks (AddressSanitizer's other checks stay): Open MPI leaves
 * allocations at MPI_Finalize in components it has unloaded by then, whose
 * frames no suppression can name. One-process runs keep the leak check. */
#define MPI_RUN_ENV "POCL_MAX_PTHREAD_COUNT=1", "ASAN_OPTIONS=detect_leaks=0"

/* The first n samples of a split as MNIST IDX files. */
static void write_idx(const char *dir, const char *prefix, const pp_dataset *d, size_t n) {
    size_t pixels = (size_t)d->height * (size_t)d->width;
    uint8_t *images = malloc(16 + n * pixels), *labels = malloc(8 + n);
    ck_assert_ptr_nonnull(images);
    ck_assert_ptr_nonnull(labels);
    ts_put_be32(images, 0x803), ts_put_be32(images + 4, (uint32_t)n);
    ts_put_be32(images + 8, (uint32_t)d->height), ts_put_be32(images + 12, (uint32_t)d->width);
    ts_put_be32(labels, 0x801), ts_put_be32(labels + 4, (uint32_t)n);
    memcpy(images + 16, d->pixels, n * pixels);
    memcpy(labels + 8, d->labels, n);
    char name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    free(ts_write_file(dir, name, images, 16 + n * pixels));
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    free(ts_write_file(dir, name, labels, 8 + n));
    free(images);
    free(labels);
}

/* Splits $PEPITA_MPIEXEC_FLAGS at spaces after $PEPITA_MPIEXEC -np 2. */
static int have_mpi(const char *test) {
    static char flags[512];
    const char *mpiexec = getenv("PEPITA_MPIEXEC");
    if (!ts_cli_path()) {
        ts_skip(test, "PEPITA_BUILD_DIR is not set (run through ctest)");
        return 0;
    }
    if (!mpiexec || !*mpiexec) {
        ts_skip(test, "built without MPI (install libopenmpi-dev openmpi-bin and reconfigure)");
        return 0;
    }
    int n = 0;
    launcher[n++] = mpiexec;
    const char *extra = getenv("PEPITA_MPIEXEC_FLAGS");
    snprintf(flags, sizeof flags, "%s", extra ? extra : "");
    for (char *word = strtok(flags, " "); word && n < 16; word = strtok(NULL, " "))
        launcher[n++] = word;
    launcher[n++] = "-np";
    launcher[n++] = "2";
    launcher[n] = NULL;
    return 1;
}

static void setup(void) {
    if (data_dir) return;
    pp_dataset train = {0}, test = {0};
    pp_status st = pp_dataset_load(PP_DATASET_FASHION_MNIST, NULL, 0, &train, &test);
    ck_assert_msg(st == PP_OK, "Fashion-MNIST (Debian dataset-fashion-mnist): %s", pp_last_error());
    data_dir = ts_make_temp_dir("mpi");
    /* 200 steps of 64 in one epoch; 500 test samples: not a multiple of the batch */
    write_idx(data_dir, "train", &train, 12800);
    write_idx(data_dir, "t10k", &test, 500);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
}

/* A trainer holding a checkpoint's weights, on this process's device. */
static pp_trainer *load_checkpoint(pp_context *context, const char *path) {
    pp_config c;
    ck_assert_msg(pp_checkpoint_read_config(path, &c, NULL) == PP_OK, "%s", pp_last_error());
    pp_dataset train = {0}, test = {0};
    ck_assert_int_eq(pp_dataset_load(c.dataset, data_dir, 0, &train, &test), PP_OK);
    pp_trainer *t = NULL;
    ck_assert_msg(pp_trainer_create(context, &c, &train, &test, &t) == PP_OK, "%s",
                  pp_last_error());
    ck_assert_msg(pp_trainer_load(t, path) == PP_OK, "%s", pp_last_error());
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    return t;
}

static double final_test_accuracy(const char *json) {
    char *text = ts_read_file(json, NULL);
    ck_assert_msg(text != NULL, "%s was not written", json);
    const char *key = strstr(text, "\"final_test_accuracy\"");
    ck_assert_msg(key != NULL, "%s has no final_test_accuracy", json);
    double accuracy = strtod(strchr(key, ':') + 1, NULL);
    free(text);
    return accuracy;
}

/* Trains `extra` (and seed) once in one process and once on two ranks, and
 * compares the final weights, the reduced test accuracy and the output. */
static void compare_runs(const char *what, const char *const *extra, int epochs, double tolerance) {
    char *dir = ts_make_temp_dir("mpirun");
    char ckpt[2][4200], json[2][4200], epochs_text[16];
    snprintf(epochs_text, sizeof epochs_text, "%d", epochs);
    for (int mpi = 0; mpi < 2; mpi++) {
        snprintf(ckpt[mpi], sizeof ckpt[mpi], "%s/%s.ckpt", dir, mpi ? "mpi" : "one");
        snprintf(json[mpi], sizeof json[mpi], "%s/%s.json", dir, mpi ? "mpi" : "one");
        const char *args[40] = {"train",   "--data", data_dir, "--epochs", epochs_text,
                                "--batch", "64",     "--seed", "5",        "--save",
                                ckpt[mpi], "--json", json[mpi]};
        int n = 13;
        for (int i = 0; extra[i]; i++)
            args[n++] = extra[i];
        args[n] = NULL;
        ts_cli_options options = {.env = {MPI_RUN_ENV, NULL}};
        if (mpi) memcpy(options.launcher, launcher, sizeof launcher);
        static ts_cli_result r;
        ts_run_cli_with(args, mpi ? &options : NULL, &r);
        if (r.exit_code != 0) printf("%s\n%s\n", r.out, r.err); /* check caps its messages */
        ck_assert_msg(r.exit_code == 0, "%s%s: exit %d", what, mpi ? " on 2 ranks" : "",
                      r.exit_code);
        if (mpi) {
            /* rank 0 alone prints: one line per epoch, not two */
            ck_assert_msg(strstr(r.out, "data-parallel over 2 MPI ranks"), "%s", r.out);
            const char *first = strstr(r.out, "epoch 1/");
            ck_assert_ptr_nonnull(first);
            ck_assert_msg(!strstr(first + 1, "epoch 1/"), "two ranks printed:\n%s", r.out);
        }
    }
    pp_context *context = NULL;
    ck_assert_int_eq(pp_context_create(NULL, &context), PP_OK);
    pp_trainer *one = load_checkpoint(context, ckpt[0]), *two = load_checkpoint(context, ckpt[1]);
    double difference = ts_weights_difference(two, one, 1);
    double accuracy[2] = {final_test_accuracy(json[0]), final_test_accuracy(json[1])};
    printf("%s: 2 ranks vs 1 process after %d epochs of 200 steps: largest weight difference "
           "%.3g (tolerance %.0e); test accuracy %.4f vs %.4f\n",
           what, epochs, difference, tolerance, accuracy[1], accuracy[0]);
    ck_assert_msg(difference <= tolerance, "%s: weights differ by %g", what, difference);
    /* the test set is split over the ranks and the counts summed: 500 samples, so a
     * prediction that flips on rounding moves it by 0.002 */
    ck_assert_msg(fabs(accuracy[0] - accuracy[1]) <= 0.0041, "%s: accuracy %g vs %g", what,
                  accuracy[1], accuracy[0]);
    pp_trainer_destroy(one);
    pp_trainer_destroy(two);
    pp_context_destroy(context);
    ts_remove_tree(dir);
    free(dir);
}

START_TEST(pepita_fc_on_two_ranks_equals_one_process) {
    if (!have_mpi("pepita fc")) return;
    setup();
    /* dropout 10% (the preset): the masks must be those of one process */
    compare_runs("PEPITA FC", (const char *[]){"--rule", "pepita", "--lr", "0.05", NULL}, 1,
                 TOLERANCE);
}
END_TEST

START_TEST(pepita_conv_on_two_ranks_equals_one_process) {
    if (!have_mpi("pepita conv")) return;
    setup();
    compare_runs("PEPITA conv",
                 (const char *[]){"--rule", "pepita", "--model", "conv", "--lr", "0.05", NULL}, 1,
                 CONV_TOLERANCE);
}
END_TEST

START_TEST(bp_on_two_ranks_equals_one_process) {
    if (!have_mpi("bp fc")) return;
    setup();
    compare_runs("BP FC", (const char *[]){"--rule", "bp", "--lr", "0.05", NULL}, 1, TOLERANCE);
}
END_TEST

/* The tolerance means something: two seeds end far apart. */
START_TEST(another_seed_is_far_beyond_the_tolerance) {
    if (!have_mpi("seed control")) return;
    setup();
    char *dir = ts_make_temp_dir("seeds");
    char ckpt[2][4200];
    for (int s = 0; s < 2; s++) {
        snprintf(ckpt[s], sizeof ckpt[s], "%s/seed%d.ckpt", dir, s);
        static ts_cli_result r;
        ts_run_cli((const char *[]){"train", "--data", data_dir, "--epochs", "1", "--lr", "0.05",
                                    "--seed", s ? "6" : "5", "--quiet", "--save", ckpt[s], NULL},
                   &r);
        if (r.exit_code != 0) printf("%s\n", r.err);
        ck_assert_int_eq(r.exit_code, 0);
    }
    pp_context *context = NULL;
    ck_assert_int_eq(pp_context_create(NULL, &context), PP_OK);
    pp_trainer *a = load_checkpoint(context, ckpt[0]), *b = load_checkpoint(context, ckpt[1]);
    double difference = ts_weights_difference(a, b, 1);
    printf("seeds 5 and 6: largest weight difference %.3g\n", difference);
    ck_assert(difference > 100 * CONV_TOLERANCE);
    pp_trainer_destroy(a);
    pp_trainer_destroy(b);
    pp_context_destroy(context);
    ts_remove_tree(dir);
    free(dir);
}
END_TEST

/* A checkpoint of two ranks is refused by a one-process --resume, naming
 * both counts; a two-rank --resume continues it. */
START_TEST(resume_needs_the_same_number_of_ranks) {
    if (!have_mpi("resume")) return;
    setup();
    char *dir = ts_make_temp_dir("resume");
    char ckpt[4200];
    snprintf(ckpt, sizeof ckpt, "%s/two.ckpt", dir);
    const char *first[] = {"train",   "--data", data_dir, "--epochs", "1",
                           "--quiet", "--save", ckpt,     NULL};
    const char *again[] = {"train",    "--data", data_dir, "--epochs", "2", "--quiet",
                           "--resume", ckpt,     "--save", ckpt,       NULL};
    ts_cli_options options = {.env = {MPI_RUN_ENV, NULL}};
    memcpy(options.launcher, launcher, sizeof launcher);
    static ts_cli_result r;
    ts_run_cli_with(first, &options, &r);
    if (r.exit_code != 0) printf("%s\n", r.err);
    ck_assert_int_eq(r.exit_code, 0);
    size_t before_size = 0;
    char *before = ts_read_file(ckpt, &before_size);
    ts_run_cli(again, &r);
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_msg(strstr(r.err, "trained on 2 MPI ranks and this run has 1"), "%s", r.err);
    ck_assert_msg(strstr(r.err, "mpirun -np 2"), "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.err, ckpt));
    size_t after_size = 0;
    char *after = ts_read_file(ckpt, &after_size);
    ck_assert(after_size == before_size && !memcmp(before, after, before_size));
    ts_run_cli_with(again, &options, &r);
    if (r.exit_code != 0) printf("%s\n", r.err);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "final test accuracy"));
    free(before);
    free(after);
    ts_remove_tree(dir);
    free(dir);
}
END_TEST

/* A dataset that rank 0 has and rank 1 does not (mpirun's MPMD form gives the
 * ranks different --data): rank 1 names itself and the file, and the job
 * ends instead of rank 0 waiting in the first allreduce. */
START_TEST(a_dataset_missing_on_one_rank_ends_the_job) {
    if (!have_mpi("missing on one rank")) return;
    setup();
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/not-here", data_dir);
    ts_cli_options options = {.env = {MPI_RUN_ENV, NULL}};
    int n = 0;
    while (launcher[n] && strcmp(launcher[n], "-np"))
        options.launcher[n] = launcher[n], n++;
    const char *tail[] = {"-np",     "1", ts_cli_path(), "train", "--data", data_dir,
                          "--quiet", ":", "-np",         "1",     NULL};
    for (int i = 0; tail[i]; i++)
        options.launcher[n++] = tail[i];
    static ts_cli_result r;
    ts_run_cli_with((const char *[]){"train", "--data", missing, "--quiet", NULL}, &options, &r);
    ck_assert_msg(r.exit_code != 0, "the job succeeded:\n%s", r.out);
    ck_assert_msg(strstr(r.err, "rank 1 of 2"), "%s", r.err);
    ck_assert_msg(strstr(r.err, "not-here"), "%s", r.err);
}
END_TEST

int main(void) {
    Suite *s = suite_create("mpi");
    TCase *tc = tcase_create("data parallel");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, pepita_fc_on_two_ranks_equals_one_process);
    tcase_add_test(tc, pepita_conv_on_two_ranks_equals_one_process);
    tcase_add_test(tc, bp_on_two_ranks_equals_one_process);
    tcase_add_test(tc, another_seed_is_far_beyond_the_tolerance);
    tcase_add_test(tc, resume_needs_the_same_number_of_ranks);
    tcase_add_test(tc, a_dataset_missing_on_one_rank_ends_the_job);
    suite_add_tcase(s, tc);
    int code = ts_run_suite(s);
    if (data_dir) ts_remove_tree(data_dir);
    free(data_dir);
    return code;
}
