/* The baseline rules (BP, FA, DFA, DRTP) against a double-precision host
 * model (tests/reference/ref_network.c): BP's gradients against central
 * finite differences, every rule's one-step updates against the reference,
 * fixed feedback matrices, and learning on small synthetic problems. */
#include "model/network.h"
#include "ref_elementwise.h"
#include "ref_network.h"
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

/* ---- A tiny network driven through the internal rule API ---------------- */

enum { BATCH = 4, CLASSES = 3, STEP = 7 };

typedef struct tiny {
    pp_config config; /* the rule keeps a pointer to it */
    network *net;
    rule *rule;
    ref_net ref;
    int in_c, in_h, in_w;
    size_t input;
    float *x;
    int32_t labels[BATCH];
    double *xd;
    double *w[NET_MAX_LAYERS];
    double *drop[NET_MAX_LAYERS];
} tiny;

/* FC 7-6-5-3, or conv 1x8x8 -> 2 filters 3x3 -> pool -> dense to 3. */
static void tiny_config(pp_config *c, pp_model_kind model, pp_rule_kind rule, float dropout) {
    ck_assert_int_eq(pp_config_preset(c, PP_DATASET_MNIST, model, rule), PP_OK);
    c->hidden[0] = 6;
    c->hidden[1] = 5;
    c->n_hidden = 2;
    c->conv_filters = 2;
    c->conv_kernel = 3;
    c->dropout = dropout;
    c->batch = BATCH;
    c->seed = 1234;
}

static void read_floats(const rt_buf *b, size_t n, float *out) {
    ck_assert_int_eq(rt_buf_read(ctx, b, 0, n * sizeof(float), out), PP_OK);
}

/* Reads device buffer b (n floats) into a new double array. */
static double *read_doubles(const rt_buf *b, size_t n) {
    float *f = malloc(n * sizeof(float));
    double *d = malloc(n * sizeof(double));
    read_floats(b, n, f);
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
    free(f);
    return d;
}

/* hidden > 0: the FC net's hidden widths in place of 6 and 5. */
static void tiny_create_sized(tiny *t, pp_model_kind model, pp_rule_kind rule, float dropout,
                              int hidden) {
    memset(t, 0, sizeof *t);
    tiny_config(&t->config, model, rule, dropout);
    if (hidden > 0) t->config.hidden[0] = t->config.hidden[1] = hidden;
    if (model == PP_MODEL_CONV)
        t->in_c = 1, t->in_h = 8, t->in_w = 8;
    else
        t->in_c = 1, t->in_h = 1, t->in_w = 7;
    t->input = (size_t)t->in_c * t->in_h * t->in_w;
    pp_status st =
        rule_network_create(ctx, &t->config, t->in_c, t->in_h, t->in_w, CLASSES, BATCH, &t->net);
    ck_assert_msg(st == PP_OK, "rule_network_create: %s", pp_last_error());
    st = rule_create(&t->config, t->net, &t->rule);
    ck_assert_msg(st == PP_OK, "rule_create: %s", pp_last_error());

    t->x = malloc(BATCH * t->input * sizeof(float));
    ts_fill_uniform(t->x, BATCH * t->input, 0.0f, 1.0f, 99 + (unsigned)rule);
    for (int b = 0; b < BATCH; b++)
        t->labels[b] = (b * 2 + 1) % CLASSES;
    ck_assert_int_eq(rt_buf_write(ctx, &t->net->x, 0, BATCH * t->input * sizeof(float), t->x),
                     PP_OK);
    ck_assert_int_eq(rt_buf_write(ctx, &t->net->labels, 0, sizeof t->labels, t->labels), PP_OK);
    t->xd = malloc(BATCH * t->input * sizeof(double));
    for (size_t i = 0; i < BATCH * t->input; i++)
        t->xd[i] = t->x[i];

    ref_net_init(&t->ref, &t->config, t->in_c, t->in_h, t->in_w, CLASSES, BATCH);
    ck_assert_int_eq(t->ref.n_layers, t->net->n_layers);
    for (int l = 0; l < t->net->n_layers; l++) {
        ck_assert_uint_eq((size_t)ref_net_weights(&t->ref, l), t->net->layers[l].n_weights);
        t->w[l] = read_doubles(&t->net->layers[l].w, t->net->layers[l].n_weights);
        t->ref.w[l] = t->w[l];
        op_dropout d = net_dropout(t->net, l, 1, STEP, t->config.seed);
        if (d.p == 0) continue;
        t->ref.drop[l] = t->drop[l] = ref_dropout_factors_double(BATCH * t->net->layers[l].out, &d);
    }
}

static void tiny_create(tiny *t, pp_model_kind model, pp_rule_kind rule, float dropout) {
    tiny_create_sized(t, model, rule, dropout, 0);
}

static void tiny_destroy(tiny *t) {
    rule_destroy(t->rule);
    net_destroy(t->net);
    free(t->x);
    free(t->xd);
    for (int l = 0; l < NET_MAX_LAYERS; l++) {
        free(t->w[l]);
        free(t->drop[l]);
    }
}

static void tiny_step(tiny *t) {
    rule_step_args a = {.batch = BATCH, .step = STEP, .seed = t->config.seed};
    pp_status st = t->rule->step(t->rule, &a);
    ck_assert_msg(st == PP_OK, "%s step: %s", t->rule->name, pp_last_error());
}

/* max |a-b| / (1 + |b|). */
static double rel_error(const double *a, const double *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]) / (1.0 + fabs(b[i]));
        if (e > worst) worst = e;
    }
    return worst;
}

static double max_abs(const double *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* ---- BP against central finite differences ------------------------------ */

static void check_bp_gradients(pp_model_kind model) {
    tiny t;
    tiny_create(&t, model, PP_RULE_BP, 0.0f);
    tiny_step(&t);
    const double eps = 1e-6;
    for (int l = 0; l < t.net->n_layers; l++) {
        size_t n = t.net->layers[l].n_weights;
        double *g = read_doubles(&t.net->layers[l].g, n);
        double *fd = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            double w0 = t.w[l][i];
            t.w[l][i] = w0 + eps;
            double up = ref_net_loss(&t.ref, t.xd, t.labels);
            t.w[l][i] = w0 - eps;
            double down = ref_net_loss(&t.ref, t.xd, t.labels);
            t.w[l][i] = w0;
            fd[i] = (up - down) / (2 * eps);
        }
        /* the analytic reference the other rules' checks rely on agrees too */
        double *ref_g[NET_MAX_LAYERS] = {0};
        for (int k = 0; k < t.net->n_layers; k++)
            ref_g[k] = malloc(t.net->layers[k].n_weights * sizeof(double));
        ref_net_updates(&t.ref, PP_RULE_BP, t.xd, t.labels, NULL, ref_g);
        double err = rel_error(g, fd, n), ref_err = rel_error(ref_g[l], fd, n);
        printf("bp %s layer %d: %zu weights, max |g| %.3g, device vs FD %.2e, reference vs FD "
               "%.2e\n",
               pp_model_name(model), l, n, max_abs(fd, n), err, ref_err);
        ck_assert_msg(max_abs(fd, n) > 1e-4, "layer %d has a vanishing gradient: a weak check", l);
        ck_assert_msg(err < 1e-4, "layer %d: BP gradient vs finite differences %.3g", l, err);
        ck_assert_msg(ref_err < 1e-7, "layer %d: reference vs finite differences %.3g", l, ref_err);
        for (int k = 0; k < t.net->n_layers; k++)
            free(ref_g[k]);
        free(g);
        free(fd);
    }
    tiny_destroy(&t);
}

START_TEST(bp_fc_matches_finite_differences) {
    check_bp_gradients(PP_MODEL_FC);
}
END_TEST

START_TEST(bp_conv_matches_finite_differences) {
    check_bp_gradients(PP_MODEL_CONV);
}
END_TEST

/* ---- One step of every rule against the reference ----------------------- */

/* The feedback matrix each layer's signal uses, as the reference wants them. */
static void feedback_for(tiny *t, double *fb[NET_MAX_LAYERS]) {
    rule *r = t->rule;
    pp_rule_kind kind = t->config.rule;
    int hidden = t->net->n_layers - 1;
    if (kind == PP_RULE_BP) {
        ck_assert_int_eq(r->fixed.count, 0);
        return;
    }
    /* FA: B_1..B_L shaped like W_l; DFA, DRTP: B_0..B_{L-1}, classes x out_l
     * (a conv layer: classes x its units before the pooling) */
    ck_assert_int_eq(r->fixed.count, hidden);
    for (int i = 0; i < r->fixed.count; i++) {
        int layer = kind == PP_RULE_FA ? i + 1 : i;
        const net_layer *l = &t->net->layers[layer];
        size_t units = l->kind == NET_CONV ? l->units : l->out;
        size_t want = kind == PP_RULE_FA ? l->n_weights : CLASSES * units;
        ck_assert_uint_eq(r->fixed.n[i], want);
        fb[layer] = read_doubles(&r->fixed.buf[i], want);
        ck_assert_msg(max_abs(fb[layer], want) > 0, "feedback matrix %d is zero", i);
    }
}

static void check_one_step(pp_model_kind model, pp_rule_kind kind, float dropout) {
    tiny t;
    tiny_create(&t, model, kind, dropout);
    tiny_step(&t);
    double *fb[NET_MAX_LAYERS] = {0}, *ref_g[NET_MAX_LAYERS] = {0};
    feedback_for(&t, fb);
    for (int l = 0; l < t.net->n_layers; l++)
        ref_g[l] = malloc(t.net->layers[l].n_weights * sizeof(double));
    ref_net_updates(&t.ref, kind, t.xd, t.labels, (const double *const *)fb, ref_g);
    for (int l = 0; l < t.net->n_layers; l++) {
        size_t n = t.net->layers[l].n_weights;
        double *g = read_doubles(&t.net->layers[l].g, n);
        double err = rel_error(g, ref_g[l], n);
        printf("%s %s dropout %.1f layer %d: max |g| %.3g, device vs reference %.2e\n",
               pp_rule_name(kind), pp_model_name(model), (double)dropout, l, max_abs(ref_g[l], n),
               err);
        ck_assert_msg(max_abs(ref_g[l], n) > 1e-5, "%s layer %d: a vanishing update",
                      pp_rule_name(kind), l);
        ck_assert_msg(err < 1e-4, "%s layer %d: update vs reference %.3g", pp_rule_name(kind), l,
                      err);
        free(g);
    }
    /* the standard pass's loss is left for the trainer */
    float loss[BATCH];
    read_floats(&t.net->loss, BATCH, loss);
    double mean = 0;
    for (int b = 0; b < BATCH; b++)
        mean += loss[b] / BATCH;
    double want = ref_net_loss(&t.ref, t.xd, t.labels);
    ck_assert_msg(fabs(mean - want) < 1e-4 * (1 + want), "loss %g, reference %g", mean, want);
    for (int l = 0; l < NET_MAX_LAYERS; l++) {
        free(fb[l]);
        free(ref_g[l]);
    }
    tiny_destroy(&t);
}

START_TEST(bp_with_dropout_matches_reference) {
    check_one_step(PP_MODEL_FC, PP_RULE_BP, 0.3f);
}
END_TEST

START_TEST(fa_matches_reference) {
    check_one_step(PP_MODEL_FC, PP_RULE_FA, 0.0f);
    check_one_step(PP_MODEL_FC, PP_RULE_FA, 0.3f);
    check_one_step(PP_MODEL_CONV, PP_RULE_FA, 0.0f);
}
END_TEST

START_TEST(dfa_matches_reference) {
    check_one_step(PP_MODEL_FC, PP_RULE_DFA, 0.0f);
    check_one_step(PP_MODEL_FC, PP_RULE_DFA, 0.3f);
    check_one_step(PP_MODEL_CONV, PP_RULE_DFA, 0.0f);
}
END_TEST

START_TEST(drtp_matches_reference) {
    check_one_step(PP_MODEL_FC, PP_RULE_DRTP, 0.0f);
    check_one_step(PP_MODEL_FC, PP_RULE_DRTP, 0.3f);
    check_one_step(PP_MODEL_CONV, PP_RULE_DRTP, 0.0f);
}
END_TEST

/* ---- Feedback matrices stay fixed while the weights learn --------------- */

START_TEST(feedback_matrices_are_fixed) {
    const pp_rule_kind kinds[] = {PP_RULE_FA, PP_RULE_DFA, PP_RULE_DRTP};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        tiny t;
        tiny_create(&t, PP_MODEL_FC, kinds[k], 0.1f);
        rule *r = t.rule;
        float *before[RULE_MAX_FIXED] = {0};
        for (int i = 0; i < r->fixed.count; i++) {
            before[i] = malloc(r->fixed.n[i] * sizeof(float));
            read_floats(&r->fixed.buf[i], r->fixed.n[i], before[i]);
        }
        for (uint32_t s = 0; s < 5; s++) {
            rule_step_args a = {.batch = BATCH, .step = s, .seed = t.config.seed};
            ck_assert_int_eq(r->step(r, &a), PP_OK);
            ck_assert_int_eq(net_apply_updates(t.net, 0.1f, 0.9f, 1e-3f), PP_OK);
        }
        for (int i = 0; i < r->fixed.count; i++) {
            float *after = malloc(r->fixed.n[i] * sizeof(float));
            read_floats(&r->fixed.buf[i], r->fixed.n[i], after);
            ck_assert_msg(!memcmp(before[i], after, r->fixed.n[i] * sizeof(float)),
                          "%s: feedback matrix %d changed during training", r->name, i);
            free(after);
            free(before[i]);
        }
        for (int l = 0; l < t.net->n_layers; l++) {
            size_t n = t.net->layers[l].n_weights;
            double *w = read_doubles(&t.net->layers[l].w, n);
            ck_assert_msg(rel_error(w, t.w[l], n) > 0, "%s: layer %d did not learn", r->name, l);
            free(w);
        }
        tiny_destroy(&t);
    }
}
END_TEST

/* ---- Learning small synthetic problems through the public API ----------- */

enum { SIDE = 8, TOY_CLASSES = 4, N_TRAIN = 512, N_TEST = 256 };

/* Each class is a fixed random pattern at half intensity under uniform noise. */
static void make_split(pp_dataset *d, size_t n, unsigned seed) {
    size_t px = SIDE * SIDE;
    float proto[TOY_CLASSES * SIDE * SIDE], *noise = malloc(n * px * sizeof(float));
    ts_fill_uniform(proto, sizeof proto / sizeof proto[0], 0.0f, 160.0f, 5);
    ts_fill_uniform(noise, n * px, 0.0f, 95.0f, seed);
    *d = (pp_dataset){.n = n, .channels = 1, .height = SIDE, .width = SIDE, .classes = TOY_CLASSES};
    d->pixels = malloc(n * px);
    d->labels = malloc(n);
    for (size_t i = 0; i < n; i++) {
        int label = (int)((i * 5 + seed) % TOY_CLASSES);
        d->labels[i] = (uint8_t)label;
        for (size_t p = 0; p < px; p++)
            d->pixels[i * px + p] = (uint8_t)(proto[label * px + p] + noise[i * px + p]);
    }
    free(noise);
}

typedef struct toy {
    pp_context *context;
    pp_dataset train, test;
    pp_config config;
} toy;

static void toy_create(toy *t, pp_model_kind model, pp_rule_kind kind, int epochs) {
    ck_assert_int_eq(pp_context_create(NULL, &t->context), PP_OK);
    make_split(&t->train, N_TRAIN, 1);
    make_split(&t->test, N_TEST, 2);
    pp_config *c = &t->config;
    ck_assert_int_eq(pp_config_preset(c, PP_DATASET_MNIST, model, kind), PP_OK);
    c->hidden[0] = 32;
    c->conv_filters = 4;
    c->conv_kernel = 3;
    c->batch = 16;
    c->epochs = epochs;
    c->weight_decay = 1e-4f; /* exercised, small */
    /* DRTP's hidden signal is the target through B (U(+-sqrt(6/units)), as the authors'),
     * which does not shrink as the toy is learnt: at the paper's lr its 4 filters of 3x3
     * overshoot and the test accuracy swings between epochs; 0.004 is the step the former
     * B (U(+-1/sqrt(units))) gave at lr 0.01. */
    if (model == PP_MODEL_CONV && kind == PP_RULE_DRTP) c->lr = 0.004f;
}

static void toy_destroy(toy *t) {
    pp_dataset_free(&t->train);
    pp_dataset_free(&t->test);
    pp_context_destroy(t->context);
}

static pp_trainer *toy_trainer(toy *t) {
    pp_trainer *tr = NULL;
    pp_status st = pp_trainer_create(t->context, &t->config, &t->train, &t->test, &tr);
    ck_assert_msg(st == PP_OK, "trainer: %s", pp_last_error());
    return tr;
}

static void toy_epoch(pp_trainer *t, pp_epoch_stats *s) {
    const pp_config *c = pp_trainer_config(t);
    pp_status st = pp_trainer_run_epoch(t, NULL, NULL, s);
    ck_assert_msg(st == PP_OK, "%s epoch %d: %s", pp_rule_name(c->rule), pp_trainer_epoch(t) + 1,
                  pp_last_error());
    printf("%s %s epoch %d: lr %g, train loss %.4f acc %.3f, test loss %.4f acc %.3f\n",
           pp_rule_name(c->rule), pp_model_name(c->model), s->epoch, (double)s->lr, s->train_loss,
           s->train_accuracy, s->test_loss, s->test_accuracy);
}

static void train_toy(pp_model_kind model, pp_rule_kind kind, int epochs, pp_epoch_stats *first,
                      pp_epoch_stats *last) {
    toy t;
    toy_create(&t, model, kind, epochs);
    pp_trainer *tr = toy_trainer(&t);
    for (int e = 0; e < epochs; e++) {
        pp_epoch_stats s;
        toy_epoch(tr, &s);
        if (e == 0) *first = s;
        *last = s;
    }
    pp_trainer_destroy(tr);
    toy_destroy(&t);
}

START_TEST(every_rule_learns_a_toy_problem) {
    const pp_rule_kind kinds[] = {PP_RULE_BP, PP_RULE_FA, PP_RULE_DFA, PP_RULE_DRTP};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        pp_epoch_stats first, last;
        train_toy(PP_MODEL_FC, kinds[k], 3, &first, &last);
        ck_assert_msg(last.test_accuracy > 0.8, "%s: test accuracy %.3f (chance 0.25)",
                      pp_rule_name(kinds[k]), last.test_accuracy);
    }
}
END_TEST

START_TEST(every_rule_trains_the_conv_model) {
    const pp_rule_kind kinds[] = {PP_RULE_BP, PP_RULE_FA, PP_RULE_DFA, PP_RULE_DRTP};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        pp_epoch_stats first, last;
        train_toy(PP_MODEL_CONV, kinds[k], 3, &first, &last);
        ck_assert_msg(last.train_loss < first.train_loss, "%s conv: loss %.4f -> %.4f",
                      pp_rule_name(kinds[k]), first.train_loss, last.train_loss);
        ck_assert_msg(last.test_accuracy > 0.5, "%s conv: test accuracy %.3f (chance 0.25)",
                      pp_rule_name(kinds[k]), last.test_accuracy);
    }
}
END_TEST

/* Two epochs straight, or one, a checkpoint, a fresh trainer and the second:
 * the same weights (the feedback matrices, momentum and dropout keys all
 * come back). */
START_TEST(every_rule_resumes_from_a_checkpoint) {
    const pp_rule_kind kinds[] = {PP_RULE_BP, PP_RULE_FA, PP_RULE_DFA, PP_RULE_DRTP};
    char *dir = ts_make_temp_dir("rules");
    char path[4096];
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        toy t;
        pp_epoch_stats s;
        toy_create(&t, PP_MODEL_FC, kinds[k], 2);
        t.config.n_decay = 1;
        t.config.decay_epochs[0] = 1; /* the resumed epoch runs at the decayed rate */
        pp_trainer *straight = toy_trainer(&t), *first = toy_trainer(&t);
        toy_epoch(straight, &s);
        toy_epoch(straight, &s);
        toy_epoch(first, &s);
        ck_assert_int_eq(pp_trainer_save(first, path), PP_OK);
        pp_trainer_destroy(first);
        pp_trainer *resumed = toy_trainer(&t);
        pp_status st = pp_trainer_load(resumed, path);
        ck_assert_msg(st == PP_OK, "load: %s", pp_last_error());
        toy_epoch(resumed, &s);
        double diff = ts_weights_difference(straight, resumed, 0);
        ck_assert_msg(diff == 0.0, "%s: the resumed run differs by %g", pp_rule_name(kinds[k]),
                      diff);
        pp_trainer_destroy(straight);
        pp_trainer_destroy(resumed);
        toy_destroy(&t);
    }
    ts_remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- BP through two conv layers (--arch) against finite differences ------ */

/* The mean softmax cross-entropy of a network of conv-ReLU-maxpool and dense
 * layers in double precision, straight from the definitions, with the
 * weights w[l] (ReLU hidden layers, no dropout). */
static double deep_loss(const network *net, double *const *w, const double *x,
                        const int32_t *labels, int batch) {
    double *in = malloc((size_t)batch * net->input_size * sizeof(double));
    memcpy(in, x, (size_t)batch * net->input_size * sizeof(double));
    for (int l = 0; l < net->n_layers; l++) {
        const net_layer *L = &net->layers[l];
        double *out = calloc((size_t)batch * L->out, sizeof(double));
        if (L->kind == NET_CONV) {
            const op_conv_shape *c = &L->conv;
            int k = c->kernel, oh = c->in_h - k + 1, ow = c->in_w - k + 1;
            for (int b = 0; b < batch; b++)
                for (int f = 0; f < c->out_c; f++)
                    for (int py = 0; py < oh / 2; py++)
                        for (int px = 0; px < ow / 2; px++) {
                            double m = 0; /* the max of ReLU outputs is at least 0 */
                            for (int dy = 0; dy < 2; dy++)
                                for (int dx = 0; dx < 2; dx++) {
                                    int oy = 2 * py + dy, ox = 2 * px + dx;
                                    double z = 0;
                                    for (int ch = 0; ch < c->in_c; ch++)
                                        for (int i = 0; i < k; i++)
                                            for (int j = 0; j < k; j++)
                                                z += in[(((size_t)b * c->in_c + ch) * c->in_h + oy +
                                                         i) *
                                                            c->in_w +
                                                        ox + j] *
                                                     w[l][((f * c->in_c + ch) * k + i) * k + j];
                                    if (z > m) m = z;
                                }
                            out[(((size_t)b * c->out_c + f) * (oh / 2) + py) * (ow / 2) + px] = m;
                        }
        } else {
            int last = l == net->n_layers - 1;
            for (int b = 0; b < batch; b++)
                for (size_t o = 0; o < L->out; o++) {
                    double z = 0;
                    for (size_t i = 0; i < L->in; i++)
                        z += in[b * L->in + i] * w[l][o * L->in + i];
                    out[b * L->out + o] = last || z > 0 ? z : 0;
                }
        }
        free(in);
        in = out;
    }
    double loss = 0;
    size_t c = net->classes;
    for (int b = 0; b < batch; b++) {
        double m = in[b * c], sum = 0;
        for (size_t j = 1; j < c; j++)
            m = in[b * c + j] > m ? in[b * c + j] : m;
        for (size_t j = 0; j < c; j++)
            sum += exp(in[b * c + j] - m);
        loss += m + log(sum) - in[b * c + (size_t)labels[b]];
    }
    free(in);
    return loss / batch;
}

START_TEST(bp_through_two_conv_layers_matches_finite_differences) {
    pp_config c;
    tiny_config(&c, PP_MODEL_CONV, PP_RULE_BP, 0.0f);
    snprintf(c.arch, sizeof c.arch, "conv3k3,pool2,conv4k2,pool2,fc5");
    ck_assert_int_eq(pp_config_validate(&c), PP_OK);
    const int in_h = 12, in_w = 12; /* 12 -> 10 -> 5 -> 4 -> 2 */
    network *net = NULL;
    rule *r = NULL;
    ck_assert_msg(rule_network_create(ctx, &c, 1, in_h, in_w, CLASSES, BATCH, &net) == PP_OK, "%s",
                  pp_last_error());
    ck_assert_int_eq(net->n_layers, 4);
    ck_assert_msg(rule_create(&c, net, &r) == PP_OK, "%s", pp_last_error());
    size_t d = net->input_size;
    float *x = malloc(BATCH * d * sizeof(float));
    double *xd = malloc(BATCH * d * sizeof(double));
    ts_fill_uniform(x, BATCH * d, 0.0f, 1.0f, 7);
    for (size_t i = 0; i < BATCH * d; i++)
        xd[i] = x[i];
    int32_t labels[BATCH];
    for (int b = 0; b < BATCH; b++)
        labels[b] = (b * 2 + 1) % CLASSES;
    ck_assert_int_eq(rt_buf_write(ctx, &net->x, 0, BATCH * d * sizeof(float), x), PP_OK);
    ck_assert_int_eq(rt_buf_write(ctx, &net->labels, 0, sizeof labels, labels), PP_OK);
    double *w[NET_MAX_LAYERS] = {0};
    for (int l = 0; l < net->n_layers; l++)
        w[l] = read_doubles(&net->layers[l].w, net->layers[l].n_weights);
    rule_step_args a = {.batch = BATCH, .step = STEP, .seed = c.seed};
    ck_assert_msg(r->step(r, &a) == PP_OK, "%s", pp_last_error());
    const double eps = 1e-6;
    for (int l = 0; l < net->n_layers; l++) {
        size_t n = net->layers[l].n_weights;
        double *g = read_doubles(&net->layers[l].g, n);
        double *fd = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            double w0 = w[l][i];
            w[l][i] = w0 + eps;
            double up = deep_loss(net, w, xd, labels, BATCH);
            w[l][i] = w0 - eps;
            double down = deep_loss(net, w, xd, labels, BATCH);
            w[l][i] = w0;
            fd[i] = (up - down) / (2 * eps);
        }
        double err = rel_error(g, fd, n);
        printf("bp conv3k3,pool2,conv4k2,pool2,fc5 layer %d: %zu weights, max |g| %.3g, device vs "
               "FD %.2e\n",
               l, n, max_abs(fd, n), err);
        ck_assert_msg(max_abs(fd, n) > 1e-4, "layer %d has a vanishing gradient: a weak check", l);
        ck_assert_msg(err < 1e-4, "layer %d: BP gradient vs finite differences %.3g", l, err);
        free(g);
        free(fd);
    }
    for (int l = 0; l < net->n_layers; l++)
        free(w[l]);
    free(x);
    free(xd);
    rule_destroy(r);
    net_destroy(net);
}
END_TEST

/* ---- The rule table ------------------------------------------------------ */

/* Names, parsing and presets come from the descriptors, and every kind of
 * the public enum has one. */
START_TEST(the_rule_table_gives_names_and_presets) {
    int n = 0;
    for (const rule_descriptor *d; (d = rule_descriptor_at(n)); n++) {
        ck_assert_ptr_eq(rule_descriptor_of(d->kind), d);
        ck_assert_str_eq(pp_rule_name(d->kind), d->name);
        pp_rule_kind kind = PP_RULE_BP;
        ck_assert_int_eq(pp_rule_parse(d->name, &kind), PP_OK);
        ck_assert_int_eq(kind, d->kind);
        pp_config c;
        ck_assert_int_eq(pp_config_preset(&c, PP_DATASET_FASHION_MNIST, PP_MODEL_FC, d->kind),
                         PP_OK);
        ck_assert(c.lr == d->preset_lr[RULE_PRESET_FC_FASHION]);
        ck_assert_int_eq(pp_config_preset(&c, PP_DATASET_CIFAR10, PP_MODEL_CONV, d->kind), PP_OK);
        ck_assert(c.lr == d->preset_lr[RULE_PRESET_CONV_CIFAR]);
        ck_assert_msg(d->init, "%s has no init", d->name);
    }
    ck_assert_int_eq(n, PP_RULE_DRTP + 1);
    pp_rule_kind kind;
    ck_assert_int_eq(pp_rule_parse("sgd", &kind), PP_ERR_ARGUMENT);
    ck_assert_str_eq(pp_last_error(),
                     "--rule: unknown rule 'sgd' (expected pepita, bp, fa, dfa or drtp)");
    ck_assert_ptr_null(rule_descriptor_of((pp_rule_kind)99));
}
END_TEST

/* The network takes its hidden activation and output from the rule. */
START_TEST(the_network_takes_the_rules_activation_and_output) {
    for (int k = 0; k <= PP_RULE_DRTP; k++) {
        tiny t;
        tiny_create(&t, PP_MODEL_FC, (pp_rule_kind)k, 0.0f);
        const rule_descriptor *d = rule_descriptor_of((pp_rule_kind)k);
        ck_assert_int_eq(t.net->hidden_act, d->hidden_act);
        ck_assert_int_eq(t.net->output, d->output);
        ck_assert_ptr_eq(t.rule->descriptor, d);
        tiny_destroy(&t);
    }
}
END_TEST

/* A layer's SGD step taken with its update (net->sgd, as the trainer sets it
 * for one process) leaves the weights and momentum of two steps bit for bit
 * as the optimiser's pass after the rule's step does; BP reads each W_l
 * before that step moves it. FC hidden layers of 40: the 40x40 layer's
 * product has whole tiles (the vector store) as well as edge ones. */
static void check_step_in_update(pp_model_kind model, pp_rule_kind kind, float dropout) {
    const op_sgd sgd = {0.05f, 0.9f, 1e-3f};
    tiny plain, fused;
    tiny_create_sized(&plain, model, kind, dropout, 40);
    tiny_create_sized(&fused, model, kind, dropout, 40);
    int stepped = 0;
    for (int step = 0; step < 2; step++) {
        tiny_step(&plain);
        ck_assert_int_eq(net_apply_updates(plain.net, sgd.lr, sgd.momentum, sgd.weight_decay),
                         PP_OK);
        fused.net->sgd = &sgd;
        tiny_step(&fused);
        fused.net->sgd = NULL;
        for (int l = 0; l < fused.net->n_layers; l++)
            stepped += fused.net->layers[l].stepped;
        ck_assert_int_eq(net_apply_updates(fused.net, sgd.lr, sgd.momentum, sgd.weight_decay),
                         PP_OK);
    }
    for (int l = 0; l < plain.net->n_layers; l++) {
        size_t n = plain.net->layers[l].n_weights;
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        const rt_buf *pb[] = {&plain.net->layers[l].w, &plain.net->layers[l].v};
        const rt_buf *fb[] = {&fused.net->layers[l].w, &fused.net->layers[l].v};
        for (int which = 0; which < 2; which++) {
            read_floats(pb[which], n, a);
            read_floats(fb[which], n, b);
            ck_assert_msg(!memcmp(a, b, n * sizeof *a), "%s %s layer %d: %s differs",
                          pp_rule_name(kind), pp_model_name(model), l, which ? "v" : "w");
        }
        free(a);
        free(b);
    }
    /* where the dispatch's default is the native GEMM, the dense layers
     * without a projection took their steps in the product */
    if (!ctx->device_profile.gemm_default_clblast) ck_assert_int_gt(stepped, 0);
    printf("%s %s dropout %.1f: %d layer steps taken with the update, weights bit-identical\n",
           pp_rule_name(kind), pp_model_name(model), (double)dropout, stepped);
    tiny_destroy(&plain);
    tiny_destroy(&fused);
}

START_TEST(the_step_taken_with_the_update_is_the_optimisers) {
    static const pp_rule_kind kinds[] = {PP_RULE_BP, PP_RULE_FA, PP_RULE_DFA, PP_RULE_DRTP,
                                         PP_RULE_PEPITA};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        check_step_in_update(PP_MODEL_FC, kinds[i], 0.0f);
    check_step_in_update(PP_MODEL_FC, PP_RULE_BP, 0.2f);
    check_step_in_update(PP_MODEL_FC, PP_RULE_PEPITA, 0.2f);
    check_step_in_update(PP_MODEL_CONV, PP_RULE_BP, 0.0f);
}
END_TEST

static Suite *rules_suite(void) {
    Suite *s = suite_create("rules");
    TCase *grad = tcase_create("gradients");
    tcase_add_checked_fixture(grad, setup, teardown);
    tcase_add_test(grad, bp_fc_matches_finite_differences);
    tcase_add_test(grad, bp_conv_matches_finite_differences);
    tcase_add_test(grad, bp_with_dropout_matches_reference);
    tcase_add_test(grad, fa_matches_reference);
    tcase_add_test(grad, dfa_matches_reference);
    tcase_add_test(grad, drtp_matches_reference);
    tcase_add_test(grad, feedback_matrices_are_fixed);
    tcase_add_test(grad, the_network_takes_the_rules_activation_and_output);
    tcase_add_test(grad, bp_through_two_conv_layers_matches_finite_differences);
    tcase_add_test(grad, the_step_taken_with_the_update_is_the_optimisers);
    suite_add_tcase(s, grad);
    TCase *table = tcase_create("table");
    tcase_add_test(table, the_rule_table_gives_names_and_presets);
    suite_add_tcase(s, table);
    TCase *learn = tcase_create("learning");
    tcase_add_test(learn, every_rule_learns_a_toy_problem);
    tcase_add_test(learn, every_rule_trains_the_conv_model);
    tcase_add_test(learn, every_rule_resumes_from_a_checkpoint);
    suite_add_tcase(s, learn);
    return s;
}

int main(void) {
    return ts_run_suite(rules_suite());
}
