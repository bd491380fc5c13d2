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
                 "  devices    list the OpenCL devices\n"
                 "  selftest   check every operator against a plain-C reference on a device\n"
                 "\n"
                 "`pepita <command> --help` describes each command's options.\n");
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
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {
        {"train", cli_train},
        {"eval", cli_eval},
        {"devices", cli_devices},
        {"selftest", cli_selftest},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(command, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "error: unknown command '%s'\n", command);
    usage(stderr);
    return 2;
}
