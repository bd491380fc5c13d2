/* The PyTorch CPU peer (bench/peers/torch_peer.py) as a child process:
 * pepita-bench writes its training and test data to a temporary file, starts
 * the peer on it with --serve, and asks for one epoch at a time, so the
 * peer's epochs alternate with pepita-cl's on the same cores. Optional: when
 * the interpreter or torch is missing the peer reports it and the bench goes
 * on without it. */
#include "bench.h"
#include "runtime/error.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct peer {
    pid_t pid;
    FILE *to, *from; /* the child's stdin and stdout */
    char line[4096];
};

static pp_status write_split(FILE *f, const pp_dataset *s) {
    int32_t header[5] = {(int32_t)s->n, s->channels, s->height, s->width, s->classes};
    size_t pixels = s->n * (size_t)s->channels * (size_t)s->height * (size_t)s->width;
    if (fwrite("PPDS", 1, 4, f) != 4 || fwrite(header, sizeof header, 1, f) != 1 ||
        fwrite(s->pixels, 1, pixels, f) != pixels || fwrite(s->labels, 1, s->n, f) != s->n)
        return pp_fail(PP_ERR_IO, "writing the peer's data file: %s", strerror(errno));
    return PP_OK;
}

pp_status peer_data_file(const pp_dataset *train, const pp_dataset *test, char *path,
                         size_t path_size) {
    const char *dir = getenv("TMPDIR");
    snprintf(path, path_size, "%s/pepita-bench-peer-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) return pp_fail(PP_ERR_IO, "%s: %s", path, strerror(errno));
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(path);
        return pp_fail(PP_ERR_IO, "%s: %s", path, strerror(errno));
    }
    pp_status st = write_split(f, train);
    if (st == PP_OK) st = write_split(f, test);
    if (fclose(f) != 0 && st == PP_OK) st = pp_fail(PP_ERR_IO, "%s: %s", path, strerror(errno));
    if (st != PP_OK) unlink(path);
    return st;
}

/* The number after "key": in a JSON line, NAN if absent. */
static double json_field(const char *line, const char *key) {
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\":", key);
    const char *at = strstr(line, quoted);
    return at ? strtod(at + strlen(quoted), NULL) : NAN;
}

static pp_status read_line(peer *p, const char *what) {
    if (!fgets(p->line, sizeof p->line, p->from))
        return pp_fail(PP_ERR_IO, "the PyTorch peer ended before %s", what);
    return PP_OK;
}

void peer_stop(peer *p) {
    if (!p) return;
    if (p->to) fclose(p->to); /* EOF on its stdin: the peer exits */
    if (p->from) fclose(p->from);
    if (p->pid > 0) {
        int status;
        while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    free(p);
}

pp_status peer_start(const char *python, const char *device, const char *data_file,
                     const char *model, const char *rule, int batch, float lr, peer **out,
                     char *about, size_t about_size) {
    *out = NULL;
    int in[2] = {-1, -1}, outp[2] = {-1, -1};
    peer *p = calloc(1, sizeof *p);
    if (!p) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory (peer)");
    /* a peer that dies must not kill the bench when it writes */
    signal(SIGPIPE, SIG_IGN);
    if (pipe(in) != 0 || pipe(outp) != 0) {
        pp_status st = pp_fail(PP_ERR_IO, "pipe: %s", strerror(errno));
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0) close(in[i]);
            if (outp[i] >= 0) close(outp[i]);
        }
        free(p);
        return st;
    }
    char batch_text[16], lr_text[32];
    snprintf(batch_text, sizeof batch_text, "%d", batch);
    snprintf(lr_text, sizeof lr_text, "%.9g", (double)lr);
    char *argv[] = {(char *)python,    PEPITA_BENCH_PEERS_DIR "/torch_peer.py",
                    "--serve",         "--data-file",
                    (char *)data_file, "--model",
                    (char *)model,     "--rule",
                    (char *)rule,      "--batch",
                    batch_text,        "--lr",
                    lr_text,           "--device",
                    (char *)device,    NULL};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, outp[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, in[1]);
    posix_spawn_file_actions_addclose(&actions, outp[0]);
    int rc = posix_spawnp(&p->pid, python, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(outp[1]);
    if (rc != 0) {
        close(in[1]);
        close(outp[0]);
        free(p);
        return pp_fail(PP_ERR_IO, "cannot start %s: %s", python, strerror(rc));
    }
    p->to = fdopen(in[1], "w");
    p->from = fdopen(outp[0], "r");
    if (!p->to || !p->from) {
        if (!p->to) close(in[1]);
        if (!p->from) close(outp[0]);
        peer_stop(p);
        return pp_fail(PP_ERR_IO, "fdopen: %s", strerror(errno));
    }
    pp_status st = read_line(p, "it was ready");
    if (st == PP_OK && !strstr(p->line, "\"ready\": true")) {
        p->line[strcspn(p->line, "\n")] = 0;
        st = pp_fail(PP_ERR_NOT_FOUND, "the PyTorch peer is not available: %s", p->line);
    }
    if (st != PP_OK) {
        peer_stop(p);
        return st;
    }
    /* e.g. {"ready": true, "torch": "2.5.1", "threads": 2, ...} */
    const char *version = strstr(p->line, "\"torch\": \"");
    snprintf(about, about_size, "torch %.*s, %s, %d threads",
             version ? (int)strcspn(version + 10, "\"") : 1, version ? version + 10 : "?", device,
             (int)json_field(p->line, "threads"));
    *out = p;
    return PP_OK;
}

pp_status peer_epoch(peer *p, double *seconds, double *test_accuracy) {
    if (fputs("epoch\n", p->to) == EOF || fflush(p->to) != 0)
        return pp_fail(PP_ERR_IO, "the PyTorch peer stopped reading: %s", strerror(errno));
    PP_TRY(read_line(p, "its epoch ended"));
    *seconds = json_field(p->line, "seconds");
    *test_accuracy = json_field(p->line, "test_accuracy");
    if (!(*seconds >= 0)) return pp_fail(PP_ERR_IO, "the PyTorch peer answered: %s", p->line);
    return PP_OK;
}
