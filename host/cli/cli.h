/* The pepita command-line tool: one file per subcommand. */
#ifndef PEPITA_CLI_CLI_H
#define PEPITA_CLI_CLI_H

#include "pepita/pepita.h"

/* Each returns the process exit code. argv[0] is the subcommand's name. */
int cli_devices(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_selftest(int argc, char **argv);

/* Prints "error: <message>" for a failed status and returns its exit code. */
int cli_report(pp_status status);

#endif
