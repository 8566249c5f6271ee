/* k2k_nogpu.c - the GPU section of k2k_bench in a build without one (k2k.h): says so, and why. */
#include "k2k.h"

#ifndef RK_K2K_NOGPU_REASON
#define RK_K2K_NOGPU_REASON "this build has no GPU K2K section"
#endif

int k2k_bench_gpu(FILE *out, int quick)
{
    (void)quick;
    fprintf(out, "\nGPU K2K: not run (%s)\n", RK_K2K_NOGPU_REASON);
    return 0;
}
