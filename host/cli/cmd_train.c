/* pepita train: load, train epoch by epoch with progress, log, checkpoint;
 * Ctrl-C finishes the batch, saves, and exits 130. */
#include "cli/cli.h"
#include "cli/run_report.h"
#include "cli/train_options.h"
#include "dist/dist.h"
#include "rules/rule.h"
#include "runtime/error.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int signo) {
    (void)signo;
    interrupted = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C stops at once */
}

typedef struct progress_state {
    int tty;
    int quiet;
    int epoch, epochs;
    size_t batch;
} progress_state;

static void format_duration(double seconds, char *out, size_t size) {
    long s = seconds > 0 && seconds < 1e9 ? (long)(seconds + 0.5) : 0;
    if (s >= 3600)
        snprintf(out, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, size, "%ld:%02ld", s / 60, s % 60);
}

static int on_progress(void *user, size_t done, size_t total, double loss, double accuracy,
                       double seconds) {
    progress_state *p = user;
    if (p->tty && !p->quiet) {
        enum { WIDTH = 24 };
        int filled = (int)(WIDTH * done / total);
        char bar[WIDTH + 1], eta[32];
        for (int i = 0; i < WIDTH; i++)
            bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
        bar[WIDTH] = '\0';
        format_duration(seconds / (double)done * (double)(total - done), eta, sizeof eta);
        double rate = seconds > 0 ? (double)(done * p->batch) / seconds : 0;
        fprintf(stderr, "\repoch %d/%d [%s] %zu/%zu %.0f samples/s loss %.4f acc %.2f%% ETA %s ",
                p->epoch, p->epochs, bar, done, total, rate, loss, 100 * accuracy, eta);
        fflush(stderr);
    }
    return interrupted;
}

/* In a data-parallel run only rank 0 prints progress and writes files. */
static int is_lead(void) {
    return dist_rank() == 0;
}

static pp_status write_reports(const cli_train_options *o, const run_report *report) {
    if (!is_lead()) return PP_OK;
    if (o->log_path) PP_TRY(run_report_write_csv(report, o->log_path));
    if (o->json_path) PP_TRY(run_report_write_json(report, o->json_path));
    return PP_OK;
}

static pp_status save(const cli_train_options *o, const pp_trainer *trainer) {
    return o->save_path && is_lead() ? pp_trainer_save(trainer, o->save_path) : PP_OK;
}

/* This rank's device: from a comma-separated list (0:0,0:1) the one at its
 * node-local rank, cycling; else the node-local rank modulo the devices that
 * match the selector. One process takes the first. */
static pp_status rank_device(const char *selector, char *out, size_t size) {
    int nth = dist_local_rank();
    if (selector && strchr(selector, ',')) {
        size_t count = 1;
        for (const char *p = selector; *p; p++)
            count += *p == ',';
        const char *item = selector;
        for (size_t k = (size_t)nth % count; k; k--)
            item = strchr(item, ',') + 1;
        size_t len = strcspn(item, ",");
        if (!len) return pp_fail(PP_ERR_ARGUMENT, "--device '%s' has an empty entry", selector);
        snprintf(out, size, "%.*s", (int)len, item);
        return PP_OK;
    }
    if (dist_size() == 1) {
        snprintf(out, size, "%s", selector ? selector : "");
        return PP_OK;
    }
    return pp_device_for_rank(selector, nth, out, size);
}

static void print_epoch(const pp_epoch_stats *s, int epochs) {
    printf("epoch %d/%d  lr %g  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  %.1f s  "
           "%.0f samples/s\n",
           s->epoch, epochs, (double)s->lr, s->train_loss, 100 * s->train_accuracy, s->test_loss,
           100 * s->test_accuracy, s->seconds, s->samples_per_second);
    if (s->exchange_seconds > 0) /* data-parallel: what summing the updates cost */
        printf("  summing updates across ranks %.2f s (%.0f%%), of which MPI_Allreduce %.2f s\n",
               s->exchange_seconds, 100 * s->exchange_seconds / s->seconds, s->allreduce_seconds);
    fflush(stdout);
}

/* With --resume, the epochs before the checkpoint come back from the earlier
 * --json file, so a resumed run's report covers the whole run. */
static void restore_report(const cli_train_options *o, run_report *report, int epoch) {
    if (access(o->json_path, F_OK) != 0) return;
    run_data earlier;
    pp_status st = run_json_load(o->json_path, &earlier);
    if (st == PP_OK) {
        st = run_report_restore(report, &earlier, epoch);
        run_json_free(&earlier);
    }
    if (st != PP_OK) {
        fprintf(stderr,
                "warning: not continuing the report in %s (%s); it will list the epochs "
                "from %d on\n",
                o->json_path, pp_last_error(), epoch + 1);
        report->count = 0;
        report->n_initial_norms = 0;
    }
}

static pp_status train(const cli_train_options *o, int *exit_code) {
    const pp_config *c = &o->config;
    pp_dataset train_set = {0}, test_set = {0};
    pp_context *context = NULL;
    pp_trainer *trainer = NULL;
    run_report report = {.config = *c};
    progress_state progress = {.tty = isatty(STDERR_FILENO),
                               .quiet = o->quiet,
                               .epochs = c->epochs,
                               .batch = (size_t)c->batch};
    pp_status st;
    char device[256];
    int lead = is_lead();
    if (!lead) progress.quiet = 1;

    PP_TRY_GOTO(st, rank_device(o->device, device, sizeof device), done);
    PP_TRY_GOTO(st, pp_context_create(device, &context), done);
    snprintf(report.device, sizeof report.device, "%s", pp_context_device(context)->name);
    PP_TRY_GOTO(st,
                pp_dataset_load(c->dataset, o->data_dir, c->cifar100_coarse, &train_set, &test_set),
                done);
    report.classes = train_set.classes;
    PP_TRY_GOTO(st, pp_trainer_create(context, c, &train_set, &test_set, &trainer), done);
    if (o->resume_path) PP_TRY_GOTO(st, pp_trainer_resume(trainer, o->resume_path), done);
    if (o->resume_path && o->json_path)
        restore_report(o, &report, pp_trainer_epoch(trainer));
    else if (c->analysis && pp_trainer_epoch(trainer) == 0)
        PP_TRY_GOTO(st, run_report_initial_analysis(&report, trainer), done);
    /* the device holds its own copy now */
    pp_dataset_free(&train_set);
    pp_dataset_free(&test_set);
    if (!o->quiet && lead) {
        char model[PP_MAX_ARCH + 32] = "fully connected";
        if (c->arch[0])
            snprintf(model, sizeof model, "%s,output", c->arch);
        else if (c->model == PP_MODEL_CONV)
            snprintf(model, sizeof model, "conv 5x5-%s-maxpool-FC",
                     net_activation_name(rule_descriptor_of(c->rule)->hidden_act));
        printf("training %s on %s (%s model, %s) on %s: %d epochs from epoch %d, batch %d, lr "
               "%g\n",
               pp_rule_name(c->rule), pp_dataset_name(c->dataset), pp_model_name(c->model), model,
               report.device, c->epochs, pp_trainer_epoch(trainer) + 1, c->batch, (double)c->lr);
        if (dist_size() > 1)
            printf("data-parallel over %d MPI ranks: %d samples of each batch per rank\n",
                   dist_size(), (c->batch + dist_size() - 1) / dist_size());
    }

    signal(SIGINT, on_sigint);
    while (pp_trainer_epoch(trainer) < c->epochs) {
        pp_epoch_stats stats;
        progress.epoch = pp_trainer_epoch(trainer) + 1;
        st = pp_trainer_run_epoch(trainer, on_progress, &progress, &stats);
        if (progress.tty && !progress.quiet) fprintf(stderr, "\r\033[K");
        if (st == PP_ERR_INTERRUPTED) {
            pp_status saved = save(o, trainer);
            if (saved != PP_OK) {
                st = saved;
                goto done;
            }
            if (lead)
                fprintf(stderr, "interrupted in epoch %d%s%s\n", progress.epoch,
                        o->save_path ? "; state saved to " : "", o->save_path ? o->save_path : "");
            *exit_code = 130;
            st = PP_OK;
            goto done;
        }
        if (st != PP_OK) goto done;
        if (!o->quiet && lead) print_epoch(&stats, c->epochs);
        PP_TRY_GOTO(st, run_report_add(&report, &stats), done);
        if (c->analysis) PP_TRY_GOTO(st, run_report_histograms(&report, trainer), done);
        PP_TRY_GOTO(st, write_reports(o, &report), done);
        PP_TRY_GOTO(st, save(o, trainer), done);
    }
    if (report.count && o->quiet && lead)
        printf("final test accuracy %.4f\n", report.epochs[report.count - 1].test_accuracy);
done:
    signal(SIGINT, SIG_DFL);
    pp_trainer_destroy(trainer);
    pp_context_destroy(context);
    pp_dataset_free(&train_set);
    pp_dataset_free(&test_set);
    run_report_free(&report);
    return st;
}

/* Every rank parses the same command line, so a bad option fails on all of
 * them alike: rank 0 reports it. A failure during training may be one rank's
 * alone (its device, its copy of a file): it names the rank and ends the
 * whole job, so no rank waits for it. */
static int train_command(int argc, char **argv) {
    cli_train_options o;
    pp_status st = cli_parse_train_options(argc, argv, 0, &o);
    if (st != PP_OK) return is_lead() ? cli_report(st) : pp_status_exit_code(st);
    if (o.help) {
        if (is_lead()) cli_print_train_help(stdout, &o);
        return 0;
    }
    /* a file-size limit must give an error from write(), not kill the run */
    signal(SIGXFSZ, SIG_IGN);
    int exit_code = 0;
    st = train(&o, &exit_code);
    if (st == PP_OK) return exit_code;
    if (dist_size() == 1) return cli_report(st);
    fprintf(stderr, "error: rank %d of %d: %s\n", dist_rank(), dist_size(), pp_last_error());
    fflush(stderr);
    dist_abort(pp_status_exit_code(st));
    return pp_status_exit_code(st);
}

int cli_train(int argc, char **argv) {
    pp_status st = dist_init(&argc, &argv);
    if (st != PP_OK) return cli_report(st);
    int code = train_command(argc, argv);
    dist_finalize();
    return code;
}
