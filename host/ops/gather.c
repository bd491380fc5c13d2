/* Batch assembly: rows of the device-resident dataset (uint8 pixels scaled
 * to float, or float32 features as they are), picked by an index list;
 * labels widened to int32. */
#include "ops/op_util.h"

#include <stdio.h>

/* Both element types: `element` bytes per value (1: uint8, 4: float32). */
static pp_status gather(rt_context *ctx, const char *op, size_t element, size_t count,
                        size_t sample_size, const rt_buf *data, const rt_buf *labels_u8,
                        const rt_buf *idx, size_t idx_off, float scale, rt_buf *x, rt_buf *y) {
    if (sample_size == 0) return pp_fail(PP_ERR_ARGUMENT, "%s: zero sample size", op);
    if (count > (size_t)INT_MAX / sample_size)
        return pp_fail(PP_ERR_ARGUMENT, "%s: %zu x %zu values exceed INT_MAX", op, count,
                       sample_size);
    PP_TRY(op_need_int(op, "idx_off + count", idx_off + count));
    PP_TRY(op_need_buf(op, "data", data, 0, element));
    PP_TRY(op_need_buf(op, "labels", labels_u8, 0, 1));
    PP_TRY(op_need_buf(op, "idx", idx, idx_off + count, sizeof(int32_t)));
    PP_TRY(op_need_buf(op, "x", x, count * sample_size, sizeof(float)));
    PP_TRY(op_need_buf(op, "y", y, count, sizeof(int32_t)));
    if (count == 0) return PP_OK;
    /* The kernel reads only samples both buffers hold (others give a zero row, label -1). */
    size_t samples = data->bytes / element / sample_size;
    if (labels_u8->bytes < samples) samples = labels_u8->bytes;
    if (samples > (size_t)INT_MAX) samples = (size_t)INT_MAX;
    /* four columns per work-item when rows split evenly (see cl/gather.cl) */
    int vec = sample_size % 4 == 0 ? 4 : 1;
    char defines[32];
    snprintf(defines, sizeof defines, "-DVEC=%d%s", vec, element == 1 ? "" : " -DFLOAT_DATA");
    rt_kernel *k;
    PP_TRY(rt_kernel_get(ctx, "gather", "gather_batch", defines, &k));
    /* column groups x rows, in work-groups of up to 64 groups (kernels bounds-check) */
    size_t global[2] = {sample_size / (size_t)vec, count}, local[2] = {op_pow2_local(k, 64), 1};
    return RT_LAUNCH(ctx, k, 2, global, local, RT_INT(count), RT_INT(sample_size), RT_INT(samples),
                     RT_BUF(data), RT_BUF(labels_u8), RT_BUF(idx), RT_INT(idx_off), RT_FLOAT(scale),
                     RT_BUF(x), RT_BUF(y));
}

pp_status op_gather_batch(rt_context *ctx, size_t count, size_t sample_size, const rt_buf *data_u8,
                          const rt_buf *labels_u8, const rt_buf *idx, size_t idx_off, float scale,
                          rt_buf *x, rt_buf *y) {
    return gather(ctx, "op_gather_batch", 1, count, sample_size, data_u8, labels_u8, idx, idx_off,
                  scale, x, y);
}

pp_status op_gather_batch_f32(rt_context *ctx, size_t count, size_t sample_size,
                              const rt_buf *data_f32, const rt_buf *labels_u8, const rt_buf *idx,
                              size_t idx_off, rt_buf *x, rt_buf *y) {
    return gather(ctx, "op_gather_batch_f32", sizeof(float), count, sample_size, data_f32,
                  labels_u8, idx, idx_off, 1.0f, x, y);
}
