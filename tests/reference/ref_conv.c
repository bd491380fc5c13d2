/* References and operator checks for convolution and max pooling. */
#include "ref_conv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

/* ---- References -------------------------------------------------------- */

void ref_conv_forward(const op_conv_shape *s, const float *x, const float *w, float *y) {
    const int oh = op_conv_out_h(s), ow = op_conv_out_w(s), k = s->kernel;
    for (int n = 0; n < s->batch; n++)
        for (int f = 0; f < s->out_c; f++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double sum = 0.0;
                    for (int c = 0; c < s->in_c; c++)
                        for (int i = 0; i < k; i++) {
                            const int iy = oy * s->stride - s->pad + i;
                            if (iy < 0 || iy >= s->in_h) continue;
                            for (int j = 0; j < k; j++) {
                                const int ix = ox * s->stride - s->pad + j;
                                if (ix < 0 || ix >= s->in_w) continue;
                                sum +=
                                    (double)x[(((size_t)n * s->in_c + c) * s->in_h + iy) * s->in_w +
                                              ix] *
                                    w[(((size_t)f * s->in_c + c) * k + i) * k + j];
                            }
                        }
                    y[(((size_t)n * s->out_c + f) * oh + oy) * ow + ox] = (float)sum;
                }
}

void ref_conv_weight_grad(const op_conv_shape *s, float scale, const float *dy, const float *x,
                          float *dw) {
    const int oh = op_conv_out_h(s), ow = op_conv_out_w(s), k = s->kernel;
    for (int f = 0; f < s->out_c; f++)
        for (int c = 0; c < s->in_c; c++)
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++) {
                    double sum = 0.0;
                    for (int n = 0; n < s->batch; n++)
                        for (int oy = 0; oy < oh; oy++) {
                            const int iy = oy * s->stride - s->pad + i;
                            if (iy < 0 || iy >= s->in_h) continue;
                            const float *dyr = dy + (((size_t)n * s->out_c + f) * oh + oy) * ow;
                            const float *xr =
                                x + (((size_t)n * s->in_c + c) * s->in_h + iy) * s->in_w;
                            for (int ox = 0; ox < ow; ox++) {
                                const int ix = ox * s->stride - s->pad + j;
                                if (ix >= 0 && ix < s->in_w) sum += (double)dyr[ox] * xr[ix];
                            }
                        }
                    dw[(((size_t)f * s->in_c + c) * k + i) * k + j] = (float)(scale * sum);
                }
}

void ref_conv_input_grad(const op_conv_shape *s, const float *dy, const float *w, float *dx) {
    const int oh = op_conv_out_h(s), ow = op_conv_out_w(s), k = s->kernel;
    const size_t nx = (size_t)s->batch * s->in_c * s->in_h * s->in_w;
    double *acc = calloc(nx ? nx : 1, sizeof *acc);
    if (!acc) return;
    for (int n = 0; n < s->batch; n++)
        for (int f = 0; f < s->out_c; f++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    const double d = dy[(((size_t)n * s->out_c + f) * oh + oy) * ow + ox];
                    for (int c = 0; c < s->in_c; c++)
                        for (int i = 0; i < k; i++) {
                            const int iy = oy * s->stride - s->pad + i;
                            if (iy < 0 || iy >= s->in_h) continue;
                            for (int j = 0; j < k; j++) {
                                const int ix = ox * s->stride - s->pad + j;
                                if (ix < 0 || ix >= s->in_w) continue;
                                acc[(((size_t)n * s->in_c + c) * s->in_h + iy) * s->in_w + ix] +=
                                    d * w[(((size_t)f * s->in_c + c) * k + i) * k + j];
                            }
                        }
                }
    for (size_t i = 0; i < nx; i++)
        dx[i] = (float)acc[i];
    free(acc);
}

void ref_maxpool2_forward(size_t planes, int h, int w, const float *x, float *y, int32_t *argmax) {
    const int oh = h / 2, ow = w / 2;
    for (size_t p = 0; p < planes; p++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const float *xp = x + p * (size_t)h * w;
                int best = 2 * oy * w + 2 * ox;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        const int at = (2 * oy + dy) * w + 2 * ox + dx;
                        if (xp[at] > xp[best]) best = at;
                    }
                const size_t o = (p * oh + oy) * ow + ox;
                y[o] = xp[best];
                argmax[o] = best;
            }
}

void ref_maxpool2_backward(size_t planes, int h, int w, const float *dy, const int32_t *argmax,
                           float *dx) {
    const size_t plane = (size_t)h * w, out_plane = (size_t)(h / 2) * (w / 2);
    memset(dx, 0, planes * plane * sizeof *dx);
    for (size_t p = 0; p < planes; p++)
        for (size_t o = 0; o < out_plane; o++)
            dx[p * plane + argmax[p * out_plane + o]] = dy[p * out_plane + o];
}

/* ---- Checks ------------------------------------------------------------ */

/* Deterministic inputs in [lo, hi), distinct per tag (a 64-bit LCG). levels > 0
 * rounds them to that many distinct values, which makes ties common. */
static void fill(float *x, size_t n, float lo, float hi, unsigned tag, int levels) {
    uint64_t state = 0x9E3779B97F4A7C15ull * (tag + 1);
    for (size_t i = 0; i < n; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        float u = (float)(state >> 40) * (1.0f / 16777216.0f);
        if (levels > 0) u = floorf(u * (float)levels) / (float)levels;
        x[i] = lo + (hi - lo) * u;
    }
}

/* Host arrays and device buffers of one check, released together. */
#define SCRATCH_MAX 8
typedef struct scratch {
    rt_context *ctx;
    pp_status status; /* the first harness failure */
    void *host[SCRATCH_MAX];
    rt_buf dev[SCRATCH_MAX];
    int n_host, n_dev;
} scratch;

static void *sc_host(scratch *s, size_t bytes) {
    void *p = s->status == PP_OK && s->n_host < SCRATCH_MAX ? malloc(bytes ? bytes : 1) : NULL;
    if (!p) {
        if (s->status == PP_OK) s->status = PP_ERR_OUT_OF_MEMORY;
        return NULL;
    }
    return s->host[s->n_host++] = p;
}

/* A device buffer holding `bytes` of src (zeros when src is NULL). */
static rt_buf *sc_dev(scratch *s, size_t bytes, const void *src) {
    if (s->status != PP_OK) return NULL;
    if (s->n_dev == SCRATCH_MAX) {
        s->status = PP_ERR_INTERNAL;
        return NULL;
    }
    rt_buf *b = &s->dev[s->n_dev];
    s->status = rt_buf_create(s->ctx, bytes, b);
    if (s->status != PP_OK) return NULL;
    s->n_dev++;
    if (src && bytes) s->status = rt_buf_write(s->ctx, b, 0, bytes, src);
    return s->status == PP_OK ? b : NULL;
}

static void sc_read(scratch *s, const rt_buf *b, void *dst, size_t bytes) {
    if (s->status == PP_OK && bytes) s->status = rt_buf_read(s->ctx, b, 0, bytes, dst);
}

static pp_status sc_end(scratch *s) {
    for (int i = 0; i < s->n_host; i++)
        free(s->host[i]);
    for (int i = 0; i < s->n_dev; i++)
        rt_buf_release(s->ctx, &s->dev[i]);
    return s->status;
}

enum { CONV_FORWARD, CONV_WGRAD_BP, CONV_WGRAD_PEPITA, CONV_IGRAD };

/* Largest relative error allowed: |a - b| <= tol (1 + |b|). The weight
 * gradient sums up to batch * oh * ow (78400) products, but the device keeps
 * per-lane partial sums of a few thousand terms: measured errors stay below
 * 1e-5, so the float32 tolerance holds for every operator. */
#define CONV_TOL 1e-4

/* One conv operator at one shape; local != 0 runs the weight gradient with
 * that many work-items per weight (the local-memory tree). */
static pp_status check_conv(rt_context *ctx, ref_check_list *list, int kind, op_conv_shape sh,
                            size_t local) {
    static const char *names[] = {"conv_forward", "conv_weight_grad", "conv_weight_grad",
                                  "conv_input_grad"};
    const int oh = op_conv_out_h(&sh), ow = op_conv_out_w(&sh);
    ref_check_result *r =
        ref_check_list_add(list, names[kind], "b%d c%d %dx%d f%d k%d s%d p%d%s%s", sh.batch,
                           sh.in_c, sh.in_h, sh.in_w, sh.out_c, sh.kernel, sh.stride, sh.pad,
                           kind == CONV_WGRAD_BP       ? " scale=1/b"
                           : kind == CONV_WGRAD_PEPITA ? " scale=1/(b*oh*ow)"
                                                       : "",
                           local ? (local == 4 ? " local=4" : " local=64") : "");
    if (!r) return PP_ERR_OUT_OF_MEMORY;
    const size_t nx = (size_t)sh.batch * sh.in_c * sh.in_h * sh.in_w;
    const size_t nw = (size_t)sh.out_c * sh.in_c * sh.kernel * sh.kernel;
    const size_t ny = (size_t)sh.batch * sh.out_c * oh * ow;
    scratch s = {.ctx = ctx};
    float *x = sc_host(&s, nx * sizeof(float)), *w = sc_host(&s, nw * sizeof(float)),
          *y = sc_host(&s, ny * sizeof(float));
    if (s.status != PP_OK) return sc_end(&s);
    fill(x, nx, 0.0f, 1.0f, 1, 0); /* pixels */
    fill(w, nw, -0.5f, 0.5f, 2, 0);
    fill(y, ny, -1.0f, 1.0f, 3, 0); /* dy for the gradients */
    rt_buf *bx = sc_dev(&s, nx * sizeof(float), x), *bw = sc_dev(&s, nw * sizeof(float), w),
           *by = sc_dev(&s, ny * sizeof(float), y);
    if (s.status != PP_OK) return sc_end(&s);

    const size_t n_out = kind == CONV_FORWARD ? ny : kind == CONV_IGRAD ? nx : nw;
    float *out = sc_host(&s, n_out * sizeof(float)), *ref = sc_host(&s, n_out * sizeof(float));
    /* A stale value in the output buffer must not survive: it is overwritten. */
    for (size_t i = 0; out && i < n_out; i++)
        out[i] = NAN;
    rt_buf *bout = sc_dev(&s, n_out * sizeof(float), out);
    if (s.status != PP_OK) return sc_end(&s);

    const float scale =
        kind == CONV_WGRAD_PEPITA ? 1.0f / ((float)sh.batch * oh * ow) : 1.0f / (float)sh.batch;
    pp_status st = PP_OK;
    switch (kind) {
    case CONV_FORWARD:
        st = op_conv_forward(ctx, &sh, bx, bw, bout);
        ref_conv_forward(&sh, x, w, ref);
        break;
    case CONV_WGRAD_BP:
    case CONV_WGRAD_PEPITA:
        st = op_conv_weight_grad_local(ctx, &sh, scale, by, bx, bout, local);
        ref_conv_weight_grad(&sh, scale, y, x, ref);
        break;
    default:
        st = op_conv_input_grad(ctx, &sh, by, bw, bout);
        ref_conv_input_grad(&sh, y, w, ref);
        break;
    }
    if (st != PP_OK) {
        r->status = st;
        r->pass = 0;
        return sc_end(&s);
    }
    sc_read(&s, bout, out, n_out * sizeof(float));
    if (s.status == PP_OK) ref_compare(out, ref, n_out, CONV_TOL, r);
    return sc_end(&s);
}

/* levels: 0 for distinct values, else that many (ties everywhere). */
static pp_status check_pool(rt_context *ctx, ref_check_list *list, size_t planes, int h, int w,
                            int levels) {
    const size_t nx = planes * (size_t)h * w, ny = planes * (size_t)(h / 2) * (w / 2);
    ref_check_result *rf = ref_check_list_add(list, "maxpool2_forward", "planes=%zu %dx%d%s",
                                              planes, h, w, levels ? " ties" : "");
    ref_check_result *rb = rf ? ref_check_list_add(list, "maxpool2_backward", "planes=%zu %dx%d%s",
                                                   planes, h, w, levels ? " ties" : "")
                              : NULL;
    if (!rb) return PP_ERR_OUT_OF_MEMORY;
    rf = rb - 1; /* the list may have moved */
    scratch s = {.ctx = ctx};
    float *x = sc_host(&s, nx * sizeof(float)), *y = sc_host(&s, ny * sizeof(float)),
          *dy = sc_host(&s, ny * sizeof(float)), *ref_y = sc_host(&s, ny * sizeof(float)),
          *dx = sc_host(&s, nx * sizeof(float)), *ref_dx = sc_host(&s, nx * sizeof(float));
    int32_t *am = sc_host(&s, ny * sizeof(int32_t)), *ref_am = sc_host(&s, ny * sizeof(int32_t));
    if (s.status != PP_OK) return sc_end(&s);
    fill(x, nx, -1.0f, 1.0f, 4, levels);
    fill(dy, ny, -1.0f, 1.0f, 5, 0);
    for (size_t i = 0; i < nx; i++)
        dx[i] = NAN; /* dx is fully overwritten */
    for (size_t i = 0; i < ny; i++)
        am[i] = -7;
    rt_buf *bx = sc_dev(&s, nx * sizeof(float), x), *by = sc_dev(&s, ny * sizeof(float), NULL),
           *bam = sc_dev(&s, ny * sizeof(int32_t), am), *bdy = sc_dev(&s, ny * sizeof(float), dy),
           *bdx = sc_dev(&s, nx * sizeof(float), dx);
    if (s.status != PP_OK) return sc_end(&s);

    ref_maxpool2_forward(planes, h, w, x, ref_y, ref_am);
    ref_maxpool2_backward(planes, h, w, dy, ref_am, ref_dx);
    pp_status st = op_maxpool2_forward(ctx, planes, h, w, bx, by, bam);
    if (st != PP_OK) {
        rf->status = rb->status = st;
        return sc_end(&s);
    }
    /* The backward pass uses the device's argmax: an argmax error shows in
     * the forward result, not twice. */
    st = op_maxpool2_backward(ctx, planes, h, w, bdy, bam, bdx);
    sc_read(&s, by, y, ny * sizeof(float));
    sc_read(&s, bam, am, ny * sizeof(int32_t));
    sc_read(&s, bdx, dx, nx * sizeof(float));
    if (s.status != PP_OK) return sc_end(&s);

    /* Exact: a maximum and an index are copies, not sums. */
    ref_compare(y, ref_y, ny, 0.0, rf);
    size_t wrong = 0;
    for (size_t i = 0; i < ny; i++)
        wrong += am[i] != ref_am[i];
    if (wrong) {
        rf->pass = 0;
        rf->max_abs_error = fmax(rf->max_abs_error, (double)wrong); /* count of wrong indices */
    }
    rb->status = st;
    if (st == PP_OK) {
        if (!wrong) {
            ref_compare(dx, ref_dx, nx, 0.0, rb);
        } else {
            ref_maxpool2_backward(planes, h, w, dy, am, ref_dx);
            ref_compare(dx, ref_dx, nx, 0.0, rb);
        }
    }
    return sc_end(&s);
}

pp_status ref_checks_conv(rt_context *ctx, int quick, ref_check_list *list) {
    /* {batch, in_c, in_h, in_w, out_c, kernel, stride, pad}: awkward shapes
     * first (batch 1 and primes, 1 and 3 channels, odd sizes, kernel 1/3/5,
     * stride 1/2, pad 0/1/2, out_c 1/5/13, rows narrower than a vector, the
     * tiled kernels at vector widths 4, 8 and 16 with a shifted last tile, the
     * per-element kernels, leftover filter and channel groups), then the real
     * training shapes (MNIST and CIFAR, batch 100, 32 filters 5x5). */
    static const op_conv_shape shapes[] = {
        {1, 1, 7, 9, 1, 1, 1, 0},      {1, 1, 7, 9, 5, 3, 1, 1},      {3, 3, 13, 13, 5, 5, 1, 0},
        {7, 3, 13, 13, 5, 3, 2, 1},    {7, 1, 7, 9, 1, 5, 2, 0},      {5, 3, 9, 7, 5, 3, 2, 0},
        {2, 2, 11, 11, 13, 3, 1, 0},   {2, 6, 10, 9, 3, 3, 1, 1},     {1, 1, 3, 3, 1, 3, 1, 0},
        {5, 2, 8, 10, 3, 5, 1, 0},     {13, 1, 28, 28, 5, 5, 1, 0},   {2, 3, 17, 19, 5, 5, 1, 1},
        {1, 3, 20, 20, 5, 1, 1, 0},    {11, 3, 32, 32, 5, 5, 1, 2},   {3, 1, 24, 40, 7, 5, 2, 2},
        {100, 1, 28, 28, 32, 5, 1, 0}, {100, 3, 32, 32, 32, 5, 1, 0},
    };
    const size_t n_quick = 10, n_all = sizeof shapes / sizeof shapes[0];
    const size_t n = quick ? n_quick : n_all;
    for (size_t i = 0; i < n; i++) {
        for (int kind = CONV_FORWARD; kind <= CONV_IGRAD; kind++)
            PP_TRY(check_conv(ctx, list, kind, shapes[i], 0));
        /* The local-memory tree that GPUs use, on every device. */
        if (shapes[i].batch < 100) {
            PP_TRY(check_conv(ctx, list, CONV_WGRAD_BP, shapes[i], 4));
            PP_TRY(check_conv(ctx, list, CONV_WGRAD_PEPITA, shapes[i], 64));
        }
    }

    /* {planes, h, w, levels}: 1x1 planes (no window), odd sizes, rows of
     * windows that fill 4-wide vectors exactly, with a remainder and not at all,
     * ties from two levels and from a constant plane, then the real pooled shapes
     * (100 x 32 planes of 24x24 and 28x28). */
    static const struct {
        size_t planes;
        int h, w, levels;
    } pools[] = {
        {1, 2, 2, 0},  {3, 1, 5, 0},   {1, 7, 9, 0},      {5, 13, 13, 0},
        {7, 8, 8, 2},  {5, 13, 11, 3}, {4, 6, 6, 1},      {2, 11, 17, 2},
        {3, 5, 31, 0}, {2, 3, 3, 0},   {3200, 24, 24, 0}, {3200, 28, 28, 0},
    };
    const size_t np = quick ? 10 : sizeof pools / sizeof pools[0];
    for (size_t i = 0; i < np; i++)
        PP_TRY(check_pool(ctx, list, pools[i].planes, pools[i].h, pools[i].w, pools[i].levels));
    return PP_OK;
}
