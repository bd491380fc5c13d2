/* SGD with momentum and L2 weight decay, in place: v = mu v + lr (g + wd w),
 * w -= v (SGD_VELOCITY, in common.cl: gemm.cl's step epilogue rounds alike). */

kernel void sgd_momentum(int n, float lr, float mu, float wd, global float *w, global float *v,
                         global const float *g) {
    GLOBAL_ID_OR_RETURN(i, n);
    const float wi = w[i];
    const float vi = SGD_VELOCITY(wi, v[i], g[i], lr, mu, wd);
    v[i] = vi;
    w[i] = wi - vi;
}

#ifdef PROJ_C
/* The same step on a rows x cols weight matrix, and then p = W F (rows x
 * PROJ_C) of the stepped weights, from F in fb's blocked layout: PEPITA's
 * W_1 F formed while this pass streams W_1, instead of a product that reads
 * W_1 again. update == 0: the product alone, summed in the same order, so
 * either way p is bit-identical. Each work-item sums VW-wide vectors of a
 * row's columns strided by the group, then the vector's lanes and the
 * work-items are added in a fixed tree. VW is 1, 2, 4, 8 or 16: a CPU runs
 * one wide work-item per block of rows, a GPU a group of scalar ones.
 * fb holds F as, for each VW columns of W, the PROJ_C vectors that multiply
 * them: one stream that the loop reads in order (F^T's rows would be PROJ_C
 * streams; with VW = 1 the layout is F itself). */
#define FB_AT(c, j) ((((size_t)(c) / VW) * PROJ_C + (size_t)(j)) * VW + (size_t)(c) % VW)

/* fb from F (cols x PROJ_C), zero in the last block's missing columns. */
kernel void project_layout(int cols, global const float *f, global float *fb) {
    const int blocks = (cols + VW - 1) / VW;
    GLOBAL_ID_OR_RETURN(i, blocks * VW * PROJ_C);
    const int lane = i % VW, j = i / VW % PROJ_C, c = i / (VW * PROJ_C) * VW + lane;
    fb[i] = c < cols ? f[(size_t)c * PROJ_C + (size_t)j] : 0.0f;
}

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#if VW == 1
typedef float vecw;
#define VLOAD(p) (*(p))
#define VSTORE(x, p) (*(p) = (x))
#else
typedef CAT(float, VW) vecw;
#define VLOAD(p) CAT(vload, VW)(0, p)
#define VSTORE(x, p) CAT(vstore, VW)(x, 0, p)
#endif

/* the lanes of a vecw added (common.cl's lane sums) */
#if VW == 1
#define VEC_SUM(a) (a)
#else
#define VEC_SUM(a) CAT(lane_sum, VW)(a)
#endif

/* One row's step at offset k of w, leaving the stepped weights in wk, of
 * type T (a vector, or a float with SLOAD and SSTORE). */
#define STEP_AT(T, wk, k, LOAD, STORE)                                                             \
    do {                                                                                           \
        wk = LOAD(w + (k));                                                                        \
        if (update) {                                                                              \
            const T vk_ = SGD_VELOCITY(wk, LOAD(v + (k)), LOAD(g + (k)), lr, mu, wd);              \
            STORE(vk_, v + (k));                                                                   \
            wk = wk - vk_;                                                                         \
            STORE(wk, w + (k));                                                                    \
        }                                                                                          \
    } while (0)
#define SLOAD(p) (*(p))
#define SSTORE(x, p) (*(p) = (x))

/* A block's second row (PROJ_ROWS 2): its code, or nothing. Two rows share
 * each load of F; their accumulators are separate arrays, which the
 * compiler keeps in registers (a [2][PROJ_C] array went to the stack). */
#if PROJ_ROWS == 2
#define ROW1(...) __VA_ARGS__
#elif PROJ_ROWS == 1
#define ROW1(...)
#endif

/* One work-group per block of PROJ_ROWS rows (the last block may be short).
 * Each row's sums run in the same order whatever the block, so the two
 * agree to the bit with a block of one row. */
kernel void sgd_momentum_project(int rows, int cols, int update, float lr, float mu, float wd,
                                 global float *w, global float *v, global const float *g,
                                 global const float *fb, global float *p, local float *part) {
    const int lid = (int)get_local_id(0), items = (int)get_local_size(0);
    const int stride = VW * items, whole = cols / stride * stride;
    const size_t row0 = get_group_id(0) * PROJ_ROWS, base0 = row0 * (size_t)cols;
    const int nr = rows - (int)row0 < PROJ_ROWS ? rows - (int)row0 : PROJ_ROWS;
    vecw a0[PROJ_C];
    ROW1(vecw a1[PROJ_C]; const size_t base1 = base0 + (size_t)cols;)
#pragma unroll
    for (int j = 0; j < PROJ_C; j++) {
        a0[j] = 0.0f;
        ROW1(a1[j] = 0.0f;)
    }
    for (int k0 = 0; k0 < whole; k0 += stride) {
        const int c = k0 + lid * VW;
        vecw w0;
        STEP_AT(vecw, w0, base0 + (size_t)c, VLOAD, VSTORE);
        ROW1(vecw w1 = 0.0f; if (nr == 2) STEP_AT(vecw, w1, base1 + (size_t)c, VLOAD, VSTORE);)
#pragma unroll
        for (int j = 0; j < PROJ_C; j++) {
            const vecw f = VLOAD(fb + FB_AT(c, j));
            a0[j] += w0 * f;
            ROW1(a1[j] += w1 * f;)
        }
    }
    float s0[PROJ_C];
    ROW1(float s1[PROJ_C];)
#pragma unroll
    for (int j = 0; j < PROJ_C; j++) {
        s0[j] = VEC_SUM(a0[j]);
        ROW1(s1[j] = VEC_SUM(a1[j]);)
    }
    /* the columns after the last whole stride, one at a time */
    for (int c = whole + lid; c < cols; c += items) {
        float w0;
        STEP_AT(float, w0, base0 + (size_t)c, SLOAD, SSTORE);
        ROW1(float w1 = 0.0f; if (nr == 2) STEP_AT(float, w1, base1 + (size_t)c, SLOAD, SSTORE);)
#pragma unroll
        for (int j = 0; j < PROJ_C; j++) {
            const float f = fb[FB_AT(c, j)];
            s0[j] += w0 * f;
            ROW1(s1[j] += w1 * f;)
        }
    }
    /* the work-items' shares: a fixed tree in local memory */
#pragma unroll
    for (int j = 0; j < PROJ_C; j++) {
        part[j * items + lid] = s0[j];
        ROW1(part[(PROJ_C + j) * items + lid] = s1[j];)
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int width = items / 2; width > 0; width /= 2) {
        if (lid < width)
            for (int i = 0; i < nr * PROJ_C; i++)
                part[i * items + lid] += part[i * items + lid + width];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int i = lid; i < nr * PROJ_C; i += items)
        p[row0 * PROJ_C + (size_t)i] = part[i * items];
}
#endif
