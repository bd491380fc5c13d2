/* A growing text buffer with JSON string escaping (one copy of both for the
 * CLI's reports and the bench). */
#include "util/text_buffer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void text_printf(text_buffer *t, const char *format, ...) {
    if (t->failed) return;
    for (;;) {
        va_list args;
        va_start(args, format);
        size_t room = t->capacity - t->size;
        int n = vsnprintf(t->data ? t->data + t->size : NULL, room, format, args);
        va_end(args);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            t->size += (size_t)n;
            return;
        }
        size_t capacity = t->capacity ? 2 * t->capacity : 4096;
        while (capacity - t->size <= (size_t)n)
            capacity *= 2;
        char *grown = realloc(t->data, capacity);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->data = grown;
        t->capacity = capacity;
    }
}

void text_free(text_buffer *t) {
    free(t->data);
    memset(t, 0, sizeof *t);
}
