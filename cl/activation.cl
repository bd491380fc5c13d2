/* Activations, their derivatives, and dropout regenerated from Philox.
 * Built per -DACT (op_act: 0 identity, 1 ReLU, 2 tanh, 3 sigmoid) and
 * -DDROPOUT (0 or 1): a switch or a branch on a run-time argument keeps
 * PoCL from vectorising across work-items (ReLU + dropout went 6x faster). */
#ifndef ACT
#define ACT 1
#endif
#ifndef DROPOUT
#define DROPOUT 1
#endif
/* Elements per work-item of the DROPOUT kernels (the device profile): 64,
 * sixteen Philox blocks in explicit 16-wide vectors, one work-item per group
 * (CPUs, ReLU and identity); 4, one Philox block in four unrolled lanes
 * (CPUs otherwise), or 1, consecutive work-items on consecutive elements
 * (GPUs; each regenerates its block and takes its word, which costs ALU, not
 * memory traffic). */
#ifndef DROPOUT_LANES
#define DROPOUT_LANES 4
#endif
/* DROPOUT_MASK 1 (with DROPOUT): the mask kept in bytes, one per element
 * (nonzero: kept). act_forward writes it as it draws the mask; act_backward
 * and act_forward_diff read it instead of drawing it again, one element per
 * work-item (without Philox there is no block to share), which PoCL
 * vectorises across work-items: the later pass costs what it does without
 * dropout. */
#ifndef DROPOUT_MASK
#define DROPOUT_MASK 0
#endif
#if DROPOUT && DROPOUT_MASK
#define MASK_PARAM , global uchar *restrict mask
#define RECORD(i, f) (mask[i] = (uchar)((f) != 0.0f))
/* 16 bytes at a multiple of 16 as one uint4 (a uchar16 store went out as 16
 * byte stores on PoCL) */
#define RECORD16(at, f)                                                                            \
    vstore4(as_uint4(convert_uchar16((f) != (float16)(0.0f))), 0, (global uint *)(mask + (at)))
#define KEPT_FACTOR(i) (mask[i] ? scale : 0.0f)
#else
#define MASK_PARAM
#define RECORD(i, f) ((void)0)
#define RECORD16(at, f) ((void)0)
#endif
/* act_forward_diff_lowrank: the rank of the update, a build constant so the
 * loop over it unrolls. */
#ifndef RANK
#define RANK 1
#endif

ALWAYS_INLINE float act_apply(float z) {
    switch (ACT) {
    case 1:
        return fmax(z, 0.0f);
    case 2:
        return tanh(z);
    case 3:
        return 1.0f / (1.0f + exp(-z));
    default:
        return z;
    }
}

/* act'(z) from the pre-activation. */
ALWAYS_INLINE float act_grad(float z) {
    switch (ACT) {
    case 1:
        return z > 0.0f ? 1.0f : 0.0f;
    case 2: {
        const float t = tanh(z);
        return 1.0f - t * t;
    }
    case 3: {
        const float s = 1.0f / (1.0f + exp(-z));
        return s * (1.0f - s);
    }
    default:
        return 1.0f;
    }
}

/* Dropout masks: element i is kept iff word (i % 4) of the Philox block at
 * counter (i / 4, step, layer, DOMAIN_DROPOUT) under the seed, shifted right
 * by 8, is >= threshold; kept units are scaled by 1 / (1 - p). The key
 * (seed, step, layer) and i alone decide, so every pass regenerates the same
 * mask. i is the element's index in the global batch: `first` plus its index
 * in the buffer (a rank of a data-parallel job holds rows from `first` on;
 * the four-lane kernels need first % 4 == 0, the host uses one lane else).
 * One block serves four elements: each work-item of the DROPOUT kernels
 * handles elements 4q..4q+3 (Philox was 90% of ReLU + dropout). */
ALWAYS_INLINE uint4 dropout_words(uint q, uint seed_lo, uint seed_hi, uint step, uint layer) {
    return philox4x32_10((uint4)(q, step, layer, PHILOX_DOMAIN_DROPOUT), (uint2)(seed_lo, seed_hi));
}

ALWAYS_INLINE float dropout_keep_scale(uint word, uint threshold, float scale) {
    return (word >> 8) >= threshold ? scale : 0.0f;
}

/* The DROPOUT kernels: work-item q takes elements 4q..4q+3 of whole blocks
 * and the four words of their Philox block, as four unrolled scalar lanes.
 * Straight-line scalar code with contiguous lanes is what PoCL vectorises
 * across work-items (float4 bodies, a loop, or lanes clamped for a partial
 * block were not, and ran 2-3x slower), so the elements of a partial last
 * block (n % 4 of them) go to the *_tail kernels, one work-item each launch. */
#define DROPOUT_BLOCK(n, seed_lo, seed_hi, step, layer)                                            \
    const int q_ = (int)get_global_id(0), i0 = 4 * q_;                                             \
    if (i0 + 4 > (n)) return;                                                                      \
    const uint4 w_ = dropout_words((first >> 2) + (uint)q_, seed_lo, seed_hi, step, layer);        \
    const float f0 = dropout_keep_scale(w_.x, threshold, scale);                                   \
    const float f1 = dropout_keep_scale(w_.y, threshold, scale);                                   \
    const float f2 = dropout_keep_scale(w_.z, threshold, scale);                                   \
    const float f3 = dropout_keep_scale(w_.w, threshold, scale)

/* Sixteen Philox blocks at once: lane l of the four words is block
 * (q + l)'s, bit for bit philox4x32_10's. The 32x32->64 products as
 * ulong16 multiplies of widened words (AVX-512's vpmuludq). */
#define PHILOX_ROUND16(c0, c1, c2, c3, k0, k1)                                                     \
    do {                                                                                           \
        const ulong16 p0_ = convert_ulong16(c0) * (ulong16)(PHILOX_M0);                            \
        const ulong16 p1_ = convert_ulong16(c2) * (ulong16)(PHILOX_M1);                            \
        const uint16 n0_ = convert_uint16(p1_ >> 32) ^ (c1) ^ (k0);                                \
        const uint16 n2_ = convert_uint16(p0_ >> 32) ^ (c3) ^ (k1);                                \
        (c1) = convert_uint16(p1_);                                                                \
        (c3) = convert_uint16(p0_);                                                                \
        (c0) = n0_;                                                                                \
        (c2) = n2_;                                                                                \
        (k0) += PHILOX_W0;                                                                         \
        (k1) += PHILOX_W1;                                                                         \
    } while (0)

/* The keep factors of the 64 elements 4q..4q+63 (q a block index), as four
 * float16 in element order: dropout_keep_scale of every word. */
ALWAYS_INLINE void dropout_factors64(uint q, uint threshold, float scale, uint seed_lo,
                                     uint seed_hi, uint step, uint layer, float16 *f) {
    uint16 c0 = (uint16)(q) + (uint16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    uint16 c1 = (uint16)(step), c2 = (uint16)(layer), c3 = (uint16)(PHILOX_DOMAIN_DROPOUT);
    uint k0 = seed_lo, k1 = seed_hi;
    PHILOX_ROUND16(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND16(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND16(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND16(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND16(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND16(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND16(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND16(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND16(c0, c1, c2, c3, k0, k1);
    PHILOX_ROUND16(c0, c1, c2, c3, k0, k1);
    const float16 zero = (float16)(0.0f), keep = (float16)(scale);
    const uint16 t = (uint16)(threshold);
    const float16 w0 = select(zero, keep, (c0 >> 8) >= t), w1 = select(zero, keep, (c1 >> 8) >= t);
    const float16 w2 = select(zero, keep, (c2 >> 8) >= t), w3 = select(zero, keep, (c3 >> 8) >= t);
    /* element 4l + j is word j of block l */
#define INTERLEAVE4(a, b, c, d)                                                                    \
    (float16)(w0.a, w1.a, w2.a, w3.a, w0.b, w1.b, w2.b, w3.b, w0.c, w1.c, w2.c, w3.c, w0.d, w1.d,  \
              w2.d, w3.d)
    f[0] = INTERLEAVE4(s0, s1, s2, s3);
    f[1] = INTERLEAVE4(s4, s5, s6, s7);
    f[2] = INTERLEAVE4(s8, s9, sa, sb);
    f[3] = INTERLEAVE4(sc, sd, se, sf);
#undef INTERLEAVE4
}

/* The 64-element kernels apply act in float16: only where that is
 * act_apply's arithmetic exactly (the host picks them for these). */
#if DROPOUT_LANES == 64 && ACT != 0 && ACT != 1
#error "DROPOUT_LANES=64 is for ReLU and identity only"
#endif
#if ACT == 1
#define ACT16(v) fmax((v), (float16)(0.0f))
#define ACT_GRAD16(z) select((float16)(0.0f), (float16)(1.0f), (z) > (float16)(0.0f))
#else
#define ACT16(v) (v)
#define ACT_GRAD16(z) ((float16)(1.0f))
#endif
#define DROPPED16(value, f) select((value), (float16)(0.0f), (f) == (float16)(0.0f))

/* The DROPOUT_LANES == 64 kernels: work-item g takes DROPOUT_RUNS runs of 64
 * elements from 64 DROPOUT_RUNS g on (fewer work-groups: PoCL's cost per
 * group is not small against one run's); a partial last run goes element by
 * element (TAIL_FACTOR). FOR_EACH_RUN opens the loop over the whole runs,
 * with f the run's factors; PARTIAL_RUN(i, stmt) ends it and runs stmt for
 * each element i of the partial run. */
#ifndef DROPOUT_RUNS
#define DROPOUT_RUNS 1
#endif
#define FOR_EACH_RUN(n)                                                                            \
    const long begin_ = (long)get_global_id(0) * (64 * DROPOUT_RUNS);                              \
    const int end_ = (int)min((long)(n), begin_ + 64 * DROPOUT_RUNS);                              \
    int i0 = (int)min((long)(n), begin_);                                                          \
    for (; i0 + 64 <= end_; i0 += 64) {                                                            \
        float16 f[4];                                                                              \
        dropout_factors64((first >> 2) + (uint)(i0 >> 2), threshold, scale, seed_lo, seed_hi,      \
                          step, layer, f);
#define PARTIAL_RUN(i, stmt)                                                                       \
    }                                                                                              \
    for (int i = i0; i < end_; i++)                                                                \
    stmt

/* The factor of element i on its own (tails, and kernels with their own layout). */
ALWAYS_INLINE float dropout_factor(uint i, uint threshold, float scale, uint seed_lo, uint seed_hi,
                                   uint step, uint layer) {
    if (!DROPOUT) return 1.0f;
    const uint4 w = dropout_words(i / 4, seed_lo, seed_hi, step, layer);
    /* Word i % 4 picked by its two bits: a chain of lane == k tests compiles
     * to a switch on an i2 that Oclgrind 21.10 takes wrongly (tests/oclgrind/). */
    const uint2 pair = (i & 2) ? w.zw : w.xy;
    return dropout_keep_scale((i & 1) ? pair.y : pair.x, threshold, scale);
}

/* The elements past the last whole block, by one work-item. */
#define TAIL_ELEMENTS(n, i) for (int i = (n) & ~3; i < (n); i++)
#define TAIL_FACTOR(i)                                                                             \
    dropout_factor(first + (uint)(i), threshold, scale, seed_lo, seed_hi, step, layer)

/* act(v) * f, and 0 for a dropped unit even where act gives NaN or Inf. */
ALWAYS_INLINE float act_dropped(float v, float f) {
    return f == 0.0f ? 0.0f : act_apply(v) * f;
}

ALWAYS_INLINE float grad_dropped(float z, float dy, float f) {
    return f == 0.0f ? 0.0f : dy * act_grad(z) * f;
}

/* y = act(x) * mask / (1 - p); x == y allowed. With DROPOUT_MASK the mask
 * is also written to mask. */
#define FORWARD(i, f)                                                                              \
    do {                                                                                           \
        const float f_ = (f);                                                                      \
        y[i] = act_dropped(x[i], f_);                                                              \
        RECORD(i, f_);                                                                             \
    } while (0)

kernel void act_forward(int n, global const float *x, global float *y, uint threshold, float scale,
                        uint seed_lo, uint seed_hi, uint step, uint layer, uint first MASK_PARAM) {
#if DROPOUT && DROPOUT_LANES == 64
    FOR_EACH_RUN(n)
    for (int v = 0; v < 4; v++) {
        const float16 xv = vload16(0, x + i0 + 16 * v);
        vstore16(DROPPED16(ACT16(xv) * f[v], f[v]), 0, y + i0 + 16 * v);
        RECORD16(i0 + 16 * v, f[v]);
    }
    PARTIAL_RUN(i, FORWARD(i, TAIL_FACTOR(i)));
#elif DROPOUT && DROPOUT_LANES == 4
    DROPOUT_BLOCK(n, seed_lo, seed_hi, step, layer);
    FORWARD(i0, f0);
    FORWARD(i0 + 1, f1);
    FORWARD(i0 + 2, f2);
    FORWARD(i0 + 3, f3);
#elif DROPOUT
    GLOBAL_ID_OR_RETURN(i, n);
    FORWARD(i, TAIL_FACTOR(i));
#else
    GLOBAL_ID_OR_RETURN(i, n);
    y[i] = act_apply(x[i]);
#endif
}

kernel void act_forward_tail(int n, global const float *x, global float *y, uint threshold,
                             float scale, uint seed_lo, uint seed_hi, uint step, uint layer,
                             uint first MASK_PARAM) {
    TAIL_ELEMENTS(n, i) FORWARD(i, TAIL_FACTOR(i));
}

/* dx = dy * act'(z) * mask / (1 - p); dy == dx allowed. */
kernel void act_backward(int n, global const float *z, global const float *dy, global float *dx,
                         uint threshold, float scale, uint seed_lo, uint seed_hi, uint step,
                         uint layer, uint first MASK_PARAM) {
#if DROPOUT && DROPOUT_MASK
    GLOBAL_ID_OR_RETURN(i, n);
    dx[i] = grad_dropped(z[i], dy[i], KEPT_FACTOR(i));
#elif DROPOUT && DROPOUT_LANES == 64
    FOR_EACH_RUN(n)
    for (int v = 0; v < 4; v++) {
        const int at = i0 + 16 * v;
        const float16 g = vload16(0, dy + at) * ACT_GRAD16(vload16(0, z + at)) * f[v];
        vstore16(DROPPED16(g, f[v]), 0, dx + at);
    }
    PARTIAL_RUN(i, dx[i] = grad_dropped(z[i], dy[i], TAIL_FACTOR(i)));
#elif DROPOUT && DROPOUT_LANES == 4
    DROPOUT_BLOCK(n, seed_lo, seed_hi, step, layer);
    dx[i0] = grad_dropped(z[i0], dy[i0], f0);
    dx[i0 + 1] = grad_dropped(z[i0 + 1], dy[i0 + 1], f1);
    dx[i0 + 2] = grad_dropped(z[i0 + 2], dy[i0 + 2], f2);
    dx[i0 + 3] = grad_dropped(z[i0 + 3], dy[i0 + 3], f3);
#elif DROPOUT
    GLOBAL_ID_OR_RETURN(i, n);
    dx[i] = grad_dropped(z[i], dy[i], TAIL_FACTOR(i));
#else
    GLOBAL_ID_OR_RETURN(i, n);
    dx[i] = dy[i] * act_grad(z[i]);
#endif
}

kernel void act_backward_tail(int n, global const float *z, global const float *dy,
                              global float *dx, uint threshold, float scale, uint seed_lo,
                              uint seed_hi, uint step, uint layer, uint first MASK_PARAM) {
    TAIL_ELEMENTS(n, i) dx[i] = grad_dropped(z[i], dy[i], TAIL_FACTOR(i));
}

/* PEPITA's modulated pass: y' = act(z') * mask / (1 - p), diff = y - y'. */
#define FORWARD_DIFF(i, f)                                                                         \
    do {                                                                                           \
        const float ym_ = act_dropped(z_mod[i], f), y_ = y[i];                                     \
        y_mod[i] = ym_;                                                                            \
        diff[i] = y_ - ym_;                                                                        \
    } while (0)

kernel void act_forward_diff(int n, global const float *z_mod, global const float *y,
                             global float *y_mod, global float *diff, uint threshold, float scale,
                             uint seed_lo, uint seed_hi, uint step, uint layer,
                             uint first MASK_PARAM) {
#if DROPOUT && DROPOUT_MASK
    GLOBAL_ID_OR_RETURN(i, n);
    FORWARD_DIFF(i, KEPT_FACTOR(i));
#elif DROPOUT && DROPOUT_LANES == 64
    FOR_EACH_RUN(n)
    for (int v = 0; v < 4; v++) {
        const int at = i0 + 16 * v;
        const float16 ym = DROPPED16(ACT16(vload16(0, z_mod + at)) * f[v], f[v]);
        vstore16(ym, 0, y_mod + at);
        vstore16(vload16(0, y + at) - ym, 0, diff + at);
    }
    PARTIAL_RUN(i, FORWARD_DIFF(i, TAIL_FACTOR(i)));
#elif DROPOUT && DROPOUT_LANES == 4
    DROPOUT_BLOCK(n, seed_lo, seed_hi, step, layer);
    FORWARD_DIFF(i0, f0);
    FORWARD_DIFF(i0 + 1, f1);
    FORWARD_DIFF(i0 + 2, f2);
    FORWARD_DIFF(i0 + 3, f3);
#elif DROPOUT
    GLOBAL_ID_OR_RETURN(i, n);
    FORWARD_DIFF(i, TAIL_FACTOR(i));
#else
    GLOBAL_ID_OR_RETURN(i, n);
    FORWARD_DIFF(i, 1.0f);
#endif
}

kernel void act_forward_diff_tail(int n, global const float *z_mod, global const float *y,
                                  global float *y_mod, global float *diff, uint threshold,
                                  float scale, uint seed_lo, uint seed_hi, uint step, uint layer,
                                  uint first MASK_PARAM) {
    TAIL_ELEMENTS(n, i) FORWARD_DIFF(i, TAIL_FACTOR(i));
}

/* act_forward_diff with z' = z + m basis formed in registers: one pass over
 * z instead of a copy, a rank-RANK GEMM into z' and a read of z'. Each
 * work-item takes LR_VW consecutive columns of one row in explicit vectors
 * (along a row m is uniform and basis contiguous; PoCL did not vectorise the
 * one-element form, which ran 3x slower than the unfused passes); the last
 * columns of a row that do not fill a vector go one by one.
 * Global (ceil(cols / LR_VW), rows). */
#define LR_VW 8
kernel void act_forward_diff_lowrank(int n, int cols, global const float *z, global const float *m,
                                     global const float *basis, global const float *y,
                                     global float *y_mod, global float *diff, uint threshold,
                                     float scale, uint seed_lo, uint seed_hi, uint step, uint layer,
                                     uint first) {
    const int col0 = (int)get_global_id(0) * LR_VW, row = (int)get_global_id(1);
    if (col0 >= cols || row * cols >= n) return;
    global const float *mr = m + row * RANK;
    const int i0 = row * cols + col0;
    const int lanes = min(LR_VW, cols - col0);
    float zm[LR_VW];
    if (lanes == LR_VW) {
        float8 update = (float8)(0.0f);
#if RANK <= 16
#pragma unroll
#endif
        for (int k = 0; k < RANK; k++)
            update = fma((float8)(mr[k]), vload8(0, basis + k * cols + col0), update);
        const float8 zv = vload8(0, z + i0) + update;
#if ACT == 1 && !DROPOUT /* ReLU without dropout (the conv model): all in vectors */
        const float8 ym = fmax(zv, (float8)(0.0f));
        vstore8(ym, 0, y_mod + i0);
        vstore8(vload8(0, y + i0) - ym, 0, diff + i0);
        return;
#else
        vstore8(zv, 0, zm);
#endif
    } else {
        for (int l = 0; l < lanes; l++) {
            float update = 0.0f;
            for (int k = 0; k < RANK; k++)
                update = fma(mr[k], basis[k * cols + col0 + l], update);
            zm[l] = z[i0 + l] + update;
        }
    }
    for (int l = 0; l < lanes; l++) {
        const int i = i0 + l;
        const float f =
            dropout_factor(first + (uint)i, threshold, scale, seed_lo, seed_hi, step, layer);
        const float ym = f == 0.0f ? 0.0f : act_apply(zm[l]) * f;
        const float yi = y[i];
        y_mod[i] = ym;
        diff[i] = yi - ym;
    }
}
