#include "fake_trainer.h"

#include <string.h>

/* Tensor sizes in floats: layer 1 weights and momentum, layer 2 weights and
 * momentum, then the fixed matrix F. */
static const size_t layer_weights[2] = {6, 4};
static const size_t fixed_floats = 5;

static rt_buf take(float **next, size_t n) {
    rt_buf b = {.mem = (cl_mem)(void *)*next, .bytes = n * sizeof(float)};
    *next += n;
    return b;
}

int fake_trainer_init(fake_trainer *f, unsigned seed) {
    memset(f, 0, sizeof *f);
    pp_trainer *t = &f->trainer;
    if (pp_config_preset(&t->config, PP_DATASET_MNIST, PP_MODEL_FC, PP_RULE_PEPITA) != PP_OK)
        return -1;
    t->config.hidden[0] = FAKE_HIDDEN;
    t->config.epochs = 3;
    t->net = &f->net;
    t->rule = &f->rule;
    t->train.n = 100;
    t->test.n = 10;
    t->epoch = 1;
    t->next_batch = 0;
    t->step = 2;
    f->rule.name = "pepita";
    f->rule.config = &t->config;
    f->rule.net = &f->net;
    f->net.model = PP_MODEL_FC;
    f->net.n_layers = 2;
    for (size_t i = 0; i < sizeof f->storage / sizeof f->storage[0]; i++)
        f->storage[i] = (float)((i * 2654435761u + seed) % 1000) / 1000.0f - 0.5f;
    float *next = f->storage;
    for (int l = 0; l < 2; l++) {
        net_layer *layer = &f->net.layers[l];
        layer->kind = NET_DENSE;
        layer->n_weights = layer_weights[l];
        layer->w = take(&next, layer_weights[l]);
        layer->v = take(&next, layer_weights[l]);
    }
    f->rule.fixed.count = 1;
    f->rule.fixed.n[0] = fixed_floats;
    f->rule.fixed.buf[0] = take(&next, fixed_floats);
    return 0;
}
