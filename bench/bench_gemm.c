/* GEMM at every shape and transpose that training uses: the native PoCL
 * kernels, CLBlast, and the dispatch's choice (op_gemm), against OpenBLAS
 * cblas_sgemm on the host in the same run (CPU devices). */
#include "bench.h"
#include "runtime/error.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gemm_shape {
    const char *model; /* the training run that issues it */
    const char *what;
    op_trans ta, tb;
    size_t m, n, k;
} gemm_shape;

#define N OP_NO_TRANS
#define T OP_TRANS
/* FC d-1024-10 at batch 64 (PEPITA and BP), the conv models' dense layer
 * (F*12*12 or F*14*14 -> 10) and modulated input at batch 100. */
#define FC_SHAPES(model, d)                                                                        \
    {model, "forward layer 1: x W1^T", N, T, 64, 1024, d},                                         \
        {model, "forward layer 2: h W2^T", N, T, 64, 10, 1024},                                    \
        {model, "PEPITA x' = x + e F^T", N, T, 64, d, 10},                                         \
        {model, "PEPITA W1 F", N, N, 1024, 10, d},                                                 \
        {model, "PEPITA z1' = z1 + e (W1 F)^T", N, T, 64, 1024, 10},                               \
        {model, "update dW1 = d^T x'", T, N, 1024, d, 64},                                         \
        {model, "update dW2 = e^T h'", T, N, 10, 1024, 64}, {                                      \
        model, "BP dh1 = dz2 W2", N, N, 64, 1024, 10                                               \
    }
#define CONV_SHAPES(model, d, f)                                                                   \
    {model, "dense forward: h W^T", N, T, 100, 10, f},                                             \
        {model, "update dW = e^T h'", T, N, 10, f, 100},                                           \
        {model, "PEPITA x' = x + e F^T", N, T, 100, d, 10}, {                                      \
        model, "BP dh = dz W", N, N, 100, f, 10                                                    \
    }

/* A hidden layer after the first in the follow-up's deeper nets (--hidden
 * 1024,1024,...): the forward product (PEPITA's modulated pass, which has no
 * shortcut there, is the same shape), the update, and BP's backward product. */
#define HIDDEN_SHAPES(model)                                                                       \
    {model, "forward layer l: h W_l^T", N, T, 64, 1024, 1024},                                     \
        {model, "update dW_l = d^T h'", T, N, 1024, 1024, 64}, {                                   \
        model, "BP dh = dz W_l", N, N, 64, 1024, 1024                                              \
    }

static const gemm_shape shapes[] = {
    FC_SHAPES("fc mnist", 784),
    FC_SHAPES("fc cifar", 3072),
    HIDDEN_SHAPES("fc 1024-1024"),
    CONV_SHAPES("conv mnist", 784, 4608),
    CONV_SHAPES("conv cifar", 3072, 6272),
};
#undef N
#undef T

typedef struct gemm_run {
    rt_context *ctx;
    const gemm_shape *s;
    op_gemm_path path;
    rt_buf a, b, c;
    float *ha, *hb, *hc;
} gemm_run;

static size_t lda_of(const gemm_shape *s) {
    return s->ta ? s->m : s->k;
}
static size_t ldb_of(const gemm_shape *s) {
    return s->tb ? s->k : s->n;
}

static pp_status run_device(void *arg) {
    gemm_run *r = arg;
    const gemm_shape *s = r->s;
    if (r->path == OP_GEMM_AUTO)
        return op_gemm(r->ctx, s->ta, s->tb, s->m, s->n, s->k, 1.0f, &r->a, 0, lda_of(s), &r->b, 0,
                       ldb_of(s), 0.0f, &r->c, 0, s->n);
    return op_gemm_with(r->ctx, r->path, s->ta, s->tb, s->m, s->n, s->k, 1.0f, &r->a, 0, lda_of(s),
                        &r->b, 0, ldb_of(s), 0.0f, &r->c, 0, s->n);
}

static pp_status run_openblas(void *arg) {
    gemm_run *r = arg;
    const gemm_shape *s = r->s;
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
                (int)s->m, (int)s->n, (int)s->k, 1.0f, r->ha, (int)lda_of(s), r->hb, (int)ldb_of(s),
                0.0f, r->hc, (int)s->n);
    return PP_OK;
}

static double gflops(const gemm_shape *s, double seconds) {
    return seconds > 0 ? 2.0 * (double)s->m * (double)s->n * (double)s->k / seconds * 1e-9 : NAN;
}

/* Times one path; a path that fails on this device reports NAN. */
static double time_path(const bench_options *o, gemm_run *r, op_gemm_path path, double target) {
    double t;
    r->path = path;
    if (bench_time(r->ctx, run_device, r, o->repeats, target, &t) != PP_OK) {
        pp_clear_error();
        return NAN;
    }
    return t;
}

/* --quick: the same products on tiny sizes (a smoke run). */
static size_t quick_dim(size_t d) {
    return d >= 64 ? d / 16 : d;
}

static pp_status bench_shape(const bench_options *o, rt_context *ctx, const gemm_shape *full,
                             double *worst_ratio, bench_json *j) {
    gemm_shape tiny = *full;
    if (o->quick) {
        tiny.m = quick_dim(full->m);
        tiny.n = quick_dim(full->n);
        tiny.k = quick_dim(full->k);
    }
    const gemm_shape *s = &tiny;
    gemm_run r = {.ctx = ctx, .s = s};
    size_t na = s->m * s->k, nb = s->k * s->n, nc = s->m * s->n;
    double target = o->quick ? 0.002 : 0.05;
    pp_status st;
    PP_TRY_GOTO(st, rt_buf_create(ctx, na * sizeof(float), &r.a), done);
    PP_TRY_GOTO(st, rt_buf_create(ctx, nb * sizeof(float), &r.b), done);
    PP_TRY_GOTO(st, rt_buf_create(ctx, nc * sizeof(float), &r.c), done);
    PP_TRY_GOTO(st, op_uniform(ctx, na, -1.0f, 1.0f, 5, 1, &r.a), done);
    PP_TRY_GOTO(st, op_uniform(ctx, nb, -1.0f, 1.0f, 5, 2, &r.b), done);
    double t_native = time_path(o, &r, OP_GEMM_NATIVE, target);
    double t_clblast = time_path(o, &r, OP_GEMM_CLBLAST, target);
    double t_auto = time_path(o, &r, OP_GEMM_AUTO, target);
    double t_blas = NAN;
    if (!strcmp(ctx->info.type, "cpu")) { /* OpenBLAS runs on the same cores */
        r.ha = malloc(na * sizeof(float));
        r.hb = malloc(nb * sizeof(float));
        r.hc = malloc(nc * sizeof(float));
        if (r.ha && r.hb && r.hc) {
            for (size_t i = 0; i < na; i++)
                r.ha[i] = (float)(i % 13) * 0.1f - 0.6f;
            for (size_t i = 0; i < nb; i++)
                r.hb[i] = (float)(i % 7) * 0.1f - 0.3f;
            PP_TRY_GOTO(st, bench_time(NULL, run_openblas, &r, o->repeats, target, &t_blas), done);
        }
    }
    double ratio = t_blas / t_auto; /* GFLOP/s ratio: ours / OpenBLAS */
    if (isfinite(ratio) && (*worst_ratio < 0 || ratio < *worst_ratio)) *worst_ratio = ratio;
    printf("| %s | %s | %c%c | %zux%zux%zu | %.1f | %.1f | %.1f | %.1f | %s%.2fx%s |\n", s->model,
           s->what, s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->m, s->n, s->k, gflops(s, t_native),
           gflops(s, t_clblast), gflops(s, t_auto), gflops(s, t_blas),
           isfinite(ratio) && ratio < 0.6 ? "**" : "", ratio,
           isfinite(ratio) && ratio < 0.6 ? "**" : "");
    bj_object_begin(j, NULL);
    bj_string(j, "model", s->model);
    bj_string(j, "what", s->what);
    bj_string(j, "trans", s->ta ? (s->tb ? "TT" : "TN") : (s->tb ? "NT" : "NN"));
    bj_int(j, "m", (long long)s->m);
    bj_int(j, "n", (long long)s->n);
    bj_int(j, "k", (long long)s->k);
    bj_number(j, "native_gflops", gflops(s, t_native));
    bj_number(j, "clblast_gflops", gflops(s, t_clblast));
    bj_number(j, "dispatch_gflops", gflops(s, t_auto));
    bj_number(j, "dispatch_seconds", t_auto);
    bj_number(j, "openblas_gflops", gflops(s, t_blas));
    bj_number(j, "ratio_to_openblas", ratio);
    bj_object_end(j);
done:
    free(r.ha);
    free(r.hb);
    free(r.hc);
    rt_buf_release(ctx, &r.a);
    rt_buf_release(ctx, &r.b);
    rt_buf_release(ctx, &r.c);
    return st;
}

pp_status bench_gemm(const bench_options *o, rt_context *ctx, bench_json *j) {
    double worst = -1;
    printf("\n### GEMM at the training shapes (GFLOP/s; ratio = dispatch / OpenBLAS, target >= "
           "0.6)\n\n| model | product | op | MxNxK | native | CLBlast | dispatch | OpenBLAS | "
           "ratio |\n|---|---|---|---|---|---|---|---|---|\n");
    bj_object_begin(j, "gemm");
    bj_array_begin(j, "shapes");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        /* quick: the FC MNIST shapes only */
        if (o->quick && i >= 8) break;
        if (bench_shape(o, ctx, &shapes[i], &worst, j) != PP_OK) {
            printf("| %s | %s | failed: %s |\n", shapes[i].model, shapes[i].what, pp_last_error());
            pp_clear_error();
        }
    }
    bj_array_end(j);
    bj_number(j, "worst_ratio_to_openblas", worst >= 0 ? worst : NAN);
    bj_object_end(j);
    return PP_OK;
}
