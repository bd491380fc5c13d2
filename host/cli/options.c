#include "cli/options.h"

#include "runtime/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_options_start(cli_options *o, int argc, char **argv, const char *shorts,
                       const struct option *longs, int positionals) {
    o->argc = argc;
    o->argv = argv;
    o->longs = longs;
    o->positionals = positionals;
    o->word = o->value = NULL;
    /* '-': words that are not options come back in order as 1 (never
     * permuted); ':': a missing value is told apart from an unknown option */
    snprintf(o->shorts, sizeof o->shorts, "-:%s", shorts);
    optind = 0; /* GNU: a full re-initialisation, so a second walk starts afresh */
    opterr = 0; /* the caller words the messages */
}

/* A long option written in full: "--name" or "--name=value". */
static int written_in_full(const char *word, const char *name) {
    size_t n = strlen(name);
    return !strncmp(word, "--", 2) && !strncmp(word + 2, name, n) &&
           (word[2 + n] == '\0' || word[2 + n] == '=');
}

int cli_options_next(cli_options *o) {
    int at = optind ? optind : 1;
    int index = -1;
    if (at >= o->argc) return CLI_OPTION_END;
    o->word = o->argv[at];
    o->value = NULL;
    /* getopt ends the options at "--"; these commands have no use for it */
    if (!strcmp(o->word, "--")) return CLI_OPTION_UNKNOWN;
    int c = getopt_long(o->argc, o->argv, o->shorts, o->longs, &index);
    o->value = optarg;
    if (c == CLI_OPTION_POSITIONAL && !o->positionals) return CLI_OPTION_UNKNOWN;
    if (index >= 0 && !written_in_full(o->word, o->longs[index].name)) return CLI_OPTION_UNKNOWN;
    return c;
}

pp_status cli_parse_int(const char *flag, const char *text, long lo, long hi, int *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || *end || errno)
        return pp_fail(PP_ERR_ARGUMENT, "%s: '%s' is not an integer", flag, text);
    if (v < lo || v > hi)
        return pp_fail(PP_ERR_ARGUMENT, "%s must be between %ld and %ld, got %ld", flag, lo, hi, v);
    *out = (int)v;
    return PP_OK;
}
