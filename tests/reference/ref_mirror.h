/* Plain-C references of weight mirroring's operators (host/ops/mirror.c). */
#ifndef PEPITA_REF_MIRROR_H
#define PEPITA_REF_MIRROR_H

#include <stddef.h>
#include <stdint.h>

/* x[i] = std philox_normal(seed, a, b, i): what op_normal must equal bit for bit. */
void ref_normal(size_t n, float std, uint64_t seed, uint32_t a, uint32_t b, float *x);
/* x -= mean(x), in double. */
void ref_subtract_mean(size_t n, float *x);
/* (target / std(x))^power in double, std with n - 1; 1 if std(x) is 0. */
double ref_std_scale_factor(size_t n, const float *x, double target, double power);

#endif
