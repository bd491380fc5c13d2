/* Builds the embedded kernel programs for the context's device and caches
 * them by (program, options), so nothing is rebuilt inside a training loop. */
#include "runtime/embedded_kernels.h"
#include "runtime/program_cache.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cached_kernel {
    rt_kernel kernel;
    char name[64];
    struct cached_kernel *next;
} cached_kernel;

typedef struct cached_program {
    char *key; /* "program|defines" */
    char *name, *defines;
    cl_program program;
    cached_kernel *kernels;
    struct cached_program *next;
} cached_program;

/* Operators ask for their kernel on every launch: a hash of (program,
 * defines, kernel name) finds it without building a key or walking the
 * lists (open addressing; a full table falls back to the lists). */
#define MEMO_SLOTS 1024
#define MEMO_PROBES 16

typedef struct memo_slot {
    uint64_t hash;
    cached_program *program;
    cached_kernel *kernel;
} memo_slot;

struct rt_program_cache {
    cached_program *programs;
    memo_slot memo[MEMO_SLOTS];
};

static uint64_t hash_string(uint64_t h, const char *s) {
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ull; /* FNV-1a */
    return (h ^ 0xFFu) * 0x100000001B3ull;              /* a separator */
}

static uint64_t memo_hash(const char *program, const char *name, const char *defines) {
    return hash_string(hash_string(hash_string(0xCBF29CE484222325ull, program), name), defines);
}

static rt_kernel *memo_find(rt_program_cache *cache, uint64_t hash, const char *program,
                            const char *name, const char *defines) {
    for (size_t i = 0; i < MEMO_PROBES; i++) {
        const memo_slot *slot = &cache->memo[(hash + i) & (MEMO_SLOTS - 1)];
        if (!slot->kernel) return NULL;
        if (slot->hash == hash && !strcmp(slot->kernel->name, name) &&
            !strcmp(slot->program->name, program) && !strcmp(slot->program->defines, defines))
            return &slot->kernel->kernel;
    }
    return NULL;
}

static void memo_add(rt_program_cache *cache, uint64_t hash, cached_program *p, cached_kernel *k) {
    for (size_t i = 0; i < MEMO_PROBES; i++) {
        memo_slot *slot = &cache->memo[(hash + i) & (MEMO_SLOTS - 1)];
        if (!slot->kernel) {
            *slot = (memo_slot){.hash = hash, .program = p, .kernel = k};
            return;
        }
    }
}

pp_status rt_program_cache_create(rt_program_cache **cache) {
    *cache = calloc(1, sizeof **cache);
    if (!*cache) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for the program cache");
    return PP_OK;
}

void rt_program_cache_destroy(rt_program_cache *cache) {
    if (!cache) return;
    for (cached_program *p = cache->programs, *pn; p; p = pn) {
        pn = p->next;
        for (cached_kernel *k = p->kernels, *kn; k; k = kn) {
            kn = k->next;
            clReleaseKernel(k->kernel.kernel);
            free(k);
        }
        clReleaseProgram(p->program);
        free(p->key);
        free(p->name);
        free(p->defines);
        free(p);
    }
    free(cache);
}

const char *rt_embedded_source(const char *name) {
    for (const rt_embedded_kernel *k = rt_embedded_kernels; k->name; k++)
        if (!strcmp(k->name, name)) return k->source;
    return NULL;
}

/* -cl-std from the device's OpenCL C version, never from the platform's.
 * -cl-denorms-are-zero: momentum decays geometrically into denormals (0.9^n),
 * which PoCL's CPU code handles 15-20x slower (SGD over 1024x784 weights:
 * 4.0 ms denormal, 0.19-0.26 ms normal or flushed); values below 1.2e-38
 * change nothing in training. */
static void build_options(const rt_context *ctx, const char *defines, char *out, size_t size) {
    int minor = ctx->opencl_c_major > 1 ? 2 : ctx->opencl_c_minor;
    /* PEPITA_CL_WERROR=1 (the kernel_warnings test): a kernel warning fails its build */
    const char *werror = getenv("PEPITA_CL_WERROR");
    snprintf(out, size, "-cl-std=CL1.%d -cl-denorms-are-zero%s %s", minor > 2 ? 2 : minor,
             werror && !strcmp(werror, "1") ? " -Werror" : "", defines ? defines : "");
}

pp_status rt_program_build_source(rt_context *ctx, const char *label, const char *source,
                                  const char *defines, cl_program *out) {
    char options[1024];
    cl_int err;
    build_options(ctx, defines, options, sizeof options);
    cl_program program = clCreateProgramWithSource(ctx->context, 1, &source, NULL, &err);
    if (err != CL_SUCCESS) return rt_cl_fail(err, "clCreateProgramWithSource");
    err = clBuildProgram(program, 1, &ctx->device, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        size_t log_size = 0;
        char *log = NULL;
        if (clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_size) ==
                CL_SUCCESS &&
            (log = calloc(log_size + 1, 1)) != NULL)
            clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG, log_size, log, NULL);
        pp_fail(err == CL_BUILD_PROGRAM_FAILURE ? PP_ERR_BUILD : PP_ERR_OPENCL,
                "building %s for %s with options '%s' failed (%s); build log:\n%s", label,
                ctx->info.name, options, rt_cl_error_name(err), log ? log : "(none)");
        free(log);
        clReleaseProgram(program);
        return err == CL_BUILD_PROGRAM_FAILURE ? PP_ERR_BUILD : PP_ERR_OPENCL;
    }
    *out = program;
    return PP_OK;
}

/* cl/common.cl then cl/<program>.cl, as one source. */
static pp_status assemble_source(const char *program, char **out) {
    const char *common = rt_embedded_source("common");
    const char *body = rt_embedded_source(program);
    if (!body)
        return pp_fail(PP_ERR_INTERNAL, "no embedded kernel file cl/%s.cl in this build", program);
    if (!common || !strcmp(program, "common")) common = "";
    size_t size = strlen(common) + strlen(body) + 32;
    *out = malloc(size);
    if (!*out)
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory assembling cl/%s.cl", program);
    snprintf(*out, size, "%s\n#line 1\n%s", common, body);
    return PP_OK;
}

static pp_status find_or_build_program(rt_context *ctx, const char *program, const char *defines,
                                       cached_program **out) {
    rt_program_cache *cache = ctx->programs;
    size_t key_size = strlen(program) + (defines ? strlen(defines) : 0) + 2;
    char *key = malloc(key_size);
    if (!key) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
    snprintf(key, key_size, "%s|%s", program, defines ? defines : "");
    for (cached_program *p = cache->programs; p; p = p->next)
        if (!strcmp(p->key, key)) {
            free(key);
            *out = p;
            return PP_OK;
        }
    char *source = NULL, label[128];
    pp_status st = assemble_source(program, &source);
    cached_program *entry = NULL;
    if (st == PP_OK) {
        snprintf(label, sizeof label, "cl/%s.cl", program);
        entry = calloc(1, sizeof *entry);
        st = entry ? rt_program_build_source(ctx, label, source, defines, &entry->program)
                   : pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    free(source);
    if (st == PP_OK) {
        entry->name = strdup(program);
        entry->defines = strdup(defines ? defines : "");
        if (!entry->name || !entry->defines) {
            clReleaseProgram(entry->program);
            free(entry->name);
            free(entry->defines);
            st = pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
        }
    }
    if (st != PP_OK) {
        free(entry);
        free(key);
        return st;
    }
    entry->key = key;
    entry->next = cache->programs;
    cache->programs = entry;
    *out = entry;
    return PP_OK;
}

pp_status rt_kernel_get(rt_context *ctx, const char *program, const char *name, const char *defines,
                        rt_kernel **out) {
    cached_program *p = NULL;
    cl_int err;
    const uint64_t hash = memo_hash(program, name, defines ? defines : "");
    rt_kernel *known = memo_find(ctx->programs, hash, program, name, defines ? defines : "");
    if (known) {
        *out = known;
        return PP_OK;
    }
    PP_TRY(find_or_build_program(ctx, program, defines, &p));
    for (cached_kernel *k = p->kernels; k; k = k->next)
        if (!strcmp(k->name, name)) {
            *out = &k->kernel;
            return PP_OK;
        }
    cached_kernel *k = calloc(1, sizeof *k);
    if (!k) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
    snprintf(k->name, sizeof k->name, "%s", name);
    k->kernel.name = k->name;
    k->kernel.kernel = clCreateKernel(p->program, name, &err);
    if (err != CL_SUCCESS) {
        free(k);
        char what[192];
        snprintf(what, sizeof what, "clCreateKernel '%s' from cl/%s.cl", name, program);
        return rt_cl_fail(err, what);
    }
    err = clGetKernelWorkGroupInfo(k->kernel.kernel, ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                   sizeof k->kernel.max_work_group_size,
                                   &k->kernel.max_work_group_size, NULL);
    if (err == CL_SUCCESS)
        err = clGetKernelWorkGroupInfo(
            k->kernel.kernel, ctx->device, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
            sizeof k->kernel.preferred_multiple, &k->kernel.preferred_multiple, NULL);
    if (err != CL_SUCCESS) {
        clReleaseKernel(k->kernel.kernel);
        free(k);
        return rt_cl_fail(err, "clGetKernelWorkGroupInfo");
    }
    k->next = p->kernels;
    p->kernels = k;
    memo_add(ctx->programs, hash, p, k);
    *out = &k->kernel;
    return PP_OK;
}
