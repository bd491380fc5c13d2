/* CPU time (all threads) per call of each operator of a PEPITA FC MNIST step
 * (784-1024-10, batch 64) at the training shapes, best of 3 rounds of 100
 * calls, each on warm caches (a real step runs them in turn, so its sum is
 * lower than the epoch's CPU per step). Build as dropout_cpu_time.c. */
#include <stdlib.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/resource.h>
#include "ops/ops.h"
static double cpu(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}
int main(void) {
    rt_context *ctx;
    if (rt_context_create(NULL, 0, &ctx)) return 1;
    rt_buf x, w1, z1, h, w2, z2, e, f, w1f, lab, loss, corr, tot, u8, l8, idx, g1, v1, xm;
    size_t B = 64, D = 784, H = 1024, C = 10;
    rt_buf_create(ctx, B * D * 4, &x);
    rt_buf_create(ctx, B * D * 4, &xm);
    rt_buf_create(ctx, H * D * 4, &w1);
    rt_buf_create(ctx, H * D * 4, &g1);
    rt_buf_create(ctx, H * D * 4, &v1);
    rt_buf_create(ctx, B * H * 4, &z1);
    rt_buf_create(ctx, B * H * 4, &h);
    rt_buf_create(ctx, C * H * 4, &w2);
    rt_buf_create(ctx, B * C * 4, &z2);
    rt_buf_create(ctx, B * C * 4, &e);
    rt_buf_create(ctx, D * C * 4, &f);
    rt_buf_create(ctx, H * C * 4, &w1f);
    rt_buf_create(ctx, B * 4, &lab);
    rt_buf_create(ctx, B * 4, &loss);
    rt_buf_create(ctx, B * 4, &corr);
    rt_buf_create(ctx, 16, &tot);
    rt_buf_create(ctx, 60000 * D, &u8);
    rt_buf_create(ctx, 60000, &l8);
    rt_buf_create(ctx, 60000 * 4, &idx);
    op_uniform(ctx, B * D, 0, 1, 1, 1, &x);
    op_uniform(ctx, H * D, -0.05f, 0.05f, 1, 2, &w1);
    op_uniform(ctx, C * H, -0.05f, 0.05f, 1, 3, &w2);
    op_uniform(ctx, D * C, -0.05f, 0.05f, 1, 4, &f);
    op_uniform(ctx, B * H, 0, 1, 1, 5, &h);
    op_uniform(ctx, B * C, -1, 1, 1, 6, &e);
    op_uniform(ctx, H * D, -0.05f, 0.05f, 1, 7, &v1);
    op_uniform(ctx, B * D, 0, 1, 1, 8, &xm);
    op_uniform(ctx, B * H, 0, 1, 1, 9, &z1);
    int32_t *ix = malloc(60000 * 4);
    for (int i = 0; i < 60000; i++)
        ix[i] = (i * 7919) % 60000;
    rt_buf_write(ctx, &idx, 0, 60000 * 4, ix);
    uint8_t *z8 = calloc(60000 * D, 1);
    rt_buf_write(ctx, &u8, 0, 60000 * D, z8);
    rt_buf_write(ctx, &l8, 0, 60000, z8);
    const char *names[] = {"gather batch",
                           "fwd1 x W1^T NT 64x1024x784",
                           "fwd2 h W2^T NT 64x10x1024",
                           "softmax_error",
                           "x+eF^T strip 64x784x10",
                           "W1 F NN 1024x10x784",
                           "copy z1 (64x1024)",
                           "z1+e(W1F)^T strip 64x1024x10",
                           "dW1 TN 1024x784x64",
                           "dW2 TN 10x1024x64",
                           "sgd W1",
                           "sgd W2",
                           "accumulate2",
                           "copy x (64x784)"};
    double total = 0;
    for (int kind = 0; kind < 14; kind++) {
        double best = 1e9;
        int calls = 100;
        for (int round = 0; round < 3; round++) {
            rt_finish(ctx);
            double c0 = cpu();
            for (int i = 0; i < calls; i++)
                switch (kind) {
                case 0:
                    op_gather_batch(ctx, B, D, &u8, &l8, &idx, (i * 64) % 59000, 1.0f / 255, &x,
                                    &lab);
                    break;
                case 1:
                    op_gemm(ctx, OP_NO_TRANS, OP_TRANS, B, H, D, 1, &x, 0, D, &w1, 0, D, 0, &z1, 0,
                            H);
                    break;
                case 2:
                    op_gemm(ctx, OP_NO_TRANS, OP_TRANS, B, C, H, 1, &h, 0, H, &w2, 0, H, 0, &z2, 0,
                            C);
                    break;
                case 3:
                    op_softmax_error(ctx, B, C, &z2, &lab, &e, &loss, &corr, NULL);
                    break;
                case 4:
                    op_gemm(ctx, OP_NO_TRANS, OP_TRANS, B, D, C, 1, &e, 0, C, &f, 0, C, 1, &xm, 0,
                            D);
                    break;
                case 5:
                    op_gemm(ctx, OP_NO_TRANS, OP_NO_TRANS, H, C, D, 1, &w1, 0, D, &f, 0, C, 0, &w1f,
                            0, C);
                    break;
                case 6:
                    rt_buf_copy(ctx, &z1, 0, &h, 0, B * H * 4);
                    break;
                case 7:
                    op_gemm(ctx, OP_NO_TRANS, OP_TRANS, B, H, C, 1, &e, 0, C, &w1f, 0, C, 1, &h, 0,
                            H);
                    break;
                case 8:
                    op_gemm(ctx, OP_TRANS, OP_NO_TRANS, H, D, B, 1.0f / 64, &h, 0, H, &xm, 0, D, 0,
                            &g1, 0, D);
                    break;
                case 9:
                    op_gemm(ctx, OP_TRANS, OP_NO_TRANS, C, H, B, 1.0f / 64, &e, 0, C, &h, 0, H, 0,
                            &g1, 0, H);
                    break;
                case 10:
                    op_sgd_momentum(ctx, H * D, 0.01f, 0.9f, 0, &w1, &v1, &g1);
                    break;
                case 11:
                    op_sgd_momentum(ctx, H * C, 0.01f, 0.9f, 0, &w2, &v1, &g1);
                    break;
                case 12:
                    op_accumulate2(ctx, B, &loss, &corr, &tot, 0);
                    break;
                case 13:
                    rt_buf_copy(ctx, &x, 0, &xm, 0, B * D * 4);
                    break;
                }
            rt_finish(ctx);
            double t = (cpu() - c0) / calls;
            if (t < best) best = t;
        }
        total += best;
        printf("%-32s %8.1f us CPU\n", names[kind], best * 1e6);
    }
    printf("sum %.1f us (+ 2 dropout kernels)\n", total * 1e6);
    return 0;
}
