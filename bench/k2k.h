/* k2k.h - the K2K benchmark's parts (bench/k2k.c): the CPU sections live in k2k.c; the GPU section is a
 * separate translation unit, bench/k2k_gpu.cu when the CUDA backend is built, else bench/k2k_nogpu.c,
 * which says that it did not run and why.
 */
#ifndef RK_BENCH_K2K_H
#define RK_BENCH_K2K_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Runs the GPU K2K section after the CPU sections, printing to `out`; quick = 1 for --quick counts.
 * Returns 0 when it ran and every message checked out (or when it did not run and said why on `out`);
 * 77 when it was skipped for lack of a usable GPU; any other value is a failure (k2k_bench exits 1).
 */
int k2k_bench_gpu(FILE *out, int quick);

/**
 * Adds one figure to the JSON report (--json FILE; a no-op without it): `section` and `name` say what
 * was timed ("gpu", "k2k ping-pong p50"), `value` in `unit` ("ns", "msg/s", "lookups/s", "ratio"), `n`
 * the messages, round trips or lookups behind it. Copies the strings. Any section may call it.
 */
void k2k_bench_record(const char *section, const char *name, double value, const char *unit, uint64_t n);

#ifdef __cplusplus
}
#endif

#endif /* RK_BENCH_K2K_H */
