/* Command-line options walked with getopt_long, strictly: an abbreviated long
 * option is refused like an unknown one (so a typo never picks a flag), and
 * every call reports the argv word it saw, for the caller's messages. */
#ifndef PEPITA_CLI_OPTIONS_H
#define PEPITA_CLI_OPTIONS_H

#include "pepita/pepita.h"

#include <getopt.h>

enum {
    CLI_OPTION_END = -1,
    CLI_OPTION_POSITIONAL = 1, /* a word that is not an option (with positionals allowed) */
    CLI_OPTION_UNKNOWN = '?',
    CLI_OPTION_MISSING_VALUE = ':',
};

typedef struct cli_options {
    int argc;
    char **argv;
    const struct option *longs; /* ends with a zero entry */
    char shorts[64];            /* getopt's option string, built by cli_options_start */
    int positionals;            /* words that are not options are returned in order */
    const char *word;           /* the argv word of the latest option (for messages) */
    const char *value;          /* its value, or the positional word */
} cli_options;

/* Starts a walk over argv[1..argc) (getopt's state is global: one walk at a
 * time). shorts: the short options in getopt's syntax ("ho:"). With
 * positionals == 0, the first word that is not an option is returned as
 * CLI_OPTION_UNKNOWN. */
void cli_options_start(cli_options *o, int argc, char **argv, const char *shorts,
                       const struct option *longs, int positionals);
/* The next option's val (from longs, or the short option's letter), or one of
 * the CLI_OPTION_ codes; o->word and o->value describe it. */
int cli_options_next(cli_options *o);

/* An option's whole-number value in [lo, hi], or PP_ERR_ARGUMENT naming the flag. */
pp_status cli_parse_int(const char *flag, const char *text, long lo, long hi, int *out);

#endif
