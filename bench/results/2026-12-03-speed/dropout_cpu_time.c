/* CPU time (getrusage: the PoCL worker threads included) per call of the
 * dropout kernels of an FC MNIST step (64 x 1024, p = 0.1), best of 4 rounds
 * of 300 calls. CPU time rather than wall time: on the shared 2-core machine
 * wall time moved 2x with the other engineers' load. Built against a
 * library build (see README.md next to this file), e.g.
 *   gcc -O2 -DCL_TARGET_OPENCL_VERSION=120 -Ihost dropout_cpu_time.c build/libpepita.a \
 *       -lOpenCL -lclblast -ljansson -lz -lzip -L/usr/lib/x86_64-linux-gnu/openmpi/lib -lmpi -lm */
#include <stdio.h>
#include <sys/resource.h>

#include "ops/ops.h"

static double cpu_seconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

int main(void) {
    const size_t n = 64 * 1024;
    const int calls = 300;
    rt_context *ctx;
    if (rt_context_create(NULL, 0, &ctx) != PP_OK) {
        fprintf(stderr, "%s\n", pp_last_error());
        return 1;
    }
    rt_buf a, b, c, d;
    rt_buf_create(ctx, n * 4, &a), rt_buf_create(ctx, n * 4, &b);
    rt_buf_create(ctx, n * 4, &c), rt_buf_create(ctx, n * 4, &d);
    op_uniform(ctx, n, -1, 1, 1, 1, &a), op_uniform(ctx, n, -1, 1, 1, 2, &b);
    const op_dropout drop = {.p = 0.1f, .seed = 7, .step = 3, .layer = 0};
    const char *names[] = {"relu (no dropout)", "relu + dropout", "relu + dropout + diff",
                           "relu backward + dropout"};
    for (int kind = 0; kind < 4; kind++) {
        double best = 1e9;
        for (int round = 0; round < 4; round++) {
            rt_finish(ctx);
            double start = cpu_seconds();
            for (int i = 0; i < calls; i++) {
                if (kind == 0) op_act_forward(ctx, OP_ACT_RELU, n, &a, &b, NULL);
                if (kind == 1) op_act_forward(ctx, OP_ACT_RELU, n, &a, &b, &drop);
                if (kind == 2) op_act_forward_diff(ctx, OP_ACT_RELU, n, &a, &b, &c, &d, &drop);
                if (kind == 3) op_act_backward(ctx, OP_ACT_RELU, n, &a, &b, &c, &drop);
            }
            rt_finish(ctx);
            double t = (cpu_seconds() - start) / calls;
            if (t < best) best = t;
        }
        printf("%-26s %7.1f us CPU per call\n", names[kind], best * 1e6);
    }
    rt_buf_release(ctx, &a), rt_buf_release(ctx, &b);
    rt_buf_release(ctx, &c), rt_buf_release(ctx, &d);
    rt_context_destroy(ctx);
    return 0;
}
