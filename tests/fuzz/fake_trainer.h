/* A trainer without a device for the checkpoint fuzz target and the seed
 * generator: the preset FC PEPITA MNIST configuration with one hidden layer
 * of FAKE_HIDDEN units, but tiny tensors (their sizes need not match the
 * real network: the checkpoint code only compares them). */
#ifndef PEPITA_FUZZ_FAKE_TRAINER_H
#define PEPITA_FUZZ_FAKE_TRAINER_H

#include "train/trainer_internal.h"

#define FAKE_HIDDEN 3

typedef struct fake_trainer {
    pp_trainer trainer;
    network net;
    rule rule;
    float storage[64]; /* every tensor's values, back to back */
} fake_trainer;

/* Fills f (tensor values from seed); returns 0, or -1 if the preset fails. */
int fake_trainer_init(fake_trainer *f, unsigned seed);

#endif
