/* Output layer: error, per-sample loss and correctness, one work-item per
 * sample (a row has at most a few hundred classes). `outputs` says which of
 * err/loss/correct to write; the others are dummy buffers. */

#define OUT_ERR 1
#define OUT_LOSS 2
#define OUT_CORRECT 4

/* Index of the first maximum of a row. */
int row_argmax(global const float *z, int classes) {
    int best = 0;
    for (int j = 1; j < classes; j++)
        if (z[j] > z[best]) best = j;
    return best;
}

/* TOTALS (one work-group over the whole batch): the kernel also adds the
 * batch's summed loss and correct count to acc[acc_off] and acc[acc_off + 1],
 * by accumulate2's tree, so the totals are bit-identical to a separate
 * accumulate2 after it and the step has one command fewer. */
#ifndef TOTALS
#define TOTALS 0
#endif
#if TOTALS
#define TOTALS_PARAMS , global float *acc, int acc_off, local float *sa, local float *sb
#else
#define TOTALS_PARAMS
#endif

/* acc[acc_off] += the sum of every work-item's x, acc[acc_off + 1] += of its
 * y: a tree in local memory over the group (a power of two), the order that
 * accumulate2 keeps. */
void add_to_totals(float x, float y, global float *acc, int acc_off, local float *sa,
                   local float *sb) {
    const int lid = (int)get_local_id(0), size = (int)get_local_size(0);
    sa[lid] = x;
    sb[lid] = y;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int width = size / 2; width > 0; width /= 2) {
        if (lid < width) {
            sa[lid] += sa[lid + width];
            sb[lid] += sb[lid + width];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        acc[acc_off] += sa[0];
        acc[acc_off + 1] += sb[0];
    }
}

/* err = softmax(z) - onehot(label), loss = logsumexp(z) - z[label] with the
 * row maximum subtracted first so nothing overflows. An out-of-range label
 * gives a NaN loss (the trainer's NaN check reports it). Returns the row's
 * loss and correct flag in *row_loss and *row_correct. */
ALWAYS_INLINE void softmax_row(int row, int classes, global const float *logits,
                               global const int *labels, global float *err, global float *loss,
                               global float *correct, int outputs, float *row_loss,
                               float *row_correct) {
    global const float *z = logits + (size_t)row * classes;
    const int label = labels[row];
    const int valid = label >= 0 && label < classes;
    const int best = row_argmax(z, classes);
    const float m = z[best];
    float sum = 0.0f;
    for (int j = 0; j < classes; j++)
        sum += exp(z[j] - m);
    *row_loss = valid ? (m - z[label]) + log(sum) : NAN;
    *row_correct = best == label ? 1.0f : 0.0f;
    if (outputs & OUT_LOSS) loss[row] = *row_loss;
    if (outputs & OUT_CORRECT) correct[row] = *row_correct;
    if (outputs & OUT_ERR) {
        global float *e = err + (size_t)row * classes;
        const float inv = 1.0f / sum;
        for (int j = 0; j < classes; j++)
            e[j] = exp(z[j] - m) * inv - (j == label ? 1.0f : 0.0f);
    }
}

/* err = sigmoid(z) - onehot(label); loss = sum over classes of the binary
 * cross-entropy in its stable form max(z,0) - z t + log(1 + exp(-|z|)). */
ALWAYS_INLINE void sigmoid_row(int row, int classes, global const float *logits,
                               global const int *labels, global float *err, global float *loss,
                               global float *correct, int outputs, float *row_loss,
                               float *row_correct) {
    global const float *z = logits + (size_t)row * classes;
    const int label = labels[row];
    const int valid = label >= 0 && label < classes;
    if ((outputs & OUT_LOSS) || TOTALS) {
        float sum = 0.0f;
        for (int j = 0; j < classes; j++) {
            const float zj = z[j];
            sum += fmax(zj, 0.0f) - (j == label ? zj : 0.0f) + log1p(exp(-fabs(zj)));
        }
        *row_loss = valid ? sum : NAN;
        if (outputs & OUT_LOSS) loss[row] = *row_loss;
    }
    *row_correct = row_argmax(z, classes) == label ? 1.0f : 0.0f;
    if (outputs & OUT_CORRECT) correct[row] = *row_correct;
    if (outputs & OUT_ERR) {
        global float *e = err + (size_t)row * classes;
        for (int j = 0; j < classes; j++)
            e[j] = 1.0f / (1.0f + exp(-z[j])) - (j == label ? 1.0f : 0.0f);
    }
}

/* One work-item per sample: the row, then (TOTALS) the group's totals, which
 * every work-item takes part in (rows past the batch add zeros). As in
 * accumulate2, each term starts from 0.0f + value. */
#define ROW_KERNEL(name, row_fn)                                                                   \
    kernel void name(int batch, int classes, global const float *logits,                          \
                     global const int *labels, global float *err, global float *loss,              \
                     global float *correct, int outputs TOTALS_PARAMS) {                           \
        const int row = (int)get_global_id(0);                                                     \
        float row_loss = 0.0f, row_correct = 0.0f;                                                 \
        if (row < batch)                                                                           \
            row_fn(row, classes, logits, labels, err, loss, correct, outputs, &row_loss,           \
                   &row_correct);                                                                  \
        if (TOTALS) ADD_TO_TOTALS(0.0f + row_loss, 0.0f + row_correct);                           \
    }
#if TOTALS
#define ADD_TO_TOTALS(x, y) add_to_totals((x), (y), acc, acc_off, sa, sb)
#else
#define ADD_TO_TOTALS(x, y) ((void)0)
#endif

ROW_KERNEL(softmax_error, softmax_row)
ROW_KERNEL(sigmoid_error, sigmoid_row)

/* ---- One work-group per sample (the GPU profile) ------------------------
 * Work-item l takes classes l, l + L, ... (L = the group size, a power of
 * two, consecutive work-items on consecutive logits), then the group combines
 * with trees in local memory: the first maximum (ties go to the lower class,
 * as in row_argmax) and the sums. global: (L, batch), local: (L, 1). */

/* (v, at) <- the first maximum of (v, at) and (w, wat). */
#define FIRST_MAX(v, at, w, wat)                                                                   \
    do {                                                                                           \
        if ((w) > (v) || ((w) == (v) && (wat) < (at))) {                                           \
            (v) = (w);                                                                             \
            (at) = (wat);                                                                          \
        }                                                                                          \
    } while (0)

/* The row's first maximum, in every work-item: best_v[0], best_at[0]. */
void group_argmax(global const float *z, int classes, local float *best_v, local int *best_at) {
    const int lid = (int)get_local_id(0), size = (int)get_local_size(0);
    float v = -INFINITY;
    int at = classes; /* no class yet: loses every tie */
    for (int j = lid; j < classes; j += size)
        FIRST_MAX(v, at, z[j], j);
    best_v[lid] = v;
    best_at[lid] = at;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int width = size / 2; width > 0; width /= 2) {
        if (lid < width) {
            float w = best_v[lid + width], mine = best_v[lid];
            int wat = best_at[lid + width], mine_at = best_at[lid];
            FIRST_MAX(mine, mine_at, w, wat);
            best_v[lid] = mine;
            best_at[lid] = mine_at;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

/* The sum of every work-item's term, in every work-item (sums[0]). */
float group_sum(float term, local float *sums) {
    const int lid = (int)get_local_id(0), size = (int)get_local_size(0);
    sums[lid] = term;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int width = size / 2; width > 0; width /= 2) {
        if (lid < width) sums[lid] += sums[lid + width];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float total = sums[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* sums may be reused after this */
    return total;
}

kernel void softmax_error_rows(int batch, int classes, global const float *logits,
                               global const int *labels, global float *err, global float *loss,
                               global float *correct, int outputs, local float *best_v,
                               local int *best_at, local float *sums) {
    const int row = (int)get_global_id(1), lid = (int)get_local_id(0);
    const int size = (int)get_local_size(0);
    if (row >= batch) return; /* whole groups: the barriers below stay uniform */
    global const float *z = logits + (size_t)row * classes;
    const int label = labels[row];
    const int valid = label >= 0 && label < classes;
    group_argmax(z, classes, best_v, best_at);
    /* a row whose first logit is NaN keeps it as its maximum, as row_argmax does */
    const int best = isnan(z[0]) ? 0 : best_at[0];
    const float m = z[best];
    float part = 0.0f;
    for (int j = lid; j < classes; j += size)
        part += exp(z[j] - m);
    const float sum = group_sum(part, sums);
    if (lid == 0) {
        if (outputs & OUT_LOSS) loss[row] = valid ? (m - z[label]) + log(sum) : NAN;
        if (outputs & OUT_CORRECT) correct[row] = best == label ? 1.0f : 0.0f;
    }
    if (outputs & OUT_ERR) {
        global float *e = err + (size_t)row * classes;
        const float inv = 1.0f / sum;
        for (int j = lid; j < classes; j += size)
            e[j] = exp(z[j] - m) * inv - (j == label ? 1.0f : 0.0f);
    }
}

kernel void sigmoid_error_rows(int batch, int classes, global const float *logits,
                               global const int *labels, global float *err, global float *loss,
                               global float *correct, int outputs, local float *best_v,
                               local int *best_at, local float *sums) {
    const int row = (int)get_global_id(1), lid = (int)get_local_id(0);
    const int size = (int)get_local_size(0);
    if (row >= batch) return;
    global const float *z = logits + (size_t)row * classes;
    const int label = labels[row];
    const int valid = label >= 0 && label < classes;
    float part = 0.0f;
    for (int j = lid; j < classes; j += size) {
        const float zj = z[j];
        part += fmax(zj, 0.0f) - (j == label ? zj : 0.0f) + log1p(exp(-fabs(zj)));
    }
    const float sum = group_sum(part, sums);
    group_argmax(z, classes, best_v, best_at);
    const int best = isnan(z[0]) ? 0 : best_at[0];
    if (lid == 0) {
        if (outputs & OUT_LOSS) loss[row] = valid ? sum : NAN;
        if (outputs & OUT_CORRECT) correct[row] = best == label ? 1.0f : 0.0f;
    }
    if (outputs & OUT_ERR) {
        global float *e = err + (size_t)row * classes;
        for (int j = lid; j < classes; j += size)
            e[j] = 1.0f / (1.0f + exp(-z[j])) - (j == label ? 1.0f : 0.0f);
    }
}

/* out (batch x classes) = value at each row's label, 0 elsewhere. */
kernel void onehot(int total, int classes, global const int *labels, float value,
                   global float *out) {
    GLOBAL_ID_OR_RETURN(i, total);
    const int row = i / classes;
    out[i] = i - row * classes == labels[row] ? value : 0.0f;
}

/* One work-group (a power of two): acc[off] += sum(a), acc[off + 1] += sum(b). */
kernel void accumulate2(int n, global const float *a, global const float *b, global float *acc,
                        int acc_off, local float *sa, local float *sb) {
    const int lid = (int)get_local_id(0), size = (int)get_local_size(0);
    float x = 0.0f, y = 0.0f;
    for (int i = lid; i < n; i += size) {
        x += a[i];
        y += b[i];
    }
    add_to_totals(x, y, acc, acc_off, sa, sb);
}
