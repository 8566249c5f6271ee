/* vulkan_registry.c - the process-wide table of user Vulkan actors (actor.h, rk_vulkan_actor_register).
 *
 * Compiled into every build, with or without the Vulkan backend, so that a program registering Vulkan
 * actors links against any build of the library (as cuda_registry.c for CUDA). The table holds copies of
 * the names and SPIR-V modules; a launch takes its own copy of the module (rk__vulkan_actor_resolve), so an
 * unregistration never pulls a module from under a pipeline being built.
 *
 * Every registration gets a new generation number, which the backend keys its per-runtime pipelines with:
 * a name unregistered and registered again with another module never reuses the old pipeline.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/runtime_internal.h"
#include "ringkernel/actor.h"

#define RK__VULKAN_ACTORS_MAX 256
/* The fields of rk_vulkan_actor_def this version reads (all of them). */
#define RK__VULKAN_DEF_MIN_SIZE (offsetof(rk_vulkan_actor_def, spirv_words) + sizeof(size_t))

typedef struct rk__vulkan_entry {
    char name[64];            /* "" = free */
    uint32_t *spirv;          /* malloc'd copy */
    size_t words;
    uint32_t state_size;
    uint64_t gen;
} rk__vulkan_entry;

static pthread_mutex_t rk__vulkan_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static rk__vulkan_entry rk__vulkan_reg[RK__VULKAN_ACTORS_MAX]; /* under the lock */
static uint64_t rk__vulkan_gen;                                 /* under the lock; last generation given */

/* Under the lock. O(n) over at most 256 names: registration and launch are rare. */
static rk__vulkan_entry *rk__vulkan_find(const char *name)
{
    for (int i = 0; i < RK__VULKAN_ACTORS_MAX; i++)
        if (rk__vulkan_reg[i].name[0] != '\0' && strcmp(rk__vulkan_reg[i].name, name) == 0)
            return &rk__vulkan_reg[i];
    return NULL;
}

static int rk__vulkan_check_name(const char *name, const char *fn)
{
    size_t len;

    if (name == NULL)
        return rk__err(RK_EINVAL, "%s: name is NULL", fn);
    len = strnlen(name, 64);
    if (len == 0 || len > 63)
        return rk__err(RK_EINVAL, "%s: actor name must be 1 to 63 bytes", fn);
    return 0;
}

int rk_vulkan_actor_register(const rk_vulkan_actor_def *def)
{
    static const char fn[] = "rk_vulkan_actor_register";
    rk__vulkan_entry *e = NULL;
    uint32_t *copy;
    int rc;

    if (def == NULL)
        return rk__err(RK_EINVAL, "%s: def is NULL", fn);
    if (def->size < RK__VULKAN_DEF_MIN_SIZE)
        return rk__err(RK_EINVAL, "%s: def->size is %u, less than the %zu bytes of rk_vulkan_actor_def "
                       "(set it to sizeof(rk_vulkan_actor_def))", fn, def->size, (size_t)RK__VULKAN_DEF_MIN_SIZE);
    if ((rc = rk__vulkan_check_name(def->name, fn)) != 0)
        return rc;
    /* The header's magic (SPIR-V 1.x, section 2.3) catches a byte count passed as a word count's array,
     * or GLSL text; the rest is checked at launch against the device. */
    if (def->spirv == NULL || def->spirv_words < 5 || def->spirv[0] != 0x07230203u)
        return rk__err(RK_EINVAL, "%s: actor '%s': spirv is not a SPIR-V module (%zu words%s)", fn, def->name,
                       def->spirv_words, def->spirv == NULL ? ", NULL" : "");
    if (def->spirv_words > ((size_t)64 << 20))
        return rk__err(RK_EINVAL, "%s: actor '%s': a module of %zu words is implausibly large", fn, def->name,
                       def->spirv_words);
    if ((copy = malloc(def->spirv_words * sizeof *copy)) == NULL)
        return rk__err(RK_ENOMEM, "%s: out of memory", fn);
    memcpy(copy, def->spirv, def->spirv_words * sizeof *copy);
    pthread_mutex_lock(&rk__vulkan_reg_lock);
    if (rk__vulkan_find(def->name) != NULL) {
        rc = rk__err(RK_EEXIST, "%s: a Vulkan actor '%s' is already registered", fn, def->name);
    } else {
        for (int i = 0; i < RK__VULKAN_ACTORS_MAX && e == NULL; i++)
            if (rk__vulkan_reg[i].name[0] == '\0')
                e = &rk__vulkan_reg[i];
        if (e == NULL) {
            rc = rk__err(RK_ELIMIT, "%s: table full (%d Vulkan actors)", fn, RK__VULKAN_ACTORS_MAX);
        } else {
            rk__strlcpy(e->name, def->name, sizeof e->name);
            e->spirv = copy;
            e->words = def->spirv_words;
            e->state_size = def->state_size;
            e->gen = ++rk__vulkan_gen;
            copy = NULL;
        }
    }
    pthread_mutex_unlock(&rk__vulkan_reg_lock);
    free(copy);
    return rc;
}

int rk_vulkan_actor_unregister(const char *name)
{
    rk__vulkan_entry *e;
    uint32_t *spirv = NULL;

    if (name == NULL)
        return rk__err(RK_EINVAL, "rk_vulkan_actor_unregister: name is NULL");
    pthread_mutex_lock(&rk__vulkan_reg_lock);
    if ((e = rk__vulkan_find(name)) != NULL) {
        spirv = e->spirv;
        memset(e, 0, sizeof *e);
    }
    pthread_mutex_unlock(&rk__vulkan_reg_lock);
    free(spirv);
    if (e == NULL)
        return rk__err(RK_ENOENT, "rk_vulkan_actor_unregister: no Vulkan actor '%.63s'", name);
    return 0;
}

int rk__vulkan_actor_resolve(const char *name, rk__vulkan_actor *out)
{
    rk__vulkan_entry *e;
    int rc = 0;

    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&rk__vulkan_reg_lock);
    if ((e = rk__vulkan_find(name)) == NULL) {
        rc = RK_ENOENT; /* not an error to report: the caller falls back to the built-ins */
    } else if ((out->spirv = malloc(e->words * sizeof *out->spirv)) == NULL) {
        rc = rk__err(RK_ENOMEM, "rk_kernel_launch: out of memory");
    } else {
        memcpy(out->spirv, e->spirv, e->words * sizeof *out->spirv);
        out->words = e->words;
        out->state_size = e->state_size;
        out->gen = e->gen;
    }
    pthread_mutex_unlock(&rk__vulkan_reg_lock);
    return rc;
}
