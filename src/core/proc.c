/* proc.c - child processes and scratch files for the compilers of compute programs (proc.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/proc.h"

extern char **environ;

int rk__proc_run(char *const argv[], const char *out_path)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int err, status;

    if ((err = posix_spawn_file_actions_init(&fa)) != 0) {
        errno = err;
        return -1;
    }
    err = posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (err == 0)
        err = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (err == 0)
        err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (err == 0)
        err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err != 0) {
        errno = err;
        return -1;
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

char *rk__file_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
            *len = (size_t)n;
        }
    }
    fclose(f);
    return buf;
}

int rk__file_put(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL)
        return -1;
    if (fwrite(data, 1, n, f) != n) {
        fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

int rk__scratch_dir(const char *tag, char *dir, size_t cap)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, cap, "%s/%s-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp", tag);
    if (mkdtemp(dir) == NULL)
        return rk__err(RK_EIO, "rk_program_create: cannot create a scratch directory '%s': %s", dir, strerror(errno));
    return 0;
}

const char *rk__tool(const char *env, const char *dflt)
{
    const char *t = getenv(env);

    return t != NULL && t[0] != '\0' ? t : dflt;
}

int rk__tool_identity(const char *tool, const char *what, const char *hint, const char *scratch, char *out,
                      size_t cap)
{
    char path[4200], *text;
    char *argv[] = { (char *)tool, "--version", NULL };
    size_t len = 0;
    int st;

    snprintf(path, sizeof path, "%s/version.txt", scratch);
    st = rk__proc_run(argv, path);
    if (st < 0) {
        int e = errno;

        unlink(path); /* posix_spawn's child may have opened it before its exec failed */
        return rk__err(RK_ENODEV, "rk_program_create: no %s: cannot run '%s' (%s); %s", what, tool, strerror(e),
                       hint);
    }
    text = rk__file_slurp(path, &len);
    unlink(path);
    if (st != 0 || text == NULL) {
        free(text);
        return rk__err(RK_ENODEV, "rk_program_create: '%s --version' failed (exit %d): not a usable %s", tool, st,
                       what);
    }
    text[strcspn(text, "\n")] = '\0';
    snprintf(out, cap, "%s|%s|", tool, text);
    free(text);
    return 0;
}
