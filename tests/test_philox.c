/* Host Philox-4x32-10: known-answer vectors and the helpers built on it
 * (the device side is compared with it in test_elementwise and test_dropout). */
#include "ops/philox.h"
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

/* Random123's kat_vectors for philox4x32_10. */
START_TEST(test_known_answers) {
    static const uint32_t ctr[3][4] = {{0, 0, 0, 0},
                                       {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                                       {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}};
    static const uint32_t key[3][2] = {
        {0, 0}, {0xffffffffu, 0xffffffffu}, {0xa4093822u, 0x299f31d0u}};
    static const uint32_t expect[3][4] = {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
                                          {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu},
                                          {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}};
    for (int t = 0; t < 3; t++) {
        uint32_t out[4];
        philox4x32_10(ctr[t], key[t], out);
        for (int w = 0; w < 4; w++)
            ck_assert_uint_eq(out[w], expect[t][w]);
    }
    /* philox_u32 is word 0 at counter (index, a, b, domain) under the split seed. */
    ck_assert_uint_eq(
        philox_u32(0x299f31d0a4093822ull, 0x03707344u, 0x85a308d3u, 0x13198a2eu, 0x243f6a88u),
        0xd16cfe09u);
}
END_TEST

START_TEST(test_uniform_ranges) {
    for (uint32_t i = 0; i < 100000; i++) {
        const float u = philox_uniform01(42, PHILOX_DOMAIN_HOST, 1, 2, i);
        ck_assert(u >= 0.0f && u < 1.0f);
        const float v = philox_uniform(42, 3, i, -0.5f, 0.25f);
        ck_assert(v >= -0.5f && v <= 0.25f);
        ck_assert_uint_lt(philox_below(philox_u32(42, 0, 0, 0, i), 7), 7);
    }
    ck_assert_uint_eq(philox_below(0xffffffffu, 10), 9);
    ck_assert_uint_eq(philox_below(0, 10), 0);
}
END_TEST

START_TEST(test_dropout_threshold) {
    ck_assert_uint_eq(philox_dropout_threshold(0.0f), 0);
    ck_assert_uint_eq(philox_dropout_threshold(0.5f), 1u << 23);
    ck_assert_uint_eq(philox_dropout_threshold(0.25f), 1u << 22);
    /* 0.1f * 2^24 = 1677721.625 exactly: rounded up, so keep <=> uniform01 >= p. */
    ck_assert_uint_eq(philox_dropout_threshold(0.1f), 1677722u);
    ck_assert_float_eq(philox_dropout_scale(0.5f), 2.0f);
    /* unit i: word i % 4 of the block at counter i / 4 */
    for (uint32_t i = 0; i < 10000; i++) {
        const uint32_t ctr[4] = {i / 4, 3, 4, PHILOX_DOMAIN_DROPOUT}, key[2] = {9, 0};
        uint32_t out[4];
        philox4x32_10(ctr, key, out);
        const float u = (float)(out[i % 4] >> 8) * (1.0f / 16777216.0f);
        ck_assert_int_eq(philox_dropout_keep(9, 3, 4, i, philox_dropout_threshold(0.1f)),
                         u >= 0.1f);
    }
    /* word 0 is the one philox_u32 gives */
    ck_assert_int_eq(philox_dropout_keep(9, 3, 4, 8, 1u << 23),
                     (philox_u32(9, PHILOX_DOMAIN_DROPOUT, 3, 4, 2) >> 8) >= (1u << 23));
}
END_TEST

START_TEST(test_shuffle) {
    enum { N = 1000 };
    int32_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *c = malloc(N * sizeof *c);
    char *seen = calloc(N, 1);
    philox_shuffle_i32(a, N, 7, 0);
    philox_shuffle_i32(b, N, 7, 0);
    philox_shuffle_i32(c, N, 7, 1);
    ck_assert_mem_eq(a, b, N * sizeof *a);
    int moved = 0, differ = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_int_ge(a[i], 0);
        ck_assert_int_lt(a[i], N);
        ck_assert(!seen[a[i]]);
        seen[a[i]] = 1;
        moved += a[i] != i;
        differ += a[i] != c[i];
    }
    ck_assert_int_gt(moved, N * 9 / 10);
    ck_assert_int_gt(differ, N * 9 / 10);
    int32_t one = -1;
    philox_shuffle_i32(&one, 1, 7, 0);
    ck_assert_int_eq(one, 0);
    free(a);
    free(b);
    free(c);
    free(seen);
}
END_TEST

int main(void) {
    Suite *suite = suite_create("philox");
    TCase *tc = tcase_create("host");
    tcase_add_test(tc, test_known_answers);
    tcase_add_test(tc, test_uniform_ranges);
    tcase_add_test(tc, test_dropout_threshold);
    tcase_add_test(tc, test_shuffle);
    suite_add_tcase(suite, tc);
    return ts_run_suite(suite);
}
