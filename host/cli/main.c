/* pepita: train networks with PEPITA and its baselines on any OpenCL device. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out) {
    fprintf(out, "usage: pepita <command> [options]\n"
                 "\n"
                 "commands:\n"
                 "  train      train a network (default: PEPITA on Fashion-MNIST)\n"
                 "  eval       test accuracy of a checkpoint\n"
                 "  export     a checkpoint's weights and configuration as NumPy .npz\n"
                 "  devices    list the OpenCL devices\n"
                 "  selftest   check every operator against a plain-C reference on a device\n"
                 "  plot       PNG figures of runs: learning curves, angle, norms, histograms\n"
                 "  slowness   the paper's convergence speed fitted to a run's learning curve\n"
                 "  summary    a table of runs: mean and std of the final test accuracy\n"
                 "\n"
                 "`pepita <command> --help` describes each command's options;\n"
                 "`pepita --version` prints the version and the source commit.\n");
}

int cli_report(pp_status status) {
    const char *message = pp_last_error();
    fprintf(stderr, "error: %s\n", message && *message ? message : pp_status_name(status));
    return pp_status_exit_code(status);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *command = argv[1];
    if (!strcmp(command, "-h") || !strcmp(command, "--help") || !strcmp(command, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(command, "--version") || !strcmp(command, "version")) {
        printf("pepita %s (source %s)\n", pp_version(), pp_source_commit());
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {
        {"train", cli_train},       {"eval", cli_eval},     {"devices", cli_devices},
        {"selftest", cli_selftest}, {"plot", cli_plot},     {"slowness", cli_slowness},
        {"summary", cli_summary},   {"export", cli_export},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(command, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "error: unknown command '%s'\n", command);
    usage(stderr);
    return 2;
}
