/* A minimal JSON writer: nested objects and arrays into one growing string. */
#include "bench.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void append(bench_json *j, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void append(bench_json *j, const char *format, ...) {
    if (j->failed) return;
    va_list ap;
    va_start(ap, format);
    int need = vsnprintf(NULL, 0, format, ap);
    va_end(ap);
    if (need < 0) {
        j->failed = 1;
        return;
    }
    if (j->len + (size_t)need + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 4096;
        while (j->len + (size_t)need + 1 > cap)
            cap *= 2;
        char *grown = realloc(j->text, cap);
        if (!grown) {
            j->failed = 1;
            return;
        }
        j->text = grown;
        j->cap = cap;
    }
    va_start(ap, format);
    vsnprintf(j->text + j->len, j->cap - j->len, format, ap);
    va_end(ap);
    j->len += (size_t)need;
}

static void append_string(bench_json *j, const char *s) {
    append(j, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            append(j, "\\%c", c);
        else if (c < 0x20)
            append(j, "\\u%04x", c);
        else
            append(j, "%c", c);
    }
    append(j, "\"");
}

/* The separator, indentation and key before a value. */
static void prefix(bench_json *j, const char *key) {
    if (j->depth > 0) {
        append(j, "%s\n%*s", j->first[j->depth] ? "" : ",", 2 * j->depth, "");
        j->first[j->depth] = 0;
    }
    if (key) {
        append_string(j, key);
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
        append_string(j, value);
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
    free(j->text);
    memset(j, 0, sizeof *j);
}
