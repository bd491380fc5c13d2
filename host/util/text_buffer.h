/* A growing text buffer for reports built in memory and then written in one
 * go (CSV logs, Markdown summaries). */
#ifndef PEPITA_UTIL_TEXT_BUFFER_H
#define PEPITA_UTIL_TEXT_BUFFER_H

#include <stddef.h>

typedef struct text_buffer {
    char *data; /* NUL-terminated once anything was written */
    size_t size, capacity;
    int failed; /* out of memory: later writes are dropped */
} text_buffer;

/* Appends printf-style text. */
__attribute__((format(printf, 2, 3))) void text_printf(text_buffer *t, const char *format, ...);
/* Frees the text and empties the buffer. */
void text_free(text_buffer *t);

#endif
