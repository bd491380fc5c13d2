/* pepita-cl public API: train networks with PEPITA and its baselines on OpenCL.
 *
 * Every function returns a pp_status; on failure pp_last_error() gives a
 * detailed message. The library never prints, exits or aborts. No OpenCL
 * type appears here: handles are opaque. */
#ifndef PEPITA_PEPITA_H
#define PEPITA_PEPITA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pp_status {
    PP_OK = 0,
    PP_ERR_ARGUMENT,      /* a bad argument, flag or configuration value */
    PP_ERR_NO_PLATFORM,   /* no OpenCL platform is installed */
    PP_ERR_NO_DEVICE,     /* no device matches the selector */
    PP_ERR_OPENCL,        /* an OpenCL call failed */
    PP_ERR_BUILD,         /* a kernel program failed to build */
    PP_ERR_CLBLAST,       /* a CLBlast call failed */
    PP_ERR_OUT_OF_MEMORY, /* host or device memory exhausted, or a model too large */
    PP_ERR_IO,            /* a file could not be read or written */
    PP_ERR_FORMAT,        /* a malformed file */
    PP_ERR_NOT_FOUND,     /* a file or dataset is missing */
    PP_ERR_MISMATCH,      /* a checkpoint of another model, version or dataset */
    PP_ERR_NUMERIC,       /* NaN or Inf in the loss */
    PP_ERR_INTERRUPTED,   /* stopped on request (SIGINT) */
    PP_ERR_INTERNAL,      /* a bug: please report it */
} pp_status;

/* The library's version ("0.1.0") and the source commit it was built from
 * (`git describe`, "-dirty" for uncommitted changes, or "unknown"). */
const char *pp_version(void);
const char *pp_source_commit(void);

/* The status's name, e.g. "PP_ERR_FORMAT". */
const char *pp_status_name(pp_status status);
/* The detailed message of the last failure on this thread ("" if none). */
const char *pp_last_error(void);
/* The exit code the CLI uses for a status: 0, 1, 2 (bad input), 3 (numeric), 130. */
int pp_status_exit_code(pp_status status);

/* ---- Devices ---------------------------------------------------------- */

typedef struct pp_device_info {
    int platform_index;
    int device_index;
    char platform[128];
    char name[128];
    char type[16]; /* "cpu", "gpu", "accelerator", "other" */
    char vendor[128];
    char driver_version[64];
    char opencl_c_version[64]; /* CL_DEVICE_OPENCL_C_VERSION */
    unsigned compute_units;
    uint64_t global_mem_bytes;
    uint64_t local_mem_bytes;
    uint64_t max_alloc_bytes;
    size_t max_work_group_size;
    unsigned preferred_vector_width; /* CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT */
    unsigned warp_width; /* NVIDIA warp, AMD wavefront, Intel widest sub-group; 0: unknown */
    char profile[8];     /* the launch profile its type gets: "cpu" or "gpu" */
    int is_default;
} pp_device_info;

/* Lists every device of every platform. Free the array with free(). */
pp_status pp_devices_list(pp_device_info **devices, size_t *count);
/* The device of one rank of a data-parallel job as "P:D" in out: the
 * (nth mod count)-th of the devices the selector matches (no selector: of
 * the default device's type), nth being the rank's node-local rank. */
pp_status pp_device_for_rank(const char *selector, int nth, char *out, size_t size);

/* A context owns one device, its queue and the compiled programs.
 * selector: "cpu", "gpu", "P:D", or a case-insensitive part of the device
 * name; NULL or "" means $PEPITA_DEVICE, else the first GPU, else the first CPU. */
typedef struct pp_context pp_context;
pp_status pp_context_create(const char *selector, pp_context **context);
void pp_context_destroy(pp_context *context);
const pp_device_info *pp_context_device(const pp_context *context);

/* ---- Configuration ---------------------------------------------------- */

typedef enum pp_dataset_kind {
    PP_DATASET_MNIST,
    PP_DATASET_FASHION_MNIST,
    PP_DATASET_CIFAR10,
    PP_DATASET_CIFAR100,
    PP_DATASET_NPZ, /* the user's own arrays: an .npz file or a directory of .npy files */
} pp_dataset_kind;

typedef enum pp_model_kind { PP_MODEL_FC, PP_MODEL_CONV } pp_model_kind;

typedef enum pp_rule_kind {
    PP_RULE_PEPITA,
    PP_RULE_BP,
    PP_RULE_FA,
    PP_RULE_DFA,
    PP_RULE_DRTP,
} pp_rule_kind;

/* Which error trains PEPITA's output layer: the paper's Eq. 5 (standard pass)
 * or the reference code's (modulated pass). */
typedef enum pp_output_error {
    PP_OUTPUT_ERROR_STANDARD,
    PP_OUTPUT_ERROR_MODULATED
} pp_output_error;
/* Which pass supplies the presynaptic activity of PEPITA's hidden updates. */
typedef enum pp_presynaptic { PP_PRESYNAPTIC_MODULATED, PP_PRESYNAPTIC_STANDARD } pp_presynaptic;
/* What modulates the input: the error (PEPITA), nothing (the F = 0 control),
 * or uniform noise in [-A, A] in place of the error (the random-perturbation
 * control; A = random_amplitude). */
typedef enum pp_modulation {
    PP_MODULATION_ERROR,
    PP_MODULATION_ZERO,
    PP_MODULATION_RANDOM
} pp_modulation;

/* PEPITA's update (the follow-up's variants, Srinivasan et al., ICLR 2024). */
typedef enum pp_update_form {
    PP_UPDATE_DIFFERENCE, /* the ICML rule: (h - h') h_{l-1}'^T, output e h_{L-1}'^T */
    PP_UPDATE_HEBBIAN,    /* "mixed": h h_{l-1}^T - h' h_{l-1}'^T, output y h^T - t h'^T */
    PP_UPDATE_TIME_LOCAL, /* two optimiser steps per batch: +h h_{l-1}^T after the standard
                             pass, then -h' h_{l-1}'^T after a modulated pass with the new
                             weights (output y h^T, then -t h'^T) */
} pp_update_form;

#define PP_MAX_HIDDEN 8
#define PP_MAX_DECAY 8
#define PP_MAX_ARCH 128

typedef struct pp_config {
    pp_dataset_kind dataset;
    pp_model_kind model;
    pp_rule_kind rule;
    int hidden[PP_MAX_HIDDEN]; /* FC hidden widths */
    int n_hidden;
    int conv_filters; /* conv model: 32 */
    int conv_kernel;  /* conv model: 5 */
    int epochs;
    int batch;
    float lr;
    int decay_epochs[PP_MAX_DECAY]; /* lr *= decay_factor at the start of these epochs */
    int n_decay;
    float decay_factor;
    float momentum;
    float weight_decay;
    float dropout; /* on hidden FC layers */
    float f_scale; /* F ~ U(-a, a), a = f_scale * sqrt(6 / input size) */
    uint64_t seed;
    pp_output_error output_error;
    pp_presynaptic presynaptic;
    pp_modulation modulation;
    float random_amplitude; /* PP_MODULATION_RANDOM */
    /* PEPITA: run W_1 (x + e F^T) in full instead of the exact shortcut
     * W_1 x + e (W_1 F)^T (for checking; slower) */
    int naive_modulated_pass;
    int cifar100_coarse; /* CIFAR-100: train on the 20 coarse labels */
    int analysis;        /* per-epoch angle, norms and final histograms */
    /* The hidden layers as text, e.g. "conv32k5,pool2,conv64k5,pool2,fc1024"
     * (grammar: README, "Architectures"); "" for the preset's (--hidden, or
     * the conv model's single conv layer). With conv layers the model is conv. */
    char arch[PP_MAX_ARCH];
    /* The follow-up's variants of PEPITA (fully connected networks): */
    pp_update_form update_form;
    int normalise;      /* h <- h / ||h||_F over the batch after each hidden activation */
    int mirror;         /* weight mirroring: F = B_1 ... B_L, learned from noise */
    float mirror_lr;    /* eta */
    float mirror_decay; /* lambda */
    float mirror_noise; /* the std of the mirroring noise */
    int pre_mirror;     /* epochs of mirroring only, at the start */
    int mirror_every;   /* also mirror during epoch e (1-based) when e % mirror_every == 0;
                           0: never after the pre-mirror epochs */
} pp_config;

/* Fills the paper's Table 2 preset for a dataset, model and rule. */
pp_status pp_config_preset(pp_config *config, pp_dataset_kind dataset, pp_model_kind model,
                           pp_rule_kind rule);
/* Applies a preset of the follow-up's variants on top of a configuration:
 * "wm", "norm", "hebbian" or "time-local" (the values: README, "Variants"). */
pp_status pp_config_variant(pp_config *config, const char *name);
/* Checks every field; the message names the offending flag. */
pp_status pp_config_validate(const pp_config *config);

const char *pp_dataset_name(pp_dataset_kind kind);    /* "mnist", "fashion-mnist", ... */
const char *pp_model_name(pp_model_kind kind);        /* "fc", "conv" */
const char *pp_rule_name(pp_rule_kind kind);          /* "pepita", "bp", ... */
const char *pp_update_form_name(pp_update_form form); /* "difference", "hebbian", "time-local" */
pp_status pp_dataset_parse(const char *name, pp_dataset_kind *kind);
pp_status pp_model_parse(const char *name, pp_model_kind *kind);
pp_status pp_rule_parse(const char *name, pp_rule_kind *kind);

/* ---- Datasets --------------------------------------------------------- */

/* A dataset in host memory: n samples of channels x height x width values
 * (CHW) and one label each. The values are uint8 pixels, scaled to [0, 1]
 * when batched, or float32 features used as they are. A dataset filled by
 * hand must start zeroed (features NULL) or come from pp_dataset_from_memory. */
typedef struct pp_dataset {
    size_t n;
    int channels, height, width;
    int classes;
    uint8_t *pixels; /* n * channels * height * width, or NULL when features */
    uint8_t *labels; /* n */
    float *features; /* n * channels * height * width, or NULL when pixels */
} pp_dataset;

/* Loads the train and test splits from dir (NULL: $PEPITA_DATA, else the
 * default location for the dataset). Every header, size and label is
 * validated; errors name the file and what is wrong. For PP_DATASET_NPZ,
 * dir is an .npz file holding x_train, y_train, x_test and y_test, or a
 * directory holding those four as .npy files (see pp_dataset_from_memory
 * for what the arrays may be). */
pp_status pp_dataset_load(pp_dataset_kind kind, const char *dir, int cifar100_coarse,
                          pp_dataset *train, pp_dataset *test);

/* The element type of samples handed to pp_dataset_from_memory. */
typedef enum pp_sample_type { PP_SAMPLES_UINT8, PP_SAMPLES_FLOAT32 } pp_sample_type;

/* A dataset made from arrays in memory (both copied): n samples of
 * channels x height x width values of the given type, C order (a feature
 * vector is 1 x 1 x d), and n labels in [0, classes). classes <= 0 infers
 * it as the largest label + 1; at most 256 classes. Floats must be finite.
 * The training and test sets passed to pp_trainer_create must agree in
 * shape, type and class count. */
pp_status pp_dataset_from_memory(const void *samples, pp_sample_type type, size_t n, int channels,
                                 int height, int width, const int32_t *labels, int classes,
                                 pp_dataset *dataset);
void pp_dataset_free(pp_dataset *dataset);
/* Where the dataset is looked for when no directory is given. */
const char *pp_dataset_default_dir(pp_dataset_kind kind);

/* ---- Training --------------------------------------------------------- */

typedef struct pp_trainer pp_trainer;

typedef struct pp_epoch_stats {
    int epoch; /* 1-based */
    float lr;
    double train_loss, train_accuracy;
    double test_loss, test_accuracy;
    double seconds;
    double samples_per_second;
    /* data-parallel runs (mpirun): seconds of the epoch spent staging and
     * summing the ranks' updates, and of those in MPI_Allreduce; 0 otherwise */
    double exchange_seconds, allreduce_seconds;
    /* with config.analysis */
    double angle_degrees; /* between flattened W_L...W_1 and F^T (FC models) */
    int n_norms;
    double weight_norms[PP_MAX_HIDDEN + 2];
} pp_epoch_stats;

/* Called during an epoch after each batch; return non-zero to stop after it. */
typedef int (*pp_progress_fn)(void *user, size_t batch_index, size_t batch_count,
                              double running_loss, double running_accuracy, double seconds);

/* Creates a trainer: builds the network, uploads the dataset once. */
pp_status pp_trainer_create(pp_context *context, const pp_config *config, const pp_dataset *train,
                            const pp_dataset *test, pp_trainer **trainer);
void pp_trainer_destroy(pp_trainer *trainer);
const pp_config *pp_trainer_config(const pp_trainer *trainer);
/* Epochs completed so far. */
int pp_trainer_epoch(const pp_trainer *trainer);
/* Trains one epoch and evaluates on the test set. Returns PP_ERR_NUMERIC on
 * NaN/Inf loss and PP_ERR_INTERRUPTED if progress asked to stop (the epoch is
 * then not counted). */
pp_status pp_trainer_run_epoch(pp_trainer *trainer, pp_progress_fn progress, void *user,
                               pp_epoch_stats *stats);
/* Test loss and accuracy of the current weights. */
pp_status pp_trainer_evaluate(pp_trainer *trainer, double *loss, double *accuracy);

/* Checkpoints: weights, momentum, feedback matrices, RNG state, epoch and the
 * whole configuration; written atomically with a magic, a version and a
 * checksum. */
pp_status pp_trainer_save(const pp_trainer *trainer, const char *path);
/* Reads a checkpoint's configuration and epoch without creating anything. */
pp_status pp_checkpoint_read_config(const char *path, pp_config *config, int *epoch);
/* Restores a trainer (created with the checkpoint's configuration) from a checkpoint. */
pp_status pp_trainer_load(pp_trainer *trainer, const char *path);
/* pp_trainer_load to continue training: also refuses a checkpoint of a
 * data-parallel run with another number of MPI ranks (PP_ERR_MISMATCH). */
pp_status pp_trainer_resume(pp_trainer *trainer, const char *path);

/* Writes a checkpoint's tensors and configuration to an .npz archive that
 * numpy.load reads (written to a temporary name, fsynced, renamed), with no
 * device needed. Arrays, float32, C order:
 *   w1..wL         layer weights: dense (out, in), conv (filters, C, k, k)
 *   momentum1..L   the optimiser's velocity, shaped as the weights
 *   F              PEPITA's fixed feedback, (input size, classes)
 *   B2..BL         FA's feedback, shaped as w2..wL
 *   B1..B(L-1)     DFA's and DRTP's feedback, (classes, units of layer l)
 *   config         a JSON string: dataset, model, rule, shapes, activations,
 *                  hyperparameters, epochs completed
 * data is the training or test set (only its shape and class count are
 * used); it is needed only when the checkpoint cannot tell the input shape:
 * a model trained on PP_DATASET_NPZ that is conv or has no hidden layer.
 * Otherwise NULL. */
pp_status pp_checkpoint_export_npz(const char *checkpoint, const pp_dataset *data,
                                   const char *npz_path);

/* Copies the current weights of layer `layer` to the host (for analysis). */
pp_status pp_trainer_layer_count(const pp_trainer *trainer, int *count);
pp_status pp_trainer_read_weights(pp_trainer *trainer, int layer, float **values, size_t *count);

/* The analysis of the current weights (needs config.analysis): fills
 * angle_degrees (PEPITA FC; NaN otherwise), n_norms and weight_norms of stats. */
pp_status pp_trainer_analyse(pp_trainer *trainer, pp_epoch_stats *stats);

/* Histogram of layer `layer`'s weights over [lo, hi) in `bins` bins (values
 * outside fall in the end bins). */
pp_status pp_trainer_weight_histogram(pp_trainer *trainer, int layer, int bins, float lo, float hi,
                                      uint32_t *counts);

#ifdef __cplusplus
}
#endif
#endif
