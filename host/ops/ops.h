/* Operators: small host functions over hand-written kernels (cl/) and GEMM.
 * Learning rules call these; these call the runtime. All tensors are float32
 * row-major on the device unless noted; offsets are in elements. Every
 * operator only enqueues work: nothing waits. */
#ifndef PEPITA_OPS_OPS_H
#define PEPITA_OPS_OPS_H

#include "runtime/runtime.h"

/* ---- GEMM ------------------------------------------------------------- */

typedef enum op_trans { OP_NO_TRANS = 0, OP_TRANS = 1 } op_trans;
typedef enum op_gemm_path { OP_GEMM_AUTO = 0, OP_GEMM_CLBLAST, OP_GEMM_NATIVE } op_gemm_path;

/* Row-major C = alpha op(A) op(B) + beta C; op(A) is M x K, op(B) K x N.
 * The path is chosen per device and shape class by measuring once (cached on
 * disk under $PEPITA_CACHE_DIR or $XDG_CACHE_HOME/pepita), unless
 * $PEPITA_GEMM=clblast|native forces one. On PoCL's CPU device the native
 * path is taken without measuring ($PEPITA_GEMM_MEASURE=1 measures anyway). */
pp_status op_gemm(rt_context *ctx, op_trans ta, op_trans tb, size_t m, size_t n, size_t k,
                  float alpha, const rt_buf *a, size_t a_off, size_t lda, const rt_buf *b,
                  size_t b_off, size_t ldb, float beta, rt_buf *c, size_t c_off, size_t ldc);
/* The same through one given path (tests, bench). */
pp_status op_gemm_with(rt_context *ctx, op_gemm_path path, op_trans ta, op_trans tb, size_t m,
                       size_t n, size_t k, float alpha, const rt_buf *a, size_t a_off, size_t lda,
                       const rt_buf *b, size_t b_off, size_t ldb, float beta, rt_buf *c,
                       size_t c_off, size_t ldc);
const char *op_gemm_path_name(op_gemm_path path);

/* An SGD-with-momentum step's hyperparameters: v = momentum v + lr (g +
 * weight_decay w); w -= v. */
typedef struct op_sgd {
    float lr, momentum, weight_decay;
} op_sgd;
/* The step of W and its momentum V (both m x n, ld n) with the gradient
 * alpha op(A) op(B), taken in the product's store (the gradient is never
 * stored) where the dispatch runs this shape on the native path, B is not
 * transposed and W and V fit the device profile's gemm_step_max_bytes:
 * *stepped = 1. Otherwise nothing runs and *stepped = 0. */
pp_status op_gemm_sgd_step(rt_context *ctx, op_trans ta, size_t m, size_t n, size_t k, float alpha,
                           const rt_buf *a, size_t lda, const rt_buf *b, size_t ldb,
                           const op_sgd *sgd, rt_buf *w, rt_buf *v, int *stepped);

/* ---- Dense ------------------------------------------------------------ */

/* y (batch x out) = x (batch x in) W^T, W is out x in. */
pp_status op_dense_forward(rt_context *ctx, size_t batch, size_t in, size_t out, const rt_buf *x,
                           const rt_buf *w, rt_buf *y);
/* dW (out x in) = alpha * delta^T (batch x out)^T a (batch x in) + beta dW. */
pp_status op_dense_weight_update(rt_context *ctx, size_t batch, size_t in, size_t out, float alpha,
                                 const rt_buf *delta, const rt_buf *a, float beta, rt_buf *dw);
/* The SGD step of W (out x in) and its momentum v with the gradient alpha
 * delta^T a: inside the product (op_gemm_sgd_step) where it can be, else
 * that gradient into g and op_sgd_momentum. Bit-identical either way. */
pp_status op_dense_weight_step(rt_context *ctx, size_t batch, size_t in, size_t out, float alpha,
                               const rt_buf *delta, const rt_buf *a, const op_sgd *sgd, rt_buf *w,
                               rt_buf *v, rt_buf *g);
/* dx (batch x in) = dy (batch x out) W (out x in). */
pp_status op_dense_input_grad(rt_context *ctx, size_t batch, size_t in, size_t out,
                              const rt_buf *dy, const rt_buf *w, rt_buf *dx);

/* ---- Convolution (NCHW, no bias) -------------------------------------- */

typedef struct op_conv_shape {
    int batch;
    int in_c, in_h, in_w;
    int out_c;
    int kernel; /* square kernel size */
    int stride;
    int pad;
} op_conv_shape;

int op_conv_out_h(const op_conv_shape *s);
int op_conv_out_w(const op_conv_shape *s);

/* y (batch, out_c, oh, ow) = conv(x (batch, in_c, in_h, in_w), w (out_c, in_c, k, k)). */
pp_status op_conv_forward(rt_context *ctx, const op_conv_shape *s, const rt_buf *x, const rt_buf *w,
                          rt_buf *y);
/* dw[f,c,i,j] = scale * sum_{n,oy,ox} dy[n,f,oy,ox] * x[n,c,oy*stride+i-pad,ox*stride+j-pad]
 * (zero outside the image). BP: dy = output gradient, scale = 1/batch. PEPITA:
 * dy = h - h', x = the modulated input, scale = 1/(batch*oh*ow). */
pp_status op_conv_weight_grad(rt_context *ctx, const op_conv_shape *s, float scale,
                              const rt_buf *dy, const rt_buf *x, rt_buf *dw);
/* The same with `local` work-items (a power of two; 0 = the device's default)
 * reducing each weight, so tests cover the local-memory tree on any device. */
pp_status op_conv_weight_grad_local(rt_context *ctx, const op_conv_shape *s, float scale,
                                    const rt_buf *dy, const rt_buf *x, rt_buf *dw, size_t local);
/* dx = the input gradient of the convolution for output gradient dy. */
pp_status op_conv_input_grad(rt_context *ctx, const op_conv_shape *s, const rt_buf *dy,
                             const rt_buf *w, rt_buf *dx);

/* ---- Max pooling 2x2, stride 2 (floor) -------------------------------- */

/* planes = batch * channels; y is planes x (h/2) x (w/2); argmax (int32) holds
 * the flat input index of each maximum within its plane. Ties go to the first
 * of the window in row-major order (top-left, top-right, bottom-left,
 * bottom-right); an odd last row or column is dropped. */
pp_status op_maxpool2_forward(rt_context *ctx, size_t planes, int h, int w, const rt_buf *x,
                              rt_buf *y, rt_buf *argmax);
/* dx (planes x h x w) = scatter of dy through argmax; dx is fully overwritten. */
pp_status op_maxpool2_backward(rt_context *ctx, size_t planes, int h, int w, const rt_buf *dy,
                               const rt_buf *argmax, rt_buf *dx);

/* ---- Activations and dropout ------------------------------------------ */

typedef enum op_act { OP_ACT_IDENTITY = 0, OP_ACT_RELU, OP_ACT_TANH, OP_ACT_SIGMOID } op_act;

/* Dropout keyed by (seed, step, layer): the mask of element i is a pure
 * function of the key and i (Philox-4x32-10), so both PEPITA passes and a
 * BP backward regenerate the same mask. p == 0 disables it, p must be < 1.
 * Kept units are scaled by 1/(1-p). host/ops/philox.h reproduces the mask.
 * first: the global index of the buffer's element 0 (a data-parallel rank's
 * rows start inside the global batch; 0 in one process).
 * mask (optional, n bytes): op_act_forward writes the mask there (nonzero:
 * kept), and op_act_backward and op_act_forward_diff read it instead of
 * drawing it again, so they must follow a forward op of the same key and
 * elements; the low-rank op draws its own. The same results either way,
 * bit for bit; drawing it is most of a ReLU + dropout op's time on a CPU. */
typedef struct op_dropout {
    float p;
    uint64_t seed;
    uint32_t step;
    uint32_t layer;
    uint32_t first;
    const rt_buf *mask;
} op_dropout;

/* y = act(x) * mask / (1 - p); drop may be NULL. In place (x == y) allowed. */
pp_status op_act_forward(rt_context *ctx, op_act act, size_t n, const rt_buf *x, rt_buf *y,
                         const op_dropout *drop);
/* dx = dy * act'(z) * mask / (1 - p), z the pre-activation; in place (dy == dx) allowed. */
pp_status op_act_backward(rt_context *ctx, op_act act, size_t n, const rt_buf *z, const rt_buf *dy,
                          rt_buf *dx, const op_dropout *drop);
/* Fused PEPITA hidden layer of the modulated pass: y' = act(z') * mask/(1-p)
 * and diff = y - y' (y the standard pass's output). */
pp_status op_act_forward_diff(rt_context *ctx, op_act act, size_t n, const rt_buf *z_mod,
                              const rt_buf *y, rt_buf *y_mod, rt_buf *diff, const op_dropout *drop);
/* The same with the modulated pre-activation formed on the fly from a
 * low-rank update of the standard one: z' = z + m basis (z: rows x cols,
 * m: rows x rank, basis: rank x cols, row-major). PEPITA's first conv layer:
 * conv(x + m F^T) = conv(x) + m conv(F^T), without writing z' or a copy of z. */
pp_status op_act_forward_diff_lowrank(rt_context *ctx, op_act act, size_t rows, size_t cols,
                                      size_t rank, const rt_buf *z, const rt_buf *m,
                                      const rt_buf *basis, const rt_buf *y, rt_buf *y_mod,
                                      rt_buf *diff, const op_dropout *drop);

/* ---- Output layer: error, loss, accuracy ------------------------------ */

/* Running totals (a training or test epoch's): acc[at] sums the loss,
 * acc[at + 1] the correct count. */
typedef struct op_totals {
    rt_buf *acc;
    size_t at;
} op_totals;

/* Softmax output, numerically stable, per row of logits (batch x classes):
 * err = softmax(z) - onehot(label); loss[i] = cross-entropy of sample i;
 * correct[i] = 1.0f if argmax(z) == label (first maximum) else 0.0f (float,
 * so op_accumulate2 can total it). labels are int32; an out-of-range label
 * gives a NaN loss. err, loss or correct may be NULL. totals (or NULL; it
 * needs loss and correct): the batch's loss and correct count are also
 * added there, bit-identical to op_accumulate2 of loss and correct after. */
pp_status op_softmax_error(rt_context *ctx, size_t batch, size_t classes, const rt_buf *logits,
                           const rt_buf *labels, rt_buf *err, rt_buf *loss, rt_buf *correct,
                           const op_totals *totals);
/* Sigmoid output (DRTP): err = sigmoid(z) - onehot; loss[i] = binary
 * cross-entropy summed over classes; correct and totals as above. */
pp_status op_sigmoid_error(rt_context *ctx, size_t batch, size_t classes, const rt_buf *logits,
                           const rt_buf *labels, rt_buf *err, rt_buf *loss, rt_buf *correct,
                           const op_totals *totals);
/* onehot (batch x classes) from int32 labels, scaled: value at the label, 0 elsewhere. */
pp_status op_onehot(rt_context *ctx, size_t batch, size_t classes, const rt_buf *labels,
                    float value, rt_buf *out);
/* acc[acc_off] += sum(a[0..n)), acc[acc_off+1] += sum(b[0..n)) (running epoch totals). */
pp_status op_accumulate2(rt_context *ctx, size_t n, const rt_buf *a, const rt_buf *b, rt_buf *acc,
                         size_t acc_off);

/* ---- Element-wise ----------------------------------------------------- */

/* out = a - b. */
pp_status op_sub(rt_context *ctx, size_t n, const rt_buf *a, const rt_buf *b, rt_buf *out);
/* y = alpha x + beta y. */
pp_status op_axpby(rt_context *ctx, size_t n, float alpha, const rt_buf *x, float beta, rt_buf *y);
/* x /= sqrt(s[s_off]), s a device scalar (left as is where s == 0). */
pp_status op_scale_rsqrt(rt_context *ctx, size_t n, const rt_buf *s, size_t s_off, rt_buf *x);
/* x /= ||x||_F over all n elements (the follow-up's activation normalisation
 * of a whole batch matrix); norm_sq[off] receives sum(x^2). Nothing is read
 * back: the scale stays on the device. An all-zero x stays zero. */
pp_status op_normalise_frobenius(rt_context *ctx, size_t n, rt_buf *x, rt_buf *norm_sq, size_t off);
/* x[0..n) = value. */
pp_status op_fill(rt_context *ctx, size_t n, float value, rt_buf *x);
/* x[i] = U(lo, hi) from Philox keyed by (seed, stream, i): device-side noise,
 * bit-identical to the host's philox_uniform(seed, stream, i, lo, hi). */
pp_status op_uniform(rt_context *ctx, size_t n, float lo, float hi, uint64_t seed, uint32_t stream,
                     rt_buf *x);

/* ---- Optimiser -------------------------------------------------------- */

/* v = mu v + lr (g + wd w); w -= v. In place over n weights. */
pp_status op_sgd_momentum(rt_context *ctx, size_t n, float lr, float mu, float wd, rt_buf *w,
                          rt_buf *v, const rt_buf *g);

/* The most classes of the products below (their partial sums are registers). */
#define OP_PROJECT_MAX_CLASSES 16
/* F (cols x classes) rearranged for the products below, in the device's
 * blocked layout of op_project_layout_floats(cols, classes) floats. */
size_t op_project_layout_floats(const rt_context *ctx, size_t cols, size_t classes);
pp_status op_project_layout(rt_context *ctx, size_t cols, size_t classes, const rt_buf *f,
                            rt_buf *fb);
/* The step above on w (rows x cols), and then p = w F (rows x classes) of the
 * stepped weights from fb (F in that layout), in one pass over w: PEPITA's
 * W_1 F without reading W_1 again. */
pp_status op_sgd_momentum_project(rt_context *ctx, size_t rows, size_t cols, size_t classes,
                                  float lr, float mu, float wd, rt_buf *w, rt_buf *v,
                                  const rt_buf *g, const rt_buf *fb, rt_buf *p);
/* p = w F alone, summed in the same order: bit-identical to the product that
 * op_sgd_momentum_project leaves for the same weights. */
pp_status op_weight_project(rt_context *ctx, size_t rows, size_t cols, size_t classes,
                            const rt_buf *w, const rt_buf *fb, rt_buf *p);

/* ---- Data ------------------------------------------------------------- */

/* For i < count: x[i, :] = data_u8[idx[i], :] * scale (sample_size bytes each)
 * and y[i] = (int32) labels_u8[idx[i]]. idx is int32, read from idx_off. An
 * index outside the buffers gives a zero row and label -1, never a stray read. */
pp_status op_gather_batch(rt_context *ctx, size_t count, size_t sample_size, const rt_buf *data_u8,
                          const rt_buf *labels_u8, const rt_buf *idx, size_t idx_off, float scale,
                          rt_buf *x, rt_buf *y);
/* The same over float32 data (sample_size floats per sample), unscaled. */
pp_status op_gather_batch_f32(rt_context *ctx, size_t count, size_t sample_size,
                              const rt_buf *data_f32, const rt_buf *labels_u8, const rt_buf *idx,
                              size_t idx_off, rt_buf *x, rt_buf *y);

/* ---- Reductions (results stay on the device) -------------------------- */

/* out[out_off] = sum(x). */
pp_status op_sum(rt_context *ctx, size_t n, const rt_buf *x, rt_buf *out, size_t out_off);
/* out[out_off] = sum(x^2). */
pp_status op_sum_squares(rt_context *ctx, size_t n, const rt_buf *x, rt_buf *out, size_t out_off);
/* out[out_off] = sum(a * b). */
pp_status op_dot(rt_context *ctx, size_t n, const rt_buf *a, const rt_buf *b, rt_buf *out,
                 size_t out_off);
/* counts (uint32, bins) = histogram of x over [lo, hi); values outside are
 * clamped into the first/last bin; NaN is not counted. */
pp_status op_histogram(rt_context *ctx, size_t n, const rt_buf *x, float lo, float hi, int bins,
                       rt_buf *counts);

#endif
