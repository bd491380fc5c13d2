/* The table of learning rules: what each is before any network exists. Its
 * behaviour is in its own file (host/rules/<name>.c). Depends on no other
 * source, so the option and checkpoint code can use it alone. */
#include "rules/rule.h"

static const rule_descriptor table[] = {
    /* Table 2's learning rates per preset row: see the rows in
     * host/train/config.c (DFA takes FA's, except on conv CIFAR-10: FA's 0.002
     * there was measured, 100 epochs, 55.49% against 50.38% at the paper's 0.01;
     * DFA's was not; DRTP's conv CIFAR-10 0.002 likewise, 47.07% against 45.03%). */
    {.kind = PP_RULE_PEPITA,
     .name = "pepita",
     .hidden_act = OP_ACT_RELU,
     .output = NET_OUTPUT_SOFTMAX,
     .preset_lr = {0.1f, 0.01f, 0.01f, 0.02f, 0.005f},
     .init = rule_pepita_init,
     .angle_reference = rule_pepita_angle_reference},
    {.kind = PP_RULE_BP,
     .name = "bp",
     .hidden_act = OP_ACT_RELU,
     .output = NET_OUTPUT_SOFTMAX,
     .preset_lr = {0.1f, 0.1f, 0.01f, 0.1f, 0.01f},
     .init = rule_bp_init},
    {.kind = PP_RULE_FA,
     .name = "fa",
     .hidden_act = OP_ACT_RELU,
     .output = NET_OUTPUT_SOFTMAX,
     .preset_lr = {0.1f, 0.1f, 0.001f, 0.02f, 0.002f},
     .init = rule_fa_init},
    {.kind = PP_RULE_DFA,
     .name = "dfa",
     .hidden_act = OP_ACT_RELU,
     .output = NET_OUTPUT_SOFTMAX,
     .preset_lr = {0.1f, 0.1f, 0.001f, 0.02f, 0.01f},
     .init = rule_dfa_init},
    /* tanh hidden units and a sigmoid output, as the paper */
    {.kind = PP_RULE_DRTP,
     .name = "drtp",
     .hidden_act = OP_ACT_TANH,
     .output = NET_OUTPUT_SIGMOID,
     .preset_lr = {0.01f, 0.01f, 0.001f, 0.01f, 0.002f},
     .init = rule_drtp_init},
};

enum { RULE_COUNT = sizeof table / sizeof table[0] };

const rule_descriptor *rule_descriptor_of(pp_rule_kind kind) {
    for (int i = 0; i < RULE_COUNT; i++)
        if (table[i].kind == kind) return &table[i];
    return NULL;
}

const rule_descriptor *rule_descriptor_at(int index) {
    return index >= 0 && index < RULE_COUNT ? &table[index] : NULL;
}
