/* Activations, their derivatives, and dropout regenerated from Philox.
 * act matches op_act: 0 identity, 1 ReLU, 2 tanh, 3 sigmoid. */

float act_apply(int act, float z) {
    switch (act) {
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
float act_grad(int act, float z) {
    switch (act) {
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

/* mask(i) / (1 - p): 0 for a dropped unit, scale for a kept one. threshold 0
 * (p == 0) means no dropout. The key (seed, step, layer) and i alone decide,
 * so every pass regenerates the same mask. */
float dropout_factor(uint i, uint threshold, float scale, uint seed_lo, uint seed_hi, uint step,
                     uint layer) {
    if (threshold == 0u) return 1.0f;
    const uint r = philox_u32(seed_lo, seed_hi, PHILOX_DOMAIN_DROPOUT, step, layer, i) >> 8;
    return r >= threshold ? scale : 0.0f;
}

/* y = act(x) * mask / (1 - p); x == y allowed. */
kernel void act_forward(int n, global const float *x, global float *y, int act, uint threshold,
                        float scale, uint seed_lo, uint seed_hi, uint step, uint layer) {
    GLOBAL_ID_OR_RETURN(i, n);
    const float f = dropout_factor((uint)i, threshold, scale, seed_lo, seed_hi, step, layer);
    y[i] = f == 0.0f ? 0.0f : act_apply(act, x[i]) * f;
}

/* dx = dy * act'(z) * mask / (1 - p); dy == dx allowed. */
kernel void act_backward(int n, global const float *z, global const float *dy, global float *dx,
                         int act, uint threshold, float scale, uint seed_lo, uint seed_hi,
                         uint step, uint layer) {
    GLOBAL_ID_OR_RETURN(i, n);
    const float f = dropout_factor((uint)i, threshold, scale, seed_lo, seed_hi, step, layer);
    dx[i] = f == 0.0f ? 0.0f : dy[i] * act_grad(act, z[i]) * f;
}

/* PEPITA's modulated pass: y' = act(z') * mask / (1 - p), diff = y - y'. */
kernel void act_forward_diff(int n, global const float *z_mod, global const float *y,
                             global float *y_mod, global float *diff, int act, uint threshold,
                             float scale, uint seed_lo, uint seed_hi, uint step, uint layer) {
    GLOBAL_ID_OR_RETURN(i, n);
    const float f = dropout_factor((uint)i, threshold, scale, seed_lo, seed_hi, step, layer);
    const float ym = f == 0.0f ? 0.0f : act_apply(act, z_mod[i]) * f;
    const float yi = y[i];
    y_mod[i] = ym;
    diff[i] = yi - ym;
}
