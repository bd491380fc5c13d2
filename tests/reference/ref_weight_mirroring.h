/* A double-precision host model of weight mirroring (the follow-up's WM) on
 * the dense networks of ref_network.h: F = B_1 ... B_L and one mirroring
 * step, written straight from the equations (no operators). */
#ifndef PEPITA_REF_WEIGHT_MIRRORING_H
#define PEPITA_REF_WEIGHT_MIRRORING_H

#include <stdint.h>

#include "ref_network.h"

/* f (input x classes) = B_1 ... B_L; b[l] is in_l x out_l. */
void ref_mirror_product(const ref_net *n, double *const *b, double *f);

/* One mirroring step of every layer (noise = noise_std philox_normal at
 * (seed, step, 1 + l), its mean removed; dropout p at (seed, step, 64 + l);
 * normalise: a hidden layer's output divided by its Frobenius norm), then
 * every B_l scaled by (target_std / std(F))^(1/L) and f = B_1 ... B_L. */
void ref_mirror_step(const ref_net *n, double **b, double *f, double lr, double decay,
                     float noise_std, float dropout, int normalise, uint64_t seed, uint32_t step,
                     double target_std);

#endif
