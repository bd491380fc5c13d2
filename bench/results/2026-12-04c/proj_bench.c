/* Scratch program of 2026-12-04 (bench/README.md, "the dropout mask kept, x' in place"):
 * builds variants of cl/optimizer.cl (files named on the command line) with
 * rt_program_build_source and times sgd_momentum_project (UPD=0: the product
 * alone) and the plain SGD step at 1024x784 and 1024x3072, alternating.
 * gcc -O2 -std=gnu11 -DCL_TARGET_OPENCL_VERSION=120 -I host -I include -I build \
 *     -o proj_bench proj_bench.c build/libpepita.a -lOpenCL -lm -lz */
/* Experiment: variants of sgd_momentum_project, alternated in one process. */
#include "runtime/runtime.h"
#include "ops/ops.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
static double cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
static char *slurp(const char *p) {
    FILE *f = fopen(p, "rb");
    if (!f) {
        perror(p);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc(n + 1);
    fread(s, 1, n, f);
    s[n] = 0;
    fclose(f);
    return s;
}
#define CK(x)                                                                                      \
    do {                                                                                           \
        cl_int e_ = (x);                                                                           \
        if (e_) {                                                                                  \
            fprintf(stderr, "%s: %d\n", #x, e_);                                                   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)
int main(int argc, char **argv) {
    int nv = argc - 1;
    rt_context *ctx;
    if (rt_context_create("cpu", 0, &ctx)) {
        fprintf(stderr, "%s\n", pp_last_error());
        return 1;
    }
    char *common = slurp("cl/common.cl");
    size_t shapes[2][2] = {{1024, 784}, {1024, 3072}};
    int C = 10, upd = 1;
    cl_kernel ks[8];
    cl_kernel plain[8];
    for (int v = 0; v < nv; v++) {
        char *body = slurp(argv[v + 1]);
        char *src = malloc(strlen(common) + strlen(body) + 16);
        sprintf(src, "%s\n%s", common, body);
        cl_program pr;
        if (rt_program_build_source(ctx, argv[v + 1], src, "-DPROJ_C=10 -DVW=16 -DPROJ_ROWS=2",
                                    &pr)) {
            fprintf(stderr, "%s\n", pp_last_error());
            return 1;
        }
        cl_int e;
        ks[v] = clCreateKernel(pr, "sgd_momentum_project", &e);
        CK(e);
        plain[v] = clCreateKernel(pr, "sgd_momentum", &e);
        CK(e);
    }
    for (int s = 0; s < 2; s++) {
        size_t R = shapes[s][0], K = shapes[s][1];
        rt_buf w, vv, g, fb, f, p;
        rt_buf_create(ctx, R * K * 4, &w);
        rt_buf_create(ctx, R * K * 4, &vv);
        rt_buf_create(ctx, R * K * 4, &g);
        size_t lay = op_project_layout_floats(ctx, K, C);
        rt_buf_create(ctx, lay * 4, &fb);
        rt_buf_create(ctx, K * C * 4, &f);
        rt_buf_create(ctx, R * C * 4, &p);
        op_uniform(ctx, R * K, -0.1f, 0.1f, 1, 1, &w);
        op_uniform(ctx, R * K, -0.01f, 0.01f, 1, 2, &vv);
        op_uniform(ctx, R * K, -0.01f, 0.01f, 1, 3, &g);
        op_uniform(ctx, K * C, -0.1f, 0.1f, 1, 4, &f);
        op_project_layout(ctx, K, C, &f, &fb);
        rt_finish(ctx);
        double best[9][2];
        for (int v = 0; v <= nv; v++)
            best[v][0] = best[v][1] = 1e9;
        upd = getenv("UPD") ? atoi(getenv("UPD")) : 1;
        float lr = 1e-9f, mu = 0.9f, wd = 0;
        int rows = R, cols = K;
        for (int round = 0; round < 8; round++)
            for (int v = 0; v <= nv; v++) {
                cl_kernel k = v < nv ? ks[v] : plain[0];
                size_t gsz, lsz = 1;
                if (v < nv) {
                    CK(clSetKernelArg(k, 0, 4, &rows));
                    CK(clSetKernelArg(k, 1, 4, &cols));
                    CK(clSetKernelArg(k, 2, 4, &upd));
                    CK(clSetKernelArg(k, 3, 4, &lr));
                    CK(clSetKernelArg(k, 4, 4, &mu));
                    CK(clSetKernelArg(k, 5, 4, &wd));
                    CK(clSetKernelArg(k, 6, 8, &w.mem));
                    CK(clSetKernelArg(k, 7, 8, &vv.mem));
                    CK(clSetKernelArg(k, 8, 8, &g.mem));
                    CK(clSetKernelArg(k, 9, 8, &fb.mem));
                    CK(clSetKernelArg(k, 10, 8, &p.mem));
                    CK(clSetKernelArg(k, 11, 2 * C * 4, NULL));
                    gsz = (R + 1) / 2;
                } else {
                    int n = R * K;
                    CK(clSetKernelArg(k, 0, 4, &n));
                    CK(clSetKernelArg(k, 1, 4, &lr));
                    CK(clSetKernelArg(k, 2, 4, &mu));
                    CK(clSetKernelArg(k, 3, 4, &wd));
                    CK(clSetKernelArg(k, 4, 8, &w.mem));
                    CK(clSetKernelArg(k, 5, 8, &vv.mem));
                    CK(clSetKernelArg(k, 6, 8, &g.mem));
                    gsz = n;
                    lsz = 256;
                }
                int calls = s ? 20 : 60;
                rt_finish(ctx);
                double t0 = now(), c0 = cpu();
                for (int i = 0; i < calls; i++)
                    CK(clEnqueueNDRangeKernel(ctx->queue, k, 1, NULL, &gsz, &lsz, 0, NULL, NULL));
                rt_finish(ctx);
                double t = (now() - t0) / calls, c = (cpu() - c0) / calls;
                if (t < best[v][0]) best[v][0] = t;
                if (c < best[v][1]) best[v][1] = c;
            }
        for (int v = 0; v <= nv; v++)
            printf("%zux%zu %-40s wall %7.1f us  cpu %7.1f us\n", R, K,
                   v < nv ? argv[v + 1] : "plain sgd", 1e6 * best[v][0], 1e6 * best[v][1]);
    }
    return 0;
}
