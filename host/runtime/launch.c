/* Setting kernel arguments and enqueueing NDRanges. */
#include "runtime/profile.h"

#include <stdio.h>

static pp_status set_arg(rt_kernel *kernel, cl_uint index, const rt_arg *arg) {
    cl_int err = CL_INVALID_ARG_VALUE;
    switch (arg->kind) {
    case RT_ARG_KIND_BUF:
        if (!arg->value.buf || !arg->value.buf->mem)
            return pp_fail(PP_ERR_INTERNAL, "kernel %s: argument %u is an unallocated buffer",
                           kernel->name, index);
        err = clSetKernelArg(kernel->kernel, index, sizeof(cl_mem), &arg->value.buf->mem);
        break;
    case RT_ARG_KIND_INT:
        err = clSetKernelArg(kernel->kernel, index, sizeof(cl_int), &arg->value.i);
        break;
    case RT_ARG_KIND_UINT:
        err = clSetKernelArg(kernel->kernel, index, sizeof(cl_uint), &arg->value.u);
        break;
    case RT_ARG_KIND_FLOAT:
        err = clSetKernelArg(kernel->kernel, index, sizeof(cl_float), &arg->value.f);
        break;
    case RT_ARG_KIND_LOCAL:
        err = clSetKernelArg(kernel->kernel, index, arg->value.local_bytes, NULL);
        break;
    }
    if (err != CL_SUCCESS) {
        char what[160];
        snprintf(what, sizeof what, "clSetKernelArg(%s, argument %u)", kernel->name, index);
        return rt_cl_fail(err, what);
    }
    return PP_OK;
}

pp_status rt_launch(rt_context *ctx, rt_kernel *kernel, cl_uint dims, const size_t *global,
                    const size_t *local, size_t nargs, const rt_arg *args) {
    size_t rounded[3];
    if (dims < 1 || dims > 3)
        return pp_fail(PP_ERR_INTERNAL, "kernel %s: %u dimensions", kernel->name, dims);
    for (size_t i = 0; i < nargs; i++)
        PP_TRY(set_arg(kernel, (cl_uint)i, &args[i]));
    for (cl_uint d = 0; d < dims; d++) {
        if (global[d] == 0) return PP_OK; /* an empty range: nothing to do */
        rounded[d] = local ? (global[d] + local[d] - 1) / local[d] * local[d] : global[d];
    }
    cl_event *event = rt_profile_event_slot(ctx);
    cl_int err = CL_OUT_OF_RESOURCES;
    if (!ctx->fault_after_launches || ++ctx->launches != ctx->fault_after_launches)
        err = clEnqueueNDRangeKernel(ctx->queue, kernel->kernel, dims, NULL, rounded, local, 0,
                                     NULL, event);
    if (err != CL_SUCCESS) {
        char what[256];
        snprintf(what, sizeof what, "launching kernel %s (global %zu x %zu x %zu, local %s)",
                 kernel->name, rounded[0], dims > 1 ? rounded[1] : 1, dims > 2 ? rounded[2] : 1,
                 local ? "given" : "driver's choice");
        return rt_cl_fail(err, what);
    }
    if (event) PP_TRY(rt_profile_record(ctx, kernel->name, *event));
    return PP_OK;
}
