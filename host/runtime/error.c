#include "runtime/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_message[2048];

pp_status pp_fail(pp_status status, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(last_message, sizeof last_message, format, args);
    va_end(args);
    return status;
}

/* Appends src to dst (capacity size) as far as it fits. */
static void append(char *dst, size_t size, const char *src) {
    size_t used = strlen(dst);
    while (*src && used + 1 < size)
        dst[used++] = *src++;
    dst[used] = '\0';
}

pp_status pp_fail_context(pp_status status, const char *format, ...) {
    char combined[sizeof last_message];
    va_list args;
    va_start(args, format);
    vsnprintf(combined, sizeof combined, format, args);
    va_end(args);
    if (last_message[0]) {
        append(combined, sizeof combined, ": ");
        append(combined, sizeof combined, last_message);
    }
    memcpy(last_message, combined, sizeof last_message);
    return status;
}

void pp_clear_error(void) {
    last_message[0] = '\0';
}

const char *pp_last_error(void) {
    return last_message;
}

const char *pp_status_name(pp_status status) {
    switch (status) {
    case PP_OK:
        return "PP_OK";
    case PP_ERR_ARGUMENT:
        return "PP_ERR_ARGUMENT";
    case PP_ERR_NO_PLATFORM:
        return "PP_ERR_NO_PLATFORM";
    case PP_ERR_NO_DEVICE:
        return "PP_ERR_NO_DEVICE";
    case PP_ERR_OPENCL:
        return "PP_ERR_OPENCL";
    case PP_ERR_BUILD:
        return "PP_ERR_BUILD";
    case PP_ERR_CLBLAST:
        return "PP_ERR_CLBLAST";
    case PP_ERR_OUT_OF_MEMORY:
        return "PP_ERR_OUT_OF_MEMORY";
    case PP_ERR_IO:
        return "PP_ERR_IO";
    case PP_ERR_FORMAT:
        return "PP_ERR_FORMAT";
    case PP_ERR_NOT_FOUND:
        return "PP_ERR_NOT_FOUND";
    case PP_ERR_MISMATCH:
        return "PP_ERR_MISMATCH";
    case PP_ERR_NUMERIC:
        return "PP_ERR_NUMERIC";
    case PP_ERR_INTERRUPTED:
        return "PP_ERR_INTERRUPTED";
    case PP_ERR_INTERNAL:
        return "PP_ERR_INTERNAL";
    }
    return "PP_ERR_UNKNOWN";
}

int pp_status_exit_code(pp_status status) {
    switch (status) {
    case PP_OK:
        return 0;
    case PP_ERR_ARGUMENT:
    case PP_ERR_NO_PLATFORM:
    case PP_ERR_NO_DEVICE:
    case PP_ERR_FORMAT:
    case PP_ERR_NOT_FOUND:
    case PP_ERR_MISMATCH:
        return 2;
    case PP_ERR_NUMERIC:
        return 3;
    case PP_ERR_INTERRUPTED:
        return 130;
    default:
        return 1;
    }
}
