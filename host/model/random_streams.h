/* Every Philox-4x32-10 stream the library draws from, in one list, so that no
 * two draws share one. A draw is keyed by (seed, stream); a matrix with one
 * stream per layer takes `base + layer` (layer < NET_MAX_LAYERS = 10, so
 * bases are 20 apart). */
#ifndef PEPITA_MODEL_RANDOM_STREAMS_H
#define PEPITA_MODEL_RANDOM_STREAMS_H

enum random_stream {
    STREAM_WEIGHTS = 0,          /* + layer: the He-uniform initial weights */
    STREAM_PEPITA_F = 100,       /* PEPITA's F */
    STREAM_FA_FEEDBACK = 120,    /* + layer: FA's B_l */
    STREAM_DFA_FEEDBACK = 140,   /* + layer: DFA's B_l */
    STREAM_DRTP_FEEDBACK = 160,  /* + layer: DRTP's B_l */
    STREAM_MIRROR_FACTORS = 180, /* + layer: weight mirroring's initial B_l (normal) */
};

/* Not streams of this list: dropout masks are keyed by counter (unit / 4,
 * step, layer, 1) inside the kernel, and the random-modulation control's
 * noise by (seed ^ RANDOM_MODULATION_SEED_SALT, step). */
#define RANDOM_MODULATION_SEED_SALT 0x5EED0F5EED0F5EEDull
/* Weight mirroring's noise: normal values at counter (i, step, 1 + layer)
 * (the factors' initial draws use b = 0), and its dropout masks at layer
 * MIRROR_DROPOUT_LAYER + layer, apart from the training passes' masks. */
#define MIRROR_NOISE_B 1u
#define MIRROR_DROPOUT_LAYER 64u
/* Time-local's modulated pass draws fresh masks, at layer
 * TIME_LOCAL_DROPOUT_LAYER + layer (the follow-up resets its masks after the
 * first step; the other forms keep the standard pass's masks, as it does). */
#define TIME_LOCAL_DROPOUT_LAYER 32u

#endif
