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
