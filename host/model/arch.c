/* The --arch grammar (see arch.h) and the presets' architectures. */
#include "model/arch.h"

#include "runtime/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The positive number at *p (advanced past it), at most max; 0 if none. */
static long number_at(const char **p, long max) {
    if (**p < '0' || **p > '9') return 0;
    char *end = NULL;
    errno = 0;
    long v = strtol(*p, &end, 10);
    *p = end;
    return errno || v > max ? 0 : v;
}

static pp_status parse_item(const char *item, arch_spec *s, int *pool_due) {
    const char *p = item;
    if (*pool_due) {
        if (strcmp(item, "pool2"))
            return pp_fail(PP_ERR_ARGUMENT, "--arch: '%s' after a conv layer (expected pool2)",
                           item);
        *pool_due = 0;
        return PP_OK;
    }
    if (!strcmp(item, "pool2"))
        return pp_fail(PP_ERR_ARGUMENT, "--arch: pool2 must follow a conv layer");
    if (s->n == ARCH_MAX_LAYERS)
        return pp_fail(PP_ERR_ARGUMENT, "--arch takes at most %d conv and fc layers",
                       ARCH_MAX_LAYERS);
    arch_layer *l = &s->layers[s->n];
    if (!strncmp(p, "conv", 4)) {
        p += 4;
        l->kind = ARCH_CONV;
        l->filters = (int)number_at(&p, 4096);
        if (*p == 'k') p++, l->kernel = (int)number_at(&p, 11);
        if (!l->filters || !l->kernel || *p)
            return pp_fail(PP_ERR_ARGUMENT,
                           "--arch: '%s' is not convNkK (N of 1-4096 filters, a kernel K of 1-11)",
                           item);
        if (s->n && s->layers[s->n - 1].kind == ARCH_DENSE)
            return pp_fail(PP_ERR_ARGUMENT, "--arch: conv layers come before fc layers ('%s')",
                           item);
        *pool_due = 1;
    } else if (!strncmp(p, "fc", 2)) {
        p += 2;
        l->kind = ARCH_DENSE;
        l->units = (int)number_at(&p, 1 << 20);
        if (!l->units || *p)
            return pp_fail(PP_ERR_ARGUMENT, "--arch: '%s' is not fcN (N of 1 to %d units)", item,
                           1 << 20);
    } else {
        return pp_fail(PP_ERR_ARGUMENT,
                       "--arch: unknown layer '%s' (expected convNkK, pool2 or fcN)", item);
    }
    s->n++;
    return PP_OK;
}

pp_status arch_parse(const char *text, arch_spec *out) {
    memset(out, 0, sizeof *out);
    char buf[PP_MAX_ARCH];
    if (strlen(text) >= sizeof buf)
        return pp_fail(PP_ERR_ARGUMENT, "--arch: longer than %d characters", PP_MAX_ARCH - 1);
    if (!*text || text[0] == ',' || text[strlen(text) - 1] == ',' || strstr(text, ",,"))
        return pp_fail(PP_ERR_ARGUMENT, "--arch: '%s' has an empty item", text);
    snprintf(buf, sizeof buf, "%s", text);
    int pool_due = 0;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save))
        PP_TRY(parse_item(item, out, &pool_due));
    if (pool_due) return pp_fail(PP_ERR_ARGUMENT, "--arch: the last conv layer needs its pool2");
    return PP_OK;
}

pp_status arch_of_config(const pp_config *c, arch_spec *out) {
    if (c->arch[0]) return arch_parse(c->arch, out);
    memset(out, 0, sizeof *out);
    if (c->model == PP_MODEL_CONV) {
        out->n = 1;
        out->layers[0] =
            (arch_layer){.kind = ARCH_CONV, .filters = c->conv_filters, .kernel = c->conv_kernel};
        return PP_OK;
    }
    if (c->n_hidden < 0 || c->n_hidden > PP_MAX_HIDDEN)
        return pp_fail(PP_ERR_ARGUMENT, "--hidden takes 0 to %d layers, got %d", PP_MAX_HIDDEN,
                       c->n_hidden);
    out->n = c->n_hidden;
    for (int i = 0; i < c->n_hidden; i++)
        out->layers[i] = (arch_layer){.kind = ARCH_DENSE, .units = c->hidden[i]};
    return PP_OK;
}

int arch_has_conv(const arch_spec *s) {
    for (int i = 0; i < s->n; i++)
        if (s->layers[i].kind == ARCH_CONV) return 1;
    return 0;
}

void arch_format(const arch_spec *s, char *out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < s->n && used < size; i++) {
        const arch_layer *l = &s->layers[i];
        int n = l->kind == ARCH_CONV
                    ? snprintf(out + used, size - used, "%sconv%dk%d,pool2", i ? "," : "",
                               l->filters, l->kernel)
                    : snprintf(out + used, size - used, "%sfc%d", i ? "," : "", l->units);
        if (n < 0) break;
        used += (size_t)n;
    }
}

pp_status arch_check_input(const arch_spec *s, int channels, int height, int width) {
    (void)channels;
    int h = height, w = width;
    for (int i = 0; i < s->n && s->layers[i].kind == ARCH_CONV; i++) {
        int k = s->layers[i].kernel;
        if (h - k + 1 < 2 || w - k + 1 < 2)
            return pp_fail(PP_ERR_ARGUMENT,
                           "conv layer %d needs an input larger than its %dx%d kernel plus a 2x2 "
                           "pool; it gets %dx%d",
                           i + 1, k, k, h, w);
        h = (h - k + 1) / 2;
        w = (w - k + 1) / 2;
    }
    return PP_OK;
}
