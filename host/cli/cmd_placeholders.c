/* Commands not built yet. */
#include "cli/cli.h"

#include <stdio.h>

int cli_train(int argc, char **argv) {
    (void)argc, (void)argv;
    fprintf(stderr, "error: pepita train is not implemented yet\n");
    return 1;
}

int cli_eval(int argc, char **argv) {
    (void)argc, (void)argv;
    fprintf(stderr, "error: pepita eval is not implemented yet\n");
    return 1;
}

int cli_selftest(int argc, char **argv) {
    (void)argc, (void)argv;
    fprintf(stderr, "error: pepita selftest is not implemented yet\n");
    return 1;
}
