/* Where a dataset's files are: which directory, and raw or .gz for each file. */
#ifndef PEPITA_DATA_DATASET_FILES_H
#define PEPITA_DATA_DATASET_FILES_H

#include <stddef.h>

#include "pepita/pepita.h"

#define DATASET_MAX_FILES 6
#define DATASET_PATH_MAX 4096

/* The paths of a dataset's files, in the order dataset_file_names gives. */
typedef struct dataset_files {
    size_t count;
    char paths[DATASET_MAX_FILES][DATASET_PATH_MAX];
} dataset_files;

/* The file names a dataset needs (without ".gz"), sets *names and returns how
 * many: MNIST and Fashion-MNIST train images, train labels, test images, test
 * labels; CIFAR-10 the five train batches then the test batch; CIFAR-100
 * train then test. 0 for an unknown kind. */
size_t dataset_file_names(pp_dataset_kind kind, const char *const **names);

/* Finds the dataset in dir (when non-NULL and non-empty), else in
 * $PEPITA_DATA (when set and non-empty), else in pp_dataset_default_dir(kind),
 * or in that directory's dataset subdirectory (mnist/, fashion-mnist/,
 * cifar-10-batches-bin/, cifar-100-binary/). Each file is taken raw when it
 * exists, else with ".gz". PP_ERR_NOT_FOUND names the directories and files
 * it looked for and how to get the dataset. */
pp_status dataset_locate(pp_dataset_kind kind, const char *dir, dataset_files *files);

#endif
