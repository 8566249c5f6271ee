/* codegen.c - `ringkernel codegen` and `ringkernel check`: the kernel-language compiler (docs/DSL.md).
 *
 *   ringkernel codegen FILE.rk --target LIST -o DIR [--emit-ir]
 *   ringkernel check FILE.rk [--targets all|LIST]
 *
 * Both run the one pipeline source -> parser -> checker (typed IR) -> emitter. Unlike the other
 * subcommands these use the compiler's internal interface (src/codegen/), which is not part of the
 * library's public API. Diagnostics go to stderr as `file:line:col: error: message` with the source line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "codegen/checker.h"
#include "codegen/emit.h"

enum { OPT_HELP = 1, OPT_TARGET, OPT_OUT, OPT_EMIT_IR };

/* The source file, parsed. */
typedef struct cg_file {
    const char *path;
    char *text;
    size_t len;
    rk__ast ast;
} cg_file;

static char diag_buf[1 << 16];

static void print_diags(const rk__diags *d)
{
    fputs(d->buf, stderr);
    if (d->dropped > 0)
        fprintf(stderr, "(%u more diagnostics not shown)\n", d->dropped);
}

/* Reads and parses f->path. Returns CLI_EXIT_OK, or CLI_EXIT_FAIL after printing why. */
static int load(cg_file *f)
{
    FILE *in = fopen(f->path, "rb");
    rk__diags d;
    long n;

    if (in == NULL)
        return cli_fail("cannot read '%s': %s", f->path, strerror(errno));
    if (fseek(in, 0, SEEK_END) != 0 || (n = ftell(in)) < 0 || fseek(in, 0, SEEK_SET) != 0) {
        fclose(in);
        return cli_fail("cannot read '%s': %s", f->path, strerror(errno));
    }
    f->text = malloc((size_t)n + 1);
    if (f->text == NULL || fread(f->text, 1, (size_t)n, in) != (size_t)n) {
        fclose(in);
        return cli_fail("cannot read '%s'", f->path);
    }
    fclose(in);
    f->len = (size_t)n;
    rk__diag_init(&d, diag_buf, sizeof diag_buf);
    int rc = rk__parse(&f->ast, f->path, f->text, f->len, &d, 0);
    if (rc != 0)
        return cli_fail_rk(f->path, rc);
    if (d.errors > 0) {
        print_diags(&d);
        return cli_fail("%s: %u error(s)", f->path, d.errors);
    }
    return CLI_EXIT_OK;
}

static void unload(cg_file *f)
{
    rk__ast_free(&f->ast);
    free(f->text);
}

/* Parses "cuda,c" or "all" into a target set. Returns 0, or prints a usage error and returns -1. */
static int parse_targets(const char *cmd, const char *s, unsigned *set)
{
    *set = 0;
    if (strcmp(s, "all") == 0) {
        *set = RK__TGT_ALL;
        return 0;
    }
    while (*s) {
        size_t n = strcspn(s, ",");
        int found = 0;

        for (int t = 0; t < RK_TGT_COUNT; t++) {
            const char *name = rk__intr_target_name((rk__target)t);

            if (strlen(name) == n && strncmp(name, s, n) == 0) {
                *set |= RK__TGT_BIT(t);
                found = 1;
            }
        }
        if (!found) {
            cli_usage_error(cmd, "unknown target '%.*s' (targets: cuda, c, glsl, wgsl, msl)", (int)n, s);
            return -1;
        }
        s += n;
        if (*s == ',')
            s++;
    }
    if (*set == 0) {
        cli_usage_error(cmd, "no target given");
        return -1;
    }
    return 0;
}

/* The file name without directories and without its extension. */
static void stem_of(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    const char *dot;
    size_t n;

    base = base ? base + 1 : path;
    dot = strrchr(base, '.');
    n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    snprintf(out, cap, "%.*s", (int)n, base);
}

static int write_out(const char *dir, const char *stem, const char *ext, const char *text, size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s.%s", dir, stem, ext);
    f = fopen(path, "wb");
    if (f == NULL)
        return cli_fail("cannot write '%s': %s", path, strerror(errno));
    if (fwrite(text, 1, len, f) != len || fclose(f) != 0)
        return cli_fail("cannot write '%s'", path);
    printf("wrote %s\n", path);
    return CLI_EXIT_OK;
}

/* Takes FILE (the first argument when it is not an option) out of argv. */
static const char *take_file(int *argc, char **argv)
{
    if (*argc >= 2 && argv[1][0] != '-') {
        const char *file = argv[1];

        for (int i = 1; i + 1 < *argc; i++)
            argv[i] = argv[i + 1];
        (*argc)--;
        return file;
    }
    return NULL;
}

static void codegen_help(FILE *out)
{
    fputs("usage: ringkernel codegen FILE.rk --target LIST -o DIR [--emit-ir]\n"
          "\n"
          "Compiles the kernels of a .rk file (docs/DSL.md) and writes one file per target into DIR:\n"
          "DIR/<stem>.cu for cuda, .c for c, .comp for glsl (a Vulkan compute shader), .wgsl for wgsl\n"
          "and .metal for msl.\n"
          "\n"
          "options:\n"
          "  -t, --target LIST  comma-separated targets: cuda, c, glsl, wgsl, msl, or all (required)\n"
          "  -o, --output DIR   the directory to write into (created when missing; required)\n"
          "  --emit-ir          also write the typed IR as DIR/<stem>.ir\n"
          "  -h, --help         show this help\n"
          "\n"
          "Exit status: 0 written, 1 the file has errors or cannot be lowered to a target, 2 usage error.\n",
          out);
}

int cli_cmd_codegen(int argc, char **argv)
{
    static const cli_opt opts[] = {
        { "help", 'h', CLI_ARG_NONE, OPT_HELP },          { "target", 't', CLI_ARG_REQUIRED, OPT_TARGET },
        { "output", 'o', CLI_ARG_REQUIRED, OPT_OUT },     { "emit-ir", 0, CLI_ARG_NONE, OPT_EMIT_IR },
        { NULL, 0, 0, 0 },
    };
    const char *file = take_file(&argc, argv), *targets = NULL, *dir = NULL, *v;
    int emit_ir = 0, id, rc;
    unsigned set;
    cli_parser p;
    cg_file f = { 0 };
    rk__ir_module mod = { 0 };
    rk__diags d;
    char stem[256];

    cli_parser_init(&p, "codegen", argc, argv);
    while ((id = cli_next_opt(&p, opts, &v)) > 0) {
        switch (id) {
        case OPT_HELP:
            codegen_help(stdout);
            return CLI_EXIT_OK;
        case OPT_TARGET:
            targets = v;
            break;
        case OPT_OUT:
            dir = v;
            break;
        case OPT_EMIT_IR:
            emit_ir = 1;
            break;
        }
    }
    if (id < 0)
        return CLI_EXIT_USAGE;
    if (file == NULL)
        return cli_usage_error("codegen", "no input file");
    if (targets == NULL)
        return cli_usage_error("codegen", "--target is required");
    if (dir == NULL)
        return cli_usage_error("codegen", "-o DIR is required");
    if (parse_targets("codegen", targets, &set) != 0)
        return CLI_EXIT_USAGE;
    for (int t = 0; t < RK_TGT_COUNT; t++)
        if ((set & RK__TGT_BIT(t)) && !rk__emit_supported((rk__target)t))
            return cli_fail("target '%s': no emitter in this version", rk__intr_target_name((rk__target)t));

    f.path = file;
    rc = load(&f);
    if (rc != CLI_EXIT_OK)
        goto out;
    rk__diag_init(&d, diag_buf, sizeof diag_buf);
    rc = rk__check(&f.ast, set, &d, &mod, 0);
    if (rc != 0) {
        rc = cli_fail_rk(file, rc);
        goto out;
    }
    if (d.errors > 0) {
        print_diags(&d);
        rc = cli_fail("%s: %u error(s)", file, d.errors);
        goto out;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        rc = cli_fail("cannot create '%s': %s", dir, strerror(errno));
        goto out;
    }
    stem_of(file, stem, sizeof stem);
    if (emit_ir) {
        size_t n = rk__ir_dump(&mod, NULL, 0);
        char *text = malloc(n + 1);

        if (text == NULL) {
            rc = cli_fail("out of memory");
            goto out;
        }
        rk__ir_dump(&mod, text, n + 1);
        rc = write_out(dir, stem, "ir", text, n);
        free(text);
        if (rc != CLI_EXIT_OK)
            goto out;
    }
    for (int t = 0; t < RK_TGT_COUNT; t++) {
        char *text;
        size_t len;

        if (!(set & RK__TGT_BIT(t)))
            continue;
        rk__diag_init(&d, diag_buf, sizeof diag_buf);
        rc = rk__emit(&mod, (rk__target)t, &f.ast.src, &d, &text, &len);
        if (rc != 0) {
            print_diags(&d);
            rc = d.errors ? cli_fail("%s: %u construct(s) cannot be lowered to %s", file, d.errors,
                                     rk__intr_target_name((rk__target)t))
                          : cli_fail_rk(file, rc);
            goto out;
        }
        rc = write_out(dir, stem, rk__emit_file_ext((rk__target)t), text, len);
        free(text);
        if (rc != CLI_EXIT_OK)
            goto out;
    }
    rc = CLI_EXIT_OK;
out:
    rk__ir_free(&mod);
    unload(&f);
    return rc;
}

static void check_help(FILE *out)
{
    fputs("usage: ringkernel check FILE.rk [--targets all|LIST]\n"
          "\n"
          "Checks the kernels of a .rk file for each target and prints, per target and kernel,\n"
          "'supported' or 'unsupported' (the diagnostics go to stderr). 'supported' means the\n"
          "checker accepts the kernel for that target and its code generates.\n"
          "\n"
          "options:\n"
          "  -t, --targets LIST  'all' (the default) or comma-separated targets: cuda, c, glsl, wgsl, msl\n"
          "  -h, --help          show this help\n"
          "\n"
          "Exit status: 0 every kernel is supported on every requested target, 1 otherwise, 2 usage error.\n",
          out);
}

/* Counts the diagnostics in text whose line lies in [first, last). */
static unsigned errors_in(const char *text, const char *file, uint32_t first, uint32_t last)
{
    size_t fl = strlen(file);
    unsigned n = 0;

    for (const char *p = text; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
        if (strncmp(p, file, fl) == 0 && p[fl] == ':' && strstr(p, ": error: ") != NULL) {
            unsigned long line = strtoul(p + fl + 1, NULL, 10);

            if (line >= first && line < last)
                n++;
        }
    }
    return n;
}

int cli_cmd_check(int argc, char **argv)
{
    static const cli_opt opts[] = {
        { "help", 'h', CLI_ARG_NONE, OPT_HELP },
        { "targets", 't', CLI_ARG_REQUIRED, OPT_TARGET },
        { NULL, 0, 0, 0 },
    };
    const char *file = take_file(&argc, argv), *targets = "all", *v;
    unsigned set, unsupported = 0;
    int id, rc;
    cli_parser p;
    cg_file f = { 0 };

    cli_parser_init(&p, "check", argc, argv);
    while ((id = cli_next_opt(&p, opts, &v)) > 0) {
        if (id == OPT_HELP) {
            check_help(stdout);
            return CLI_EXIT_OK;
        }
        targets = v;
    }
    if (id < 0)
        return CLI_EXIT_USAGE;
    if (file == NULL)
        return cli_usage_error("check", "no input file");
    if (parse_targets("check", targets, &set) != 0)
        return CLI_EXIT_USAGE;
    f.path = file;
    rc = load(&f);
    if (rc != CLI_EXIT_OK) {
        unload(&f);
        return rc;
    }
    {
        /* Errors of the language itself are reported once, not once per target. */
        rk__ir_module mod = { 0 };
        rk__diags d;

        rk__diag_init(&d, diag_buf, sizeof diag_buf);
        rc = rk__check(&f.ast, 0, &d, &mod, 0);
        rk__ir_free(&mod);
        if (rc != 0) {
            rc = cli_fail_rk(file, rc);
        } else if (d.errors > 0) {
            print_diags(&d);
            rc = cli_fail("%s: %u error(s)", file, d.errors);
        }
    }
    for (int t = 0; t < RK_TGT_COUNT && rc == CLI_EXIT_OK; t++) {
        rk__ir_module mod = { 0 };
        rk__diags d;
        const char *tn = rk__intr_target_name((rk__target)t);

        if (!(set & RK__TGT_BIT(t)))
            continue;
        rk__diag_init(&d, diag_buf, sizeof diag_buf);
        rc = rk__check(&f.ast, RK__TGT_BIT(t), &d, &mod, 0);
        if (rc != 0) {
            rc = cli_fail_rk(file, rc);
            break;
        }
        if (d.errors == 0 && rk__emit_supported((rk__target)t)) {
            char *text = NULL;
            size_t len;

            if (rk__emit(&mod, (rk__target)t, &f.ast.src, &d, &text, &len) == 0)
                free(text);
        }
        print_diags(&d);
        uint32_t from = 0;

        for (const rk__ir_func *fn = mod.funcs; fn; fn = fn->next) {
            uint32_t end = fn->next ? fn->next->pos.line : UINT32_MAX;
            unsigned n;

            if (fn->kind == RK_KK_NONE)
                continue;
            /* A kernel's diagnostics are those from the end of the previous kernel to the next function:
             * the structs, constants and helpers above a kernel are its own. */
            n = errors_in(d.buf, file, from, end);
            from = end;
            printf("%-4s  %.*s: %s", tn, (int)fn->name.len, fn->name.ptr, n ? "unsupported" : "supported");
            if (n)
                printf(" (%u error%s)", n, n == 1 ? "" : "s");
            printf("\n");
            unsupported += n > 0;
        }
        if (d.errors > 0 && unsupported == 0)
            unsupported = 1; /* errors outside every kernel still fail the check */
        rk__ir_free(&mod);
    }
    unload(&f);
    if (rc != CLI_EXIT_OK)
        return rc;
    return unsupported ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
