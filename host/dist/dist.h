/* Data-parallel training across processes: the ranks of an MPI job (mpirun),
 * or one process when the build has no MPI (dist_single.c) or the program was
 * not started by mpirun. No OpenCL here: device buffers are staged through
 * the host by the caller (the trainer), since MPI cannot address cl_mem. */
#ifndef PEPITA_DIST_DIST_H
#define PEPITA_DIST_DIST_H

#include <stddef.h>

#include "pepita/pepita.h"

/* Whether this build can run across processes (built with MPI). */
int dist_available(void);
/* Joins the job (MPI_Init) when built with MPI and started by mpirun; one
 * process otherwise. Call once, before anything else, and dist_finalize
 * before the process ends. */
pp_status dist_init(int *argc, char ***argv);
void dist_finalize(void);

/* This process's rank, the number of ranks, and its rank among the ranks of
 * its node (chooses its device). 0, 1, 0 without MPI. */
int dist_rank(void);
int dist_size(void);
int dist_local_rank(void);

/* In-place sums over every rank (every rank must call, with the same n). */
pp_status dist_sum_floats(float *values, size_t n);
pp_status dist_sum_doubles(double *values, size_t n);
/* The largest value of *value over every rank (a stop flag, a failure). */
pp_status dist_max_int(int *value);

/* Ends every rank of the job with exit code `code`: what a rank does when it
 * fails alone, so the others do not wait for it forever. Only the CLI calls
 * it; returns (doing nothing) when there is a single rank. */
void dist_abort(int code);

#endif
