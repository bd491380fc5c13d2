/* The element-wise area's operators against their plain-C references
 * (ref_checks_elementwise, also run by `pepita selftest`), plus properties
 * the references alone do not show. */
#include "ops/ops.h"
#include "ref_elementwise.h"
#include "reference.h"
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static rt_context *ctx;

static void setup(void) {
    ck_assert_int_eq(rt_context_create(NULL, 0, &ctx), PP_OK);
}

static void teardown(void) {
    rt_context_destroy(ctx);
}

static void run_checks(int quick) {
    ck_assert_uint_gt(ts_run_area_checks(ctx, quick, ref_checks_elementwise, "element-wise"),
                      quick ? 100 : 200);
}

START_TEST(test_reference_checks_full) {
    run_checks(0);
}
END_TEST

START_TEST(test_reference_checks_quick) {
    run_checks(1);
}
END_TEST

/* Logits of +-1000 overflow a naive exp: the stable forms stay exact. */
START_TEST(test_extreme_logits) {
    const float z[3][3] = {{1000, -1000, 0}, {1000, -1000, 0}, {-1000, -1000, -1000}};
    const int32_t labels[3] = {0, 1, 2};
    rt_buf bz = ts_upload(ctx, z, sizeof z), bl = ts_upload(ctx, labels, sizeof labels);
    rt_buf be = ts_upload(ctx, NULL, sizeof z), bloss = ts_upload(ctx, NULL, 12),
           bc = ts_upload(ctx, NULL, 12);
    float err[3][3], loss[3], correct[3];
    ck_assert_int_eq(op_softmax_error(ctx, 3, 3, &bz, &bl, &be, &bloss, &bc, NULL), PP_OK);
    ts_download(ctx, &be, err, sizeof err);
    ts_download(ctx, &bloss, loss, sizeof loss);
    ts_download(ctx, &bc, correct, sizeof correct);
    ck_assert_float_eq_tol(loss[0], 0.0f, 1e-6f);
    ck_assert_float_eq_tol(loss[1], 2000.0f, 1e-3f);
    ck_assert_float_eq_tol(loss[2], logf(3.0f), 1e-6f);
    ck_assert_float_eq(correct[0], 1.0f);
    ck_assert_float_eq(correct[1], 0.0f);
    ck_assert_float_eq(correct[2], 0.0f); /* a tie: the first maximum (0) wins */
    ck_assert_float_eq_tol(err[1][0], 1.0f, 1e-6f);
    ck_assert_float_eq_tol(err[1][1], -1.0f, 1e-6f);
    ck_assert_float_eq_tol(err[2][2], 1.0f / 3.0f - 1.0f, 1e-6f);
    ck_assert_int_eq(op_sigmoid_error(ctx, 3, 3, &bz, &bl, &be, &bloss, &bc, NULL), PP_OK);
    ts_download(ctx, &be, err, sizeof err);
    ts_download(ctx, &bloss, loss, sizeof loss);
    /* BCE per class: max(z,0) - z t + log(1 + exp(-|z|)); z = 0 costs log 2. */
    ck_assert_float_eq_tol(loss[0], logf(2.0f), 1e-6f);
    ck_assert_float_eq_tol(loss[1], 2000.0f + logf(2.0f), 1e-3f);
    ck_assert_float_eq_tol(loss[2], 1000.0f, 1e-3f);
    ck_assert_float_eq_tol(err[0][0], 0.0f, 1e-6f);
    ck_assert_float_eq_tol(err[1][0], 1.0f, 1e-6f);
    ck_assert_float_eq_tol(err[1][1], -1.0f, 1e-6f);
    rt_buf_release(ctx, &bz);
    rt_buf_release(ctx, &bl);
    rt_buf_release(ctx, &be);
    rt_buf_release(ctx, &bloss);
    rt_buf_release(ctx, &bc);
}
END_TEST

/* A trainer's epoch: per batch, loss and correct go into the running device
 * totals; one read at the end. */
START_TEST(test_epoch_totals) {
    enum { BATCH = 64, CLASSES = 10, BATCHES = 5, LAST = 37 };
    float z[BATCH * CLASSES], loss[BATCH], correct[BATCH];
    int32_t labels[BATCH];
    rt_buf bz = ts_upload(ctx, NULL, sizeof z), bl = ts_upload(ctx, NULL, sizeof labels);
    rt_buf bloss = ts_upload(ctx, NULL, sizeof loss), bc = ts_upload(ctx, NULL, sizeof correct);
    rt_buf acc = ts_upload(ctx, NULL, 2 * sizeof(float));
    double total_loss = 0.0, total_correct = 0.0;
    for (int b = 0; b < BATCHES; b++) {
        const int batch = b == BATCHES - 1 ? LAST : BATCH;
        ts_fill_uniform(z, batch * CLASSES, -3.0f, 3.0f, 100 + b);
        for (int i = 0; i < batch; i++)
            labels[i] = (i * 7 + b) % CLASSES;
        ck_assert_int_eq(rt_buf_write(ctx, &bz, 0, batch * CLASSES * 4, z), PP_OK);
        ck_assert_int_eq(rt_buf_write(ctx, &bl, 0, batch * 4, labels), PP_OK);
        ck_assert_int_eq(op_softmax_error(ctx, batch, CLASSES, &bz, &bl, NULL, &bloss, &bc, NULL),
                         PP_OK);
        ck_assert_int_eq(op_accumulate2(ctx, batch, &bloss, &bc, &acc, 0), PP_OK);
        ref_softmax_error(batch, CLASSES, z, labels, NULL, loss, correct);
        total_loss += ref_sum(batch, loss);
        total_correct += ref_sum(batch, correct);
    }
    float got[2];
    ts_download(ctx, &acc, got, sizeof got);
    ck_assert_float_eq_tol(got[0], (float)total_loss, 1e-4f * (float)total_loss);
    ck_assert_float_eq(got[1], (float)total_correct);
    rt_buf_release(ctx, &bz);
    rt_buf_release(ctx, &bl);
    rt_buf_release(ctx, &bloss);
    rt_buf_release(ctx, &bc);
    rt_buf_release(ctx, &acc);
}
END_TEST

START_TEST(test_gather_out_of_range_index) {
    const uint8_t data[3 * 2] = {10, 11, 20, 21, 30, 31}, labels[3] = {7, 8, 9};
    const int32_t idx[5] = {99, 2, -1, 3, 0}; /* offset 1: rows 2, -1, 3, 0 */
    rt_buf bd = ts_upload(ctx, data, sizeof data), bl = ts_upload(ctx, labels, sizeof labels),
           bi = ts_upload(ctx, idx, sizeof idx), bx = ts_upload(ctx, NULL, 8 * 4),
           by = ts_upload(ctx, NULL, 4 * 4);
    ck_assert_int_eq(op_gather_batch(ctx, 4, 2, &bd, &bl, &bi, 1, 0.5f, &bx, &by), PP_OK);
    float x[8];
    int32_t y[4];
    ts_download(ctx, &bx, x, sizeof x);
    ts_download(ctx, &by, y, sizeof y);
    const float expect_x[8] = {15.0f, 15.5f, 0, 0, 0, 0, 5.0f, 5.5f};
    const int32_t expect_y[4] = {9, -1, -1, 7};
    for (int i = 0; i < 8; i++)
        ck_assert_float_eq(x[i], expect_x[i]);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(y[i], expect_y[i]);
    rt_buf_release(ctx, &bd);
    rt_buf_release(ctx, &bl);
    rt_buf_release(ctx, &bi);
    rt_buf_release(ctx, &bx);
    rt_buf_release(ctx, &by);
}
END_TEST

START_TEST(test_histogram_clamps_and_skips_nan) {
    const float x[8] = {-5.0f, 0.0f, 0.49f, 0.5f, 0.99f, 1.0f, 7.0f, NAN};
    rt_buf bx = ts_upload(ctx, x, sizeof x), bc = ts_upload(ctx, NULL, 2 * 4);
    ck_assert_int_eq(op_histogram(ctx, 8, &bx, 0.0f, 1.0f, 2, &bc), PP_OK);
    uint32_t counts[2];
    ts_download(ctx, &bc, counts, sizeof counts);
    ck_assert_uint_eq(counts[0], 3); /* -5 (clamped), 0, 0.49 */
    ck_assert_uint_eq(counts[1], 4); /* 0.5, 0.99, 1 and 7 (clamped); NaN not counted */
    /* A second call overwrites rather than adds. */
    ck_assert_int_eq(op_histogram(ctx, 8, &bx, 0.0f, 1.0f, 2, &bc), PP_OK);
    ts_download(ctx, &bc, counts, sizeof counts);
    ck_assert_uint_eq(counts[0] + counts[1], 7);
    rt_buf_release(ctx, &bx);
    rt_buf_release(ctx, &bc);
}
END_TEST

START_TEST(test_argument_errors) {
    rt_buf small = ts_upload(ctx, NULL, 16), big = ts_upload(ctx, NULL, 4096), unallocated = {0};
    ck_assert_int_eq(op_sub(ctx, 5, &small, &big, &big), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_sub(ctx, 4, &small, &big, &unallocated), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_axpby(ctx, 5, 1.0f, &big, 1.0f, &small), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_fill(ctx, 5, 0.0f, &small), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_uniform(ctx, 5, 0.0f, 1.0f, 1, 1, &small), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_sgd_momentum(ctx, 5, 0.1f, 0.9f, 0.0f, &big, &small, &big),
                     PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_softmax_error(ctx, 2, 3, &small, &big, NULL, NULL, NULL, NULL),
                     PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_softmax_error(ctx, 2, 0, &big, &big, NULL, NULL, NULL, NULL),
                     PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_sigmoid_error(ctx, 4, 1, &big, &big, &small, &big, &small, NULL),
                     PP_OK); /* 4 x 1 floats fit in 16 bytes */
    ck_assert_int_eq(op_onehot(ctx, 2, 3, &big, 1.0f, &small), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_accumulate2(ctx, 4, &big, &big, &small, 3), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_sum(ctx, 5, &small, &big, 0), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_dot(ctx, 4, &small, &big, &small, 4), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_histogram(ctx, 4, &small, 1.0f, 1.0f, 2, &big), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_histogram(ctx, 4, &small, 0.0f, 1.0f, 0, &big), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_histogram(ctx, 4, &small, 0.0f, 1.0f, 5, &small), PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_gather_batch(ctx, 2, 0, &big, &big, &big, 0, 1.0f, &big, &big),
                     PP_ERR_ARGUMENT);
    ck_assert_int_eq(op_gather_batch(ctx, 2, 3, &big, &big, &small, 3, 1.0f, &big, &big),
                     PP_ERR_ARGUMENT);
    ck_assert_str_ne(pp_last_error(), "");
    /* n == 0 enqueues nothing and succeeds. */
    ck_assert_int_eq(op_sub(ctx, 0, &small, &small, &small), PP_OK);
    ck_assert_int_eq(rt_finish(ctx), PP_OK);
    rt_buf_release(ctx, &small);
    rt_buf_release(ctx, &big);
}
END_TEST

int main(void) {
    Suite *suite = suite_create("elementwise");
    TCase *tc = tcase_create("elementwise");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_reference_checks_full);
    tcase_add_test(tc, test_reference_checks_quick);
    tcase_add_test(tc, test_extreme_logits);
    tcase_add_test(tc, test_epoch_totals);
    tcase_add_test(tc, test_gather_out_of_range_index);
    tcase_add_test(tc, test_histogram_clamps_and_skips_nan);
    tcase_add_test(tc, test_argument_errors);
    suite_add_tcase(suite, tc);
    return ts_run_suite(suite);
}
