/* The --arch grammar: what it accepts and how it writes it back, what it
 * refuses and the message, and the presets' architectures. */
#include "model/arch.h"
#include "test_support.h"

#include <stdio.h>
#include <string.h>

START_TEST(accepts_and_writes_back_architectures) {
    static const char *const texts[] = {
        "fc1024",
        "fc1024,fc512,fc256",
        "conv32k5,pool2",
        "conv32k5,pool2,conv64k5,pool2,fc1024",
        "conv1k1,pool2,conv4096k11,pool2,fc1,fc1048576",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        arch_spec s;
        ck_assert_msg(arch_parse(texts[i], &s) == PP_OK, "%s: %s", texts[i], pp_last_error());
        char back[PP_MAX_ARCH];
        arch_format(&s, back, sizeof back);
        ck_assert_str_eq(back, texts[i]);
    }
    arch_spec s;
    ck_assert_int_eq(arch_parse("conv32k5,pool2,conv64k3,pool2,fc100,fc10", &s), PP_OK);
    ck_assert_int_eq(s.n, 4);
    ck_assert(arch_has_conv(&s));
    ck_assert_int_eq(s.layers[1].kind, ARCH_CONV);
    ck_assert_int_eq(s.layers[1].filters, 64);
    ck_assert_int_eq(s.layers[1].kernel, 3);
    ck_assert_int_eq(s.layers[3].kind, ARCH_DENSE);
    ck_assert_int_eq(s.layers[3].units, 10);
}
END_TEST

START_TEST(refuses_malformed_architectures_naming_the_item) {
    static const struct {
        const char *text, *message;
    } bad[] = {
        {"", "--arch: '' has an empty item"},
        {"fc10,,fc10", "--arch: 'fc10,,fc10' has an empty item"},
        {"fc10,", "--arch: 'fc10,' has an empty item"},
        {"fc0", "--arch: 'fc0' is not fcN (N of 1 to 1048576 units)"},
        {"fc1048577", "--arch: 'fc1048577' is not fcN (N of 1 to 1048576 units)"},
        {"fc-3", "--arch: 'fc-3' is not fcN (N of 1 to 1048576 units)"},
        {"fc10x", "--arch: 'fc10x' is not fcN (N of 1 to 1048576 units)"},
        {"conv32", "--arch: 'conv32' is not convNkK (N of 1-4096 filters, a kernel K of 1-11)"},
        {"conv32k12,pool2",
         "--arch: 'conv32k12' is not convNkK (N of 1-4096 filters, a kernel K of 1-11)"},
        {"conv32k5", "--arch: the last conv layer needs its pool2"},
        {"conv32k5,fc10", "--arch: 'fc10' after a conv layer (expected pool2)"},
        {"pool2,fc10", "--arch: pool2 must follow a conv layer"},
        {"fc10,conv4k3,pool2", "--arch: conv layers come before fc layers ('conv4k3')"},
        {"dense10", "--arch: unknown layer 'dense10' (expected convNkK, pool2 or fcN)"},
        {"fc1,fc1,fc1,fc1,fc1,fc1,fc1,fc1,fc1,fc1", "--arch takes at most 9 conv and fc layers"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        arch_spec s;
        ck_assert_msg(arch_parse(bad[i].text, &s) == PP_ERR_ARGUMENT, "'%s' accepted", bad[i].text);
        ck_assert_str_eq(pp_last_error(), bad[i].message);
    }
    char long_text[PP_MAX_ARCH + 8];
    memset(long_text, '1', sizeof long_text - 1);
    memcpy(long_text, "fc", 2);
    long_text[sizeof long_text - 1] = '\0';
    arch_spec s;
    ck_assert_int_eq(arch_parse(long_text, &s), PP_ERR_ARGUMENT);
    ck_assert_str_eq(pp_last_error(), "--arch: longer than 127 characters");
}
END_TEST

START_TEST(checks_the_layers_fit_the_images) {
    arch_spec s;
    ck_assert_int_eq(arch_parse("conv32k5,pool2,conv64k5,pool2,fc1024", &s), PP_OK);
    ck_assert_int_eq(arch_check_input(&s, 1, 28, 28), PP_OK); /* 28 -> 24 -> 12 -> 8 -> 4 */
    ck_assert_int_eq(arch_parse("conv4k11,pool2,conv4k9,pool2", &s), PP_OK);
    ck_assert_int_eq(arch_check_input(&s, 1, 28, 28), PP_ERR_ARGUMENT); /* 28 -> 18 -> 9 -> 1 */
    ck_assert_str_eq(pp_last_error(), "conv layer 2 needs an input larger than its 9x9 kernel "
                                      "plus a 2x2 pool; it gets 9x9");
}
END_TEST

START_TEST(presets_have_the_papers_architectures) {
    pp_config c;
    arch_spec s;
    char text[PP_MAX_ARCH];
    ck_assert_int_eq(pp_config_preset(&c, PP_DATASET_MNIST, PP_MODEL_FC, PP_RULE_PEPITA), PP_OK);
    ck_assert_int_eq(arch_of_config(&c, &s), PP_OK);
    arch_format(&s, text, sizeof text);
    ck_assert_str_eq(text, "fc1024");
    c.n_hidden = 0;
    ck_assert_int_eq(arch_of_config(&c, &s), PP_OK);
    ck_assert_int_eq(s.n, 0);
    ck_assert_int_eq(pp_config_preset(&c, PP_DATASET_CIFAR10, PP_MODEL_CONV, PP_RULE_BP), PP_OK);
    ck_assert_int_eq(arch_of_config(&c, &s), PP_OK);
    arch_format(&s, text, sizeof text);
    ck_assert_str_eq(text, "conv32k5,pool2");
    /* --arch replaces it, and must agree with --model */
    snprintf(c.arch, sizeof c.arch, "conv8k3,pool2,fc16");
    ck_assert_int_eq(pp_config_validate(&c), PP_OK);
    ck_assert_int_eq(arch_of_config(&c, &s), PP_OK);
    ck_assert_int_eq(s.n, 2);
    snprintf(c.arch, sizeof c.arch, "fc16");
    ck_assert_int_eq(pp_config_validate(&c), PP_ERR_ARGUMENT);
    ck_assert_str_eq(pp_last_error(), "--arch 'fc16' has no conv layers: it needs --model fc");
}
END_TEST

static Suite *arch_suite(void) {
    Suite *s = suite_create("arch");
    TCase *t = tcase_create("grammar");
    tcase_add_test(t, accepts_and_writes_back_architectures);
    tcase_add_test(t, refuses_malformed_architectures_naming_the_item);
    tcase_add_test(t, checks_the_layers_fit_the_images);
    tcase_add_test(t, presets_have_the_papers_architectures);
    suite_add_tcase(s, t);
    return s;
}

int main(void) {
    return ts_run_suite(arch_suite());
}
