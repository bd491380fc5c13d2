/* Weight mirroring (PEPITA's learned F): its operators against their plain-C
 * references (ref_checks_mirror, also run by `pepita selftest`), the normal
 * generator against a double-precision Box-Muller, and the mirroring module
 * against a double-precision host model of its equations. */
#include "model/network.h"
#include "ops/mirror_ops.h"
#include "ops/philox.h"
#include "ref_elementwise.h"
#include "ref_mirror.h"
#include "ref_pepita.h"
#include "ref_weight_mirroring.h"
#include "reference.h"
#include "rules/pepita_mirror.h"
#include "test_support.h"
#include "train/trainer_internal.h"

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

START_TEST(test_reference_checks_full) {
    ck_assert_uint_ge(ts_run_area_checks(ctx, 0, ref_checks_mirror, "mirror"), 33);
}
END_TEST

START_TEST(test_reference_checks_quick) {
    ck_assert_uint_ge(ts_run_area_checks(ctx, 1, ref_checks_mirror, "mirror"), 21);
}
END_TEST

/* The +-* Box-Muller against libm's in double on the same Philox words: a
 * few float ulp of the radius (tails included), over 2^20 draws. */
START_TEST(test_normal_matches_double_box_muller) {
    const uint64_t seed = 0x0123456789ABCDEFull;
    double worst = 0.0, sum = 0.0, sq = 0.0, fourth = 0.0;
    const uint32_t n = 1u << 20;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t ctr[4] = {i, 3, 4, PHILOX_DOMAIN_NORMAL};
        const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
        uint32_t w[4];
        philox4x32_10(ctr, key, w);
        const double u1 = (double)((w[0] >> 8) + 1u) / 16777216.0;
        const double u2 = (double)(w[1] >> 8) / 16777216.0;
        const double want = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        const double got = philox_normal(seed, 3, 4, i);
        const double err = fabs(got - want) / (1.0 + fabs(want));
        if (err > worst) worst = err;
        sum += got;
        sq += got * got;
        fourth += got * got * got * got;
    }
    ck_assert_msg(worst < 2e-6, "worst relative error %g", worst);
    /* moments of N(0, 1): the bounds are 6 standard errors */
    const double mean = sum / n, var = sq / n - mean * mean, kurt = fourth / n;
    ck_assert_msg(fabs(mean) < 6.0 / sqrt(n), "mean %g", mean);
    ck_assert_msg(fabs(var - 1.0) < 6.0 * sqrt(2.0 / n), "variance %g", var);
    ck_assert_msg(fabs(kurt - 3.0) < 6.0 * sqrt(96.0 / n), "fourth moment %g", kurt);
}
END_TEST

/* Keys separate: another (a, b) or seed gives other values. */
START_TEST(test_normal_keys_separate) {
    int same_a = 0, same_b = 0, same_seed = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        const float v = philox_normal(7, 10, 1, i);
        same_a += v == philox_normal(7, 11, 1, i);
        same_b += v == philox_normal(7, 10, 2, i);
        same_seed += v == philox_normal(8, 10, 1, i);
    }
    ck_assert_int_lt(same_a + same_b + same_seed, 3);
}
END_TEST

/* ---- The mirroring module on a network, against the host model ----------- */

typedef struct mirror_net {
    pp_config config;
    network *net;
    rule *rule;
    pepita_mirror *mirror;
    pepita_mirror_params params;
    ref_net ref;
    double *w[NET_MAX_LAYERS];
} mirror_net;

static float *read_floats_on(rt_context *on, const rt_buf *b, size_t n) {
    float *f = malloc(n * sizeof *f);
    ck_assert_int_eq(rt_buf_read(on, b, 0, n * sizeof(float), f), PP_OK);
    return f;
}

static float *read_floats(const rt_buf *b, size_t n) {
    return read_floats_on(ctx, b, n);
}

static double *read_doubles(const rt_buf *b, size_t n) {
    float *f = read_floats(b, n);
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
    free(f);
    return d;
}

/* A dense input-hidden...-classes network with PEPITA's rule and F = B_1...B_L. */
static void mirror_net_create(mirror_net *m, size_t input, const int *hidden, int n_hidden,
                              size_t classes, int batch, float dropout) {
    memset(m, 0, sizeof *m);
    ck_assert_int_eq(pp_config_preset(&m->config, PP_DATASET_MNIST, PP_MODEL_FC, PP_RULE_PEPITA),
                     PP_OK);
    for (int i = 0; i < n_hidden; i++)
        m->config.hidden[i] = hidden[i];
    m->config.n_hidden = n_hidden;
    m->config.dropout = dropout;
    m->config.batch = batch;
    m->config.seed = 4321;
    pp_status st =
        rule_network_create(ctx, &m->config, 1, 1, (int)input, classes, (size_t)batch, &m->net);
    ck_assert_msg(st == PP_OK, "%s", pp_last_error());
    ck_assert_int_eq(rule_create(&m->config, m->net, &m->rule), PP_OK);
    m->params = (pepita_mirror_params){.lr = 0.1f,
                                       .decay = 0.5f,
                                       .noise = 0.1f,
                                       .pre_mirror = 1,
                                       .every = 2,
                                       .target_std = 0.05f * sqrtf(2.0f / (float)input)};
    st = pepita_mirror_create(m->rule, &m->rule->fixed.buf[0], &m->params, &m->mirror);
    ck_assert_msg(st == PP_OK, "%s", pp_last_error());
    ref_net_init(&m->ref, &m->config, 1, 1, (int)input, (int)classes, batch);
    for (int l = 0; l < m->net->n_layers; l++) {
        m->w[l] = read_doubles(&m->net->layers[l].w, m->net->layers[l].n_weights);
        m->ref.w[l] = m->w[l];
    }
}

static void mirror_net_destroy(mirror_net *m) {
    pepita_mirror_destroy(m->mirror);
    rule_destroy(m->rule);
    net_destroy(m->net);
    for (int l = 0; l < NET_MAX_LAYERS; l++)
        free(m->w[l]);
}

static size_t f_size(const mirror_net *m) {
    return m->net->input_size * m->net->classes;
}

/* max |a - b| / max |b| */
static double rel_error(const double *a, const double *b, size_t n) {
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(a[i] - b[i]));
        scale = fmax(scale, fabs(b[i]));
    }
    return worst / (scale > 0 ? scale : 1.0);
}

static double std_of(const double *x, size_t n) {
    double sum = 0.0, sq = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    for (size_t i = 0; i < n; i++)
        sq += (x[i] - sum / n) * (x[i] - sum / n);
    return sqrt(sq / (double)(n - 1));
}

/* The cached F is exactly what the factors give, recomputed now. */
static void assert_cached_f_is_the_product(mirror_net *m) {
    size_t n = f_size(m);
    rt_buf fresh = {0};
    ck_assert_int_eq(rt_buf_create(ctx, n * sizeof(float), &fresh), PP_OK);
    ck_assert_int_eq(pepita_mirror_product(m->mirror, &fresh), PP_OK);
    float *a = read_floats(&m->rule->fixed.buf[0], n), *b = read_floats(&fresh, n);
    ck_assert_int_eq(memcmp(a, b, n * sizeof(float)), 0);
    free(a);
    free(b);
    rt_buf_release(ctx, &fresh);
}

/* Shapes: a tiny one of primes, two hidden layers, and CIFAR-10's 1 x 1024 at a small batch. */
static const struct {
    size_t input, classes;
    int hidden[2], n_hidden, batch;
} shapes[] = {{7, 3, {6, 5}, 2, 4}, {13, 10, {1, 0}, 1, 3}, {3072, 10, {1024, 0}, 1, 16}};

START_TEST(test_initial_f_has_the_target_std_and_is_the_product) {
    mirror_net m;
    mirror_net_create(&m, shapes[_i].input, shapes[_i].hidden, shapes[_i].n_hidden,
                      shapes[_i].classes, shapes[_i].batch, 0.1f);
    size_t n = f_size(&m);
    double *f = read_doubles(&m.rule->fixed.buf[0], n), *want = malloc(n * sizeof *want);
    double *b[NET_MAX_LAYERS] = {0};
    for (int l = 0; l < m.net->n_layers; l++)
        b[l] = read_doubles(pepita_mirror_factor(m.mirror, l), m.net->layers[l].n_weights);
    ref_mirror_product(&m.ref, b, want);
    ck_assert_msg(rel_error(f, want, n) < 1e-5, "F against the product: %g", rel_error(f, want, n));
    double sd = std_of(f, n);
    ck_assert_msg(fabs(sd / m.params.target_std - 1.0) < 1e-4, "std(F) %g, target %g", sd,
                  (double)m.params.target_std);
    assert_cached_f_is_the_product(&m);
    for (int l = 0; l < m.net->n_layers; l++)
        free(b[l]);
    free(f);
    free(want);
    mirror_net_destroy(&m);
}
END_TEST

/* Mirroring steps against ref_mirror_step: every B_l and F, step after step. */
START_TEST(test_mirror_steps_match_the_host_model) {
    mirror_net m;
    const float dropout = 0.1f;
    mirror_net_create(&m, shapes[_i].input, shapes[_i].hidden, shapes[_i].n_hidden,
                      shapes[_i].classes, shapes[_i].batch, dropout);
    size_t n = f_size(&m);
    double *b[NET_MAX_LAYERS] = {0}, *f = malloc(n * sizeof *f);
    for (int l = 0; l < m.net->n_layers; l++)
        b[l] = read_doubles(pepita_mirror_factor(m.mirror, l), m.net->layers[l].n_weights);
    double *f0 = read_doubles(&m.rule->fixed.buf[0], n);
    for (uint32_t step = 11; step < 14; step++) {
        ck_assert_int_eq(pepita_mirror_step(m.mirror, m.config.seed, step), PP_OK);
        ref_mirror_step(&m.ref, b, f, m.params.lr, m.params.decay, m.params.noise, dropout, 0,
                        m.config.seed, step, m.params.target_std);
        for (int l = 0; l < m.net->n_layers; l++) {
            double *got =
                read_doubles(pepita_mirror_factor(m.mirror, l), m.net->layers[l].n_weights);
            double err = rel_error(got, b[l], m.net->layers[l].n_weights);
            ck_assert_msg(err < 1e-4, "step %u B_%d: %g", step, l + 1, err);
            free(got);
        }
        double *got = read_doubles(&m.rule->fixed.buf[0], n);
        ck_assert_msg(rel_error(got, f, n) < 1e-4, "step %u F: %g", step, rel_error(got, f, n));
        ck_assert_msg(fabs(std_of(got, n) / m.params.target_std - 1.0) < 1e-4, "std(F) %g",
                      std_of(got, n));
        free(got);
        assert_cached_f_is_the_product(&m);
    }
    /* mirroring turned F: it is no longer the initial one */
    ck_assert_double_gt(rel_error(f, f0, n), 1e-3);
    for (int l = 0; l < m.net->n_layers; l++)
        free(b[l]);
    free(f);
    free(f0);
    mirror_net_destroy(&m);
}
END_TEST

/* Two modules of one seed mirror identically (what keeps MPI ranks together). */
START_TEST(test_mirroring_is_a_function_of_seed_and_step) {
    mirror_net a, b;
    mirror_net_create(&a, 13, (int[]){9, 0}, 1, 10, 5, 0.1f);
    mirror_net_create(&b, 13, (int[]){9, 0}, 1, 10, 5, 0.1f);
    for (uint32_t step = 0; step < 4; step++) {
        ck_assert_int_eq(pepita_mirror_step(a.mirror, a.config.seed, step), PP_OK);
        ck_assert_int_eq(pepita_mirror_step(b.mirror, b.config.seed, step), PP_OK);
    }
    size_t n = f_size(&a);
    float *fa = read_floats(&a.rule->fixed.buf[0], n), *fb = read_floats(&b.rule->fixed.buf[0], n);
    ck_assert_int_eq(memcmp(fa, fb, n * sizeof(float)), 0);
    free(fa);
    free(fb);
    mirror_net_destroy(&a);
    mirror_net_destroy(&b);
}
END_TEST

/* The deepest network --arch allows (9 hidden layers and the output) keeps
 * F and a factor per layer: one more fixed matrix than layers. */
START_TEST(test_deepest_network_mirrors) {
    pp_config c;
    ck_assert_int_eq(pp_config_preset(&c, PP_DATASET_MNIST, PP_MODEL_FC, PP_RULE_PEPITA), PP_OK);
    ck_assert_int_eq(pp_config_variant(&c, "wm"), PP_OK);
    snprintf(c.arch, sizeof c.arch, "fc8,fc8,fc8,fc8,fc8,fc8,fc8,fc8,fc8");
    c.batch = 4;
    ck_assert_msg(pp_config_validate(&c) == PP_OK, "%s", pp_last_error());
    network *net;
    rule *r;
    ck_assert_int_eq(rule_network_create(ctx, &c, 1, 1, 7, 3, 4, &net), PP_OK);
    ck_assert_int_eq(net->n_layers, 10);
    pp_status st = rule_create(&c, net, &r);
    ck_assert_msg(st == PP_OK, "%s", pp_last_error());
    ck_assert_int_eq(r->fixed.count, 11);
    rule_destroy(r);
    net_destroy(net);
}
END_TEST

START_TEST(test_schedule) {
    pepita_mirror_params p = {.pre_mirror = 2, .every = 3};
    static const int mirrors[] = {0, 1, 1, 1, 0, 0, 1, 0, 0, 1};
    for (int e = 1; e < 10; e++) {
        ck_assert_int_eq(pepita_mirror_scheduled(&p, e), mirrors[e]);
        ck_assert_int_eq(pepita_mirror_updates_weights(&p, e), e > 2);
    }
    p.every = 0;
    ck_assert_int_eq(pepita_mirror_scheduled(&p, 3), 0);
    ck_assert_int_eq(pepita_mirror_scheduled(&p, 2), 1);
}
END_TEST

/* ---- One full WM step of the rule (mirroring + PEPITA's update) ---------- */

/* PEPITA's difference form in double on a ref_net, x' = x + sign e F^T. */
static void pepita_updates(const ref_net *n, const double *x, const int32_t *labels,
                           const double *f, double sign, int normalise, double **g) {
    ref_pepita p = {.batch = n->batch,
                    .classes = n->classes,
                    .n_layers = n->n_layers,
                    .f = f,
                    .sign = sign,
                    .normalise = normalise,
                    .form = PP_UPDATE_DIFFERENCE};
    for (int l = 0; l < n->n_layers; l++) {
        p.in[l] = n->in[l];
        p.out[l] = n->out[l];
        p.w[l] = n->w[l];
        p.drop[l] = n->drop[l];
    }
    ref_pepita_step(&p, x, labels, g);
}

/* The rule with --mirror on a 7-6-5-3 network: begin_step mirrors, step
 * leaves PEPITA's updates (x' = x - e F^T) in every layer's g; both against
 * ref_mirror_step and ref_pepita_step in double. _i == 1: plain PEPITA,
 * no mirroring and the ICML sign, x' = x + e F^T (the default unchanged).
 * _i == 2: --mirror with --normalise (the mirroring pass normalises too). */
START_TEST(test_full_wm_step_matches_the_host_model) {
    enum { BATCH = 4, CLASSES = 3, INPUT = 7, STEP = 9 };
    pp_config c;
    ck_assert_int_eq(pp_config_preset(&c, PP_DATASET_MNIST, PP_MODEL_FC, PP_RULE_PEPITA), PP_OK);
    const int mirrored = _i != 1, normalise = _i == 2;
    const double sign = mirrored ? -1.0 : 1.0;
    if (mirrored) ck_assert_int_eq(pp_config_variant(&c, "wm"), PP_OK);
    c.normalise = normalise;
    c.hidden[0] = 6;
    c.hidden[1] = 5;
    c.n_hidden = 2;
    c.dropout = 0.1f;
    c.batch = BATCH;
    c.seed = 99;
    c.pre_mirror = 0;
    c.mirror_every = 1;
    c.mirror_lr = 0.1f; /* large steps: the comparison sees the update */
    network *net;
    rule *r;
    ck_assert_int_eq(rule_network_create(ctx, &c, 1, 1, INPUT, CLASSES, BATCH, &net), PP_OK);
    pp_status st = rule_create(&c, net, &r);
    ck_assert_msg(st == PP_OK, "%s", pp_last_error());
    pepita_mirror *mirror = rule_pepita_mirror(r);
    ck_assert(!mirror == !mirrored && !r->begin_step == !mirrored);
    ck_assert(!r->updates_weights == !mirrored);

    float x[BATCH * INPUT];
    int32_t labels[BATCH] = {2, 0, 1, 2};
    ts_fill_uniform(x, BATCH * INPUT, 0.0f, 1.0f, 5);
    ck_assert_int_eq(rt_buf_write(ctx, &net->x, 0, sizeof x, x), PP_OK);
    ck_assert_int_eq(rt_buf_write(ctx, &net->labels, 0, sizeof labels, labels), PP_OK);
    double xd[BATCH * INPUT];
    for (int i = 0; i < BATCH * INPUT; i++)
        xd[i] = x[i];

    ref_net ref;
    ref_net_init(&ref, &c, 1, 1, INPUT, CLASSES, BATCH);
    double *b[NET_MAX_LAYERS] = {0}, *g[NET_MAX_LAYERS] = {0}, *drop[NET_MAX_LAYERS] = {0};
    size_t nf = (size_t)INPUT * CLASSES;
    double *f = malloc(nf * sizeof *f);
    for (int l = 0; l < net->n_layers; l++) {
        size_t n = net->layers[l].n_weights;
        ref.w[l] = read_doubles(&net->layers[l].w, n);
        if (mirrored) b[l] = read_doubles(pepita_mirror_factor(mirror, l), n);
        g[l] = malloc(n * sizeof **g);
        op_dropout d = net_dropout(net, l, 1, STEP, c.seed);
        if (d.p == 0) continue;
        ref.drop[l] = drop[l] = ref_dropout_factors_double((size_t)BATCH * net->layers[l].out, &d);
    }

    double *b_plain[NET_MAX_LAYERS] = {0}; /* the factors before the step, for _i == 2 */
    for (int l = 0; normalise && l < net->n_layers; l++) {
        b_plain[l] = malloc(net->layers[l].n_weights * sizeof **b_plain);
        memcpy(b_plain[l], b[l], net->layers[l].n_weights * sizeof **b_plain);
    }
    rule_step_args args = {.batch = BATCH, .step = STEP, .seed = c.seed, .epoch = 1, .lr = c.lr};
    if (mirrored) {
        ck_assert_int_eq(r->begin_step(r, &args), PP_OK);
        ref_mirror_step(&ref, b, f, c.mirror_lr, c.mirror_decay, c.mirror_noise, c.dropout,
                        normalise, c.seed, STEP, c.f_scale * sqrt(2.0 / INPUT));
    } else {
        double *fixed_f = read_doubles(&r->fixed.buf[0], nf);
        memcpy(f, fixed_f, nf * sizeof *f);
        free(fixed_f);
    }
    ck_assert_int_eq(r->step(r, &args), PP_OK);
    pepita_updates(&ref, xd, labels, f, sign, normalise, g);

    double *got_f = read_doubles(&r->fixed.buf[0], nf);
    ck_assert_msg(rel_error(got_f, f, nf) < 1e-4, "F: %g", rel_error(got_f, f, nf));
    for (int l = 0; l < net->n_layers; l++) {
        size_t n = net->layers[l].n_weights;
        double *got_g = read_doubles(&net->layers[l].g, n);
        if (mirrored) {
            double *got_b = read_doubles(pepita_mirror_factor(mirror, l), n);
            ck_assert_msg(rel_error(got_b, b[l], n) < 1e-4, "B_%d: %g", l + 1,
                          rel_error(got_b, b[l], n));
            free(got_b);
        }
        ck_assert_msg(rel_error(got_g, g[l], n) < 1e-4, "g_%d: %g", l + 1,
                      rel_error(got_g, g[l], n));
        free(got_g);
    }
    if (normalise) { /* mirroring without the normalisation would give other B_l */
        double *got_b0 = read_doubles(pepita_mirror_factor(mirror, 0), net->layers[0].n_weights);
        double *f_plain = malloc(nf * sizeof *f_plain);
        ref_mirror_step(&ref, b_plain, f_plain, c.mirror_lr, c.mirror_decay, c.mirror_noise,
                        c.dropout, 0, c.seed, STEP, c.f_scale * sqrt(2.0 / INPUT));
        ck_assert_double_gt(rel_error(got_b0, b_plain[0], net->layers[0].n_weights), 1e-3);
        free(got_b0);
        free(f_plain);
    }
    /* the other sign would give other updates: the comparison can fail */
    pepita_updates(&ref, xd, labels, f, -sign, normalise, g);
    double *got_g0 = read_doubles(&net->layers[0].g, net->layers[0].n_weights);
    ck_assert_double_gt(rel_error(got_g0, g[0], net->layers[0].n_weights), 1e-3);
    free(got_g0);
    free(got_f);
    free(f);
    for (int l = 0; l < net->n_layers; l++) {
        free(ref.w[l]);
        free(b[l]);
        free(b_plain[l]);
        free(g[l]);
        free(drop[l]);
    }
    rule_destroy(r);
    net_destroy(net);
}
END_TEST

/* ---- Training: pre-mirroring, checkpoints, the cached F after a load ------ */

static pp_context *context;
static pp_dataset train_set, test_set;

static void training_setup(void) {
    ck_assert_int_eq(pp_context_create(NULL, &context), PP_OK);
    ts_quadrant_split(&train_set, 200, 1);
    ts_quadrant_split(&test_set, 40, 2);
}

static void training_teardown(void) {
    pp_dataset_free(&train_set);
    pp_dataset_free(&test_set);
    pp_context_destroy(context);
    context = NULL;
}

static pp_config wm_config(void) {
    pp_config c;
    ck_assert_int_eq(pp_config_preset(&c, PP_DATASET_MNIST, PP_MODEL_FC, PP_RULE_PEPITA), PP_OK);
    ck_assert_int_eq(pp_config_variant(&c, "wm"), PP_OK);
    c.hidden[0] = 24;
    c.hidden[1] = 12;
    c.n_hidden = 2;
    c.batch = 32; /* 200 = 6 full batches + one of 8 */
    c.lr = 0.05f;
    c.seed = 42;
    c.pre_mirror = 1;
    c.mirror_every = 2;
    return c;
}

static unsigned char *slurp(const char *path, size_t *size) {
    unsigned char *data = (unsigned char *)ts_read_file(path, size);
    ck_assert_msg(data, "cannot read %s", path);
    return data;
}

/* F and every B_l of a trainer, concatenated. */
static float *read_fixed(pp_trainer *t, size_t *count) {
    const rule *r = t->rule;
    size_t n = 0;
    for (int i = 0; i < r->fixed.count; i++)
        n += r->fixed.n[i];
    float *all = malloc(n * sizeof *all), *at = all;
    for (int i = 0; i < r->fixed.count; i++) {
        ck_assert_int_eq(
            rt_buf_read(t->ctx, &r->fixed.buf[i], 0, r->fixed.n[i] * sizeof(float), at), PP_OK);
        at += r->fixed.n[i];
    }
    *count = n;
    return all;
}

static void assert_trainer_f_is_the_product(pp_trainer *t) {
    pepita_mirror *m = rule_pepita_mirror(t->rule);
    ck_assert_ptr_nonnull(m);
    size_t n = t->rule->fixed.n[0];
    rt_buf fresh = {0};
    ck_assert_int_eq(rt_buf_create(t->ctx, n * sizeof(float), &fresh), PP_OK);
    ck_assert_int_eq(pepita_mirror_product(m, &fresh), PP_OK);
    float *a = read_floats_on(t->ctx, &t->rule->fixed.buf[0], n);
    float *b = read_floats_on(t->ctx, &fresh, n);
    ck_assert_int_eq(memcmp(a, b, n * sizeof(float)), 0);
    free(a);
    free(b);
    rt_buf_release(t->ctx, &fresh);
}

/* Pre-mirroring moves F but not the weights; the scheduled epochs move both. */
START_TEST(test_pre_mirroring_leaves_the_weights) {
    pp_config c = wm_config();
    pp_trainer *fresh = ts_make_trainer(context, &c, &train_set, &test_set),
               *t = ts_make_trainer(context, &c, &train_set, &test_set);
    size_t n;
    float *f0 = read_fixed(t, &n);
    ts_run_epochs(t, 1);
    ck_assert(ts_weights_difference(fresh, t, 0) == 0.0);
    float *f1 = read_fixed(t, &n);
    ck_assert_int_ne(memcmp(f0, f1, n * sizeof(float)), 0);
    ts_run_epochs(t, 1); /* epoch 2: PEPITA updates, and mirrors (2 % 2 == 0) */
    ck_assert_double_gt(ts_weights_difference(fresh, t, 0), 0.0);
    float *f2 = read_fixed(t, &n);
    ck_assert_int_ne(memcmp(f1, f2, n * sizeof(float)), 0); /* epoch 2 mirrors too */
    ts_run_epochs(t, 1);                                    /* epoch 3: no mirroring, F stays */
    float *f3 = read_fixed(t, &n);
    ck_assert_int_eq(memcmp(f2, f3, n * sizeof(float)), 0);
    assert_trainer_f_is_the_product(t);
    free(f0);
    free(f1);
    free(f2);
    free(f3);
    pp_trainer_destroy(fresh);
    pp_trainer_destroy(t);
}
END_TEST

/* Save after epoch 1 and 2, load, continue: the checkpoint after epoch 4 is
 * byte-identical to an uninterrupted run's (weights, momentum, F, B_l). */
START_TEST(test_checkpoint_resume_is_bit_identical) {
    pp_config c = wm_config();
    char *dir = ts_make_temp_dir("wm");
    char straight_path[4096], mid_path[4096], resumed_path[4096];
    snprintf(straight_path, sizeof straight_path, "%s/straight.ckpt", dir);
    snprintf(mid_path, sizeof mid_path, "%s/mid.ckpt", dir);
    snprintf(resumed_path, sizeof resumed_path, "%s/resumed.ckpt", dir);

    pp_trainer *straight = ts_make_trainer(context, &c, &train_set, &test_set);
    ts_run_epochs(straight, 4);
    ck_assert_int_eq(pp_trainer_save(straight, straight_path), PP_OK);

    for (int stop = 1; stop <= 2; stop++) {
        pp_trainer *first = ts_make_trainer(context, &c, &train_set, &test_set);
        ts_run_epochs(first, stop);
        ck_assert_int_eq(pp_trainer_save(first, mid_path), PP_OK);
        pp_trainer_destroy(first);
        pp_trainer *resumed = ts_make_trainer(context, &c, &train_set, &test_set);
        ck_assert_int_eq(pp_trainer_load(resumed, mid_path), PP_OK);
        assert_trainer_f_is_the_product(resumed);
        ts_run_epochs(resumed, 4 - stop);
        ck_assert_int_eq(pp_trainer_save(resumed, resumed_path), PP_OK);
        assert_trainer_f_is_the_product(resumed);
        size_t na, nb;
        unsigned char *a = slurp(straight_path, &na), *b = slurp(resumed_path, &nb);
        ck_assert_uint_eq(na, nb);
        ck_assert_msg(memcmp(a, b, na) == 0, "resumed after epoch %d differs", stop);
        size_t fa, fb;
        float *xa = read_fixed(straight, &fa), *xb = read_fixed(resumed, &fb);
        ck_assert_uint_eq(fa, fb);
        ck_assert_uint_eq(fa, (size_t)100 * 4 + 100 * 24 + 24 * 12 + 12 * 4);
        ck_assert_int_eq(memcmp(xa, xb, fa * sizeof(float)), 0);
        free(xa);
        free(xb);
        free(a);
        free(b);
        pp_trainer_destroy(resumed);
    }
    pp_trainer_destroy(straight);
    ts_remove_tree(dir);
    free(dir);
}
END_TEST

Suite *mirror_suite(void) {
    Suite *s = suite_create("mirror");
    TCase *ops = tcase_create("operators");
    tcase_add_checked_fixture(ops, setup, teardown);
    tcase_set_timeout(ops, 600);
    tcase_add_test(ops, test_reference_checks_full);
    tcase_add_test(ops, test_reference_checks_quick);
    tcase_add_test(ops, test_normal_matches_double_box_muller);
    tcase_add_test(ops, test_normal_keys_separate);
    suite_add_tcase(s, ops);
    TCase *module = tcase_create("module");
    tcase_add_checked_fixture(module, setup, teardown);
    tcase_set_timeout(module, 600);
    tcase_add_loop_test(module, test_initial_f_has_the_target_std_and_is_the_product, 0, 3);
    tcase_add_loop_test(module, test_mirror_steps_match_the_host_model, 0, 3);
    tcase_add_test(module, test_mirroring_is_a_function_of_seed_and_step);
    tcase_add_test(module, test_schedule);
    tcase_add_test(module, test_deepest_network_mirrors);
    tcase_add_loop_test(module, test_full_wm_step_matches_the_host_model, 0, 3);
    suite_add_tcase(s, module);
    TCase *training = tcase_create("training");
    tcase_add_checked_fixture(training, training_setup, training_teardown);
    tcase_set_timeout(training, 600);
    tcase_add_test(training, test_pre_mirroring_leaves_the_weights);
    tcase_add_test(training, test_checkpoint_resume_is_bit_identical);
    suite_add_tcase(s, training);
    return s;
}

int main(void) {
    return ts_run_suite(mirror_suite());
}
