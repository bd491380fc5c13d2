/* Direct feedback alignment (Nokland, 2016): the output error reaches every
 * hidden layer directly through a fixed random B_l (classes x units of the
 * layer's output; a conv layer's before its pooling, as in the DRTP authors'
 * DFA), delta_l = (e B_l) * f'(z_l); the output layer learns from its own
 * error as in BP. */
#include "rules/backprop_chain.h"

#include <math.h>

pp_status rule_dfa_init(rule *r) {
    float bounds[NET_MAX_LAYERS];
    for (int i = 0; i < r->net->n_layers - 1; i++)
        /* scaled like a W_{l+1} fed by this layer (He uniform over its outputs), so with
         * one hidden layer the signal has the magnitude FA's would have */
        bounds[i] = sqrtf(6.0f / (float)r->net->layers[i].units);
    return direct_feedback_init(r, 0, bounds, STREAM_DFA_FEEDBACK);
}
