/* The convolution and max-pooling operators against their plain-C references
 * (ref_checks_conv, also run by `pepita selftest`), plus hand-computed
 * values, the adjoint identities that tie the three conv operators together,
 * the documented tie rule, and argument checks. */
#include "ops/ops.h"
#include "ref_conv.h"
#include "reference.h"
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
}

static void run_checks(int quick) {
    ck_assert_uint_ge(ts_run_area_checks(ctx, quick, ref_checks_conv, "conv"), quick ? 60 : 110);
}

START_TEST(test_reference_checks_full) {
    run_checks(0);
}
END_TEST

START_TEST(test_reference_checks_quick) {
    run_checks(1);
}
END_TEST

/* 3x3 ones kernel over a 3x3 ones image with pad 1: each output counts the
 * taps inside the image (corners 4, edges 6, centre 9); stride 2 keeps the
 * corners. A 1x1 kernel scales; 2 filters see the same input. */
START_TEST(test_conv_known_values) {
    float x[9], w[18];
    for (int i = 0; i < 9; i++)
        x[i] = 1.0f;
    for (int i = 0; i < 18; i++)
        w[i] = i < 9 ? 1.0f : 0.5f;
    rt_buf bx = ts_upload(ctx, x, sizeof x), bw = ts_upload(ctx, w, sizeof w),
           by = ts_upload(ctx, NULL, 18 * 4);
    op_conv_shape s = {.batch = 1,
                       .in_c = 1,
                       .in_h = 3,
                       .in_w = 3,
                       .out_c = 2,
                       .kernel = 3,
                       .stride = 1,
                       .pad = 1};
    ck_assert_int_eq(op_conv_out_h(&s), 3);
    ck_assert_int_eq(op_conv_forward(ctx, &s, &bx, &bw, &by), PP_OK);
    float y[18];
    ts_download(ctx, &by, y, sizeof y);
    const float want[9] = {4, 6, 4, 6, 9, 6, 4, 6, 4};
    for (int i = 0; i < 9; i++) {
        ck_assert_float_eq(y[i], want[i]);
        ck_assert_float_eq(y[9 + i], 0.5f * want[i]);
    }
    s.stride = 2;
    ck_assert_int_eq(op_conv_out_w(&s), 2);
    ck_assert_int_eq(op_conv_forward(ctx, &s, &bx, &bw, &by), PP_OK);
    ts_download(ctx, &by, y, 8 * sizeof(float));
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(y[i], 4.0f);

    /* 1x1 kernel, 2 channels -> 1 filter: y = 2 x0 - x1. */
    float x2[2 * 5 * 3], w2[2] = {2.0f, -1.0f}, y2[15];
    for (int i = 0; i < 30; i++)
        x2[i] = (float)i;
    rt_buf bx2 = ts_upload(ctx, x2, sizeof x2), bw2 = ts_upload(ctx, w2, sizeof w2),
           by2 = ts_upload(ctx, NULL, 60);
    const op_conv_shape s2 = {1, 2, 5, 3, 1, 1, 1, 0};
    ck_assert_int_eq(op_conv_forward(ctx, &s2, &bx2, &bw2, &by2), PP_OK);
    ts_download(ctx, &by2, y2, sizeof y2);
    for (int i = 0; i < 15; i++)
        ck_assert_float_eq(y2[i], 2.0f * x2[i] - x2[15 + i]);
    rt_buf_release(ctx, &bx);
    rt_buf_release(ctx, &bw);
    rt_buf_release(ctx, &by);
    rt_buf_release(ctx, &bx2);
    rt_buf_release(ctx, &bw2);
    rt_buf_release(ctx, &by2);
}
END_TEST

/* The PEPITA filter update is a mean over batch and positions: with dy = h -
 * h' = 1 and x = 1 everywhere (no padding) every tap's mean product is 1; the
 * BP scale (1/batch) gives oh*ow instead. */
START_TEST(test_weight_grad_scales) {
    const op_conv_shape s = {.batch = 3,
                             .in_c = 2,
                             .in_h = 12,
                             .in_w = 30,
                             .out_c = 4,
                             .kernel = 5,
                             .stride = 1,
                             .pad = 0};
    const int oh = op_conv_out_h(&s), ow = op_conv_out_w(&s);
    const size_t nx = 3 * 2 * 12 * 30, ny = (size_t)3 * 4 * oh * ow, nw = 4 * 2 * 25;
    const size_t n_ones = nx > ny ? nx : ny;
    float *ones = malloc(n_ones * sizeof(float)), *dw = malloc(nw * sizeof(float));
    for (size_t i = 0; i < n_ones; i++)
        ones[i] = 1.0f;
    rt_buf bx = ts_upload(ctx, ones, nx * 4), bdy = ts_upload(ctx, ones, ny * 4),
           bdw = ts_upload(ctx, NULL, nw * 4);
    ck_assert_int_eq(op_conv_weight_grad(ctx, &s, 1.0f / (3.0f * oh * ow), &bdy, &bx, &bdw), PP_OK);
    ts_download(ctx, &bdw, dw, nw * 4);
    for (size_t i = 0; i < nw; i++)
        ck_assert_float_eq_tol(dw[i], 1.0f, 1e-6f);
    ck_assert_int_eq(op_conv_weight_grad(ctx, &s, 1.0f / 3.0f, &bdy, &bx, &bdw), PP_OK);
    ts_download(ctx, &bdw, dw, nw * 4);
    for (size_t i = 0; i < nw; i++)
        ck_assert_float_eq_tol(dw[i], (float)(oh * ow), 1e-6f * oh * ow);
    free(ones);
    free(dw);
    rt_buf_release(ctx, &bx);
    rt_buf_release(ctx, &bdy);
    rt_buf_release(ctx, &bdw);
}
END_TEST

static double dot(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* The three conv operators are one bilinear form <conv(x, w), dy>, so
 * <y, dy> = <x, dx> = <w, dw> (dw unscaled) for any x, w, dy: a check on
 * the device alone, at shapes with padding and stride. */
START_TEST(test_conv_adjoint_identities) {
    static const op_conv_shape shapes[] = {
        {3, 2, 11, 13, 3, 3, 2, 1}, {2, 3, 20, 21, 5, 5, 1, 2}, {5, 1, 28, 28, 4, 5, 1, 0}};
    for (size_t t = 0; t < 3; t++) {
        const op_conv_shape *s = &shapes[t];
        const size_t oh = op_conv_out_h(s), ow = op_conv_out_w(s);
        const size_t nx = (size_t)s->batch * s->in_c * s->in_h * s->in_w;
        const size_t nw = (size_t)s->out_c * s->in_c * s->kernel * s->kernel;
        const size_t ny = (size_t)s->batch * s->out_c * oh * ow;
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *dy = malloc(ny * 4), *y = malloc(ny * 4),
              *dx = malloc(nx * 4), *dw = malloc(nw * 4);
        ts_fill_uniform(x, nx, -1.0f, 1.0f, 11 + t);
        ts_fill_uniform(w, nw, -1.0f, 1.0f, 12 + t);
        ts_fill_uniform(dy, ny, -1.0f, 1.0f, 13 + t);
        rt_buf bx = ts_upload(ctx, x, nx * 4), bw = ts_upload(ctx, w, nw * 4),
               bdy = ts_upload(ctx, dy, ny * 4);
        rt_buf by = ts_upload(ctx, NULL, ny * 4), bdx = ts_upload(ctx, NULL, nx * 4),
               bdw = ts_upload(ctx, NULL, nw * 4);
        ck_assert_int_eq(op_conv_forward(ctx, s, &bx, &bw, &by), PP_OK);
        ck_assert_int_eq(op_conv_input_grad(ctx, s, &bdy, &bw, &bdx), PP_OK);
        ck_assert_int_eq(op_conv_weight_grad(ctx, s, 1.0f, &bdy, &bx, &bdw), PP_OK);
        ts_download(ctx, &by, y, ny * 4);
        ts_download(ctx, &bdx, dx, nx * 4);
        ts_download(ctx, &bdw, dw, nw * 4);
        const double a = dot(y, dy, ny), b = dot(x, dx, nx), c = dot(w, dw, nw);
        const double tol = 1e-4 * (1.0 + sqrt((double)ny * s->in_c * s->kernel * s->kernel));
        ck_assert_msg(fabs(a - b) <= tol && fabs(a - c) <= tol,
                      "shape %zu: <y,dy> %.6f, <x,dx> %.6f, <w,dw> %.6f", t, a, b, c);
        free(x), free(w), free(dy), free(y), free(dx), free(dw);
        rt_buf_release(ctx, &bx);
        rt_buf_release(ctx, &bw);
        rt_buf_release(ctx, &bdy);
        rt_buf_release(ctx, &by);
        rt_buf_release(ctx, &bdx);
        rt_buf_release(ctx, &bdw);
    }
}
END_TEST

/* Ties go to the first element of the window in row-major order. A 4x5
 * plane (odd width: the last column is dropped) whose windows tie in each
 * possible way; the dropped column holds the largest values and is ignored. */
START_TEST(test_maxpool_ties) {
    const float x[4 * 5] = {
        3, 3, 1, 7, 99, /* window (0,0): all four equal 3 -> index 0 (top-left) */
        3, 3, 7, 2, 99, /* window (0,1): top-right 7 ties bottom-left 7 -> index 3 */
        0, 1, 5, 5, 99, /* window (1,0): bottom-left 2 ties bottom-right 2 -> index 15 */
        2, 2, 5, 5, 99, /* window (1,1): four 5s -> index 12 */
    };
    rt_buf bx = ts_upload(ctx, x, sizeof x), by = ts_upload(ctx, NULL, 4 * 4),
           bam = ts_upload(ctx, NULL, 4 * 4);
    ck_assert_int_eq(op_maxpool2_forward(ctx, 1, 4, 5, &bx, &by, &bam), PP_OK);
    float y[4];
    int32_t am[4];
    ts_download(ctx, &by, y, sizeof y);
    ts_download(ctx, &bam, am, sizeof am);
    const float want_y[4] = {3, 7, 2, 5};
    const int32_t want_am[4] = {0, 3, 15, 12};
    for (int i = 0; i < 4; i++) {
        ck_assert_float_eq(y[i], want_y[i]);
        ck_assert_int_eq(am[i], want_am[i]);
    }
    /* Backward: dy lands only at the argmax; everything else, the dropped
     * column included, is overwritten with 0. */
    const float dy[4] = {1, 2, 3, 4};
    float dx[20];
    for (int i = 0; i < 20; i++)
        dx[i] = NAN;
    rt_buf bdy = ts_upload(ctx, dy, sizeof dy), bdx = ts_upload(ctx, dx, sizeof dx);
    ck_assert_int_eq(op_maxpool2_backward(ctx, 1, 4, 5, &bdy, &bam, &bdx), PP_OK);
    ts_download(ctx, &bdx, dx, sizeof dx);
    for (int i = 0; i < 20; i++) {
        const float want = i == 0 ? 1 : i == 3 ? 2 : i == 15 ? 3 : i == 12 ? 4 : 0;
        ck_assert_float_eq(dx[i], want);
    }
    rt_buf_release(ctx, &bx);
    rt_buf_release(ctx, &by);
    rt_buf_release(ctx, &bam);
    rt_buf_release(ctx, &bdy);
    rt_buf_release(ctx, &bdx);
}
END_TEST

/* A NaN first in its window stays the result (y == x[argmax] always);
 * planes index independently. */
START_TEST(test_maxpool_planes_and_nan) {
    float x[3 * 2 * 2] = {NAN, 1, 2, 3, -4, -3, -2, -1, 0, 0, 0, 0};
    rt_buf bx = ts_upload(ctx, x, sizeof x), by = ts_upload(ctx, NULL, 12),
           bam = ts_upload(ctx, NULL, 12);
    ck_assert_int_eq(op_maxpool2_forward(ctx, 3, 2, 2, &bx, &by, &bam), PP_OK);
    float y[3];
    int32_t am[3];
    ts_download(ctx, &by, y, sizeof y);
    ts_download(ctx, &bam, am, sizeof am);
    ck_assert(isnan(y[0]));
    ck_assert_int_eq(am[0], 0);
    ck_assert_float_eq(y[1], -1.0f);
    ck_assert_int_eq(am[1], 3);
    ck_assert_float_eq(y[2], 0.0f);
    ck_assert_int_eq(am[2], 0);
    rt_buf_release(ctx, &bx);
    rt_buf_release(ctx, &by);
    rt_buf_release(ctx, &bam);
}
END_TEST

START_TEST(test_bad_arguments) {
    /* Distinct buffers: the kernels' arguments are restrict. */
    rt_buf b = ts_upload(ctx, NULL, 4096 * 4), b2 = ts_upload(ctx, NULL, 4096 * 4),
           b3 = ts_upload(ctx, NULL, 4096 * 4);
    rt_buf small = ts_upload(ctx, NULL, 8);
    const op_conv_shape good = {2, 1, 8, 8, 2, 3, 1, 0};
    ck_assert_int_eq(op_conv_forward(ctx, &good, &b, &b2, &b3), PP_OK);
    ck_assert_int_eq(op_conv_forward(ctx, NULL, &b, &b, &b), PP_ERR_ARGUMENT);
    const op_conv_shape bad[] = {
        {0, 1, 8, 8, 2, 3, 1, 0},  {2, 1, 8, 8, 0, 3, 1, 0},  {2, 1, 8, 8, 2, 0, 1, 0},
        {2, 1, 8, 8, 2, 3, 0, 0},  {2, 1, 8, 8, 2, 3, 1, -1}, {2, 1, 2, 8, 2, 3, 1, 0},
        {2, 1, 8, 8, 2, 12, 1, 3}, {2, 1, -8, 8, 2, 3, 1, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(op_conv_forward(ctx, &bad[i], &b, &b, &b), PP_ERR_ARGUMENT);
        ck_assert_int_eq(op_conv_weight_grad(ctx, &bad[i], 1.0f, &b, &b, &b), PP_ERR_ARGUMENT);
        ck_assert_int_eq(op_conv_input_grad(ctx, &bad[i], &b, &b, &b), PP_ERR_ARGUMENT);
    }
    /* Too-small buffers, each argument in turn. */
    ck_assert_int_eq(op_conv_forward(ctx, &good, &small, &b, &b), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_conv_forward(ctx, &good, &b, &small, &b), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_conv_forward(ctx, &good, &b, &b, &small), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_conv_weight_grad(ctx, &good, 1.0f, &small, &b, &b), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_conv_weight_grad(ctx, &good, 1.0f, &b, &b, &small), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_conv_input_grad(ctx, &good, &b, &b, &small), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_conv_weight_grad_local(ctx, &good, 1.0f, &b, &b, &b, 3), PP_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "power of two"));
    /* Sizes past INT_MAX elements. */
    const op_conv_shape huge = {65536, 1, 256, 256, 1, 1, 1, 0};
    ck_assert_int_eq(op_conv_forward(ctx, &huge, &b, &b, &b), PP_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "INT_MAX"));

    ck_assert_int_eq(op_maxpool2_forward(ctx, 4, 8, 8, &b, &b2, &b3), PP_OK);
    ck_assert_int_eq(op_maxpool2_forward(ctx, 4, -8, 8, &b, &b, &b), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_maxpool2_forward(ctx, 4, 8, 8, &small, &b, &b), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_maxpool2_forward(ctx, 4, 8, 8, &b, &b, &small), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_maxpool2_backward(ctx, 4, 8, 8, &b, &b, &small), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_maxpool2_backward(ctx, 4, 8, 8, &b, &small, &b), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_maxpool2_backward(ctx, (size_t)1 << 40, 8, 8, &b, &b, &b), PP_ERR_ARGUMENT);
    ck_assert_int_eq(rt_finish(ctx), PP_OK);
    rt_buf_release(ctx, &b);
    rt_buf_release(ctx, &b2);
    rt_buf_release(ctx, &b3);
    rt_buf_release(ctx, &small);
}
END_TEST

static Suite *conv_suite(void) {
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_reference_checks_quick);
    tcase_add_test(tc, test_reference_checks_full);
    tcase_add_test(tc, test_conv_known_values);
    tcase_add_test(tc, test_weight_grad_scales);
    tcase_add_test(tc, test_conv_adjoint_identities);
    tcase_add_test(tc, test_maxpool_ties);
    tcase_add_test(tc, test_maxpool_planes_and_nan);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return ts_run_suite(conv_suite());
}
