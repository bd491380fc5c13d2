/* Programs built per (file, -D options), and their kernels, cached for a context's life. */
#ifndef PEPITA_RUNTIME_PROGRAM_CACHE_H
#define PEPITA_RUNTIME_PROGRAM_CACHE_H

#include "runtime/runtime.h"

pp_status rt_program_cache_create(rt_program_cache **cache);
void rt_program_cache_destroy(rt_program_cache *cache);

#endif
