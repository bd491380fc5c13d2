/* Weight mirroring (PEPITA's learned F): Gaussian noise from Philox by
 * Box-Muller, the noise's mean removed, and the rescale of the feedback
 * factors to a target standard deviation, with every scalar kept on the
 * device.
 *
 * The noise is bit-identical to the host's philox_normal (host/ops/philox.c):
 * OpenCL's log, cos, sqrt and division may differ from the host's by a few
 * ulp, so the Box-Muller transform uses only +, - and * (correctly rounded
 * everywhere), unfused, in the same order as the host. */
#pragma OPENCL FP_CONTRACT OFF

#define PHILOX_DOMAIN_NORMAL 4u /* host/ops/philox.h */

/* ln(u) for u = v 2^-24, v in [1, 2^24]: u = m 2^(e-24) with m in
 * [sqrt(1/2), sqrt(2)), ln(m) = 2 atanh(s), s = (m-1)/(m+1), the division
 * by Newton steps from 1/2 (error below 1e-10). */
ALWAYS_INLINE float normal_log_u(uint v) {
    int e = 31 - (int)clz(v);
    const uint mant = e <= 23 ? v << (23 - e) : v >> (e - 23);
    float m = as_float((mant & 0x7FFFFFu) | 0x3F800000u);
    if (m > 1.41421354f) {
        m = m * 0.5f;
        e = e + 1;
    }
    const float f = m - 1.0f;
    const float d = 2.0f + f;
    float r = 0.5f, dr;
    dr = d * r;
    r = r * (2.0f - dr);
    dr = d * r;
    r = r * (2.0f - dr);
    dr = d * r;
    r = r * (2.0f - dr);
    dr = d * r;
    r = r * (2.0f - dr);
    const float s = f * r;
    const float s2 = s * s;
    float p = 0.181818187f, q;
    q = s2 * p;
    p = 0.222222224f + q;
    q = s2 * p;
    p = 0.285714298f + q;
    q = s2 * p;
    p = 0.400000006f + q;
    q = s2 * p;
    p = 0.666666687f + q;
    q = s2 * p;
    p = 2.0f + q;
    const float ln_m = s * p;
    const float ln_2e = (float)(e - 24) * 0.693147182f;
    return ln_2e + ln_m;
}

/* sqrt(x), x >= 0, by three Newton steps on 1/sqrt(x). */
ALWAYS_INLINE float normal_sqrt(float x) {
    if (!(x > 0.0f)) return 0.0f;
    const float h = 0.5f * x;
    float y = as_float(0x5F3759DFu - (as_uint(x) >> 1)), t;
    t = h * y;
    t = t * y;
    y = y * (1.5f - t);
    t = h * y;
    t = t * y;
    y = y * (1.5f - t);
    t = h * y;
    t = t * y;
    y = y * (1.5f - t);
    return x * y;
}

/* cos(2 pi k 2^-24), k < 2^24: the octant from k's top bits (exact), then
 * Taylor polynomials of sin and cos on [0, pi/4]. */
ALWAYS_INLINE float normal_cos_turn(uint k) {
    const uint octant = k >> 21, rest = k & 0x1FFFFFu;
    const uint t = (octant & 1u) ? 0x200000u - rest : rest;
    const float y = ((float)t * 5.96046448e-8f) * 6.28318548f;
    const float y2 = y * y;
    float p = 2.75573188e-06f, q;
    q = y2 * p;
    p = -0.000198412701f + q;
    q = y2 * p;
    p = 0.00833333377f + q;
    q = y2 * p;
    p = -0.166666672f + q;
    q = y2 * p;
    p = 1.0f + q;
    const float sin_y = y * p;
    float c = -2.755732e-07f;
    q = y2 * c;
    c = 2.48015876e-05f + q;
    q = y2 * c;
    c = -0.00138888892f + q;
    q = y2 * c;
    c = 0.0416666679f + q;
    q = y2 * c;
    c = -0.5f + q;
    q = y2 * c;
    const float cos_y = 1.0f + q;
    /* The angle is a multiple of pi/2 plus or minus y: octants 1, 2, 5, 6
     * give +-sin y, octants 2 to 5 are negative. Two bit tests, not a
     * chain of == on the quadrant: clang turns that into a `switch i2`,
     * which Oclgrind 21.10 takes wrongly (tests/oclgrind/README.md). */
    const float magnitude = ((octant + 1u) & 2u) ? sin_y : cos_y;
    return octant - 2u < 4u ? -magnitude : magnitude;
}

/* x[i] = std N(0, 1) from the Philox block at counter (i, a, b, NORMAL):
 * word 0 gives u1 in (0, 1], word 1 the angle. */
kernel void normal_noise(int n, float std, uint seed_lo, uint seed_hi, uint a, uint b,
                         global float *x) {
    GLOBAL_ID_OR_RETURN(i, n);
    const uint4 w = philox4x32_10((uint4)((uint)i, a, b, PHILOX_DOMAIN_NORMAL),
                                  (uint2)(seed_lo, seed_hi));
    const float radius = normal_sqrt(-2.0f * normal_log_u((w.x >> 8) + 1u));
    const float z = radius * normal_cos_turn(w.y >> 8);
    x[i] = std * z;
}

/* x[i] -= sums[at] / n (the mean that op_sum left on the device). */
kernel void subtract_mean(int n, global float *x, global const float *sums, int at) {
    GLOBAL_ID_OR_RETURN(i, n);
    x[i] = x[i] - sums[at] / (float)n;
}

/* stats[at + 2] = (target / std)^power from stats[at] = sum(x) and
 * stats[at + 1] = sum(x^2) over n values (std with n - 1, as torch.std);
 * 1 where the std is 0 or not finite. One work-item. */
kernel void std_scale_factor(int n, float target, float power, global float *stats, int at) {
    if (get_global_id(0) != 0) return;
    const float mean = stats[at] / (float)n;
    const float var = (stats[at + 1] - (float)n * mean * mean) / (float)(n > 1 ? n - 1 : 1);
    const float std = sqrt(var);
    stats[at + 2] = std > 0.0f && isfinite(std) ? pow(target / std, power) : 1.0f;
}

/* x[i] *= scalars[at]. */
kernel void scale_by(int n, global float *x, global const float *scalars, int at) {
    GLOBAL_ID_OR_RETURN(i, n);
    x[i] = x[i] * scalars[at];
}
