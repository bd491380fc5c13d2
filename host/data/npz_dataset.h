/* The user's own data: x_train, y_train, x_test and y_test from an .npz
 * archive or from four .npy files in a directory. */
#ifndef PEPITA_DATA_NPZ_DATASET_H
#define PEPITA_DATA_NPZ_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "pepita/pepita.h"

/* Loads both splits from path: an .npz file, or a directory holding
 * x_train.npy, y_train.npy, x_test.npy and y_test.npy (each may be .gz).
 * Samples: uint8 or float32, N x ... (N x H x W and N x C x H x W keep their
 * image shape; other shapes are flattened to feature vectors). Labels: a
 * 1-d integer array of N. The class count is the largest label + 1, at most
 * 256. Every message names the file and the array. */
pp_status npz_dataset_load(const char *path, pp_dataset *train, pp_dataset *test);

/* The same on an .npz archive already in memory (the fuzz target's entry);
 * path names it in messages. */
pp_status npz_dataset_parse(const uint8_t *data, size_t size, const char *path, pp_dataset *train,
                            pp_dataset *test);

#endif
