/* A double-precision host model of one PEPITA step on a fully connected net,
 * straight from the equations of the ICML paper and of its follow-up
 * (Srinivasan et al., ICLR 2024): the difference form, the Hebbian ("mixed")
 * form and the time-local variant, each with or without the activation
 * normalisation. For one-step comparisons with the device. */
#ifndef PEPITA_REF_PEPITA_H
#define PEPITA_REF_PEPITA_H

#include <stdint.h>

#include "pepita/pepita.h"

#define REF_PEPITA_MAX_LAYERS 8

typedef struct ref_pepita {
    int batch, classes, n_layers;
    int in[REF_PEPITA_MAX_LAYERS], out[REF_PEPITA_MAX_LAYERS];
    double *w[REF_PEPITA_MAX_LAYERS];          /* out x in, the caller's; time-local updates them */
    double *v[REF_PEPITA_MAX_LAYERS];          /* momentum, the caller's (time-local) */
    const double *drop[REF_PEPITA_MAX_LAYERS]; /* hidden: batch x out factors, or NULL */
    /* the modulated pass's factors where they differ (time-local's fresh
     * masks), else NULL: it takes drop's */
    const double *drop_mod[REF_PEPITA_MAX_LAYERS];
    const double *f; /* F: input x classes */
    double sign;     /* x' = x + sign e F^T: +1 (the ICML rule), -1 (a learned F) */
    pp_update_form form;
    int normalise; /* h /= ||h||_F over the batch after each hidden layer */
    /* time-local's first step: v = mu v + lr (g + wd w); w -= v */
    double lr, momentum, weight_decay;
} ref_pepita;

/* One step: g[l] (out x in each) receives the update the rule leaves for the
 * trainer. The difference form uses the modulated presynaptic activity and
 * the standard pass's error (the defaults). Time-local also applies its first
 * step to w and v. */
void ref_pepita_step(ref_pepita *p, const double *x, const int32_t *labels, double **g);

#endif
