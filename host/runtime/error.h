/* Status codes with a thread-local detailed message. */
#ifndef PEPITA_RUNTIME_ERROR_H
#define PEPITA_RUNTIME_ERROR_H

#include "pepita/pepita.h"

/* Records a printf-style message for pp_last_error() and returns status. */
pp_status pp_fail(pp_status status, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "context: " to the current message, keeping the status. */
pp_status pp_fail_context(pp_status status, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
/* Clears the message. */
void pp_clear_error(void);

/* Returns from the enclosing function when expr fails. */
#define PP_TRY(expr)                                                                               \
    do {                                                                                           \
        pp_status pp_try_status_ = (expr);                                                         \
        if (pp_try_status_ != PP_OK) return pp_try_status_;                                        \
    } while (0)

/* Sets st and jumps to label when expr fails (for goto-cleanup functions). */
#define PP_TRY_GOTO(st, expr, label)                                                               \
    do {                                                                                           \
        (st) = (expr);                                                                             \
        if ((st) != PP_OK) goto label;                                                             \
    } while (0)

#endif
