/* Sums, sums of squares and dot products, in two stages: each work-group
 * (a power of two in size) writes the sum of a grid-strided slice to
 * out[out_off + group]; a second one-group launch sums those partials. Each
 * work-item adds only a few dozen terms in sequence and the rest is a tree,
 * so the rounding error grows with about log2(n), not n. */

#define REDUCE_SUM 0
#define REDUCE_SUM_SQUARES 1
#define REDUCE_DOT 2

kernel void reduce(int n, global const float *a, global const float *b, int mode, global float *out,
                   int out_off, local float *scratch) {
    const int lid = (int)get_local_id(0), size = (int)get_local_size(0);
    const size_t stride = get_global_size(0);
    float acc = 0.0f;
    for (size_t i = get_global_id(0); i < (size_t)n; i += stride) {
        const float x = a[i];
        acc += mode == REDUCE_SUM ? x : (mode == REDUCE_SUM_SQUARES ? x * x : x * b[i]);
    }
    scratch[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int width = size / 2; width > 0; width /= 2) {
        if (lid < width) scratch[lid] += scratch[lid + width];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) out[out_off + (int)get_group_id(0)] = scratch[0];
}
