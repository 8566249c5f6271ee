/* cli.h - pieces shared by the subcommands of the ringkernel tool.
 *
 * Exit codes: 0 success, 1 failure (a library call failed or a check did not hold), 2 usage error.
 * Every error is one line on stderr starting with "ringkernel: "; usage errors end by pointing at --help.
 */
#ifndef RK_CLI_H
#define RK_CLI_H

#include <stdint.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/** Prints "ringkernel: <message>; see 'ringkernel[ <cmd>] --help'" on stderr. Returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Prints "ringkernel: <message>" on stderr. Returns CLI_EXIT_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** Prints "ringkernel: <what>: <RK_E* description> (<rk_last_error()>)" on stderr. Returns CLI_EXIT_FAIL. */
int cli_fail_rk(const char *what, int rc);

/** An option a subcommand accepts. */
typedef struct cli_opt {
    const char *name;  /* long name without "--" */
    char short_name;   /* single-letter form, 0 if none */
    int has_arg;       /* CLI_ARG_NONE, CLI_ARG_REQUIRED or CLI_ARG_OPTIONAL (only as --name=value) */
    int id;            /* returned by cli_next_opt; > 0 */
} cli_opt;

enum { CLI_ARG_NONE = 0, CLI_ARG_REQUIRED = 1, CLI_ARG_OPTIONAL = 2 };

/** Walks a subcommand's argv (argv[0] is the subcommand): -x, -xVALUE, -x VALUE, --name, --name=VALUE,
 *  --name VALUE. Positional arguments are errors (codegen and check take their FILE first, before the
 *  options, and remove it from argv before parsing). */
typedef struct cli_parser {
    const char *cmd;  /* subcommand name, for error messages */
    int argc;
    char **argv;
    int next;         /* index of the next argument */
} cli_parser;

/** Starts parsing argv[1..argc). */
void cli_parser_init(cli_parser *p, const char *cmd, int argc, char **argv);

/**
 * Returns the id of the next option with *value set (NULL if it has none), 0 when the arguments are
 * exhausted, or -1 after printing a usage error (unknown option, missing or unexpected value, positional
 * argument).
 */
int cli_next_opt(cli_parser *p, const cli_opt *opts, const char **value);

/**
 * Parses a decimal integer in [min, max] given to option `opt`. Returns 0, or prints a usage error and
 * returns -1.
 */
int cli_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Subcommands: each takes its own argv (argv[0] is the subcommand name) and returns the exit code. */
int cli_cmd_info(int argc, char **argv);
int cli_cmd_demo(int argc, char **argv);
int cli_cmd_codegen(int argc, char **argv);
int cli_cmd_check(int argc, char **argv);

#endif /* RK_CLI_H */
