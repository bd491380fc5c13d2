/* GEMM reference and checks: both paths at awkward and real training shapes,
 * and the dense wrappers. */
#include "ref_gemm.h"

#include "ref_elementwise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Float32 sums over k <= 4608 of products of values in [-1, 1) (fixed seeds):
 * the largest error measured is 5.5e-5 relative (CLBlast, k = 3072), the
 * native kernels' 3.3e-5. */
#define GEMM_TOLERANCE 1e-4

void ref_gemm(op_trans ta, op_trans tb, size_t m, size_t n, size_t k, float alpha, const float *a,
              size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    double *row = malloc((n ? n : 1) * sizeof *row);
    if (!row) return;
    for (size_t i = 0; i < m; i++) {
        memset(row, 0, n * sizeof *row);
        for (size_t p = 0; p < k; p++) {
            double av = ta ? a[p * lda + i] : a[i * lda + p];
            if (tb)
                for (size_t j = 0; j < n; j++)
                    row[j] += av * b[j * ldb + p];
            else
                for (size_t j = 0; j < n; j++)
                    row[j] += av * b[p * ldb + j];
        }
        for (size_t j = 0; j < n; j++) {
            double prev = beta == 0.0f ? 0.0 : (double)beta * c[i * ldc + j];
            c[i * ldc + j] = (float)((double)alpha * row[j] + prev);
        }
    }
    free(row);
}

static void fill(float *x, size_t n, unsigned seed) {
    uint64_t s = 0x2545F4914F6CDD1Dull ^ ((uint64_t)seed * 0x9E3779B97F4A7C15ull);
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = (float)((double)(s >> 40) / 8388608.0 - 1.0);
    }
}

/* Elements a matrix of rows x cols with leading dimension ld spans from off. */
static size_t span(size_t off, size_t rows, size_t cols, size_t ld) {
    return off + (rows && cols ? (rows - 1) * ld + cols : 0);
}

static const char *path_op(op_gemm_path path) {
    switch (path) {
    case OP_GEMM_CLBLAST:
        return "gemm_clblast";
    case OP_GEMM_NATIVE:
        return "gemm_native";
    default:
        return "gemm";
    }
}

/* Host copies of one case's operands, sized to fit exactly. */
typedef struct gemm_host {
    float *a, *b, *c0, *expect, *got;
    size_t lda, ldb, ldc, a_len, b_len, c_len;
} gemm_host;

static void host_free(gemm_host *h) {
    free(h->a), free(h->b), free(h->c0), free(h->expect), free(h->got);
}

static pp_status host_make(const ref_gemm_case *c, unsigned seed, gemm_host *h) {
    memset(h, 0, sizeof *h);
    size_t a_rows = c->ta ? c->k : c->m, a_cols = c->ta ? c->m : c->k;
    size_t b_rows = c->tb ? c->n : c->k, b_cols = c->tb ? c->k : c->n;
    h->lda = a_cols + c->pad, h->ldb = b_cols + c->pad, h->ldc = c->n + c->pad;
    if (h->lda == 0) h->lda = 1;
    if (h->ldb == 0) h->ldb = 1;
    if (h->ldc == 0) h->ldc = 1;
    h->a_len = span(c->offset, a_rows, a_cols, h->lda);
    h->b_len = span(c->offset, b_rows, b_cols, h->ldb);
    h->c_len = span(c->offset, c->m, c->n, h->ldc);
    h->a = malloc((h->a_len + 1) * sizeof(float));
    h->b = malloc((h->b_len + 1) * sizeof(float));
    h->c0 = malloc((h->c_len + 1) * sizeof(float));
    h->expect = malloc((h->c_len + 1) * sizeof(float));
    h->got = malloc((h->c_len + 1) * sizeof(float));
    if (!h->a || !h->b || !h->c0 || !h->expect || !h->got) {
        host_free(h);
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "gemm check: out of host memory");
    }
    fill(h->a, h->a_len, seed);
    fill(h->b, h->b_len, seed + 1);
    fill(h->c0, h->c_len, seed + 2);
    memcpy(h->expect, h->c0, h->c_len * sizeof(float));
    ref_gemm(c->ta, c->tb, c->m, c->n, c->k, c->alpha, h->a + c->offset, h->lda, h->b + c->offset,
             h->ldb, c->beta, h->expect + c->offset, h->ldc);
    return PP_OK;
}

/* Uploads n floats into a fresh buffer (at least 4 bytes). */
static pp_status upload(rt_context *ctx, const float *x, size_t n, rt_buf *buf) {
    PP_TRY(rt_buf_create(ctx, n * sizeof(float), buf));
    if (n == 0) return PP_OK;
    return rt_buf_write(ctx, buf, 0, n * sizeof(float), x);
}

/* Runs the case on the device through path and compares the whole C buffer. */
static pp_status run_case(rt_context *ctx, op_gemm_path path, const ref_gemm_case *c,
                          const gemm_host *h, ref_check_list *list) {
    ref_check_result *r = ref_check_list_add(
        list, path_op(path), "%c%c m=%zu n=%zu k=%zu off=%zu pad=%zu alpha=%g beta=%g",
        c->ta ? 'T' : 'N', c->tb ? 'T' : 'N', c->m, c->n, c->k, c->offset, c->pad, (double)c->alpha,
        (double)c->beta);
    if (!r) return pp_fail(PP_ERR_OUT_OF_MEMORY, "gemm check: out of host memory");
    rt_buf a = {0}, b = {0}, cb = {0};
    pp_status st;
    PP_TRY_GOTO(st, upload(ctx, h->a, h->a_len, &a), done);
    PP_TRY_GOTO(st, upload(ctx, h->b, h->b_len, &b), done);
    PP_TRY_GOTO(st, upload(ctx, h->c0, h->c_len, &cb), done);
    r->status = op_gemm_with(ctx, path, c->ta, c->tb, c->m, c->n, c->k, c->alpha, &a, c->offset,
                             h->lda, &b, c->offset, h->ldb, c->beta, &cb, c->offset, h->ldc);
    if (r->status == PP_OK && h->c_len)
        PP_TRY_GOTO(st, rt_buf_read(ctx, &cb, 0, h->c_len * sizeof(float), h->got), done);
    else
        memcpy(h->got, h->c0, h->c_len * sizeof(float));
    ref_compare(h->got, h->expect, h->c_len, GEMM_TOLERANCE, r);
done:
    rt_buf_release(ctx, &a);
    rt_buf_release(ctx, &b);
    rt_buf_release(ctx, &cb);
    return st;
}

pp_status ref_check_gemm_case(rt_context *ctx, op_gemm_path path, const ref_gemm_case *c,
                              ref_check_list *list) {
    gemm_host h;
    PP_TRY(host_make(c, (unsigned)(c->m * 31 + c->n * 7 + c->k), &h));
    pp_status st = run_case(ctx, path, c, &h, list);
    host_free(&h);
    return st;
}

/* Checks one case on both paths against one reference. */
static pp_status check_both(rt_context *ctx, const ref_gemm_case *c, ref_check_list *list) {
    gemm_host h;
    PP_TRY(host_make(c, (unsigned)(c->m * 31 + c->n * 7 + c->k), &h));
    pp_status st = run_case(ctx, OP_GEMM_NATIVE, c, &h, list);
    if (st == PP_OK) st = run_case(ctx, OP_GEMM_CLBLAST, c, &h, list);
    host_free(&h);
    return st;
}

/* The dense wrappers (through the dispatch) at one layer shape. */
static pp_status check_dense(rt_context *ctx, size_t batch, size_t in, size_t out,
                             ref_check_list *list) {
    size_t nx = batch * in, nw = out * in, ny = batch * out;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *y = malloc(ny * sizeof *y);
    float *dy = malloc(ny * sizeof *dy), *dw = malloc(nw * sizeof *dw);
    float *dx = malloc(nx * sizeof *dx), *expect = malloc((nx > nw ? nx : nw) * sizeof *expect);
    float *got = calloc(nx > nw ? nx : nw, sizeof *got);
    rt_buf bx = {0}, bw = {0}, by = {0}, bdy = {0}, bdw = {0}, bdx = {0};
    pp_status st = PP_OK;
    ref_check_result *r;
    if (!x || !w || !y || !dy || !dw || !dx || !expect || !got) {
        st = pp_fail(PP_ERR_OUT_OF_MEMORY, "dense check: out of host memory");
        goto done;
    }
    fill(x, nx, 11), fill(w, nw, 12), fill(dy, ny, 13), fill(dw, nw, 14);
    PP_TRY_GOTO(st, upload(ctx, x, nx, &bx), done);
    PP_TRY_GOTO(st, upload(ctx, w, nw, &bw), done);
    PP_TRY_GOTO(st, upload(ctx, dy, ny, &bdy), done);
    PP_TRY_GOTO(st, upload(ctx, dw, nw, &bdw), done);
    PP_TRY_GOTO(st, rt_buf_create(ctx, ny * sizeof(float), &by), done);
    PP_TRY_GOTO(st, rt_buf_create(ctx, nx * sizeof(float), &bdx), done);

    r = ref_check_list_add(list, "dense_forward", "batch=%zu in=%zu out=%zu", batch, in, out);
    if (!r) goto oom;
    r->status = op_dense_forward(ctx, batch, in, out, &bx, &bw, &by);
    if (r->status == PP_OK) PP_TRY_GOTO(st, rt_buf_read(ctx, &by, 0, ny * 4, got), done);
    ref_gemm(OP_NO_TRANS, OP_TRANS, batch, out, in, 1.0f, x, in, w, in, 0.0f, expect, out);
    ref_compare(got, expect, ny, GEMM_TOLERANCE, r);

    r = ref_check_list_add(list, "dense_weight_update", "batch=%zu in=%zu out=%zu", batch, in, out);
    if (!r) goto oom;
    r->status = op_dense_weight_update(ctx, batch, in, out, 0.5f, &bdy, &bx, 0.9f, &bdw);
    if (r->status == PP_OK) PP_TRY_GOTO(st, rt_buf_read(ctx, &bdw, 0, nw * 4, got), done);
    memcpy(expect, dw, nw * sizeof *dw);
    ref_gemm(OP_TRANS, OP_NO_TRANS, out, in, batch, 0.5f, dy, out, x, in, 0.9f, expect, in);
    ref_compare(got, expect, nw, GEMM_TOLERANCE, r);

    r = ref_check_list_add(list, "dense_input_grad", "batch=%zu in=%zu out=%zu", batch, in, out);
    if (!r) goto oom;
    r->status = op_dense_input_grad(ctx, batch, in, out, &bdy, &bw, &bdx);
    if (r->status == PP_OK) PP_TRY_GOTO(st, rt_buf_read(ctx, &bdx, 0, nx * 4, got), done);
    ref_gemm(OP_NO_TRANS, OP_NO_TRANS, batch, in, out, 1.0f, dy, out, w, in, 0.0f, expect, in);
    ref_compare(got, expect, nx, GEMM_TOLERANCE, r);
    goto done;
oom:
    st = pp_fail(PP_ERR_OUT_OF_MEMORY, "dense check: out of host memory");
done:
    rt_buf_release(ctx, &bx), rt_buf_release(ctx, &bw), rt_buf_release(ctx, &by);
    rt_buf_release(ctx, &bdy), rt_buf_release(ctx, &bdw), rt_buf_release(ctx, &bdx);
    free(x), free(w), free(y), free(dy), free(dw), free(dx), free(expect), free(got);
    return st;
}

/* The SGD step with a dense layer's gradient, g = (1/batch) dy^T x: in the
 * product's store (op_gemm_sgd_step, where it runs there) bit for bit as the
 * product into g then sgd_momentum, and op_dense_weight_step against the
 * reference. */
static pp_status check_weight_step(rt_context *ctx, size_t batch, size_t in, size_t out,
                                   ref_check_list *list) {
    const size_t nx = batch * in, nw = out * in, ny = batch * out;
    const float alpha = 1.0f / (float)batch;
    const op_sgd sgd = {0.1f, 0.9f, 1e-3f};
    float *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy), *w = malloc(nw * sizeof *w),
          *v = malloc(nw * sizeof *v), *g = malloc(nw * sizeof *g), *got_w = malloc(nw * sizeof *w),
          *got_v = malloc(nw * sizeof *v), *two_w = malloc(nw * sizeof *w),
          *two_v = malloc(nw * sizeof *v);
    rt_buf bx = {0}, bdy = {0}, bw = {0}, bv = {0}, bg = {0};
    pp_status st = PP_OK;
    if (!x || !dy || !w || !v || !g || !got_w || !got_v || !two_w || !two_v) {
        st = pp_fail(PP_ERR_OUT_OF_MEMORY, "weight step check: out of host memory");
        goto done;
    }
    fill(x, nx, 31), fill(dy, ny, 32), fill(w, nw, 33), fill(v, nw, 34);
    for (size_t i = 0; i < nw; i++)
        v[i] *= 0.1f;
    PP_TRY_GOTO(st, upload(ctx, x, nx, &bx), done);
    PP_TRY_GOTO(st, upload(ctx, dy, ny, &bdy), done);
    PP_TRY_GOTO(st, upload(ctx, w, nw, &bw), done);
    PP_TRY_GOTO(st, upload(ctx, v, nw, &bv), done);
    PP_TRY_GOTO(st, rt_buf_create(ctx, nw * sizeof(float), &bg), done);

    /* the two launches: the product into g, then sgd_momentum */
    pp_status op = op_dense_weight_update(ctx, batch, in, out, alpha, &bdy, &bx, 0.0f, &bg);
    if (op == PP_OK)
        op = op_sgd_momentum(ctx, nw, sgd.lr, sgd.momentum, sgd.weight_decay, &bw, &bv, &bg);
    if (op == PP_OK) op = rt_buf_read(ctx, &bw, 0, nw * 4, two_w);
    if (op == PP_OK) op = rt_buf_read(ctx, &bv, 0, nw * 4, two_v);
    /* the step in the product's store, from the same w and v */
    int stepped = 0;
    PP_TRY_GOTO(st, rt_buf_write(ctx, &bw, 0, nw * 4, w), done);
    PP_TRY_GOTO(st, rt_buf_write(ctx, &bv, 0, nw * 4, v), done);
    if (op == PP_OK)
        op = op_gemm_sgd_step(ctx, OP_TRANS, out, in, batch, alpha, &bdy, out, &bx, in, &sgd, &bw,
                              &bv, &stepped);
    if (stepped) {
        ref_check_result *r = ref_check_list_add(
            list, "gemm_sgd_step", "batch=%zu in=%zu out=%zu: as the product + sgd_momentum", batch,
            in, out);
        if (!r) goto oom;
        r->status = op;
        if (op == PP_OK) PP_TRY_GOTO(st, rt_buf_read(ctx, &bw, 0, nw * 4, got_w), done);
        if (op == PP_OK) PP_TRY_GOTO(st, rt_buf_read(ctx, &bv, 0, nw * 4, got_v), done);
        ref_compare(got_w, two_w, nw, 0.0, r);
        if (r->pass) ref_compare(got_v, two_v, nw, 0.0, r);
        /* to the bit: tolerance 0 takes -0 for +0 and NaN for NaN */
        if (memcmp(got_w, two_w, nw * sizeof *w) || memcmp(got_v, two_v, nw * sizeof *v))
            r->pass = 0;
    }

    /* the operator, whichever way it runs, against the reference */
    ref_check_result *r =
        ref_check_list_add(list, "dense_weight_step", "batch=%zu in=%zu out=%zu", batch, in, out);
    if (!r) goto oom;
    PP_TRY_GOTO(st, rt_buf_write(ctx, &bw, 0, nw * 4, w), done);
    PP_TRY_GOTO(st, rt_buf_write(ctx, &bv, 0, nw * 4, v), done);
    r->status = op != PP_OK ? op
                            : op_dense_weight_step(ctx, batch, in, out, alpha, &bdy, &bx, &sgd, &bw,
                                                   &bv, &bg);
    if (r->status == PP_OK) PP_TRY_GOTO(st, rt_buf_read(ctx, &bw, 0, nw * 4, got_w), done);
    if (r->status == PP_OK) PP_TRY_GOTO(st, rt_buf_read(ctx, &bv, 0, nw * 4, got_v), done);
    ref_gemm(OP_TRANS, OP_NO_TRANS, out, in, batch, alpha, dy, out, x, in, 0.0f, g, in);
    ref_sgd_momentum(nw, sgd.lr, sgd.momentum, sgd.weight_decay, w, v, g);
    ref_compare(got_w, w, nw, GEMM_TOLERANCE, r);
    if (r->pass) ref_compare(got_v, v, nw, GEMM_TOLERANCE, r);
    goto done;
oom:
    st = pp_fail(PP_ERR_OUT_OF_MEMORY, "weight step check: out of host memory");
done:
    rt_buf_release(ctx, &bx), rt_buf_release(ctx, &bdy), rt_buf_release(ctx, &bw);
    rt_buf_release(ctx, &bv), rt_buf_release(ctx, &bg);
    free(x), free(dy), free(w), free(v), free(g), free(got_w), free(got_v), free(two_w),
        free(two_v);
    return st;
}

pp_status ref_checks_gemm(rt_context *ctx, int quick, ref_check_list *list) {
    /* Awkward shapes: 1, primes, non-multiples of every tile, offsets and padded
     * leading dimensions, alpha/beta not 1/0. */
    static const size_t small[][3] = {{1, 1, 1}, {7, 13, 29}, {61, 3, 17}, {37, 70, 5}};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t s = 0; s < sizeof small / sizeof small[0]; s++) {
                ref_gemm_case c = {.ta = (op_trans)ta,
                                   .tb = (op_trans)tb,
                                   .m = small[s][0],
                                   .n = small[s][1],
                                   .k = small[s][2],
                                   .alpha = 0.75f,
                                   .beta = s % 2 ? -0.5f : 0.0f,
                                   .offset = s * 3,
                                   .pad = s};
                PP_TRY(check_both(ctx, &c, list));
            }
    PP_TRY(check_dense(ctx, 5, 13, 7, list));
    /* batch x in x out: one of each; every edge of the tiles (rows and
     * columns short of a tile, k short of a vector step) */
    static const size_t step[][3] = {{1, 1, 1}, {29, 70, 37}, {5, 33, 65}, {13, 97, 17}};
    for (size_t s = 0; s < sizeof step / sizeof step[0]; s++)
        PP_TRY(check_weight_step(ctx, step[s][0], step[s][1], step[s][2], list));
    if (quick) return PP_OK;
    /* MNIST and CIFAR-10 FC's layers at batch 64, the conv model's output layer */
    static const size_t real_step[][3] = {
        {64, 784, 1024}, {64, 1024, 10}, {64, 3072, 1024}, {100, 4608, 10}};
    for (size_t s = 0; s < sizeof real_step / sizeof real_step[0]; s++)
        PP_TRY(check_weight_step(ctx, real_step[s][0], real_step[s][1], real_step[s][2], list));

    /* The real training shapes: FC 784-1024-10 and 3072-1024-10 at batch 64,
     * the conv model's 4608 -> 10 layer at batch 100 (forward NT, update TN,
     * W1 F and input gradients NN), and one TT. */
    static const struct {
        op_trans ta, tb;
        size_t m, n, k;
    } real[] = {
        {OP_NO_TRANS, OP_TRANS, 64, 1024, 784},     {OP_NO_TRANS, OP_TRANS, 64, 10, 1024},
        {OP_TRANS, OP_NO_TRANS, 1024, 784, 64},     {OP_TRANS, OP_NO_TRANS, 10, 1024, 64},
        {OP_NO_TRANS, OP_NO_TRANS, 1024, 10, 784},  {OP_NO_TRANS, OP_NO_TRANS, 64, 1024, 10},
        {OP_NO_TRANS, OP_TRANS, 64, 1024, 3072},    {OP_TRANS, OP_NO_TRANS, 1024, 3072, 64},
        {OP_NO_TRANS, OP_NO_TRANS, 1024, 10, 3072}, {OP_NO_TRANS, OP_TRANS, 100, 10, 4608},
        {OP_TRANS, OP_NO_TRANS, 10, 4608, 100},     {OP_NO_TRANS, OP_NO_TRANS, 100, 4608, 10},
        {OP_TRANS, OP_TRANS, 784, 1024, 64},
    };
    for (size_t s = 0; s < sizeof real / sizeof real[0]; s++) {
        ref_gemm_case c = {.ta = real[s].ta,
                           .tb = real[s].tb,
                           .m = real[s].m,
                           .n = real[s].n,
                           .k = real[s].k,
                           .alpha = 1.0f,
                           .beta = s % 3 == 2 ? 0.9f : 0.0f};
        PP_TRY(check_both(ctx, &c, list));
    }
    return check_dense(ctx, 64, 784, 1024, list);
}
