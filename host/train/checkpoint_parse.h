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

#endif
