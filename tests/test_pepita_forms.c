/* PEPITA's follow-up forms (Srinivasan et al., ICLR 2024): the activation
 * normalisation, the Hebbian ("mixed") form and the time-local variant.
 * One step of each against a double-precision host model of the equations
 * (tests/reference/ref_pepita.c) for 1 to 3 hidden layers, with and without
 * dropout; checkpoint round trips with each variant on. */
#include "model/network.h"
#include "pepita/pepita.h"
#include "ref_elementwise.h"
#include "ref_pepita.h"
#include "rules/rule.h"
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rt_context *ctx;

static void setup(void) {
    ck_assert_int_eq(rt_context_create(NULL, 0, &ctx), PP_OK);
}

static void teardown(void) {
    rt_context_destroy(ctx);
    ctx = NULL;
}

enum { BATCH = 5, CLASSES = 3, INPUT = 7, STEP = 11 };
static const float LR = 0.05f;

static double *read_doubles(const rt_buf *b, size_t n) {
    float *f = malloc(n * sizeof(float));
    double *d = malloc(n * sizeof(double));
    ck_assert_int_eq(rt_buf_read(ctx, b, 0, n * sizeof(float), f), PP_OK);
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
    free(f);
    return d;
}

/* max |a - b| / max |b|: relative to the update's scale, which the
 * normalisation makes small. */
static double scaled_error(const double *a, const double *b, size_t n, double *scale) {
    double worst = 0, big = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(a[i] - b[i]));
        big = fmax(big, fabs(b[i]));
    }
    *scale = big;
    return big > 0 ? worst / big : worst;
}

static void check_close(const char *what, int layer, const double *device, const double *ref,
                        size_t n) {
    double scale, err = scaled_error(device, ref, n, &scale);
    printf("  %s layer %d: max |ref| %.3g, device vs reference %.2e\n", what, layer, scale, err);
    ck_assert_msg(scale > 1e-6, "%s layer %d: vanishing, a weak check", what, layer);
    ck_assert_msg(err < 2e-5, "%s layer %d: device vs reference %.3g", what, layer, err);
}

/* One step of the rule on an FC net INPUT-(6-5-4 cut to hidden)-CLASSES. */
static void check_one_step(pp_update_form form, int normalise, int hidden, float dropout, int naive,
                           int mirrored) {
    pp_config c;
    ck_assert_int_eq(pp_config_preset(&c, PP_DATASET_MNIST, PP_MODEL_FC, PP_RULE_PEPITA), PP_OK);
    static const int sizes[] = {6, 5, 4};
    for (int i = 0; i < hidden; i++)
        c.hidden[i] = sizes[i];
    c.n_hidden = hidden;
    c.dropout = dropout;
    c.batch = BATCH;
    c.seed = 1234;
    c.update_form = form;
    c.normalise = normalise;
    c.naive_modulated_pass = naive; /* the Hebbian form's first layer: two products */
    c.momentum = 0.9f;
    c.weight_decay = 0.01f; /* time-local's own step applies it */
    c.f_scale = 1.0f;       /* a modulation strong enough that h' differs visibly from h */
    /* a learned F (its factors as drawn: the step alone does not mirror) and so x - e F^T */
    c.mirror = mirrored;
    c.pre_mirror = 0;
    pp_status st = pp_config_validate(&c);
    ck_assert_msg(st == PP_OK, "config: %s", pp_last_error());
    printf("%s%s, %d hidden, dropout %.1f%s%s\n", pp_update_form_name(form),
           normalise ? " normalised" : "", hidden, (double)dropout,
           naive ? ", naive modulated pass" : "", mirrored ? ", mirrored F (x - e F^T)" : "");

    network *net = NULL;
    rule *r = NULL;
    st = rule_network_create(ctx, &c, 1, 1, INPUT, CLASSES, BATCH, &net);
    ck_assert_msg(st == PP_OK, "network: %s", pp_last_error());
    st = rule_create(&c, net, &r);
    ck_assert_msg(st == PP_OK, "rule: %s", pp_last_error());

    float x[BATCH * INPUT];
    ts_fill_uniform(x, BATCH * INPUT, 0.0f, 1.0f, 31 + (unsigned)form);
    int32_t labels[BATCH];
    for (int b = 0; b < BATCH; b++)
        labels[b] = (b * 2 + 1) % CLASSES;
    ck_assert_int_eq(rt_buf_write(ctx, &net->x, 0, sizeof x, x), PP_OK);
    ck_assert_int_eq(rt_buf_write(ctx, &net->labels, 0, sizeof labels, labels), PP_OK);

    ref_pepita p = {.batch = BATCH,
                    .classes = CLASSES,
                    .n_layers = net->n_layers,
                    .form = form,
                    .sign = mirrored ? -1.0 : 1.0,
                    .normalise = normalise,
                    .lr = LR,
                    .momentum = c.momentum,
                    .weight_decay = c.weight_decay};
    double xd[BATCH * INPUT];
    for (int i = 0; i < BATCH * INPUT; i++)
        xd[i] = x[i];
    double *g_ref[NET_MAX_LAYERS] = {0}, *drop[NET_MAX_LAYERS] = {0},
           *drop_mod[NET_MAX_LAYERS] = {0};
    for (int l = 0; l < net->n_layers; l++) {
        net_layer *nl = &net->layers[l];
        p.in[l] = (int)nl->in;
        p.out[l] = (int)nl->out;
        p.w[l] = read_doubles(&nl->w, nl->n_weights);
        p.v[l] = read_doubles(&nl->v, nl->n_weights);
        g_ref[l] = calloc(nl->n_weights, sizeof(double));
        op_dropout d = net_dropout(net, l, 1, STEP, c.seed);
        if (d.p == 0) continue;
        p.drop[l] = drop[l] = ref_dropout_factors_double(BATCH * nl->out, &d);
        if (form != PP_UPDATE_TIME_LOCAL) continue;
        d.layer += TIME_LOCAL_DROPOUT_LAYER; /* its modulated pass draws fresh masks */
        p.drop_mod[l] = drop_mod[l] = ref_dropout_factors_double(BATCH * nl->out, &d);
    }
    ck_assert_int_eq(r->fixed.count, mirrored ? 1 + net->n_layers : 1);
    double *f = read_doubles(&r->fixed.buf[0], INPUT * CLASSES);
    p.f = f;

    rule_step_args a = {.batch = BATCH, .step = STEP, .seed = c.seed, .lr = LR, .epoch = 1};
    st = r->step(r, &a);
    ck_assert_msg(st == PP_OK, "step: %s", pp_last_error());
    ref_pepita_step(&p, xd, labels, g_ref);

    for (int l = 0; l < net->n_layers; l++) {
        net_layer *nl = &net->layers[l];
        double *g = read_doubles(&nl->g, nl->n_weights);
        check_close("update", l, g, g_ref[l], nl->n_weights);
        free(g);
        if (form == PP_UPDATE_TIME_LOCAL) { /* the first step, taken inside the rule */
            double *w = read_doubles(&nl->w, nl->n_weights),
                   *v = read_doubles(&nl->v, nl->n_weights);
            check_close("momentum after the first step", l, v, p.v[l], nl->n_weights);
            check_close("weights after the first step", l, w, p.w[l], nl->n_weights);
            free(w);
            free(v);
        }
    }
    for (int l = 0; l < net->n_layers; l++) {
        free(p.w[l]);
        free(p.v[l]);
        free(g_ref[l]);
        free(drop[l]);
        free(drop_mod[l]);
    }
    free(f);
    rule_destroy(r);
    net_destroy(net);
}

static const pp_update_form forms[] = {PP_UPDATE_DIFFERENCE, PP_UPDATE_HEBBIAN,
                                       PP_UPDATE_TIME_LOCAL};

START_TEST(one_step_matches_the_host_model) {
    for (int form = 0; form < 3; form++)
        for (int normalise = 0; normalise <= 1; normalise++)
            for (int hidden = 1; hidden <= 3; hidden++)
                check_one_step(forms[form], normalise, hidden, hidden == 2 ? 0.3f : 0.0f, 0, 0);
    for (int normalise = 0; normalise <= 1; normalise++)
        check_one_step(PP_UPDATE_HEBBIAN, normalise, 2, 0.3f, 1, 0);
    /* with weight mirroring's sign: every form, and the Hebbian first layer's algebra */
    for (int form = 0; form < 3; form++)
        check_one_step(forms[form], 0, 2, 0.3f, 0, 1);
    check_one_step(PP_UPDATE_HEBBIAN, 0, 2, 0.3f, 1, 1);
}
END_TEST

/* ---- Checkpoints: a saved and resumed run equals an uninterrupted one ---- */

enum { N_TRAIN = 240, N_TEST = 80 };

static void check_round_trip(pp_context *pc, const char *variant, const pp_dataset *train,
                             const pp_dataset *test, const char *dir) {
    pp_config c;
    ck_assert_int_eq(pp_config_preset(&c, PP_DATASET_MNIST, PP_MODEL_FC, PP_RULE_PEPITA), PP_OK);
    char names[64];
    snprintf(names, sizeof names, "%s", variant);
    for (char *save = NULL, *name = strtok_r(names, ",", &save); name;
         name = strtok_r(NULL, ",", &save))
        ck_assert_msg(pp_config_variant(&c, name) == PP_OK, "variant %s: %s", name,
                      pp_last_error());
    c.hidden[0] = 24;
    c.hidden[1] = 12;
    c.n_hidden = 2;
    c.batch = 32; /* 240 = 7 full batches and a partial one */
    c.epochs = 3;
    c.n_decay = 1;
    c.decay_epochs[0] = 2; /* the learning rate changes after the resume */
    c.seed = 42;
    ck_assert_msg(pp_config_validate(&c) == PP_OK, "%s: %s", variant, pp_last_error());
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.ckpt", dir, variant);

    pp_trainer *straight = ts_make_trainer(pc, &c, train, test);
    ts_run_epochs(straight, 3);
    pp_trainer *first = ts_make_trainer(pc, &c, train, test);
    ts_run_epochs(first, 1);
    ck_assert_int_eq(pp_trainer_save(first, path), PP_OK);
    pp_trainer_destroy(first);

    pp_config saved;
    int epoch = -1;
    ck_assert_int_eq(pp_checkpoint_read_config(path, &saved, &epoch), PP_OK);
    ck_assert_int_eq(saved.update_form, c.update_form);
    ck_assert_int_eq(saved.normalise, c.normalise);

    pp_trainer *resumed = ts_make_trainer(pc, &saved, train, test);
    ck_assert_int_eq(pp_trainer_load(resumed, path), PP_OK);
    ts_run_epochs(resumed, 2);
    double diff = ts_weights_difference(straight, resumed, 0);
    double acc_a, acc_b;
    ck_assert_int_eq(pp_trainer_evaluate(straight, NULL, &acc_a), PP_OK);
    ck_assert_int_eq(pp_trainer_evaluate(resumed, NULL, &acc_b), PP_OK);
    printf("%s: resumed vs uninterrupted: max weight difference %g, accuracy %.4f vs %.4f\n",
           variant, diff, acc_a, acc_b);
    ck_assert_msg(diff == 0.0, "%s: the resumed run differs by %g", variant, diff);
    ck_assert(acc_a == acc_b);
    pp_trainer_destroy(straight);
    pp_trainer_destroy(resumed);
}

START_TEST(checkpoints_resume_each_variant_exactly) {
    pp_context *pc = NULL;
    ck_assert_int_eq(pp_context_create(NULL, &pc), PP_OK);
    pp_dataset train, test;
    ts_quadrant_split(&train, N_TRAIN, 1);
    ts_quadrant_split(&test, N_TEST, 2);
    char *dir = ts_make_temp_dir("forms");
    static const char *variants[] = {"norm", "hebbian", "time-local", "norm,hebbian"};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        check_round_trip(pc, variants[i], &train, &test, dir);
    ts_remove_tree(dir);
    free(dir);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    pp_context_destroy(pc);
}
END_TEST

int main(void) {
    Suite *s = suite_create("pepita_forms");
    TCase *tc = tcase_create("forms");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, one_step_matches_the_host_model);
    tcase_set_timeout(tc, 600);
    suite_add_tcase(s, tc);
    TCase *ck = tcase_create("checkpoints");
    tcase_add_test(ck, checkpoints_resume_each_variant_exactly);
    tcase_set_timeout(ck, 600);
    suite_add_tcase(s, ck);
    return ts_run_suite(s);
}
