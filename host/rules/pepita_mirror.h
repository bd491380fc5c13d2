/* Weight mirroring for PEPITA (Srinivasan et al., ICLR 2024): F is learned
 * as a product of per-layer factors, F = B_1 B_2 ... B_L (input x classes),
 * each B_l shaped like W_l^T, which noise-driven mirroring steps move
 * towards the W_l^T:
 *
 *   x~ = noise N(0, I) (batch x in_l), minus its scalar mean
 *   y~ = dropout(act(x~ W_l^T)) (hidden) or softmax(x~ W_L^T) (output)
 *   B_l <- (1 - lr decay) B_l + (lr / batch) x~^T y~
 *
 * then every B_l is scaled by (target / std(F))^(1/L), so that mirroring
 * turns F without changing its scale. F is cached (the rule's F buffer) and
 * recomputed only after the factors change. Dense networks only. */
#ifndef PEPITA_RULES_PEPITA_MIRROR_H
#define PEPITA_RULES_PEPITA_MIRROR_H

#include "rules/rule.h"

typedef struct pepita_mirror_params {
    float lr;         /* eta */
    float decay;      /* lambda */
    float noise;      /* std of the mirroring noise */
    int pre_mirror;   /* epochs of mirroring only, at the start */
    int every;        /* also mirror during epochs e with e % every == 0; 0: never */
    float target_std; /* sigma*: std(F) after every rescale */
} pepita_mirror_params;

typedef struct pepita_mirror pepita_mirror;

/* 1 if the batches of epoch (1-based) mirror. */
int pepita_mirror_scheduled(const pepita_mirror_params *p, int epoch);
/* 0 during the pre-mirroring epochs, when PEPITA leaves the weights alone. */
int pepita_mirror_updates_weights(const pepita_mirror_params *p, int epoch);

/* Adds the factors B_1..B_L to r's fixed matrices (after F, which f names),
 * draws them (normal, keyed by r->config->seed) and sets F = B_1...B_L at
 * std target_std. The network must be all dense. */
pp_status pepita_mirror_create(rule *r, rt_buf *f, const pepita_mirror_params *p,
                               pepita_mirror **out);
void pepita_mirror_destroy(pepita_mirror *m);

/* One mirroring step of every layer, keyed by (seed, step) alone (the same
 * on every rank), then the rescale and F recomputed. */
pp_status pepita_mirror_step(pepita_mirror *m, uint64_t seed, uint32_t step);

/* out (input x classes) = B_1 ... B_L: how F is recomputed. */
pp_status pepita_mirror_product(pepita_mirror *m, rt_buf *out);

/* The mirroring module of a PEPITA rule, NULL without --mirror (tests). */
pepita_mirror *rule_pepita_mirror(const rule *r);

/* Factor l's buffer (in_l x out_l). */
const rt_buf *pepita_mirror_factor(const pepita_mirror *m, int l);

#endif
