/* cuda_nvrtc_test.c - every .rk kernel the compute tests and the benchmark run (tests/compute/kernels,
 * bench/kernels) emitted as CUDA C and built by NVRTC the way the CUDA backend builds it
 * (rk__cuda_compile, cuda_compute.c), for the architectures of the GPUs we run on. No GPU is needed, so CI
 * catches generated code that NVRTC rejects; exit 77 (skipped) when NVRTC is not installed.
 *
 *   cuda_nvrtc_test DIR...
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"
#include "codegen/checker.h"
#include "codegen/parser.h"
#include "core/compute_internal.h"
#include "ringkernel/ringkernel.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        (buf = malloc((size_t)n + 1)) == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* Builds one file for compute capability major.minor; returns 0, 77 (no NVRTC) or 1. With expect_fail,
 * success is failing with that code (and RK_EBACKEND must leave NVRTC's log in opts->log). */
static int build_one(const char *path, int major, int minor, int want_ptx, int expect_fail)
{
    static char diag[1 << 16], log[1 << 16];
    size_t len, code_len = 0;
    char *src = slurp(path, &len), arch[32];
    rk__ast ast;
    rk__ir_module mod;
    rk__diags d;
    void *code = NULL;
    int rc, ptx = 0, result = 1;

    memset(&ast, 0, sizeof ast);
    memset(&mod, 0, sizeof mod);
    rk__diag_init(&d, diag, sizeof diag);
    if (rk__parse(&ast, path, src, len, &d, 0) != 0 || d.errors > 0 ||
        rk__check(&ast, RK__TGT_BIT(RK_TGT_CUDA), &d, &mod, 0) != 0 || d.errors > 0) {
        fprintf(stderr, "%s: does not check for cuda:\n%s\n", path, diag);
        goto out;
    }
    {
        rk__build_req req = { .ir = &mod, .name = path, .source = src, .len = len, .log = log,
                              .log_cap = sizeof log };
        rc = rk__cuda_compile(&req, major, minor, arch, sizeof arch, &ptx, &code, &code_len);
    }
    if (rc == RK_ENODEV && expect_fail == 0) {
        printf("skipped: %s\n", rk_last_error());
        result = 77;
        goto out;
    }
    if (rc != 0) {
        if (expect_fail != 0 && rc == expect_fail) {
            printf("ok %s for cc %d.%d: %s as expected: %s\n", path, major, minor, rk_err_name(rc), rk_last_error());
            if (rc == RK_EBACKEND && strstr(log, "error") == NULL) {
                fprintf(stderr, "%s: no NVRTC log in opts->log\n", path);
                goto out;
            }
            result = 0;
            goto out;
        }
        fprintf(stderr, "%s for cc %d.%d: %s: %s\n%s\n", path, major, minor, rk_err_name(rc), rk_last_error(), log);
        goto out;
    }
    if (expect_fail != 0) {
        fprintf(stderr, "%s for cc %d.%d: built, but %s was expected\n", path, major, minor, rk_err_name(expect_fail));
        goto out;
    }
    if (ptx != want_ptx || code_len < 16 || (!ptx && memcmp(code, "\177ELF", 4) != 0) ||
        (ptx && ((const char *)code)[code_len - 1] != '\0')) {
        fprintf(stderr, "%s for cc %d.%d: unexpected output (%s, %zu bytes)\n", path, major, minor, arch, code_len);
        goto out;
    }
    printf("ok %s for cc %d.%d: %s, %zu bytes\n", path, major, minor, arch, code_len);
    result = 0;
out:
    free(code);
    rk__ir_free(&mod);
    rk__ast_free(&ast);
    free(src);
    return result;
}

int main(int argc, char **argv)
{
    /* H100/H200 (sm_90), A100 (sm_80), and a GPU newer than any NVRTC (PTX for the newest it knows). */
    static const int ccs[][3] = { { 9, 0, 0 }, { 8, 0, 0 }, { 99, 0, 1 } };
    int failed = 0, files = 0;

    for (int a = 1; a < argc; a++) {
        DIR *dir = opendir(argv[a]);
        struct dirent *e;

        if (dir == NULL) {
            fprintf(stderr, "cannot open %s\n", argv[a]);
            return 1;
        }
        while ((e = readdir(dir)) != NULL) {
            char path[1024];
            size_t n = strlen(e->d_name);

            if (n < 4 || strcmp(e->d_name + n - 3, ".rk") != 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
            files++;
            for (size_t i = 0; i < sizeof ccs / sizeof ccs[0]; i++) {
                int rc = build_one(path, ccs[i][0], ccs[i][1], ccs[i][2], 0);
                if (rc == 77) {
                    closedir(dir);
                    return 77;
                }
                failed |= rc;
            }
        }
        closedir(dir);
    }
    if (files == 0) {
        fprintf(stderr, "no .rk files found\n");
        return 1;
    }
    {
        /* NVRTC missing: RK_ENODEV naming the path tried. A compile error: RK_EBACKEND with NVRTC's log
         * (provoked through the extra options: the kernel name made a syntax error in the generated code). */
        char path[1024];

        snprintf(path, sizeof path, "%s/saxpy.rk", argv[1]);
        setenv("RK_NVRTC", "/nonexistent/libnvrtc.so", 1);
        failed |= build_one(path, 9, 0, 0, RK_ENODEV);
        if (strstr(rk_last_error(), "/nonexistent/libnvrtc.so") == NULL)
            failed |= 1;
        unsetenv("RK_NVRTC");
        setenv("RK_NVRTC_FLAGS", "-Dsaxpy=)", 1);
        failed |= build_one(path, 9, 0, 0, RK_EBACKEND);
        unsetenv("RK_NVRTC_FLAGS");
    }
    return failed;
}
