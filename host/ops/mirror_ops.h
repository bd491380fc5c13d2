/* Operators of weight mirroring (PEPITA's learned F, cl/mirror.cl): normal
 * noise, its mean removed, and a rescale to a target standard deviation,
 * with every scalar left on the device (no host round trip). Kept apart from
 * ops.h so the family stays in one place. */
#ifndef PEPITA_OPS_MIRROR_OPS_H
#define PEPITA_OPS_MIRROR_OPS_H

#include "ops/ops.h"

/* x[i] = std N(0, 1), Philox keyed by (seed, a, b, i): bit-identical to the
 * host's std * philox_normal(seed, a, b, i). */
pp_status op_normal(rt_context *ctx, size_t n, float std, uint64_t seed, uint32_t a, uint32_t b,
                    rt_buf *x);

/* x -= mean(x), the scalar mean over all n values; stats[at] receives sum(x). */
pp_status op_subtract_mean(rt_context *ctx, size_t n, rt_buf *x, rt_buf *stats, size_t at);

/* stats[at + 2] = (target / std(x))^power, std with n - 1 (1 if std(x) is 0);
 * stats[at], stats[at + 1] receive sum(x), sum(x^2). */
pp_status op_std_scale_factor(rt_context *ctx, size_t n, const rt_buf *x, float target, float power,
                              rt_buf *stats, size_t at);

/* x *= scalars[at]. */
pp_status op_scale_by(rt_context *ctx, size_t n, rt_buf *x, const rt_buf *scalars, size_t at);

#endif
