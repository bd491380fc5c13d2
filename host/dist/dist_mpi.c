/* The ranks of an MPI job. MPI_COMM_WORLD is the job; a communicator split by
 * shared memory gives the node-local rank. Errors come back as statuses
 * (MPI_ERRORS_RETURN) so the caller can report them. */
#include "dist/dist.h"
#include "runtime/error.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>

static int initialized_here; /* MPI_Init was ours, so MPI_Finalize is too */
static int rank, size = 1, local_rank;

int dist_available(void) {
    return 1;
}

static pp_status mpi_check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return PP_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) len = 0;
    text[len] = '\0';
    return pp_fail(PP_ERR_IO, "rank %d: %s failed: %s", rank, what,
                   len ? text : "unknown MPI error");
}

/* Started by mpirun (Open MPI, or a PMI launcher such as MPICH's or Slurm's)?
 * A plain run stays one process without MPI_Init's cost. */
static int launched_by_mpi(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

pp_status dist_init(int *argc, char ***argv) {
    if (!launched_by_mpi()) return PP_OK;
    int already = 0;
    PP_TRY(mpi_check(MPI_Initialized(&already), "MPI_Initialized"));
    if (!already) {
        PP_TRY(mpi_check(MPI_Init(argc, argv), "MPI_Init"));
        initialized_here = 1;
    }
    PP_TRY(mpi_check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN),
                     "MPI_Comm_set_errhandler"));
    PP_TRY(mpi_check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank"));
    PP_TRY(mpi_check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size"));
    MPI_Comm node;
    PP_TRY(mpi_check(
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node),
        "MPI_Comm_split_type"));
    pp_status st = mpi_check(MPI_Comm_rank(node, &local_rank), "MPI_Comm_rank");
    MPI_Comm_free(&node);
    return st;
}

void dist_finalize(void) {
    int finalized = 0;
    if (initialized_here && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized) MPI_Finalize();
    initialized_here = 0;
}

int dist_rank(void) {
    return rank;
}

int dist_size(void) {
    return size;
}

int dist_local_rank(void) {
    return local_rank;
}

/* MPI counts are int: large buffers go in chunks. */
static pp_status sum_in_place(void *values, size_t n, MPI_Datatype type, size_t element) {
    if (size == 1) return PP_OK;
    unsigned char *p = values;
    while (n) {
        int count = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        PP_TRY(mpi_check(MPI_Allreduce(MPI_IN_PLACE, p, count, type, MPI_SUM, MPI_COMM_WORLD),
                         "MPI_Allreduce"));
        p += (size_t)count * element;
        n -= (size_t)count;
    }
    return PP_OK;
}

pp_status dist_sum_floats(float *values, size_t n) {
    return sum_in_place(values, n, MPI_FLOAT, sizeof *values);
}

pp_status dist_sum_doubles(double *values, size_t n) {
    return sum_in_place(values, n, MPI_DOUBLE, sizeof *values);
}

pp_status dist_max_int(int *value) {
    if (size == 1) return PP_OK;
    return mpi_check(MPI_Allreduce(MPI_IN_PLACE, value, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD),
                     "MPI_Allreduce");
}

void dist_abort(int code) {
    if (size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}
