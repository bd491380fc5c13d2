/* PEPITA (Dellaferrera & Kreiman, 2022): a standard pass, then a second pass
 * whose input is modulated by the output error through a fixed random F,
 * and local updates from the difference of the two passes. */
#include "rules/pepita_mirror.h"
#include "rules/rule.h"

#include <math.h>
#include <stdlib.h>

enum { FIXED_F = 0 };

typedef struct pepita_state {
    rt_buf x_mod;     /* the modulated input, batch x input, where x is read after it */
    const rt_buf *xm; /* this step's x': x_mod, or net->x modulated in place */
    rt_buf err_mod;   /* the modulated pass's error (--output-error modulated) */
    net_activations mod[NET_MAX_LAYERS]; /* the modulated pass */
    rt_buf diff[NET_MAX_LAYERS];         /* a - a' (conv) or h - h' (dense hidden) */
    rt_buf w1f;                          /* W_1 F: units of layer 1 x classes (dense first layer) */
    rt_buf noise;     /* batch x classes, the random-modulation control's signal */
    rt_buf target, y; /* the Hebbian forms' output terms: one-hot t and softmax y = e + t */
    rt_buf h1m;       /* h_1'^T m: units of layer 1 x classes (the Hebbian first-layer algebra) */
    /* conv first layer: F^T (classes images), the identity that transposes F
     * by a GEMM, and the convolutions of F's columns (classes x units) */
    rt_buf ft, eye, conv_f;
    rt_buf fb; /* dense first layer: F in op_project_layout's layout */
    /* weight mirroring (--mirror): F = B_1 ... B_L learned, and then the
     * modulation's sign is minus, x' = x - e F^T, the only one that descends */
    pepita_mirror *mirror;
    float sign;
    int z1_in_std; /* this step's z' of a dense first layer is in layers[0].std.z */
} pepita_state;

/* The signal that modulates the input: the error, or noise for the control. */
static pp_status modulating_signal(rule *r, const rule_step_args *a, const rt_buf **signal) {
    pepita_state *s = r->state;
    network *net = r->net;
    *signal = &net->err;
    if (r->config->modulation != PP_MODULATION_RANDOM) return PP_OK;
    float amp = r->config->random_amplitude;
    *signal = &s->noise;
    return op_uniform(net->ctx, a->batch * net->classes, -amp, amp,
                      a->seed ^ RANDOM_MODULATION_SEED_SALT, a->step, &s->noise);
}

/* Whether x is read after x' is formed: by the Hebbian form's standard term,
 * or as the presynaptic term of the difference form's updates. Otherwise x'
 * overwrites x in place (the step's last reader of x is the standard pass):
 * no copy of the batch, one command fewer per step. */
static int reads_x_after_modulation(const pp_config *cfg) {
    return cfg->update_form == PP_UPDATE_HEBBIAN || (cfg->update_form == PP_UPDATE_DIFFERENCE &&
                                                     cfg->presynaptic == PP_PRESYNAPTIC_STANDARD);
}

/* x' = x + sign m F^T (batch x input), into s->xm. */
static pp_status modulate_input(rule *r, size_t batch, const rt_buf *m) {
    pepita_state *s = r->state;
    network *net = r->net;
    size_t d = net->input_size, c = net->classes;
    rt_buf *xm = &net->x;
    if (reads_x_after_modulation(r->config)) {
        xm = &s->x_mod;
        PP_TRY(rt_buf_copy(net->ctx, &net->x, 0, xm, 0, batch * d * sizeof(float)));
    }
    s->xm = xm;
    return op_gemm(net->ctx, OP_NO_TRANS, OP_TRANS, batch, d, c, s->sign, m, 0, c,
                   &r->fixed.buf[FIXED_F], 0, c, 1.0f, xm, 0, d);
}

/* The first dense layer's modulated pre-activation. Exact algebra:
 * W_1 (x + m F^T) = W_1 x + m (W_1 F)^T, so only a product with the small
 * W_1 F is needed instead of a second full pass over the input. The update
 * goes into the standard pass's z in place (nothing reads z after the
 * standard activation), saving a copy: z' is then in std.z (s->z1_in_std). */
static pp_status first_dense_modulated(rule *r, size_t batch, const rt_buf *m) {
    pepita_state *s = r->state;
    network *net = r->net;
    net_layer *l = &net->layers[0];
    size_t d = net->input_size, c = net->classes, u = l->out;
    /* time-local stepped W_1 after the standard pass: its z is stale */
    s->z1_in_std = 0;
    if (r->config->naive_modulated_pass || r->config->update_form == PP_UPDATE_TIME_LOCAL)
        return op_dense_forward(net->ctx, batch, d, u, s->xm, &l->w, &s->mod[0].z);
    const rt_buf *w1f = &s->w1f;
    if (l->proj.fb) /* kept by the optimiser's pass over W_1 */
        PP_TRY(net_projection_current(net, 0, &w1f));
    else
        PP_TRY(op_gemm(net->ctx, OP_NO_TRANS, OP_NO_TRANS, u, c, d, 1.0f, &l->w, 0, d,
                       &r->fixed.buf[FIXED_F], 0, c, 0.0f, &s->w1f, 0, c));
    s->z1_in_std = 1;
    return op_gemm(net->ctx, OP_NO_TRANS, OP_TRANS, batch, u, c, s->sign, m, 0, c, w1f, 0, c, 1.0f,
                   &l->std.z, 0, u);
}

/* The first conv layer's modulated pass up to a' and diff = a - a' (the
 * pooling follows in hidden_modulated). A convolution is linear:
 * conv(x + m F^T) = conv(x) + m conv(F^T), where conv(F^T) convolves F's
 * columns as `classes` images, so instead of a second convolution of the
 * batch (2 B F oh ow C k k FLOPs) this costs one of `classes` images and a
 * rank-classes GEMM (2 B classes F oh ow): 296 -> 250 MFLOP per MNIST step. */
static pp_status first_conv_modulated(rule *r, size_t batch, const rt_buf *m) {
    pepita_state *s = r->state;
    network *net = r->net;
    net_layer *l = &net->layers[0];
    size_t c = net->classes, u = l->units;
    op_conv_shape shape = net_conv_shape(l, c);
    PP_TRY(op_conv_forward(net->ctx, &shape, &s->ft, &l->w, &s->conv_f));
    /* F is fixed on conv nets (mirroring is fc only), so its sign is the
     * paper's +. z' = z + m conv(F^T) is formed inside the activation: no copy of z and
     * no pass writing z' (measured, PEPITA conv MNIST epoch: 2.46-2.55 s ->
     * 2.12-2.23 s per 20000 samples against copy + rank-10 GEMM + activation). */
    return op_act_forward_diff_lowrank(net->ctx, net->hidden_act, batch, u, c, &l->std.z, m,
                                       &s->conv_f, &l->std.a, &s->mod[0].a, &s->diff[0], NULL);
}

/* The modulated pass of hidden layer i from its input; leaves h', diff = a - a'.
 * Unless naive, the first layer's shortcut has done part of it: a dense first
 * layer's pre-activation is in std.z (in mod.z when naive or time-local), a
 * conv first layer's a' and diff are set. */
static pp_status hidden_modulated(rule *r, int i, size_t batch, const rt_buf *input,
                                  const rule_step_args *a) {
    pepita_state *st = r->state;
    network *net = r->net;
    net_layer *l = &net->layers[i];
    net_activations *mod = &st->mod[i], first;
    if (i == 0 && st->z1_in_std) { /* z' was formed in std.z (first_dense_modulated) */
        first = *mod;
        first.z = l->std.z;
        mod = &first;
    }
    if (i == 0 && l->kind == NET_CONV && !r->config->naive_modulated_pass) {
        op_conv_shape s = net_conv_shape(l, batch);
        return op_maxpool2_forward(net->ctx, batch * (size_t)s.out_c, op_conv_out_h(&s),
                                   op_conv_out_w(&s), &mod->a, &mod->h, &mod->argmax);
    }
    if (i > 0 || l->kind == NET_CONV) PP_TRY(l->ops->linear(net, l, batch, input, &mod->z));
    const pp_config *cfg = r->config;
    if (cfg->update_form != PP_UPDATE_TIME_LOCAL && !net_normalises(net, i)) {
        op_dropout drop = net_dropout(net, i, 1, a->step, a->seed);
        return l->ops->activate_diff(net, l, net->hidden_act, batch, &l->std, mod, &st->diff[i],
                                     drop.p > 0 ? &drop : NULL);
    }
    /* normalised h' has its own norm, so the difference follows it (the
     * Hebbian form's first layer uses it too); time-local needs none */
    int time_local = cfg->update_form == PP_UPDATE_TIME_LOCAL;
    PP_TRY(net_layer_activate(net, i, batch, mod, 1, a->step, a->seed,
                              time_local ? TIME_LOCAL_DROPOUT_LAYER : 0));
    if (time_local) return PP_OK;
    return op_sub(net->ctx, batch * l->out, &l->std.h, &mod->h, &st->diff[i]);
}

/* The output layer's Hebbian terms: t (one-hot) and y = softmax = e + t. */
static pp_status output_terms(rule *r, size_t batch) {
    pepita_state *s = r->state;
    network *net = r->net;
    size_t n = batch * net->classes;
    PP_TRY(op_onehot(net->ctx, batch, net->classes, &net->labels, 1.0f, &s->target));
    PP_TRY(rt_buf_copy(net->ctx, &net->err, 0, &s->y, 0, n * sizeof(float)));
    return op_axpby(net->ctx, n, 1.0f, &s->target, 1.0f, &s->y);
}

/* g = alpha (a pass's Hebbian term) + beta g for layers from `first` up.
 * The standard pass: h_l^T h_{l-1} (h_{-1} = x), the output's y^T h_{L-1};
 * the modulated pass (the anti-Hebbian term): h_l'^T h_{l-1}' (h_{-1}' = x'),
 * the output's t^T h_{L-1}'. */
static pp_status hebbian_term(rule *r, int modulated, int first, size_t batch, float alpha,
                              float beta) {
    pepita_state *s = r->state;
    network *net = r->net;
    int last = net->n_layers - 1;
    for (int i = first; i <= last; i++) {
        net_layer *l = &net->layers[i];
        const rt_buf *post =
            i == last ? (modulated ? &s->target : &s->y) : (modulated ? &s->mod[i].h : &l->std.h);
        const rt_buf *pre = i == 0 ? (modulated ? s->xm : &net->x)
                                   : (modulated ? &s->mod[i - 1].h : &net->layers[i - 1].std.h);
        PP_TRY(
            op_dense_weight_update(net->ctx, batch, l->in, l->out, alpha, post, pre, beta, &l->g));
    }
    return PP_OK;
}

/* The Hebbian form's first dense layer by the algebra of the modulated pass:
 * h^T x - h'^T (x + s m F^T) = (h - h')^T x - s (h'^T m) F^T (s the
 * modulation's sign), one product with
 * the input and a rank-classes correction instead of two products with the
 * input (CIFAR-10 FC: 0.4 GFLOP less per step, a third of the step). */
static pp_status first_dense_hebbian(rule *r, size_t batch, const rt_buf *m) {
    pepita_state *s = r->state;
    network *net = r->net;
    net_layer *l = &net->layers[0];
    size_t d = net->input_size, c = net->classes, u = l->out;
    float inv = 1.0f / (float)batch;
    PP_TRY(op_dense_weight_update(net->ctx, batch, d, u, inv, &s->diff[0], &net->x, 0.0f, &l->g));
    PP_TRY(op_gemm(net->ctx, OP_TRANS, OP_NO_TRANS, u, c, batch, 1.0f, &s->mod[0].h, 0, u, m, 0, c,
                   0.0f, &s->h1m, 0, c));
    return op_gemm(net->ctx, OP_NO_TRANS, OP_TRANS, u, d, c, -inv * s->sign, &s->h1m, 0, c,
                   &r->fixed.buf[FIXED_F], 0, c, 1.0f, &l->g, 0, d);
}

/* The Hebbian ("mixed") form: (h_l^T h_{l-1} - h_l'^T h_{l-1}') / N, the
 * output's (y^T h_{L-1} - t^T h_{L-1}') / N. */
static pp_status hebbian_updates(rule *r, size_t batch, const rt_buf *m) {
    network *net = r->net;
    float inv = 1.0f / (float)batch;
    int shortcut = net->n_layers > 1 && !r->config->naive_modulated_pass;
    PP_TRY(output_terms(r, batch));
    if (shortcut) PP_TRY(first_dense_hebbian(r, batch, m));
    PP_TRY(hebbian_term(r, 0, shortcut, batch, inv, 0.0f));
    return hebbian_term(r, 1, shortcut, batch, -inv, 1.0f);
}

/* Time-local's first optimiser step, right after the standard pass: the
 * Hebbian term alone, applied here with the trainer's learning rate, momentum
 * and weight decay; the trainer applies the second (the anti-Hebbian term)
 * after the modulated pass, which runs on the weights this step updated. */
static pp_status time_local_first_step(rule *r, const rule_step_args *a) {
    network *net = r->net;
    const pp_config *cfg = r->config;
    PP_TRY(output_terms(r, a->batch));
    PP_TRY(hebbian_term(r, 0, 0, a->batch, 1.0f / (float)a->batch, 0.0f));
    return net_apply_updates(net, a->lr, cfg->momentum, cfg->weight_decay);
}

/* Hidden layer i's update from diff and the presynaptic activity: the mean
 * over the batch (and a conv layer's positions). */
static pp_status hidden_update(rule *r, int i, size_t batch, const rt_buf *pre) {
    pepita_state *st = r->state;
    network *net = r->net;
    float scale = 1.0f / ((float)batch * (float)net->layers[i].positions);
    return net_layer_update(net, i, batch, scale, &st->diff[i], pre);
}

static pp_status pepita_step(rule *r, const rule_step_args *a) {
    pepita_state *s = r->state;
    network *net = r->net;
    const pp_config *cfg = r->config;
    size_t batch = a->batch;
    int last = net->n_layers - 1;
    int modulated_pre = cfg->presynaptic == PP_PRESYNAPTIC_MODULATED;

    /* 1. the standard pass and its error */
    PP_TRY(net_forward(net, batch, &net->x, 1, a->step, a->seed));
    PP_TRY(net_output_error(net, batch));
    if (r->updates_weights && !r->updates_weights(r, a->epoch)) return PP_OK; /* pre-mirroring */
    if (cfg->update_form == PP_UPDATE_TIME_LOCAL) PP_TRY(time_local_first_step(r, a));

    /* 2. the modulated pass */
    const rt_buf *m = NULL;
    PP_TRY(modulating_signal(r, a, &m));
    PP_TRY(modulate_input(r, batch, m));
    const rt_buf *input = s->xm;
    for (int i = 0; i < last; i++) {
        if (i == 0 && net->layers[0].kind == NET_DENSE) PP_TRY(first_dense_modulated(r, batch, m));
        if (i == 0 && net->layers[0].kind == NET_CONV && !cfg->naive_modulated_pass)
            PP_TRY(first_conv_modulated(r, batch, m));
        PP_TRY(hidden_modulated(r, i, batch, input, a));
        input = &s->mod[i].h;
    }
    const rt_buf *err = &net->err;
    if (cfg->output_error == PP_OUTPUT_ERROR_MODULATED) {
        PP_TRY(net_layer_forward(net, last, batch, input, &s->mod[last], 1, a->step, a->seed));
        PP_TRY(net_output_error_of(net, batch, &s->mod[last].z, &s->err_mod));
        err = &s->err_mod;
    }

    /* 3. the updates, averaged over the batch */
    float inv_batch = 1.0f / (float)batch;
    if (cfg->update_form == PP_UPDATE_TIME_LOCAL)
        return hebbian_term(r, 1, 0, batch, -inv_batch, 0.0f);
    if (cfg->update_form == PP_UPDATE_HEBBIAN) return hebbian_updates(r, batch, m);
    for (int i = 0; i < last; i++) {
        const rt_buf *pre = i == 0 ? (modulated_pre ? s->xm : &net->x)
                                   : (modulated_pre ? &s->mod[i - 1].h : &net->layers[i - 1].std.h);
        PP_TRY(hidden_update(r, i, batch, pre));
    }
    const rt_buf *pre = last == 0
                            ? (modulated_pre ? s->xm : &net->x)
                            : (modulated_pre ? &s->mod[last - 1].h : &net->layers[last - 1].std.h);
    return net_layer_update(net, last, batch, 1.0f / (float)batch, err, pre);
}

/* What is derived from F, once per F: when it is drawn, mirrored, or restored
 * from a checkpoint. Dense first layer: F in the layout the optimiser's pass
 * forms W_1 F from; conv: F^T (classes images of the input's shape) = I F^T. */
static pp_status pepita_fixed_changed(rule *r) {
    pepita_state *s = r->state;
    network *net = r->net;
    size_t d = net->input_size, c = net->classes;
    if (net->layers[0].proj.fb) {
        net->layers[0].proj.fresh = 0;
        return op_project_layout(net->ctx, d, c, &r->fixed.buf[FIXED_F], &s->fb);
    }
    return op_gemm(net->ctx, OP_NO_TRANS, OP_TRANS, c, d, c, 1.0f, &s->eye, 0, c,
                   &r->fixed.buf[FIXED_F], 0, c, 0.0f, &s->ft, 0, d);
}

static void pepita_destroy(rule *r) {
    pepita_state *s = r->state;
    if (!s) return;
    network *net = r->net;
    net->layers[0].proj = (net_projection){0}; /* it pointed into this state */
    rt_buf_release(net->ctx, &s->x_mod);
    rt_buf_release(net->ctx, &s->err_mod);
    for (int i = 0; i < net->n_layers; i++) {
        net_activations_release(net, &s->mod[i]);
        rt_buf_release(net->ctx, &s->diff[i]);
    }
    rt_buf_release(r->net->ctx, &s->w1f);
    rt_buf_release(r->net->ctx, &s->noise);
    rt_buf_release(r->net->ctx, &s->target);
    rt_buf_release(r->net->ctx, &s->y);
    rt_buf_release(r->net->ctx, &s->h1m);
    rt_buf_release(r->net->ctx, &s->ft);
    rt_buf_release(r->net->ctx, &s->fb);
    rt_buf_release(r->net->ctx, &s->eye);
    rt_buf_release(r->net->ctx, &s->conv_f);
    pepita_mirror_destroy(s->mirror);
    free(s);
}

static pepita_mirror_params mirror_params(const rule *r) {
    const pp_config *c = r->config;
    return (pepita_mirror_params){.lr = c->mirror_lr,
                                  .decay = c->mirror_decay,
                                  .noise = c->mirror_noise,
                                  .pre_mirror = c->pre_mirror,
                                  .every = c->mirror_every,
                                  .target_std =
                                      c->f_scale * sqrtf(2.0f / (float)r->net->input_size)};
}

/* Weight mirroring's schedule: every batch of the scheduled epochs, before
 * the step (on every rank, keyed by the global step alone). */
static pp_status pepita_begin_step(rule *r, const rule_step_args *a) {
    pepita_state *s = r->state;
    pepita_mirror_params p = mirror_params(r);
    if (!pepita_mirror_scheduled(&p, a->epoch)) return PP_OK;
    PP_TRY(pepita_mirror_step(s->mirror, a->seed, a->step));
    return r->fixed_changed ? r->fixed_changed(r) : PP_OK;
}

static int pepita_updates_weights(const rule *r, int epoch) {
    pepita_mirror_params p = mirror_params(r);
    return pepita_mirror_updates_weights(&p, epoch);
}

pepita_mirror *rule_pepita_mirror(const rule *r) {
    const pepita_state *s = r->state;
    return r->descriptor->kind == PP_RULE_PEPITA && s ? s->mirror : NULL;
}

/* The angle of the analysis: W_L...W_1 against F^T, for fully connected nets. */
const rt_buf *rule_pepita_angle_reference(const rule *r) {
    for (int i = 0; i < r->net->n_layers; i++)
        if (r->net->layers[i].kind != NET_DENSE) return NULL;
    return &r->fixed.buf[FIXED_F];
}

pp_status rule_pepita_init(rule *r) {
    network *net = r->net;
    pepita_state *s = calloc(1, sizeof *s);
    if (!s) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for PEPITA");
    r->state = s;
    r->step = pepita_step;
    r->destroy = pepita_destroy;
    size_t b = net->max_batch;
    if (reads_x_after_modulation(r->config))
        PP_TRY(rt_buf_create(net->ctx, b * net->input_size * sizeof(float), &s->x_mod));
    PP_TRY(rt_buf_create(net->ctx, b * net->classes * sizeof(float), &s->err_mod));
    for (int i = 0; i < net->n_layers; i++) {
        PP_TRY(net_activations_create(net, i, &s->mod[i]));
        PP_TRY(rt_buf_create(net->ctx, b * net->layers[i].units * sizeof(float), &s->diff[i]));
    }
    /* F ~ U(-a, a), a = f_scale sqrt(6 / d); F = 0 for the zero-modulation
     * control; mirrored: F = B_1 ... B_L at the same std f_scale sqrt(2 / d) */
    int mirror = r->config->mirror; /* pp_config_validate: error modulation, fc only */
    float bound = r->config->modulation == PP_MODULATION_ZERO || mirror
                      ? 0.0f
                      : r->config->f_scale * sqrtf(6.0f / (float)net->input_size);
    PP_TRY(rule_fixed_uniform(r, net->input_size * net->classes, bound, STREAM_PEPITA_F));
    s->sign = mirror ? -1.0f : 1.0f;
    if (mirror) {
        pepita_mirror_params p = mirror_params(r);
        PP_TRY(pepita_mirror_create(r, &r->fixed.buf[FIXED_F], &p, &s->mirror));
        r->begin_step = pepita_begin_step;
        r->updates_weights = pepita_updates_weights;
    }
    PP_TRY(rt_buf_create(net->ctx, net->layers[0].units * net->classes * sizeof(float), &s->w1f));
    PP_TRY(rt_buf_create(net->ctx, net->max_batch * net->classes * sizeof(float), &s->noise));
    if (r->config->update_form != PP_UPDATE_DIFFERENCE) {
        PP_TRY(rt_buf_create(net->ctx, b * net->classes * sizeof(float), &s->target));
        PP_TRY(rt_buf_create(net->ctx, b * net->classes * sizeof(float), &s->y));
        PP_TRY(
            rt_buf_create(net->ctx, net->layers[0].units * net->classes * sizeof(float), &s->h1m));
    }
    size_t c = net->classes;
    if (net->layers[0].kind == NET_DENSE) {
        /* W_1 F kept by the optimiser where first_dense_modulated takes it */
        if (net->n_layers == 1 || r->config->naive_modulated_pass ||
            r->config->update_form == PP_UPDATE_TIME_LOCAL || c > OP_PROJECT_MAX_CLASSES)
            return PP_OK;
        PP_TRY(rt_buf_create(net->ctx,
                             op_project_layout_floats(net->ctx, net->input_size, c) * sizeof(float),
                             &s->fb));
        net->layers[0].proj = (net_projection){.fb = &s->fb, .out = &s->w1f, .classes = c};
        r->fixed_changed = pepita_fixed_changed;
        return pepita_fixed_changed(r);
    }
    PP_TRY(rt_buf_create(net->ctx, c * net->input_size * sizeof(float), &s->ft));
    PP_TRY(rt_buf_create(net->ctx, c * net->layers[0].units * sizeof(float), &s->conv_f));
    PP_TRY(rt_buf_create(net->ctx, c * c * sizeof(float), &s->eye));
    float *eye = calloc(c * c, sizeof *eye);
    if (!eye) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for PEPITA");
    for (size_t i = 0; i < c; i++)
        eye[i * c + i] = 1.0f;
    pp_status st = rt_buf_write(net->ctx, &s->eye, 0, c * c * sizeof(float), eye);
    free(eye);
    PP_TRY(st);
    r->fixed_changed = pepita_fixed_changed;
    return pepita_fixed_changed(r);
}
