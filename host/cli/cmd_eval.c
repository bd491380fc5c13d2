/* pepita eval: the test accuracy of a checkpoint. */
#include "cli/cli.h"
#include "cli/train_options.h"

#include <stdio.h>

int cli_eval(int argc, char **argv) {
    cli_train_options o;
    pp_status st = cli_parse_train_options(argc, argv, 1, &o);
    if (st != PP_OK) return cli_report(st);
    if (o.help) {
        printf("usage: pepita eval --checkpoint FILE [--data DIR] [--device D]\n\n"
               "Prints the test accuracy of the weights in a checkpoint, on the test set of the "
               "dataset it was trained on.\n");
        return 0;
    }
    pp_dataset train_set = {0}, test_set = {0};
    pp_context *context = NULL;
    pp_trainer *trainer = NULL;
    double loss = 0, accuracy = 0;
    const pp_config *c = &o.config;
    st = pp_context_create(o.device, &context);
    if (st == PP_OK)
        st = pp_dataset_load(c->dataset, o.data_dir, c->cifar100_coarse, &train_set, &test_set);
    if (st == PP_OK) st = pp_trainer_create(context, c, &train_set, &test_set, &trainer);
    if (st == PP_OK) st = pp_trainer_load(trainer, o.checkpoint_path);
    if (st == PP_OK) st = pp_trainer_evaluate(trainer, &loss, &accuracy);
    if (st == PP_OK)
        printf("%s: %s %s %s after %d epochs: test accuracy %.4f, test loss %.4f\n",
               o.checkpoint_path, pp_rule_name(c->rule), pp_model_name(c->model),
               pp_dataset_name(c->dataset), pp_trainer_epoch(trainer), accuracy, loss);
    pp_trainer_destroy(trainer);
    pp_context_destroy(context);
    pp_dataset_free(&train_set);
    pp_dataset_free(&test_set);
    return st == PP_OK ? 0 : cli_report(st);
}
