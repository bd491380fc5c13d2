/* libFuzzer target: the checkpoint reader (host/train/checkpoint.c) on
 * memory: checkpoint_parse_config, then checkpoint_restore into a trainer
 * without a device (fake_trainer.c, tensors checked by rt_stubs.c). Each
 * input is tried as it is (mostly stopped by the CRC) and with its last four
 * bytes replaced by the right CRC-32, so mutations reach the fields behind
 * the checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fake_trainer.h"
#include "fuzz_check.h"
#include "train/checkpoint_parse.h"

static void try_checkpoint(const uint8_t *data, size_t size) {
    pp_config config;
    int epoch = 0;
    if (checkpoint_parse_config(data, size, "fuzz.ckpt", &config, &epoch) == PP_OK) {
        /* what the CLI does next with a checkpoint's configuration */
        if (pp_config_validate(&config) == PP_OK) {
            CHECK(config.batch >= 1 && config.epochs >= 1);
            CHECK(config.n_decay >= 0 && config.n_decay <= PP_MAX_DECAY);
        }
        (void)pp_dataset_name(config.dataset);
        (void)pp_model_name(config.model);
        (void)pp_rule_name(config.rule);
    }
    fake_trainer f, before;
    if (fake_trainer_init(&f, 1) != 0) abort();
    before = f;
    pp_status st = checkpoint_restore(&f.trainer, data, size, "fuzz.ckpt");
    if (st != PP_OK) {
        /* a rejected checkpoint leaves the trainer as it was */
        CHECK(memcmp(f.storage, before.storage, sizeof f.storage) == 0);
        CHECK(f.trainer.epoch == before.trainer.epoch);
        CHECK(f.trainer.next_batch == before.trainer.next_batch);
        CHECK(pp_last_error()[0] != '\0');
    } else {
        CHECK(f.trainer.next_batch <= f.trainer.train.n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    try_checkpoint(copy, size);
    if (size >= 4) {
        uint32_t crc = (uint32_t)crc32(0L, copy, (uInt)(size - 4));
        memcpy(copy + size - 4, &crc, 4); /* host order, as the writer stores it */
        try_checkpoint(copy, size);
    }
    free(copy);
    return 0;
}
