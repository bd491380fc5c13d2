/* The host runtime: the only code that calls the OpenCL API.
 *
 * Owns the device, context and queue, builds embedded kernel programs per
 * device and caches them, allocates buffers (tracking live and peak bytes),
 * and launches kernels with checked arguments. Operators (host/ops) call
 * this; learning rules call operators. */
#ifndef PEPITA_RUNTIME_RUNTIME_H
#define PEPITA_RUNTIME_RUNTIME_H

#include <CL/cl.h>
#include <stddef.h>
#include <stdint.h>

#include "pepita/pepita.h"
#include "runtime/device_profile.h"
#include "runtime/error.h"

/* "CL_OUT_OF_RESOURCES" for -5, etc. */
const char *rt_cl_error_name(cl_int code);
/* Records "<what> (CL_NAME)" and returns PP_ERR_OPENCL, or PP_ERR_OUT_OF_MEMORY
 * for the allocation failures. */
pp_status rt_cl_fail(cl_int code, const char *what);

/* Returns from the enclosing function when an OpenCL call fails. */
#define RT_CHECK(call, what)                                                                       \
    do {                                                                                           \
        cl_int rt_check_code_ = (call);                                                            \
        if (rt_check_code_ != CL_SUCCESS) return rt_cl_fail(rt_check_code_, what);                 \
    } while (0)

typedef struct rt_program_cache rt_program_cache; /* private to program.c */
typedef struct rt_profile rt_profile;             /* private to profile.c */

typedef struct rt_buf {
    cl_mem mem;
    size_t bytes;
} rt_buf;

typedef struct rt_context {
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    pp_device_info info;
    rt_device_profile device_profile;   /* every operator's launch choices for this device */
    int opencl_c_major, opencl_c_minor; /* from CL_DEVICE_OPENCL_C_VERSION */
    rt_program_cache *programs;
    size_t bytes_live, bytes_peak; /* device memory held by rt_buf */
    rt_profile *profile;           /* NULL unless profiling was requested */
    rt_buf scratch;                /* rt_scratch's: grows, kept until the context goes */
    void *gemm_state;              /* owned by ops/gemm.c */
    void (*gemm_state_free)(void *);
    /* Test hook (tests/test_faults.c): with $PEPITA_FAULT_AFTER_LAUNCHES = N
     * at context creation, the N-th rt_launch fails with CL_OUT_OF_RESOURCES
     * without enqueueing anything. 0: off. */
    unsigned long fault_after_launches;
    unsigned long launches;
} rt_context;

/* Enumerates devices into an array (free()). Index order: platform, device. */
pp_status rt_devices_list(pp_device_info **devices, size_t *count);
/* Resolves a selector ("cpu", "gpu", "P:D", name part; NULL/"" = $PEPITA_DEVICE
 * or default) to a platform and device index. */
pp_status rt_device_select(const char *selector, int *platform_index, int *device_index);

/* Opens device P:D and describes it. */
pp_status rt_device_open(int platform_index, int device_index, cl_platform_id *platform,
                         cl_device_id *device, pp_device_info *info);

/* Creates a context on the selected device. profiling != 0 records the
 * duration of every launch per kernel name (see rt_profile_*). */
pp_status rt_context_create(const char *selector, int profiling, rt_context **out);
void rt_context_destroy(rt_context *ctx);
/* The runtime context behind a public handle. */
rt_context *pp_context_runtime(pp_context *context);
/* pp_context_create with every launch profiled (internal: pepita-bench). */
pp_status pp_context_create_profiling(const char *selector, pp_context **context);
/* Waits for all enqueued work (one per epoch or progress tick, never per kernel). */
pp_status rt_finish(rt_context *ctx);

/* ---- Buffers ---------------------------------------------------------- */

/* Allocates a device buffer, zero-filled. A zero-size request allocates 4 bytes. */
pp_status rt_buf_create(rt_context *ctx, size_t bytes, rt_buf *out);
/* Releases and zeroes the handle; safe on a zeroed handle. */
void rt_buf_release(rt_context *ctx, rt_buf *buf);
/* A device buffer of at least `bytes` for an operator's temporaries within
 * its own launches (the queue is in order, so the next operator that takes
 * it runs after them): allocated once and grown, not per call. Not zeroed. */
pp_status rt_scratch(rt_context *ctx, size_t bytes, rt_buf **out);
/* Blocking copies between host and device; offsets in bytes. */
pp_status rt_buf_write(rt_context *ctx, rt_buf *buf, size_t offset, size_t bytes, const void *src);
pp_status rt_buf_read(rt_context *ctx, const rt_buf *buf, size_t offset, size_t bytes, void *dst);
/* Non-blocking small upload (e.g. a batch's indices): src must stay valid
 * until the next rt_finish or blocking call. */
pp_status rt_buf_write_async(rt_context *ctx, rt_buf *buf, size_t offset, size_t bytes,
                             const void *src);
/* Device-side copy; offsets in bytes. */
pp_status rt_buf_copy(rt_context *ctx, const rt_buf *src, size_t src_offset, rt_buf *dst,
                      size_t dst_offset, size_t bytes);
/* Sets bytes [offset, offset+bytes) to zero. */
pp_status rt_buf_zero(rt_context *ctx, rt_buf *buf, size_t offset, size_t bytes);

/* ---- Kernels ---------------------------------------------------------- */

/* A kernel of an embedded program. Owned by the context's cache. */
typedef struct rt_kernel {
    cl_kernel kernel;
    const char *name;
    size_t max_work_group_size; /* CL_KERNEL_WORK_GROUP_SIZE for this device */
    size_t preferred_multiple;  /* CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE */
} rt_kernel;

/* Gets kernel `name` from program `program` (cl/<program>.cl, with
 * cl/common.cl prepended), built with `defines` (e.g. "-DTILE_M=8", may be
 * NULL). Built once per (program, defines) and cached for the context's life;
 * a build failure reports the file, device, options and build log. */
pp_status rt_kernel_get(rt_context *ctx, const char *program, const char *name, const char *defines,
                        rt_kernel **out);

/* Builds an arbitrary source (tests use it for a deliberately broken kernel). */
pp_status rt_program_build_source(rt_context *ctx, const char *label, const char *source,
                                  const char *defines, cl_program *out);

typedef enum rt_arg_kind {
    RT_ARG_KIND_BUF,
    RT_ARG_KIND_INT,
    RT_ARG_KIND_UINT,
    RT_ARG_KIND_FLOAT,
    RT_ARG_KIND_LOCAL,
} rt_arg_kind;

typedef struct rt_arg {
    rt_arg_kind kind;
    union {
        const rt_buf *buf;
        int32_t i;
        uint32_t u;
        float f;
        size_t local_bytes;
    } value;
} rt_arg;

#define RT_BUF(b) ((rt_arg){.kind = RT_ARG_KIND_BUF, .value.buf = (b)})
#define RT_INT(x) ((rt_arg){.kind = RT_ARG_KIND_INT, .value.i = (int32_t)(x)})
#define RT_UINT(x) ((rt_arg){.kind = RT_ARG_KIND_UINT, .value.u = (uint32_t)(x)})
#define RT_FLOAT(x) ((rt_arg){.kind = RT_ARG_KIND_FLOAT, .value.f = (float)(x)})
#define RT_LOCAL(bytes) ((rt_arg){.kind = RT_ARG_KIND_LOCAL, .value.local_bytes = (bytes)})

/* Sets the arguments and enqueues an NDRange. local may be NULL (the driver
 * chooses); when given, each global size is rounded up to a multiple of the
 * local size, so kernels must bounds-check. Nothing waits. */
pp_status rt_launch(rt_context *ctx, rt_kernel *kernel, cl_uint dims, const size_t *global,
                    const size_t *local, size_t nargs, const rt_arg *args);

#define RT_LAUNCH(ctx, kernel, dims, global, local, ...)                                           \
    rt_launch((ctx), (kernel), (dims), (global), (local),                                          \
              sizeof((rt_arg[]){__VA_ARGS__}) / sizeof(rt_arg), (rt_arg[]){__VA_ARGS__})

/* A 1-D launch over n items with a driver-chosen local size. */
#define RT_LAUNCH_1D(ctx, kernel, n, ...)                                                          \
    rt_launch((ctx), (kernel), 1, (size_t[]){(n)}, NULL,                                           \
              sizeof((rt_arg[]){__VA_ARGS__}) / sizeof(rt_arg), (rt_arg[]){__VA_ARGS__})

/* ---- Profiling (bench) ------------------------------------------------ */

/* With profiling on, an operator that enqueues through another library (CLBlast)
 * passes the event it got here, named. Takes ownership of the event. */
pp_status rt_profile_record(rt_context *ctx, const char *name, cl_event event);
/* Event slot for a foreign enqueue: NULL when profiling is off. */
cl_event *rt_profile_event_slot(rt_context *ctx);
/* After rt_finish: total seconds and launches per name, sorted by time. */
typedef struct rt_profile_entry {
    char name[64];
    double seconds;
    size_t launches;
} rt_profile_entry;
pp_status rt_profile_collect(rt_context *ctx, rt_profile_entry **entries, size_t *count);
void rt_profile_reset(rt_context *ctx);
/* Seconds the device sat idle between consecutive launches of the collected
 * events (each collect's first launch excluded), since the last reset. */
double rt_profile_idle_seconds(const rt_context *ctx);

#endif
