/* The learning-rate schedule (decay after the listed epochs, as a PyTorch
 * MultiStepLR stepped once per epoch) and the per-epoch shuffle. */
#include "train/trainer_internal.h"

float trainer_lr_at(const pp_config *config, int epoch) {
    float lr = config->lr;
    for (int i = 0; i < config->n_decay; i++)
        if (epoch > config->decay_epochs[i]) lr *= config->decay_factor;
    return lr;
}

/* splitmix64: a small, well-mixed generator; the shuffle only needs to be
 * reproducible from (seed, epoch), so no state is carried between epochs. */
static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void trainer_shuffle(int32_t *order, size_t n, uint64_t seed, int epoch) {
    uint64_t state = seed * 0x2545F4914F6CDD1Dull + (uint64_t)epoch;
    for (size_t i = 0; i < n; i++)
        order[i] = (int32_t)i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(splitmix64(&state) % i); /* bias negligible for n << 2^64 */
        int32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}
