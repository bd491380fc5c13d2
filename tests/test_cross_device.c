/* The same training on two OpenCL implementations: PoCL's CPU device (the CPU
 * launch profile) and Oclgrind's simulated GPU-type device (the GPU profile:
 * other kernel variants, other launch shapes, CLBlast for the products).
 * CTest registers Oclgrind's ICD beside the system's through OCL_ICD_VENDORS
 * and turns on its data-race and API checks, logging to $OCLGRIND_LOG.
 *
 * For every rule, on the FC and the conv model, from one seed: the initial
 * weights are bit-identical, and after a few steps the weights agree within
 * CROSS_DEVICE_TOLERANCE (README, "Identical on every device"). Oclgrind
 * interprets kernels, so the shapes are small. */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest |a - b| / (1 + |b|) over every weight after 3 steps. Measured:
 * 4.7e-8 at most (FC and conv, every rule: float rounding of sums taken in
 * another order, CLBlast against the native kernels, trees against loops).
 * The bound leaves 20x room for other orders, not for a wrong kernel, which
 * moves a weight by the size of an update (1e-3 and more here). */
#define CROSS_DEVICE_TOLERANCE 1e-6
#define N_TRAIN 48 /* 3 steps of batch 16 */
#define N_TEST 16

static const char *const rules[] = {"pepita", "bp", "fa", "dfa", "drtp"};

/* "P:D" of the first device on a platform whose name contains `platform`. */
static int find_device(const char *platform, char *selector, size_t size) {
    pp_device_info *list = NULL;
    size_t count = 0;
    ck_assert_int_eq(pp_devices_list(&list, &count), PP_OK);
    int found = 0;
    for (size_t i = 0; i < count && !found; i++)
        if (strstr(list[i].platform, platform)) {
            snprintf(selector, size, "%d:%d", list[i].platform_index, list[i].device_index);
            found = 1;
        }
    free(list);
    return found;
}

typedef struct side {
    pp_context *context;
    pp_trainer *trainer;
} side;

static void side_create(side *s, const char *selector, const pp_config *c, const pp_dataset *train,
                        const pp_dataset *test) {
    pp_status st = pp_context_create(selector, &s->context);
    ck_assert_msg(st == PP_OK, "device %s: %s", selector, pp_last_error());
    st = pp_trainer_create(s->context, c, train, test, &s->trainer);
    ck_assert_msg(st == PP_OK, "%s on %s: %s", pp_rule_name(c->rule),
                  pp_context_device(s->context)->name, pp_last_error());
}

static void side_destroy(side *s) {
    pp_trainer_destroy(s->trainer);
    pp_context_destroy(s->context);
}

static void train_on_both(pp_model_kind model, const char *rule_name, const char *pocl,
                          const char *oclgrind) {
    pp_rule_kind rule;
    ck_assert_int_eq(pp_rule_parse(rule_name, &rule), PP_OK);
    pp_config c;
    ck_assert_int_eq(pp_config_preset(&c, PP_DATASET_MNIST, model, rule), PP_OK);
    c.hidden[0] = 24;
    c.conv_filters = 4;
    c.conv_kernel = 3;
    c.batch = 16;
    c.epochs = 1;
    c.seed = 11;
    c.weight_decay = 1e-4f;
    pp_dataset train, test;
    ts_quadrant_split(&train, N_TRAIN, 1);
    ts_quadrant_split(&test, N_TEST, 2);

    side a = {0}, b = {0};
    side_create(&a, pocl, &c, &train, &test);
    side_create(&b, oclgrind, &c, &train, &test);
    const double initial = ts_weights_difference(a.trainer, b.trainer, 1);
    ck_assert_msg(initial == 0.0, "%s %s: initial weights differ by %g", rule_name,
                  pp_model_name(model), initial);

    pp_epoch_stats sa, sb;
    pp_status st = pp_trainer_run_epoch(a.trainer, NULL, NULL, &sa);
    ck_assert_msg(st == PP_OK, "PoCL: %s", pp_last_error());
    st = pp_trainer_run_epoch(b.trainer, NULL, NULL, &sb);
    ck_assert_msg(st == PP_OK, "Oclgrind: %s", pp_last_error());
    const double trained = ts_weights_difference(a.trainer, b.trainer, 1);
    printf("%-6s %-4s: weights after %d steps differ by %.2e (relative), train loss %.6f / "
           "%.6f\n",
           rule_name, pp_model_name(model), N_TRAIN / c.batch, trained, sa.train_loss,
           sb.train_loss);
    ck_assert_msg(trained <= CROSS_DEVICE_TOLERANCE, "%s %s: weights differ by %g > %g", rule_name,
                  pp_model_name(model), trained, CROSS_DEVICE_TOLERANCE);
    ck_assert_msg(fabs(sa.train_loss - sb.train_loss) <= 1e-4 * (1.0 + fabs(sa.train_loss)),
                  "%s %s: train loss %g on PoCL, %g on Oclgrind", rule_name, pp_model_name(model),
                  sa.train_loss, sb.train_loss);
    side_destroy(&a);
    side_destroy(&b);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
}

/* Oclgrind's log (its data-race and API checks) must stay empty. */
static void assert_oclgrind_silent(void) {
    const char *log = getenv("OCLGRIND_LOG");
    if (!log || !*log) return;
    size_t size = 0;
    char *text = ts_read_file(log, &size);
    ck_assert_msg(text == NULL || size == 0, "Oclgrind reported:\n%s", text ? text : "");
    free(text);
}

static void run_model(pp_model_kind model) {
    char pocl[32], oclgrind[32];
    if (!find_device("Portable Computing Language", pocl, sizeof pocl) ||
        !find_device("Oclgrind", oclgrind, sizeof oclgrind)) {
        ts_skip("cross_device", "needs PoCL and Oclgrind (Debian oclgrind) registered: run "
                                "through ctest, which sets OCL_ICD_VENDORS");
        return;
    }
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++)
        train_on_both(model, rules[r], pocl, oclgrind);
    assert_oclgrind_silent();
}

START_TEST(every_rule_fc_agrees_across_implementations) {
    run_model(PP_MODEL_FC);
}
END_TEST

START_TEST(every_rule_conv_agrees_across_implementations) {
    run_model(PP_MODEL_CONV);
}
END_TEST

static Suite *cross_device_suite(void) {
    Suite *s = suite_create("cross_device");
    TCase *t = tcase_create("pocl_vs_oclgrind");
    tcase_set_timeout(t, 900);
    tcase_add_test(t, every_rule_fc_agrees_across_implementations);
    tcase_add_test(t, every_rule_conv_agrees_across_implementations);
    suite_add_tcase(s, t);
    return s;
}

int main(void) {
    return ts_run_suite(cross_device_suite());
}
