/* emit_c.c - the portable C11 target: kernels the CPU backend runs (docs/DSL.md "Code generation").
 *
 * A global kernel K becomes
 *     static void K_item(const rk_kctx *rk_ctx, [K_shared *rk_sh,] params...)   one work-item
 *     int K(const rk_grid *rk_g, params...)                                      groups [first, last)
 * K runs every work-item of each group in its range. Without barriers the items of a group run one after
 * the other on the calling thread; a kernel that uses a barrier runs each item of a group on its own
 * POSIX thread meeting at a pthread barrier (correct for any control flow around the barrier, at the cost
 * of a thread per item; fine for the CPU backend's role as the reference and fallback). Shared variables
 * live in one K_shared struct per group. K returns 0, or -1 when a thread or memory could not be had.
 *
 * A stencil S becomes
 *     void S(params..., uint32_t nx, uint32_t ny, uint32_t nz, uint32_t z_first, uint32_t z_last)
 * looping over the interior points (radius <= p < n - radius on every axis) of the z-planes
 * [z_first, z_last), so the backend can split a grid across threads by planes; a 2D stencil (nz = 1) takes
 * rows instead, y_first and y_last in the same places.
 *
 * Each global or stencil kernel K also gets `int K__rk_entry(const rk_grid *, void *const *args)`, one
 * signature for every kernel (args as cuLaunchKernel's), which the CPU backend's launcher calls (compute.h).
 *
 * A ring handler R becomes an rk_actor_fn, int R(rk_actor_ctx *, const rk_envelope *, const void *),
 * reading its message from the payload and its state from rk_actor_state() (actor.h); reply, send and
 * publish are rk_actor_reply, rk_actor_send and rk_actor_publish (k2k.h) under the handled message's type id.
 *
 * Helper functions become static functions. Persistent stencils are not lowered by this version.
 */
#include <string.h>

#include "codegen/emit.h"

/* The prelude, in dependency order (a piece may use the pieces above it). */
#define RK__VEC(S, T, N, F) { "rk_" S "x" #N, "typedef struct rk_" S "x" #N " {\n    " T " " F ";\n} rk_" S "x" #N ";\n" }
#define RK__VECS(S, T) \
    RK__VEC(S, T, 2, "x, y"), RK__VEC(S, T, 3, "x, y, z"), RK__VEC(S, T, 4, "x, y, z, w")

static const rk__emit_piece c_pieces[] = {
    RK__VECS("u32", "uint32_t"), RK__VECS("i32", "int32_t"), RK__VECS("u64", "uint64_t"),
    RK__VECS("i64", "int64_t"), RK__VECS("f32", "float"), RK__VECS("f64", "double"),
    { "rk_kctx",
      "/* What a work-item knows about itself (the C spellings of the indexing intrinsics read it). */\n"
      "typedef struct rk_kctx {\n"
      "    uint32_t global_id, local_id, group_id, group_size, num_groups, shared_capacity;\n"
      "    rk_u32x3 global_id3, local_id3, group_id3, group_size3, num_groups3;\n"
      "    void *barrier; /* the group's barrier, when the kernel uses barriers */\n"
      "} rk_kctx;\n" },
    { "rk_grid",
      "/* A launch. Global kernels: the grid's size in groups and the range [first, last) of linear group ids\n"
      " * to run. Stencils (through their __rk_entry): size is the grid nx, ny, nz and [first, last) a range of\n"
      " * z-planes (2D: of rows). The CPU backend declares the same struct (cpu_compute.c). */\n"
      "typedef struct rk_grid {\n"
      "    uint32_t groups[3];\n"
      "    uint32_t first, last;\n"
      "    uint32_t size[3];\n"
      "} rk_grid;\n" },
    { "rk_gate",
      "/* Holds a group's threads until all of them exist: a group whose threads cannot all start must not\n"
      " * run, since its barriers would wait forever. state: 0 wait, 1 run, -1 give up. */\n"
      "typedef struct rk_gate {\n"
      "    pthread_mutex_t m;\n"
      "    pthread_cond_t cv;\n"
      "    int state;\n"
      "} rk_gate;\n"
      "\n"
      "static inline int rk_gate_wait(rk_gate *g)\n"
      "{\n"
      "    int s;\n"
      "    pthread_mutex_lock(&g->m);\n"
      "    while (g->state == 0)\n"
      "        pthread_cond_wait(&g->cv, &g->m);\n"
      "    s = g->state;\n"
      "    pthread_mutex_unlock(&g->m);\n"
      "    return s;\n"
      "}\n"
      "\n"
      "static inline void rk_gate_open(rk_gate *g, int state)\n"
      "{\n"
      "    pthread_mutex_lock(&g->m);\n"
      "    g->state = state;\n"
      "    pthread_cond_broadcast(&g->cv);\n"
      "    pthread_mutex_unlock(&g->m);\n"
      "}\n" },
    { "rk_barrier",
      "static inline void rk_barrier(const rk_kctx *c)\n"
      "{\n"
      "    (void)pthread_barrier_wait((pthread_barrier_t *)c->barrier);\n"
      "}\n" },
    { "RK__ATOMIC_MINMAX",
      "/* An atomic min or max by compare-and-swap: retries while v still improves on the value seen. */\n"
      "#define RK__ATOMIC_MINMAX(T, N, BETTER)                                              \\\n"
      "    static inline T rk__atomic_##N(T *p, T v)                                       \\\n"
      "    {                                                                                 \\\n"
      "        T o = __atomic_load_n(p, __ATOMIC_RELAXED);                                   \\\n"
      "        while (BETTER(v, o) &&                                                        \\\n"
      "               !__atomic_compare_exchange_n(p, &o, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) \\\n"
      "            ;                                                                         \\\n"
      "        return o;                                                                     \\\n"
      "    }\n" },
    { "rk_atomic_min",
      "#define RK__LESS(a, b) ((a) < (b))\n"
      "RK__ATOMIC_MINMAX(int32_t, min_i32, RK__LESS)\n"
      "RK__ATOMIC_MINMAX(uint32_t, min_u32, RK__LESS)\n"
      "RK__ATOMIC_MINMAX(uint64_t, min_u64, RK__LESS)\n"
      "#define rk_atomic_min(p, v) \\\n"
      "    _Generic(*(p), int32_t: rk__atomic_min_i32, uint32_t: rk__atomic_min_u32, uint64_t: rk__atomic_min_u64)((p), (v))\n" },
    { "rk_atomic_max",
      "#define RK__MORE(a, b) ((a) > (b))\n"
      "RK__ATOMIC_MINMAX(int32_t, max_i32, RK__MORE)\n"
      "RK__ATOMIC_MINMAX(uint32_t, max_u32, RK__MORE)\n"
      "RK__ATOMIC_MINMAX(uint64_t, max_u64, RK__MORE)\n"
      "#define rk_atomic_max(p, v) \\\n"
      "    _Generic(*(p), int32_t: rk__atomic_max_i32, uint32_t: rk__atomic_max_u32, uint64_t: rk__atomic_max_u64)((p), (v))\n" },
    { "rk_atomic_cas",
      "/* Strong compare-and-swap returning the old value. */\n"
      "#define rk_atomic_cas(p, cmp, v)                                                       \\\n"
      "    __extension__({                                                                     \\\n"
      "        __typeof__(*(p)) rk__o = (cmp);                                                 \\\n"
      "        (void)__atomic_compare_exchange_n((p), &rk__o, (v), 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED); \\\n"
      "        rk__o;                                                                          \\\n"
      "    })\n" },
    { "rk_atomic_add_f32",
      "static inline float rk_atomic_add_f32(float *p, float v)\n"
      "{\n"
      "    float o = __atomic_load_n(p, __ATOMIC_RELAXED), n;\n"
      "    do {\n"
      "        n = o + v;\n"
      "    } while (!__atomic_compare_exchange(p, &o, &n, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));\n"
      "    return o;\n"
      "}\n" },
    { "rk_bitreverse32",
      "static inline uint32_t rk_bitreverse32(uint32_t v)\n"
      "{\n"
      "    uint32_t r = 0;\n"
      "    for (int i = 0; i < 32; i++, v >>= 1)\n"
      "        r = (r << 1) | (v & 1u);\n"
      "    return r;\n"
      "}\n" },
    { "rk_f32_as_u32",
      "static inline uint32_t rk_f32_as_u32(float v) { uint32_t r; memcpy(&r, &v, sizeof r); return r; }\n" },
    { "rk_f32_as_i32",
      "static inline int32_t rk_f32_as_i32(float v) { int32_t r; memcpy(&r, &v, sizeof r); return r; }\n" },
    { "rk_u32_as_f32",
      "static inline float rk_u32_as_f32(uint32_t v) { float r; memcpy(&r, &v, sizeof r); return r; }\n" },
    { "rk_i32_as_f32",
      "static inline float rk_i32_as_f32(int32_t v) { float r; memcpy(&r, &v, sizeof r); return r; }\n" },
    { "rk_f64_as_u64",
      "static inline uint64_t rk_f64_as_u64(double v) { uint64_t r; memcpy(&r, &v, sizeof r); return r; }\n" },
    { "rk_u64_as_f64",
      "static inline double rk_u64_as_f64(uint64_t v) { double r; memcpy(&r, &v, sizeof r); return r; }\n" },
    { "rk_warp_prefix_sum",
      "/* A subgroup of one lane: the exclusive prefix sum is zero. */\n"
      "#define rk_warp_prefix_sum(v) ((void)(v), (__typeof__(v))0)\n" },
    { "rk_now_ns",
      "static inline uint64_t rk_now_ns(void)\n"
      "{\n"
      "    struct timespec ts;\n"
      "    clock_gettime(CLOCK_MONOTONIC, &ts);\n"
      "    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;\n"
      "}\n" },
    { "rk_cycles",
      "static inline uint64_t rk_cycles(void)\n"
      "{\n"
      "#if defined(__x86_64__) || defined(__i386__)\n"
      "    return __builtin_ia32_rdtsc();\n"
      "#else\n"
      "    return rk_now_ns();\n"
      "#endif\n"
      "}\n" },
    { "rk_sleep_ns",
      "static inline void rk_sleep_ns(uint32_t ns)\n"
      "{\n"
      "    struct timespec ts = { 0, (long)ns };\n"
      "    if (ns >= 1000000000u) {\n"
      "        ts.tv_sec = ns / 1000000000u;\n"
      "        ts.tv_nsec = (long)(ns % 1000000000u);\n"
      "    }\n"
      "    (void)nanosleep(&ts, NULL);\n"
      "}\n" },
    { "rk_hlc_now",
      "/* A fresh timestamp of the actor's clock (actor.h). */\n"
      "static inline rk_hlc_ts rk_hlc_now(rk_actor_ctx *c)\n"
      "{\n"
      "    rk_hlc_ts t = { 0, 0, 0 };\n"
      "    (void)rk_actor_hlc_now(c, &t);\n"
      "    return t;\n"
      "}\n" },
    { "rk_hlc_cmp",
      "static inline int32_t rk_hlc_cmp(rk_hlc_ts a, rk_hlc_ts b)\n"
      "{\n"
      "    if (a.physical != b.physical)\n"
      "        return a.physical < b.physical ? -1 : 1;\n"
      "    if (a.logical != b.logical)\n"
      "        return a.logical < b.logical ? -1 : 1;\n"
      "    return a.node < b.node ? -1 : a.node > b.node;\n"
      "}\n" },
    { "rk_reply",
      "/* Replies to the message being handled (rk_env) with a copy of *m, under the request's type id. */\n"
      "#define rk_reply(c, m) rk_actor_reply((c), rk_env, rk_env->type_id, (m), (uint32_t)sizeof *(m))\n" },
    { "rk_send",
      "/* Sends *m to actor `to` (k2k.h), under the type id of the message being handled. The macro stands\n"
      " * in for the host API's rk_send in this file only. */\n"
      "#define rk_send(c, to, m) rk_actor_send((c), (to), rk_env->type_id, (m), (uint32_t)sizeof *(m))\n" },
    { "rk_publish",
      "/* Publishes *m on a topic (k2k.h), under the type id of the message being handled. The macro stands\n"
      " * in for the host API's rk_publish in this file only. */\n"
      "#define rk_publish(c, topic, m) rk_actor_publish((c), (topic), rk_env->type_id, (m), (uint32_t)sizeof *(m))\n" },
    { "rk_self_addr", "static inline uint64_t rk_self_addr(rk_actor_ctx *c) { return rk_actor_self(c); }\n" },
    { "rk_at",
      "/* The index of a stencil's neighbour: rk_c is the point's linear index, rk_sy and rk_sz the strides. */\n"
      "#define rk_at(dx, dy, dz) (rk_c + (ptrdiff_t)(dz) * rk_sz + (ptrdiff_t)(dy) * rk_sy + (dx))\n" },
};

/* Names the entry points declare (not prelude pieces). */
static const char *const c_provided[] = { "rk_ctx", "rk_grid_pos", "rk_grid_size", "rk_c", "rk_env", "rk_sh", NULL };

static void param_list(rk__emitter *e, rk__out *o, const rk__ir_func *f, int first)
{
    for (uint32_t i = 0; i < f->nparams; i++) {
        if (!first || i > 0) {
            rk__out_puts(o, ", ");
        }
        rk__emit_decl(e, o, f->params[i], f->pos);
    }
}

static void arg_list(rk__emitter *e, rk__out *o, const rk__ir_func *f, const char *prefix)
{
    for (uint32_t i = 0; i < f->nparams; i++) {
        rk__out_puts(o, ", ");
        rk__out_puts(o, prefix);
        rk__emit_var_name(e, o, f->params[i]);
    }
}

/*
 * Writes `int K__rk_entry(const rk_grid *rk_g, void *const *rk_args)`, the launcher's entry of kernel f
 * (compute.h): rk_args[i] points at the value of parameter i (a buffer parameter's pointer, a scalar's
 * value as the C type, bool as bool), as cuLaunchKernel's kernelParams, so one signature serves every
 * kernel and the CPU backend finds it with dlsym. A stencil runs planes (2D: rows) [first, last) of grid
 * `size`.
 */
static void entry(rk__emitter *e, const rk__ir_func *f)
{
    rk__out h = { 0 };

    rk__emit_line(e, "/* The launcher's entry of %.*s: rk_args[i] points at parameter i's value. */", (int)f->name.len,
                  f->name.ptr);
    rk__out_printf(&h, "int %.*s__rk_entry(const rk_grid *rk_g, void *const *rk_args)", (int)f->name.len, f->name.ptr);
    rk__emit_line(e, "%s", h.buf);
    rk__out_free(&h);
    rk__emit_line(e, "{");
    e->indent++;
    if (f->nparams == 0) {
        rk__emit_line(e, "(void)rk_args;");
    }
    rk__out_printf(&h, "%s%.*s(%s", f->kind == RK_KK_STENCIL ? "" : "return ", (int)f->name.len, f->name.ptr,
                   f->kind == RK_KK_STENCIL ? "" : "rk_g");
    for (uint32_t i = 0; i < f->nparams; i++) {
        rk__out_puts(&h, i > 0 || f->kind != RK_KK_STENCIL ? ", *(" : "*(");
        rk__emit_type(e, &h, f->params[i]->type, f->pos);
        rk__out_printf(&h, " const *)rk_args[%u]", i);
    }
    if (f->kind == RK_KK_STENCIL) {
        rk__out_printf(&h, "%srk_g->size[0], rk_g->size[1], rk_g->size[2], rk_g->first, rk_g->last);",
                       f->nparams ? ", " : "");
        rk__emit_line(e, "%s", h.buf);
        rk__emit_line(e, "return 0;");
    } else {
        rk__out_puts(&h, ");");
        rk__emit_line(e, "%s", h.buf);
    }
    rk__out_free(&h);
    e->indent--;
    rk__emit_line(e, "}");
    rk__emit_line(e, "%s", "");
}

static void global_kernel(rk__emitter *e, const rk__ir_func *f)
{
    const char *n;
    rk__out name = { 0 }, h = { 0 };
    int threads = rk__emit_uses(e, f, "rk_barrier");
    unsigned wg = f->workgroup[0] * f->workgroup[1] * f->workgroup[2];

    rk__out_put(&name, f->name.ptr, f->name.len);
    n = name.buf;
    rk__emit_line(e, "/* @kernel(global, workgroup = %ux%ux%u), line %u. */", f->workgroup[0], f->workgroup[1],
                  f->workgroup[2], f->pos.line);
    if (f->nshared > 0) {
        rk__emit_line(e, "typedef struct %s_shared {", n);
        e->indent++;
        for (uint32_t i = 0; i < f->nshared; i++) {
            rk__out d = { 0 };
            const char *saved = e->shared_prefix;

            e->shared_prefix = "";
            rk__emit_decl(e, &d, f->shared[i], f->pos);
            e->shared_prefix = saved;
            rk__emit_line(e, "%s;", d.buf);
            rk__out_free(&d);
        }
        e->indent--;
        rk__emit_line(e, "} %s_shared;", n);
        rk__emit_line(e, "%s", "");
    }
    rk__out_printf(&h, "static void %s_item(const rk_kctx *rk_ctx%s", n, f->nshared ? ", " : "");
    if (f->nshared) {
        rk__out_printf(&h, "%s_shared *rk_sh", n);
    }
    param_list(e, &h, f, 0);
    rk__out_puts(&h, ")");
    rk__emit_line(e, "%s", h.buf);
    rk__out_free(&h);
    rk__emit_line(e, "{");
    rk__emit_line(e, "    (void)rk_ctx;");
    e->indent++;
    rk__emit_stmts(e, &f->body);
    e->indent--;
    rk__emit_line(e, "}");
    rk__emit_line(e, "%s", "");

    /* The per-group driver. */
    if (threads) {
        rk__emit_line(e, "typedef struct %s_thread {", n);
        rk__emit_line(e, "    rk_kctx ctx;");
        rk__emit_line(e, "    pthread_t tid;");
        rk__emit_line(e, "    rk_gate *gate;");
        if (f->nshared) {
            rk__emit_line(e, "    %s_shared *sh;", n);
        }
        for (uint32_t i = 0; i < f->nparams; i++) {
            rk__out d = { 0 };

            rk__emit_decl(e, &d, f->params[i], f->pos);
            rk__emit_line(e, "    %s;", d.buf);
            rk__out_free(&d);
        }
        rk__emit_line(e, "} %s_thread;", n);
        rk__emit_line(e, "%s", "");
        rk__emit_line(e, "static void *%s_run(void *arg)", n);
        rk__emit_line(e, "{");
        rk__emit_line(e, "    %s_thread *t = arg;", n);
        rk__emit_line(e, "    if (rk_gate_wait(t->gate) < 0) {");
        rk__emit_line(e, "        return NULL;");
        rk__emit_line(e, "    }");
        rk__out_printf(&h, "    %s_item(&t->ctx%s", n, f->nshared ? ", t->sh" : "");
        arg_list(e, &h, f, "t->");
        rk__out_puts(&h, ");");
        rk__emit_line(e, "%s", h.buf);
        rk__out_free(&h);
        rk__emit_line(e, "    return NULL;");
        rk__emit_line(e, "}");
        rk__emit_line(e, "%s", "");
    }
    rk__out_printf(&h, "int %s(const rk_grid *rk_g", n);
    param_list(e, &h, f, 0);
    rk__out_puts(&h, ")");
    rk__emit_line(e, "%s", h.buf);
    rk__out_free(&h);
    rk__emit_line(e, "{");
    e->indent++;
    rk__emit_line(e, "const rk_u32x3 size = { %uu, %uu, %uu };", f->workgroup[0], f->workgroup[1], f->workgroup[2]);
    rk__emit_line(e, "const rk_u32x3 groups = { rk_g->groups[0], rk_g->groups[1], rk_g->groups[2] };");
    rk__emit_line(e, "const uint32_t num_groups = groups.x * groups.y * groups.z;");
    rk__emit_line(e, "int rc = 0;");
    if (threads) {
        rk__emit_line(e, "%s_thread *t = calloc(%uu, sizeof *t);", n, wg);
        rk__emit_line(e, "pthread_barrier_t bar;");
        rk__emit_line(e, "%s", "");
        rk__emit_line(e, "if (t == NULL) {");
        rk__emit_line(e, "    return -1;");
        rk__emit_line(e, "}");
    }
    if (f->nshared) {
        rk__emit_line(e, "%s_shared *sh = malloc(sizeof *sh);", n);
        rk__emit_line(e, "%s", "");
        rk__emit_line(e, "if (sh == NULL) {");
        if (threads) {
            rk__emit_line(e, "    free(t);");
        }
        rk__emit_line(e, "    return -1;");
        rk__emit_line(e, "}");
    }
    rk__emit_line(e, "for (uint32_t g = rk_g->first; g < rk_g->last && g < num_groups && rc == 0; g++) {");
    e->indent++;
    rk__emit_line(e, "const rk_u32x3 gid = { g %% groups.x, g / groups.x %% groups.y, g / (groups.x * groups.y) };");
    if (threads) {
        rk__emit_line(e, "rk_gate gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };");
        rk__emit_line(e, "uint32_t started = 0;");
        rk__emit_line(e, "%s", "");
        rk__emit_line(e, "if (pthread_barrier_init(&bar, NULL, %uu) != 0) {", wg);
        rk__emit_line(e, "    rc = -1;");
        rk__emit_line(e, "    break;");
        rk__emit_line(e, "}");
    }
    if (f->nshared) {
        rk__emit_line(e, "memset(sh, 0, sizeof *sh);");
    }
    rk__emit_line(e, "for (uint32_t l = 0; l < %uu; l++) {", wg);
    e->indent++;
    rk__emit_line(e, "rk_kctx c;");
    rk__emit_line(e, "%s", "");
    rk__emit_line(e, "memset(&c, 0, sizeof c);");
    rk__emit_line(e, "c.local_id = l;");
    rk__emit_line(e, "c.local_id3 = (rk_u32x3){ l %% size.x, l / size.x %% size.y, l / (size.x * size.y) };");
    rk__emit_line(e, "c.group_id = g;");
    rk__emit_line(e, "c.group_id3 = gid;");
    rk__emit_line(e, "c.group_size = %uu;", wg);
    rk__emit_line(e, "c.group_size3 = size;");
    rk__emit_line(e, "c.num_groups = num_groups;");
    rk__emit_line(e, "c.num_groups3 = groups;");
    rk__emit_line(e, "c.global_id3 = (rk_u32x3){ gid.x * size.x + c.local_id3.x, gid.y * size.y + c.local_id3.y,");
    rk__emit_line(e, "                          gid.z * size.z + c.local_id3.z };");
    rk__emit_line(e, "c.global_id = (c.global_id3.z * groups.y * size.y + c.global_id3.y) * groups.x * size.x +");
    rk__emit_line(e, "              c.global_id3.x;");
    rk__emit_line(e, "c.shared_capacity = 65536u;");
    if (threads) {
        rk__emit_line(e, "c.barrier = &bar;");
        rk__emit_line(e, "t[l].ctx = c;");
        rk__emit_line(e, "t[l].gate = &gate;");
        if (f->nshared) {
            rk__emit_line(e, "t[l].sh = sh;");
        }
        for (uint32_t i = 0; i < f->nparams; i++) {
            rk__out v = { 0 };

            rk__emit_var_name(e, &v, f->params[i]);
            rk__emit_line(e, "t[l].%s = %s;", v.buf, v.buf);
            rk__out_free(&v);
        }
        rk__emit_line(e, "if (pthread_create(&t[l].tid, NULL, %s_run, &t[l]) != 0) {", n);
        rk__emit_line(e, "    rc = -1;");
        rk__emit_line(e, "    break;");
        rk__emit_line(e, "}");
        rk__emit_line(e, "started++;");
    } else {
        rk__out_printf(&h, "%s_item(&c%s", n, f->nshared ? ", sh" : "");
        arg_list(e, &h, f, "");
        rk__out_puts(&h, ");");
        rk__emit_line(e, "%s", h.buf);
        rk__out_free(&h);
    }
    e->indent--;
    rk__emit_line(e, "}");
    if (threads) {
        rk__emit_line(e, "rk_gate_open(&gate, rc == 0 ? 1 : -1);");
        rk__emit_line(e, "for (uint32_t l = 0; l < started; l++) {");
        rk__emit_line(e, "    pthread_join(t[l].tid, NULL);");
        rk__emit_line(e, "}");
        rk__emit_line(e, "pthread_barrier_destroy(&bar);");
    }
    e->indent--;
    rk__emit_line(e, "}");
    if (f->nshared) {
        rk__emit_line(e, "free(sh);");
    }
    if (threads) {
        rk__emit_line(e, "free(t);");
    }
    rk__emit_line(e, "return rc;");
    e->indent--;
    rk__emit_line(e, "}");
    rk__emit_line(e, "%s", "");
    rk__out_free(&name);
    entry(e, f);
}

static void stencil(rk__emitter *e, const rk__ir_func *f)
{
    rk__out h = { 0 };
    unsigned r = f->radius;

    if (f->dims == 2) {
        rk__emit_line(e, "/* @kernel(stencil, radius = %u, dims = 2), line %u: the interior points of rows", r, f->pos.line);
        rk__emit_line(e, " * [y_first, y_last) of an nx x ny grid (nz = 1). */");
    } else {
        rk__emit_line(e, "/* @kernel(stencil, radius = %u, dims = %u), line %u: the interior points of planes", r,
                      f->dims, f->pos.line);
        rk__emit_line(e, " * [z_first, z_last) of an nx x ny x nz grid. */");
    }
    rk__out_puts(&h, "void ");
    rk__out_put(&h, f->name.ptr, f->name.len);
    rk__out_puts(&h, "(");
    param_list(e, &h, f, 1);
    rk__out_printf(&h, ", uint32_t nx, uint32_t ny, uint32_t nz, uint32_t %s_first, uint32_t %s_last)",
                   f->dims == 2 ? "y" : "z", f->dims == 2 ? "y" : "z");
    rk__emit_line(e, "%s", h.buf);
    rk__out_free(&h);
    rk__emit_line(e, "{");
    e->indent++;
    rk__emit_line(e, "const rk_u32x3 rk_grid_size = { nx, ny, nz };");
    rk__emit_line(e, "const ptrdiff_t rk_sy = (ptrdiff_t)nx, rk_sz = (ptrdiff_t)nx * (ptrdiff_t)ny;");
    rk__emit_line(e, "const uint32_t r = %uu, rz = %uu;", r, f->dims == 3 ? r : 0);
    rk__emit_line(e, "%s", "");
    rk__emit_line(e, "(void)rk_grid_size;");
    rk__emit_line(e, "if (nx <= 2 * r || ny <= 2 * r || nz <= 2 * rz) {");
    rk__emit_line(e, "    return;");
    rk__emit_line(e, "}");
    if (f->dims == 2) {
        /* A 2D grid has one plane: it is split across threads by rows. */
        rk__emit_line(e, "for (uint32_t z = 0; z < nz; z++) {");
        rk__emit_line(e, "    for (uint32_t y = y_first < r ? r : y_first; y < y_last && y < ny - r; y++) {");
    } else {
        rk__emit_line(e, "for (uint32_t z = z_first < rz ? rz : z_first; z < z_last && z < nz - rz; z++) {");
        rk__emit_line(e, "    for (uint32_t y = r; y < ny - r; y++) {");
    }
    rk__emit_line(e, "        for (uint32_t x = r; x < nx - r; x++) {");
    e->indent += 3;
    rk__emit_line(e, "const rk_u32x3 rk_grid_pos = { x, y, z };");
    rk__emit_line(e, "const ptrdiff_t rk_c = (ptrdiff_t)z * rk_sz + (ptrdiff_t)y * rk_sy + (ptrdiff_t)x;");
    rk__emit_line(e, "%s", "");
    rk__emit_line(e, "(void)rk_grid_pos;");
    rk__emit_line(e, "(void)rk_c;");
    rk__emit_block(e, &f->body);
    e->indent -= 3;
    rk__emit_line(e, "        }");
    rk__emit_line(e, "    }");
    rk__emit_line(e, "}");
    e->indent--;
    rk__emit_line(e, "}");
    rk__emit_line(e, "%s", "");
    entry(e, f);
}

static void helper(rk__emitter *e, const rk__ir_func *f) { rk__emit_helper(e, f, "static "); }

static void ring(rk__emitter *e, const rk__ir_func *f)
{
    rk__emit_ring(e, f, "int ", "rk_actor_ctx", "rk_actor_state", "rk_actor_state_size", "an rk_actor_fn (actor.h)");
}

static void vec_name(rk__out *o, rk__ty_kind k, unsigned n)
{
    static const char *const c[] = { [RK_TY_I32] = "i32", [RK_TY_U32] = "u32", [RK_TY_I64] = "i64",
                                     [RK_TY_U64] = "u64", [RK_TY_F32] = "f32", [RK_TY_F64] = "f64" };

    rk__out_printf(o, "rk_%sx%u", c[k], n);
}

static const char *const entry_names[] = { "rk_ctx", NULL };

static const rk__emit_lang c_lang = {
    .flags = 0,
    .scalar = { [RK_TY_VOID] = "void", [RK_TY_BOOL] = "bool", [RK_TY_I32] = "int32_t", [RK_TY_U32] = "uint32_t",
                [RK_TY_I64] = "int64_t", [RK_TY_U64] = "uint64_t", [RK_TY_F32] = "float", [RK_TY_F64] = "double" },
    .int_sfx = { "", "u", "ll", "ull" },
    .int_min = { "(-2147483647 - 1)", "(-9223372036854775807ll - 1)" },
    .float_sfx = { "f", "" },
    .nonfinite = { { "((float)NAN)", "((float)INFINITY)" }, { "((double)NAN)", "((double)INFINITY)" } },
    .zero_agg = "{ 0 }",
    .ctor = { "(", "){ ", " }" },
    .entry_names = entry_names,
    .vec_name = vec_name,
    .pieces = c_pieces,
    .npieces = sizeof c_pieces / sizeof c_pieces[0],
    .provided = c_provided,
    .shared_prefix = "rk_sh->",
    .func = { [RK_KK_NONE] = helper, [RK_KK_GLOBAL] = global_kernel, [RK_KK_STENCIL] = stencil,
              [RK_KK_RING] = ring },
};

void rk__emit_c_module(rk__emitter *e, rk__out *out)
{
    rk__out body = { 0 };
    int has_ring = 0, has_threads = 0;

    rk__emit_begin(e, &c_lang, &body);
    for (const rk__ir_func *f = e->m->funcs; f; f = f->next) {
        has_ring |= f->kind == RK_KK_RING;
        has_threads |= f->kind == RK_KK_GLOBAL && rk__emit_uses(e, f, "rk_barrier");
    }
    rk__emit_structs(e, "_Static_assert");
    rk__emit_consts(e, "static ");
    rk__emit_funcs(e);
    rk__out_puts(out, "/* Generated by ringkernel codegen (portable C11) from a .rk file: do not edit. */\n");
    rk__out_puts(out, "#define _POSIX_C_SOURCE 200809L\n\n");
    rk__out_puts(out, "#include <math.h>\n#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n"
                      "#include <stdlib.h>\n#include <string.h>\n#include <time.h>\n");
    if (has_threads) {
        rk__out_puts(out, "#include <pthread.h>\n");
    }
    if (has_ring) {
        rk__out_puts(out, "\n#include <ringkernel/actor.h>\n#include <ringkernel/k2k.h>\n");
    }
    rk__out_puts(out, "\n");
    rk__emit_finish(e, &body, out);
}
