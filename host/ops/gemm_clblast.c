/* The CLBlast path: one CLBlastSgemm per call, every status checked. */
#include "ops/gemm_internal.h"

#include <clblast_c.h>

/* CLBlast has no name function in its C API. */
static const char *clblast_status_name(CLBlastStatusCode code) {
    switch (code) {
    case CLBlastSuccess:
        return "CLBlastSuccess";
    case CLBlastOpenCLCompilerNotAvailable:
        return "CLBlastOpenCLCompilerNotAvailable";
    case CLBlastTempBufferAllocFailure:
        return "CLBlastTempBufferAllocFailure";
    case CLBlastOpenCLOutOfResources:
        return "CLBlastOpenCLOutOfResources";
    case CLBlastOpenCLOutOfHostMemory:
        return "CLBlastOpenCLOutOfHostMemory";
    case CLBlastOpenCLBuildProgramFailure:
        return "CLBlastOpenCLBuildProgramFailure";
    case CLBlastInvalidValue:
        return "CLBlastInvalidValue";
    case CLBlastInvalidCommandQueue:
        return "CLBlastInvalidCommandQueue";
    case CLBlastInvalidMemObject:
        return "CLBlastInvalidMemObject";
    case CLBlastInvalidBinary:
        return "CLBlastInvalidBinary";
    case CLBlastInvalidBuildOptions:
        return "CLBlastInvalidBuildOptions";
    case CLBlastInvalidProgram:
        return "CLBlastInvalidProgram";
    case CLBlastInvalidProgramExecutable:
        return "CLBlastInvalidProgramExecutable";
    case CLBlastInvalidKernelName:
        return "CLBlastInvalidKernelName";
    case CLBlastInvalidKernelDefinition:
        return "CLBlastInvalidKernelDefinition";
    case CLBlastInvalidKernel:
        return "CLBlastInvalidKernel";
    case CLBlastInvalidArgIndex:
        return "CLBlastInvalidArgIndex";
    case CLBlastInvalidArgValue:
        return "CLBlastInvalidArgValue";
    case CLBlastInvalidArgSize:
        return "CLBlastInvalidArgSize";
    case CLBlastInvalidKernelArgs:
        return "CLBlastInvalidKernelArgs";
    case CLBlastInvalidLocalNumDimensions:
        return "CLBlastInvalidLocalNumDimensions";
    case CLBlastInvalidLocalThreadsTotal:
        return "CLBlastInvalidLocalThreadsTotal";
    case CLBlastInvalidLocalThreadsDim:
        return "CLBlastInvalidLocalThreadsDim";
    case CLBlastInvalidGlobalOffset:
        return "CLBlastInvalidGlobalOffset";
    case CLBlastInvalidEventWaitList:
        return "CLBlastInvalidEventWaitList";
    case CLBlastInvalidEvent:
        return "CLBlastInvalidEvent";
    case CLBlastInvalidOperation:
        return "CLBlastInvalidOperation";
    case CLBlastInvalidBufferSize:
        return "CLBlastInvalidBufferSize";
    case CLBlastInvalidGlobalWorkSize:
        return "CLBlastInvalidGlobalWorkSize";
    case CLBlastNotImplemented:
        return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA:
        return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB:
        return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC:
        return "CLBlastInvalidMatrixC";
    case CLBlastInvalidVectorX:
        return "CLBlastInvalidVectorX";
    case CLBlastInvalidVectorY:
        return "CLBlastInvalidVectorY";
    case CLBlastInvalidDimension:
        return "CLBlastInvalidDimension";
    case CLBlastInvalidLeadDimA:
        return "CLBlastInvalidLeadDimA";
    case CLBlastInvalidLeadDimB:
        return "CLBlastInvalidLeadDimB";
    case CLBlastInvalidLeadDimC:
        return "CLBlastInvalidLeadDimC";
    case CLBlastInvalidIncrementX:
        return "CLBlastInvalidIncrementX";
    case CLBlastInvalidIncrementY:
        return "CLBlastInvalidIncrementY";
    case CLBlastInsufficientMemoryA:
        return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB:
        return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC:
        return "CLBlastInsufficientMemoryC";
    case CLBlastInsufficientMemoryX:
        return "CLBlastInsufficientMemoryX";
    case CLBlastInsufficientMemoryY:
        return "CLBlastInsufficientMemoryY";
    case CLBlastInsufficientMemoryTemp:
        return "CLBlastInsufficientMemoryTemp";
    case CLBlastInvalidBatchCount:
        return "CLBlastInvalidBatchCount";
    case CLBlastInvalidOverrideKernel:
        return "CLBlastInvalidOverrideKernel";
    case CLBlastMissingOverrideParameter:
        return "CLBlastMissingOverrideParameter";
    case CLBlastInvalidLocalMemUsage:
        return "CLBlastInvalidLocalMemUsage";
    case CLBlastInvalidVectorScalar:
        return "CLBlastInvalidVectorScalar";
    case CLBlastInsufficientMemoryScalar:
        return "CLBlastInsufficientMemoryScalar";
    case CLBlastDatabaseError:
        return "CLBlastDatabaseError";
    case CLBlastUnknownError:
        return "CLBlastUnknownError";
    case CLBlastUnexpectedError:
        return "CLBlastUnexpectedError";
    default:
        return "unknown CLBlast status";
    }
}

static CLBlastTranspose clblast_trans(op_trans t) {
    return t == OP_TRANS ? CLBlastTransposeYes : CLBlastTransposeNo;
}

pp_status gemm_clblast(rt_context *ctx, const gemm_call *g) {
    cl_event *event = rt_profile_event_slot(ctx);
    CLBlastStatusCode status =
        CLBlastSgemm(CLBlastLayoutRowMajor, clblast_trans(g->ta), clblast_trans(g->tb), g->m, g->n,
                     g->k, g->alpha, g->a->mem, g->a_off, g->lda, g->b->mem, g->b_off, g->ldb,
                     g->beta, g->c->mem, g->c_off, g->ldc, &ctx->queue, event);
    if (status != CLBlastSuccess)
        return pp_fail(PP_ERR_CLBLAST, "CLBlastSgemm %c%c m=%zu n=%zu k=%zu failed: %s (%d)",
                       g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->m, g->n, g->k,
                       clblast_status_name(status), (int)status);
    if (event) return rt_profile_record(ctx, "clblast_sgemm", *event);
    return PP_OK;
}
