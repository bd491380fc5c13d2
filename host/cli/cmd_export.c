/* pepita export: a checkpoint's weights, fixed matrices and configuration as
 * an .npz archive for NumPy or PyTorch. */
#define _GNU_SOURCE /* getopt_long */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void export_usage(FILE *out) {
    fprintf(out,
            "usage: pepita export --checkpoint FILE --npz FILE [--data PATH]\n"
            "\n"
            "Writes every tensor of a checkpoint (w1..wL, momentum1..L, F or B*) and its\n"
            "configuration (a JSON string, 'config') to an .npz archive, atomically.\n"
            "No device is needed.\n"
            "\n"
            "  --checkpoint FILE   a checkpoint saved by pepita train --save\n"
            "  --npz FILE          the archive to write\n"
            "  --data PATH         the data it was trained on: needed only for a conv model,\n"
            "                      or one without hidden layers, trained with --dataset npz\n");
}

static int usage_error(const char *message, const char *what) {
    fprintf(stderr, "error: %s%s\n", message, what ? what : "");
    return pp_status_exit_code(PP_ERR_ARGUMENT);
}

int cli_export(int argc, char **argv) {
    static const struct option options[] = {
        {"checkpoint", required_argument, NULL, 'c'},
        {"npz", required_argument, NULL, 'o'},
        {"data", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *checkpoint = NULL, *npz = NULL, *data = NULL;
    opterr = 0; /* errors are reported here, in the CLI's one-line form */
    optind = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            checkpoint = optarg;
            break;
        case 'o':
            npz = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'h':
            export_usage(stdout);
            return 0;
        case ':': {
            char message[256];
            snprintf(message, sizeof message, "%s needs a value", argv[optind - 1]);
            return usage_error(message, NULL);
        }
        default:
            return usage_error("pepita export: unknown option ", argv[optind - 1]);
        }
    }
    if (optind < argc) return usage_error("pepita export: unexpected argument ", argv[optind]);
    if (!checkpoint || !*checkpoint || !npz || !*npz)
        return usage_error("pepita export needs --checkpoint FILE and --npz FILE", NULL);
    pp_dataset train = {0}, test = {0};
    pp_status st = PP_OK;
    if (data) {
        pp_config c;
        st = pp_checkpoint_read_config(checkpoint, &c, NULL);
        if (st == PP_OK) st = pp_dataset_load(c.dataset, data, c.cifar100_coarse, &train, &test);
    }
    if (st == PP_OK) st = pp_checkpoint_export_npz(checkpoint, data ? &test : NULL, npz);
    pp_dataset_free(&train);
    pp_dataset_free(&test);
    if (st != PP_OK) return cli_report(st);
    printf("%s: written from %s\n", npz, checkpoint);
    return 0;
}
