/* Checkpoint parsing on a buffer in memory: what pp_checkpoint_read_config
 * and pp_trainer_load do once the file is read, callable by the fuzz targets
 * (tests/fuzz/) on arbitrary bytes. name (the file's path) starts every
 * message. */
#ifndef PEPITA_TRAIN_CHECKPOINT_PARSE_H
#define PEPITA_TRAIN_CHECKPOINT_PARSE_H

#include <stddef.h>

#include "pepita/pepita.h"

/* Checks magic, version and checksum, then reads the configuration and the
 * number of completed epochs (epoch may be NULL). */
pp_status checkpoint_parse_config(const unsigned char *data, size_t size, const char *name,
                                  pp_config *config, int *epoch);

/* Validates the whole checkpoint against t's architecture, then restores its
 * weights, momentum, fixed matrices and training position; on failure t is
 * unchanged. */
pp_status checkpoint_restore(pp_trainer *t, const unsigned char *data, size_t size,
                             const char *path);

/* One tensor of a checkpoint, in place (the bytes may be unaligned). */
typedef struct checkpoint_tensor {
    const unsigned char *bytes; /* count floats in the host's byte order */
    size_t count;
} checkpoint_tensor;

#define CHECKPOINT_MAX_TENSORS 16

/* Every tensor of a checkpoint, without a device: per layer its weights and
 * momentum, then the rule's fixed matrices. */
typedef struct checkpoint_tensors {
    int n_layers;
    checkpoint_tensor weights[CHECKPOINT_MAX_TENSORS], momentum[CHECKPOINT_MAX_TENSORS];
    int n_fixed;
    checkpoint_tensor fixed[CHECKPOINT_MAX_TENSORS];
} checkpoint_tensors;

/* Checks magic, version and checksum, reads the configuration and epoch,
 * then walks every tensor; PP_ERR_FORMAT when the counts do not fit the file. */
pp_status checkpoint_parse_tensors(const unsigned char *data, size_t size, const char *name,
                                   pp_config *config, int *epoch, checkpoint_tensors *tensors);

/* A whole checkpoint file into memory (free it). */
pp_status checkpoint_read_file(const char *path, unsigned char **data, size_t *size);

#endif
