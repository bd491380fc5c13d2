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

uint4 philox4x32_10(uint4 ctr, uint2 key) {
    for (int round = 0; round < 10; round++) {
        if (round > 0) key += (uint2)(PHILOX_W0, PHILOX_W1);
        const uint hi0 = mul_hi(PHILOX_M0, ctr.x), lo0 = PHILOX_M0 * ctr.x;
        const uint hi1 = mul_hi(PHILOX_M1, ctr.z), lo1 = PHILOX_M1 * ctr.z;
        ctr = (uint4)(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
    }
    return ctr;
}

/* Word 0 of Philox at counter (index, a, b, domain), key = the 64-bit seed. */
uint philox_u32(uint seed_lo, uint seed_hi, uint domain, uint a, uint b, uint index) {
    return philox4x32_10((uint4)(index, a, b, domain), (uint2)(seed_lo, seed_hi)).x;
}

/* Uniform in [0, 1) from the top 24 bits: exact in float, so host and device agree. */
float philox_uniform01(uint seed_lo, uint seed_hi, uint domain, uint a, uint b, uint index) {
    return (float)(philox_u32(seed_lo, seed_hi, domain, a, b, index) >> 8) * (1.0f / 16777216.0f);
}
