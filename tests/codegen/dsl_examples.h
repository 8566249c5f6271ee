/* dsl_examples.h - the four example kernels of docs/DSL.md §8, verbatim, shared by the codegen tests. */
#ifndef RK_DSL_EXAMPLES_H
#define RK_DSL_EXAMPLES_H

static const char saxpy_rk[] =
    "// y = a * x + y over n elements.\n"
    "@kernel(global)\n"
    "void saxpy(global f32 *y, global const f32 *x, f32 a, u32 n) {\n"
    "    u32 i = global_id();\n"
    "    if (i < n) {\n"
    "        y[i] = a * x[i] + y[i];\n"
    "    }\n"
    "}\n";

static const char sum_rk[] =
    "/* Sums n u32 values into *total: a tree in shared memory per\n"
    "   workgroup, then one atomic add per workgroup. */\n"
    "@kernel(global, workgroup = 256)\n"
    "void sum_u32(global const u32 *x, global u32 *total, u32 n) {\n"
    "    shared u32 part[256];\n"
    "    u32 t = local_id();\n"
    "    u32 i = global_id();\n"
    "    part[t] = i < n ? x[i] : 0;\n"
    "    barrier();\n"
    "    for (u32 s = 128; s > 0; s >>= 1) {\n"
    "        if (t < s) {\n"
    "            part[t] += part[t + s];\n"
    "        }\n"
    "        barrier();\n"
    "    }\n"
    "    if (t == 0) {\n"
    "        atomic_add(total, part[0]);\n"
    "    }\n"
    "}\n";

static const char heat7_rk[] =
    "// One Jacobi step of the heat equation: v = u + alpha * laplacian(u).\n"
    "@kernel(stencil, radius = 1)\n"
    "void heat7(global const f32 *u, global f32 *v, f32 alpha) {\n"
    "    f32 c = at(u, 0, 0, 0);\n"
    "    f32 lap = at(u, -1, 0, 0) + at(u, 1, 0, 0)\n"
    "            + at(u, 0, -1, 0) + at(u, 0, 1, 0)\n"
    "            + at(u, 0, 0, -1) + at(u, 0, 0, 1) - 6.0f * c;\n"
    "    store(v, c + alpha * lap);\n"
    "}\n";

static const char echo_rk[] =
    "struct Ping {\n"
    "    u64 value;\n"
    "    u32 hops;\n"
    "    u32 reserved;\n"
    "};\n"
    "\n"
    "struct Stats {\n"
    "    u64 handled;\n"
    "    u64 last_physical;\n"
    "};\n"
    "\n"
    "// Counts pings; answers each request with the ping one hop further.\n"
    "@kernel(ring)\n"
    "i32 echo(global const envelope *env, global const Ping *in, global Stats *st) {\n"
    "    st->handled += 1;\n"
    "    st->last_physical = hlc_now().physical;\n"
    "    if ((env->flags & ENV_REQUEST) == 0) {\n"
    "        return 0;\n"
    "    }\n"
    "    Ping out = *in;\n"
    "    out.hops += 1u;\n"
    "    if (out.hops > 0xFFFFu) {\n"
    "        publish(\"alerts/ping\", &out);\n"
    "    }\n"
    "    return reply(&out);\n"
    "}\n";

#endif /* RK_DSL_EXAMPLES_H */
