/* Prepended to every program: keep it small and generic. */

/* 1-D bounds check: global sizes are rounded up to the local size. */
#define GLOBAL_ID_OR_RETURN(i, n)                                                                  \
    const int i = (int)get_global_id(0);                                                           \
    if (i >= (n)) return

/* Philox-4x32-10 (Salmon et al., SC'11), counter-based: the value for a
 * counter is a pure function of (counter, key), so any work-item (or the
 * host, host/ops/philox.c is bit-identical) can regenerate it. */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* Counter word 3 separates the users of one seed (see host/ops/philox.h). */
#define PHILOX_DOMAIN_DROPOUT 1u
#define PHILOX_DOMAIN_UNIFORM 2u

/* PoCL vectorises a kernel across work-items only when no call and no inner
 * loop is left in its body: helpers called per element are force-inlined and
 * fixed-count loops unrolled by hand (Philox dropout went 20x faster). */
#define ALWAYS_INLINE __attribute__((always_inline))

/* The sum of a vector's lanes by halving, one fixed order for every kernel
 * (GEMM dot products, conv tiles, the SGD pass's W F). */
ALWAYS_INLINE float lane_sum2(float2 v) { return v.x + v.y; }
ALWAYS_INLINE float lane_sum4(float4 v) { return lane_sum2(v.lo + v.hi); }
ALWAYS_INLINE float lane_sum8(float8 v) { return lane_sum4(v.lo + v.hi); }
ALWAYS_INLINE float lane_sum16(float16 v) { return lane_sum8(v.lo + v.hi); }

/* One round; the 32x32->64 products vectorise where PoCL's mul_hi does not. */
#define PHILOX_ROUND(c0, c1, c2, c3, k0, k1)                                                       \
    do {                                                                                           \
        const ulong p0_ = (ulong)PHILOX_M0 * (c0), p1_ = (ulong)PHILOX_M1 * (c2);                  \
        const uint n0_ = (uint)(p1_ >> 32) ^ (c1) ^ (k0), n2_ = (uint)(p0_ >> 32) ^ (c3) ^ (k1);   \
        (c1) = (uint)p1_;                                                                          \
        (c3) = (uint)p0_;                                                                          \
        (c0) = n0_;                                                                                \
        (c2) = n2_;                                                                                \
        (k0) += PHILOX_W0;                                                                         \
        (k1) += PHILOX_W1;                                                                         \
    } while (0)

ALWAYS_INLINE uint4 philox4x32_10(uint4 ctr, uint2 key) {
    uint c0 = ctr.x, c1 = ctr.y, c2 = ctr.z, c3 = ctr.w, k0 = key.x, k1 = key.y;
    PHILOX_ROUND(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND(c0, c1, c2, c3, k0, k1);
    return (uint4)(c0, c1, c2, c3);
}

/* Word 0 of Philox at counter (index, a, b, domain), key = the 64-bit seed. */
ALWAYS_INLINE uint philox_u32(uint seed_lo, uint seed_hi, uint domain, uint a, uint b, uint index) {
    return philox4x32_10((uint4)(index, a, b, domain), (uint2)(seed_lo, seed_hi)).x;
}

/* Uniform in [0, 1) from the top 24 bits: exact in float, so host and device agree. */
ALWAYS_INLINE float philox_uniform01(uint seed_lo, uint seed_hi, uint domain, uint a, uint b,
                                     uint index) {
    return (float)(philox_u32(seed_lo, seed_hi, domain, a, b, index) >> 8) * (1.0f / 16777216.0f);
}

/* SGD with momentum's new velocity, v = mu v + lr (g + wd w): one expression
 * for every kernel that steps weights (optimizer.cl, gemm.cl's step
 * epilogue), so that they round alike. */
#define SGD_VELOCITY(w, v, g, lr, mu, wd) ((mu) * (v) + (lr) * ((g) + (wd) * (w)))
