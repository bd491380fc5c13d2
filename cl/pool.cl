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

/* dx[p, iy, ix] = dy of the window holding (iy, ix) when argmax names it, else
 * 0 (including the dropped odd row/column). Gathered per input element: every
 * dx element is written exactly once and windows do not overlap, so no
 * atomics. global: (w, h, planes). */
__kernel void maxpool2_backward(__global const float *restrict dy,
                                __global const int *restrict argmax, __global float *restrict dx,
                                int planes, int h, int w) {
    const int ix = get_global_id(0), iy = get_global_id(1), p = get_global_id(2);
    if (ix >= w || iy >= h || p >= planes) return;
    const int oh = h / 2, ow = w / 2;
    const int ox = ix / 2, oy = iy / 2;
    const int inside = ox < ow && oy < oh;
    /* Clamped so the address stays valid where no window covers (iy, ix). */
    const int o = (p * oh + max(min(oy, oh - 1), 0)) * ow + max(min(ox, ow - 1), 0);
    float v = 0.0f;
    if (inside && argmax[o] == iy * w + ix) v = dy[o];
    dx[(p * h + iy) * w + ix] = v;
}
