/* The native path: the tile kernels of cl/gemm.cl, one work-item per
 * work-group (what PoCL's CPU compiler turns into register-blocked vector
 * code), with the tile shape picked per call from a small cost model. */
#include "ops/gemm_internal.h"

#include <limits.h>
#include <stdio.h>

/* How one launch computes P (m x n) = op(A) op(B), stored into C directly or
 * transposed (swap). */
typedef enum native_form {
    FORM_AXPY,   /* gemm_axpy, op(B) rows contiguous */
    FORM_GATHER, /* gemm_axpy gathering a transposed B (short k) */
    FORM_DOT,    /* gemm_dot, B transposed */
    FORM_STRIP,  /* gemm_strip, B transposed, k <= STRIP_MAX_K */
} native_form;

typedef struct native_plan {
    native_form form;
    int trans_a; /* op(A) = A^T */
    int swap;    /* P = C^T: A^T B^T computed as B A */
    int tm, tn;  /* tile: rows x columns of P per work-item */
    int rows;    /* gemm_strip: rows of P per work-item, tm at a time */
    size_t m, n;
    const rt_buf *a, *b;
    size_t a_off, lda, b_off, ldb;
} native_plan;

typedef struct tile {
    int tm, tn;
} tile;

/* Candidate tiles. gemm_axpy keeps tm x (tn / 16) float16 accumulators,
 * gemm_dot tm x tn; AVX-512 has 32 vector registers. Each one's inner loop was
 * checked in PoCL 3.1's machine code to keep its accumulators in registers:
 * 5x64 spills one (and runs 25% slower than 6x64), so does gathering with
 * 64-wide tiles. */
static const tile axpy_tiles[] = {{4, 16}, {8, 16},  {12, 16}, {4, 32}, {6, 32},
                                  {8, 32}, {10, 32}, {12, 32}, {4, 64}, {6, 64}};
static const tile dot_tiles[] = {{4, 4},  {5, 5}, {4, 6}, {6, 4}, {4, 5},
                                 {2, 10}, {2, 8}, {3, 8}, {2, 5}};

/* Estimated time of a tile choice, in vector instructions per core. A
 * work-item's inner step issues FMAs and loads (a load or broadcast costing
 * about two FMAs in PoCL's code); the slower of the two bounds it. Padded
 * lanes of edge tiles cost like real ones. Fitted to measurements of the
 * training shapes on PoCL 3.1 (2-core AVX-512 Xeon); the choice only has to
 * be near the best, the dispatch compares the result against CLBlast. */
static double tile_cost(size_t m, size_t n, size_t k, tile t, native_form form, unsigned units) {
    size_t tiles =
        ((m + (size_t)t.tm - 1) / (size_t)t.tm) * ((n + (size_t)t.tn - 1) / (size_t)t.tn);
    double per_tile;
    if (form == FORM_DOT) {
        double fma = t.tm * t.tn, loads = t.tm + t.tn;
        double step = fma > 2.0 * loads ? fma : 2.0 * loads;
        /* 16 k per vector step (the last one partial), + the final horizontal
         * sums; a k below 16 runs scalar */
        if (k >= 16)
            per_tile = (double)((k + 15) / 16 + 4) * step + 2.0 * fma;
        else
            per_tile = 4.0 * step + (double)k * (fma + loads) + 2.0 * fma;
    } else {
        int nv = t.tn / 16;
        /* a gathered element costs about twice a vector load */
        double fma = t.tm * nv, loads = t.tm + (form == FORM_GATHER ? 2.0 * t.tn : nv);
        double step = fma > 2.0 * loads ? fma : 2.0 * loads;
        /* a 64-wide panel of B over a long k falls out of L1 */
        if (nv == 4 && k > 256) step *= 1.6;
        per_tile = (double)k * step + 8.0 * fma;
    }
    size_t waves = (tiles + units - 1) / units;
    return (double)waves * (per_tile + 100.0);
}

/* The cheapest tile of one form; its cost in *cost. */
static tile choose_tile(size_t m, size_t n, size_t k, native_form form, unsigned units,
                        double *cost) {
    const tile *list = form == FORM_DOT ? dot_tiles : axpy_tiles;
    size_t count = form == FORM_DOT ? sizeof dot_tiles / sizeof dot_tiles[0]
                                    : sizeof axpy_tiles / sizeof axpy_tiles[0];
    tile best = list[0];
    int found = 0;
    for (size_t i = 0; i < count; i++) {
        if (form == FORM_GATHER && list[i].tn > 32) continue;
        double c = tile_cost(m, n, k, list[i], form, units);
        if (!found || c < *cost) {
            best = list[i];
            *cost = c;
            found = 1;
        }
    }
    return best;
}

/* gemm_strip holds the k x tn panel of op(B) and tm x tn accumulators in
 * registers: 32-wide strips 4 rows at a time up to k = 10 (PEPITA's A F^T:
 * 64x784x10 23 -> 74 GFLOP/s; 16-wide 8 rows: 70, 32-wide 6 rows spills: 55),
 * 16-wide 8 rows above. A work-item runs down every row of its strip unless
 * that leaves fewer than 4 work-items per core. */
#define STRIP_MAX_K 16

static tile strip_tile(size_t m, size_t n, size_t k, unsigned units, int *rows) {
    tile t = k <= 10 && n > 16 ? (tile){4, 32} : (tile){8, 16};
    size_t strips = (n + (size_t)t.tn - 1) / (size_t)t.tn, want = 4 * (size_t)units;
    size_t chunks = strips >= want ? 1 : (want + strips - 1) / strips;
    size_t r = (m + chunks - 1) / chunks;
    r = (r + (size_t)t.tm - 1) / (size_t)t.tm * (size_t)t.tm; /* whole tiles */
    *rows = (int)r;
    return t;
}

static native_plan make_plan(const rt_context *ctx, const gemm_call *g) {
    native_plan p = {.m = g->m,
                     .n = g->n,
                     .a = g->a,
                     .a_off = g->a_off,
                     .lda = g->lda,
                     .b = g->b,
                     .b_off = g->b_off,
                     .ldb = g->ldb};
    unsigned units = ctx->info.compute_units ? ctx->info.compute_units : 1;
    double cost = 0.0;
    tile t;
    if (g->tb == OP_NO_TRANS) {
        p.form = FORM_AXPY;
        p.trans_a = g->ta == OP_TRANS;
        t = choose_tile(p.m, p.n, g->k, FORM_AXPY, units, &cost);
    } else if (g->ta == OP_TRANS) {
        /* C^T = B A with both stored untransposed. */
        p.form = FORM_AXPY;
        p.swap = 1;
        p.m = g->n, p.n = g->m;
        p.a = g->b, p.a_off = g->b_off, p.lda = g->ldb;
        p.b = g->a, p.b_off = g->a_off, p.ldb = g->lda;
        t = choose_tile(p.m, p.n, g->k, FORM_AXPY, units, &cost);
    } else if (g->k >= 1 && g->k <= STRIP_MAX_K && g->alpha != 0.0f) {
        p.form = FORM_STRIP;
        t = strip_tile(p.m, p.n, g->k, units, &p.rows);
    } else {
        double gather_cost = 0.0;
        tile gather = choose_tile(p.m, p.n, g->k, FORM_GATHER, units, &gather_cost);
        t = choose_tile(p.m, p.n, g->k, FORM_DOT, units, &cost);
        p.form = FORM_DOT;
        if (gather_cost < cost) {
            p.form = FORM_GATHER;
            t = gather;
        }
    }
    p.tm = t.tm;
    p.tn = t.tn;
    return p;
}

int gemm_native_can_step(const gemm_call *g) {
    return g->tb == OP_NO_TRANS; /* make_plan's FORM_AXPY, not swapped */
}

pp_status gemm_native(rt_context *ctx, const gemm_call *g) {
    if (g->sgd && !gemm_native_can_step(g))
        return pp_fail(PP_ERR_INTERNAL, "gemm: no SGD step with B transposed");
    native_plan p = make_plan(ctx, g);
    /* alpha == 0 must not read A or B (they may hold NaN): run with k = 0. */
    size_t k = g->alpha == 0.0f ? 0 : g->k;

    char defines[128];
    if (p.form == FORM_STRIP)
        snprintf(defines, sizeof defines, "-DGEMM_STRIP -DTRANS_A=0 -DKK=%zu -DTM=%d -DNV=%d", k,
                 p.tm, p.tn / 16);
    else if (p.form == FORM_DOT)
        snprintf(defines, sizeof defines, "-DGEMM_DOT -DTRANS_A=0 -DTM=%d -DTN=%d", p.tm, p.tn);
    else
        snprintf(defines, sizeof defines,
                 "-DTRANS_A=%d -DTRANS_B=%d -DTM=%d -DNV=%d -DSWAP_C=%d -DSGD_STEP=%d", p.trans_a,
                 p.form == FORM_GATHER, p.tm, p.tn / 16, p.swap, g->sgd != NULL);
    rt_kernel *kernel;
    PP_TRY(rt_kernel_get(ctx, "gemm",
                         p.form == FORM_DOT     ? "gemm_dot"
                         : p.form == FORM_STRIP ? "gemm_strip"
                                                : "gemm_axpy",
                         defines, &kernel));
    if (p.form == FORM_STRIP) {
        size_t global[2] = {(p.n + (size_t)p.tn - 1) / (size_t)p.tn,
                            (p.m + (size_t)p.rows - 1) / (size_t)p.rows};
        size_t local[2] = {1, 1};
        return RT_LAUNCH(ctx, kernel, 2, global, local, RT_INT(p.m), RT_INT(p.n),
                         RT_FLOAT(g->alpha), RT_BUF(p.a), RT_INT(p.a_off), RT_INT(p.lda),
                         RT_BUF(p.b), RT_INT(p.b_off), RT_INT(p.ldb), RT_FLOAT(g->beta),
                         RT_BUF(g->c), RT_INT(g->c_off), RT_INT(g->ldc), RT_INT(p.rows));
    }

    size_t global[2] = {(p.m + (size_t)p.tm - 1) / (size_t)p.tm,
                        (p.n + (size_t)p.tn - 1) / (size_t)p.tn};
    /* Work-groups run in order of dimension 0 first. Down the rows of C (i
     * first) consecutive tiles share a panel of B, which matters for long k;
     * for short k, along a row (j first) streams C's stores (measured: TN
     * 1024x3072x64 86 -> 106 GFLOP/s, NT/NN with k ~ 1000 twice as fast i
     * first). */
    int j_first = p.form != FORM_DOT && !p.swap && k <= 128;
    if (j_first) {
        size_t t = global[0];
        global[0] = global[1];
        global[1] = t;
    }
    size_t local[2] = {1, 1};
    if (p.form == FORM_DOT)
        return RT_LAUNCH(ctx, kernel, 2, global, local, RT_INT(p.m), RT_INT(p.n), RT_INT(k),
                         RT_FLOAT(g->alpha), RT_BUF(p.a), RT_INT(p.a_off), RT_INT(p.lda),
                         RT_BUF(p.b), RT_INT(p.b_off), RT_INT(p.ldb), RT_FLOAT(g->beta),
                         RT_BUF(g->c), RT_INT(g->c_off), RT_INT(g->ldc));
    /* gemm_axpy reads whole vectors of B while they stay inside its buffer. */
    size_t b_len = p.b->bytes / sizeof(float);
    if (b_len > (size_t)INT_MAX) b_len = (size_t)INT_MAX;
    rt_arg args[] = {RT_INT(p.m),
                     RT_INT(p.n),
                     RT_INT(k),
                     RT_FLOAT(g->alpha),
                     RT_BUF(p.a),
                     RT_INT(p.a_off),
                     RT_INT(p.lda),
                     RT_BUF(p.b),
                     RT_INT(p.b_off),
                     RT_INT(p.ldb),
                     RT_INT(b_len),
                     RT_FLOAT(g->beta),
                     RT_BUF(g->c),
                     RT_INT(g->c_off),
                     RT_INT(g->ldc),
                     RT_INT(j_first),
                     RT_BUF(g->v),
                     RT_FLOAT(g->sgd ? g->sgd->lr : 0.0f),
                     RT_FLOAT(g->sgd ? g->sgd->momentum : 0.0f),
                     RT_FLOAT(g->sgd ? g->sgd->weight_decay : 0.0f)};
    /* the step's four arguments only with SGD_STEP */
    size_t count = sizeof args / sizeof args[0] - (g->sgd ? 0 : 4);
    return rt_launch(ctx, kernel, 2, global, local, count, args);
}
