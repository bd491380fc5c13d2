/* Atomic writes: content replaced whole, and temporaries of killed writers cleared. */
#include "test_support.h"
#include "util/atomic_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

START_TEST(replaces_content_and_clears_dead_writers_temporaries) {
    char *dir = ts_make_temp_dir("atomic");
    char path[4200], dead[4300], alive[4300];
    snprintf(path, sizeof path, "%s/state.bin", dir);
    /* a pid that certainly belongs to no process: a child that has been reaped */
    pid_t child = fork();
    if (child == 0) _exit(0);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    snprintf(dead, sizeof dead, "%s.tmp.%ld", path, (long)child);
    snprintf(alive, sizeof alive, "%s.tmp.%ld", path, (long)getppid());
    free(ts_write_file(dir, strrchr(dead, '/') + 1, "partial", 7));
    free(ts_write_file(dir, strrchr(alive, '/') + 1, "in progress", 11));

    ck_assert_int_eq(pp_write_file_atomic(path, "first", 5), PP_OK);
    ck_assert_int_eq(pp_write_file_atomic(path, "second!", 7), PP_OK);
    size_t size = 0;
    char *text = ts_read_file(path, &size);
    ck_assert_uint_eq(size, 7);
    ck_assert(!memcmp(text, "second!", 7));
    free(text);
    ck_assert_int_ne(access(dead, F_OK), 0);  /* its writer is gone: removed */
    ck_assert_int_eq(access(alive, F_OK), 0); /* its writer may still be writing: kept */

    /* an unwritable destination fails clearly and leaves the old file */
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x", dir);
    ck_assert_int_eq(pp_write_file_atomic(missing, "x", 1), PP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(pp_last_error(), missing));
    ts_remove_tree(dir);
    free(dir);
}
END_TEST

int main(void) {
    Suite *suite = suite_create("atomic_file");
    TCase *tc = tcase_create("atomic_file");
    tcase_add_test(tc, replaces_content_and_clears_dead_writers_temporaries);
    suite_add_tcase(suite, tc);
    return ts_run_suite(suite);
}
