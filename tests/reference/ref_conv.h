/* Plain-C references for the convolution and max-pooling operators (host/ops
 * conv.c, pool.c). Arrays are host memory in the operators' NCHW layouts;
 * sums are taken in double. */
#ifndef PEPITA_REF_CONV_H
#define PEPITA_REF_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "ops/ops.h"

void ref_conv_forward(const op_conv_shape *s, const float *x, const float *w, float *y);
/* dw = scale * sum over batch and output positions of dy * the input patch. */
void ref_conv_weight_grad(const op_conv_shape *s, float scale, const float *dy, const float *x,
                          float *dw);
/* Scatters every dy * w product to the input pixel it came from (the adjoint
 * of the forward loop, written independently of the device's gather). */
void ref_conv_input_grad(const op_conv_shape *s, const float *dy, const float *w, float *dx);

/* First maximum of each 2x2 window in row-major order (ties: top-left wins,
 * then top-right, bottom-left, bottom-right); argmax is the flat in-plane index. */
void ref_maxpool2_forward(size_t planes, int h, int w, const float *x, float *y, int32_t *argmax);
/* dx (planes x h x w) = zero except dy at each argmax. */
void ref_maxpool2_backward(size_t planes, int h, int w, const float *dy, const int32_t *argmax,
                           float *dx);

#endif
