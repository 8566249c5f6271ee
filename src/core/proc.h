/* proc.h - running a compiler as a child process, and the files around it (proc.c). Used by the compute
 * backends that build programs with an external tool: the C compiler (CPU), glslangValidator (Vulkan). */
#ifndef RK_PROC_H
#define RK_PROC_H

#include <stddef.h>

/**
 * Runs argv (argv[0] looked up in PATH) with stdin from /dev/null and stdout and stderr into the file at
 * out_path, and waits for it (posix_spawn: no fork of a large process, safe beside other threads).
 * Returns the exit status (>= 0; 128 + the signal for a killed child), or -1 with errno when it could not be
 * started (ENOENT: no such program).
 */
int rk__proc_run(char *const argv[], const char *out_path);

/** Reads a whole file into a malloc'd, NUL-terminated buffer (*len excludes the NUL). NULL on failure. */
char *rk__file_slurp(const char *path, size_t *len);

/** Writes n bytes to path (created or truncated). Returns 0, or -1 with errno. */
int rk__file_put(const char *path, const void *data, size_t n);

/** The program named by environment variable env when it is set and not empty, else dflt. */
const char *rk__tool(const char *env, const char *dflt);

/**
 * A compiler's identity for a cache key: runs `tool --version` (its output in scratch/version.txt, removed
 * after) and writes "<tool>|<first line of the output>|" to out. Returns 0, or RK_ENODEV with the detail
 * "rk_program_create: no <what>: cannot run '<tool>' (<reason>); <hint>", or "'<tool> --version' failed
 * (exit N): not a usable <what>".
 */
int rk__tool_identity(const char *tool, const char *what, const char *hint, const char *scratch, char *out,
                      size_t cap);

/** Creates a private scratch directory `$TMPDIR/<tag>-XXXXXX` (else /tmp). Returns 0 or RK_EIO. */
int rk__scratch_dir(const char *tag, char *dir, size_t cap);

#endif /* RK_PROC_H */
