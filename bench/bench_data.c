/* Timing helpers, and bench data: real MNIST when a directory is given, else generated sets of
 * the same shape whose classes are learnable (a prototype per class plus
 * noise), so accuracies mean something either way. */
#include "bench.h"
#include "runtime/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

pp_status bench_time(rt_context *ctx, bench_fn fn, void *arg, int repeats, double target,
                     double *best) {
    PP_TRY(fn(arg));
    if (ctx) PP_TRY(rt_finish(ctx));
    *best = -1.0;
    int calls = 1;
    for (int r = 0; r < repeats; r++) {
        double t0 = bench_now();
        for (int i = 0; i < calls; i++)
            PP_TRY(fn(arg));
        if (ctx) PP_TRY(rt_finish(ctx));
        double t = (bench_now() - t0) / calls;
        if (*best < 0 || t < *best) *best = t;
        /* size later timings to the target from what one call costs */
        double want = target / (t > 1e-7 ? t : 1e-7);
        calls = want < 1 ? 1 : (want > 1000 ? 1000 : (int)want);
    }
    return PP_OK;
}

/* The sections besides the end-to-end runs' ("epoch-" + a run's name). */
static const char *const fixed_sections[] = {"peak",   "gemm",    "kernels",
                                             "epochs", "startup", "flops"};
enum { N_FIXED_SECTIONS = sizeof fixed_sections / sizeof fixed_sections[0] };
static const char epoch_prefix[] = "epoch-";

int bench_run_on(const bench_options *o, size_t i) {
    char section[64];
    snprintf(section, sizeof section, "%s%s", epoch_prefix, bench_epoch_run_name(i));
    return bench_section_on(o, "epochs") || bench_section_on(o, section);
}

int bench_epochs_on(const bench_options *o) {
    for (size_t i = 0; i < bench_epoch_runs(); i++)
        if (bench_run_on(o, i)) return 1;
    return 0;
}

int bench_section_known(const char *name, size_t len) {
    for (size_t k = 0; k < N_FIXED_SECTIONS; k++)
        if (strlen(fixed_sections[k]) == len && !strncmp(name, fixed_sections[k], len)) return 1;
    size_t prefix = sizeof epoch_prefix - 1;
    if (len <= prefix || strncmp(name, epoch_prefix, prefix) != 0) return 0;
    for (size_t i = 0; i < bench_epoch_runs(); i++) {
        const char *run = bench_epoch_run_name(i);
        if (strlen(run) == len - prefix && !strncmp(name + prefix, run, len - prefix)) return 1;
    }
    return 0;
}

void bench_print_sections(FILE *f) {
    for (size_t k = 0; k < N_FIXED_SECTIONS; k++)
        fprintf(f, "%s%s", k ? ", " : "", fixed_sections[k]);
    fprintf(f, ",\n                   %sRUN for one end-to-end run, RUN one of:", epoch_prefix);
    for (size_t i = 0; i < bench_epoch_runs(); i++)
        fprintf(f, "%s%s", i % 3 ? " " : "\n                     ", bench_epoch_run_name(i));
    fprintf(f, "\n");
}

int bench_section_on(const bench_options *o, const char *name) {
    if (!o->sections || !*o->sections) return 1;
    size_t len = strlen(name);
    for (const char *p = o->sections; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && !strncmp(p, name, len)) return 1;
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

static uint64_t splitmix(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

pp_status bench_data_generate(size_t n, int channels, int height, int width, int classes,
                              uint64_t seed, pp_dataset *out) {
    memset(out, 0, sizeof *out);
    size_t sample = (size_t)channels * height * width;
    uint8_t *protos = malloc((size_t)classes * sample);
    out->pixels = malloc(n * sample);
    out->labels = malloc(n);
    if (!protos || !out->pixels || !out->labels) {
        free(protos);
        pp_dataset_free(out);
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory generating bench data");
    }
    uint64_t rng = seed;
    for (size_t i = 0; i < (size_t)classes * sample; i++)
        protos[i] = (uint8_t)(splitmix(&rng) & 0xFF);
    for (size_t s = 0; s < n; s++) {
        uint64_t r = splitmix(&rng);
        int label = (int)(r % (uint64_t)classes);
        out->labels[s] = (uint8_t)label;
        const uint8_t *p = protos + (size_t)label * sample;
        uint8_t *px = out->pixels + s * sample;
        for (size_t i = 0; i < sample; i += 8) {
            uint64_t noise = splitmix(&rng);
            for (size_t b = 0; b < 8 && i + b < sample; b++) {
                /* half prototype, half noise */
                px[i + b] = (uint8_t)((p[i + b] + ((noise >> (8 * b)) & 0xFF)) / 2);
            }
        }
    }
    free(protos);
    out->n = n;
    out->channels = channels;
    out->height = height;
    out->width = width;
    out->classes = classes;
    return PP_OK;
}

pp_status bench_data_mnist(const char *dir, size_t n_train, size_t n_test, pp_dataset *train,
                           pp_dataset *test, int *real) {
    *real = dir != NULL;
    if (!dir) {
        PP_TRY(bench_data_generate(n_train ? n_train : 60000, 1, 28, 28, 10, 1, train));
        return bench_data_generate(n_test ? n_test : 10000, 1, 28, 28, 10, 2, test);
    }
    PP_TRY(pp_dataset_load(PP_DATASET_MNIST, dir, 0, train, test));
    /* trimming keeps the first samples: the arrays stay valid, n shrinks */
    if (n_train && n_train < train->n) train->n = n_train;
    if (n_test && n_test < test->n) test->n = n_test;
    return PP_OK;
}

pp_status bench_data_cifar10(const char *dir, size_t n_train, size_t n_test, pp_dataset *train,
                             pp_dataset *test) {
    PP_TRY(pp_dataset_load(PP_DATASET_CIFAR10, dir, 0, train, test));
    if (n_train && n_train < train->n) train->n = n_train;
    if (n_test && n_test < test->n) test->n = n_test;
    return PP_OK;
}
