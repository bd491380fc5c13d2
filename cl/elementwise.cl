/* Element-wise vector operations and device-side uniform noise. */

/* Unfused arithmetic, so op_uniform equals the host's philox_uniform bit for bit. */
#pragma OPENCL FP_CONTRACT OFF

kernel void sub(int n, global const float *a, global const float *b, global float *out) {
    GLOBAL_ID_OR_RETURN(i, n);
    out[i] = a[i] - b[i];
}

/* y = alpha x + beta y; beta == 0 does not read y (it may hold NaN). */
kernel void axpby(int n, float alpha, global const float *x, float beta, global float *y) {
    GLOBAL_ID_OR_RETURN(i, n);
    const float ax = alpha * x[i];
    y[i] = beta == 0.0f ? ax : ax + beta * y[i];
}

kernel void fill(int n, float value, global float *x) {
    GLOBAL_ID_OR_RETURN(i, n);
    x[i] = value;
}

/* x[i] = lo + (hi - lo) U[0,1) from Philox at (i, stream, 0, UNIFORM). */
kernel void uniform_noise(int n, float lo, float hi, uint seed_lo, uint seed_hi, uint stream,
                          global float *x) {
    GLOBAL_ID_OR_RETURN(i, n);
    const float u = philox_uniform01(seed_lo, seed_hi, PHILOX_DOMAIN_UNIFORM, stream, 0u, (uint)i);
    const float width = hi - lo;
    const float scaled = width * u;
    x[i] = lo + scaled;
}

/* x /= sqrt(s[s_off]), the scale read on the device so the host never waits
 * for the norm; s == 0 (x all zero, e.g. every unit of a layer dead) leaves x
 * as it is instead of 0/0. */
kernel void scale_rsqrt(int n, global const float *s, int s_off, global float *x) {
    GLOBAL_ID_OR_RETURN(i, n);
    const float sq = s[s_off];
    x[i] = sq > 0.0f ? x[i] / sqrt(sq) : x[i];
}
