/* Plain-C references for the non-GEMM, non-conv operators (host/ops:
 * activation, output_error, elementwise, optimizer, gather, reduce). Arrays
 * are host memory with the operators' layouts. */
#ifndef PEPITA_REF_ELEMENTWISE_H
#define PEPITA_REF_ELEMENTWISE_H

#include <stddef.h>
#include <stdint.h>

#include "ops/ops.h"

/* factor[i] = mask(i) / (1 - p), or 1 everywhere when drop is NULL or p == 0. */
void ref_dropout_factor(size_t n, const op_dropout *drop, float *factor);
/* The same factors in a new double array (for the double-precision models). */
double *ref_dropout_factors_double(size_t n, const op_dropout *drop);
/* x /= ||x||_F over all n values, in double (the follow-up's normalisation of
 * a batch matrix); an all-zero x stays zero. */
void ref_normalise_frobenius_double(size_t n, double *x);
void ref_act_forward(op_act act, size_t n, const float *x, float *y, const op_dropout *drop);
void ref_act_backward(op_act act, size_t n, const float *z, const float *dy, float *dx,
                      const op_dropout *drop);
void ref_act_forward_diff(op_act act, size_t n, const float *z_mod, const float *y, float *y_mod,
                          float *diff, const op_dropout *drop);
/* z' = z + m basis (rows x cols, rank), then ref_act_forward_diff. */
void ref_act_forward_diff_lowrank(op_act act, size_t rows, size_t cols, size_t rank, const float *z,
                                  const float *m, const float *basis, const float *y, float *y_mod,
                                  float *diff, const op_dropout *drop);

/* In double; any output may be NULL. */
void ref_softmax_error(size_t batch, size_t classes, const float *logits, const int32_t *labels,
                       float *err, float *loss, float *correct);
void ref_sigmoid_error(size_t batch, size_t classes, const float *logits, const int32_t *labels,
                       float *err, float *loss, float *correct);
void ref_onehot(size_t batch, size_t classes, const int32_t *labels, float value, float *out);

void ref_sub(size_t n, const float *a, const float *b, float *out);
void ref_axpby(size_t n, float alpha, const float *x, float beta, float *y);
void ref_uniform(size_t n, float lo, float hi, uint64_t seed, uint32_t stream, float *x);
void ref_sgd_momentum(size_t n, float lr, float mu, float wd, float *w, float *v, const float *g);
/* p = w F (rows x classes) from ft = F^T (classes x cols), in double. */
void ref_weight_project(size_t rows, size_t cols, size_t classes, const float *w, const float *ft,
                        float *p);

/* samples: how many rows data and labels hold (others give a zero row, label -1). */
void ref_gather_batch(size_t count, size_t sample_size, size_t samples, const uint8_t *data,
                      const uint8_t *labels, const int32_t *idx, float scale, float *x, int32_t *y);
/* The same over float32 data, unscaled. */
void ref_gather_batch_f32(size_t count, size_t sample_size, size_t samples, const float *data,
                          const uint8_t *labels, const int32_t *idx, float *x, int32_t *y);

/* In double. */
double ref_sum(size_t n, const float *x);
double ref_sum_squares(size_t n, const float *x);
double ref_dot(size_t n, const float *a, const float *b);
void ref_histogram(size_t n, const float *x, float lo, float hi, int bins, uint32_t *counts);

#endif
