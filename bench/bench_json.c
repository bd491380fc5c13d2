/* A minimal JSON writer: nested objects and arrays into one growing string. */
#include "bench.h"

#include <math.h>
#include <string.h>

#define append(j, ...) text_printf(&(j)->out, __VA_ARGS__)

/* The separator, indentation and key before a value. */
static void prefix(bench_json *j, const char *key) {
    if (j->depth > 0) {
        append(j, "%s\n%*s", j->first[j->depth] ? "" : ",", 2 * j->depth, "");
        j->first[j->depth] = 0;
    }
    if (key) {
        text_json_string(&j->out, key);
        append(j, ": ");
    }
}

static void open_scope(bench_json *j, const char *key, char bracket) {
    prefix(j, key);
    append(j, "%c", bracket);
    if (j->depth + 1 < (int)(sizeof j->first / sizeof j->first[0])) j->depth++;
    j->first[j->depth] = 1;
}

static void close_scope(bench_json *j, char bracket) {
    int empty = j->first[j->depth];
    if (j->depth > 0) j->depth--;
    if (empty)
        append(j, "%c", bracket);
    else
        append(j, "\n%*s%c", 2 * j->depth, "", bracket);
    if (j->depth == 0) append(j, "\n");
}

void json_object_begin(bench_json *j, const char *key) {
    open_scope(j, key, '{');
}

void json_object_end(bench_json *j) {
    close_scope(j, '}');
}

void json_array_begin(bench_json *j, const char *key) {
    open_scope(j, key, '[');
}

void json_array_end(bench_json *j) {
    close_scope(j, ']');
}

void json_number(bench_json *j, const char *key, double value) {
    prefix(j, key);
    if (isfinite(value))
        append(j, "%.6g", value);
    else
        append(j, "null");
}

void json_int(bench_json *j, const char *key, long long value) {
    prefix(j, key);
    append(j, "%lld", value);
}

void json_string(bench_json *j, const char *key, const char *value) {
    prefix(j, key);
    if (value)
        text_json_string(&j->out, value);
    else
        append(j, "null");
}

void json_bool(bench_json *j, const char *key, int value) {
    prefix(j, key);
    append(j, value ? "true" : "false");
}

void json_null(bench_json *j, const char *key) {
    prefix(j, key);
    append(j, "null");
}

void json_free(bench_json *j) {
    text_free(&j->out);
    memset(j, 0, sizeof *j);
}
