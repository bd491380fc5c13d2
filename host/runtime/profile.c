/* Events are kept (not waited on) until rt_profile_collect, so profiling adds
 * no synchronisation to the hot loop. */
#include "runtime/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pending_event {
    const char *name; /* kernel names live as long as the context */
    cl_event event;
} pending_event;

struct rt_profile {
    pending_event *events;
    size_t count, capacity;
    cl_event slot;
    rt_profile_entry *totals;
    size_t n_totals;
    double idle_seconds; /* device idle between consecutive launches, since the reset */
};

pp_status rt_profile_create(rt_profile **profile) {
    *profile = calloc(1, sizeof **profile);
    if (!*profile) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for profiling");
    return PP_OK;
}

static void release_pending(rt_profile *p) {
    for (size_t i = 0; i < p->count; i++)
        clReleaseEvent(p->events[i].event);
    p->count = 0;
}

void rt_profile_destroy(rt_profile *profile) {
    if (!profile) return;
    release_pending(profile);
    free(profile->events);
    free(profile->totals);
    free(profile);
}

cl_event *rt_profile_event_slot(rt_context *ctx) {
    return ctx->profile ? &ctx->profile->slot : NULL;
}

pp_status rt_profile_record(rt_context *ctx, const char *name, cl_event event) {
    rt_profile *p = ctx->profile;
    if (!p) {
        clReleaseEvent(event);
        return PP_OK;
    }
    if (p->count == p->capacity) {
        size_t capacity = p->capacity ? 2 * p->capacity : 1024;
        pending_event *grown = realloc(p->events, capacity * sizeof *grown);
        if (!grown) {
            clReleaseEvent(event);
            return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for profiling events");
        }
        p->events = grown;
        p->capacity = capacity;
    }
    p->events[p->count++] = (pending_event){name, event};
    return PP_OK;
}

static pp_status add_total(rt_profile *p, const char *name, double seconds) {
    for (size_t i = 0; i < p->n_totals; i++)
        if (!strcmp(p->totals[i].name, name)) {
            p->totals[i].seconds += seconds;
            p->totals[i].launches++;
            return PP_OK;
        }
    rt_profile_entry *grown = realloc(p->totals, (p->n_totals + 1) * sizeof *grown);
    if (!grown) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for profiling");
    p->totals = grown;
    rt_profile_entry *e = &p->totals[p->n_totals++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->seconds = seconds;
    e->launches = 1;
    return PP_OK;
}

static int by_time_descending(const void *a, const void *b) {
    double x = ((const rt_profile_entry *)a)->seconds, y = ((const rt_profile_entry *)b)->seconds;
    return (x < y) - (x > y);
}

pp_status rt_profile_collect(rt_context *ctx, rt_profile_entry **entries, size_t *count) {
    rt_profile *p = ctx->profile;
    *entries = NULL;
    *count = 0;
    if (!p) return pp_fail(PP_ERR_ARGUMENT, "profiling was not enabled for this context");
    PP_TRY(rt_finish(ctx));
    cl_ulong previous_end = 0;
    for (size_t i = 0; i < p->count; i++) {
        cl_ulong start = 0, end = 0;
        RT_CHECK(clGetEventProfilingInfo(p->events[i].event, CL_PROFILING_COMMAND_START,
                                         sizeof start, &start, NULL),
                 "clGetEventProfilingInfo(START)");
        RT_CHECK(clGetEventProfilingInfo(p->events[i].event, CL_PROFILING_COMMAND_END, sizeof end,
                                         &end, NULL),
                 "clGetEventProfilingInfo(END)");
        PP_TRY(add_total(p, p->events[i].name, end > start ? (double)(end - start) * 1e-9 : 0.0));
        /* the queue is in order: a launch starting after the last one ended left the device idle */
        if (i > 0 && start > previous_end) p->idle_seconds += (double)(start - previous_end) * 1e-9;
        if (end > previous_end) previous_end = end;
    }
    release_pending(p);
    rt_profile_entry *copy = malloc((p->n_totals ? p->n_totals : 1) * sizeof *copy);
    if (!copy) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory for profiling");
    if (p->n_totals) memcpy(copy, p->totals, p->n_totals * sizeof *copy);
    qsort(copy, p->n_totals, sizeof *copy, by_time_descending);
    *entries = copy;
    *count = p->n_totals;
    return PP_OK;
}

void rt_profile_reset(rt_context *ctx) {
    if (!ctx->profile) return;
    release_pending(ctx->profile);
    free(ctx->profile->totals);
    ctx->profile->totals = NULL;
    ctx->profile->n_totals = 0;
    ctx->profile->idle_seconds = 0.0;
}

double rt_profile_idle_seconds(const rt_context *ctx) {
    return ctx->profile ? ctx->profile->idle_seconds : 0.0;
}
