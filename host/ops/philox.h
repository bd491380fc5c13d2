/* Host Philox-4x32-10, bit-identical to cl/common.cl.
 *
 * Every random number in pepita-cl is a word of Philox at a counter
 * (index, a, b, domain) under the key seed (word 0, or for dropout masks word
 * i % 4 at index i / 4), so it is a pure function of where it is used: the trainer (weight init,
 * shuffling) and the device kernels (dropout, op_uniform) can regenerate any value without shared
 * state. */
#ifndef PEPITA_OPS_PHILOX_H
#define PEPITA_OPS_PHILOX_H

#include <stddef.h>
#include <stdint.h>

/* Counter word 3: who uses the stream, so users of one seed never collide. */
enum {
    PHILOX_DOMAIN_HOST = 0,    /* free for host-only uses */
    PHILOX_DOMAIN_DROPOUT = 1, /* a = step, b = layer, index = unit / 4 (op_act_*) */
    PHILOX_DOMAIN_UNIFORM = 2, /* a = stream, b = 0 (op_uniform) */
    PHILOX_DOMAIN_SHUFFLE = 3, /* a = epoch, b = 0 (philox_shuffle_i32) */
    PHILOX_DOMAIN_NORMAL = 4,  /* a, b: the caller's (op_normal, weight mirroring) */
};

/* The raw generator: out = Philox-4x32-10(ctr, key). */
void philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Word 0 at counter (index, a, b, domain), key (seed low, seed high). */
uint32_t philox_u32(uint64_t seed, uint32_t domain, uint32_t a, uint32_t b, uint32_t index);
/* (u32 >> 8) * 2^-24: uniform in [0, 1), exact in float. */
float philox_uniform01(uint64_t seed, uint32_t domain, uint32_t a, uint32_t b, uint32_t index);
/* Exactly the value op_uniform(seed, stream) writes at index: lo + (hi - lo) u. */
float philox_uniform(uint64_t seed, uint32_t stream, uint32_t index, float lo, float hi);
/* An integer in [0, bound) from r by multiply-high (bias below bound / 2^32). */
uint32_t philox_below(uint32_t r, uint32_t bound);

/* Dropout: a unit is kept iff (u32 >> 8) >= threshold, i.e. uniform01 >= p;
 * threshold = ceil(p 2^24), 0 for p == 0 (nothing dropped). */
uint32_t philox_dropout_threshold(float p);
/* 1 / (1 - p) in float, the scale of kept units. */
float philox_dropout_scale(float p);
/* 1 if unit index of (seed, step, layer) is kept at this threshold: word
 * index % 4 of the block at counter (index / 4, step, layer, DOMAIN_DROPOUT),
 * so one Philox block serves four units. */
int philox_dropout_keep(uint64_t seed, uint32_t step, uint32_t layer, uint32_t index,
                        uint32_t threshold);

/* A standard normal value from the block at counter (index, a, b, NORMAL),
 * bit-identical to op_normal's (cl/mirror.cl): Box-Muller with word 0 as
 * u1 in (0, 1] and word 1 as the angle, computed with +, - and * only. */
float philox_normal(uint64_t seed, uint32_t a, uint32_t b, uint32_t index);

/* Fills idx with a permutation of 0..n-1 (Fisher-Yates), a pure function of
 * (seed, epoch). n must be below 2^31. */
void philox_shuffle_i32(int32_t *idx, size_t n, uint64_t seed, uint32_t epoch);

#endif
