/* pepita devices: every platform's devices, and which one is the default. */
#include "cli/cli.h"
#include "cli/options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_bytes(uint64_t bytes, char *out, size_t size) {
    if (bytes >= (1ull << 30))
        snprintf(out, size, "%.1f GiB", (double)bytes / (1ull << 30));
    else if (bytes >= (1ull << 20))
        snprintf(out, size, "%.1f MiB", (double)bytes / (1ull << 20));
    else
        snprintf(out, size, "%.0f KiB", (double)bytes / (1ull << 10));
}

int cli_devices(int argc, char **argv) {
    static const struct option longs[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    cli_options walk;
    cli_options_start(&walk, argc, argv, "h", longs, 0);
    int c = cli_options_next(&walk);
    if (c == 'h') {
        printf("usage: pepita devices\n\nLists every OpenCL device. Select one for other "
               "commands with --device or PEPITA_DEVICE:\n  cpu | gpu | P:D | part of the "
               "name (case-insensitive)\n");
        return 0;
    }
    if (c != CLI_OPTION_END) {
        fprintf(stderr, "error: pepita devices: unknown option '%s'\n", walk.word);
        return 2;
    }
    pp_device_info *devices = NULL;
    size_t count = 0;
    pp_status st = pp_devices_list(&devices, &count);
    if (st != PP_OK) return cli_report(st);
    /* An invalid PEPITA_DEVICE is reported even here: it would break every other command. */
    const char *selector = getenv("PEPITA_DEVICE");
    pp_context *probe = NULL;
    if (selector && *selector) {
        st = pp_context_create(NULL, &probe);
        if (st != PP_OK) {
            free(devices);
            return cli_report(st);
        }
    }
    for (size_t i = 0; i < count; i++) {
        const pp_device_info *d = &devices[i];
        int selected = probe ? (pp_context_device(probe)->platform_index == d->platform_index &&
                                pp_context_device(probe)->device_index == d->device_index)
                             : d->is_default;
        char global[32], local[32];
        print_bytes(d->global_mem_bytes, global, sizeof global);
        print_bytes(d->local_mem_bytes, local, sizeof local);
        printf("%d:%d%s %s\n", d->platform_index, d->device_index,
               selected ? (probe ? "  [selected by PEPITA_DEVICE]" : "  [default]") : "", d->name);
        printf("    platform        %s\n", d->platform);
        printf("    type            %s\n", d->type);
        printf("    vendor          %s\n", d->vendor);
        printf("    driver          %s\n", d->driver_version);
        printf("    compute units   %u\n", d->compute_units);
        printf("    global memory   %s\n", global);
        printf("    local memory    %s\n", local);
        printf("    max work-group  %zu\n", d->max_work_group_size);
        printf("    OpenCL C        %s\n", d->opencl_c_version);
        printf("    vector width    %u floats (preferred)\n", d->preferred_vector_width);
        if (d->warp_width)
            printf("    warp width      %u\n", d->warp_width);
        else
            printf("    warp width      not reported\n");
        printf("    launch profile  %s\n", d->profile);
    }
    pp_context_destroy(probe);
    free(devices);
    return 0;
}
