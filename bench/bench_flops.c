/* FLOPs of one training step as pepita-cl computes it (host/rules/): every
 * GEMM and convolution counted as 2 x multiply-adds; element-wise work is
 * left out (it is memory-bound and small next to the products). PEPITA
 * against BP on each paper model, per DESIGN.md's algebra: the exact
 * first-layer shortcuts make a PEPITA step about one BP step (dense) or
 * 1.2 of one (conv: the rank-classes update of the conv output remains). */
#include "bench.h"

#include <math.h>

/* 2 m n k */
static double mm(double m, double n, double k) {
    return 2.0 * m * n * k;
}

double flops_step(const pp_config *c, int in_c, int in_h, int in_w, int classes, size_t batch) {
    double b = (double)batch, d0 = (double)in_c * in_h * in_w, cl = classes;
    double total = 0.0;
    int pepita = c->rule == PP_RULE_PEPITA;
    if (c->model == PP_MODEL_CONV) {
        int k = c->conv_kernel, oh = in_h - k + 1, ow = in_w - k + 1;
        double positions = (double)oh * ow, fan_in = (double)in_c * k * k;
        double conv = mm(b * positions, c->conv_filters, fan_in);
        double f = (double)c->conv_filters * (oh / 2) * (ow / 2);
        double units = (double)c->conv_filters * positions; /* before pooling */
        double dense = mm(b, cl, f);
        total += conv + dense; /* standard pass */
        total += conv;         /* weight gradient of the conv layer */
        total += dense;        /* the dense layer's update */
        if (pepita) {
            total += mm(b, d0, cl); /* x' = x + e F^T */
            if (c->naive_modulated_pass)
                total += conv; /* a second convolution of the batch */
            else /* conv(F^T) of `classes` images (F^T is derived once per F), z + e conv(F^T) */
                total += conv * cl / b + mm(b, units, cl);
            if (c->output_error == PP_OUTPUT_ERROR_MODULATED) total += dense;
        } else {
            total += mm(b, f, cl); /* the dense layer's input gradient */
        }
        return total;
    }
    double dims[PP_MAX_HIDDEN + 2];
    int n = 0;
    dims[n++] = d0;
    for (int i = 0; i < c->n_hidden; i++)
        dims[n++] = c->hidden[i];
    dims[n++] = cl;
    int layers = n - 1;
    for (int l = 1; l <= layers; l++)
        total += 2.0 * mm(b, dims[l], dims[l - 1]); /* forward and weight update */
    if (pepita) {
        total += mm(b, d0, cl); /* x' = x + e F^T */
        if (c->naive_modulated_pass)
            total += mm(b, dims[1], d0);
        else
            total += mm(dims[1], cl, d0) + mm(b, dims[1], cl); /* W1 F, then z1 + e (W1 F)^T */
        for (int l = 2; l < layers; l++)
            total += mm(b, dims[l], dims[l - 1]); /* hidden layers of the modulated pass */
        if (c->output_error == PP_OUTPUT_ERROR_MODULATED)
            total += mm(b, dims[layers], dims[layers - 1]);
    } else {
        for (int l = 2; l <= layers; l++)
            total += mm(b, dims[l - 1], dims[l]); /* input gradients (none for layer 1) */
    }
    return total;
}

typedef struct flops_case {
    const char *name;
    pp_dataset_kind dataset;
    pp_model_kind model;
    int in_c, in_h, in_w;
} flops_case;

static const flops_case cases[] = {
    {"fc mnist", PP_DATASET_MNIST, PP_MODEL_FC, 1, 28, 28},
    {"fc cifar10", PP_DATASET_CIFAR10, PP_MODEL_FC, 3, 32, 32},
    {"conv mnist", PP_DATASET_MNIST, PP_MODEL_CONV, 1, 28, 28},
    {"conv cifar10", PP_DATASET_CIFAR10, PP_MODEL_CONV, 3, 32, 32},
};

void bench_flops(const bench_options *o, bench_json *j) {
    (void)o;
    printf("\n### FLOPs per training step (paper presets; target: PEPITA <= about 1.1x BP)\n\n"
           "| model | batch | PEPITA MFLOP | BP MFLOP | PEPITA / BP | naive modulated pass / BP "
           "|\n|---|---|---|---|---|---|\n");
    bj_array_begin(j, "flops");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const flops_case *fc = &cases[i];
        pp_config pep, bp;
        if (pp_config_preset(&pep, fc->dataset, fc->model, PP_RULE_PEPITA) != PP_OK ||
            pp_config_preset(&bp, fc->dataset, fc->model, PP_RULE_BP) != PP_OK)
            continue;
        pp_config naive = pep;
        naive.naive_modulated_pass = 1;
        double fp = flops_step(&pep, fc->in_c, fc->in_h, fc->in_w, 10, (size_t)pep.batch);
        double fb = flops_step(&bp, fc->in_c, fc->in_h, fc->in_w, 10, (size_t)bp.batch);
        double fn = flops_step(&naive, fc->in_c, fc->in_h, fc->in_w, 10, (size_t)pep.batch);
        printf("| %s | %d | %.1f | %.1f | %.3f | %.3f |\n", fc->name, pep.batch, fp * 1e-6,
               fb * 1e-6, fp / fb, fn / fb);
        bj_object_begin(j, NULL);
        bj_string(j, "model", fc->name);
        bj_int(j, "batch", pep.batch);
        bj_number(j, "pepita_flops", fp);
        bj_number(j, "bp_flops", fb);
        bj_number(j, "ratio_pepita_to_bp", fp / fb);
        bj_number(j, "ratio_naive_pepita_to_bp", fn / fb);
        bj_object_end(j);
    }
    bj_array_end(j);
}
