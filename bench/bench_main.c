/* pepita-bench: kernel and end-to-end benchmarks of pepita-cl, with OpenBLAS
 * (bench-only dependency) timed in the same run as the CPU yardstick.
 * Markdown tables go to stdout, progress to stderr, --json FILE gets
 * everything in machine-readable form. */
#include "bench.h"
#include "cli/options.h"
#include "runtime/error.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f, "usage: pepita-bench [options]\n"
               "  --device SEL     device selector (cpu, gpu, P:D, name part) or 'all'\n"
               "  --json FILE      write the results as JSON\n"
               "  --data DIR       real MNIST IDX files (default: generated MNIST-shaped data)\n"
               "  --cifar DIR      CIFAR-10 binary batches: PEPITA and BP FC epochs on them too\n"
               "  --quick          tiny data sets and few repeats (a smoke run, seconds)\n"
               "  --repeats N      best of N timings per kernel (default 5, quick 2)\n"
               "  --samples N      training samples per end-to-end epoch (default: all)\n"
               "  --epochs N       epochs per end-to-end run (default 2)\n"
               "  --sections LIST  comma list of (default: all): ");
    bench_print_sections(f);
    fprintf(f,
            "  --python PATH    interpreter with torch for the PyTorch peer, run alternately\n"
            "                   with the epochs (default: $PEPITA_BENCH_PYTHON, else python3;\n"
            "                   'none': no peer; skipped when torch does not import)\n"
            "  --peer-device D  the peer's torch device: cpu (default) or cuda[:N], strict fp32\n");
}

/* OpenBLAS picks its kernels from the CPU model; on a CPU it does not know
 * (virtual machines often report a plain "Intel Xeon Processor") it falls back
 * to the generic Prescott (SSE3) kernels, 2-3x slower than the AVX-512 ones
 * on these shapes, and the OpenBLAS yardsticks would be slowed ones. The
 * choice is made when the library loads, so the bench restarts itself once
 * with OPENBLAS_CORETYPE naming the kernels the CPU's features support. */
static void openblas_native_kernels(char **argv) {
#if defined(__x86_64__)
    if (getenv("OPENBLAS_CORETYPE")) return; /* the user's choice, or already restarted */
    const char *core = openblas_get_corename();
    if (!core || strcasecmp(core, "prescott") != 0) return;
    const char *want = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                       : __builtin_cpu_supports("avx2")  ? "Haswell"
                                                         : NULL;
    if (!want || setenv("OPENBLAS_CORETYPE", want, 1) != 0) return;
    fprintf(stderr,
            "pepita-bench: OpenBLAS chose its generic %s kernels; restarting with "
            "OPENBLAS_CORETYPE=%s\n",
            core, want);
    execv("/proc/self/exe", argv); /* on failure: go on with the generic kernels */
#else
    (void)argv;
#endif
}

/* cli_parse_int, its message printed: 0 on bad input. */
static int option_int(const char *flag, const char *text, long lo, long hi, int *out) {
    if (cli_parse_int(flag, text, lo, hi, out) == PP_OK) return 1;
    fprintf(stderr, "pepita-bench: %s\n", pp_last_error());
    return 0;
}

/* Every name in the comma list is a section (so a typo never runs nothing). */
static int sections_known(const char *list) {
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (!bench_section_known(p, n)) {
            fprintf(stderr, "pepita-bench: --sections: unknown section '%.*s' (see --help)\n",
                    (int)n, p);
            return 0;
        }
        p += n;
        if (*p == ',') p++;
    }
    return 1;
}

/* cpu, cuda or cuda:N: the torch devices the peer takes. */
static int torch_device_name(const char *text) {
    if (!strcmp(text, "cpu") || !strcmp(text, "cuda")) return 1;
    if (strncmp(text, "cuda:", 5) != 0 || !text[5]) return 0;
    for (const char *c = text + 5; *c; c++)
        if (*c < '0' || *c > '9') return 0;
    return 1;
}

enum {
    OPT_DEVICE = 256,
    OPT_JSON,
    OPT_DATA,
    OPT_CIFAR,
    OPT_QUICK,
    OPT_REPEATS,
    OPT_SAMPLES,
    OPT_EPOCHS,
    OPT_SECTIONS,
    OPT_PYTHON,
    OPT_PEER_DEVICE,
};

/* 1: options read; 0: bad options (reported); -1: --help was printed. */
static int parse_args(int argc, char **argv, bench_options *o) {
    static const struct option longs[] = {
        {"device", required_argument, NULL, OPT_DEVICE},
        {"json", required_argument, NULL, OPT_JSON},
        {"data", required_argument, NULL, OPT_DATA},
        {"cifar", required_argument, NULL, OPT_CIFAR},
        {"quick", no_argument, NULL, OPT_QUICK},
        {"repeats", required_argument, NULL, OPT_REPEATS},
        {"samples", required_argument, NULL, OPT_SAMPLES},
        {"epochs", required_argument, NULL, OPT_EPOCHS},
        {"sections", required_argument, NULL, OPT_SECTIONS},
        {"python", required_argument, NULL, OPT_PYTHON},
        {"peer-device", required_argument, NULL, OPT_PEER_DEVICE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->epochs = 2;
    o->self_path = argv[0];
    cli_options walk;
    cli_options_start(&walk, argc, argv, "h", longs, 0);
    int n = 0;
    for (int c; (c = cli_options_next(&walk)) != CLI_OPTION_END;) {
        switch (c) {
        case 'h':
            usage(stdout);
            return -1;
        case OPT_DEVICE:
            o->device = walk.value;
            break;
        case OPT_JSON:
            o->json_path = walk.value;
            break;
        case OPT_DATA:
            o->data_dir = walk.value;
            break;
        case OPT_CIFAR:
            o->cifar_dir = walk.value;
            break;
        case OPT_QUICK:
            o->quick = 1;
            break;
        case OPT_REPEATS:
            if (!option_int(walk.word, walk.value, 1, 1000, &o->repeats)) return 0;
            break;
        case OPT_SAMPLES:
            if (!option_int(walk.word, walk.value, 0, 100000000, &n)) return 0;
            o->samples = (size_t)n; /* 0: all */
            break;
        case OPT_EPOCHS:
            if (!option_int(walk.word, walk.value, 1, 1000, &o->epochs)) return 0;
            break;
        case OPT_SECTIONS:
            if (!sections_known(walk.value)) return 0;
            o->sections = walk.value;
            break;
        case OPT_PYTHON:
            o->python = walk.value;
            break;
        case OPT_PEER_DEVICE:
            if (!torch_device_name(walk.value)) {
                fprintf(stderr, "pepita-bench: --peer-device: '%s' is not cpu, cuda or cuda:N\n",
                        walk.value);
                return 0;
            }
            o->peer_device = walk.value;
            break;
        case CLI_OPTION_MISSING_VALUE:
            fprintf(stderr, "pepita-bench: %s needs a value (see --help)\n", walk.word);
            return 0;
        default:
            fprintf(stderr, "pepita-bench: unknown option '%s' (see --help)\n", walk.word);
            return 0;
        }
    }
    if (o->repeats <= 0) o->repeats = o->quick ? 2 : 5;
    /* the smoke run (--quick) leaves the peer out unless asked for */
    if (!o->python && !o->quick) o->python = getenv("PEPITA_BENCH_PYTHON");
    if (!o->python && !o->quick) o->python = "python3";
    if (o->python && !*o->python) o->python = "python3";
    if (o->python && !strcmp(o->python, "none")) o->python = NULL;
    if (!o->peer_device) o->peer_device = "cpu";
    return 1;
}

/* The 1-, 5- and 15-minute load averages: the machine may be shared. */
static void load_average(double load[3]) {
    load[0] = load[1] = load[2] = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return;
    if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = load[1] = -1;
    fclose(f);
}

static void write_host(bench_json *j, const bench_options *o, const char *when) {
    struct utsname u;
    double load[3];
    load_average(load);
    bj_object_begin(j, "host");
    bj_string(j, "date", when);
    if (uname(&u) == 0) {
        bj_string(j, "machine", u.machine);
        bj_string(j, "kernel", u.release);
    }
    bj_int(j, "online_cpus", sysconf(_SC_NPROCESSORS_ONLN));
    bj_string(j, "openblas_core", openblas_get_corename());
    bj_number(j, "load_1min", load[0]);
    bj_number(j, "load_5min", load[1]);
    bj_number(j, "load_15min", load[2]);
    bj_bool(j, "quick", o->quick);
    bj_int(j, "repeats", o->repeats);
    bj_object_end(j);
}

static void write_device(bench_json *j, const pp_device_info *d) {
    bj_object_begin(j, "device");
    bj_string(j, "name", d->name);
    bj_string(j, "platform", d->platform);
    bj_string(j, "type", d->type);
    bj_string(j, "driver", d->driver_version);
    bj_string(j, "opencl_c", d->opencl_c_version);
    bj_int(j, "compute_units", d->compute_units);
    bj_int(j, "global_mem_bytes", (long long)d->global_mem_bytes);
    bj_object_end(j);
}

/* Every section for one device. A failing section is reported, not fatal;
 * returns 0 when the device could not be opened. */
static int bench_device(const bench_options *o, const char *selector, const bench_datasets *data,
                        bench_json *j) {
    rt_context *ctx = NULL;
    bj_object_begin(j, NULL);
    bj_string(j, "selector", selector);
    pp_status st = rt_context_create(selector, 0, &ctx);
    if (st != PP_OK) {
        printf("\ndevice %s: %s\n", selector, pp_last_error());
        bj_string(j, "error", pp_last_error());
        bj_object_end(j);
        return 0;
    }
    write_device(j, &ctx->info);
    printf("\n## %s (%s, %s, %u compute units)\n", ctx->info.name, ctx->info.platform,
           ctx->info.type, ctx->info.compute_units);
    double peak_gflops = 0.0;
    int peak_width = 16;
    /* the epochs report their rate against the peak: measure it for them too */
    if ((bench_section_on(o, "peak") || bench_epochs_on(o)) &&
        bench_peak(o, ctx, j, &peak_gflops, &peak_width) != PP_OK)
        printf("\npeak section failed: %s\n", pp_last_error());
    if (bench_section_on(o, "gemm") && bench_gemm(o, ctx, j) != PP_OK)
        printf("\ngemm section failed: %s\n", pp_last_error());
    if (bench_section_on(o, "kernels") && bench_kernels(o, ctx, j) != PP_OK)
        printf("\nkernels section failed: %s\n", pp_last_error());
    rt_context_destroy(ctx);
    bench_epochs(o, selector, data, peak_gflops, peak_width, j);
    if (bench_section_on(o, "startup") && bench_startup(o, selector, j) != PP_OK)
        printf("\nstart-up section failed: %s\n", pp_last_error());
    bj_object_end(j);
    return 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--startup-child")) return bench_startup_child(argv[2]);
    openblas_native_kernels(argv);
    bench_options o;
    int parsed = parse_args(argc, argv, &o);
    if (parsed <= 0) return parsed < 0 ? 0 : 2;
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
    double load[3];
    load_average(load);
    printf("# pepita-bench %s (load average %.2f %.2f %.2f on %ld CPUs, OpenBLAS %s kernels)%s\n",
           when, load[0], load[1], load[2], sysconf(_SC_NPROCESSORS_ONLN), openblas_get_corename(),
           o.quick ? " --quick" : "");

    bench_json j = {0};
    bj_object_begin(&j, NULL);
    bj_string(&j, "tool", "pepita-bench");
    write_host(&j, &o, when);

    bench_datasets data;
    memset(&data, 0, sizeof data);
    size_t n_train = o.samples ? o.samples : (o.quick ? 256 : 0);
    if (bench_epochs_on(&o)) {
        pp_status st = bench_data_mnist(o.data_dir, n_train, o.quick ? 64 : 0, &data.train,
                                        &data.test, &data.real);
        if (st == PP_OK && o.cifar_dir)
            st = bench_data_cifar10(o.cifar_dir, n_train, o.quick ? 64 : 0, &data.cifar_train,
                                    &data.cifar_test);
        if (st != PP_OK) {
            fprintf(stderr, "pepita-bench: %s\n", pp_last_error());
            bj_free(&j);
            pp_dataset_free(&data.train);
            pp_dataset_free(&data.test);
            return 1;
        }
    }

    if (bench_section_on(&o, "flops")) bench_flops(&o, &j);

    int failed_devices = 0;
    bj_array_begin(&j, "devices");
    if (o.device && !strcmp(o.device, "all")) {
        pp_device_info *devices = NULL;
        size_t count = 0;
        if (pp_devices_list(&devices, &count) != PP_OK) {
            fprintf(stderr, "pepita-bench: %s\n", pp_last_error());
            count = 0;
        }
        for (size_t i = 0; i < count; i++) {
            char selector[32];
            snprintf(selector, sizeof selector, "%d:%d", devices[i].platform_index,
                     devices[i].device_index);
            if (!bench_device(&o, selector, &data, &j)) failed_devices++;
        }
        free(devices);
    } else if (!bench_device(&o, o.device, &data, &j)) {
        failed_devices++;
    }
    bj_array_end(&j);
    load_average(load);
    bj_number(&j, "load_1min_at_end", load[0]);
    bj_object_end(&j);
    printf("\n(load average at the end: %.2f %.2f %.2f)\n", load[0], load[1], load[2]);

    int rc = failed_devices ? 1 : 0;
    if (o.json_path && bj_write_file(&j, o.json_path) != PP_OK) {
        fprintf(stderr, "pepita-bench: %s\n", pp_last_error());
        rc = 1;
    }
    bj_free(&j);
    pp_dataset_free(&data.train);
    pp_dataset_free(&data.test);
    pp_dataset_free(&data.cifar_train);
    pp_dataset_free(&data.cifar_test);
    return rc;
}
