/* Direct convolution, NCHW, square kernel, no bias.
 *
 * Build defines (host/ops/conv.c sets them per layer shape; one program
 * serves the three operators of a layer):
 *   KS   kernel size, so tap loops unroll and accumulators stay in registers;
 *   FAST 1 when stride == 1, pad == 0 and out_w >= VW: the forward pass and
 *        the weight gradient then work on row tiles of VW columns held in
 *        explicit vector types (PoCL does not vectorise across work-items
 *        around these loops; on a GPU a vector is a few registers), every
 *        tap one unaligned vector load, no bounds tests. 0: plain
 *        per-element kernels for any stride and padding, kept compact because
 *        unrolled per-lane bounds handling took PoCL seconds to compile;
 *   VW   vector width, 4, 8 or 16 (FAST only);
 *   FB   filters per work-item (forward);
 *   CB   input channels per work-item (input gradient). */

#ifndef KS
#define KS 5
#endif
#ifndef FAST
#define FAST 0
#endif
#ifndef VW
#define VW 8
#endif
#ifndef FB
#define FB 8
#endif
#ifndef CB
#define CB 4
#endif
#define KK (KS * KS)

#define CONV_INLINE static inline __attribute__((always_inline))

/* part[t * lsize + lid] holds each work-item's KK sums; leaves the group's
 * totals in part[t * lsize] (lsize a power of two). */
CONV_INLINE void conv_tree_sum(__local float *part, int lid, int lsize) {
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int span = lsize / 2; span > 0; span >>= 1) {
        if (lid < span) {
#pragma unroll
            for (int t = 0; t < KK; t++)
                part[t * lsize + lid] += part[t * lsize + lid + span];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

#if FAST

#if VW == 16
#define floatv float16
#define intv int16
#define uintv uint16
#define convert_uintv convert_uint16
#define VLOAD vload16
#define VSTORE vstore16
#define LANES ((int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#elif VW == 8
#define floatv float8
#define intv int8
#define uintv uint8
#define convert_uintv convert_uint8
#define VLOAD vload8
#define VSTORE vstore8
#define LANES ((int8)(0, 1, 2, 3, 4, 5, 6, 7))
#elif VW == 4
#define floatv float4
#define intv int4
#define uintv uint4
#define convert_uintv convert_uint4
#define VLOAD vload4
#define VSTORE vstore4
#define LANES ((int4)(0, 1, 2, 3))
#else
#error "VW must be 4, 8 or 16"
#endif

/* Tile `tile` of an output row: VW columns from *x0. The last tile is shifted
 * left to end at the row's end so it stays one vector; its first *skip lanes
 * repeat the previous tile's columns and are neither stored nor summed. */
CONV_INLINE int conv_tile_x0(int tile, int out_w, int *skip) {
    const int x0 = min(tile * VW, out_w - VW);
    *skip = tile * VW - x0;
    return x0;
}

CONV_INLINE float conv_hsum(floatv v) {
#if VW == 16
    return lane_sum16(v);
#elif VW == 8
    return lane_sum8(v);
#else
    return lane_sum4(v);
#endif
}

/* Stores lanes [skip, VW) of v at p[skip..VW). */
CONV_INLINE void conv_store_tile(floatv v, __global float *p, int skip) {
    if (skip == 0) {
        VSTORE(v, 0, p);
    } else {
        float o[VW];
        VSTORE(v, 0, o);
        for (int l = skip; l < VW; l++)
            p[l] = o[l];
    }
}

/* y[n, f0 .. f0+FB, oy, tile] = conv(x, w): each input vector feeds FB FMAs.
 * global: (ceil(out_w / VW), out_h, batch * ceil(out_c / FB)). */
__kernel void conv_forward(__global const float *restrict x, __global const float *restrict w,
                           __global float *restrict y, int batch, int in_c, int in_h, int in_w,
                           int out_c, int out_h, int out_w, int stride, int pad) {
    const int tiles = (out_w + VW - 1) / VW;
    const int oy = get_global_id(1);
    const int groups = (out_c + FB - 1) / FB;
    const int n = get_global_id(2) / groups;
    const int f0 = (get_global_id(2) % groups) * FB;
    if ((int)get_global_id(0) >= tiles || oy >= out_h || n >= batch) return;
    int skip;
    const int x0 = conv_tile_x0(get_global_id(0), out_w, &skip);

    /* Filters past out_c read the last filter (a valid address) and are not stored. */
    int wrow[FB];
    floatv acc[FB];
#pragma unroll
    for (int b = 0; b < FB; b++) {
        wrow[b] = min(f0 + b, out_c - 1) * in_c * KK;
        acc[b] = 0.0f;
    }
    for (int c = 0; c < in_c; c++) {
        __global const float *xp = x + ((n * in_c + c) * in_h + oy) * in_w + x0;
#pragma unroll
        for (int i = 0; i < KS; i++) {
#pragma unroll
            for (int j = 0; j < KS; j++) {
                const floatv v = VLOAD(0, xp + i * in_w + j);
                const int wt = c * KK + i * KS + j;
#pragma unroll
                for (int b = 0; b < FB; b++)
                    acc[b] = fma(v, (floatv)w[wrow[b] + wt], acc[b]);
            }
        }
    }

    const int plane = out_h * out_w;
    __global float *yp = y + (n * out_c + f0) * plane + oy * out_w + x0;
#pragma unroll
    for (int b = 0; b < FB; b++)
        if (f0 + b < out_c) conv_store_tile(acc[b], yp + b * plane, skip);
}

/* dw[f, c, i, j] = scale * sum_{n, oy, ox} dy[n, f, oy, ox] * x[n, c, oy + i, ox + j].
 * One work-group per (f, c) pair (group f * in_c + c): work-item l takes rows
 * l, l + L, ... of the batch * out_h output rows, tile by tile, keeping KK
 * vector accumulators in registers (one dy vector times KK shifted input
 * vectors per tile), then sums their lanes; the group adds its work-items
 * with a tree in `part` (KK * L floats). global: (L * out_c * in_c), local (L),
 * L a power of two. */
__kernel void conv_weight_grad(__global const float *restrict dy, __global const float *restrict x,
                               __global float *restrict dw, int batch, int in_c, int in_h, int in_w,
                               int out_c, int out_h, int out_w, int stride, int pad, float scale,
                               __local float *part) {
    const int lid = get_local_id(0), lsize = get_local_size(0);
    const int fc = get_group_id(0);
    const int f = fc / in_c, c = fc % in_c;

    floatv acc[KK];
#pragma unroll
    for (int t = 0; t < KK; t++)
        acc[t] = 0.0f;
    const int tiles = (out_w + VW - 1) / VW, rows = batch * out_h;
    for (int tile = 0; tile < tiles; tile++) {
        int skip;
        const int x0 = conv_tile_x0(tile, out_w, &skip);
        for (int r = lid; r < rows; r += lsize) {
            const int n = r / out_h, oy = r - n * out_h;
            floatv d = VLOAD(0, dy + ((n * out_c + f) * out_h + oy) * out_w + x0);
            d = select(d, (floatv)0.0f, LANES < skip);
            __global const float *xp = x + ((n * in_c + c) * in_h + oy) * in_w + x0;
#pragma unroll
            for (int i = 0; i < KS; i++) {
#pragma unroll
                for (int j = 0; j < KS; j++)
                    acc[i * KS + j] = fma(d, VLOAD(0, xp + i * in_w + j), acc[i * KS + j]);
            }
        }
    }

#pragma unroll
    for (int t = 0; t < KK; t++)
        part[t * lsize + lid] = conv_hsum(acc[t]);
    conv_tree_sum(part, lid, lsize);
    for (int t = lid; t < KK; t += lsize)
        dw[fc * KK + t] = scale * part[t * lsize];
}

/* dx[n, c, iy, tile] = sum_{f, i, j} dy[n, f, iy - i, ix - j] * w[f, c, i, j]
 * (stride 1, no padding: the transposed convolution), gathered per input
 * tile so every dx element has one writer (no atomics). A tile's dy span for
 * tap j starts at column ix0 - j, which runs off the dy row at the image
 * borders: it is loaded from the nearest in-row start, its lanes moved into
 * place with a shuffle and the ones outside the row zeroed, so border tiles
 * stay vector code. CB consecutive channels per work-item share each dy load.
 * global: (ceil(in_w / VW), in_h, batch * ceil(in_c / CB)). */
__kernel void conv_input_grad(__global const float *restrict dy, __global const float *restrict w,
                              __global float *restrict dx, int batch, int in_c, int in_h, int in_w,
                              int out_c, int out_h, int out_w, int stride, int pad) {
    const int tiles = (in_w + VW - 1) / VW;
    const int iy = get_global_id(1);
    const int groups = (in_c + CB - 1) / CB;
    const int n = get_global_id(2) / groups;
    const int c0 = (get_global_id(2) % groups) * CB;
    if ((int)get_global_id(0) >= tiles || iy >= in_h || n >= batch) return;
    int skip;
    const int x0 = conv_tile_x0(get_global_id(0), in_w, &skip);

    /* Per tap j: load start, lane permutation and the lanes inside the row. */
    int start[KS];
    uintv perm[KS];
    intv inside[KS];
#pragma unroll
    for (int j = 0; j < KS; j++) {
        const int want = x0 - j;
        start[j] = clamp(want, 0, out_w - VW);
        const intv idx = LANES + (want - start[j]);
        /* vector bounds: Oclgrind 21.10 misreads clamp(vector, scalar, scalar) */
        perm[j] = convert_uintv(clamp(idx, (intv)0, (intv)(VW - 1)));
        inside[j] = idx >= 0 && idx < VW;
    }

    /* Channels past in_c read the last channel (a valid address) and are not stored. */
    int wcol[CB];
    floatv acc[CB];
#pragma unroll
    for (int b = 0; b < CB; b++) {
        wcol[b] = min(c0 + b, in_c - 1) * KK;
        acc[b] = 0.0f;
    }
    for (int f = 0; f < out_c; f++) {
        const int wf = f * in_c * KK;
#pragma unroll
        for (int i = 0; i < KS; i++) {
            const int oy = iy - i;
            if (oy < 0 || oy >= out_h) continue;
            __global const float *row = dy + ((n * out_c + f) * out_h + oy) * out_w;
#pragma unroll
            for (int j = 0; j < KS; j++) {
                floatv d = shuffle(VLOAD(0, row + start[j]), perm[j]);
                d = select((floatv)0.0f, d, inside[j]);
#pragma unroll
                for (int b = 0; b < CB; b++)
                    acc[b] = fma(d, (floatv)w[wf + wcol[b] + i * KS + j], acc[b]);
            }
        }
    }

    const int plane = in_h * in_w;
    __global float *dxp = dx + (n * in_c + c0) * plane + iy * in_w + x0;
#pragma unroll
    for (int b = 0; b < CB; b++)
        if (c0 + b < in_c) conv_store_tile(acc[b], dxp + b * plane, skip);
}

#else /* !FAST */

/* y[n, f0 .. f0+FB, oy, ox] = conv(x, w) at one output position.
 * global: (out_w, out_h, batch * ceil(out_c / FB)). */
__kernel void conv_forward(__global const float *restrict x, __global const float *restrict w,
                           __global float *restrict y, int batch, int in_c, int in_h, int in_w,
                           int out_c, int out_h, int out_w, int stride, int pad) {
    const int ox = get_global_id(0), oy = get_global_id(1);
    const int groups = (out_c + FB - 1) / FB;
    const int n = get_global_id(2) / groups;
    const int f0 = (get_global_id(2) % groups) * FB;
    if (ox >= out_w || oy >= out_h || n >= batch) return;

    /* Filters past out_c read the last filter (a valid address) and are not stored. */
    int wrow[FB];
    float acc[FB];
#pragma unroll
    for (int b = 0; b < FB; b++) {
        wrow[b] = min(f0 + b, out_c - 1) * in_c * KK;
        acc[b] = 0.0f;
    }
    for (int c = 0; c < in_c; c++) {
        __global const float *xp = x + (n * in_c + c) * in_h * in_w;
        for (int i = 0; i < KS; i++) {
            const int iy = oy * stride - pad + i;
            if (iy < 0 || iy >= in_h) continue;
            for (int j = 0; j < KS; j++) {
                const int ix = ox * stride - pad + j;
                if (ix < 0 || ix >= in_w) continue;
                const float v = xp[iy * in_w + ix];
                const int wt = c * KK + i * KS + j;
#pragma unroll
                for (int b = 0; b < FB; b++)
                    acc[b] = fma(v, w[wrow[b] + wt], acc[b]);
            }
        }
    }
    const int plane = out_h * out_w;
    __global float *yp = y + (n * out_c + f0) * plane + oy * out_w + ox;
#pragma unroll
    for (int b = 0; b < FB; b++)
        if (f0 + b < out_c) yp[b * plane] = acc[b];
}

/* dw[f, c, i, j] = scale * sum_{n, oy, ox} dy[n, f, oy, ox] * x[n, c, oy*s+i-pad, ox*s+j-pad]
 * (zero outside the image). One work-group per (f, c) pair: work-item l takes
 * output positions l, l + L, ... of the batch with the KK taps in registers;
 * the group adds its work-items with a tree in `part` (KK * L floats).
 * global: (L * out_c * in_c), local (L), L a power of two. */
__kernel void conv_weight_grad(__global const float *restrict dy, __global const float *restrict x,
                               __global float *restrict dw, int batch, int in_c, int in_h, int in_w,
                               int out_c, int out_h, int out_w, int stride, int pad, float scale,
                               __local float *part) {
    const int lid = get_local_id(0), lsize = get_local_size(0);
    const int fc = get_group_id(0);
    const int f = fc / in_c, c = fc % in_c;

    float acc[KK];
#pragma unroll
    for (int t = 0; t < KK; t++)
        acc[t] = 0.0f;
    const int plane = out_h * out_w, positions = batch * plane;
    for (int p = lid; p < positions; p += lsize) {
        const int n = p / plane, q = p - n * plane;
        const int oy = q / out_w, ox = q - oy * out_w;
        const float d = dy[(n * out_c + f) * plane + q];
        __global const float *xp = x + (n * in_c + c) * in_h * in_w;
#pragma unroll
        for (int i = 0; i < KS; i++) {
            const int iy = oy * stride - pad + i;
            const int row_ok = iy >= 0 && iy < in_h;
#pragma unroll
            for (int j = 0; j < KS; j++) {
                const int ix = ox * stride - pad + j;
                /* Out-of-image taps add 0 read from a clamped (valid) address. */
                const int ok = row_ok && ix >= 0 && ix < in_w;
                const float v = xp[clamp(iy, 0, in_h - 1) * in_w + clamp(ix, 0, in_w - 1)];
                acc[i * KS + j] = fma(d, ok ? v : 0.0f, acc[i * KS + j]);
            }
        }
    }

#pragma unroll
    for (int t = 0; t < KK; t++)
        part[t * lsize + lid] = acc[t];
    conv_tree_sum(part, lid, lsize);
    for (int t = lid; t < KK; t += lsize)
        dw[fc * KK + t] = scale * part[t * lsize];
}

/* dx[n, c, iy, ix] = sum_{f, i, j} dy[n, f, oy, ox] * w[f, c, i, j] over the
 * (oy, ox) with oy*s+i-pad = iy and ox*s+j-pad = ix: the transposed
 * convolution, gathered per input pixel so every dx element has one writer
 * (no atomics). CB consecutive channels per work-item share each dy load.
 * global: (in_w, in_h, batch * ceil(in_c / CB)). */
__kernel void conv_input_grad(__global const float *restrict dy, __global const float *restrict w,
                              __global float *restrict dx, int batch, int in_c, int in_h, int in_w,
                              int out_c, int out_h, int out_w, int stride, int pad) {
    const int ix = get_global_id(0), iy = get_global_id(1);
    const int groups = (in_c + CB - 1) / CB;
    const int n = get_global_id(2) / groups;
    const int c0 = (get_global_id(2) % groups) * CB;
    if (ix >= in_w || iy >= in_h || n >= batch) return;

    /* Channels past in_c read the last channel (a valid address) and are not stored. */
    int wcol[CB];
    float acc[CB];
#pragma unroll
    for (int b = 0; b < CB; b++) {
        wcol[b] = min(c0 + b, in_c - 1) * KK;
        acc[b] = 0.0f;
    }
    const int plane = out_h * out_w;
    for (int i = 0; i < KS; i++) {
        const int ty = iy + pad - i; /* = oy * stride when tap i reaches row iy */
        const int oy = ty / stride;
        if (ty < 0 || oy * stride != ty || oy >= out_h) continue;
        for (int j = 0; j < KS; j++) {
            const int tx = ix + pad - j;
            const int ox = tx / stride;
            if (tx < 0 || ox * stride != tx || ox >= out_w) continue;
            __global const float *dyp = dy + n * out_c * plane + oy * out_w + ox;
            const int wt = i * KS + j;
            for (int f = 0; f < out_c; f++) {
                const float d = dyp[f * plane];
#pragma unroll
                for (int b = 0; b < CB; b++)
                    acc[b] = fma(d, w[(f * in_c) * KK + wcol[b] + wt], acc[b]);
            }
        }
    }

    const int iplane = in_h * in_w;
    __global float *dxp = dx + (n * in_c + c0) * iplane + iy * in_w + ix;
#pragma unroll
    for (int b = 0; b < CB; b++)
        if (c0 + b < in_c) dxp[b * iplane] = acc[b];
}

#endif /* FAST */
