/* The pepita command's happy paths: devices, train with every output, eval,
 * resume, help with the preset in force, selftest. (Bad input: test_malformed.) */
#include "test_support.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *data_dir;

/* An MNIST-shaped IDX pair: class c lights rows 2c..2c+2, plus noise. */
static void write_idx(const char *dir, const char *prefix, size_t n, unsigned seed) {
    size_t pixels = 28 * 28;
    uint8_t *images = calloc(16 + n * pixels, 1), *labels = calloc(8 + n, 1);
    float *noise = malloc(n * pixels * sizeof(float));
    ts_fill_uniform(noise, n * pixels, 0.0f, 60.0f, seed);
    ts_put_be32(images, 0x803), ts_put_be32(images + 4, (uint32_t)n);
    ts_put_be32(images + 8, 28), ts_put_be32(images + 12, 28);
    ts_put_be32(labels, 0x801), ts_put_be32(labels + 4, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        int c = (int)((i * 3 + seed) % 10);
        labels[8 + i] = (uint8_t)c;
        for (size_t p = 0; p < pixels; p++) {
            int row = (int)(p / 28);
            float v = noise[i * pixels + p] + (row >= 2 * c + 4 && row < 2 * c + 7 ? 190.0f : 0.0f);
            images[16 + i * pixels + p] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
    char name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    free(ts_write_file(dir, name, images, 16 + n * pixels));
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    free(ts_write_file(dir, name, labels, 8 + n));
    free(images);
    free(labels);
    free(noise);
}

static int have_cli(const char *test) {
    if (ts_cli_path()) return 1;
    ts_skip(test, "PEPITA_BUILD_DIR is not set (run through ctest)");
    return 0;
}

START_TEST(devices_lists_the_default_and_rejects_a_bad_selector) {
    if (!have_cli("devices")) return;
    ts_cli_result r;
    ts_run_cli((const char *[]){"devices", NULL}, &r);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "[default]"));
    ck_assert_ptr_nonnull(strstr(r.out, "OpenCL C"));
    ck_assert_ptr_nonnull(strstr(r.out, "compute units"));
    setenv("PEPITA_DEVICE", "nosuchdevice", 1);
    ts_run_cli((const char *[]){"devices", NULL}, &r);
    unsetenv("PEPITA_DEVICE");
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_msg(strstr(r.err, "error: no OpenCL device matches PEPITA_DEVICE 'nosuchdevice'"),
                  "stderr: %s", r.err);
}
END_TEST

START_TEST(train_writes_every_output_then_eval_and_resume) {
    if (!have_cli("train")) return;
    char json[4200], csv[4200], ckpt[4200];
    snprintf(json, sizeof json, "%s/run.json", data_dir);
    snprintf(csv, sizeof csv, "%s/run.csv", data_dir);
    snprintf(ckpt, sizeof ckpt, "%s/run.ckpt", data_dir);
    ts_cli_result r;
    ts_run_cli((const char *[]){"train", "--dataset",  "mnist", "--data",  data_dir, "--epochs",
                                "2",     "--hidden",   "32",    "--batch", "25",     "--lr",
                                "0.05",  "--json",     json,    "--log",   csv,      "--save",
                                ckpt,    "--analysis", NULL},
               &r);
    ck_assert_msg(r.exit_code == 0, "train exited %d: %s", r.exit_code, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "epoch 2/2"));

    char *text = ts_read_file(json, NULL);
    ck_assert_ptr_nonnull(text);
    const char *keys[] = {"\"dataset\": \"mnist\"",
                          "\"model\": \"fc\"",
                          "\"rule\": \"pepita\"",
                          "\"device\"",
                          "\"epochs\": 2",
                          "\"final_test_accuracy\"",
                          "\"best_test_accuracy\"",
                          "\"test_accuracy\": [",
                          "\"epoch_seconds\": [",
                          "\"samples_per_second\"",
                          "\"seed\": 1",
                          "\"angle_degrees\": ["};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(strstr(text, keys[i]), "JSON lacks %s:\n%s", keys[i], text);
    /* the run names the code that made it */
    char provenance[256];
    snprintf(provenance, sizeof provenance,
             "\"pepita_version\": \"%s\",\n  \"source_commit\": \"%s\"", pp_version(),
             pp_source_commit());
    ck_assert_msg(strstr(text, provenance), "JSON lacks %s:\n%s", provenance, text);
    ck_assert_int_eq(text[0], '{');
    free(text);

    text = ts_read_file(csv, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(
        strstr(text, "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds,angle_degrees"));
    ck_assert_ptr_nonnull(strstr(text, "\n1,0.05,"));
    ck_assert_ptr_nonnull(strstr(text, "\n2,0.05,"));
    free(text);

    ts_run_cli((const char *[]){"eval", "--checkpoint", ckpt, "--data", data_dir, NULL}, &r);
    ck_assert_msg(r.exit_code == 0, "eval exited %d: %s", r.exit_code, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "after 2 epochs: test accuracy"));

    /* resuming runs only the remaining epoch, with the saved configuration */
    ts_run_cli((const char *[]){"train", "--resume", ckpt, "--data", data_dir, "--epochs", "3",
                                "--save", ckpt, NULL},
               &r);
    ck_assert_msg(r.exit_code == 0, "resume exited %d: %s", r.exit_code, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "from epoch 3"));
    ck_assert_ptr_nonnull(strstr(r.out, "epoch 3/3"));
    ck_assert_ptr_null(strstr(r.out, "epoch 2/3"));
    ts_run_cli((const char *[]){"eval", "--checkpoint", ckpt, "--data", data_dir, NULL}, &r);
    ck_assert_ptr_nonnull(strstr(r.out, "after 3 epochs"));
}
END_TEST

START_TEST(help_shows_the_preset_in_force) {
    if (!have_cli("help")) return;
    ts_cli_result r;
    ts_run_cli((const char *[]){"train", "--help", "--dataset", "cifar10", "--model", "conv",
                                "--rule", "bp", NULL},
               &r);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "preset for --dataset cifar10 --model conv --rule bp"));
    ck_assert_ptr_nonnull(strstr(r.out, "batch 100, lr 0.01"));
    ck_assert_ptr_nonnull(strstr(r.out, "after epoch 10, 30, 50"));
    ts_run_cli((const char *[]){"train", "--help", "--dataset", "mnist", NULL}, &r);
    ck_assert_ptr_nonnull(strstr(r.out, "epochs 100, batch 64, lr 0.1, lr x0.1 after epoch 60"));
    ck_assert_ptr_nonnull(strstr(r.out, "dropout 0.1"));
    ts_run_cli((const char *[]){NULL}, &r);
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "usage: pepita"));
    ts_run_cli((const char *[]){"frobnicate", NULL}, &r);
    ck_assert_int_eq(r.exit_code, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "unknown command 'frobnicate'"));
    ts_run_cli((const char *[]){"--version", NULL}, &r);
    ck_assert_int_eq(r.exit_code, 0);
    char version[256];
    snprintf(version, sizeof version, "pepita %s (source %s)\n", pp_version(), pp_source_commit());
    ck_assert_str_eq(r.out, version);
}
END_TEST

START_TEST(selftest_prints_a_passing_table) {
    if (!have_cli("selftest")) return;
    ts_cli_result r;
    ts_run_cli((const char *[]){"selftest", NULL}, &r);
    ck_assert_msg(r.exit_code == 0, "selftest exited %d:\n%s\n%s", r.exit_code, r.out, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "max abs err"));
    ck_assert_ptr_nonnull(strstr(r.out, " 0 failed"));
    ck_assert_ptr_nonnull(strstr(r.out, "pass"));
    ck_assert_ptr_null(strstr(r.out, "FAIL"));
}
END_TEST

START_TEST(ctrl_c_finishes_the_batch_saves_and_exits_130) {
    if (!have_cli("sigint")) return;
    char ckpt[4200], json[4200];
    snprintf(ckpt, sizeof ckpt, "%s/sigint.ckpt", data_dir);
    snprintf(json, sizeof json, "%s/sigint.json", data_dir);
    unlink(ckpt);
    unlink(json);
    const char *argv[] = {ts_cli_path(), "train",  "--dataset", "mnist", "--data",  data_dir,
                          "--epochs",    "100000", "--hidden",  "32",    "--batch", "10",
                          "--save",      ckpt,     "--json",    json,    "--quiet", NULL};
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(123);
    }
    /* interrupt once the first epoch's report exists: training is under way */
    struct stat st;
    for (int i = 0; i < 1200 && stat(json, &st) != 0; i++)
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    ck_assert_int_eq(stat(json, &st), 0);
    kill(pid, SIGINT);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 130, "status %d", status);
    /* the state saved on the interrupt loads */
    ts_cli_result r;
    ts_run_cli((const char *[]){"eval", "--checkpoint", ckpt, "--data", data_dir, NULL}, &r);
    ck_assert_msg(r.exit_code == 0, "eval exited %d: %s", r.exit_code, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "test accuracy"));
}
END_TEST

int main(void) {
    data_dir = ts_make_temp_dir("cli-data");
    write_idx(data_dir, "train", 300, 1);
    write_idx(data_dir, "t10k", 100, 2);
    Suite *suite = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, devices_lists_the_default_and_rejects_a_bad_selector);
    tcase_add_test(tc, train_writes_every_output_then_eval_and_resume);
    tcase_add_test(tc, help_shows_the_preset_in_force);
    tcase_add_test(tc, selftest_prints_a_passing_table);
    tcase_add_test(tc, ctrl_c_finishes_the_batch_saves_and_exits_130);
    suite_add_tcase(suite, tc);
    int rc = ts_run_suite(suite);
    ts_remove_tree(data_dir);
    free(data_dir);
    return rc;
}
