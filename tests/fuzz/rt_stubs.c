/* The few runtime calls the checkpoint code makes, without OpenCL: the fuzz
 * targets link the parsers alone. A "device buffer" is the fake trainer's
 * host array (fake_trainer.c); every access is bounds-checked and an
 * out-of-range one aborts, so the fuzzer reports it as a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

static void check_range(const rt_buf *buf, size_t offset, size_t bytes, const char *what) {
    if (!buf || !buf->mem || offset > buf->bytes || bytes > buf->bytes - offset) {
        fprintf(stderr, "%s: %zu bytes at %zu outside a %zu-byte buffer\n", what, bytes, offset,
                buf ? buf->bytes : 0);
        abort();
    }
}

pp_status rt_buf_write(rt_context *ctx, rt_buf *buf, size_t offset, size_t bytes, const void *src) {
    (void)ctx;
    check_range(buf, offset, bytes, "rt_buf_write");
    memcpy((unsigned char *)buf->mem + offset, src, bytes);
    return PP_OK;
}

pp_status rt_buf_read(rt_context *ctx, const rt_buf *buf, size_t offset, size_t bytes, void *dst) {
    (void)ctx;
    check_range(buf, offset, bytes, "rt_buf_read");
    memcpy(dst, (const unsigned char *)buf->mem + offset, bytes);
    return PP_OK;
}

pp_status rt_finish(rt_context *ctx) {
    (void)ctx;
    return PP_OK;
}
