/* Batch assembly from the device-resident uint8 dataset: one work-item per
 * output value. An index outside [0, samples) yields a zero row and label -1
 * (the loss then turns NaN) instead of reading out of bounds. */
kernel void gather_batch(int total, int sample_size, int samples, global const uchar *data,
                         global const uchar *labels, global const int *idx, int idx_off,
                         float scale, global float *x, global int *y) {
    GLOBAL_ID_OR_RETURN(i, total);
    const int row = i / sample_size;
    const int col = i - row * sample_size;
    const int s = idx[idx_off + row];
    const int valid = s >= 0 && s < samples;
    x[i] = valid ? (float)data[(size_t)s * sample_size + col] * scale : 0.0f;
    if (col == 0) y[row] = valid ? (int)labels[s] : -1;
}
