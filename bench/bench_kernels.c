/* Kernels other than GEMM: the convolution forward and the PEPITA conv
 * update (GFLOP/s, with OpenBLAS im2col + sgemm on the host as the yardstick
 * on CPU devices), and the element-wise kernels of a training step (GB/s of
 * compulsory traffic) at the FC MNIST training sizes. */
#include "bench.h"
#include "runtime/error.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { HIDDEN = 1024, INPUT = 784, CLASSES = 10, BATCH = 64 };
/* The conv model's pooled layer on MNIST: 100 samples x 32 planes of 24x24. */
enum { POOL_PLANE = 24, POOL_PLANES = 100 * 32, POOL_IN = POOL_PLANES * POOL_PLANE * POOL_PLANE };

typedef enum kernel_kind {
    K_RELU,
    K_RELU_DROPOUT,
    K_RELU_DROPOUT_DIFF,
    K_RELU_DROPOUT_KEEP,
    K_RELU_DROPOUT_DIFF_KEPT,
    K_RELU_BACKWARD_KEPT,
    K_SOFTMAX_ERROR,
    K_SOFTMAX_ERROR_TOTALS,
    K_GATHER,
    K_SGD,
    K_SGD_PROJECT,
    K_PROJECT,
    K_DW_THEN_SGD,
    K_DW_STEP,
    K_AXPBY,
    K_ACCUMULATE2,
    K_MAXPOOL,
    K_MAXPOOL_BACKWARD,
} kernel_kind;

typedef struct kernel_case {
    const char *name;
    kernel_kind kind;
    size_t n;     /* elements */
    double bytes; /* compulsory bytes moved per element */
} kernel_case;

static const kernel_case cases[] = {
    {"relu (64x1024)", K_RELU, BATCH *HIDDEN, 8},
    {"relu+dropout (64x1024)", K_RELU_DROPOUT, BATCH *HIDDEN, 8},
    {"relu+dropout+diff, modulated pass (64x1024)", K_RELU_DROPOUT_DIFF, BATCH *HIDDEN, 16},
    /* the standard pass keeps its mask in bytes, the later passes read it */
    {"relu+dropout keeping the mask (64x1024)", K_RELU_DROPOUT_KEEP, BATCH *HIDDEN, 9},
    {"relu+dropout+diff from the kept mask (64x1024)", K_RELU_DROPOUT_DIFF_KEPT, BATCH *HIDDEN, 17},
    {"relu backward from the kept mask, BP (64x1024)", K_RELU_BACKWARD_KEPT, BATCH *HIDDEN, 13},
    {"softmax+error+loss+correct (64x10)", K_SOFTMAX_ERROR, BATCH *CLASSES, 12},
    /* and the batch's sums added to the running totals, in the same launch */
    {"softmax+error+loss+correct, adding to the totals (64x10)", K_SOFTMAX_ERROR_TOTALS,
     BATCH *CLASSES, 12},
    {"gather batch u8->float (64x784)", K_GATHER, BATCH *INPUT, 5},
    {"sgd momentum (1024x784)", K_SGD, HIDDEN *INPUT, 20},
    /* PEPITA's W_1 F formed in the SGD pass (F^T stays in cache), and alone */
    {"sgd momentum + W1 F (1024x784, 10 classes)", K_SGD_PROJECT, HIDDEN *INPUT, 20},
    {"W1 F alone, same order (1024x784, 10 classes)", K_PROJECT, HIDDEN *INPUT, 4},
    /* a layer's update dW = dy^T x / 64 and its step: stored, then stepped
     * (two launches), or stepped in the product's store (bit-identical) */
    {"dW (1024x784, k 64), then sgd momentum", K_DW_THEN_SGD, HIDDEN *INPUT, 20},
    {"dW (1024x784, k 64) stepped in its store", K_DW_STEP, HIDDEN *INPUT, 16},
    {"axpby (1024x784)", K_AXPBY, HIDDEN *INPUT, 12},
    {"accumulate2 loss/correct (64)", K_ACCUMULATE2, BATCH, 8},
    /* per input element: read x, write a quarter of (y, argmax); backward the reverse */
    {"maxpool 2x2 + argmax, conv MNIST (100x32x24x24)", K_MAXPOOL, POOL_IN, 6},
    {"maxpool 2x2 backward, conv MNIST (100x32x24x24)", K_MAXPOOL_BACKWARD, POOL_IN, 6},
};

typedef struct kernel_bufs {
    rt_context *ctx;
    const kernel_case *c;
    size_t n; /* the case's n, or less with --quick */
    rt_buf a, b, c_, d, labels, u8, idx, totals, proj, mask, dy;
} kernel_bufs;

static pp_status run_case(void *arg) {
    kernel_bufs *k = arg;
    rt_context *ctx = k->ctx;
    size_t n = k->n;
    op_dropout drop = {.p = 0.1f, .seed = 7, .step = 3, .layer = 0};
    switch (k->c->kind) {
    case K_RELU:
        return op_act_forward(ctx, OP_ACT_RELU, n, &k->a, &k->b, NULL);
    case K_RELU_DROPOUT:
        return op_act_forward(ctx, OP_ACT_RELU, n, &k->a, &k->b, &drop);
    case K_RELU_DROPOUT_DIFF:
        return op_act_forward_diff(ctx, OP_ACT_RELU, n, &k->a, &k->b, &k->c_, &k->d, &drop);
    case K_RELU_DROPOUT_KEEP:
        drop.mask = &k->mask;
        return op_act_forward(ctx, OP_ACT_RELU, n, &k->a, &k->b, &drop);
    case K_RELU_DROPOUT_DIFF_KEPT:
        drop.mask = &k->mask;
        return op_act_forward_diff(ctx, OP_ACT_RELU, n, &k->a, &k->b, &k->c_, &k->d, &drop);
    case K_RELU_BACKWARD_KEPT:
        drop.mask = &k->mask;
        return op_act_backward(ctx, OP_ACT_RELU, n, &k->a, &k->b, &k->c_, &drop);
    case K_SOFTMAX_ERROR:
        return op_softmax_error(ctx, BATCH, CLASSES, &k->a, &k->labels, &k->b, &k->c_, &k->d, NULL);
    case K_SOFTMAX_ERROR_TOTALS: {
        const op_totals totals = {.acc = &k->totals, .at = 0};
        return op_softmax_error(ctx, BATCH, CLASSES, &k->a, &k->labels, &k->b, &k->c_, &k->d,
                                &totals);
    }
    case K_GATHER:
        return op_gather_batch(ctx, n / INPUT, INPUT, &k->u8, &k->labels, &k->idx, 0, 1.0f / 255,
                               &k->a, &k->labels);
    case K_SGD:
        return op_sgd_momentum(ctx, n, 0.01f, 0.9f, 0.0f, &k->a, &k->b, &k->c_);
    case K_SGD_PROJECT: /* F^T in d */
        return op_sgd_momentum_project(ctx, n / INPUT, INPUT, CLASSES, 0.01f, 0.9f, 0.0f, &k->a,
                                       &k->b, &k->c_, &k->d, &k->proj);
    case K_PROJECT:
        return op_weight_project(ctx, n / INPUT, INPUT, CLASSES, &k->a, &k->d, &k->proj);
    case K_DW_THEN_SGD: /* x in d, w in a, v in b, dW in c_ */
        PP_TRY(op_dense_weight_update(ctx, BATCH, INPUT, n / INPUT, 1.0f / BATCH, &k->dy, &k->d,
                                      0.0f, &k->c_));
        return op_sgd_momentum(ctx, n, 0.01f, 0.9f, 0.0f, &k->a, &k->b, &k->c_);
    case K_DW_STEP: {
        const op_sgd sgd = {0.01f, 0.9f, 0.0f};
        return op_dense_weight_step(ctx, BATCH, INPUT, n / INPUT, 1.0f / BATCH, &k->dy, &k->d, &sgd,
                                    &k->a, &k->b, &k->c_);
    }
    case K_AXPBY:
        return op_axpby(ctx, n, 0.5f, &k->a, 0.5f, &k->b);
    case K_ACCUMULATE2:
        return op_accumulate2(ctx, n, &k->a, &k->b, &k->totals, 0);
    case K_MAXPOOL: /* n / 576 planes of 24x24 */
        return op_maxpool2_forward(ctx, n / (POOL_PLANE * POOL_PLANE), POOL_PLANE, POOL_PLANE,
                                   &k->a, &k->b, &k->c_);
    case K_MAXPOOL_BACKWARD:
        return op_maxpool2_backward(ctx, n / (POOL_PLANE * POOL_PLANE), POOL_PLANE, POOL_PLANE,
                                    &k->b, &k->c_, &k->d);
    }
    return PP_OK;
}

static pp_status alloc_bufs(rt_context *ctx, kernel_bufs *k) {
    size_t big = (size_t)(POOL_IN > HIDDEN * INPUT ? POOL_IN : HIDDEN * INPUT) * sizeof(float);
    PP_TRY(rt_buf_create(ctx, big, &k->a));
    PP_TRY(rt_buf_create(ctx, big, &k->b));
    PP_TRY(rt_buf_create(ctx, big, &k->c_));
    PP_TRY(rt_buf_create(ctx, big, &k->d));
    PP_TRY(rt_buf_create(ctx, BATCH * sizeof(int32_t), &k->labels));
    PP_TRY(rt_buf_create(ctx, (size_t)BATCH * INPUT, &k->u8));
    PP_TRY(rt_buf_create(ctx, BATCH * sizeof(int32_t), &k->idx));
    PP_TRY(rt_buf_create(ctx, 4 * sizeof(float), &k->totals));
    PP_TRY(rt_buf_create(ctx, (size_t)HIDDEN * CLASSES * sizeof(float), &k->proj));
    PP_TRY(rt_buf_create(ctx, (size_t)BATCH * HIDDEN, &k->mask));
    PP_TRY(rt_buf_create(ctx, (size_t)BATCH * HIDDEN * sizeof(float), &k->dy));
    PP_TRY(op_uniform(ctx, (size_t)BATCH * HIDDEN, -1e-3f, 1e-3f, 1, 3, &k->dy));
    int32_t idx[BATCH];
    for (int i = 0; i < BATCH; i++)
        idx[i] = (i * 7) % BATCH;
    PP_TRY(rt_buf_write(ctx, &k->idx, 0, sizeof idx, idx));
    size_t n = big / sizeof(float);
    PP_TRY(op_uniform(ctx, n, -1.0f, 1.0f, 1, 1, &k->a));
    PP_TRY(op_uniform(ctx, n, -1.0f, 1.0f, 1, 2, &k->b));
    /* valid argmax for the pool backward case: a forward pass's */
    return op_maxpool2_forward(ctx, POOL_PLANES, POOL_PLANE, POOL_PLANE, &k->a, &k->d, &k->c_);
}

static void free_bufs(rt_context *ctx, kernel_bufs *k) {
    rt_buf *all[] = {&k->a,   &k->b,      &k->c_,   &k->d,    &k->labels, &k->u8,
                     &k->idx, &k->totals, &k->proj, &k->mask, &k->dy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        rt_buf_release(ctx, all[i]);
}

/* ---- Convolution ------------------------------------------------------- */

typedef struct conv_case {
    const char *name;
    op_conv_shape s;
    int update; /* 0: forward, 1: PEPITA weight update */
} conv_case;

#define MNIST_CONV                                                                                 \
    { .batch = 100, .in_c = 1, .in_h = 28, .in_w = 28, .out_c = 32, .kernel = 5, .stride = 1 }
#define CIFAR_CONV                                                                                 \
    { .batch = 100, .in_c = 3, .in_h = 32, .in_w = 32, .out_c = 32, .kernel = 5, .stride = 1 }

static const conv_case conv_cases[] = {
    {"conv forward MNIST (100x1x28x28, 32@5x5)", MNIST_CONV, 0},
    {"PEPITA conv update MNIST", MNIST_CONV, 1},
    {"conv forward CIFAR (100x3x32x32, 32@5x5)", CIFAR_CONV, 0},
    {"PEPITA conv update CIFAR", CIFAR_CONV, 1},
};

typedef struct conv_bufs {
    rt_context *ctx;
    const conv_case *c;
    rt_buf x, w, y;
} conv_bufs;

static pp_status run_conv(void *arg) {
    conv_bufs *b = arg;
    const op_conv_shape *s = &b->c->s;
    if (!b->c->update) return op_conv_forward(b->ctx, s, &b->x, &b->w, &b->y);
    float positions = (float)op_conv_out_h(s) * (float)op_conv_out_w(s);
    return op_conv_weight_grad(b->ctx, s, 1.0f / ((float)s->batch * positions), &b->y, &b->x,
                               &b->w);
}

/* The host yardstick: im2col + one cblas_sgemm, as a CPU framework would. */
typedef struct blas_conv {
    const conv_case *c;
    float *x, *w, *y, *cols;
} blas_conv;

static void im2col(const op_conv_shape *s, const float *x, int n, float *cols) {
    int oh = op_conv_out_h(s), ow = op_conv_out_w(s), k = s->kernel;
    /* cols: (c k k) x (oh ow) for sample n */
    for (int c = 0; c < s->in_c; c++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                float *row = cols + ((size_t)(c * k + i) * k + j) * (size_t)(oh * ow);
                const float *plane = x + ((size_t)n * s->in_c + c) * s->in_h * s->in_w;
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                        row[oy * ow + ox] = plane[(oy + i) * s->in_w + ox + j];
            }
}

static pp_status run_blas_conv(void *arg) {
    blas_conv *b = arg;
    const op_conv_shape *s = &b->c->s;
    int oh = op_conv_out_h(s), ow = op_conv_out_w(s);
    int kk = s->in_c * s->kernel * s->kernel, p = oh * ow;
    for (int n = 0; n < s->batch; n++) {
        im2col(s, b->x, n, b->cols);
        float *y = b->y + (size_t)n * s->out_c * p;
        if (!b->c->update) /* y (F x P) = W (F x KK) cols (KK x P) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->out_c, p, kk, 1.0f, b->w, kk,
                        b->cols, p, 0.0f, y, p);
        else /* dW (F x KK) += dy (F x P) cols^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->out_c, kk, p, 1.0f, y, p,
                        b->cols, p, n ? 1.0f : 0.0f, b->w, kk);
    }
    return PP_OK;
}

static pp_status bench_conv(const bench_options *o, rt_context *ctx, bench_json *j) {
    double target = o->quick ? 0.005 : 0.1;
    printf("\n### Convolution\n\n| kernel | ms | GFLOP/s | OpenBLAS im2col+sgemm ms | ratio to "
           "OpenBLAS |\n|---|---|---|---|---|\n");
    bj_array_begin(j, "conv");
    for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) {
        conv_case cc = conv_cases[i];
        if (o->quick) cc.s.batch = 2;
        const conv_case *c = &cc;
        const op_conv_shape *s = &c->s;
        size_t nx = (size_t)s->batch * s->in_c * s->in_h * s->in_w;
        size_t nw = (size_t)s->out_c * s->in_c * s->kernel * s->kernel;
        size_t p = (size_t)op_conv_out_h(s) * op_conv_out_w(s);
        size_t ny = (size_t)s->batch * s->out_c * p;
        double flops = 2.0 * (double)ny * (double)(s->in_c * s->kernel * s->kernel);
        conv_bufs b = {.ctx = ctx, .c = c};
        double t = -1, t_blas = -1;
        pp_status st;
        PP_TRY_GOTO(st, rt_buf_create(ctx, nx * sizeof(float), &b.x), done);
        PP_TRY_GOTO(st, rt_buf_create(ctx, nw * sizeof(float), &b.w), done);
        PP_TRY_GOTO(st, rt_buf_create(ctx, ny * sizeof(float), &b.y), done);
        PP_TRY_GOTO(st, op_uniform(ctx, nx, 0.0f, 1.0f, 3, 1, &b.x), done);
        PP_TRY_GOTO(st, op_uniform(ctx, nw, -0.1f, 0.1f, 3, 2, &b.w), done);
        PP_TRY_GOTO(st, op_uniform(ctx, ny, -0.1f, 0.1f, 3, 3, &b.y), done);
        PP_TRY_GOTO(st, bench_time(ctx, run_conv, &b, o->repeats, target, &t), done);
        if (!strcmp(ctx->info.type, "cpu")) { /* OpenBLAS runs on the same cores */
            blas_conv h = {.c = c};
            size_t kk = (size_t)s->in_c * s->kernel * s->kernel;
            h.x = calloc(nx, sizeof(float));
            h.w = calloc(nw, sizeof(float));
            h.y = calloc(ny, sizeof(float));
            h.cols = calloc(kk * p, sizeof(float));
            if (h.x && h.w && h.y && h.cols)
                st = bench_time(NULL, run_blas_conv, &h, o->repeats, target, &t_blas);
            free(h.x);
            free(h.w);
            free(h.y);
            free(h.cols);
        }
    done:
        rt_buf_release(ctx, &b.x);
        rt_buf_release(ctx, &b.w);
        rt_buf_release(ctx, &b.y);
        bj_object_begin(j, NULL);
        bj_string(j, "kernel", c->name);
        if (st != PP_OK) {
            printf("| %s | failed: %s | | | |\n", c->name, pp_last_error());
            bj_string(j, "error", pp_last_error());
            bj_object_end(j);
            continue;
        }
        double ratio = t_blas > 0 ? t_blas / t : NAN;
        printf("| %s | %.3f | %.1f |", c->name, 1e3 * t, flops / t * 1e-9);
        if (t_blas > 0)
            printf(" %.3f | %.2fx |\n", 1e3 * t_blas, ratio);
        else
            printf(" - | - |\n");
        bj_int(j, "batch", s->batch);
        bj_number(j, "seconds", t);
        bj_number(j, "gflops", flops / t * 1e-9);
        bj_number(j, "openblas_im2col_seconds", t_blas > 0 ? t_blas : NAN);
        bj_number(j, "ratio_to_openblas", ratio);
        bj_object_end(j);
    }
    bj_array_end(j);
    return PP_OK;
}

pp_status bench_kernels(const bench_options *o, rt_context *ctx, bench_json *j) {
    kernel_bufs k = {.ctx = ctx};
    pp_status st;
    double target = o->quick ? 0.002 : 0.05;
    PP_TRY_GOTO(st, alloc_bufs(ctx, &k), done);
    printf("\n### Element-wise kernels (training sizes of FC MNIST)\n\n| kernel | us | GB/s "
           "|\n|---|---|---|\n");
    bj_array_begin(j, "elementwise");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        k.c = &cases[i];
        k.n = o->quick && cases[i].n >= 4096 ? cases[i].n / 16 : cases[i].n;
        double t;
        PP_TRY_GOTO(st, bench_time(ctx, run_case, &k, o->repeats, target, &t), done);
        double gbs = cases[i].bytes * (double)k.n / t * 1e-9;
        printf("| %s | %.1f | %.1f |\n", cases[i].name, 1e6 * t, gbs);
        bj_object_begin(j, NULL);
        bj_string(j, "kernel", cases[i].name);
        bj_int(j, "n", (long long)k.n);
        bj_number(j, "seconds", t);
        bj_number(j, "gbytes_per_second", gbs);
        bj_object_end(j);
    }
    bj_array_end(j);
    st = bench_conv(o, ctx, j);
done:
    free_bufs(ctx, &k);
    return st;
}
