/* Row-major GEMM for CPUs through PoCL: C = alpha op(A) op(B) + beta C.
 *
 * PoCL's CPU compiler does best with one work-item per work-group (local size
 * 1x1) whose tile of C lives in wide vector registers, so each kernel here
 * computes a whole TM x TN tile per work-item, in float16 vectors (one AVX-512
 * register each). Three register layouts:
 *
 * gemm_axpy  op(B) rows are contiguous (B not transposed): acc[r] += op(A)[i+r,k]
 *            * op(B)[k, j..j+TN). With SWAP_C the kernel computes C^T instead
 *            and stores transposed, which turns A^T B^T into the contiguous
 *            product B A (the host swaps the operands). With TRANS_B it gathers
 *            the rows of a transposed B, for short k.
 * gemm_dot   B transposed (rows of B run along k, as in x W^T): each output is a
 *            dot product, vectorised along k with 16 lanes and summed at the end.
 * gemm_strip B transposed with k <= 16 (as in e F^T): a column strip's whole
 *            op(B) panel stays in registers while the work-item runs down the
 *            rows of C.
 *
 * Edge tiles clamp their row indices (so loads stay in bounds) and guard the
 * stores. Where a vector load of op(B) would run past the end of the buffer
 * (only the last rows of an edge tile), gemm_axpy gathers clamped scalars.
 *
 * With SGD_STEP, gemm_axpy takes the optimiser's step in its store instead of
 * storing the product: C is a weight matrix W, V its momentum (same layout),
 * and with g = alpha op(A) op(B) (beta is not used) each element does what
 * optimizer.cl's sgd_momentum does with a stored g, bit for bit: v = mu v +
 * lr (g + wd w), w -= v. A weight gradient then never goes to memory and back.
 *
 * Defines: TRANS_A (0/1), TM rows per work-item; GEMM_DOT selects gemm_dot,
 * GEMM_STRIP gemm_strip (else gemm_axpy is built); gemm_axpy and gemm_strip:
 * NV vectors of 16 per row (TN = 16 NV); gemm_axpy: SWAP_C (0/1), TRANS_B
 * (0/1); gemm_dot: TN columns; gemm_strip: KK = k. Global size: (ceil(M / TM),
 * ceil(N / TN)) with M, N of the computed product (swapped for gemm_axpy's
 * j_first); gemm_strip (ceil(N / TN), ceil(M / rows)). */

#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TM
#define TM 8
#endif
#ifndef NV
#define NV 2
#endif
#ifndef SWAP_C
#define SWAP_C 0
#endif
#ifndef SGD_STEP
#define SGD_STEP 0
#endif
#if SGD_STEP && SWAP_C
#error "SGD_STEP stores C untransposed"
#endif
#if !defined(GEMM_DOT)
#undef TN
#define TN (16 * NV)
#elif !defined(TN)
#define TN 4
#endif

/* op(B)[k, j]: gemm_axpy gathers a transposed B (worth it only for short k,
 * where gemm_dot would spend its time in the scalar remainder). */
#ifndef TRANS_B
#define TRANS_B 0
#endif
#if TRANS_B
#define B_AT(k, j) B[(j)*ldb + (k)]
#else
#define B_AT(k, j) B[(k)*ldb + (j)]
#endif

/* op(A)[i, k] */
#if TRANS_A
#define A_AT(i, k) A[(k)*lda + (i)]
#else
#define A_AT(i, k) A[(i)*lda + (k)]
#endif

static inline float gemm_scale(float alpha, float acc, float beta, __global const float *c) {
    /* beta == 0 must not read C: it may hold NaN garbage. */
    return beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
}

#if !defined(GEMM_DOT) && !defined(GEMM_STRIP)
__kernel void gemm_axpy(int M, int N, int K, float alpha, __global const float *restrict A,
                        int a_off, int lda, __global const float *restrict B, int b_off, int ldb,
                        int b_len, float beta, __global float *restrict C, int c_off, int ldc,
                        int j_first
#if SGD_STEP
                        ,
                        __global float *restrict V, float lr, float mu, float wd
#endif
) {
    /* j_first: the launch runs along rows of C first (global size swapped),
     * which streams the stores when k is short and C large. */
    const int g0 = (int)get_global_id(0), g1 = (int)get_global_id(1);
    const int i0 = (j_first ? g1 : g0) * TM;
    const int j0 = (j_first ? g0 : g1) * TN;
    if (i0 >= M || j0 >= N) return;
    A += a_off;
    B += b_off;
    C += c_off;
#if SGD_STEP
    V += c_off;
#endif

    int row[TM];
#pragma unroll
    for (int r = 0; r < TM; r++)
        row[r] = min(i0 + r, M - 1);

    float16 acc[TM][NV];
#pragma unroll
    for (int r = 0; r < TM; r++)
#pragma unroll
        for (int v = 0; v < NV; v++)
            acc[r][v] = (float16)(0.0f);

#if TRANS_B
    const int k_fast = 0; /* op(B) rows are strided: gather them */
#else
    /* Rows k < k_fast can be read as whole vectors without leaving the buffer. */
    const int room = b_len - b_off - j0 - TN;
    const int k_fast = room < 0 ? 0 : min(K, room / ldb + 1);
#endif

    __global const float *bp = B + j0;
    int k = 0;
    for (; k < k_fast; k++, bp += ldb) {
        float16 b[NV];
#pragma unroll
        for (int v = 0; v < NV; v++)
            b[v] = vload16(v, bp);
#pragma unroll
        for (int r = 0; r < TM; r++) {
            const float16 a = (float16)(A_AT(row[r], k));
#pragma unroll
            for (int v = 0; v < NV; v++)
                acc[r][v] = fma(a, b[v], acc[r][v]);
        }
    }
    for (; k < K; k++, bp += ldb) {
        float t[TN];
#pragma unroll
        for (int l = 0; l < TN; l++)
            t[l] = B_AT(k, min(j0 + l, N - 1));
        float16 b[NV];
#pragma unroll
        for (int v = 0; v < NV; v++)
            b[v] = vload16(v, t);
#pragma unroll
        for (int r = 0; r < TM; r++) {
            const float16 a = (float16)(A_AT(row[r], k));
#pragma unroll
            for (int v = 0; v < NV; v++)
                acc[r][v] = fma(a, b[v], acc[r][v]);
        }
    }

#if !SWAP_C
    if (i0 + TM <= M && j0 + TN <= N) {
#pragma unroll
        for (int r = 0; r < TM; r++) {
            __global float *cp = C + (i0 + r) * ldc + j0;
#if SGD_STEP
            __global float *vp = V + (i0 + r) * ldc + j0;
#pragma unroll
            for (int v = 0; v < NV; v++) {
                const float16 g = alpha * acc[r][v], w = vload16(v, cp);
                const float16 vel = SGD_VELOCITY(w, vload16(v, vp), g, lr, mu, wd);
                vstore16(vel, v, vp);
                vstore16(w - vel, v, cp);
            }
#else
#pragma unroll
            for (int v = 0; v < NV; v++) {
                float16 out = alpha * acc[r][v];
                if (beta != 0.0f) out += beta * vload16(v, cp);
                vstore16(out, v, cp);
            }
#endif
        }
        return;
    }
#endif
    /* Edge tiles, and every tile of a transposed store, element by element. */
    float t[TM][TN];
#pragma unroll
    for (int r = 0; r < TM; r++)
#pragma unroll
        for (int v = 0; v < NV; v++)
            vstore16(acc[r][v], v, t[r]);
#if SWAP_C
    /* Runs of TM consecutive floats in each row of C. */
    for (int l = 0; l < TN && j0 + l < N; l++) {
        __global float *cp = C + (j0 + l) * ldc + i0;
        for (int r = 0; r < TM && i0 + r < M; r++)
            cp[r] = gemm_scale(alpha, t[r][l], beta, cp + r);
    }
#elif SGD_STEP
    for (int r = 0; r < TM && i0 + r < M; r++) {
        __global float *cp = C + (i0 + r) * ldc + j0, *vp = V + (i0 + r) * ldc + j0;
        for (int l = 0; l < TN && j0 + l < N; l++) {
            const float g = alpha * t[r][l], w = cp[l];
            const float vel = SGD_VELOCITY(w, vp[l], g, lr, mu, wd);
            vp[l] = vel;
            cp[l] = w - vel;
        }
    }
#else
    for (int r = 0; r < TM && i0 + r < M; r++) {
        __global float *cp = C + (i0 + r) * ldc + j0;
        for (int l = 0; l < TN && j0 + l < N; l++)
            cp[l] = gemm_scale(alpha, t[r][l], beta, cp + l);
    }
#endif
}

#elif defined(GEMM_STRIP)
/* B transposed and k = KK <= 16, known when the kernel is built (A x F^T with
 * a 10-wide F): each work-item gathers the KK x TN panel of op(B) for its
 * columns once, keeps it in registers, and runs down ROWS rows of C with it,
 * TM rows at a time. gemm_axpy would gather that panel again for every tile of
 * TM rows, and gemm_dot would spend its time in horizontal sums. */
#if TRANS_A
#error "gemm_strip needs TRANS_A=0"
#endif
__kernel void gemm_strip(int M, int N, float alpha, __global const float *restrict A, int a_off,
                         int lda, __global const float *restrict B, int b_off, int ldb, float beta,
                         __global float *restrict C, int c_off, int ldc, int rows) {
    const int j0 = (int)get_global_id(0) * TN;
    const int i_begin = (int)get_global_id(1) * rows;
    if (i_begin >= M || j0 >= N) return;
    const int i_end = min(M, i_begin + rows);
    A += a_off;
    B += b_off;
    C += c_off;

    float16 bt[KK][NV];
    {
        float t[KK][TN];
#pragma unroll
        for (int l = 0; l < TN; l++) {
            __global const float *bp = B + min(j0 + l, N - 1) * ldb;
#pragma unroll
            for (int k = 0; k < KK; k++)
                t[k][l] = bp[k];
        }
#pragma unroll
        for (int k = 0; k < KK; k++)
#pragma unroll
            for (int v = 0; v < NV; v++)
                bt[k][v] = vload16(v, t[k]);
    }
    const int full_cols = j0 + TN <= N;

    for (int i0 = i_begin; i0 < i_end; i0 += TM) {
        float16 acc[TM][NV];
#pragma unroll
        for (int r = 0; r < TM; r++) {
            __global const float *ap = A + min(i0 + r, M - 1) * lda;
#pragma unroll
            for (int v = 0; v < NV; v++)
                acc[r][v] = (float16)(ap[0]) * bt[0][v];
#pragma unroll
            for (int k = 1; k < KK; k++) {
                const float16 a = (float16)(ap[k]);
#pragma unroll
                for (int v = 0; v < NV; v++)
                    acc[r][v] = fma(a, bt[k][v], acc[r][v]);
            }
        }
        if (full_cols && i0 + TM <= i_end) {
#pragma unroll
            for (int r = 0; r < TM; r++) {
                __global float *cp = C + (i0 + r) * ldc + j0;
#pragma unroll
                for (int v = 0; v < NV; v++) {
                    float16 out = alpha * acc[r][v];
                    if (beta != 0.0f) out += beta * vload16(v, cp);
                    vstore16(out, v, cp);
                }
            }
            continue;
        }
        float t[TM][TN];
#pragma unroll
        for (int r = 0; r < TM; r++)
#pragma unroll
            for (int v = 0; v < NV; v++)
                vstore16(acc[r][v], v, t[r]);
        for (int r = 0; r < TM && i0 + r < i_end; r++) {
            __global float *cp = C + (i0 + r) * ldc + j0;
            for (int l = 0; l < TN && j0 + l < N; l++)
                cp[l] = gemm_scale(alpha, t[r][l], beta, cp + l);
        }
    }
}

#else
/* B transposed: op(B)[k, j] = B[j * ldb + k]; A is not (the host computes
 * A^T B^T as a swapped gemm_axpy). */
#if TRANS_A
#error "gemm_dot needs TRANS_A=0"
#endif
__kernel void gemm_dot(int M, int N, int K, float alpha, __global const float *restrict A,
                       int a_off, int lda, __global const float *restrict B, int b_off, int ldb,
                       float beta, __global float *restrict C, int c_off, int ldc) {
    const int i0 = (int)get_global_id(0) * TM;
    const int j0 = (int)get_global_id(1) * TN;
    if (i0 >= M || j0 >= N) return;
    A += a_off;
    B += b_off;
    C += c_off;

    int row[TM], col[TN];
#pragma unroll
    for (int r = 0; r < TM; r++)
        row[r] = min(i0 + r, M - 1);
#pragma unroll
    for (int c = 0; c < TN; c++)
        col[c] = min(j0 + c, N - 1);

    float16 acc[TM][TN];
#pragma unroll
    for (int r = 0; r < TM; r++)
#pragma unroll
        for (int c = 0; c < TN; c++)
            acc[r][c] = (float16)(0.0f);

    int k = 0;
    for (; k + 16 <= K; k += 16) {
        float16 a[TM];
#pragma unroll
        for (int r = 0; r < TM; r++)
            a[r] = vload16(0, A + row[r] * lda + k);
#pragma unroll
        for (int c = 0; c < TN; c++) {
            const float16 b = vload16(0, B + col[c] * ldb + k);
#pragma unroll
            for (int r = 0; r < TM; r++)
                acc[r][c] = fma(a[r], b, acc[r][c]);
        }
    }

    /* The last partial step reloads the final 16 k of each row and zeroes the
     * lanes the loop already summed; only k < 16 in all goes scalar. */
    if (k < K && K >= 16) {
        const int k0 = K - 16;
        const int16 fresh =
            (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) >= (int16)(k - k0);
        float16 a[TM];
#pragma unroll
        for (int r = 0; r < TM; r++)
            a[r] = select((float16)(0.0f), vload16(0, A + row[r] * lda + k0), fresh);
#pragma unroll
        for (int c = 0; c < TN; c++) {
            /* both zeroed, so an Inf already summed cannot turn into NaN */
            const float16 b = select((float16)(0.0f), vload16(0, B + col[c] * ldb + k0), fresh);
#pragma unroll
            for (int r = 0; r < TM; r++)
                acc[r][c] = fma(a[r], b, acc[r][c]);
        }
        k = K;
    }

    float sum[TM][TN];
#pragma unroll
    for (int r = 0; r < TM; r++)
#pragma unroll
        for (int c = 0; c < TN; c++)
            sum[r][c] = lane_sum16(acc[r][c]);
    for (; k < K; k++) {
#pragma unroll
        for (int r = 0; r < TM; r++) {
            const float a = A_AT(row[r], k);
#pragma unroll
            for (int c = 0; c < TN; c++)
                sum[r][c] = fma(a, B[col[c] * ldb + k], sum[r][c]);
        }
    }

#pragma unroll
    for (int r = 0; r < TM; r++) {
        if (i0 + r >= M) break;
#pragma unroll
        for (int c = 0; c < TN; c++) {
            if (j0 + c < N) {
                __global float *cp = C + (i0 + r) * ldc + j0 + c;
                *cp = gemm_scale(alpha, sum[r][c], beta, cp);
            }
        }
    }
}
#endif
