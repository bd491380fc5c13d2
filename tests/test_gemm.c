/* GEMM: both paths against the double-accumulating reference at awkward and
 * real training shapes, the dense wrappers, argument checks, and the
 * dispatch with its on-disk cache. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/gemm_internal.h"
#include "ref_gemm.h"
#include "test_support.h"

static rt_context *new_context(int profiling) {
    rt_context *ctx = NULL;
    pp_status st = rt_context_create(NULL, profiling, &ctx);
    ck_assert_msg(st == PP_OK, "rt_context_create: %s", pp_last_error());
    return ctx;
}

static void check_cases(op_gemm_path path, const ref_gemm_case *cases, size_t count) {
    rt_context *ctx = new_context(0);
    ref_check_list list = {0};
    for (size_t i = 0; i < count; i++) {
        pp_status st = ref_check_gemm_case(ctx, path, &cases[i], &list);
        ck_assert_msg(st == PP_OK, "harness: %s", pp_last_error());
    }
    ts_assert_all_pass(&list, "GEMM");
    ref_check_list_free(&list);
    rt_context_destroy(ctx);
}

/* Every transpose combination at 1, primes and non-multiples of every tile
 * (k around the 16-lane step), with offsets, padded leading dimensions and
 * alpha/beta not 1/0. */
static void check_awkward(op_gemm_path path) {
    static const size_t shapes[][3] = {{1, 1, 1},    {7, 13, 29},  {61, 3, 17},  {37, 70, 5},
                                       {65, 33, 15}, {17, 97, 47}, {130, 5, 33}, {3, 129, 16},
                                       {1, 40, 300}, {40, 1, 7}};
    static const float ab[][2] = {{0.75f, -0.5f}, {1.0f, 0.0f}, {-1.25f, 1.0f}};
    ref_gemm_case cases[4 * 10 * 2];
    size_t count = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t s = 0; s < 10; s++)
                for (size_t v = 0; v < 2; v++) {
                    size_t pick = (s + v) % 3;
                    cases[count++] = (ref_gemm_case){.ta = (op_trans)ta,
                                                     .tb = (op_trans)tb,
                                                     .m = shapes[s][0],
                                                     .n = shapes[s][1],
                                                     .k = shapes[s][2],
                                                     .alpha = ab[pick][0],
                                                     .beta = ab[pick][1],
                                                     .offset = v ? 5 + s : 0,
                                                     .pad = v ? 3 : 0};
                }
    check_cases(path, cases, count);
}

START_TEST(test_native_awkward) {
    check_awkward(OP_GEMM_NATIVE);
}
END_TEST

START_TEST(test_clblast_awkward) {
    check_awkward(OP_GEMM_CLBLAST);
}
END_TEST

/* The real training shapes, at least one per transpose combination. */
static void check_real(op_gemm_path path) {
    static const ref_gemm_case cases[] = {
        /* FC 784-1024-10, batch 64: forward, updates, W1 F, BP input gradient */
        {OP_NO_TRANS, OP_TRANS, 64, 1024, 784, 1.0f, 0.0f, 0, 0},
        {OP_NO_TRANS, OP_TRANS, 64, 10, 1024, 1.0f, 0.0f, 0, 0},
        {OP_TRANS, OP_NO_TRANS, 1024, 784, 64, 0.015625f, 0.0f, 0, 0},
        {OP_TRANS, OP_NO_TRANS, 10, 1024, 64, 0.015625f, 0.9f, 0, 0},
        {OP_NO_TRANS, OP_NO_TRANS, 1024, 10, 784, 1.0f, 0.0f, 0, 0},
        {OP_NO_TRANS, OP_NO_TRANS, 64, 1024, 10, 1.0f, 0.0f, 0, 0},
        /* PEPITA's modulation x + e F^T (k = 10: gemm_strip) */
        {OP_NO_TRANS, OP_TRANS, 64, 784, 10, 1.0f, 1.0f, 0, 0},
        {OP_NO_TRANS, OP_TRANS, 100, 3072, 10, 1.0f, 1.0f, 0, 0},
        /* CIFAR inputs */
        {OP_NO_TRANS, OP_TRANS, 64, 1024, 3072, 1.0f, 0.0f, 0, 0},
        {OP_TRANS, OP_NO_TRANS, 1024, 3072, 64, 1.0f, 0.0f, 0, 0},
        {OP_NO_TRANS, OP_NO_TRANS, 1024, 10, 3072, 1.0f, 0.0f, 0, 0},
        /* conv model's dense 4608 -> 10 at batch 100 */
        {OP_NO_TRANS, OP_TRANS, 100, 10, 4608, 1.0f, 0.0f, 0, 0},
        {OP_TRANS, OP_NO_TRANS, 10, 4608, 100, 0.01f, 0.0f, 0, 0},
        {OP_NO_TRANS, OP_NO_TRANS, 100, 4608, 10, 1.0f, 0.0f, 0, 0},
        /* TT, with an offset and padding */
        {OP_TRANS, OP_TRANS, 784, 1024, 64, 0.5f, 0.25f, 7, 5},
    };
    check_cases(path, cases, sizeof cases / sizeof cases[0]);
}

START_TEST(test_native_real_shapes) {
    check_real(OP_GEMM_NATIVE);
}
END_TEST

START_TEST(test_clblast_real_shapes) {
    check_real(OP_GEMM_CLBLAST);
}
END_TEST

/* The dense wrappers through each forced path. */
START_TEST(test_dense) {
    const char *paths[] = {"native", "clblast"};
    for (int i = 0; i < 2; i++) {
        setenv("PEPITA_GEMM", paths[i], 1);
        rt_context *ctx = new_context(0);
        ref_check_list list = {0};
        static const size_t shapes[][3] = {{5, 13, 7}, {64, 784, 1024}, {64, 1024, 10}};
        for (size_t s = 0; s < 3; s++) {
            size_t batch = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
            size_t nx = batch * in, nw = out * in, ny = batch * out;
            float *x = malloc(nx * 4), *w = malloc(nw * 4), *dy = malloc(ny * 4);
            float *dw = malloc(nw * 4), *got = malloc((nx > nw ? nx : nw) * 4);
            float *expect = malloc((nx > nw ? nx : nw) * 4);
            ts_fill_uniform(x, nx, 0.0f, 1.0f, 1);
            ts_fill_uniform(w, nw, -0.1f, 0.1f, 2);
            ts_fill_uniform(dy, ny, -1.0f, 1.0f, 3);
            ts_fill_uniform(dw, nw, -1.0f, 1.0f, 4);
            rt_buf bx, bw, bdy, bdw, by, bdx;
            ck_assert_int_eq(rt_buf_create(ctx, nx * 4, &bx), PP_OK);
            ck_assert_int_eq(rt_buf_create(ctx, nw * 4, &bw), PP_OK);
            ck_assert_int_eq(rt_buf_create(ctx, ny * 4, &bdy), PP_OK);
            ck_assert_int_eq(rt_buf_create(ctx, nw * 4, &bdw), PP_OK);
            ck_assert_int_eq(rt_buf_create(ctx, ny * 4, &by), PP_OK);
            ck_assert_int_eq(rt_buf_create(ctx, nx * 4, &bdx), PP_OK);
            ck_assert_int_eq(rt_buf_write(ctx, &bx, 0, nx * 4, x), PP_OK);
            ck_assert_int_eq(rt_buf_write(ctx, &bw, 0, nw * 4, w), PP_OK);
            ck_assert_int_eq(rt_buf_write(ctx, &bdy, 0, ny * 4, dy), PP_OK);
            ck_assert_int_eq(rt_buf_write(ctx, &bdw, 0, nw * 4, dw), PP_OK);

            ck_assert_int_eq(op_dense_forward(ctx, batch, in, out, &bx, &bw, &by), PP_OK);
            ck_assert_int_eq(rt_buf_read(ctx, &by, 0, ny * 4, got), PP_OK);
            ref_gemm(OP_NO_TRANS, OP_TRANS, batch, out, in, 1.0f, x, in, w, in, 0.0f, expect, out);
            ref_compare(got, expect, ny, 1e-4,
                        ref_check_list_add(&list, "dense_forward", "%s %zu", paths[i], s));

            float scale = 1.0f / (float)batch;
            ck_assert_int_eq(
                op_dense_weight_update(ctx, batch, in, out, scale, &bdy, &bx, 0.9f, &bdw), PP_OK);
            ck_assert_int_eq(rt_buf_read(ctx, &bdw, 0, nw * 4, got), PP_OK);
            memcpy(expect, dw, nw * 4);
            ref_gemm(OP_TRANS, OP_NO_TRANS, out, in, batch, scale, dy, out, x, in, 0.9f, expect,
                     in);
            ref_compare(got, expect, nw, 1e-4,
                        ref_check_list_add(&list, "dense_weight_update", "%s %zu", paths[i], s));

            ck_assert_int_eq(op_dense_input_grad(ctx, batch, in, out, &bdy, &bw, &bdx), PP_OK);
            ck_assert_int_eq(rt_buf_read(ctx, &bdx, 0, nx * 4, got), PP_OK);
            ref_gemm(OP_NO_TRANS, OP_NO_TRANS, batch, in, out, 1.0f, dy, out, w, in, 0.0f, expect,
                     in);
            ref_compare(got, expect, nx, 1e-4,
                        ref_check_list_add(&list, "dense_input_grad", "%s %zu", paths[i], s));

            rt_buf_release(ctx, &bx), rt_buf_release(ctx, &bw), rt_buf_release(ctx, &bdy);
            rt_buf_release(ctx, &bdw), rt_buf_release(ctx, &by), rt_buf_release(ctx, &bdx);
            free(x), free(w), free(dy), free(dw), free(got), free(expect);
        }
        ts_assert_all_pass(&list, "GEMM");
        ref_check_list_free(&list);
        rt_context_destroy(ctx);
    }
    unsetenv("PEPITA_GEMM");
}
END_TEST

/* beta == 0 must not read C, alpha == 0 must not read A or B (BLAS
 * semantics: they may hold NaN); k == 0 scales C by beta. */
START_TEST(test_native_special_scalars) {
    rt_context *ctx = new_context(0);
    const size_t m = 9, n = 21, k = 11;
    float a[9 * 11], b[11 * 21], c[9 * 21], out[9 * 21], expect[9 * 21];
    ts_fill_uniform(a, m * k, -1.0f, 1.0f, 5);
    ts_fill_uniform(b, k * n, -1.0f, 1.0f, 6);
    rt_buf ba, bb, bc;
    ck_assert_int_eq(rt_buf_create(ctx, sizeof a, &ba), PP_OK);
    ck_assert_int_eq(rt_buf_create(ctx, sizeof b, &bb), PP_OK);
    ck_assert_int_eq(rt_buf_create(ctx, sizeof c, &bc), PP_OK);
    ck_assert_int_eq(rt_buf_write(ctx, &ba, 0, sizeof a, a), PP_OK);
    ck_assert_int_eq(rt_buf_write(ctx, &bb, 0, sizeof b, b), PP_OK);

    for (size_t i = 0; i < m * n; i++)
        c[i] = NAN;
    ck_assert_int_eq(rt_buf_write(ctx, &bc, 0, sizeof c, c), PP_OK);
    ck_assert_int_eq(op_gemm_with(ctx, OP_GEMM_NATIVE, OP_NO_TRANS, OP_NO_TRANS, m, n, k, 1.0f, &ba,
                                  0, k, &bb, 0, n, 0.0f, &bc, 0, n),
                     PP_OK);
    ck_assert_int_eq(rt_buf_read(ctx, &bc, 0, sizeof out, out), PP_OK);
    ref_gemm(OP_NO_TRANS, OP_NO_TRANS, m, n, k, 1.0f, a, k, b, n, 0.0f, expect, n);
    for (size_t i = 0; i < m * n; i++)
        ck_assert_msg(fabsf(out[i] - expect[i]) <= 1e-4f * (1.0f + fabsf(expect[i])),
                      "beta=0 read C at %zu: %g", i, (double)out[i]);

    float nan_a[9 * 11];
    for (size_t i = 0; i < m * k; i++)
        nan_a[i] = NAN;
    ck_assert_int_eq(rt_buf_write(ctx, &ba, 0, sizeof nan_a, nan_a), PP_OK);
    ts_fill_uniform(c, m * n, -1.0f, 1.0f, 7);
    ck_assert_int_eq(rt_buf_write(ctx, &bc, 0, sizeof c, c), PP_OK);
    ck_assert_int_eq(op_gemm_with(ctx, OP_GEMM_NATIVE, OP_NO_TRANS, OP_TRANS, m, n, k, 0.0f, &ba, 0,
                                  k, &bb, 0, k, 2.0f, &bc, 0, n),
                     PP_OK);
    ck_assert_int_eq(rt_buf_read(ctx, &bc, 0, sizeof out, out), PP_OK);
    for (size_t i = 0; i < m * n; i++)
        ck_assert_msg(out[i] == 2.0f * c[i], "alpha=0: %g at %zu", (double)out[i], i);

    /* k == 0 through the dispatch (either path request) */
    ck_assert_int_eq(op_gemm_with(ctx, OP_GEMM_CLBLAST, OP_NO_TRANS, OP_NO_TRANS, m, n, 0, 1.0f,
                                  &ba, 0, 1, &bb, 0, n, -1.0f, &bc, 0, n),
                     PP_OK);
    ck_assert_int_eq(rt_buf_read(ctx, &bc, 0, sizeof out, out), PP_OK);
    for (size_t i = 0; i < m * n; i++)
        ck_assert_msg(out[i] == -2.0f * c[i], "k=0: %g at %zu", (double)out[i], i);

    /* m == 0 or n == 0: nothing to do */
    ck_assert_int_eq(op_gemm_with(ctx, OP_GEMM_NATIVE, OP_NO_TRANS, OP_NO_TRANS, 0, n, k, 1.0f, &ba,
                                  0, k, &bb, 0, n, 0.0f, &bc, 0, n),
                     PP_OK);
    rt_buf_release(ctx, &ba), rt_buf_release(ctx, &bb), rt_buf_release(ctx, &bc);
    rt_context_destroy(ctx);
}
END_TEST

START_TEST(test_invalid_arguments) {
    rt_context *ctx = new_context(0);
    rt_buf a, b, c, none = {0};
    ck_assert_int_eq(rt_buf_create(ctx, 12 * 4, &a), PP_OK);
    ck_assert_int_eq(rt_buf_create(ctx, 12 * 4, &b), PP_OK);
    ck_assert_int_eq(rt_buf_create(ctx, 9 * 4, &c), PP_OK);
    /* 3x4 . 4x3 fits exactly */
    ck_assert_int_eq(op_gemm_with(ctx, OP_GEMM_NATIVE, OP_NO_TRANS, OP_NO_TRANS, 3, 3, 4, 1.0f, &a,
                                  0, 4, &b, 0, 3, 0.0f, &c, 0, 3),
                     PP_OK);
    /* lda below the column count */
    ck_assert_int_eq(op_gemm_with(ctx, OP_GEMM_NATIVE, OP_NO_TRANS, OP_NO_TRANS, 3, 3, 4, 1.0f, &a,
                                  0, 3, &b, 0, 3, 0.0f, &c, 0, 3),
                     PP_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "ldA"));
    /* an offset that runs past the buffer */
    ck_assert_int_eq(op_gemm_with(ctx, OP_GEMM_CLBLAST, OP_NO_TRANS, OP_NO_TRANS, 3, 3, 4, 1.0f, &a,
                                  1, 4, &b, 0, 3, 0.0f, &c, 0, 3),
                     PP_ERR_ARGUMENT);
    /* C too small for ldc */
    ck_assert_int_eq(op_gemm_with(ctx, OP_GEMM_NATIVE, OP_NO_TRANS, OP_NO_TRANS, 3, 3, 4, 1.0f, &a,
                                  0, 4, &b, 0, 3, 0.0f, &c, 0, 4),
                     PP_ERR_ARGUMENT);
    /* transposed B: 3x4 stored, needs ldb >= 4 */
    ck_assert_int_eq(op_gemm_with(ctx, OP_GEMM_NATIVE, OP_NO_TRANS, OP_TRANS, 3, 3, 4, 1.0f, &a, 0,
                                  4, &b, 0, 3, 0.0f, &c, 0, 3),
                     PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_gemm_with(ctx, OP_GEMM_NATIVE, OP_NO_TRANS, OP_NO_TRANS, 3, 3, 4, 1.0f,
                                  &none, 0, 4, &b, 0, 3, 0.0f, &c, 0, 3),
                     PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_gemm_with(ctx, (op_gemm_path)7, OP_NO_TRANS, OP_NO_TRANS, 3, 3, 4, 1.0f, &a,
                                  0, 4, &b, 0, 3, 0.0f, &c, 0, 3),
                     PP_ERR_ARGUMENT);
    ck_assert_str_eq(op_gemm_path_name(OP_GEMM_NATIVE), "native");
    ck_assert_str_eq(op_gemm_path_name(OP_GEMM_CLBLAST), "clblast");
    ck_assert_str_eq(op_gemm_path_name(OP_GEMM_AUTO), "auto");
    rt_buf_release(ctx, &a), rt_buf_release(ctx, &b), rt_buf_release(ctx, &c);
    rt_context_destroy(ctx);
}
END_TEST

/* ---- Dispatch ----------------------------------------------------------- */

typedef struct launches {
    size_t native, clblast;
} launches;

/* Counts the GEMM launches the profile saw since the last call. */
static launches count_launches(rt_context *ctx) {
    rt_profile_entry *e = NULL;
    size_t count = 0;
    ck_assert_int_eq(rt_profile_collect(ctx, &e, &count), PP_OK);
    launches l = {0, 0};
    for (size_t i = 0; i < count; i++) {
        if (!strcmp(e[i].name, "clblast_sgemm"))
            l.clblast += e[i].launches;
        else if (!strncmp(e[i].name, "gemm_", 5))
            l.native += e[i].launches;
    }
    free(e);
    rt_profile_reset(ctx);
    return l;
}

/* One small NT product (7 x 13 x 29) through op_gemm, checked. */
static pp_status small_gemm(rt_context *ctx) {
    const size_t m = 7, n = 13, k = 29;
    float a[7 * 29], b[13 * 29], c[7 * 13], expect[7 * 13];
    ts_fill_uniform(a, m * k, -1.0f, 1.0f, 8);
    ts_fill_uniform(b, n * k, -1.0f, 1.0f, 9);
    rt_buf ba, bb, bc;
    ck_assert_int_eq(rt_buf_create(ctx, sizeof a, &ba), PP_OK);
    ck_assert_int_eq(rt_buf_create(ctx, sizeof b, &bb), PP_OK);
    ck_assert_int_eq(rt_buf_create(ctx, sizeof c, &bc), PP_OK);
    ck_assert_int_eq(rt_buf_write(ctx, &ba, 0, sizeof a, a), PP_OK);
    ck_assert_int_eq(rt_buf_write(ctx, &bb, 0, sizeof b, b), PP_OK);
    pp_status st =
        op_gemm(ctx, OP_NO_TRANS, OP_TRANS, m, n, k, 1.0f, &ba, 0, k, &bb, 0, k, 0.0f, &bc, 0, n);
    if (st == PP_OK) {
        ck_assert_int_eq(rt_buf_read(ctx, &bc, 0, sizeof c, c), PP_OK);
        ref_gemm(OP_NO_TRANS, OP_TRANS, m, n, k, 1.0f, a, k, b, k, 0.0f, expect, n);
        for (size_t i = 0; i < m * n; i++)
            ck_assert_msg(fabsf(c[i] - expect[i]) <= 1e-4f * (1.0f + fabsf(expect[i])),
                          "dispatched gemm wrong at %zu", i);
    }
    rt_buf_release(ctx, &ba), rt_buf_release(ctx, &bb), rt_buf_release(ctx, &bc);
    return st;
}

static const char *small_shape_class(void) {
    static char shape[48];
    gemm_call g = {.ta = OP_NO_TRANS, .tb = OP_TRANS, .m = 7, .n = 13, .k = 29};
    gemm_shape_class(&g, shape, sizeof shape);
    return shape;
}

/* The disk cache belongs to the device's own profile: a forced
 * $PEPITA_PROFILE neither reads nor writes it, so the cache tests lift it. */
static char *suspend_forced_profile(void) {
    const char *value = getenv("PEPITA_PROFILE");
    char *saved = value ? strdup(value) : NULL;
    unsetenv("PEPITA_PROFILE");
    return saved;
}

static void restore_forced_profile(char *saved) {
    if (saved) setenv("PEPITA_PROFILE", saved, 1);
    free(saved);
}

/* The first call of a shape class measures both paths and writes the cache;
 * the next call in the process and a fresh context reading the file don't. */
START_TEST(test_dispatch_cache_write_read) {
    char *profile = suspend_forced_profile();
    unsetenv("PEPITA_GEMM");
    setenv("PEPITA_GEMM_MEASURE", "1", 1); /* PoCL skips it otherwise */
    char *dir = ts_make_temp_dir("gemm-cache");
    char sub[4200], file[4300];
    snprintf(sub, sizeof sub, "%s/not/yet/there", dir);
    setenv("PEPITA_CACHE_DIR", sub, 1);
    snprintf(file, sizeof file, "%s/gemm-dispatch.txt", sub);

    rt_context *ctx = new_context(1);
    ck_assert_int_eq(small_gemm(ctx), PP_OK);
    launches l = count_launches(ctx);
    ck_assert_msg(l.native >= 2 && l.clblast >= 2, "measured %zu native, %zu clblast launches",
                  l.native, l.clblast);
    char *text = ts_read_file(file, NULL);
    ck_assert_msg(text != NULL, "no cache file at %s", file);
    ck_assert_ptr_nonnull(strstr(text, ctx->info.name));
    ck_assert_ptr_nonnull(strstr(text, small_shape_class()));
    free(text);

    ck_assert_int_eq(small_gemm(ctx), PP_OK);
    l = count_launches(ctx);
    ck_assert_uint_eq(l.native + l.clblast, 1);
    rt_context_destroy(ctx);

    /* A fresh context takes the path from the file: force each in turn. */
    const char *paths[] = {"native", "clblast"};
    for (int i = 0; i < 2; i++) {
        char line[1024];
        snprintf(line, sizeof line, "# comment\n%s\t%s\t%s\t%s\n", "other device", "1.0",
                 small_shape_class(), paths[1 - i]);
        ctx = new_context(1);
        FILE *f = fopen(file, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "%s%s\t%s\t%s\t%s\tnative_us=1\tclblast_us=2\n", line, ctx->info.name,
                ctx->info.driver_version, small_shape_class(), paths[i]);
        fclose(f);
        ck_assert_int_eq(small_gemm(ctx), PP_OK);
        l = count_launches(ctx);
        ck_assert_uint_eq(l.native, i == 0 ? 1 : 0);
        ck_assert_uint_eq(l.clblast, i == 1 ? 1 : 0);
        rt_context_destroy(ctx);
    }
    unsetenv("PEPITA_GEMM_MEASURE");
    unsetenv("PEPITA_CACHE_DIR");
    ts_remove_tree(dir);
    free(dir);
    restore_forced_profile(profile);
}
END_TEST

/* A corrupt file is ignored (measured again, rewritten valid); an unwritable
 * location only costs the caching. */
START_TEST(test_dispatch_cache_survives_bad_files) {
    char *profile = suspend_forced_profile();
    unsetenv("PEPITA_GEMM");
    setenv("PEPITA_GEMM_MEASURE", "1", 1); /* PoCL skips it otherwise */
    char *dir = ts_make_temp_dir("gemm-corrupt");
    char garbage[3000];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (char)((i * 37 + 11) % 256);
    memcpy(garbage, "x\tonly\tthree\nmissing tabs\n\t\t\t\n", 31);
    char *file = ts_write_file(dir, "gemm-dispatch.txt", garbage, sizeof garbage);
    ck_assert_ptr_nonnull(file);
    setenv("PEPITA_CACHE_DIR", dir, 1);
    rt_context *ctx = new_context(1);
    ck_assert_int_eq(small_gemm(ctx), PP_OK);
    launches l = count_launches(ctx);
    ck_assert_msg(l.native >= 2 && l.clblast >= 2, "corrupt file: expected a measurement");
    char *text = ts_read_file(file, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, small_shape_class()));
    free(text);
    rt_context_destroy(ctx);

    /* a cache "directory" below a regular file can be neither made nor written */
    char bad[4400];
    snprintf(bad, sizeof bad, "%s/sub", file);
    setenv("PEPITA_CACHE_DIR", bad, 1);
    ctx = new_context(1);
    ck_assert_int_eq(small_gemm(ctx), PP_OK);
    l = count_launches(ctx);
    ck_assert(l.native >= 2 && l.clblast >= 2);
    ck_assert_int_eq(small_gemm(ctx), PP_OK); /* remembered in memory */
    l = count_launches(ctx);
    ck_assert_uint_eq(l.native + l.clblast, 1);
    rt_context_destroy(ctx);

    unsetenv("PEPITA_GEMM_MEASURE");
    unsetenv("PEPITA_CACHE_DIR");
    free(file);
    ts_remove_tree(dir);
    free(dir);
    restore_forced_profile(profile);
}
END_TEST

/* $PEPITA_GEMM, read at a context's first GEMM, forces a path without
 * measuring; a bad value is refused on every call of that context. */
static launches forced_gemm(const char *path, pp_status expect) {
    setenv("PEPITA_GEMM", path, 1);
    rt_context *ctx = new_context(1);
    ck_assert_int_eq(small_gemm(ctx), expect);
    if (expect != PP_OK) {
        ck_assert_ptr_nonnull(strstr(pp_last_error(), "PEPITA_GEMM"));
        ck_assert_int_eq(small_gemm(ctx), expect); /* still refused */
    }
    launches l = count_launches(ctx);
    rt_context_destroy(ctx);
    return l;
}

START_TEST(test_dispatch_forced) {
    char *dir = ts_make_temp_dir("gemm-forced");
    setenv("PEPITA_CACHE_DIR", dir, 1);
    launches l = forced_gemm("native", PP_OK);
    ck_assert_uint_eq(l.native, 1);
    ck_assert_uint_eq(l.clblast, 0);
    l = forced_gemm("clblast", PP_OK);
    ck_assert_uint_eq(l.native, 0);
    ck_assert_uint_eq(l.clblast, 1);
    /* a refused call launches nothing */
    l = forced_gemm("fastest", PP_ERR_ARGUMENT);
    ck_assert_uint_eq(l.native + l.clblast, 0);
    /* forcing writes no cache */
    char file[4200];
    snprintf(file, sizeof file, "%s/gemm-dispatch.txt", dir);
    FILE *f = fopen(file, "r");
    ck_assert_ptr_null(f);
    unsetenv("PEPITA_GEMM");
    unsetenv("PEPITA_CACHE_DIR");
    ts_remove_tree(dir);
    free(dir);
}
END_TEST

/* Where the profile says not to measure (PoCL's CPU device, a simulator),
 * the dispatch takes the profile's default path without timing the other
 * (and writes no cache); elsewhere the first call measures. */
START_TEST(test_dispatch_pocl_cpu_skips_measuring) {
    unsetenv("PEPITA_GEMM");
    unsetenv("PEPITA_GEMM_MEASURE");
    char *dir = ts_make_temp_dir("gemm-pocl");
    setenv("PEPITA_CACHE_DIR", dir, 1);
    rt_context *ctx = new_context(1);
    const rt_device_profile *dp = &ctx->device_profile;
    if (!strcmp(ctx->info.type, "cpu") && strstr(ctx->info.platform, "Portable Computing Language"))
        ck_assert_int_eq(dp->gemm_measure, 0);
    ck_assert_int_eq(small_gemm(ctx), PP_OK);
    launches l = count_launches(ctx);
    if (!dp->gemm_measure) {
        ck_assert_uint_eq(l.native, dp->gemm_default_clblast ? 0 : 1);
        ck_assert_uint_eq(l.clblast, dp->gemm_default_clblast ? 1 : 0);
        char file[4200];
        snprintf(file, sizeof file, "%s/gemm-dispatch.txt", dir);
        FILE *f = fopen(file, "r");
        ck_assert_ptr_null(f);
    } else {
        ck_assert_uint_ge(l.native + l.clblast, 3);
    }
    unsetenv("PEPITA_CACHE_DIR");
    rt_context_destroy(ctx);
    ts_remove_tree(dir);
    free(dir);
}
END_TEST

/* The selftest's checks (quick set) pass. */
START_TEST(test_selftest_checks) {
    setenv("PEPITA_GEMM", "native", 1);
    rt_context *ctx = new_context(0);
    ref_check_list list = {0};
    ck_assert_int_eq(ref_checks_gemm(ctx, 1, &list), PP_OK);
    ck_assert_uint_ge(list.count, 4 * 4 * 2 + 3);
    ts_assert_all_pass(&list, "GEMM");
    /* on the native path every weight-step shape steps in the product's store */
    size_t in_store = 0;
    for (size_t i = 0; i < list.count; i++)
        in_store += !strcmp(list.items[i].op, "gemm_sgd_step");
    ck_assert_uint_eq(in_store, 4);
    ref_check_list_free(&list);
    rt_context_destroy(ctx);
    unsetenv("PEPITA_GEMM");
}
END_TEST

/* One case per group, so CK_RUN_CASE can pick one. */
static TCase *gemm_case(Suite *s, const char *name) {
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 600);
    suite_add_tcase(s, tc);
    return tc;
}

static Suite *gemm_suite(void) {
    Suite *s = suite_create("gemm");
    TCase *tc = gemm_case(s, "awkward");
    tcase_add_test(tc, test_native_awkward);
    tcase_add_test(tc, test_clblast_awkward);
    tcase_add_test(tc, test_native_special_scalars);
    tcase_add_test(tc, test_invalid_arguments);
    tc = gemm_case(s, "real");
    tcase_add_test(tc, test_native_real_shapes);
    tcase_add_test(tc, test_clblast_real_shapes);
    tcase_add_test(tc, test_dense);
    tc = gemm_case(s, "dispatch");
    tcase_add_test(tc, test_dispatch_forced);
    tcase_add_test(tc, test_dispatch_cache_write_read);
    tcase_add_test(tc, test_dispatch_cache_survives_bad_files);
    tcase_add_test(tc, test_dispatch_pocl_cpu_skips_measuring);
    tc = gemm_case(s, "selftest");
    tcase_add_test(tc, test_selftest_checks);
    return s;
}

int main(void) {
    return ts_run_suite(gemm_suite());
}
