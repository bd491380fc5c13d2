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

/* mask(i) / (1 - p): 0 for a dropped unit, scale for a kept one; 1 when
 * built without DROPOUT. The key (seed, step, layer) and i alone decide, so
 * every pass regenerates the same mask. */
ALWAYS_INLINE float dropout_factor(uint i, uint threshold, float scale, uint seed_lo, uint seed_hi,
                                   uint step, uint layer) {
    if (!DROPOUT) return 1.0f;
    const uint r = philox_u32(seed_lo, seed_hi, PHILOX_DOMAIN_DROPOUT, step, layer, i) >> 8;
    return r >= threshold ? scale : 0.0f;
}

/* y = act(x) * mask / (1 - p); x == y allowed. */
kernel void act_forward(int n, global const float *x, global float *y, uint threshold, float scale,
                        uint seed_lo, uint seed_hi, uint step, uint layer) {
    GLOBAL_ID_OR_RETURN(i, n);
    const float f = dropout_factor((uint)i, threshold, scale, seed_lo, seed_hi, step, layer);
    y[i] = f == 0.0f ? 0.0f : act_apply(x[i]) * f;
}

/* dx = dy * act'(z) * mask / (1 - p); dy == dx allowed. */
kernel void act_backward(int n, global const float *z, global const float *dy, global float *dx,
                         uint threshold, float scale, uint seed_lo, uint seed_hi, uint step,
                         uint layer) {
    GLOBAL_ID_OR_RETURN(i, n);
    const float f = dropout_factor((uint)i, threshold, scale, seed_lo, seed_hi, step, layer);
    dx[i] = f == 0.0f ? 0.0f : dy[i] * act_grad(z[i]) * f;
}

/* PEPITA's modulated pass: y' = act(z') * mask / (1 - p), diff = y - y'. */
kernel void act_forward_diff(int n, global const float *z_mod, global const float *y,
                             global float *y_mod, global float *diff, uint threshold, float scale,
                             uint seed_lo, uint seed_hi, uint step, uint layer) {
    GLOBAL_ID_OR_RETURN(i, n);
    const float f = dropout_factor((uint)i, threshold, scale, seed_lo, seed_hi, step, layer);
    const float ym = f == 0.0f ? 0.0f : act_apply(z_mod[i]) * f;
    const float yi = y[i];
    y_mod[i] = ym;
    diff[i] = yi - ym;
}

/* act_forward_diff with z' = z + m basis formed in registers: one pass over
 * z instead of a copy, a rank-RANK GEMM into z' and a read of z'. Each
 * work-item takes LR_VW consecutive columns of one row in explicit vectors
 * (along a row m is uniform and basis contiguous; PoCL did not vectorise the
 * one-element form, which ran 3x slower than the unfused passes); the last
 * columns of a row that do not fill a vector go one by one.
 * Global (ceil(cols / LR_VW), rows). */
#define LR_VW 8
kernel void act_forward_diff_lowrank(int n, int cols, global const float *z,
                                     global const float *m, global const float *basis,
                                     global const float *y, global float *y_mod,
                                     global float *diff, uint threshold, float scale,
                                     uint seed_lo, uint seed_hi, uint step, uint layer) {
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
        const float f = dropout_factor((uint)i, threshold, scale, seed_lo, seed_hi, step, layer);
        const float ym = f == 0.0f ? 0.0f : act_apply(zm[l]) * f;
        const float yi = y[i];
        y_mod[i] = ym;
        diff[i] = yi - ym;
    }
}
