/* Batch assembly from the device-resident uint8 (or float32) dataset: the pixels as a 2-D
 * range (sample_size / VEC column groups x rows) with explicit VEC-wide loads
 * and stores, and the labels. PoCL does not vectorise uchar loads under a
 * bounds check across work-items; the explicit form is 3-6x faster than one
 * work-item per value. An index outside [0, samples) yields a zero row and
 * label -1 (the loss then turns NaN) instead of reading out of bounds. */
#ifndef VEC
#define VEC 1
#endif
/* FLOAT_DATA: the dataset holds float32 features (the user's own data) */
#ifdef FLOAT_DATA
#define DATA_T float
#define TO_FLOAT4(v) (v)
#else
#define DATA_T uchar
#define TO_FLOAT4(v) convert_float4(v)
#endif

kernel void gather_batch(int count, int sample_size, int samples, global const DATA_T *restrict data,
                         global const uchar *restrict labels, global const int *restrict idx,
                         int idx_off, float scale, global float *restrict x,
                         global int *restrict y) {
    const int q = (int)get_global_id(0), row = (int)get_global_id(1);
    if (q >= sample_size / VEC || row >= count) return;
    const int s = idx[idx_off + row];
    global float *dst = x + (size_t)row * sample_size;
    const int valid = s >= 0 && s < samples;
    /* the label by the row's first work-item: one launch per batch, not two */
    if (q == 0) y[row] = valid ? (int)labels[s] : -1;
#if VEC == 4
    const float4 v =
        valid ? TO_FLOAT4(vload4(q, data + (size_t)s * sample_size)) * scale : (float4)(0.0f);
    vstore4(v, q, dst);
#else
    dst[q] = valid ? (float)data[(size_t)s * sample_size + q] * scale : 0.0f;
#endif
}
