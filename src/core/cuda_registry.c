/* cuda_registry.c - the process-wide table of GPU actors (cuda.h).
 *
 * Compiled into every build, with or without the CUDA backend, so that a program that registers GPU
 * actors links against any build of the library; without the backend they are simply never launched.
 * Plain C: registration stores the thunks the user's translation unit compiled (device.cuh).
 */
#include <pthread.h>
#include <string.h>

#include "core/internal.h"
#include "ringkernel/cuda.h"

#define RK__CUDA_ACTORS_MAX 256

static pthread_mutex_t rk__cuda_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static rk_cuda_actor_def rk__cuda_reg[RK__CUDA_ACTORS_MAX];
static char rk__cuda_reg_names[RK__CUDA_ACTORS_MAX][64];
static int rk__cuda_reg_count;

/* Index of name in the table, or -1. Caller holds the lock. O(n) over at most 256 names: registration
 * and launch are rare. */
static int rk__cuda_find(const char *name)
{
    for (int i = 0; i < rk__cuda_reg_count; i++)
        if (strcmp(rk__cuda_reg_names[i], name) == 0)
            return i;
    return -1;
}

int rk_cuda_actor_register(const rk_cuda_actor_def *def)
{
    int rc = 0;

    if (def == NULL || def->name == NULL || def->launch == NULL || def->occupancy == NULL)
        return rk__err(RK_EINVAL, "rk_cuda_actor_register: NULL definition, name or thunk");
    if (strlen(def->name) == 0 || strlen(def->name) > 63)
        return rk__err(RK_EINVAL, "rk_cuda_actor_register: name must have 1 to 63 bytes");
    pthread_mutex_lock(&rk__cuda_reg_lock);
    if (rk__cuda_find(def->name) >= 0) {
        rc = rk__err(RK_EEXIST, "rk_cuda_actor_register: GPU actor '%s' is already registered", def->name);
    } else if (rk__cuda_reg_count == RK__CUDA_ACTORS_MAX) {
        rc = rk__err(RK_ELIMIT, "rk_cuda_actor_register: table full (%d GPU actors)", RK__CUDA_ACTORS_MAX);
    } else {
        int i = rk__cuda_reg_count++;
        rk__strlcpy(rk__cuda_reg_names[i], def->name, sizeof rk__cuda_reg_names[i]);
        rk__cuda_reg[i] = *def;
        rk__cuda_reg[i].name = rk__cuda_reg_names[i];
    }
    pthread_mutex_unlock(&rk__cuda_reg_lock);
    return rc;
}

int rk_cuda_actor_lookup(const char *name, rk_cuda_actor_def *out)
{
    int i, rc = 0;

    if (name == NULL || out == NULL)
        return rk__err(RK_EINVAL, "rk_cuda_actor_lookup: NULL argument");
    pthread_mutex_lock(&rk__cuda_reg_lock);
    i = rk__cuda_find(name);
    if (i < 0)
        rc = rk__err(RK_ENOENT, "no GPU actor named '%s' is registered", name);
    else
        *out = rk__cuda_reg[i];
    pthread_mutex_unlock(&rk__cuda_reg_lock);
    return rc;
}
