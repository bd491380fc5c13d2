/* Baseline rules not written yet: each reports it clearly. */
#include "rules/rule.h"

static pp_status not_yet(rule *r) {
    return pp_fail(PP_ERR_ARGUMENT, "--rule %s is not implemented yet", r->name);
}

pp_status rule_bp_init(rule *r) {
    return not_yet(r);
}
pp_status rule_fa_init(rule *r) {
    return not_yet(r);
}
pp_status rule_dfa_init(rule *r) {
    return not_yet(r);
}
pp_status rule_drtp_init(rule *r) {
    return not_yet(r);
}
