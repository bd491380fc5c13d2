/* The runtime: devices and selectors, program builds, buffers, launches, error names. */
#include "runtime/runtime.h"
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pp_device_info *devices;
static size_t n_devices;

static void list_devices(void) {
    if (!devices) ck_assert_int_eq(rt_devices_list(&devices, &n_devices), PP_OK);
}

START_TEST(lists_every_device_with_one_default) {
    list_devices();
    ck_assert_uint_gt(n_devices, 0);
    int defaults = 0;
    for (size_t i = 0; i < n_devices; i++) {
        defaults += devices[i].is_default;
        ck_assert_str_ne(devices[i].name, "");
        ck_assert_uint_gt(devices[i].compute_units, 0);
        ck_assert_uint_gt(devices[i].global_mem_bytes, 0);
        ck_assert_uint_gt(devices[i].max_work_group_size, 0);
        ck_assert_ptr_nonnull(strstr(devices[i].opencl_c_version, "OpenCL C"));
    }
    ck_assert_int_eq(defaults, 1);
}
END_TEST

START_TEST(selects_by_type_index_and_name) {
    list_devices();
    const pp_device_info *first = &devices[0];
    int p = -1, d = -1;
    char selector[160];

    snprintf(selector, sizeof selector, "%d:%d", first->platform_index, first->device_index);
    ck_assert_int_eq(rt_device_select(selector, &p, &d), PP_OK);
    ck_assert_int_eq(p, first->platform_index);
    ck_assert_int_eq(d, first->device_index);

    /* a case-insensitive part of the name */
    snprintf(selector, sizeof selector, "%.6s", first->name);
    for (char *c = selector; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c + 0);
    ck_assert_int_eq(rt_device_select(selector, &p, &d), PP_OK);

    /* type selectors: a present type selects it, an absent one is a clear error */
    for (const char *type = "cpu"; type; type = strcmp(type, "cpu") ? NULL : "gpu") {
        int present = 0;
        for (size_t i = 0; i < n_devices; i++)
            present |= !strcmp(devices[i].type, type);
        pp_status st = rt_device_select(type, &p, &d);
        if (present) {
            ck_assert_int_eq(st, PP_OK);
        } else {
            ck_assert_int_eq(st, PP_ERR_NO_DEVICE);
            ck_assert_ptr_nonnull(strstr(pp_last_error(), type));
        }
    }
}
END_TEST

START_TEST(rejects_bad_selectors) {
    int p, d;
    ck_assert_int_eq(rt_device_select("nosuchdevice", &p, &d), PP_ERR_NO_DEVICE);
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "nosuchdevice"));
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "available"));
    ck_assert_int_eq(rt_device_select("99:0", &p, &d), PP_ERR_NO_DEVICE);
    ck_assert_int_eq(rt_device_select("1:x", &p, &d), PP_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "P:D"));
    ck_assert_int_eq(rt_device_select("-1:0", &p, &d), PP_ERR_ARGUMENT);

    setenv("PEPITA_DEVICE", "nosuchdevice", 1);
    ck_assert_int_eq(rt_device_select(NULL, &p, &d), PP_ERR_NO_DEVICE);
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "PEPITA_DEVICE"));
    /* an explicit selector wins over the environment */
    ck_assert_int_eq(rt_device_select("0:0", &p, &d), PP_OK);
    unsetenv("PEPITA_DEVICE");
    ck_assert_int_eq(rt_device_select(NULL, &p, &d), PP_OK);
}
END_TEST

START_TEST(public_context_reports_its_device) {
    pp_context *context = NULL;
    ck_assert_int_eq(pp_context_create(NULL, &context), PP_OK);
    const pp_device_info *info = pp_context_device(context);
    list_devices();
    for (size_t i = 0; i < n_devices; i++)
        if (devices[i].is_default) ck_assert_str_eq(info->name, devices[i].name);
    pp_context_destroy(context);
    ck_assert_int_eq(pp_context_create("nosuchdevice", &context), PP_ERR_NO_DEVICE);
    ck_assert_ptr_null(context);
}
END_TEST

START_TEST(buffers_round_trip) {
    rt_context *ctx = NULL;
    ck_assert_int_eq(rt_context_create(NULL, 0, &ctx), PP_OK);
    enum { N = 1031 };
    float host[N], back[N];
    ts_fill_uniform(host, N, -3.0f, 3.0f, 7);
    rt_buf a, b;
    ck_assert_int_eq(rt_buf_create(ctx, N * sizeof(float), &a), PP_OK);
    ck_assert_int_eq(rt_buf_create(ctx, N * sizeof(float), &b), PP_OK);
    ck_assert_uint_eq(ctx->bytes_live, 2 * N * sizeof(float));

    /* fresh buffers are zero */
    ck_assert_int_eq(rt_buf_read(ctx, &a, 0, sizeof back, back), PP_OK);
    for (int i = 0; i < N; i++)
        ck_assert_float_eq(back[i], 0.0f);

    ck_assert_int_eq(rt_buf_write(ctx, &a, 0, sizeof host, host), PP_OK);
    ck_assert_int_eq(rt_buf_copy(ctx, &a, 4 * sizeof(float), &b, 0, 100 * sizeof(float)), PP_OK);
    ck_assert_int_eq(rt_buf_zero(ctx, &a, 10 * sizeof(float), 5 * sizeof(float)), PP_OK);
    ck_assert_int_eq(rt_buf_read(ctx, &a, 0, sizeof back, back), PP_OK);
    for (int i = 0; i < N; i++)
        ck_assert_float_eq(back[i], (i >= 10 && i < 15) ? 0.0f : host[i]);
    ck_assert_int_eq(rt_buf_read(ctx, &b, 0, 100 * sizeof(float), back), PP_OK);
    for (int i = 0; i < 100; i++)
        ck_assert_float_eq(back[i], host[i + 4]);

    /* out-of-range access is refused, not performed */
    ck_assert_int_eq(rt_buf_read(ctx, &a, sizeof host - 4, 8, back), PP_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "outside"));

    size_t peak = ctx->bytes_peak;
    rt_buf_release(ctx, &a);
    rt_buf_release(ctx, &a); /* a second release is harmless */
    ck_assert_uint_eq(ctx->bytes_live, N * sizeof(float));
    ck_assert_uint_eq(ctx->bytes_peak, peak);

    /* an impossible allocation is an out-of-memory error naming the sizes */
    rt_buf huge;
    ck_assert_int_eq(rt_buf_create(ctx, (size_t)ctx->info.global_mem_bytes * 2, &huge),
                     PP_ERR_OUT_OF_MEMORY);
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "bytes"));
    rt_buf_release(ctx, &b);
    rt_context_destroy(ctx);
}
END_TEST

static const char *scale_source = "__kernel void scale(__global float *x, int n, float a) {\n"
                                  "  int i = get_global_id(0);\n"
                                  "  if (i < n) x[i] *= a;\n"
                                  "}\n";

START_TEST(builds_and_launches_a_kernel) {
    rt_context *ctx = NULL;
    ck_assert_int_eq(rt_context_create(NULL, 1, &ctx), PP_OK);
    cl_program program;
    ck_assert_int_eq(rt_program_build_source(ctx, "scale", scale_source, "-DUNUSED=1", &program),
                     PP_OK);
    cl_int err;
    rt_kernel kernel = {.name = "scale"};
    kernel.kernel = clCreateKernel(program, "scale", &err);
    ck_assert_int_eq(err, CL_SUCCESS);

    enum { N = 37 };
    float host[N], back[N];
    ts_fill_uniform(host, N, -1.0f, 1.0f, 3);
    rt_buf x;
    ck_assert_int_eq(rt_buf_create(ctx, sizeof host, &x), PP_OK);
    ck_assert_int_eq(rt_buf_write(ctx, &x, 0, sizeof host, host), PP_OK);
    /* a local size that does not divide N: the global size is rounded up */
    ck_assert_int_eq(RT_LAUNCH(ctx, &kernel, 1, (size_t[]){N}, (size_t[]){8}, RT_BUF(&x), RT_INT(N),
                               RT_FLOAT(2.5f)),
                     PP_OK);
    ck_assert_int_eq(RT_LAUNCH_1D(ctx, &kernel, N, RT_BUF(&x), RT_INT(N), RT_FLOAT(-1.0f)), PP_OK);
    ck_assert_int_eq(rt_buf_read(ctx, &x, 0, sizeof back, back), PP_OK);
    for (int i = 0; i < N; i++)
        ck_assert_float_eq(back[i], host[i] * -2.5f);

    /* the profile saw both launches under the kernel's name */
    rt_profile_entry *entries = NULL;
    size_t count = 0;
    ck_assert_int_eq(rt_profile_collect(ctx, &entries, &count), PP_OK);
    ck_assert_uint_eq(count, 1);
    ck_assert_str_eq(entries[0].name, "scale");
    ck_assert_uint_eq(entries[0].launches, 2);
    free(entries);

    /* a wrong argument is reported with the kernel's name and the CL error */
    rt_buf unallocated = {0};
    ck_assert_int_eq(RT_LAUNCH_1D(ctx, &kernel, N, RT_BUF(&unallocated), RT_INT(N), RT_FLOAT(1)),
                     PP_ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "scale"));

    clReleaseKernel(kernel.kernel);
    clReleaseProgram(program);
    rt_buf_release(ctx, &x);
    rt_context_destroy(ctx);
}
END_TEST

START_TEST(broken_kernel_reports_the_build_log) {
    rt_context *ctx = NULL;
    ck_assert_int_eq(rt_context_create(NULL, 0, &ctx), PP_OK);
    const char *broken = "__kernel void broken(__global float *x) { x[0] = undeclared_name; }\n";
    cl_program program = NULL;
    ck_assert_int_eq(rt_program_build_source(ctx, "cl/broken.cl", broken, "-DTILE=3", &program),
                     PP_ERR_BUILD);
    const char *message = pp_last_error();
    ck_assert_ptr_nonnull(strstr(message, "cl/broken.cl"));
    ck_assert_ptr_nonnull(strstr(message, ctx->info.name));
    ck_assert_ptr_nonnull(strstr(message, "-DTILE=3"));
    ck_assert_ptr_nonnull(strstr(message, "-cl-std=CL1."));
    ck_assert_ptr_nonnull(strstr(message, "undeclared_name"));
    ck_assert_ptr_nonnull(strstr(message, "CL_BUILD_PROGRAM_FAILURE"));

    /* a program that is not embedded is an internal error, not a crash */
    rt_kernel *kernel = NULL;
    ck_assert_int_eq(rt_kernel_get(ctx, "no_such_file", "k", NULL, &kernel), PP_ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(pp_last_error(), "cl/no_such_file.cl"));
    rt_context_destroy(ctx);
}
END_TEST

START_TEST(error_names) {
    ck_assert_str_eq(rt_cl_error_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
    ck_assert_str_eq(rt_cl_error_name(CL_INVALID_WORK_GROUP_SIZE), "CL_INVALID_WORK_GROUP_SIZE");
    ck_assert_str_eq(rt_cl_error_name(CL_BUILD_PROGRAM_FAILURE), "CL_BUILD_PROGRAM_FAILURE");
    ck_assert_str_eq(rt_cl_error_name(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
    ck_assert_str_eq(rt_cl_error_name(-12345), "CL_UNKNOWN_ERROR");
    ck_assert_int_eq(rt_cl_fail(CL_OUT_OF_RESOURCES, "clEnqueueNDRangeKernel"), PP_ERR_OPENCL);
    ck_assert_str_eq(pp_last_error(), "clEnqueueNDRangeKernel (CL_OUT_OF_RESOURCES)");
    ck_assert_int_eq(rt_cl_fail(CL_MEM_OBJECT_ALLOCATION_FAILURE, "x"), PP_ERR_OUT_OF_MEMORY);
    ck_assert_str_eq(pp_status_name(PP_ERR_FORMAT), "PP_ERR_FORMAT");
    ck_assert_int_eq(pp_status_exit_code(PP_ERR_NO_DEVICE), 2);
    ck_assert_int_eq(pp_status_exit_code(PP_ERR_NUMERIC), 3);
    ck_assert_int_eq(pp_status_exit_code(PP_ERR_INTERRUPTED), 130);
    ck_assert_int_eq(pp_status_exit_code(PP_ERR_OPENCL), 1);
    pp_fail(PP_ERR_IO, "inner");
    pp_fail_context(PP_ERR_IO, "outer %d", 1);
    ck_assert_str_eq(pp_last_error(), "outer 1: inner");
}
END_TEST

int main(void) {
    Suite *suite = suite_create("runtime");
    TCase *tc = tcase_create("runtime");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, lists_every_device_with_one_default);
    tcase_add_test(tc, selects_by_type_index_and_name);
    tcase_add_test(tc, rejects_bad_selectors);
    tcase_add_test(tc, public_context_reports_its_device);
    tcase_add_test(tc, buffers_round_trip);
    tcase_add_test(tc, builds_and_launches_a_kernel);
    tcase_add_test(tc, broken_kernel_reports_the_build_log);
    tcase_add_test(tc, error_names);
    suite_add_tcase(suite, tc);
    int rc = ts_run_suite(suite);
    free(devices);
    return rc;
}
