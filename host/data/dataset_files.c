#include "data/dataset_files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/error.h"

static const char *const idx_files[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
static const char *const cifar10_files[] = {"data_batch_1.bin", "data_batch_2.bin",
                                            "data_batch_3.bin", "data_batch_4.bin",
                                            "data_batch_5.bin", "test_batch.bin"};
static const char *const cifar100_files[] = {"train.bin", "test.bin"};

#define IDX_LISTING                                                                                \
    "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "                   \
    "t10k-labels-idx1-ubyte"

typedef struct dataset_place {
    const char *name;        /* as the CLI and datasets/fetch.sh spell it */
    const char *default_dir; /* documented in datasets/README.md */
    const char *subdir;      /* the directory the canonical archive unpacks to */
    const char *listing;     /* the file names, for messages */
    const char *how_to_get;
} dataset_place;

static const dataset_place *place_of(pp_dataset_kind kind) {
    static const dataset_place places[] = {
        [PP_DATASET_MNIST] = {"mnist", "/usr/share/datasets/mnist", "mnist", IDX_LISTING,
                              "download it with `datasets/fetch.sh mnist DIR`, then pass --data "
                              "DIR or set PEPITA_DATA=DIR"},
        [PP_DATASET_FASHION_MNIST] = {"fashion-mnist", "/usr/share/datasets/fashion-mnist",
                                      "fashion-mnist", IDX_LISTING,
                                      "install the Debian package dataset-fashion-mnist (it puts "
                                      "the files in /usr/share/datasets/fashion-mnist), or get "
                                      "them with `datasets/fetch.sh fashion-mnist DIR` and pass "
                                      "--data DIR"},
        [PP_DATASET_CIFAR10] = {"cifar10", "/usr/share/datasets/cifar-10", "cifar-10-batches-bin",
                                "data_batch_1.bin .. data_batch_5.bin, test_batch.bin",
                                "download it with `datasets/fetch.sh cifar10 DIR`, then pass "
                                "--data DIR or set PEPITA_DATA=DIR"},
        [PP_DATASET_CIFAR100] = {"cifar100", "/usr/share/datasets/cifar-100", "cifar-100-binary",
                                 "train.bin, test.bin",
                                 "download it with `datasets/fetch.sh cifar100 DIR`, then pass "
                                 "--data DIR or set PEPITA_DATA=DIR"},
    };
    if ((int)kind < 0 || (size_t)kind >= sizeof places / sizeof places[0]) return NULL;
    return &places[kind];
}

const char *pp_dataset_default_dir(pp_dataset_kind kind) {
    const dataset_place *place = place_of(kind);
    return place ? place->default_dir : NULL;
}

size_t dataset_file_names(pp_dataset_kind kind, const char *const **names) {
    switch (kind) {
    case PP_DATASET_MNIST:
    case PP_DATASET_FASHION_MNIST:
        *names = idx_files;
        return 4;
    case PP_DATASET_CIFAR10:
        *names = cifar10_files;
        return 6;
    case PP_DATASET_CIFAR100:
        *names = cifar100_files;
        return 2;
    case PP_DATASET_NPZ: /* one file or four, found by npz_dataset_load */
        break;
    }
    *names = NULL;
    return 0;
}

/* Anything stat cannot rule out counts as present, so that opening it later
 * reports the real problem (a permission, a directory) rather than "missing". */
static int present(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0) return 1;
    return errno != ENOENT && errno != ENOTDIR;
}

static pp_status join(char *out, const char *dir, const char *name, const char *suffix) {
    int n = snprintf(out, DATASET_PATH_MAX, "%s/%s%s", dir, name, suffix);
    if (n < 0 || n >= DATASET_PATH_MAX)
        return pp_fail(PP_ERR_ARGUMENT, "%s: path too long for %s%s", dir, name, suffix);
    return PP_OK;
}

/* Copies dir without trailing slashes, so that messages show "dir/file". */
static pp_status copy_dir(char *out, const char *dir) {
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len >= DATASET_PATH_MAX) return pp_fail(PP_ERR_ARGUMENT, "%s: path too long", dir);
    memcpy(out, dir, len);
    out[len] = '\0';
    return PP_OK;
}

/* Sets out to the raw file when present, else to the .gz one; *found says
 * whether either is there. */
static pp_status pick(char *out, const char *dir, const char *name, int *found) {
    PP_TRY(join(out, dir, name, ""));
    if (present(out)) {
        *found = 1;
        return PP_OK;
    }
    PP_TRY(join(out, dir, name, ".gz"));
    *found = present(out);
    return PP_OK;
}

/* Whether dir holds any of the dataset's files: the first such candidate
 * directory is the dataset's, and a missing file in it is then reported as
 * that file missing rather than the whole dataset. */
static pp_status holds_any(const char *dir, const char *const *names, size_t n, int *any) {
    char path[DATASET_PATH_MAX];
    *any = 0;
    for (size_t i = 0; i < n && !*any; i++)
        PP_TRY(pick(path, dir, names[i], any));
    return PP_OK;
}

static const char *directory_note(const char *dir) {
    struct stat st;
    if (stat(dir, &st) != 0) return "; it does not exist";
    if (!S_ISDIR(st.st_mode)) return "; it is not a directory";
    return "";
}

pp_status dataset_locate(pp_dataset_kind kind, const char *dir, dataset_files *files) {
    const dataset_place *place = place_of(kind);
    if (!place) return pp_fail(PP_ERR_ARGUMENT, "unknown dataset kind %d", (int)kind);
    const char *origin = "given";
    const char *base = dir;
    if (!base || !*base) {
        base = getenv("PEPITA_DATA");
        origin = "from $PEPITA_DATA";
    }
    if (!base || !*base) {
        base = place->default_dir;
        origin = "the default";
    }

    const char *const *names;
    size_t n = dataset_file_names(kind, &names);
    char candidates[2][DATASET_PATH_MAX];
    PP_TRY(copy_dir(candidates[0], base));
    PP_TRY(join(candidates[1], candidates[0], place->subdir, ""));

    const char *chosen = NULL;
    for (int c = 0; c < 2 && !chosen; c++) {
        int any;
        PP_TRY(holds_any(candidates[c], names, n, &any));
        if (any) chosen = candidates[c];
    }
    if (!chosen)
        return pp_fail(PP_ERR_NOT_FOUND,
                       "%s: %s not found: looked in this directory (%s%s) and in its %s/ "
                       "subdirectory for %s (each raw or .gz); %s",
                       candidates[0], place->name, origin, directory_note(candidates[0]),
                       place->subdir, place->listing, place->how_to_get);

    for (size_t i = 0; i < n; i++) {
        int found;
        PP_TRY(pick(files->paths[i], chosen, names[i], &found));
        if (!found)
            return pp_fail(PP_ERR_NOT_FOUND,
                           "%s/%s: not found (nor %s.gz): the %s files in %s are incomplete; %s",
                           chosen, names[i], names[i], place->name, chosen, place->how_to_get);
    }
    files->count = n;
    return PP_OK;
}
