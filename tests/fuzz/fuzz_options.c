/* libFuzzer target: the option parser of `pepita train` and `pepita eval`
 * (host/cli/train_options.c) with the configuration checks behind it.
 * Input: one mode byte (bit 0: eval), then NUL-separated arguments. The value
 * after --resume or --checkpoint is replaced by a real checkpoint written at
 * start-up (or, when it starts with 'n', by a missing file), so the parser
 * never touches arbitrary paths. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/train_options.h"
#include "fake_trainer.h"

#define MAX_ARGS 64

static char checkpoint_dir[4096];
static char checkpoint_path[4200];
static FILE *null_out;

static void cleanup(void) {
    if (checkpoint_path[0]) unlink(checkpoint_path);
    if (checkpoint_dir[0]) rmdir(checkpoint_dir);
    if (null_out) fclose(null_out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR"); /* the suite runs wherever TMPDIR points */
    snprintf(checkpoint_dir, sizeof checkpoint_dir, "%s/pepita-fuzz-options-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(checkpoint_dir)) abort();
    snprintf(checkpoint_path, sizeof checkpoint_path, "%s/run.ckpt", checkpoint_dir);
    fake_trainer f;
    if (fake_trainer_init(&f, 7) != 0 || pp_trainer_save(&f.trainer, checkpoint_path) != PP_OK) {
        fprintf(stderr, "cannot write the checkpoint: %s\n", pp_last_error());
        abort();
    }
    null_out = fopen("/dev/null", "w");
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int for_eval = data[0] & 1;
    data++, size--;
    /* one buffer of NUL-terminated arguments */
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = for_eval ? "eval" : "train";
    for (size_t at = 0; at <= size && argc < MAX_ARGS; at += strlen(text + at) + 1)
        argv[argc++] = text + at;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--resume") || !strcmp(argv[i], "--checkpoint"))
            if (argv[i + 1][0])
                argv[i + 1] = argv[i + 1][0] == 'n' ? "/nonexistent/pepita.ckpt" : checkpoint_path;
    argv[argc] = NULL;

    cli_train_options o;
    pp_status st = cli_parse_train_options(argc, argv, for_eval, &o);
    if (st != PP_OK) {
        if (!pp_last_error()[0]) abort(); /* every error has a message */
    } else {
        if (!o.help && pp_config_validate(&o.config) != PP_OK) abort();
        if (null_out) cli_print_train_help(null_out, &o);
    }
    free(text);
    return 0;
}
