/* The rule files' entry points named in host/rules/rule_table.c, for the
 * fuzz targets: they read the table (names, presets) through config.c but
 * never create a rule, which needs a device. */
#include "rules/rule.h"

static pp_status no_rule(rule *r) {
    (void)r;
    return pp_fail(PP_ERR_INTERNAL, "the fuzz targets create no rule");
}

pp_status rule_pepita_init(rule *r) {
    return no_rule(r);
}
const rt_buf *rule_pepita_angle_reference(const rule *r) {
    (void)r;
    return NULL;
}
pp_status rule_bp_init(rule *r) {
    return no_rule(r);
}
pp_status rule_fa_init(rule *r) {
    return no_rule(r);
}
pp_status rule_dfa_init(rule *r) {
    return no_rule(r);
}
pp_status rule_drtp_init(rule *r) {
    return no_rule(r);
}
