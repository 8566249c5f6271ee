/* ringkernel.c - the ringkernel command-line tool: global options and subcommand dispatch.
 *
 *   ringkernel [--version] [-h|--help] <command> [options]
 *   commands: info, demo, codegen, check, help
 *
 * info and demo use the public API only (ringkernel/ringkernel.h); codegen and check drive the kernel
 * compiler's internal interface (src/codegen/). Exit codes are in cli.h.
 */
#include <stdio.h>
#include <string.h>

#include <ringkernel/ringkernel.h>

#include "cli.h"

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

static const cli_command commands[] = {
    { "info", cli_cmd_info, "show the version, the backends and the devices of this machine" },
    { "demo", cli_cmd_demo, "measure round-trip latency and throughput of the echo actor" },
    { "codegen", cli_cmd_codegen, "compile a .rk kernel file to CUDA C and portable C" },
    { "check", cli_cmd_check, "check which targets support each kernel of a .rk file" },
    { NULL, NULL, NULL },
};

static void print_help(FILE *out)
{
    fputs("usage: ringkernel [--version] [-h|--help] <command> [options]\n"
          "\n"
          "RingKernel: persistent actors on the GPU (or on CPU threads), talking to the host through\n"
          "lock-free rings in shared memory.\n"
          "\n"
          "commands:\n",
          out);
    for (const cli_command *c = commands; c->name; c++)
        fprintf(out, "  %-7s  %s\n", c->name, c->summary);
    fprintf(out, "  %-7s  %s\n", "help", "show the help of a command (same as 'ringkernel <command> --help')");
    fputs("\n"
          "options:\n"
          "  -h, --help   show this help\n"
          "  --version    show the version of the tool and of the library\n"
          "\n"
          "'ringkernel <command> --help' describes the options of a command.\n"
          "Exit status: 0 success, 1 failure, 2 usage error.\n",
          out);
}

static const cli_command *find_command(const char *name)
{
    for (const cli_command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *arg = argv[1];
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
        print_help(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(arg, "--version") == 0) {
        /* The tool is linked statically, so the two agree unless the headers and sources disagree. */
        printf("ringkernel %s (library %s, ABI %u)\n", RK_VERSION_STRING, rk_version(), RK_ABI_VERSION);
        return CLI_EXIT_OK;
    }
    if (arg[0] == '-')
        return cli_usage_error(NULL, "unknown option '%s'", arg);

    if (strcmp(arg, "help") == 0) {
        if (argc == 2) {
            print_help(stdout);
            return CLI_EXIT_OK;
        }
        if (argc > 3)
            return cli_usage_error(NULL, "'help' takes one command name");
        const cli_command *c = find_command(argv[2]);
        if (!c)
            return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
        char *help_argv[] = { (char *)c->name, (char *)"--help", NULL };
        return c->run(2, help_argv);
    }

    const cli_command *c = find_command(arg);
    if (!c)
        return cli_usage_error(NULL, "unknown command '%s'", arg);
    return c->run(argc - 1, argv + 1);
}
