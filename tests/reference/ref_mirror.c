/* References and operator checks of weight mirroring's operators: normal
 * noise (bit-identical to the host's Philox), the mean removed, the rescale
 * factor and the scale by a device scalar. */
#include "ref_mirror.h"

#include <math.h>
#include <stdlib.h>

#include "ops/mirror_ops.h"
#include "ops/philox.h"
#include "reference.h"

void ref_normal(size_t n, float std, uint64_t seed, uint32_t a, uint32_t b, float *x) {
    for (size_t i = 0; i < n; i++)
        x[i] = std * philox_normal(seed, a, b, (uint32_t)i);
}

void ref_subtract_mean(size_t n, float *x) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    const double mean = n ? sum / (double)n : 0.0;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((double)x[i] - mean);
}

double ref_std_scale_factor(size_t n, const float *x, double target, double power) {
    double sum = 0.0, sq = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    const double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        sq += ((double)x[i] - mean) * ((double)x[i] - mean);
    const double std = sqrt(sq / (double)(n > 1 ? n - 1 : 1));
    return std > 0.0 ? pow(target / std, power) : 1.0;
}

/* ---- Checks ------------------------------------------------------------ */

typedef enum mirror_op {
    MIRROR_NORMAL,
    MIRROR_SUBTRACT_MEAN,
    MIRROR_FACTOR,
    MIRROR_SCALE
} mirror_op;

/* Deterministic inputs in [lo, hi), distinct per tag (an LCG). */
static void fill(float *x, size_t n, float lo, float hi, uint32_t tag) {
    uint64_t state = 0x9E3779B97F4A7C15ull * (tag + 1);
    for (size_t i = 0; i < n; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = lo + (hi - lo) * ((float)(state >> 40) * (1.0f / 16777216.0f));
    }
}

/* One operator at n values; zero_input: x is all zeros (the factor's guard). */
static pp_status check(rt_context *ctx, ref_check_list *list, mirror_op kind, size_t n,
                       int zero_input) {
    static const char *names[] = {"normal", "subtract_mean", "std_scale_factor", "scale_by"};
    ref_check_result *r =
        ref_check_list_add(list, names[kind], "n=%zu%s", n, zero_input ? " zeros" : "");
    if (!r) return PP_ERR_OUT_OF_MEMORY;
    float *x = malloc(n * sizeof *x), *want = malloc(n * sizeof *want),
          *got = malloc(n * sizeof *got);
    rt_buf bx = {0}, stats = {0};
    pp_status st = x && want && got ? PP_OK : PP_ERR_OUT_OF_MEMORY;
    if (st == PP_OK) {
        fill(x, n, -0.3f, 0.5f, (uint32_t)n);
        if (zero_input)
            for (size_t i = 0; i < n; i++)
                x[i] = 0.0f;
        st = rt_buf_create(ctx, n * sizeof(float), &bx);
    }
    if (st == PP_OK) st = rt_buf_write(ctx, &bx, 0, n * sizeof(float), x);
    float scalars[4] = {0.0f, 0.0f, 0.0f, 1.75f};
    if (st == PP_OK) st = rt_buf_create(ctx, sizeof scalars, &stats);
    if (st == PP_OK) st = rt_buf_write(ctx, &stats, 0, sizeof scalars, scalars);
    if (st != PP_OK) goto done;

    pp_status op = PP_OK;
    size_t compare_n = n;
    double tol = 0.0;
    const float target = 0.0127f, power = 1.0f / 3.0f;
    switch (kind) {
    case MIRROR_NORMAL: /* bit-identical to the host's Philox */
        op = op_normal(ctx, n, 0.1f, 0xFEEDFACECAFEBEEFull, 5, 2, &bx);
        ref_normal(n, 0.1f, 0xFEEDFACECAFEBEEFull, 5, 2, want);
        break;
    case MIRROR_SUBTRACT_MEAN:
        op = op_subtract_mean(ctx, n, &bx, &stats, 1);
        for (size_t i = 0; i < n; i++)
            want[i] = x[i];
        ref_subtract_mean(n, want);
        tol = 1e-6; /* the float sum against a double one */
        break;
    case MIRROR_FACTOR:
        op = op_std_scale_factor(ctx, n, &bx, target, power, &stats, 0);
        want[0] = (float)ref_std_scale_factor(n, x, target, power);
        compare_n = 1;
        tol = 1e-5; /* float sums of squares */
        break;
    case MIRROR_SCALE: /* one exact product per element */
        op = op_scale_by(ctx, n, &bx, &stats, 3);
        for (size_t i = 0; i < n; i++)
            want[i] = x[i] * 1.75f;
        break;
    }
    r->status = op;
    if (op != PP_OK) goto done;
    if (kind == MIRROR_FACTOR)
        st = rt_buf_read(ctx, &stats, 2 * sizeof(float), sizeof(float), got);
    else
        st = rt_buf_read(ctx, &bx, 0, n * sizeof(float), got);
    if (st == PP_OK) ref_compare(got, want, compare_n, tol, r);
done:
    rt_buf_release(ctx, &bx);
    rt_buf_release(ctx, &stats);
    free(x);
    free(want);
    free(got);
    return st;
}

pp_status ref_checks_mirror(rt_context *ctx, int quick, ref_check_list *list) {
    /* Awkward sizes (1, primes), then real ones: F of MNIST and CIFAR-10
     * (784 x 10, 3072 x 10) and a batch of 64 noise rows of 3072 inputs. */
    static const size_t sizes[] = {1, 2, 7, 997, 65537, 7840, 30720, 64 * 3072};
    const size_t n_sizes = quick ? 5 : 8;
    for (size_t i = 0; i < n_sizes; i++)
        for (int k = MIRROR_NORMAL; k <= MIRROR_SCALE; k++)
            PP_TRY(check(ctx, list, (mirror_op)k, sizes[i], 0));
    PP_TRY(check(ctx, list, MIRROR_FACTOR, 997, 1));
    return PP_OK;
}
