/* Argument checks and launch sizes shared by the non-GEMM operators. */
#ifndef PEPITA_OPS_OP_UTIL_H
#define PEPITA_OPS_OP_UTIL_H

#include <limits.h>

#include "ops/ops.h"

/* Fails unless buf is allocated and holds `count` elements of `elem` bytes. */
static inline pp_status op_need_buf(const char *op, const char *what, const rt_buf *buf,
                                    size_t count, size_t elem) {
    if (!buf || !buf->mem) return pp_fail(PP_ERR_ARGUMENT, "%s: %s is not allocated", op, what);
    if (count > buf->bytes / elem)
        return pp_fail(PP_ERR_ARGUMENT, "%s: %s holds %zu bytes, needs %zu elements of %zu bytes",
                       op, what, buf->bytes, count, elem);
    return PP_OK;
}

/* Kernels index with int: sizes and offsets must fit. */
static inline pp_status op_need_int(const char *op, const char *what, size_t value) {
    if (value > (size_t)INT_MAX)
        return pp_fail(PP_ERR_ARGUMENT, "%s: %s = %zu exceeds INT_MAX", op, what, value);
    return PP_OK;
}

/* The largest power of two <= min(want, what the device allows for k). */
static inline size_t op_pow2_local(const rt_kernel *k, size_t want) {
    size_t limit = k->max_work_group_size < want ? k->max_work_group_size : want;
    size_t local = 1;
    while (local * 2 <= limit)
        local *= 2;
    return local;
}

/* A 1-D launch over n items in the profile's element-wise work-groups: a
 * driver-chosen size can degrade to 1 for prime n, and kernels bounds-check
 * the rounded range. */
#define OP_LAUNCH_1D(ctx, k, n, ...)                                                               \
    RT_LAUNCH((ctx), (k), 1, (size_t[]){(n)},                                                      \
              (size_t[]){op_pow2_local((k), (ctx)->device_profile.elementwise_local)},             \
              __VA_ARGS__)

#endif
