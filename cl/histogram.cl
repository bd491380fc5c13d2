/* Histogram over [lo, lo + bins / scale): values outside go to the end bins,
 * NaN is not counted. The bin arithmetic is one subtraction and one
 * multiplication (no fusing possible), so the host reference agrees exactly. */

int bin_of(float v, float lo, float scale, int bins) {
    const float t = (v - lo) * scale;
    if (t < 0.0f) return 0;
    if (t >= (float)bins) return bins - 1;
    return (int)t;
}

/* Each work-group counts into local memory, then merges into counts. */
kernel void histogram_local(int n, global const float *x, float lo, float scale, int bins,
                            global uint *counts, local uint *local_counts) {
    const int lid = (int)get_local_id(0), size = (int)get_local_size(0);
    for (int j = lid; j < bins; j += size)
        local_counts[j] = 0u;
    barrier(CLK_LOCAL_MEM_FENCE);
    const size_t stride = get_global_size(0);
    for (size_t i = get_global_id(0); i < (size_t)n; i += stride) {
        const float v = x[i];
        if (!isnan(v)) atomic_inc(&local_counts[bin_of(v, lo, scale, bins)]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int j = lid; j < bins; j += size)
        if (local_counts[j] != 0u) atomic_add(&counts[j], local_counts[j]);
}

/* Too many bins for local memory: count straight into global memory. */
kernel void histogram_global(int n, global const float *x, float lo, float scale, int bins,
                             global uint *counts) {
    GLOBAL_ID_OR_RETURN(i, n);
    const float v = x[i];
    if (!isnan(v)) atomic_inc(&counts[bin_of(v, lo, scale, bins)]);
}
