/* info.c - `ringkernel info`: the version, every backend as probed on this machine, and its devices. */
#include <stdio.h>

#include <ringkernel/ringkernel.h>

#include "cli.h"

enum { OPT_HELP = 1 };

static const cli_opt info_opts[] = {
    { "help", 'h', CLI_ARG_NONE, OPT_HELP },
    { NULL, 0, 0, 0 },
};

static void info_help(void)
{
    printf("usage: ringkernel info [-h|--help]\n"
           "\n"
           "Shows the version of the tool, the library and the ABI; every backend with whether it is\n"
           "compiled into this build and available on this machine, and why not; and the devices of each\n"
           "available backend (the CPU always, CUDA and Vulkan devices when present).\n");
}

/* Every backend kind but AUTO: the CPU first (always built), then the GPU ones. */
static const rk_backend_kind info_kinds[] = { RK_BACKEND_CPU, RK_BACKEND_CUDA, RK_BACKEND_VULKAN,
                                              RK_BACKEND_METAL };
#define INFO_KINDS (int)(sizeof info_kinds / sizeof info_kinds[0])

static void print_device(rk_backend_kind kind, const rk_device_info *d)
{
    char where[32];
    snprintf(where, sizeof where, "%s:%d", rk_backend_name(kind), d->index);
    printf("  %-9s %s", where, d->name[0] ? d->name : "(unnamed)");
    if (d->compute_units > 0)
        printf(", %d %s", d->compute_units,
               kind == RK_BACKEND_CPU ? "cores" : kind == RK_BACKEND_CUDA ? "SMs" : "compute units");
    if (d->cc_major > 0)
        printf(", compute capability %d.%d", d->cc_major, d->cc_minor);
    if (d->memory_bytes > 0)
        printf(", %.1f GiB", (double)d->memory_bytes / (1024.0 * 1024.0 * 1024.0));
    if (d->driver[0])
        printf(", driver %s", d->driver);
    printf("\n");
}

int cli_cmd_info(int argc, char **argv)
{
    cli_parser p;
    const char *value;
    int id;
    cli_parser_init(&p, "info", argc, argv);
    while ((id = cli_next_opt(&p, info_opts, &value)) != 0) {
        if (id < 0)
            return CLI_EXIT_USAGE;
        if (id == OPT_HELP) {
            info_help();
            return CLI_EXIT_OK;
        }
    }

    printf("ringkernel %s (library %s, ABI %u)\n\n", RK_VERSION_STRING, rk_version(), RK_ABI_VERSION);

    rk_backend_status st[INFO_KINDS];
    printf("backends:\n");
    for (int i = 0; i < INFO_KINDS; i++) {
        int rc = rk_backend_probe(info_kinds[i], &st[i]);
        if (rc != 0)
            return cli_fail_rk("rk_backend_probe", rc);
        const char *what = st[i].available ? "available" : st[i].compiled ? "unavailable" : "not built";
        printf("  %-9s %-12s %s\n", rk_backend_name(info_kinds[i]), what, st[i].reason);
    }

    printf("\ndevices:\n");
    int shown = 0;
    for (int i = 0; i < INFO_KINDS; i++) {
        if (!st[i].available)
            continue;
        rk_device_info dev[16];
        int n = rk_backend_devices(info_kinds[i], dev, 16);
        if (n < 0)
            return cli_fail_rk("rk_backend_devices", n);
        for (int j = 0; j < n; j++)
            print_device(info_kinds[i], &dev[j]);
        shown += n;
    }
    if (!shown)
        printf("  (none)\n");
    return CLI_EXIT_OK;
}
