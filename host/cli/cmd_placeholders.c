/* Commands not built yet. */
#include "cli/cli.h"

#include <stdio.h>

int cli_selftest(int argc, char **argv) {
    (void)argc, (void)argv;
    fprintf(stderr, "error: pepita selftest is not implemented yet\n");
    return 1;
}
