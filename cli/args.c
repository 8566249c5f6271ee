/* args.c - option parsing and error reporting for the ringkernel tool. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ringkernel/ringkernel.h>

#include "cli.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("ringkernel: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "; see 'ringkernel%s%s --help'\n", cmd ? " " : "", cmd ? cmd : "");
    return CLI_EXIT_USAGE;
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("ringkernel: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_FAIL;
}

int cli_fail_rk(const char *what, int rc)
{
    const char *detail = rk_last_error();
    if (detail[0])
        return cli_fail("%s: %s (%s)", what, rk_strerror(rc), detail);
    return cli_fail("%s: %s", what, rk_strerror(rc));
}

void cli_parser_init(cli_parser *p, const char *cmd, int argc, char **argv)
{
    p->cmd = cmd;
    p->argc = argc;
    p->argv = argv;
    p->next = 1;
}

static const cli_opt *find_long(const cli_opt *opts, const char *name, size_t len)
{
    for (; opts->name; opts++)
        if (strlen(opts->name) == len && memcmp(opts->name, name, len) == 0)
            return opts;
    return NULL;
}

static const cli_opt *find_short(const cli_opt *opts, char c)
{
    for (; opts->name; opts++)
        if (opts->short_name && opts->short_name == c)
            return opts;
    return NULL;
}

int cli_next_opt(cli_parser *p, const cli_opt *opts, const char **value)
{
    *value = NULL;
    if (p->next >= p->argc)
        return 0;
    const char *arg = p->argv[p->next++];
    const cli_opt *o;
    const char *inline_value = NULL;

    if (arg[0] == '-' && arg[1] == '-' && arg[2]) {
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (!(o = find_long(opts, name, len)))
            return cli_usage_error(p->cmd, "unknown option '--%.*s'", (int)len, name), -1;
        if (eq)
            inline_value = eq + 1;
    } else if (arg[0] == '-' && arg[1] && arg[1] != '-') {
        if (!(o = find_short(opts, arg[1])))
            return cli_usage_error(p->cmd, "unknown option '-%c'", arg[1]), -1;
        if (arg[2]) {
            if (o->has_arg != CLI_ARG_REQUIRED)
                return cli_usage_error(p->cmd, "option '-%c' takes no value", arg[1]), -1;
            inline_value = arg + 2;
        }
    } else {
        return cli_usage_error(p->cmd, "unexpected argument '%s'", arg), -1;
    }

    switch (o->has_arg) {
    case CLI_ARG_NONE:
        if (inline_value)
            return cli_usage_error(p->cmd, "option '--%s' takes no value", o->name), -1;
        break;
    case CLI_ARG_OPTIONAL:
        *value = inline_value;
        break;
    default:
        if (inline_value) {
            *value = inline_value;
        } else if (p->next < p->argc) {
            *value = p->argv[p->next++];
        } else {
            return cli_usage_error(p->cmd, "option '--%s' needs a value", o->name), -1;
        }
    }
    return o->id;
}

int cli_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    /* strtoull accepts a sign and leading blanks; a count must be plain digits. */
    unsigned long long v = (s[0] >= '0' && s[0] <= '9') ? strtoull(s, &end, 10) : 0;
    if (!(s[0] >= '0' && s[0] <= '9') || *end || errno == ERANGE || v < min || v > max) {
        cli_usage_error(cmd, "invalid value '%s' for %s (expected an integer from %llu to %llu)", s, opt,
                        (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}
