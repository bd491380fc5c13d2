/* Rule construction and the fixed random matrices every rule may own. */
#include "rules/rule.h"

#include <stdlib.h>

pp_status rule_fixed_uniform(rule *r, size_t n, float bound, uint32_t stream) {
    if (r->fixed.count >= RULE_MAX_FIXED)
        return pp_fail(PP_ERR_INTERNAL, "rule %s: too many fixed matrices", r->name);
    int i = r->fixed.count;
    PP_TRY(rt_buf_create(r->net->ctx, n * sizeof(float), &r->fixed.buf[i]));
    r->fixed.n[i] = n;
    r->fixed.count++;
    if (bound == 0.0f) return PP_OK; /* zero-filled already */
    return op_uniform(r->net->ctx, n, -bound, bound, r->config->seed, RULE_STREAM_BASE + stream,
                      &r->fixed.buf[i]);
}

pp_status rule_create(const pp_config *config, network *net, rule **out) {
    static pp_status (*const init[])(rule *) = {
        [PP_RULE_PEPITA] = rule_pepita_init, [PP_RULE_BP] = rule_bp_init,
        [PP_RULE_FA] = rule_fa_init,         [PP_RULE_DFA] = rule_dfa_init,
        [PP_RULE_DRTP] = rule_drtp_init,
    };
    *out = NULL;
    if ((unsigned)config->rule >= sizeof init / sizeof init[0] || !init[config->rule])
        return pp_fail(PP_ERR_ARGUMENT, "unknown learning rule %d", (int)config->rule);
    rule *r = calloc(1, sizeof *r);
    if (!r) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory creating the rule");
    r->config = config;
    r->net = net;
    r->name = pp_rule_name(config->rule);
    pp_status st = init[config->rule](r);
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
