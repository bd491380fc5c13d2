/* Max pooling 2x2, stride 2, floor: an odd last row or column is dropped. */

/* y[p, oy, ox] = max of the 2x2 window at (2oy, 2ox) of plane p; argmax holds
 * the flat index iy * w + ix of the maximum within the plane. Windows are
 * scanned in row-major order and only a strictly greater value replaces the
 * current one, so on ties the first element in that order wins (top-left,
 * then top-right, bottom-left, bottom-right).
 * global: (w / 2, h / 2, planes). */
__kernel void maxpool2_forward(__global const float *restrict x, __global float *restrict y,
                               __global int *restrict argmax, int planes, int h, int w) {
    const int ox = get_global_id(0), oy = get_global_id(1), p = get_global_id(2);
    const int oh = h / 2, ow = w / 2;
    if (ox >= ow || oy >= oh || p >= planes) return;

    __global const float *xp = x + p * h * w;
    const int i00 = 2 * oy * w + 2 * ox;
    const int i01 = i00 + 1, i10 = i00 + w, i11 = i10 + 1;
    float best = xp[i00];
    int at = i00;
    const float v01 = xp[i01], v10 = xp[i10], v11 = xp[i11];
    /* Plain comparisons (not fmax) keep y == x[argmax] even with NaN. */
    at = v01 > best ? i01 : at;
    best = v01 > best ? v01 : best;
    at = v10 > best ? i10 : at;
    best = v10 > best ? v10 : best;
    at = v11 > best ? i11 : at;
    best = v11 > best ? v11 : best;

    const int o = (p * oh + oy) * ow + ox;
    y[o] = best;
    argmax[o] = at;
}

/* dx[p] = dy scattered through argmax: the work-item of window (oy, ox)
 * writes its four elements (dy at the argmax, 0 elsewhere), and the last
 * window of a row or column also zeroes the dropped odd column or row, so
 * every dx element is written once and no atomics are needed. (h < 2 or
 * w < 2 leaves no window: the host zero-fills dx instead.)
 * global: (w / 2, h / 2, planes). */
__kernel void maxpool2_backward(__global const float *restrict dy,
                                __global const int *restrict argmax, __global float *restrict dx,
                                int planes, int h, int w) {
    const int ox = get_global_id(0), oy = get_global_id(1), p = get_global_id(2);
    const int oh = h / 2, ow = w / 2;
    if (ox >= ow || oy >= oh || p >= planes) return;

    const int o = (p * oh + oy) * ow + ox;
    const int at = argmax[o];
    const float g = dy[o];
    __global float *dxp = dx + p * h * w;
    const int i00 = 2 * oy * w + 2 * ox, i10 = i00 + w;
    dxp[i00] = at == i00 ? g : 0.0f;
    dxp[i00 + 1] = at == i00 + 1 ? g : 0.0f;
    dxp[i10] = at == i10 ? g : 0.0f;
    dxp[i10 + 1] = at == i10 + 1 ? g : 0.0f;
    const int odd_w = (w & 1) && ox == ow - 1, odd_h = (h & 1) && oy == oh - 1;
    if (odd_w) {
        dxp[i00 + 2] = 0.0f;
        dxp[i10 + 2] = 0.0f;
    }
    if (odd_h) {
        dxp[i10 + w] = 0.0f;
        dxp[i10 + w + 1] = 0.0f;
        if (odd_w) dxp[i10 + w + 2] = 0.0f;
    }
}
