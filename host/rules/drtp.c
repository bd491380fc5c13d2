/* Direct random target projection (Frenkel, Lefebvre & Bol, 2021, "Learning
 * without feedback"): each hidden layer's learning signal is the one-hot
 * target projected through a fixed random B_l (classes x units of the
 * layer's output), in place of the error: the gradient estimate at h_l is
 * t B_l, so delta_l = (t B_l) * f'(z_l) and the update descends it, as in
 * the authors' code (a conv layer's signal reaches its units before the
 * pooling, where their hook sits). Hidden layers are tanh; the sigmoid output
 * layer learns from its own error (sigmoid(z) - t, the binary cross-entropy
 * gradient).
 * No hidden layer's signal depends on the layers above it, so each could
 * learn during the forward pass. */
#include "rules/backprop_chain.h"

#include <math.h>

pp_status rule_drtp_init(rule *r) {
    float bounds[NET_MAX_LAYERS];
    for (int i = 0; i < r->net->n_layers - 1; i++)
        /* U(-sqrt(6/units), sqrt(6/units)): the authors' code initialises B (classes x
         * units, a conv layer's as classes x C x H x W) with torch.nn.init.kaiming_uniform_,
         * whose fan-in is all but its first dimension.
         * (1/sqrt(out) reached 40.8% instead of 45.89% on CIFAR-10 FC: README.) */
        bounds[i] = sqrtf(6.0f / (float)r->net->layers[i].units);
    return direct_feedback_init(r, 1, bounds, STREAM_DRTP_FEEDBACK);
}
