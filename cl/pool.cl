/* Max pooling 2x2, stride 2, floor: an odd last row or column is dropped.
 *
 * Two shapes (the device profile picks one): maxpool2_forward/backward give
 * each work-item PV = 4 neighbouring windows of one output row, with vector
 * loads and selects (PoCL's CPU compiler does not vectorise the one-window
 * form: it ran at 9-11 GB/s), the last windows of a row that do not fill a
 * vector taking the scalar path, global (ceil((w / 2) / 4), h / 2, planes);
 * the *_flat kernels give each work-item one window over a flat range of
 * planes * (h / 2) * (w / 2), so neighbouring work-items touch neighbouring
 * addresses (a GPU's coalescing). Both pick the same element. */

#define PV 4

/* y[p, oy, ox] = max of the 2x2 window at (2oy, 2ox) of plane p; argmax holds
 * the flat index iy * w + ix of the maximum within the plane. Windows are
 * scanned in row-major order and only a strictly greater value replaces the
 * current one, so on ties the first element in that order wins (top-left,
 * then top-right, bottom-left, bottom-right); a NaN first in its window stays
 * (plain comparisons, not fmax, keep y == x[argmax]). */
__kernel void maxpool2_forward(__global const float *restrict x, __global float *restrict y,
                               __global int *restrict argmax, int planes, int h, int w) {
    const int oh = h / 2, ow = w / 2;
    const int ox0 = get_global_id(0) * PV, oy = get_global_id(1), p = get_global_id(2);
    if (ox0 >= ow || oy >= oh || p >= planes) return;

    __global const float *xp = x + p * h * w;
    const int row = 2 * oy * w, o = (p * oh + oy) * ow;
    if (ox0 + PV <= ow) {
        const float8 top = vload8(0, xp + row + 2 * ox0);
        const float8 bottom = vload8(0, xp + row + w + 2 * ox0);
        const int4 i00 = (int4)(0, 2, 4, 6) + (row + 2 * ox0);
        float4 best = top.even;
        int4 at = i00;
        int4 more = isgreater(top.odd, best);
        at = select(at, i00 + 1, more);
        best = select(best, top.odd, more);
        more = isgreater(bottom.even, best);
        at = select(at, i00 + w, more);
        best = select(best, bottom.even, more);
        more = isgreater(bottom.odd, best);
        at = select(at, i00 + w + 1, more);
        best = select(best, bottom.odd, more);
        vstore4(best, 0, y + o + ox0);
        vstore4(at, 0, argmax + o + ox0);
        return;
    }
    for (int ox = ox0; ox < ow; ox++) {
        const int i00 = row + 2 * ox;
        const int i01 = i00 + 1, i10 = i00 + w, i11 = i10 + 1;
        float best = xp[i00];
        int at = i00;
        const float v01 = xp[i01], v10 = xp[i10], v11 = xp[i11];
        at = v01 > best ? i01 : at;
        best = v01 > best ? v01 : best;
        at = v10 > best ? i10 : at;
        best = v10 > best ? v10 : best;
        at = v11 > best ? i11 : at;
        best = v11 > best ? v11 : best;
        y[o + ox] = best;
        argmax[o + ox] = at;
    }
}

/* dx[p] = dy scattered through argmax: each window writes its four elements
 * (dy at the argmax, 0 elsewhere), and the last window of a row or column
 * also zeroes the dropped odd column or row, so every dx element is written
 * once and no atomics are needed. (h < 2 or w < 2 leaves no window: the host
 * zero-fills dx instead.) */
__kernel void maxpool2_backward(__global const float *restrict dy,
                                __global const int *restrict argmax, __global float *restrict dx,
                                int planes, int h, int w) {
    const int oh = h / 2, ow = w / 2;
    const int ox0 = get_global_id(0) * PV, oy = get_global_id(1), p = get_global_id(2);
    if (ox0 >= ow || oy >= oh || p >= planes) return;

    __global float *dxp = dx + p * h * w;
    const int row = 2 * oy * w, o = (p * oh + oy) * ow;
    const int ox_end = min(ow, ox0 + PV); /* this work-item's windows: ox0 .. ox_end - 1 */
    if (ox_end - ox0 == PV) {
        const float4 g = vload4(0, dy + o + ox0);
        const int4 at = vload4(0, argmax + o + ox0);
        const int4 i00 = (int4)(0, 2, 4, 6) + (row + 2 * ox0);
        const float4 zero = (float4)(0.0f);
        const float4 t0 = select(zero, g, at == i00), t1 = select(zero, g, at == i00 + 1);
        const float4 b0 = select(zero, g, at == i00 + w), b1 = select(zero, g, at == i00 + w + 1);
        const uint8 interleave = (uint8)(0, 4, 1, 5, 2, 6, 3, 7);
        vstore8(shuffle2(t0, t1, interleave), 0, dxp + row + 2 * ox0);
        vstore8(shuffle2(b0, b1, interleave), 0, dxp + row + w + 2 * ox0);
    } else {
        for (int ox = ox0; ox < ox_end; ox++) {
            const int a = argmax[o + ox];
            const float g = dy[o + ox];
            const int i00 = row + 2 * ox, i10 = i00 + w;
            dxp[i00] = a == i00 ? g : 0.0f;
            dxp[i00 + 1] = a == i00 + 1 ? g : 0.0f;
            dxp[i10] = a == i10 ? g : 0.0f;
            dxp[i10 + 1] = a == i10 + 1 ? g : 0.0f;
        }
    }
    /* The dropped odd column beside the last window, and the dropped odd row
     * below the last row of windows (its corner too). */
    const int last = ox_end == ow;
    if ((w & 1) && last) {
        dxp[row + 2 * ow] = 0.0f;
        dxp[row + w + 2 * ow] = 0.0f;
    }
    if ((h & 1) && oy == oh - 1) {
        __global float *dropped = dxp + 2 * oh * w;
        for (int c = 2 * ox0; c < 2 * ox_end; c++)
            dropped[c] = 0.0f;
        if ((w & 1) && last) dropped[2 * ow] = 0.0f;
    }
}

/* ---- One window per work-item (the GPU profile) -------------------------- */

/* Window i of the flat range: its plane, output row and column. */
#define FLAT_WINDOW(i, p, oy, ox, oh, ow)                                                          \
    const int ox = (i) % (ow), rest_ = (i) / (ow);                                                 \
    const int oy = rest_ % (oh), p = rest_ / (oh)

__kernel void maxpool2_forward_flat(__global const float *restrict x, __global float *restrict y,
                                    __global int *restrict argmax, int planes, int h, int w) {
    const int oh = h / 2, ow = w / 2;
    GLOBAL_ID_OR_RETURN(i, planes * oh * ow);
    FLAT_WINDOW(i, p, oy, ox, oh, ow);
    __global const float *xp = x + p * h * w;
    const int i00 = 2 * oy * w + 2 * ox;
    const int i01 = i00 + 1, i10 = i00 + w, i11 = i10 + 1;
    float best = xp[i00];
    int at = i00;
    const float v01 = xp[i01], v10 = xp[i10], v11 = xp[i11];
    at = v01 > best ? i01 : at;
    best = v01 > best ? v01 : best;
    at = v10 > best ? i10 : at;
    best = v10 > best ? v10 : best;
    at = v11 > best ? i11 : at;
    best = v11 > best ? v11 : best;
    y[i] = best;
    argmax[i] = at;
}

/* As maxpool2_backward: each window writes its four elements, and the last
 * window of a row or column the dropped odd column or row beside it. */
__kernel void maxpool2_backward_flat(__global const float *restrict dy,
                                     __global const int *restrict argmax,
                                     __global float *restrict dx, int planes, int h, int w) {
    const int oh = h / 2, ow = w / 2;
    GLOBAL_ID_OR_RETURN(i, planes * oh * ow);
    FLAT_WINDOW(i, p, oy, ox, oh, ow);
    __global float *dxp = dx + p * h * w;
    const int a = argmax[i];
    const float g = dy[i];
    const int row = 2 * oy * w, i00 = row + 2 * ox, i10 = i00 + w;
    dxp[i00] = a == i00 ? g : 0.0f;
    dxp[i00 + 1] = a == i00 + 1 ? g : 0.0f;
    dxp[i10] = a == i10 ? g : 0.0f;
    dxp[i10 + 1] = a == i10 + 1 ? g : 0.0f;
    const int last = ox == ow - 1;
    if ((w & 1) && last) {
        dxp[row + 2 * ow] = 0.0f;
        dxp[row + w + 2 * ow] = 0.0f;
    }
    if ((h & 1) && oy == oh - 1) {
        __global float *dropped = dxp + 2 * oh * w;
        dropped[2 * ox] = 0.0f;
        dropped[2 * ox + 1] = 0.0f;
        if ((w & 1) && last) dropped[2 * ow] = 0.0f;
    }
}
