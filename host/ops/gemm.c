/* GEMM: argument checks and the dispatch between CLBlast and the native
 * kernels. The dispatch times both paths once per device and shape class
 * (first use, on scratch buffers of that shape), remembers the winner for the
 * context, and keeps it on disk so later processes skip the timing. The disk
 * cache is a convenience: when it is missing, unwritable or corrupt, GEMM
 * still runs (measuring again, or taking the device-type default). */
#include "ops/gemm_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GEMM_CACHE_FILE "gemm-dispatch.txt"
#define GEMM_CACHE_HEADER "# pepita GEMM dispatch v1: device, driver, shape class, path"
#define GEMM_FIELD 160

const char *op_gemm_path_name(op_gemm_path path) {
    switch (path) {
    case OP_GEMM_AUTO:
        return "auto";
    case OP_GEMM_CLBLAST:
        return "clblast";
    case OP_GEMM_NATIVE:
        return "native";
    }
    return "unknown";
}

/* ---- Arguments -------------------------------------------------------- */

/* A stored rows x cols at off with leading dimension ld must fit in buf, and
 * every index must fit in the kernels' int. */
static pp_status check_matrix(const char *name, const rt_buf *buf, size_t off, size_t rows,
                              size_t cols, size_t ld) {
    if (!buf || !buf->mem) return pp_fail(PP_ERR_ARGUMENT, "gemm: %s is not allocated", name);
    if (ld < cols || ld < 1)
        return pp_fail(PP_ERR_ARGUMENT, "gemm: ld%s = %zu is less than max(1, %zu columns)", name,
                       ld, cols);
    size_t extent = 0;
    if (rows && cols) {
        if (rows - 1 > ((size_t)INT_MAX - cols) / ld)
            return pp_fail(PP_ERR_ARGUMENT, "gemm: %s (%zu x %zu, ld %zu) is too large", name, rows,
                           cols, ld);
        extent = (rows - 1) * ld + cols;
    }
    if (off > (size_t)INT_MAX - extent)
        return pp_fail(PP_ERR_ARGUMENT, "gemm: offset %zu of %s exceeds INT_MAX", off, name);
    if (off + extent > buf->bytes / sizeof(float))
        return pp_fail(PP_ERR_ARGUMENT,
                       "gemm: %s needs %zu floats from offset %zu but its buffer holds %zu", name,
                       extent, off, buf->bytes / sizeof(float));
    return PP_OK;
}

static pp_status gemm_validate(const gemm_call *g) {
    if (g->m > (size_t)INT_MAX || g->n > (size_t)INT_MAX || g->k > (size_t)INT_MAX)
        return pp_fail(PP_ERR_ARGUMENT, "gemm: m=%zu n=%zu k=%zu exceed INT_MAX", g->m, g->n, g->k);
    size_t a_rows = g->ta ? g->k : g->m, a_cols = g->ta ? g->m : g->k;
    size_t b_rows = g->tb ? g->n : g->k, b_cols = g->tb ? g->k : g->n;
    PP_TRY(check_matrix("A", g->a, g->a_off, a_rows, a_cols, g->lda));
    PP_TRY(check_matrix("B", g->b, g->b_off, b_rows, b_cols, g->ldb));
    return check_matrix("C", g->c, g->c_off, g->m, g->n, g->ldc);
}

/* ---- Dispatch state --------------------------------------------------- */

typedef struct gemm_choice {
    char shape[48];
    op_gemm_path path;
} gemm_choice;

typedef struct gemm_state {
    op_gemm_path forced;  /* $PEPITA_GEMM, read once per context */
    char forced_text[64]; /* an invalid $PEPITA_GEMM, for the message; "" if valid */
    int loaded;           /* the disk cache has been read */
    gemm_choice *choices;
    size_t count, capacity;
} gemm_state;

static void gemm_state_free(void *p) {
    gemm_state *s = p;
    if (!s) return;
    free(s->choices);
    free(s);
}

static void read_forced_path(gemm_state *s);

/* The context's dispatch state, made at its first GEMM. */
static gemm_state *get_state(rt_context *ctx) {
    if (!ctx->gemm_state) {
        gemm_state *s = calloc(1, sizeof(gemm_state));
        if (!s) return NULL;
        read_forced_path(s);
        ctx->gemm_state = s;
        ctx->gemm_state_free = gemm_state_free;
    }
    return ctx->gemm_state;
}

static gemm_choice *find_choice(gemm_state *s, const char *shape) {
    for (size_t i = 0; i < s->count; i++)
        if (!strcmp(s->choices[i].shape, shape)) return &s->choices[i];
    return NULL;
}

/* Best effort: an allocation failure only costs a later re-measurement. */
static void remember(gemm_state *s, const char *shape, op_gemm_path path) {
    gemm_choice *c = find_choice(s, shape);
    if (!c) {
        if (s->count == s->capacity) {
            size_t capacity = s->capacity ? 2 * s->capacity : 16;
            gemm_choice *grown = realloc(s->choices, capacity * sizeof *grown);
            if (!grown) return;
            s->choices = grown;
            s->capacity = capacity;
        }
        c = &s->choices[s->count++];
        snprintf(c->shape, sizeof c->shape, "%s", shape);
    }
    c->path = path;
}

static size_t round_pow2(size_t x) {
    size_t p = 1;
    while (p < x && p < ((size_t)1 << 40))
        p <<= 1;
    return p;
}

void gemm_shape_class(const gemm_call *g, char *out, size_t size) {
    snprintf(out, size, "%c%c m%zu n%zu k%zu", g->ta ? 'T' : 'N', g->tb ? 'T' : 'N',
             round_pow2(g->m), round_pow2(g->n), round_pow2(g->k));
}

/* ---- Disk cache --------------------------------------------------------- */

/* $PEPITA_CACHE_DIR, else $XDG_CACHE_HOME/pepita, else ~/.cache/pepita. */
static int cache_dir(char *out, size_t size) {
    const char *dir = getenv("PEPITA_CACHE_DIR");
    if (dir && *dir) return snprintf(out, size, "%s", dir) < (int)size;
    dir = getenv("XDG_CACHE_HOME");
    if (dir && *dir) return snprintf(out, size, "%s/pepita", dir) < (int)size;
    dir = getenv("HOME");
    if (dir && *dir) return snprintf(out, size, "%s/.cache/pepita", dir) < (int)size;
    return 0;
}

/* mkdir -p; failures show up when the file is written. */
static void make_dirs(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(path, 0700);
        *p = '/';
    }
    mkdir(path, 0700);
}

/* Tabs and newlines would break the line format. */
static void clean_field(const char *in, char *out, size_t size) {
    size_t i = 0;
    for (; in[i] && i + 1 < size; i++)
        out[i] = (in[i] == '\t' || in[i] == '\n' || in[i] == '\r') ? ' ' : in[i];
    out[i] = '\0';
}

/* One line: device TAB driver TAB shape TAB path. 0 for anything else. */
static int parse_line(char *line, char **device, char **driver, char **shape, op_gemm_path *path) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '#' || !line[0]) return 0;
    char *fields[4];
    char *p = line;
    for (int i = 0; i < 4; i++) {
        fields[i] = p;
        char *tab = strchr(p, '\t');
        if (i < 3) {
            if (!tab) return 0;
            *tab = '\0';
            p = tab + 1;
        } else if (tab) {
            *tab = '\0'; /* later fields (timings) are informational */
        }
    }
    if (strlen(fields[2]) >= sizeof(((gemm_choice *)0)->shape)) return 0;
    if (!strcmp(fields[3], "native"))
        *path = OP_GEMM_NATIVE;
    else if (!strcmp(fields[3], "clblast"))
        *path = OP_GEMM_CLBLAST;
    else
        return 0;
    *device = fields[0], *driver = fields[1], *shape = fields[2];
    return 1;
}

/* Reads the entries for this device into the state. */
static void cache_load(rt_context *ctx, gemm_state *s) {
    char dir[2048], file[2200], device[GEMM_FIELD], driver[GEMM_FIELD], line[1024];
    if (!cache_dir(dir, sizeof dir)) return;
    snprintf(file, sizeof file, "%s/%s", dir, GEMM_CACHE_FILE);
    FILE *f = fopen(file, "r");
    if (!f) return;
    clean_field(ctx->info.name, device, sizeof device);
    clean_field(ctx->info.driver_version, driver, sizeof driver);
    while (fgets(line, sizeof line, f)) {
        char *dev, *drv, *shape;
        op_gemm_path path;
        if (!strchr(line, '\n') && !feof(f)) { /* overlong: skip the rest of it */
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n') {
            }
            continue;
        }
        if (parse_line(line, &dev, &drv, &shape, &path) && !strcmp(dev, device) &&
            !strcmp(drv, driver))
            remember(s, shape, path);
    }
    fclose(f);
}

/* Adds one entry: re-reads the file (other processes may have added lines),
 * keeps its valid lines, and replaces it atomically (temp file + rename). */
static void cache_store(rt_context *ctx, const char *shape, op_gemm_path path, double t_native,
                        double t_clblast) {
    char dir[2048], file[2200], tmp[2300], device[GEMM_FIELD], driver[GEMM_FIELD], line[1024];
    if (!cache_dir(dir, sizeof dir)) return;
    make_dirs(dir);
    snprintf(file, sizeof file, "%s/%s", dir, GEMM_CACHE_FILE);
    snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, GEMM_CACHE_FILE);
    int fd = mkstemp(tmp);
    if (fd < 0) return;
    FILE *out = fdopen(fd, "w");
    if (!out) {
        close(fd);
        unlink(tmp);
        return;
    }
    clean_field(ctx->info.name, device, sizeof device);
    clean_field(ctx->info.driver_version, driver, sizeof driver);
    fprintf(out, "%s\n", GEMM_CACHE_HEADER);
    FILE *in = fopen(file, "r");
    if (in) {
        while (fgets(line, sizeof line, in)) {
            char keep[1024], *dev, *drv, *old_shape;
            op_gemm_path old_path;
            if (!strchr(line, '\n') && !feof(in)) {
                int ch;
                while ((ch = fgetc(in)) != EOF && ch != '\n') {
                }
                continue;
            }
            memcpy(keep, line, sizeof keep);
            if (!parse_line(line, &dev, &drv, &old_shape, &old_path)) continue;
            if (!strcmp(dev, device) && !strcmp(drv, driver) && !strcmp(old_shape, shape)) continue;
            keep[strcspn(keep, "\r\n")] = '\0';
            fprintf(out, "%s\n", keep);
        }
        fclose(in);
    }
    fprintf(out, "%s\t%s\t%s\t%s\tnative_us=%.1f\tclblast_us=%.1f\n", device, driver, shape,
            op_gemm_path_name(path), t_native * 1e6, t_clblast * 1e6);
    int failed = ferror(out);
    if (fclose(out) != 0) failed = 1;
    if (failed || rename(tmp, file) != 0) unlink(tmp);
}

/* ---- Measuring ---------------------------------------------------------- */

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static pp_status run_path(rt_context *ctx, op_gemm_path path, const gemm_call *g) {
    return path == OP_GEMM_CLBLAST ? gemm_clblast(ctx, g) : gemm_native(ctx, g);
}

/* Seconds per call of one path (after a warm-up call that builds its
 * kernels), or a negative value when the path fails on this device. */
static double time_path(rt_context *ctx, op_gemm_path path, const gemm_call *g) {
    if (run_path(ctx, path, g) != PP_OK || rt_finish(ctx) != PP_OK) return -1.0;
    double best = -1.0;
    for (int round = 0; round < 3; round++) {
        /* one call first; short calls then run a few back to back, as in training */
        int reps = best < 0.0 ? 1 : (int)(2e-3 / best);
        if (reps > 20) reps = 20;
        if (reps < 1) break; /* a slow path: one call tells enough */
        double t0 = now_seconds();
        for (int i = 0; i < reps; i++)
            if (run_path(ctx, path, g) != PP_OK) return -1.0;
        if (rt_finish(ctx) != PP_OK) return -1.0;
        double t = (now_seconds() - t0) / reps;
        if (best < 0.0 || t < best) best = t;
    }
    return best;
}

static op_gemm_path default_path(const rt_context *ctx) {
    return ctx->device_profile.gemm_default_clblast ? OP_GEMM_CLBLAST : OP_GEMM_NATIVE;
}

/* The other path must beat the device type's default by this factor: on a
 * loaded machine one noisy timing flipped the k = 10 products of PEPITA to
 * CLBlast on PoCL (measured 159 vs 189 us; at rest CLBlast takes 270 us and
 * the native kernel 60 us, 0.6 ms per FC batch lost). */
#define GEMM_SWITCH_MARGIN 1.25

/* Times both paths on zero-filled scratch buffers of the call's shape. */
static pp_status measure(rt_context *ctx, const gemm_call *g, op_gemm_path *choice,
                         double *t_native, double *t_clblast) {
    rt_buf a = {0}, b = {0}, c = {0};
    gemm_call s = *g;
    s.lda = g->ta ? g->m : g->k;
    s.ldb = g->tb ? g->k : g->n;
    s.ldc = g->n;
    s.a_off = s.b_off = s.c_off = 0;
    s.alpha = 1.0f, s.beta = 0.0f;
    s.sgd = NULL, s.v = NULL; /* the product alone */
    pp_status st;
    PP_TRY_GOTO(st, rt_buf_create(ctx, g->m * g->k * sizeof(float), &a), done);
    PP_TRY_GOTO(st, rt_buf_create(ctx, g->k * g->n * sizeof(float), &b), done);
    PP_TRY_GOTO(st, rt_buf_create(ctx, g->m * g->n * sizeof(float), &c), done);
    s.a = &a, s.b = &b, s.c = &c;
    PP_TRY_GOTO(st, rt_finish(ctx), done);
    *t_native = time_path(ctx, OP_GEMM_NATIVE, &s);
    *t_clblast = time_path(ctx, OP_GEMM_CLBLAST, &s);
    pp_clear_error();
    if (*t_native < 0.0 && *t_clblast < 0.0)
        st = pp_fail(PP_ERR_INTERNAL, "gemm: neither path ran");
    else if (*t_native < 0.0)
        *choice = OP_GEMM_CLBLAST;
    else if (*t_clblast < 0.0)
        *choice = OP_GEMM_NATIVE;
    else if (default_path(ctx) == OP_GEMM_NATIVE)
        *choice = *t_clblast * GEMM_SWITCH_MARGIN < *t_native ? OP_GEMM_CLBLAST : OP_GEMM_NATIVE;
    else
        *choice = *t_native * GEMM_SWITCH_MARGIN < *t_clblast ? OP_GEMM_NATIVE : OP_GEMM_CLBLAST;
done:
    rt_buf_release(ctx, &a);
    rt_buf_release(ctx, &b);
    rt_buf_release(ctx, &c);
    return st;
}

/* ---- Choosing a path ---------------------------------------------------- */

/* $PEPITA_GEMM: unset, empty or "auto" leaves the choice to the dispatch.
 * Read when the context makes its first GEMM, not on every call. */
static void read_forced_path(gemm_state *s) {
    const char *env = getenv("PEPITA_GEMM");
    s->forced = OP_GEMM_AUTO;
    if (!env || !*env || !strcmp(env, "auto")) return;
    if (!strcmp(env, "clblast"))
        s->forced = OP_GEMM_CLBLAST;
    else if (!strcmp(env, "native"))
        s->forced = OP_GEMM_NATIVE;
    else
        snprintf(s->forced_text, sizeof s->forced_text, "%s", env);
}

static pp_status forced_path(rt_context *ctx, op_gemm_path *path) {
    gemm_state *s = get_state(ctx);
    if (!s) return pp_fail(PP_ERR_OUT_OF_MEMORY, "gemm: out of host memory");
    if (s->forced_text[0])
        return pp_fail(PP_ERR_ARGUMENT, "PEPITA_GEMM='%s' is not one of clblast, native, auto",
                       s->forced_text);
    *path = s->forced;
    return PP_OK;
}

static op_gemm_path choose_path(rt_context *ctx, const gemm_call *g) {
    gemm_state *s = get_state(ctx);
    if (!s) return default_path(ctx);
    /* A forced profile (a test of the other kind's choices) measures for
     * itself and keeps its results in memory: the file is the device's own. */
    const int use_file = !ctx->device_profile.forced;
    if (!s->loaded) {
        s->loaded = 1;
        if (use_file) cache_load(ctx, s);
    }
    char shape[48];
    gemm_shape_class(g, shape, sizeof shape);
    gemm_choice *known = find_choice(s, shape);
    if (known) return known->path;

    op_gemm_path path = default_path(ctx);
    double t_native = -1.0, t_clblast = -1.0;
    if (!ctx->device_profile.gemm_measure) {
        remember(s, shape, path);
        return path;
    }
    if (measure(ctx, g, &path, &t_native, &t_clblast) == PP_OK && use_file)
        cache_store(ctx, shape, path, t_native, t_clblast);
    pp_clear_error();
    remember(s, shape, path);
    return path;
}

/* ---- Entry points ------------------------------------------------------- */

pp_status op_gemm_with(rt_context *ctx, op_gemm_path path, op_trans ta, op_trans tb, size_t m,
                       size_t n, size_t k, float alpha, const rt_buf *a, size_t a_off, size_t lda,
                       const rt_buf *b, size_t b_off, size_t ldb, float beta, rt_buf *c,
                       size_t c_off, size_t ldc) {
    gemm_call g = {.ta = ta,
                   .tb = tb,
                   .m = m,
                   .n = n,
                   .k = k,
                   .alpha = alpha,
                   .beta = beta,
                   .a = a,
                   .b = b,
                   .c = c,
                   .a_off = a_off,
                   .lda = lda,
                   .b_off = b_off,
                   .ldb = ldb,
                   .c_off = c_off,
                   .ldc = ldc};
    if (!ctx) return pp_fail(PP_ERR_ARGUMENT, "gemm: no context");
    if ((ta != OP_NO_TRANS && ta != OP_TRANS) || (tb != OP_NO_TRANS && tb != OP_TRANS))
        return pp_fail(PP_ERR_ARGUMENT, "gemm: invalid transpose flags %d, %d", (int)ta, (int)tb);
    if (path != OP_GEMM_AUTO && path != OP_GEMM_CLBLAST && path != OP_GEMM_NATIVE)
        return pp_fail(PP_ERR_ARGUMENT, "gemm: invalid path %d", (int)path);
    PP_TRY(gemm_validate(&g));
    if (m == 0 || n == 0) return PP_OK;
    /* k == 0 scales C by beta; CLBlast rejects it, the native kernel handles it. */
    if (k == 0) return gemm_native(ctx, &g);
    const int dispatched = path == OP_GEMM_AUTO;
    if (dispatched) path = choose_path(ctx, &g);
    pp_status st = run_path(ctx, path, &g);
    /* A CLBlast that cannot run a shape on this device (its kernels' default
     * work-groups beyond the device's limit, say) leaves the dispatch the
     * native kernels for that shape from now on, rather than failing. */
    if (st == PP_ERR_CLBLAST && dispatched) {
        gemm_state *s = get_state(ctx);
        char shape[48];
        gemm_shape_class(&g, shape, sizeof shape);
        if (s) remember(s, shape, OP_GEMM_NATIVE);
        pp_clear_error();
        st = gemm_native(ctx, &g);
    }
    return st;
}

pp_status op_gemm(rt_context *ctx, op_trans ta, op_trans tb, size_t m, size_t n, size_t k,
                  float alpha, const rt_buf *a, size_t a_off, size_t lda, const rt_buf *b,
                  size_t b_off, size_t ldb, float beta, rt_buf *c, size_t c_off, size_t ldc) {
    op_gemm_path path = OP_GEMM_AUTO;
    if (!ctx) return pp_fail(PP_ERR_ARGUMENT, "gemm: no context");
    PP_TRY(forced_path(ctx, &path));
    return op_gemm_with(ctx, path, ta, tb, m, n, k, alpha, a, a_off, lda, b, b_off, ldb, beta, c,
                        c_off, ldc);
}

pp_status op_gemm_sgd_step(rt_context *ctx, op_trans ta, size_t m, size_t n, size_t k, float alpha,
                           const rt_buf *a, size_t lda, const rt_buf *b, size_t ldb,
                           const op_sgd *sgd, rt_buf *w, rt_buf *v, int *stepped) {
    *stepped = 0;
    if (!ctx) return pp_fail(PP_ERR_ARGUMENT, "gemm: no context");
    if (!sgd) return pp_fail(PP_ERR_ARGUMENT, "gemm: no SGD step");
    if (ta != OP_NO_TRANS && ta != OP_TRANS)
        return pp_fail(PP_ERR_ARGUMENT, "gemm: invalid transpose flag %d", (int)ta);
    gemm_call g = {.ta = ta,
                   .tb = OP_NO_TRANS,
                   .m = m,
                   .n = n,
                   .k = k,
                   .alpha = alpha,
                   .a = a,
                   .b = b,
                   .c = w,
                   .lda = lda,
                   .ldb = ldb,
                   .ldc = n,
                   .sgd = sgd,
                   .v = v};
    PP_TRY(gemm_validate(&g));
    PP_TRY(check_matrix("V", v, 0, m, n, n));
    op_gemm_path path = OP_GEMM_AUTO;
    PP_TRY(forced_path(ctx, &path));
    if (m == 0 || n == 0) {
        *stepped = 1; /* no weights */
        return PP_OK;
    }
    /* the plain product's choice: the epilogue only replaces its store */
    if (path == OP_GEMM_AUTO && k > 0) path = choose_path(ctx, &g);
    if (path == OP_GEMM_CLBLAST || !gemm_native_can_step(&g) ||
        m * n * 2 * sizeof(float) > ctx->device_profile.gemm_step_max_bytes)
        return PP_OK;
    PP_TRY(gemm_native(ctx, &g));
    *stepped = 1;
    return PP_OK;
}
