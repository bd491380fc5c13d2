/* A network's architecture as a list of hidden layers, from --arch's text or
 * from the preset fields of a configuration (--model, --hidden). The output
 * layer (dense, one unit per class) is always there and never written.
 *
 * Grammar of the text, layers from the input up, separated by commas:
 *   convNkK   N filters of K x K (stride 1, no padding, no bias), then the
 *             hidden activation; it must be followed by pool2
 *   pool2     2x2 max pooling, stride 2
 *   fcN       a dense hidden layer of N units, then the hidden activation
 *             (and dropout on the fc model)
 * conv layers come first: conv32k5,pool2,conv64k5,pool2,fc1024. */
#ifndef PEPITA_MODEL_ARCH_H
#define PEPITA_MODEL_ARCH_H

#include "pepita/pepita.h"

#include <stddef.h>

/* Hidden layers at most: with the output layer, the network's limit. */
#define ARCH_MAX_LAYERS (PP_MAX_HIDDEN + 1)

typedef enum arch_kind { ARCH_DENSE, ARCH_CONV } arch_kind;

typedef struct arch_layer {
    arch_kind kind;
    int units;           /* dense: outputs */
    int filters, kernel; /* conv (always followed by a 2x2 max pooling) */
} arch_layer;

typedef struct arch_spec {
    int n;
    arch_layer layers[ARCH_MAX_LAYERS];
} arch_spec;

/* Parses --arch's text; errors name --arch and the item. */
pp_status arch_parse(const char *text, arch_spec *out);
/* The architecture of a configuration: config->arch when set, else the
 * preset's (fc: --hidden's widths; conv: one conv layer with its pooling). */
pp_status arch_of_config(const pp_config *config, arch_spec *out);
/* Whether the architecture has conv layers. */
int arch_has_conv(const arch_spec *spec);
/* The text of an architecture ("conv32k5,pool2" or "fc1024,fc1024"; "" for
 * none), as --arch takes it. */
void arch_format(const arch_spec *spec, char *out, size_t size);
/* Checks that every layer fits the images (channels x height x width). */
pp_status arch_check_input(const arch_spec *spec, int channels, int height, int width);

#endif
