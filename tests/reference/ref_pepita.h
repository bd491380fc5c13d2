/* A double-precision host model of PEPITA on dense networks (tests/
 * reference/ref_network.h's ref_net, ReLU hidden layers, softmax output) and
 * of weight mirroring's F = B_1 ... B_L, written straight from the equations
 * (no operators). */
#ifndef PEPITA_REF_PEPITA_H
#define PEPITA_REF_PEPITA_H

#include <stdint.h>

#include "ref_network.h"

/* f (input x classes) = B_1 ... B_L; b[l] is in_l x out_l. */
void ref_mirror_product(const ref_net *n, double *const *b, double *f);

/* One mirroring step of every layer (noise = noise_std philox_normal at
 * (seed, step, 1 + l), its mean removed; dropout p at (seed, step, 64 + l)),
 * then every B_l scaled by (target_std / std(F))^(1/L) and f = B_1 ... B_L. */
void ref_mirror_step(const ref_net *n, double **b, double *f, double lr, double decay,
                     float noise_std, float dropout, uint64_t seed, uint32_t step,
                     double target_std);

/* PEPITA's updates (the difference form, modulated presynaptic activity,
 * the standard pass's output error): x' = x + sign e F^T; hidden
 * g_l = (h_l - h_l')^T h_{l-1}' / N, output g_L = e^T h_{L-1}' / N. The
 * dropout factors are n->drop (both passes). */
void ref_pepita_updates(const ref_net *n, const double *x, const int32_t *labels, const double *f,
                        double sign, double **g);

#endif
