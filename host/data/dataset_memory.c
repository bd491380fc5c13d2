/* pp_dataset_from_memory: a dataset from the caller's arrays, for data in
 * no file format pepita knows (and for the .npz loader). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pepita/pepita.h"
#include "runtime/error.h"

#define MAX_CLASSES 256 /* labels are stored as bytes */

pp_status pp_dataset_from_memory(const void *samples, pp_sample_type type, size_t n, int channels,
                                 int height, int width, const int32_t *labels, int classes,
                                 pp_dataset *out) {
    static const char fn[] = "pp_dataset_from_memory";
    if (!out) return pp_fail(PP_ERR_ARGUMENT, "%s: no dataset to fill", fn);
    memset(out, 0, sizeof *out);
    if (!samples || !labels || n == 0)
        return pp_fail(PP_ERR_ARGUMENT, "%s: no samples or no labels", fn);
    if (type != PP_SAMPLES_UINT8 && type != PP_SAMPLES_FLOAT32)
        return pp_fail(PP_ERR_ARGUMENT, "%s: unknown sample type %d", fn, (int)type);
    if (channels < 1 || height < 1 || width < 1)
        return pp_fail(PP_ERR_ARGUMENT, "%s: sample shape %dx%dx%d has an empty dimension", fn,
                       channels, height, width);
    size_t sample = (size_t)channels * (size_t)height * (size_t)width;
    if (sample > INT_MAX / 4 || n > INT32_MAX || n > SIZE_MAX / sizeof(float) / sample)
        return pp_fail(PP_ERR_ARGUMENT, "%s: %zu samples of %zu values are too many", fn, n,
                       sample);
    if (classes > MAX_CLASSES)
        return pp_fail(PP_ERR_ARGUMENT, "%s: %d classes, at most %d are supported", fn, classes,
                       MAX_CLASSES);
    int32_t largest = -1;
    for (size_t i = 0; i < n; i++) {
        int32_t l = labels[i];
        if (l < 0 || l >= (classes > 0 ? classes : MAX_CLASSES))
            return pp_fail(PP_ERR_ARGUMENT, "%s: label %d of sample %zu is out of range [0, %d)",
                           fn, (int)l, i, classes > 0 ? classes : MAX_CLASSES);
        if (l > largest) largest = l;
    }
    if (type == PP_SAMPLES_FLOAT32) {
        const float *f = samples;
        for (size_t i = 0; i < n * sample; i++)
            if (!isfinite(f[i]))
                return pp_fail(PP_ERR_ARGUMENT, "%s: value %zu of sample %zu is not finite", fn,
                               i % sample, i / sample);
    }
    size_t bytes = n * sample * (type == PP_SAMPLES_FLOAT32 ? sizeof(float) : 1);
    void *values = malloc(bytes);
    out->labels = malloc(n);
    if (!values || !out->labels) {
        free(values);
        free(out->labels);
        out->labels = NULL;
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory for %zu samples", fn, n);
    }
    memcpy(values, samples, bytes);
    for (size_t i = 0; i < n; i++)
        out->labels[i] = (uint8_t)labels[i];
    if (type == PP_SAMPLES_FLOAT32)
        out->features = values;
    else
        out->pixels = values;
    out->n = n;
    out->channels = channels;
    out->height = height;
    out->width = width;
    out->classes = classes > 0 ? classes : largest + 1;
    return PP_OK;
}
