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

/* err = softmax(z) - onehot(label), loss = logsumexp(z) - z[label] with the
 * row maximum subtracted first so nothing overflows. An out-of-range label
 * gives a NaN loss (the trainer's NaN check reports it). */
kernel void softmax_error(int batch, int classes, global const float *logits,
                          global const int *labels, global float *err, global float *loss,
                          global float *correct, int outputs) {
    GLOBAL_ID_OR_RETURN(row, batch);
    global const float *z = logits + (size_t)row * classes;
    const int label = labels[row];
    const int valid = label >= 0 && label < classes;
    const int best = row_argmax(z, classes);
    const float m = z[best];
    float sum = 0.0f;
    for (int j = 0; j < classes; j++)
        sum += exp(z[j] - m);
    if (outputs & OUT_LOSS) loss[row] = valid ? (m - z[label]) + log(sum) : NAN;
    if (outputs & OUT_CORRECT) correct[row] = best == label ? 1.0f : 0.0f;
    if (outputs & OUT_ERR) {
        global float *e = err + (size_t)row * classes;
        const float inv = 1.0f / sum;
        for (int j = 0; j < classes; j++)
            e[j] = exp(z[j] - m) * inv - (j == label ? 1.0f : 0.0f);
    }
}

/* err = sigmoid(z) - onehot(label); loss = sum over classes of the binary
 * cross-entropy in its stable form max(z,0) - z t + log(1 + exp(-|z|)). */
kernel void sigmoid_error(int batch, int classes, global const float *logits,
                          global const int *labels, global float *err, global float *loss,
                          global float *correct, int outputs) {
    GLOBAL_ID_OR_RETURN(row, batch);
    global const float *z = logits + (size_t)row * classes;
    const int label = labels[row];
    const int valid = label >= 0 && label < classes;
    if (outputs & OUT_LOSS) {
        float sum = 0.0f;
        for (int j = 0; j < classes; j++) {
            const float zj = z[j];
            sum += fmax(zj, 0.0f) - (j == label ? zj : 0.0f) + log1p(exp(-fabs(zj)));
        }
        loss[row] = valid ? sum : NAN;
    }
    if (outputs & OUT_CORRECT) correct[row] = row_argmax(z, classes) == label ? 1.0f : 0.0f;
    if (outputs & OUT_ERR) {
        global float *e = err + (size_t)row * classes;
        for (int j = 0; j < classes; j++)
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
