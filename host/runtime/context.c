/* The context: one device, its OpenCL context and in-order queue. */
#include "runtime/runtime.h"
#include "runtime/program_cache.h"
#include "runtime/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pp_context {
    rt_context *rt;
};

static void parse_c_version(rt_context *ctx) {
    /* "OpenCL C 1.2 pocl" -> 1.2; unparsable strings mean 1.1, the oldest we accept. */
    int major = 1, minor = 1;
    if (sscanf(ctx->info.opencl_c_version, "OpenCL C %d.%d", &major, &minor) != 2) {
        major = 1;
        minor = 1;
    }
    ctx->opencl_c_major = major;
    ctx->opencl_c_minor = minor;
}

/* The fault-injection test hook (see rt_context.fault_after_launches). */
static void read_fault_hook(rt_context *ctx) {
    const char *text = getenv("PEPITA_FAULT_AFTER_LAUNCHES");
    char *end = NULL;
    unsigned long n = text && *text ? strtoul(text, &end, 10) : 0;
    ctx->fault_after_launches = end && *end == '\0' ? n : 0;
}

pp_status rt_context_create(const char *selector, int profiling, rt_context **out) {
    int p = 0, d = 0;
    cl_int err;
    pp_status st;
    *out = NULL;
    PP_TRY(rt_device_select(selector, &p, &d));
    rt_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory creating a context");
    PP_TRY_GOTO(st, rt_device_open(p, d, &ctx->platform, &ctx->device, &ctx->info), fail);
    PP_TRY_GOTO(st, rt_device_profile_make(&ctx->info, &ctx->device_profile), fail);
    snprintf(ctx->info.profile, sizeof ctx->info.profile, "%s",
             rt_profile_kind_name(ctx->device_profile.kind));
    read_fault_hook(ctx);
    parse_c_version(ctx);
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform, 0};
    ctx->context = clCreateContext(props, 1, &ctx->device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        st = rt_cl_fail(err, "clCreateContext");
        goto fail;
    }
    ctx->queue = clCreateCommandQueue(ctx->context, ctx->device,
                                      profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
    if (err != CL_SUCCESS) {
        st = rt_cl_fail(err, "clCreateCommandQueue");
        goto fail;
    }
    PP_TRY_GOTO(st, rt_program_cache_create(&ctx->programs), fail);
    if (profiling) PP_TRY_GOTO(st, rt_profile_create(&ctx->profile), fail);
    *out = ctx;
    return PP_OK;
fail:
    rt_context_destroy(ctx);
    return st;
}

void rt_context_destroy(rt_context *ctx) {
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue); /* nothing may still run on what we free */
    if (ctx->gemm_state && ctx->gemm_state_free) ctx->gemm_state_free(ctx->gemm_state);
    rt_buf_release(ctx, &ctx->scratch);
    rt_profile_destroy(ctx->profile);
    rt_program_cache_destroy(ctx->programs);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->context) clReleaseContext(ctx->context);
    free(ctx);
}

pp_status rt_finish(rt_context *ctx) {
    RT_CHECK(clFinish(ctx->queue), "clFinish (waiting for the device)");
    return PP_OK;
}

/* ---- The public handle ------------------------------------------------ */

static pp_status context_create(const char *selector, int profiling, pp_context **context) {
    if (!context) return pp_fail(PP_ERR_ARGUMENT, "pp_context_create: context is NULL");
    *context = NULL;
    pp_context *c = calloc(1, sizeof *c);
    if (!c) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory creating a context");
    pp_status st = rt_context_create(selector, profiling, &c->rt);
    if (st != PP_OK) {
        free(c);
        return st;
    }
    *context = c;
    return PP_OK;
}

pp_status pp_context_create(const char *selector, pp_context **context) {
    return context_create(selector, 0, context);
}

pp_status pp_context_create_profiling(const char *selector, pp_context **context) {
    return context_create(selector, 1, context);
}

void pp_context_destroy(pp_context *context) {
    if (!context) return;
    rt_context_destroy(context->rt);
    free(context);
}

const pp_device_info *pp_context_device(const pp_context *context) {
    return &context->rt->info;
}

rt_context *pp_context_runtime(pp_context *context) {
    return context->rt;
}
