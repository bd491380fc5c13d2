/* Enumerating every platform's devices, and resolving a device selector. */
#include "runtime/runtime.h"
#include "runtime/device_profile.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NO_PLATFORM_HINT                                                                           \
    "no OpenCL platform found: install an OpenCL driver (for CPUs the Debian package "             \
    "pocl-opencl-icd)"

/* PoCL hides its CPU device when it cannot make its kernel cache (a HOME
 * that is read-only or not a directory): the commonest cause on CI runners. */
#define NO_DEVICE_HINT                                                                             \
    " (PoCL shows no device when it cannot create its kernel cache: make $XDG_CACHE_HOME or "      \
    "$HOME/.cache writable, or set POCL_CACHE_DIR to a writable directory)"

static void copy_string_info(cl_device_id device, cl_device_info what, char *dst, size_t size) {
    if (clGetDeviceInfo(device, what, size, dst, NULL) != CL_SUCCESS) snprintf(dst, size, "?");
    dst[size - 1] = '\0';
}

static const char *type_name(cl_device_type type) {
    if (type & CL_DEVICE_TYPE_GPU) return "gpu";
    if (type & CL_DEVICE_TYPE_CPU) return "cpu";
    if (type & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

/* Vendor queries from the extensions that define them; 0 when none applies. */
#define RT_DEVICE_WARP_SIZE_NV 0x4003
#define RT_DEVICE_WAVEFRONT_WIDTH_AMD 0x4043
#define RT_DEVICE_SUB_GROUP_SIZES_INTEL 0x4108

static int has_extension(cl_device_id device, const char *name) {
    size_t size = 0;
    if (clGetDeviceInfo(device, CL_DEVICE_EXTENSIONS, 0, NULL, &size) != CL_SUCCESS || !size)
        return 0;
    char *list = malloc(size + 1);
    if (!list) return 0;
    int found = 0;
    if (clGetDeviceInfo(device, CL_DEVICE_EXTENSIONS, size, list, NULL) == CL_SUCCESS) {
        list[size] = '\0';
        const size_t len = strlen(name);
        for (const char *p = strstr(list, name); p && !found; p = strstr(p + 1, name))
            found = (p == list || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0');
    }
    free(list);
    return found;
}

/* The width in which the device runs work-items in lock-step, where a vendor
 * extension tells it (informational: launch shapes are multiples of 64). */
static unsigned warp_width(cl_device_id device) {
    cl_uint width = 0;
    if (has_extension(device, "cl_nv_device_attribute_query") &&
        clGetDeviceInfo(device, RT_DEVICE_WARP_SIZE_NV, sizeof width, &width, NULL) == CL_SUCCESS)
        return width;
    if (has_extension(device, "cl_amd_device_attribute_query") &&
        clGetDeviceInfo(device, RT_DEVICE_WAVEFRONT_WIDTH_AMD, sizeof width, &width, NULL) ==
            CL_SUCCESS)
        return width;
    size_t sizes[8] = {0}, bytes = 0;
    if (has_extension(device, "cl_intel_required_subgroup_size") &&
        clGetDeviceInfo(device, RT_DEVICE_SUB_GROUP_SIZES_INTEL, sizeof sizes, sizes, &bytes) ==
            CL_SUCCESS) {
        size_t widest = 0;
        for (size_t i = 0; i < bytes / sizeof sizes[0] && i < 8; i++)
            if (sizes[i] > widest) widest = sizes[i];
        return (unsigned)widest;
    }
    return 0;
}

static pp_status describe_device(cl_platform_id platform, cl_device_id device, int p, int d,
                                 pp_device_info *info) {
    memset(info, 0, sizeof *info);
    info->platform_index = p;
    info->device_index = d;
    if (clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof info->platform, info->platform,
                          NULL) != CL_SUCCESS)
        snprintf(info->platform, sizeof info->platform, "?");
    info->platform[sizeof info->platform - 1] = '\0';
    copy_string_info(device, CL_DEVICE_NAME, info->name, sizeof info->name);
    copy_string_info(device, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    copy_string_info(device, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    copy_string_info(device, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version,
                     sizeof info->opencl_c_version);
    cl_device_type type = 0;
    cl_uint units = 0;
    cl_ulong global = 0, local = 0, alloc = 0;
    size_t wg = 0;
    RT_CHECK(clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof type, &type, NULL),
             "clGetDeviceInfo(CL_DEVICE_TYPE)");
    RT_CHECK(clGetDeviceInfo(device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL),
             "clGetDeviceInfo(CL_DEVICE_MAX_COMPUTE_UNITS)");
    RT_CHECK(clGetDeviceInfo(device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof global, &global, NULL),
             "clGetDeviceInfo(CL_DEVICE_GLOBAL_MEM_SIZE)");
    RT_CHECK(clGetDeviceInfo(device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local, &local, NULL),
             "clGetDeviceInfo(CL_DEVICE_LOCAL_MEM_SIZE)");
    RT_CHECK(clGetDeviceInfo(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof alloc, &alloc, NULL),
             "clGetDeviceInfo(CL_DEVICE_MAX_MEM_ALLOC_SIZE)");
    RT_CHECK(clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL),
             "clGetDeviceInfo(CL_DEVICE_MAX_WORK_GROUP_SIZE)");
    cl_uint vector = 0;
    RT_CHECK(clGetDeviceInfo(device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof vector, &vector,
                             NULL),
             "clGetDeviceInfo(CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT)");
    info->preferred_vector_width = vector;
    info->warp_width = warp_width(device);
    snprintf(info->type, sizeof info->type, "%s", type_name(type));
    info->compute_units = units;
    info->global_mem_bytes = global;
    info->local_mem_bytes = local;
    info->max_alloc_bytes = alloc;
    info->max_work_group_size = wg;
    snprintf(info->profile, sizeof info->profile, "%s",
             rt_profile_kind_name(rt_device_profile_natural(info)));
    return PP_OK;
}

/* Platforms into a malloc'd array; PP_ERR_NO_PLATFORM when there are none. */
static pp_status get_platforms(cl_platform_id **platforms, cl_uint *count) {
    cl_uint n = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &n);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && n == 0))
        return pp_fail(PP_ERR_NO_PLATFORM, NO_PLATFORM_HINT);
    RT_CHECK(err, "clGetPlatformIDs");
    *platforms = calloc(n, sizeof **platforms);
    if (!*platforms) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory listing platforms");
    err = clGetPlatformIDs(n, *platforms, NULL);
    if (err != CL_SUCCESS) {
        free(*platforms);
        *platforms = NULL;
        return rt_cl_fail(err, "clGetPlatformIDs");
    }
    *count = n;
    return PP_OK;
}

/* Devices of one platform (malloc'd); a platform with no device gives count 0. */
static pp_status get_devices(cl_platform_id platform, cl_device_id **devices, cl_uint *count) {
    cl_uint n = 0;
    *devices = NULL;
    *count = 0;
    cl_int err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, NULL, &n);
    if (err == CL_DEVICE_NOT_FOUND || n == 0) return PP_OK;
    RT_CHECK(err, "clGetDeviceIDs");
    *devices = calloc(n, sizeof **devices);
    if (!*devices) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory listing devices");
    err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, n, *devices, NULL);
    if (err != CL_SUCCESS) {
        free(*devices);
        *devices = NULL;
        return rt_cl_fail(err, "clGetDeviceIDs");
    }
    *count = n;
    return PP_OK;
}

/* The default: the first GPU, else the first CPU, else the first device. */
static size_t default_index(const pp_device_info *list, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (!strcmp(list[i].type, "gpu")) return i;
    for (size_t i = 0; i < count; i++)
        if (!strcmp(list[i].type, "cpu")) return i;
    return 0;
}

pp_status rt_devices_list(pp_device_info **devices, size_t *count) {
    cl_platform_id *platforms = NULL;
    cl_uint n_platforms = 0;
    pp_device_info *list = NULL;
    size_t n = 0;
    pp_status st;
    *devices = NULL;
    *count = 0;
    PP_TRY(get_platforms(&platforms, &n_platforms));
    for (cl_uint p = 0; p < n_platforms; p++) {
        cl_device_id *ids = NULL;
        cl_uint n_ids = 0;
        PP_TRY_GOTO(st, get_devices(platforms[p], &ids, &n_ids), fail);
        pp_device_info *grown = n_ids ? realloc(list, (n + n_ids) * sizeof *list) : list;
        if (n_ids && !grown) {
            free(ids);
            st = pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory listing devices");
            goto fail;
        }
        list = grown;
        for (cl_uint d = 0; d < n_ids; d++) {
            st = describe_device(platforms[p], ids[d], (int)p, (int)d, &list[n]);
            if (st != PP_OK) {
                free(ids);
                goto fail;
            }
            n++;
        }
        free(ids);
    }
    free(platforms);
    if (n == 0) {
        free(list);
        return pp_fail(PP_ERR_NO_DEVICE,
                       "OpenCL platforms exist but expose no device" NO_DEVICE_HINT);
    }
    list[default_index(list, n)].is_default = 1;
    *devices = list;
    *count = n;
    return PP_OK;
fail:
    free(platforms);
    free(list);
    return st;
}

pp_status pp_devices_list(pp_device_info **devices, size_t *count) {
    return rt_devices_list(devices, count);
}

static int contains_case_insensitive(const char *haystack, const char *needle) {
    size_t n = strlen(needle);
    for (; *haystack; haystack++) {
        size_t i = 0;
        while (i < n && haystack[i] &&
               tolower((unsigned char)haystack[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n) return 1;
    }
    return n == 0;
}

static int parse_index_pair(const char *s, int *p, int *d) {
    char tail;
    return sscanf(s, "%d:%d%c", p, d, &tail) == 2 && *p >= 0 && *d >= 0;
}

static int matches(const pp_device_info *info, const char *selector) {
    int p, d;
    if (!strcasecmp(selector, "cpu")) return !strcmp(info->type, "cpu");
    if (!strcasecmp(selector, "gpu")) return !strcmp(info->type, "gpu");
    if (!strcasecmp(selector, "accelerator")) return !strcmp(info->type, "accelerator");
    if (parse_index_pair(selector, &p, &d))
        return info->platform_index == p && info->device_index == d;
    return contains_case_insensitive(info->name, selector);
}

pp_status rt_device_select(const char *selector, int *platform_index, int *device_index) {
    const char *source = "--device";
    if (!selector || !*selector) {
        selector = getenv("PEPITA_DEVICE");
        source = "PEPITA_DEVICE";
    }
    pp_device_info *list = NULL;
    size_t n = 0;
    PP_TRY(rt_devices_list(&list, &n));
    size_t chosen = n;
    if (!selector || !*selector) {
        chosen = default_index(list, n);
    } else {
        int p, d;
        if (strchr(selector, ':') && !parse_index_pair(selector, &p, &d)) {
            free(list);
            return pp_fail(PP_ERR_ARGUMENT,
                           "%s '%s' is not a valid P:D index (expected two non-negative numbers, "
                           "e.g. 0:0)",
                           source, selector);
        }
        for (size_t i = 0; i < n && chosen == n; i++)
            if (matches(&list[i], selector)) chosen = i;
    }
    if (chosen == n) {
        char available[1024] = "";
        size_t used = 0;
        for (size_t i = 0; i < n && used < sizeof available; i++)
            used += (size_t)snprintf(available + used, sizeof available - used, "%s%d:%d %s (%s)",
                                     i ? ", " : "", list[i].platform_index, list[i].device_index,
                                     list[i].name, list[i].type);
        free(list);
        return pp_fail(PP_ERR_NO_DEVICE,
                       "no OpenCL device matches %s '%s'; available: %s (see `pepita devices`)",
                       source, selector, available);
    }
    *platform_index = list[chosen].platform_index;
    *device_index = list[chosen].device_index;
    free(list);
    return PP_OK;
}

/* A rank's device: the nth (mod their count) of the devices the selector
 * matches; with no selector, of the devices of the default device's type. */
pp_status pp_device_for_rank(const char *selector, int nth, char *out, size_t size) {
    int p, d;
    PP_TRY(rt_device_select(selector, &p, &d)); /* the checks and messages of one device */
    pp_device_info *list = NULL;
    size_t n = 0;
    PP_TRY(rt_devices_list(&list, &n));
    if (!selector || !*selector) selector = getenv("PEPITA_DEVICE");
    const char *type = "";
    for (size_t i = 0; i < n; i++)
        if (list[i].platform_index == p && list[i].device_index == d) type = list[i].type;
    size_t count = 0, chosen = 0;
    for (size_t i = 0; i < n; i++)
        count += selector && *selector ? matches(&list[i], selector) : !strcmp(list[i].type, type);
    size_t target = count ? (size_t)nth % count : 0;
    for (size_t i = 0, seen = 0; i < n; i++) {
        int match =
            selector && *selector ? matches(&list[i], selector) : !strcmp(list[i].type, type);
        if (match && seen++ == target) {
            chosen = i;
            break;
        }
    }
    snprintf(out, size, "%d:%d", list[chosen].platform_index, list[chosen].device_index);
    free(list);
    return PP_OK;
}

pp_status rt_device_open(int platform_index, int device_index, cl_platform_id *platform,
                         cl_device_id *device, pp_device_info *info) {
    cl_platform_id *platforms = NULL;
    cl_device_id *ids = NULL;
    cl_uint n_platforms = 0, n_ids = 0;
    pp_status st;
    PP_TRY(get_platforms(&platforms, &n_platforms));
    if (platform_index < 0 || (cl_uint)platform_index >= n_platforms) {
        free(platforms);
        return pp_fail(PP_ERR_NO_DEVICE, "no OpenCL platform %d", platform_index);
    }
    PP_TRY_GOTO(st, get_devices(platforms[platform_index], &ids, &n_ids), done);
    if (device_index < 0 || (cl_uint)device_index >= n_ids) {
        st = pp_fail(PP_ERR_NO_DEVICE, "no OpenCL device %d:%d", platform_index, device_index);
        goto done;
    }
    *platform = platforms[platform_index];
    *device = ids[device_index];
    st = describe_device(*platform, *device, platform_index, device_index, info);
done:
    free(ids);
    free(platforms);
    return st;
}
