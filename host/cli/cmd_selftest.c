/* pepita selftest: every operator against its plain-C reference on a device,
 * so a user can trust a new GPU or driver. */
#include "cli/cli.h"
#include "cli/options.h"
#include "reference.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out) {
    fprintf(out, "usage: pepita selftest [--device D] [--full]\n\n"
                 "Runs every operator on the device and compares it with a plain-C reference.\n"
                 "  --device D   cpu, gpu, P:D or part of a name (default: $PEPITA_DEVICE, else\n"
                 "               the first GPU, else the first CPU)\n"
                 "  --full       also the real training shapes (slower)\n"
                 "Exits 1 if any check fails.\n");
}

int cli_selftest(int argc, char **argv) {
    const char *device = NULL;
    int full = 0;
    enum { OPT_FULL = 256, OPT_DEVICE };
    static const struct option longs[] = {{"help", no_argument, NULL, 'h'},
                                          {"full", no_argument, NULL, OPT_FULL},
                                          {"device", required_argument, NULL, OPT_DEVICE},
                                          {NULL, 0, NULL, 0}};
    cli_options walk;
    cli_options_start(&walk, argc, argv, "h", longs, 0);
    for (int c; (c = cli_options_next(&walk)) != CLI_OPTION_END;) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        } else if (c == OPT_FULL) {
            full = 1;
        } else if (c == OPT_DEVICE) {
            device = walk.value;
        } else {
            fprintf(stderr, "error: pepita selftest: unknown option or missing value '%s'\n",
                    walk.word);
            return 2;
        }
    }
    rt_context *ctx = NULL;
    pp_status st = rt_context_create(device, 0, &ctx);
    if (st != PP_OK) return cli_report(st);
    printf("selftest on %s (%s, %s), %s launch profile%s\n\n", ctx->info.name, ctx->info.platform,
           ctx->info.driver_version, ctx->info.profile,
           ctx->device_profile.forced ? " (forced by PEPITA_PROFILE)" : "");
    ref_check_list list = {0};
    pp_status (*const areas[])(rt_context *, int, ref_check_list *) = {
        ref_checks_gemm, ref_checks_elementwise, ref_checks_conv, ref_checks_mirror};
    for (size_t a = 0; a < sizeof areas / sizeof areas[0] && st == PP_OK; a++)
        st = areas[a](ctx, !full, &list);
    int failed = 0, errors = 0;
    printf("%-28s %-40s %12s %12s  %s\n", "operator", "shape", "max abs err", "max rel err",
           "result");
    for (size_t i = 0; i < list.count; i++) {
        const ref_check_result *r = &list.items[i];
        failed += !r->pass;
        errors += r->status != PP_OK;
        printf("%-28s %-40s %12.3e %12.3e  %s\n", r->op, r->shape, r->max_abs_error,
               r->max_rel_error, r->pass ? "pass" : (r->status != PP_OK ? "ERROR" : "FAIL"));
    }
    printf("\n%zu checks, %d failed\n", list.count, failed);
    /* ERROR rows: the operator itself failed; say why (the latest failure's message) */
    if (errors && st == PP_OK && *pp_last_error())
        fprintf(stderr, "error: %d checks could not run; the last failure: %s\n", errors,
                pp_last_error());
    ref_check_list_free(&list);
    rt_context_destroy(ctx);
    if (st != PP_OK) return cli_report(st);
    return failed ? 1 : 0;
}
