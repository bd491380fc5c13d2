/* The device's FMA peak (pepita-bench): each work-item runs CHAINS independent
 * fused multiply-add chains of VEC-wide vectors, enough to hide the FMA latency
 * on a CPU's vector units or a GPU's lanes. Nothing else touches memory. */

#ifndef VEC
#define VEC 1
#endif
#define CHAINS 16

#if VEC == 1
typedef float vec_t;
#define SUM(x) (x)
#elif VEC == 4
typedef float4 vec_t;
#define SUM(x) ((x).s0 + (x).s1 + (x).s2 + (x).s3)
#elif VEC == 8
typedef float8 vec_t;
#define SUM(x) (SUM4((x).lo) + SUM4((x).hi))
#elif VEC == 16
typedef float16 vec_t;
#define SUM(x) (SUM4((x).lo.lo) + SUM4((x).lo.hi) + SUM4((x).hi.lo) + SUM4((x).hi.hi))
#endif
#define SUM4(x) ((x).s0 + (x).s1 + (x).s2 + (x).s3)

/* out[i]: the chains' sum, so the compiler cannot drop the work. a is just
 * under 1 and b small: the values stay finite for any iteration count. */
kernel void fma_peak(int iterations, float a, float b, global float *out) {
    const size_t i = get_global_id(0);
    vec_t acc[CHAINS];
    for (int c = 0; c < CHAINS; c++)
        acc[c] = (vec_t)((float)(i + (size_t)c) * 1e-3f);
    for (int it = 0; it < iterations; it++) {
#pragma unroll
        for (int c = 0; c < CHAINS; c++)
            acc[c] = fma(acc[c], (vec_t)a, (vec_t)b);
    }
    vec_t total = acc[0];
    for (int c = 1; c < CHAINS; c++)
        total += acc[c];
    out[i] = SUM(total);
}
