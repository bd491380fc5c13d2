/* The device profile: every launch shape, kernel variant and default that the
 * operators choose per device, filled once when a context is created from
 * the device's queries (pp_device_info). Operators read these fields and
 * never test the device type themselves. $PEPITA_PROFILE=cpu|gpu forces the
 * choices of the other kind, so both sets run (and are tested) on PoCL. */
#ifndef PEPITA_RUNTIME_DEVICE_PROFILE_H
#define PEPITA_RUNTIME_DEVICE_PROFILE_H

#include <stddef.h>

#include "pepita/pepita.h"

typedef enum rt_profile_kind { RT_PROFILE_CPU, RT_PROFILE_GPU } rt_profile_kind;

typedef struct rt_device_profile {
    rt_profile_kind kind;
    int forced; /* chosen by $PEPITA_PROFILE rather than the device type */

    /* One-dimensional element-wise launches: work-items per group. */
    size_t elementwise_local;
    /* Activations with dropout: elements per work-item. 64: sixteen Philox
     * blocks in 16-wide vectors per work-item (ReLU and identity; 4 for the
     * other activations). 4: one Philox block
     * in four unrolled lanes, which PoCL vectorises across work-items (a CPU
     * runs few work-items, each wide); 1: one element per work-item with
     * consecutive work-items on consecutive elements (coalesced on a GPU). */
    int dropout_elements_per_item;
    /* Work-items per group of the 64-element dropout kernels (CPUs: 1, the
     * kernel's explicit 16-wide vectors are the vectorisation). */
    size_t dropout_vector_local;
    /* Runs of 64 elements per work-item of those kernels. */
    int dropout_vector_runs;

    /* Convolution: the widest row tile (4, 8 or 16 floats) of the tiled
     * kernels; the work-group of the tiled forward and input-gradient
     * kernels (tiles x rows; 0 in tiles: as many as the row has, rounded up to
     * a power of two, times rows to make tile_group_items); the work-group of
     * the per-element kernels; the work-items summing one (filter, channel)
     * pair of the weight gradient, for the tiled and per-element kernels. */
    int conv_max_vector;
    size_t conv_tile_local[2];
    size_t conv_tile_group_items;
    size_t conv_point_local[2];
    size_t conv_wgrad_local_tiled, conv_wgrad_local_point;

    /* Max-pooling: 4 windows per work-item in vector code, one work-group
     * per plane (CPU); or 1 window per work-item over a flat range in
     * groups of elementwise_local (GPU). */
    int pool_windows_per_item;

    /* Softmax/sigmoid error: 0, one work-item per sample looping over the
     * classes (CPU); 1, one work-group per sample with local-memory trees for
     * the maximum and the sums (GPU). */
    int output_error_group_per_row;

    /* Two-stage reductions: group size, terms per work-item before another
     * group is worth it, and the most groups. */
    size_t reduce_local, reduce_items_per_item, reduce_max_groups;

    /* SGD with PEPITA's W_1 F formed in the same pass (sgd_momentum_project):
     * work-items per block of rows, the floats each one loads at a time, and
     * the rows of a block, which share each load of F (CPU: one work-item
     * of the device's widest vectors on two rows, 2 x 10 accumulators; GPU:
     * a group of scalar ones per row). */
    size_t project_local;
    int project_vector;
    int project_rows;

    /* GEMM: the path taken without a measurement (1 CLBlast, 0 the native
     * CPU kernels), and whether the dispatch measures both paths per shape. */
    int gemm_default_clblast;
    int gemm_measure;
    /* The most bytes of weights and momentum (2 x 4 bytes a weight) whose SGD
     * step the native GEMM takes in its store (op_gemm_sgd_step): above it
     * the separate step's streams run faster than the product's tile rows. */
    size_t gemm_step_max_bytes;
} rt_device_profile;

/* The profile for a device; $PEPITA_PROFILE (cpu, gpu, or unset/empty/auto)
 * overrides the kind, and an invalid value fails with PP_ERR_ARGUMENT. */
pp_status rt_device_profile_make(const pp_device_info *info, rt_device_profile *out);

/* The kind a device gets without $PEPITA_PROFILE. */
rt_profile_kind rt_device_profile_natural(const pp_device_info *info);

/* "cpu" or "gpu". */
const char *rt_profile_kind_name(rt_profile_kind kind);

#endif
