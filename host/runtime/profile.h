/* Per-kernel durations from OpenCL profiling events (for the bench). */
#ifndef PEPITA_RUNTIME_PROFILE_H
#define PEPITA_RUNTIME_PROFILE_H

#include "runtime/runtime.h"

pp_status rt_profile_create(rt_profile **profile);
void rt_profile_destroy(rt_profile *profile);

#endif
