/* Rule construction, and the fixed random matrices every rule may own. */
#include "rules/rule.h"

#include "ops/mirror_ops.h"

#include <stdlib.h>

/* Streams of one matrix per layer must not run into the next list entry. */
_Static_assert(STREAM_WEIGHTS + NET_MAX_LAYERS <= STREAM_PEPITA_F, "weight streams overlap");
_Static_assert(STREAM_FA_FEEDBACK + NET_MAX_LAYERS <= STREAM_DFA_FEEDBACK, "FA streams overlap");
_Static_assert(STREAM_DFA_FEEDBACK + NET_MAX_LAYERS <= STREAM_DRTP_FEEDBACK, "DFA streams overlap");
_Static_assert(STREAM_DRTP_FEEDBACK + NET_MAX_LAYERS <= STREAM_MIRROR_FACTORS,
               "DRTP streams overlap");

pp_status rule_network_create(rt_context *ctx, const pp_config *config, int in_c, int in_h,
                              int in_w, size_t classes, size_t max_batch, network **out) {
    const rule_descriptor *d = rule_descriptor_of(config->rule);
    if (!d) return pp_fail(PP_ERR_ARGUMENT, "unknown learning rule %d", (int)config->rule);
    return net_create(ctx, config, d->hidden_act, d->output, in_c, in_h, in_w, classes, max_batch,
                      out);
}

pp_status rule_fixed_uniform(rule *r, size_t n, float bound, uint32_t stream) {
    if (r->fixed.count >= RULE_MAX_FIXED)
        return pp_fail(PP_ERR_INTERNAL, "rule %s: too many fixed matrices", r->name);
    int i = r->fixed.count;
    PP_TRY(rt_buf_create(r->net->ctx, n * sizeof(float), &r->fixed.buf[i]));
    r->fixed.n[i] = n;
    r->fixed.count++;
    if (bound == 0.0f) return PP_OK; /* zero-filled already */
    return op_uniform(r->net->ctx, n, -bound, bound, r->config->seed, stream, &r->fixed.buf[i]);
}

pp_status rule_fixed_normal(rule *r, size_t n, float std, uint32_t stream) {
    PP_TRY(rule_fixed_uniform(r, n, 0.0f, stream));
    return op_normal(r->net->ctx, n, std, r->config->seed, stream, 0,
                     &r->fixed.buf[r->fixed.count - 1]);
}

pp_status rule_create(const pp_config *config, network *net, rule **out) {
    *out = NULL;
    const rule_descriptor *d = rule_descriptor_of(config->rule);
    if (!d) return pp_fail(PP_ERR_ARGUMENT, "unknown learning rule %d", (int)config->rule);
    rule *r = calloc(1, sizeof *r);
    if (!r) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory creating the rule");
    r->descriptor = d;
    r->config = config;
    r->net = net;
    r->name = d->name;
    pp_status st = d->init(r);
    if (st != PP_OK) {
        rule_destroy(r);
        return st;
    }
    *out = r;
    return PP_OK;
}

void rule_destroy(rule *r) {
    if (!r) return;
    if (r->destroy) r->destroy(r);
    for (int i = 0; i < r->fixed.count; i++)
        rt_buf_release(r->net->ctx, &r->fixed.buf[i]);
    free(r);
}
