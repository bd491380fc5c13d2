/* The device's measured FMA peak: cl/peak.cl's independent FMA chains in
 * scalar and vector forms, the best of them in GFLOP/s (2 FLOPs per FMA).
 * The end-to-end section reports each epoch's effective rate against it. */
#include "bench.h"
#include "runtime/error.h"

typedef struct peak_run {
    rt_context *ctx;
    rt_kernel *kernel;
    rt_buf out;
    size_t global;
    int iterations;
} peak_run;

enum { CHAINS = 16 }; /* as in cl/peak.cl */

static pp_status launch_peak(void *arg) {
    peak_run *p = arg;
    return RT_LAUNCH_1D(p->ctx, p->kernel, p->global, RT_INT(p->iterations), RT_FLOAT(0.999f),
                        RT_FLOAT(1e-4f), RT_BUF(&p->out));
}

/* GFLOP/s of one vector width. */
static pp_status peak_of_width(const bench_options *o, peak_run *p, int width, double *gflops) {
    char defines[32];
    snprintf(defines, sizeof defines, "-DVEC=%d", width);
    double best = 0.0;
    PP_TRY(rt_kernel_get(p->ctx, "peak", "fma_peak", defines, &p->kernel));
    PP_TRY(bench_time(p->ctx, launch_peak, p, o->repeats, 0.2, &best));
    *gflops = 2.0 * CHAINS * width * (double)p->iterations * (double)p->global / best * 1e-9;
    return PP_OK;
}

static pp_status peak_buffers(const bench_options *o, rt_context *ctx, peak_run *p) {
    *p = (peak_run){.ctx = ctx};
    /* enough work-items for every compute unit many times over */
    p->global = (size_t)ctx->info.compute_units * (o->quick ? 256 : 4096);
    p->iterations = o->quick ? 64 : 1024;
    return rt_buf_create(ctx, p->global * sizeof(float), &p->out);
}

pp_status bench_peak_again(const bench_options *o, rt_context *ctx, int width, double *gflops) {
    peak_run p;
    *gflops = 0.0;
    PP_TRY(peak_buffers(o, ctx, &p));
    pp_status st = peak_of_width(o, &p, width, gflops);
    rt_buf_release(ctx, &p.out);
    return st;
}

pp_status bench_peak(const bench_options *o, rt_context *ctx, bench_json *j, double *peak_gflops,
                     int *peak_width) {
    static const int widths[] = {1, 4, 8, 16};
    *peak_gflops = 0.0;
    *peak_width = widths[0];
    peak_run p;
    pp_status st = peak_buffers(o, ctx, &p);
    if (st != PP_OK) return st;
    printf("\n### FMA peak (cl/peak.cl: %d independent FMA chains per work-item)\n\n"
           "| vector width | GFLOP/s |\n|---|---|\n",
           CHAINS);
    bj_object_begin(j, "peak");
    bj_array_begin(j, "variants");
    for (size_t v = 0; v < sizeof widths / sizeof widths[0]; v++) {
        double gflops = 0.0;
        PP_TRY_GOTO(st, peak_of_width(o, &p, widths[v], &gflops), done);
        if (gflops > *peak_gflops) {
            *peak_gflops = gflops;
            *peak_width = widths[v];
        }
        printf("| %d | %.1f |\n", widths[v], gflops);
        bj_object_begin(j, NULL);
        bj_int(j, "vector_width", widths[v]);
        bj_number(j, "gflops", gflops);
        bj_object_end(j);
    }
    printf("\nMeasured peak: **%.1f GFLOP/s**\n", *peak_gflops);
done:
    bj_array_end(j);
    bj_number(j, "gflops", *peak_gflops);
    bj_object_end(j);
    rt_buf_release(ctx, &p.out);
    return st;
}
