/* The bench's JSON through jansson: scopes are opened and closed in the order
 * the sections run, and the tree is printed once at the end. */
#include "bench.h"
#include "runtime/error.h"
#include "util/json_out.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

/* Adds value to the open scope (under key in an object), or makes it the root;
 * takes the reference. Any failure is remembered and the value dropped. */
static int add(bench_json *j, const char *key, json_t *value) {
    json_t *scope = j->depth > 0 ? j->scopes[j->depth - 1] : NULL;
    int rc = -1;
    if (value && !scope && !j->root) {
        j->root = json_incref(value);
        rc = 0;
    } else if (value && json_is_object(scope) && key) {
        rc = json_object_set(scope, key, value);
    } else if (value && json_is_array(scope) && !key) {
        rc = json_array_append(scope, value);
    }
    if (rc != 0) j->failed = 1;
    json_decref(value);
    return rc == 0;
}

static void open_scope(bench_json *j, const char *key, json_t *scope) {
    /* pushed only once the tree holds it (the pointer is borrowed from there) */
    if (scope && j->depth < (int)(sizeof j->scopes / sizeof j->scopes[0]) &&
        add(j, key, json_incref(scope)))
        j->scopes[j->depth++] = scope;
    else
        j->failed = 1;
    json_decref(scope);
}

static void close_scope(bench_json *j) {
    if (j->depth > 0)
        j->depth--;
    else
        j->failed = 1;
}

void bj_object_begin(bench_json *j, const char *key) {
    open_scope(j, key, json_object());
}

void bj_object_end(bench_json *j) {
    close_scope(j);
}

void bj_array_begin(bench_json *j, const char *key) {
    open_scope(j, key, json_array());
}

void bj_array_end(bench_json *j) {
    close_scope(j);
}

void bj_number(bench_json *j, const char *key, double value) {
    add(j, key, isfinite(value) ? json_real(value) : json_null());
}

void bj_int(bench_json *j, const char *key, long long value) {
    add(j, key, json_integer(value));
}

void bj_string(bench_json *j, const char *key, const char *value) {
    add(j, key, value ? jb_text(value) : json_null()); /* driver text may not be UTF-8 */
}

void bj_bool(bench_json *j, const char *key, int value) {
    add(j, key, json_boolean(value));
}

void bj_null(bench_json *j, const char *key) {
    add(j, key, json_null());
}

pp_status bj_write_file(bench_json *j, const char *path) {
    if (j->failed || !j->root || j->depth != 0)
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: the JSON could not be built (out of host memory)",
                       path);
    return jb_write_file(path, j->root, 6);
}

void bj_free(bench_json *j) {
    json_decref(j->root);
    memset(j, 0, sizeof *j);
}
