/* The host's twin of cl/mirror.cl's normal_noise: the same operations in the
 * same order, one rounding per statement (no contraction into fused
 * multiply-adds), so every value is bit-identical to the device's. */
#include "ops/philox.h"

#include <string.h>

static float bits_to_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t float_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* ln(v 2^-24), v in [1, 2^24]: see normal_log_u in cl/mirror.cl. */
static float normal_log_u(uint32_t v) {
    int e = 31 - __builtin_clz(v);
    const uint32_t mant = e <= 23 ? v << (23 - e) : v >> (e - 23);
    float m = bits_to_float((mant & 0x7FFFFFu) | 0x3F800000u);
    if (m > 1.41421354f) {
        m = m * 0.5f;
        e = e + 1;
    }
    const float f = m - 1.0f;
    const float d = 2.0f + f;
    float r = 0.5f, dr;
    for (int i = 0; i < 4; i++) {
        dr = d * r;
        r = r * (2.0f - dr);
    }
    const float s = f * r;
    const float s2 = s * s;
    static const float coef[] = {0.222222224f, 0.285714298f, 0.400000006f, 0.666666687f, 2.0f};
    float p = 0.181818187f, q;
    for (int i = 0; i < 5; i++) {
        q = s2 * p;
        p = coef[i] + q;
    }
    const float ln_m = s * p;
    const float ln_2e = (float)(e - 24) * 0.693147182f;
    return ln_2e + ln_m;
}

static float normal_sqrt(float x) {
    if (!(x > 0.0f)) return 0.0f;
    const float h = 0.5f * x;
    float y = bits_to_float(0x5F3759DFu - (float_to_bits(x) >> 1)), t;
    for (int i = 0; i < 3; i++) {
        t = h * y;
        t = t * y;
        y = y * (1.5f - t);
    }
    return x * y;
}

static float normal_cos_turn(uint32_t k) {
    const uint32_t octant = k >> 21, rest = k & 0x1FFFFFu;
    const uint32_t t = (octant & 1u) ? 0x200000u - rest : rest;
    const float scaled = (float)t * 5.96046448e-8f;
    const float y = scaled * 6.28318548f;
    const float y2 = y * y;
    static const float sin_coef[] = {-0.000198412701f, 0.00833333377f, -0.166666672f, 1.0f};
    static const float cos_coef[] = {2.48015876e-05f, -0.00138888892f, 0.0416666679f, -0.5f};
    float p = 2.75573188e-06f, q;
    for (int i = 0; i < 4; i++) {
        q = y2 * p;
        p = sin_coef[i] + q;
    }
    const float sin_y = y * p;
    float c = -2.755732e-07f;
    for (int i = 0; i < 4; i++) {
        q = y2 * c;
        c = cos_coef[i] + q;
    }
    q = y2 * c;
    const float cos_y = 1.0f + q;
    /* octants 1, 2, 5, 6 give +-sin y; octants 2 to 5 are negative */
    const float magnitude = ((octant + 1u) & 2u) ? sin_y : cos_y;
    return octant - 2u < 4u ? -magnitude : magnitude;
}

float philox_normal(uint64_t seed, uint32_t a, uint32_t b, uint32_t index) {
    const uint32_t ctr[4] = {index, a, b, PHILOX_DOMAIN_NORMAL};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t w[4];
    philox4x32_10(ctr, key, w);
    const float ln_u = normal_log_u((w[0] >> 8) + 1u);
    const float radius = normal_sqrt(-2.0f * ln_u);
    return radius * normal_cos_turn(w[1] >> 8);
}
