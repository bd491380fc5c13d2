/* Dropout: the mask is a pure function of (seed, step, layer, index), equal
 * to the host Philox reference, shared by every pass, and drops about p. */
#include "ops/ops.h"
#include "ops/philox.h"
#include "test_support.h"

#include <math.h>
#include <stdlib.h>

#define N (1u << 20)

static rt_context *ctx;
static rt_buf ones, out_a, out_b, out_c, kept;
static float *host_a, *host_b, *host_c;

static void setup(void) {
    ck_assert_int_eq(rt_context_create(NULL, 0, &ctx), PP_OK);
    ck_assert_int_eq(rt_buf_create(ctx, N * sizeof(float), &ones), PP_OK);
    ck_assert_int_eq(rt_buf_create(ctx, N * sizeof(float), &out_a), PP_OK);
    ck_assert_int_eq(rt_buf_create(ctx, N * sizeof(float), &out_b), PP_OK);
    ck_assert_int_eq(rt_buf_create(ctx, N * sizeof(float), &out_c), PP_OK);
    ck_assert_int_eq(rt_buf_create(ctx, N, &kept), PP_OK);
    ck_assert_int_eq(op_fill(ctx, N, 1.0f, &ones), PP_OK);
    host_a = malloc(N * sizeof(float));
    host_b = malloc(N * sizeof(float));
    host_c = malloc(N * sizeof(float));
}

static void teardown(void) {
    rt_buf_release(ctx, &ones);
    rt_buf_release(ctx, &out_a);
    rt_buf_release(ctx, &out_b);
    rt_buf_release(ctx, &out_c);
    rt_buf_release(ctx, &kept);
    rt_context_destroy(ctx);
    free(host_a);
    free(host_b);
    free(host_c);
}

/* The mask scaled by 1/(1-p): identity of ones through dropout. */
static void device_mask(const op_dropout *drop, rt_buf *buf, float *host) {
    ck_assert_int_eq(op_act_forward(ctx, OP_ACT_IDENTITY, N, &ones, buf, drop), PP_OK);
    ck_assert_int_eq(rt_buf_read(ctx, buf, 0, N * sizeof(float), host), PP_OK);
}

static size_t count_differences(const float *a, const float *b) {
    size_t d = 0;
    for (size_t i = 0; i < N; i++)
        d += a[i] != b[i];
    return d;
}

/* Counted, then asserted once: a check assertion per element is slow. */
static size_t count_not_equal(const float *a, float value) {
    size_t d = 0;
    for (size_t i = 0; i < N; i++)
        d += a[i] != value;
    return d;
}

START_TEST(test_mask_equals_host_reference) {
    const op_dropout drop = {.p = 0.1f, .seed = 0xDEADBEEF12345678ull, .step = 1234, .layer = 2};
    device_mask(&drop, &out_a, host_a);
    const uint32_t threshold = philox_dropout_threshold(drop.p);
    const float scale = philox_dropout_scale(drop.p);
    for (uint32_t i = 0; i < N; i++)
        host_b[i] =
            philox_dropout_keep(drop.seed, drop.step, drop.layer, i, threshold) ? scale : 0.0f;
    ck_assert_uint_eq(count_differences(host_a, host_b), 0);
}
END_TEST

START_TEST(test_same_key_same_mask_different_key_different_mask) {
    op_dropout drop = {.p = 0.1f, .seed = 99, .step = 10, .layer = 1};
    device_mask(&drop, &out_a, host_a);
    device_mask(&drop, &out_b, host_b);
    ck_assert_uint_eq(count_differences(host_a, host_b), 0);
    /* Another step, layer or seed: about 2 p (1 - p) N = 0.18 N elements differ. */
    const size_t expect = (size_t)(0.18 * N), slack = (size_t)(0.01 * N);
    for (int which = 0; which < 3; which++) {
        op_dropout other = drop;
        if (which == 0) other.step++;
        if (which == 1) other.layer++;
        if (which == 2) other.seed++;
        device_mask(&other, &out_b, host_b);
        const size_t d = count_differences(host_a, host_b);
        ck_assert_msg(d > expect - slack && d < expect + slack, "change %d: %zu differ", which, d);
    }
}
END_TEST

/* All passes regenerate one mask: forward, PEPITA's modulated op, BP backward. */
START_TEST(test_passes_share_the_mask) {
    const op_dropout drop = {.p = 0.25f, .seed = 5, .step = 77, .layer = 3};
    device_mask(&drop, &out_a, host_a);
    /* y_mod of ones = the mask; diff = y - y_mod with y = out_a gives zero. */
    ck_assert_int_eq(op_act_forward_diff(ctx, OP_ACT_RELU, N, &ones, &out_a, &out_b, &out_c, &drop),
                     PP_OK);
    ck_assert_int_eq(rt_buf_read(ctx, &out_b, 0, N * sizeof(float), host_b), PP_OK);
    ck_assert_int_eq(rt_buf_read(ctx, &out_c, 0, N * sizeof(float), host_c), PP_OK);
    ck_assert_uint_eq(count_differences(host_a, host_b), 0);
    ck_assert_uint_eq(count_not_equal(host_c, 0.0f), 0);
    /* Backward of identity with dy = ones gives the mask too, here in place. */
    ck_assert_int_eq(op_fill(ctx, N, 1.0f, &out_b), PP_OK);
    ck_assert_int_eq(op_act_backward(ctx, OP_ACT_IDENTITY, N, &ones, &out_b, &out_b, &drop), PP_OK);
    ck_assert_int_eq(rt_buf_read(ctx, &out_b, 0, N * sizeof(float), host_b), PP_OK);
    ck_assert_uint_eq(count_differences(host_a, host_b), 0);
}
END_TEST

START_TEST(test_kept_fraction) {
    static const float ps[] = {0.1f, 0.5f, 0.9f};
    for (int t = 0; t < 3; t++) {
        const op_dropout drop = {.p = ps[t], .seed = 2024, .step = 3, .layer = 0};
        device_mask(&drop, &out_a, host_a);
        size_t kept = 0;
        for (size_t i = 0; i < N; i++)
            kept += host_a[i] != 0.0f;
        /* Binomial(N, 1 - p): within 5 standard deviations. */
        const double mean = (1.0 - ps[t]) * N, sd = sqrt(N * ps[t] * (1.0 - ps[t]));
        ck_assert_msg(fabs((double)kept - mean) < 5.0 * sd, "p=%g: kept %zu, expected %.0f",
                      (double)ps[t], kept, mean);
        /* Inverted scaling: kept units carry 1/(1-p), so the mean stays about 1. */
        const float scale = philox_dropout_scale(ps[t]);
        ck_assert_uint_eq(count_not_equal(host_a, 0.0f), N - count_not_equal(host_a, scale));
    }
}
END_TEST

START_TEST(test_no_mask_when_p_is_zero) {
    const op_dropout drop = {.p = 0.0f, .seed = 1, .step = 2, .layer = 3};
    device_mask(&drop, &out_a, host_a);
    ck_assert_uint_eq(count_not_equal(host_a, 1.0f), 0);
    device_mask(NULL, &out_a, host_a);
    ck_assert_uint_eq(count_not_equal(host_a, 1.0f), 0);
    /* In place: relu(x) with x == y. */
    ck_assert_int_eq(op_fill(ctx, N, -2.0f, &out_b), PP_OK);
    ck_assert_int_eq(op_act_forward(ctx, OP_ACT_RELU, N, &out_b, &out_b, NULL), PP_OK);
    ck_assert_int_eq(rt_buf_read(ctx, &out_b, 0, N * sizeof(float), host_b), PP_OK);
    ck_assert_uint_eq(count_not_equal(host_b, 0.0f), 0);
}
END_TEST

START_TEST(test_bad_probability) {
    static const float bad[] = {1.0f, -0.1f, 1.5f, NAN};
    for (int t = 0; t < 4; t++) {
        const op_dropout drop = {.p = bad[t]};
        ck_assert_int_eq(op_act_forward(ctx, OP_ACT_RELU, N, &ones, &out_a, &drop),
                         PP_ERR_ARGUMENT);
        ck_assert_int_eq(op_act_backward(ctx, OP_ACT_RELU, N, &ones, &ones, &out_a, &drop),
                         PP_ERR_ARGUMENT);
    }
    ck_assert_int_eq(op_act_forward(ctx, (op_act)9, N, &ones, &out_a, NULL), PP_ERR_ARGUMENT);
}
END_TEST

/* The mask as identity's backward of ones gives it, in place in out_c, read
 * into host_c. */
static void backward_mask(size_t n, const op_dropout *drop) {
    ck_assert_int_eq(op_fill(ctx, N, 1.0f, &out_c), PP_OK);
    ck_assert_int_eq(op_act_backward(ctx, OP_ACT_IDENTITY, n, &ones, &out_c, &out_c, drop), PP_OK);
    ck_assert_int_eq(rt_buf_read(ctx, &out_c, 0, n * sizeof(float), host_c), PP_OK);
}

/* Elements of got that differ from the global mask in host_a from first on. */
static size_t differ_from_global(const float *got, size_t first, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += got[i] != host_a[first + i];
    return d;
}

/* A data-parallel rank holds the rows of the global batch from some row on:
 * with first set to that row's element index, its mask is the global mask's
 * tail, whether first starts a Philox block (64 or four lanes, also inside a
 * run of 64) or not (one lane). */
START_TEST(test_offset_mask_is_the_global_masks_tail) {
    static const uint32_t firsts[] = {4096, 4100, 36, 1030, 6, 1, 3};
    op_dropout drop = {.p = 0.3f, .seed = 77, .step = 12, .layer = 1};
    device_mask(&drop, &out_a, host_a);
    for (size_t k = 0; k < sizeof firsts / sizeof firsts[0]; k++) {
        size_t first = firsts[k], n = N - first - 5; /* and a tail that is not whole blocks */
        drop.first = (uint32_t)first;
        ck_assert_int_eq(op_act_forward(ctx, OP_ACT_IDENTITY, n, &ones, &out_b, &drop), PP_OK);
        ck_assert_int_eq(rt_buf_read(ctx, &out_b, 0, n * sizeof(float), host_b), PP_OK);
        backward_mask(n, &drop);
        size_t forward = differ_from_global(host_b, first, n);
        size_t backward = differ_from_global(host_c, first, n);
        ck_assert_msg(forward == 0 && backward == 0,
                      "first %zu: %zu forward and %zu backward elements differ", first, forward,
                      backward);
    }
}
END_TEST

/* Elements where the kept mask (bytes) and a drawn one (floats) disagree. */
static size_t count_mask_differences(const unsigned char *bytes, const float *drawn, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += (bytes[i] != 0) != (drawn[i] != 0.0f);
    return d;
}

/* The mask kept in bytes (op_dropout.mask): the forward op writes the mask it
 * draws; the backward and the modulated-pass op read it, whatever their key,
 * also on a data-parallel rank's rows (first > 0, in and out of a block). */
START_TEST(test_kept_mask_is_read_by_the_later_passes) {
    static const uint32_t firsts[] = {0, 4096, 36, 6, 1};
    unsigned char *bytes = malloc(N);
    ck_assert_ptr_nonnull(bytes);
    op_dropout drop = {.p = 0.3f, .seed = 77, .step = 12, .layer = 1};
    device_mask(&drop, &out_a, host_a); /* the global mask, drawn */
    for (size_t k = 0; k < sizeof firsts / sizeof firsts[0]; k++) {
        size_t first = firsts[k], n = N - first - 5;
        drop.first = (uint32_t)first;
        drop.mask = &kept;
        ck_assert_int_eq(op_act_forward(ctx, OP_ACT_IDENTITY, n, &ones, &out_b, &drop), PP_OK);
        ck_assert_int_eq(rt_buf_read(ctx, &kept, 0, n, bytes), PP_OK);
        ck_assert_uint_eq(count_mask_differences(bytes, host_a + first, n), 0);
        /* another key: only the kept mask gives the global one */
        op_dropout later = drop;
        later.seed++;
        backward_mask(n, &later);
        /* y' of ones = the mask (out_a, the drawn mask, is free for diff) */
        ck_assert_int_eq(
            op_act_forward_diff(ctx, OP_ACT_RELU, n, &ones, &out_b, &out_c, &out_a, &later), PP_OK);
        ck_assert_int_eq(rt_buf_read(ctx, &out_c, 0, n * sizeof(float), host_b), PP_OK);
        size_t backward = differ_from_global(host_c, first, n);
        size_t modulated = differ_from_global(host_b, first, n);
        ck_assert_msg(backward == 0 && modulated == 0,
                      "first %zu: %zu backward and %zu modulated-pass elements differ", first,
                      backward, modulated);
    }
    /* a mask buffer shorter than the elements */
    drop.first = 0;
    ck_assert_int_eq(op_act_forward(ctx, OP_ACT_RELU, N + 1, &ones, &out_b, &drop),
                     PP_ERR_ARGUMENT);
    free(bytes);
}
END_TEST

int main(void) {
    Suite *suite = suite_create("dropout");
    TCase *tc = tcase_create("dropout");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_mask_equals_host_reference);
    tcase_add_test(tc, test_same_key_same_mask_different_key_different_mask);
    tcase_add_test(tc, test_passes_share_the_mask);
    tcase_add_test(tc, test_kept_fraction);
    tcase_add_test(tc, test_no_mask_when_p_is_zero);
    tcase_add_test(tc, test_bad_probability);
    tcase_add_test(tc, test_offset_mask_is_the_global_masks_tail);
    tcase_add_test(tc, test_kept_mask_is_read_by_the_later_passes);
    suite_add_tcase(suite, tc);
    return ts_run_suite(suite);
}
