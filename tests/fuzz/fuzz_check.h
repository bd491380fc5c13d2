/* The fuzz targets' invariant check: a broken invariant aborts, so libFuzzer
 * reports it as a crash with the input that caused it. */
#ifndef PEPITA_FUZZ_CHECK_H
#define PEPITA_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed: %s\n", #cond);                                      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
