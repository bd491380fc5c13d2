/* Device buffers, with the live and peak bytes the library holds. */
#include "runtime/runtime.h"

#include <string.h>

pp_status rt_buf_create(rt_context *ctx, size_t bytes, rt_buf *out) {
    cl_int err;
    memset(out, 0, sizeof *out);
    if (bytes == 0) bytes = 4;
    if (bytes > ctx->info.max_alloc_bytes)
        return pp_fail(PP_ERR_OUT_OF_MEMORY,
                       "a buffer of %zu bytes exceeds the largest allocation %s allows (%llu "
                       "bytes; %zu bytes already held, %llu bytes of device memory)",
                       bytes, ctx->info.name, (unsigned long long)ctx->info.max_alloc_bytes,
                       ctx->bytes_live, (unsigned long long)ctx->info.global_mem_bytes);
    if (ctx->bytes_live + bytes > ctx->info.global_mem_bytes)
        return pp_fail(PP_ERR_OUT_OF_MEMORY,
                       "out of device memory: %zu bytes requested with %zu already held, but %s "
                       "has %llu bytes",
                       bytes, ctx->bytes_live, ctx->info.name,
                       (unsigned long long)ctx->info.global_mem_bytes);
    out->mem = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        out->mem = NULL;
        return rt_cl_fail(err, "clCreateBuffer");
    }
    out->bytes = bytes;
    pp_status st = rt_buf_zero(ctx, out, 0, bytes);
    if (st != PP_OK) {
        clReleaseMemObject(out->mem);
        memset(out, 0, sizeof *out);
        return st;
    }
    ctx->bytes_live += bytes;
    if (ctx->bytes_live > ctx->bytes_peak) ctx->bytes_peak = ctx->bytes_live;
    return PP_OK;
}

void rt_buf_release(rt_context *ctx, rt_buf *buf) {
    if (!buf || !buf->mem) return;
    clReleaseMemObject(buf->mem);
    ctx->bytes_live -= buf->bytes;
    memset(buf, 0, sizeof *buf);
}

static pp_status check_range(const rt_buf *buf, size_t offset, size_t bytes, const char *what) {
    if (!buf || !buf->mem) return pp_fail(PP_ERR_ARGUMENT, "%s: the buffer is not allocated", what);
    if (offset > buf->bytes || bytes > buf->bytes - offset)
        return pp_fail(PP_ERR_ARGUMENT, "%s: range [%zu, %zu) is outside a buffer of %zu bytes",
                       what, offset, offset + bytes, buf->bytes);
    return PP_OK;
}

pp_status rt_buf_write(rt_context *ctx, rt_buf *buf, size_t offset, size_t bytes, const void *src) {
    PP_TRY(check_range(buf, offset, bytes, "buffer write"));
    if (bytes == 0) return PP_OK;
    RT_CHECK(clEnqueueWriteBuffer(ctx->queue, buf->mem, CL_TRUE, offset, bytes, src, 0, NULL, NULL),
             "clEnqueueWriteBuffer");
    return PP_OK;
}

pp_status rt_buf_write_async(rt_context *ctx, rt_buf *buf, size_t offset, size_t bytes,
                             const void *src) {
    PP_TRY(check_range(buf, offset, bytes, "buffer write"));
    if (bytes == 0) return PP_OK;
    RT_CHECK(
        clEnqueueWriteBuffer(ctx->queue, buf->mem, CL_FALSE, offset, bytes, src, 0, NULL, NULL),
        "clEnqueueWriteBuffer");
    return PP_OK;
}

pp_status rt_buf_read(rt_context *ctx, const rt_buf *buf, size_t offset, size_t bytes, void *dst) {
    PP_TRY(check_range(buf, offset, bytes, "buffer read"));
    if (bytes == 0) return PP_OK;
    RT_CHECK(clEnqueueReadBuffer(ctx->queue, buf->mem, CL_TRUE, offset, bytes, dst, 0, NULL, NULL),
             "clEnqueueReadBuffer");
    return PP_OK;
}

pp_status rt_buf_copy(rt_context *ctx, const rt_buf *src, size_t src_offset, rt_buf *dst,
                      size_t dst_offset, size_t bytes) {
    PP_TRY(check_range(src, src_offset, bytes, "buffer copy source"));
    PP_TRY(check_range(dst, dst_offset, bytes, "buffer copy destination"));
    if (bytes == 0) return PP_OK;
    RT_CHECK(clEnqueueCopyBuffer(ctx->queue, src->mem, dst->mem, src_offset, dst_offset, bytes, 0,
                                 NULL, NULL),
             "clEnqueueCopyBuffer");
    return PP_OK;
}

pp_status rt_buf_zero(rt_context *ctx, rt_buf *buf, size_t offset, size_t bytes) {
    PP_TRY(check_range(buf, offset, bytes, "buffer fill"));
    if (bytes == 0) return PP_OK;
    const cl_uchar zero = 0;
    RT_CHECK(
        clEnqueueFillBuffer(ctx->queue, buf->mem, &zero, sizeof zero, offset, bytes, 0, NULL, NULL),
        "clEnqueueFillBuffer");
    return PP_OK;
}

pp_status rt_scratch(rt_context *ctx, size_t bytes, rt_buf **out) {
    if (ctx->scratch.bytes < bytes) {
        rt_buf_release(ctx, &ctx->scratch); /* queued kernels keep their reference */
        PP_TRY(rt_buf_create(ctx, bytes, &ctx->scratch));
    }
    *out = &ctx->scratch;
    return PP_OK;
}
