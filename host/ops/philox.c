#include "ops/philox.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        const uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        const uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        const uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

uint32_t philox_u32(uint64_t seed, uint32_t domain, uint32_t a, uint32_t b, uint32_t index) {
    const uint32_t ctr[4] = {index, a, b, domain};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    philox4x32_10(ctr, key, out);
    return out[0];
}

float philox_uniform01(uint64_t seed, uint32_t domain, uint32_t a, uint32_t b, uint32_t index) {
    return (float)(philox_u32(seed, domain, a, b, index) >> 8) * (1.0f / 16777216.0f);
}

float philox_uniform(uint64_t seed, uint32_t stream, uint32_t index, float lo, float hi) {
    /* The same float operations, unfused, as cl/elementwise.cl (FP_CONTRACT OFF). */
    const float u = philox_uniform01(seed, PHILOX_DOMAIN_UNIFORM, stream, 0, index);
    const float width = hi - lo;
    const float scaled = width * u;
    return lo + scaled;
}

uint32_t philox_below(uint32_t r, uint32_t bound) {
    return (uint32_t)(((uint64_t)r * bound) >> 32);
}

uint32_t philox_dropout_threshold(float p) {
    if (!(p > 0.0f)) return 0;
    if (p >= 1.0f) return 1u << 24;
    return (uint32_t)ceil((double)p * 16777216.0); /* exact: p has 24 bits */
}

float philox_dropout_scale(float p) {
    return 1.0f / (1.0f - p);
}

int philox_dropout_keep(uint64_t seed, uint32_t step, uint32_t layer, uint32_t index,
                        uint32_t threshold) {
    const uint32_t ctr[4] = {index / 4, step, layer, PHILOX_DOMAIN_DROPOUT};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    philox4x32_10(ctr, key, out);
    return (out[index % 4] >> 8) >= threshold;
}

void philox_shuffle_i32(int32_t *idx, size_t n, uint64_t seed, uint32_t epoch) {
    for (size_t i = 0; i < n; i++)
        idx[i] = (int32_t)i;
    for (size_t i = n; i > 1; i--) {
        const uint32_t r = philox_u32(seed, PHILOX_DOMAIN_SHUFFLE, epoch, 0, (uint32_t)(i - 1));
        const size_t j = philox_below(r, (uint32_t)i);
        const int32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
