/* The version and source commit, for `pepita --version` and run reports, so a
 * result can be traced to the code that produced it. */
#include "pepita/pepita.h"
#include "source_commit.h" /* generated at build time by cmake/source_commit.cmake */

const char *pp_version(void) {
    return PEPITA_VERSION;
}

const char *pp_source_commit(void) {
    return PEPITA_SOURCE_COMMIT;
}
