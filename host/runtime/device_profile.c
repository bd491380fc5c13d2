/* The device profile: the operators' launch choices per kind of device. */
#include "runtime/device_profile.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/error.h"

const char *rt_profile_kind_name(rt_profile_kind kind) {
    return kind == RT_PROFILE_GPU ? "gpu" : "cpu";
}

/* GPUs, accelerators and anything unknown get the GPU shapes: wide groups
 * and coalesced access are right for every throughput device; only CPUs run
 * few wide work-items best. */
rt_profile_kind rt_device_profile_natural(const pp_device_info *info) {
    return !strcmp(info->type, "cpu") ? RT_PROFILE_CPU : RT_PROFILE_GPU;
}

static pp_status forced_kind(rt_profile_kind *kind, int *forced) {
    const char *env = getenv("PEPITA_PROFILE");
    *forced = 0;
    if (!env || !*env || !strcmp(env, "auto")) return PP_OK;
    if (!strcmp(env, "cpu"))
        *kind = RT_PROFILE_CPU;
    else if (!strcmp(env, "gpu"))
        *kind = RT_PROFILE_GPU;
    else
        return pp_fail(PP_ERR_ARGUMENT, "PEPITA_PROFILE='%s' is not one of cpu, gpu, auto", env);
    *forced = 1;
    return PP_OK;
}

/* Measured on PoCL 3.1, 2-core AVX-512 Xeon/EPYC (see each operator for
 * the figures): one work-item per group wherever a kernel keeps its work in
 * wide vectors. */
static void cpu_choices(const pp_device_info *info, rt_device_profile *p) {
    /* ReLU + dropout on 64x1024: 174-179 -> 89-93 us of CPU per call, with the
     * modulated pass's difference 241-249 -> 104-106, backward 164-176 ->
     * 97-104 (PoCL 3.1, AMD EPYC AVX-512; bench/README.md), against four
     * elements per work-item, whose strided lanes PoCL vectorised into
     * gathers and scatters */
    p->dropout_elements_per_item = 64;
    p->dropout_vector_local = 1;
    p->dropout_vector_runs = 8; /* 1 run: 100-120 us, 4-32: 87-105 */
    /* PoCL widens to the device's vectors; narrower devices get narrower tiles */
    p->conv_max_vector = info->preferred_vector_width >= 16  ? 16
                         : info->preferred_vector_width >= 8 ? 8
                                                             : 4;
    p->conv_tile_local[0] = 1;
    p->conv_tile_local[1] = 8;
    p->conv_tile_group_items = 8;
    p->conv_point_local[0] = 16;
    p->conv_point_local[1] = 1;
    /* the tiled weight gradient: 80 GFLOP/s with one work-item per pair, 45 with 64 */
    p->conv_wgrad_local_tiled = 1;
    p->conv_wgrad_local_point = 64;
    p->pool_windows_per_item = 4;
    p->output_error_group_per_row = 0;
    p->project_local = 1;
    p->project_vector = p->conv_max_vector;
    p->project_rows = 2;
    p->gemm_default_clblast = 0;
}

/* Not measured on a GPU yet (bench/device-check.sh does it): groups of 64-256
 * work-items, multiples of the 32/64-wide warps and wavefronts, consecutive
 * work-items on consecutive addresses, trees in local memory. */
static void gpu_choices(rt_device_profile *p) {
    p->dropout_elements_per_item = 1;
    p->dropout_vector_local = 64; /* unused while one element per work-item */
    p->dropout_vector_runs = 1;
    p->conv_max_vector = 4; /* 25 float16 accumulators per work-item would spill */
    p->conv_tile_local[0] = 0;
    p->conv_tile_local[1] = 0;
    p->conv_tile_group_items = 64;
    p->conv_point_local[0] = 16;
    p->conv_point_local[1] = 4;
    p->conv_wgrad_local_tiled = 64;
    p->conv_wgrad_local_point = 64;
    p->pool_windows_per_item = 1;
    p->output_error_group_per_row = 1;
    p->project_local = 256;
    p->project_vector = 1;
    p->project_rows = 1;
    p->gemm_default_clblast = 1;
}

pp_status rt_device_profile_make(const pp_device_info *info, rt_device_profile *out) {
    rt_device_profile p = {.kind = rt_device_profile_natural(info)};
    PP_TRY(forced_kind(&p.kind, &p.forced));
    p.elementwise_local = 256;
    p.reduce_local = 256;
    p.reduce_items_per_item = 16; /* n = 3M: 512 groups of ~24 terms per work-item */
    p.reduce_max_groups = 512;
    /* PoCL CPU, a weight gradient of k = 64 (bench/README.md): 1024x784's
     * step (6.4 MB) 653 -> 603 us in the store; 1024x3072's (25 MB) 1.2 ms
     * slower there than in its own pass. GPUs take CLBlast's GEMM by
     * default, where the store holds no step. */
    p.gemm_step_max_bytes = (size_t)8 << 20;
    if (p.kind == RT_PROFILE_CPU)
        cpu_choices(info, &p);
    else
        gpu_choices(&p);
    /* Measuring the GEMM paths means timing them: on PoCL's CPU device CLBlast
     * ran 5-40x slower than the native kernels at every training shape and its
     * kernels took 14 of a cold start's 20 s to build; a simulator's timings
     * say nothing. The measurement runs elsewhere ($PEPITA_GEMM_MEASURE=1
     * forces it). */
    const int pocl_cpu =
        !strcmp(info->type, "cpu") && strstr(info->platform, "Portable Computing Language") != NULL;
    const int simulator = strstr(info->platform, "Oclgrind") != NULL;
    const char *measure = getenv("PEPITA_GEMM_MEASURE");
    p.gemm_measure = (measure && !strcmp(measure, "1")) || !(pocl_cpu || simulator);
    *out = p;
    return PP_OK;
}
