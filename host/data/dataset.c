/* pp_dataset_load: reads a dataset's train and test splits into host memory. */
#include <stdlib.h>
#include <string.h>

#include "data/cifar.h"
#include "data/dataset_files.h"
#include "data/gz_reader.h"
#include "data/idx.h"
#include "data/npz_dataset.h"
#include "pepita/pepita.h"
#include "runtime/error.h"

#define MNIST_SIDE 28
#define MNIST_CLASSES 10

void pp_dataset_free(pp_dataset *dataset) {
    if (!dataset) return;
    free(dataset->pixels);
    free(dataset->labels);
    free(dataset->features);
    memset(dataset, 0, sizeof *dataset);
}

/* Moves the payload to the front of the file buffer and shrinks it, so the
 * buffer becomes the dataset's array without a second copy of it. */
static uint8_t *keep_payload(uint8_t *buffer, const uint8_t *payload, size_t bytes) {
    memmove(buffer, payload, bytes);
    uint8_t *shrunk = realloc(buffer, bytes);
    return shrunk ? shrunk : buffer;
}

/* One MNIST-like split. On failure out may hold a partial allocation: the
 * caller frees it. */
static pp_status load_idx_split(const char *images_path, const char *labels_path, pp_dataset *out) {
    uint8_t *data;
    size_t size;
    PP_TRY(gz_read_file(images_path, GZ_READER_MAX_BYTES, &data, &size));
    idx_images images;
    pp_status status = idx_parse_images(data, size, images_path, MNIST_SIDE, MNIST_SIDE, &images);
    if (status != PP_OK) {
        free(data);
        return status;
    }
    out->n = images.count;
    out->channels = 1;
    out->height = MNIST_SIDE;
    out->width = MNIST_SIDE;
    out->classes = MNIST_CLASSES;
    out->pixels = keep_payload(data, images.pixels, images.count * MNIST_SIDE * MNIST_SIDE);

    PP_TRY(gz_read_file(labels_path, GZ_READER_MAX_BYTES, &data, &size));
    idx_labels labels;
    status = idx_parse_labels(data, size, labels_path, MNIST_CLASSES, &labels);
    if (status == PP_OK && labels.count != images.count)
        status = pp_fail(PP_ERR_FORMAT, "%s: %zu labels, but %s holds %zu images", labels_path,
                         labels.count, images_path, images.count);
    if (status != PP_OK) {
        free(data);
        return status;
    }
    out->labels = keep_payload(data, labels.labels, labels.count);
    return PP_OK;
}

/* Appends one CIFAR batch file to out. */
static pp_status append_cifar_batch(const char *path, cifar_variant variant, int coarse,
                                    pp_dataset *out) {
    uint8_t *data;
    size_t size, count = 0;
    PP_TRY(gz_read_file(path, GZ_READER_MAX_BYTES, &data, &size));
    pp_status status = cifar_parse(data, size, path, variant, &count);
    size_t total = out->n + count;
    if (status == PP_OK && (total < count || total > SIZE_MAX / CIFAR_PIXELS))
        status = pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: too many records in total (%zu)", path, total);
    if (status == PP_OK) {
        uint8_t *pixels = realloc(out->pixels, total * CIFAR_PIXELS);
        if (pixels) out->pixels = pixels;
        uint8_t *labels = pixels ? realloc(out->labels, total) : NULL;
        if (labels) out->labels = labels;
        if (!pixels || !labels)
            status =
                pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu records", path, total);
    }
    if (status == PP_OK) {
        cifar_unpack(data, count, variant, coarse, out->pixels + out->n * CIFAR_PIXELS,
                     out->labels + out->n);
        out->n = total;
    }
    free(data);
    return status;
}

/* One CIFAR split made of n_paths batch files, concatenated in order. */
static pp_status load_cifar_split(char (*paths)[DATASET_PATH_MAX], size_t n_paths,
                                  cifar_variant variant, int coarse, pp_dataset *out) {
    out->channels = CIFAR_CHANNELS;
    out->height = CIFAR_SIDE;
    out->width = CIFAR_SIDE;
    out->classes = cifar_classes(variant, coarse);
    for (size_t i = 0; i < n_paths; i++)
        PP_TRY(append_cifar_batch(paths[i], variant, coarse, out));
    return PP_OK;
}

pp_status pp_dataset_load(pp_dataset_kind kind, const char *dir, int cifar100_coarse,
                          pp_dataset *train, pp_dataset *test) {
    if (!train || !test || train == test)
        return pp_fail(PP_ERR_ARGUMENT, "pp_dataset_load: train and test must be two datasets");
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (kind == PP_DATASET_NPZ) {
        const char *path = dir && *dir ? dir : getenv("PEPITA_DATA");
        return npz_dataset_load(path, train, test);
    }
    /* 24 KiB of paths: on the heap, to be kind to small thread stacks. */
    dataset_files *files = malloc(sizeof *files);
    if (!files) return pp_fail(PP_ERR_OUT_OF_MEMORY, "pp_dataset_load: out of memory");
    pp_status status = dataset_locate(kind, dir, files);
    if (status == PP_OK) {
        switch (kind) {
        case PP_DATASET_MNIST:
        case PP_DATASET_FASHION_MNIST:
            status = load_idx_split(files->paths[0], files->paths[1], train);
            if (status == PP_OK) status = load_idx_split(files->paths[2], files->paths[3], test);
            break;
        case PP_DATASET_CIFAR10:
            status = load_cifar_split(files->paths, 5, CIFAR_10, 0, train);
            if (status == PP_OK) status = load_cifar_split(files->paths + 5, 1, CIFAR_10, 0, test);
            break;
        case PP_DATASET_CIFAR100:
            status = load_cifar_split(files->paths, 1, CIFAR_100, cifar100_coarse, train);
            if (status == PP_OK)
                status = load_cifar_split(files->paths + 1, 1, CIFAR_100, cifar100_coarse, test);
            break;
        case PP_DATASET_NPZ:
            break;
        }
    }
    free(files);
    if (status != PP_OK) {
        pp_dataset_free(train);
        pp_dataset_free(test);
    }
    return status;
}
