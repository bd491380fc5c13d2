/* The OpenCL sources of cl/, embedded at build time (cmake/embed_kernels.cmake). */
#ifndef PEPITA_RUNTIME_EMBEDDED_KERNELS_H
#define PEPITA_RUNTIME_EMBEDDED_KERNELS_H

typedef struct rt_embedded_kernel {
    const char *name;   /* file name without .cl, e.g. "gemm" */
    const char *source; /* NUL-terminated */
} rt_embedded_kernel;

/* Terminated by an entry whose name is NULL. */
extern const rt_embedded_kernel rt_embedded_kernels[];

/* The source of cl/<name>.cl, or NULL. */
const char *rt_embedded_source(const char *name);

#endif
