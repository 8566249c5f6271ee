/* emit_cuda.c - the CUDA C target (docs/DSL.md "Code generation").
 *
 * A global kernel becomes an extern "C" __global__ function with __launch_bounds__ of its workgroup size;
 * its shared variables are __shared__ arrays; the indexing intrinsics read threadIdx/blockIdx/blockDim
 * (their intrinsics.def spellings).
 *
 * A stencil becomes a __global__ function taking the grid size as a trailing `uint3 rk_grid_size`: one
 * thread per interior point (the launch covers (n - 2 * radius) points per axis, blocks of the workgroup
 * shape). By default it reads neighbours straight from global memory (L1 and L2 serve the halo). With
 * `tile = true` each read-only buffer the body reads with at() is staged in shared memory first:
 *   T1  The block's tile is its own points plus a halo of `radius` on each side of each stencil axis
 *       ((X + 2r) x (Y + 2r) x (Z + 2r) in 3D; z is not widened in 2D), at grid coordinates from
 *       blockIdx * blockDim on; the thread at threadIdx reads its point (threadIdx + r) of the tile.
 *   T2  Every thread of the block helps load the tile and meets the others at __syncthreads() before the
 *       interior guard, so threads outside the interior (edge blocks) still load and reach the barrier.
 *       Tile cells outside the grid are not loaded; no interior point reads them (its neighbours are at
 *       most radius away, so inside the grid).
 *   T3  Only buffers the kernel never writes are tiled (a buffer it writes could be read after another
 *       thread's store, which the tile would not see); the others, and plain p[i] indexing, read global
 *       memory as without tiles. So the results are the same bits with and without tiles.
 *
 * A ring handler becomes `__device__ int R(rk_ctx *, const rk_envelope *, const void *)`, the handler
 * type of ringkernel/device.cuh, for RK_DEVICE_ACTOR: its message is the payload, its state rk_state().
 *
 * Helper functions become static __device__ functions. Persistent stencils are not lowered by this version.
 */
#include <string.h>

#include "codegen/emit.h"

#define RK__CU_WARP(N, OP, T)                                                                              \
    "__device__ __forceinline__ " T " rk_warp_" N "(" T " v)\n"                                              \
    "{\n"                                                                                                  \
    "    for (int d = 16; d > 0; d >>= 1)\n"                                                               \
    "        v = " OP ";\n"                                                                                \
    "    return v;\n"                                                                                      \
    "}\n"

#define RK__CU_WARP3(N, OP)                                                                                \
    RK__CU_WARP(N, OP, "int") RK__CU_WARP(N, OP, "unsigned") RK__CU_WARP(N, OP, "float")

#define RK__CU_ATOMIC_LS(T)                                                                                \
    "__device__ __forceinline__ " T " rk_atomic_load(" T " *p) { return *(volatile " T " *)p; }\n"           \
    "__device__ __forceinline__ void rk_atomic_store(" T " *p, " T " v) { *(volatile " T " *)p = v; }\n"

static const rk__emit_piece cuda_pieces[] = {
    { "rk_atomic_load",
      "/* Relaxed loads and stores: volatile accesses of naturally aligned words are single transactions. */\n"
      RK__CU_ATOMIC_LS("int") RK__CU_ATOMIC_LS("unsigned") RK__CU_ATOMIC_LS("unsigned long long") },
    { "rk_atomic_store", "/* rk_atomic_store: written with rk_atomic_load above. */\n" },
    { "rk_lane_id",
      "__device__ __forceinline__ unsigned rk_lane_id(void)\n"
      "{\n"
      "    return ((threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x) & 31u;\n"
      "}\n" },
    { "rk_warp_sum", "/* Butterfly reductions over the full warp. */\n"
                     RK__CU_WARP3("sum", "v + __shfl_xor_sync(0xffffffffu, v, d)") },
    { "rk_warp_min", RK__CU_WARP3("min", "min(v, __shfl_xor_sync(0xffffffffu, v, d))") },
    { "rk_warp_max", RK__CU_WARP3("max", "max(v, __shfl_xor_sync(0xffffffffu, v, d))") },
    { "rk_warp_prefix_sum",
      "/* Exclusive prefix sum over the warp (Hillis-Steele on the inclusive sum, then minus the lane's own). */\n"
      "#define RK__PREFIX(T)                                                                      \\\n"
      "    __device__ __forceinline__ T rk_warp_prefix_sum(T v)                                    \\\n"
      "    {                                                                                      \\\n"
      "        T s = v;                                                                           \\\n"
      "        for (unsigned d = 1; d < 32; d <<= 1) {                                            \\\n"
      "            T o = __shfl_up_sync(0xffffffffu, s, d);                                       \\\n"
      "            if (rk_lane_id() >= d)                                                         \\\n"
      "                s += o;                                                                    \\\n"
      "        }                                                                                  \\\n"
      "        return s - v;                                                                      \\\n"
      "    }\n"
      "RK__PREFIX(int)\nRK__PREFIX(unsigned)\nRK__PREFIX(float)\n" },
    { "rk_shared_capacity",
      "/* The static shared memory one block may declare without opting in to more. */\n"
      "#define rk_shared_capacity 49152u\n" },
    { "rk_globaltimer",
      "__device__ __forceinline__ unsigned long long rk_globaltimer(void)\n"
      "{\n"
      "    unsigned long long t;\n"
      "    asm volatile(\"mov.u64 %0, %%globaltimer;\" : \"=l\"(t));\n"
      "    return t;\n"
      "}\n" },
    { "rk_hlc_cmp",
      "__device__ __forceinline__ int rk_hlc_cmp(rk_hlc_ts a, rk_hlc_ts b)\n"
      "{\n"
      "    if (a.physical != b.physical)\n"
      "        return a.physical < b.physical ? -1 : 1;\n"
      "    if (a.logical != b.logical)\n"
      "        return a.logical < b.logical ? -1 : 1;\n"
      "    return a.node < b.node ? -1 : a.node > b.node;\n"
      "}\n" },
    { "rk_send",
      "/* The device runtime has no send from inside a handler in this version: the call reports RK_ENOTSUP. */\n"
      "__device__ __forceinline__ int rk_send(rk_ctx *c, unsigned long long to, const void *m)\n"
      "{\n"
      "    (void)c, (void)to, (void)m;\n"
      "    return RK_ENOTSUP;\n"
      "}\n" },
    { "rk_publish",
      "/* The device runtime has no publish from inside a handler in this version: the call reports\n"
      " * RK_ENOTSUP. */\n"
      "__device__ __forceinline__ int rk_publish(rk_ctx *c, const char *topic, const void *m)\n"
      "{\n"
      "    (void)c, (void)topic, (void)m;\n"
      "    return RK_ENOTSUP;\n"
      "}\n" },
    { "rk_self_addr", "__device__ __forceinline__ unsigned long long rk_self_addr(rk_ctx *c) { return rk_self(c); }\n" },
    { "rk_at",
      "/* The index of a stencil's neighbour: rk_c is the point's linear index, rk_sy and rk_sz the strides. */\n"
      "#define rk_at(dx, dy, dz) (rk_c + (long long)(dz) * rk_sz + (long long)(dy) * rk_sy + (dx))\n" },
};

/* Names the entry points or ringkernel/device.cuh declare. rk_reply has one overload per message struct,
 * written by the module (below), over device.cuh's rk_reply(ctx, type_id, payload, len). */
static const char *const cuda_provided[] = { "rk_ctx", "rk_grid_pos", "rk_grid_size", "rk_c", "rk_hlc_now",
                                             "rk_reply", NULL };

static void params(rk__emitter *e, rk__out *o, const rk__ir_func *f)
{
    for (uint32_t i = 0; i < f->nparams; i++) {
        if (i > 0) {
            rk__out_puts(o, ", ");
        }
        rk__emit_decl(e, o, f->params[i], f->pos);
    }
}

static void global_kernel(rk__emitter *e, const rk__ir_func *f)
{
    rk__out h = { 0 };

    rk__emit_line(e, "/* @kernel(global, workgroup = %ux%ux%u), line %u. */", f->workgroup[0], f->workgroup[1],
                  f->workgroup[2], f->pos.line);
    rk__out_printf(&h, "extern \"C\" __global__ void __launch_bounds__(%u) ",
                   f->workgroup[0] * f->workgroup[1] * f->workgroup[2]);
    rk__out_put(&h, f->name.ptr, f->name.len);
    rk__out_puts(&h, "(");
    params(e, &h, f);
    rk__out_puts(&h, ")");
    rk__emit_line(e, "%s", h.buf);
    rk__out_free(&h);
    rk__emit_block(e, &f->body);
    rk__emit_line(e, "%s", "");
}

/* The shared-memory tiles of one stencil (T1..T3): its tiled buffer parameters and the tile's shape. */
#define RK__CU_MAX_TILES 16
typedef struct cu_tiles {
    const rk__ir_var *buf[RK__CU_MAX_TILES];
    unsigned n;
    unsigned dim[3]; /* the tile's extent per axis: workgroup + 2 * halo */
    unsigned halo[3];
} cu_tiles;

static void tile_scan_block(cu_tiles *t, const rk__ir_block *b);

/* Adds the buffers that at() reads in x to t, when they are read-only parameters (T3). */
static void tile_scan_expr(cu_tiles *t, const rk__ir_expr *x)
{
    if (x == NULL) {
        return;
    }
    switch (x->kind) {
    case RK_IR_NEIGHBOR: {
        const rk__ir_var *v = x->u.nb.buf;
        unsigned i = 0;

        if (v->kind != RK_VAR_PARAM || (v->access & (RK_ACC_WRITE | RK_ACC_ATOMIC)) != 0) {
            return;
        }
        while (i < t->n && t->buf[i] != v) {
            i++;
        }
        if (i == t->n && t->n < RK__CU_MAX_TILES) {
            t->buf[t->n++] = v;
        }
        return;
    }
    case RK_IR_UNARY:
    case RK_IR_BINARY:
    case RK_IR_CAST:
    case RK_IR_INDEX:
    case RK_IR_DEREF:
    case RK_IR_ADDR:
        tile_scan_expr(t, x->u.op.a);
        tile_scan_expr(t, x->kind == RK_IR_BINARY || x->kind == RK_IR_INDEX ? x->u.op.b : NULL);
        return;
    case RK_IR_SELECT:
        tile_scan_expr(t, x->u.sel.c);
        tile_scan_expr(t, x->u.sel.a);
        tile_scan_expr(t, x->u.sel.b);
        return;
    case RK_IR_CALL:
    case RK_IR_CTOR:
        for (uint32_t i = 0; i < x->u.call.nargs; i++) {
            tile_scan_expr(t, x->u.call.args[i]);
        }
        return;
    case RK_IR_INTRIN:
        for (uint32_t i = 0; i < x->u.intr.nargs; i++) {
            tile_scan_expr(t, x->u.intr.args[i]);
        }
        return;
    case RK_IR_FIELD:
        tile_scan_expr(t, x->u.field.base);
        return;
    case RK_IR_SWIZZLE:
        tile_scan_expr(t, x->u.swz.base);
        return;
    default:
        return;
    }
}

static void tile_scan_block(cu_tiles *t, const rk__ir_block *b)
{
    for (const rk__ir_stmt *s = b->head; s != NULL; s = s->next) {
        switch (s->kind) {
        case RK_IR_S_VAR:
            tile_scan_expr(t, s->u.var.init);
            break;
        case RK_IR_S_ASSIGN:
            tile_scan_expr(t, s->u.assign.lhs);
            tile_scan_expr(t, s->u.assign.rhs);
            break;
        case RK_IR_S_EXPR:
        case RK_IR_S_RETURN:
            tile_scan_expr(t, s->u.expr);
            break;
        case RK_IR_S_IF:
            tile_scan_expr(t, s->u.if_s.cond);
            tile_scan_block(t, &s->u.if_s.then_s);
            tile_scan_block(t, &s->u.if_s.else_s);
            break;
        case RK_IR_S_LOOP:
            tile_scan_expr(t, s->u.loop.cond);
            tile_scan_block(t, &s->u.loop.body);
            tile_scan_block(t, &s->u.loop.continuing);
            break;
        case RK_IR_S_BLOCK:
            tile_scan_block(t, &s->u.block);
            break;
        default:
            break;
        }
    }
}

/* at(p, dx, dy, dz) of a tiled buffer: the neighbour's cell of the tile (T1). */
static int tile_neighbor(rk__emitter *e, rk__out *o, const rk__ir_expr *x)
{
    const cu_tiles *t = e->target_data;

    for (unsigned i = 0; t != NULL && i < t->n; i++) {
        if (t->buf[i] == x->u.nb.buf) {
            rk__out_puts(o, "rk_tile_");
            rk__emit_var_name(e, o, x->u.nb.buf);
            rk__out_printf(o, "[rk_tat(%d, %d, %d)]", (int)x->u.nb.off[0], (int)x->u.nb.off[1], (int)x->u.nb.off[2]);
            return 1;
        }
    }
    return 0;
}

/* Declares and loads the tiles (T1, T2); ends with the block's barrier. */
static void tile_load(rk__emitter *e, const rk__ir_func *f, const cu_tiles *t)
{
    const unsigned *wg = f->workgroup, *d = t->dim, *h = t->halo;
    const unsigned cells = d[0] * d[1] * d[2];

    for (unsigned i = 0; i < t->n; i++) {
        rk__out decl = { 0 }, name = { 0 };

        rk__emit_type(e, &decl, t->buf[i]->type->elem, f->pos);
        rk__emit_var_name(e, &name, t->buf[i]);
        rk__emit_line(e, "__shared__ %s rk_tile_%s[%u];", decl.buf ? decl.buf : "", name.buf ? name.buf : "",
                      cells);
        rk__out_free(&decl);
        rk__out_free(&name);
    }
    rk__emit_line(e, "/* Tile cell of the neighbour (dx, dy, dz) of this thread's point. */");
    rk__emit_line(e, "#define rk_tat(dx, dy, dz) \\");
    rk__emit_line(e, "    ((((int)threadIdx.z + %u + (dz)) * %u + ((int)threadIdx.y + %u + (dy))) * %u + "
                     "((int)threadIdx.x + %u + (dx)))", h[2], d[1], h[1], d[0], h[0]);
    rk__emit_line(e, "for (unsigned rk_i = (threadIdx.z * %uu + threadIdx.y) * %uu + threadIdx.x; rk_i < %uu; "
                     "rk_i += %uu) {", wg[1], wg[0], cells,
                  wg[0] * wg[1] * wg[2]);
    e->indent++;
    rk__emit_line(e, "const unsigned long long rk_x = (unsigned long long)blockIdx.x * %uu + rk_i %% %uu,", wg[0],
                  d[0]);
    rk__emit_line(e, "                         rk_y = (unsigned long long)blockIdx.y * %uu + rk_i / %uu %% %uu,",
                  wg[1], d[0], d[1]);
    rk__emit_line(e, "                         rk_z = (unsigned long long)blockIdx.z * %uu + rk_i / %uu;", wg[2],
                  d[0] * d[1]);
    rk__emit_line(e, "if (rk_x < rk_grid_size.x && rk_y < rk_grid_size.y && rk_z < rk_grid_size.z) {");
    e->indent++;
    rk__emit_line(e, "const long long rk_g = (long long)rk_z * rk_sz + (long long)rk_y * rk_sy + (long long)rk_x;");
    for (unsigned i = 0; i < t->n; i++) {
        rk__out name = { 0 };

        rk__emit_var_name(e, &name, t->buf[i]);
        rk__emit_line(e, "rk_tile_%s[rk_i] = %s[rk_g];", name.buf ? name.buf : "", name.buf ? name.buf : "");
        rk__out_free(&name);
    }
    e->indent--;
    rk__emit_line(e, "}");
    e->indent--;
    rk__emit_line(e, "}");
    rk__emit_line(e, "__syncthreads();");
}

static void stencil(rk__emitter *e, const rk__ir_func *f)
{
    rk__out h = { 0 };
    unsigned r = f->radius;
    cu_tiles tiles;

    memset(&tiles, 0, sizeof tiles);
    if (f->tile) {
        uint64_t bytes = 0;

        tile_scan_block(&tiles, &f->body);
        for (int a = 0; a < 3; a++) {
            tiles.halo[a] = a < 2 || f->dims == 3 ? r : 0;
            tiles.dim[a] = f->workgroup[a] + 2 * tiles.halo[a];
        }
        for (unsigned i = 0; i < tiles.n; i++) {
            const rk__ty_kind k = tiles.buf[i]->type->elem->kind; /* at() reads scalars */
            const unsigned size = k == RK_TY_I64 || k == RK_TY_U64 || k == RK_TY_F64 ? 8 : 4;

            bytes += (uint64_t)tiles.dim[0] * tiles.dim[1] * tiles.dim[2] * size;
        }
        if (bytes > 49152) {
            rk__emit_error(e, f->pos, "the shared-memory tiles of stencil '%.*s' need %llu bytes, more than the "
                                      "49152 a block may declare: use a smaller workgroup or 'tile = false'",
                           (int)f->name.len, f->name.ptr, (unsigned long long)bytes);
            return;
        }
    }
    rk__emit_line(e, "/* @kernel(stencil, radius = %u, dims = %u%s), line %u: one thread per interior point of an", r,
                  f->dims, f->tile ? ", tile = true" : "", f->pos.line);
    if (tiles.n > 0) {
        rk__emit_line(e, " * rk_grid_size grid (z = 1 in 2D); launch (n - 2 * radius) points per axis. The block stages");
        rk__emit_line(e, " * a %ux%ux%u tile (its points and the halo) of each buffer it reads with at() in shared memory. */",
                      tiles.dim[0], tiles.dim[1], tiles.dim[2]);
    } else {
        rk__emit_line(e, " * rk_grid_size grid (z = 1 in 2D); launch (n - 2 * radius) points per axis. */");
    }
    rk__out_printf(&h, "extern \"C\" __global__ void __launch_bounds__(%u) ",
                   f->workgroup[0] * f->workgroup[1] * f->workgroup[2]);
    rk__out_put(&h, f->name.ptr, f->name.len);
    rk__out_puts(&h, "(");
    params(e, &h, f);
    rk__out_puts(&h, ", uint3 rk_grid_size)");
    rk__emit_line(e, "%s", h.buf);
    rk__out_free(&h);
    rk__emit_line(e, "{");
    e->indent++;
    rk__emit_line(e, "const uint3 rk_grid_pos = make_uint3(blockIdx.x * blockDim.x + threadIdx.x + %uu,", r);
    rk__emit_line(e, "                                     blockIdx.y * blockDim.y + threadIdx.y + %uu,", r);
    rk__emit_line(e, "                                     blockIdx.z * blockDim.z + threadIdx.z + %uu);",
                  f->dims == 3 ? r : 0);
    rk__emit_line(e, "const long long rk_sy = rk_grid_size.x, rk_sz = (long long)rk_grid_size.x * rk_grid_size.y;");
    rk__emit_line(e, "const long long rk_c = rk_grid_pos.z * rk_sz + rk_grid_pos.y * rk_sy + rk_grid_pos.x;");
    rk__emit_line(e, "%s", "");
    if (tiles.n > 0) {
        tile_load(e, f, &tiles);
        e->target_data = &tiles;
    }
    rk__emit_stencil_guard(e, f, 0);
    rk__emit_stmts(e, &f->body);
    e->target_data = NULL;
    if (tiles.n > 0) {
        rk__emit_line(e, "#undef rk_tat");
    }
    e->indent--;
    rk__emit_line(e, "}");
    rk__emit_line(e, "%s", "");
}

/* rk_reply(rk_ctx, &msg) for each message struct: device.cuh's rk_reply under the request's type id. */
static void reply_overloads(rk__emitter *e, rk__out *out)
{
    for (const rk__ir_struct *st = e->m->structs; st; st = st->next) {
        rk__out_printf(out,
                       "__device__ __forceinline__ int rk_reply(rk_ctx *c, const %.*s *m)\n"
                       "{\n"
                       "    return rk_reply(c, c->req->type_id, m, (uint32_t)sizeof *m);\n"
                       "}\n",
                       (int)st->name.len, st->name.ptr);
    }
    rk__out_puts(out, "\n");
}

static void helper(rk__emitter *e, const rk__ir_func *f) { rk__emit_helper(e, f, "__device__ static "); }

static void ring(rk__emitter *e, const rk__ir_func *f)
{
    rk__emit_ring(e, f, "__device__ int ", "rk_ctx", "rk_state", "rk_state_size",
                  "a device handler for RK_DEVICE_ACTOR (ringkernel/device.cuh)");
}

/* CUDA's own vector types (uint3, float4, longlong2, ...). */
static void vec_name(rk__out *o, rk__ty_kind k, unsigned n)
{
    static const char *const cu[] = { [RK_TY_I32] = "int", [RK_TY_U32] = "uint", [RK_TY_I64] = "longlong",
                                      [RK_TY_U64] = "ulonglong", [RK_TY_F32] = "float", [RK_TY_F64] = "double" };

    rk__out_printf(o, "%s%u", cu[k], n);
}

static const char *const entry_names[] = { "rk_ctx", NULL };

/* CUDA's atomics are overloaded on int, unsigned and unsigned long long (not on uint64_t, which is unsigned
 * long on LP64), so the types are named the way the CUDA headers do. */
static const rk__emit_lang cuda_lang = {
    .flags = 0,
    .scalar = { [RK_TY_VOID] = "void", [RK_TY_BOOL] = "bool", [RK_TY_I32] = "int", [RK_TY_U32] = "unsigned",
                [RK_TY_I64] = "long long", [RK_TY_U64] = "unsigned long long", [RK_TY_F32] = "float",
                [RK_TY_F64] = "double" },
    .int_sfx = { "", "u", "ll", "ull" },
    .int_min = { "(-2147483647 - 1)", "(-9223372036854775807ll - 1)" },
    .float_sfx = { "f", "" },
    .nonfinite = { { "((float)NAN)", "((float)INFINITY)" }, { "((double)NAN)", "((double)INFINITY)" } },
    .shared_kw = "__shared__ ",
    .zero_agg = "{ 0 }",
    .ctor = { "make_", "(", ")" },
    .entry_names = entry_names,
    .vec_name = vec_name,
    .pieces = cuda_pieces,
    .npieces = sizeof cuda_pieces / sizeof cuda_pieces[0],
    .provided = cuda_provided,
    .shared_prefix = "",
    .neighbor = tile_neighbor,
    .func = { [RK_KK_NONE] = helper, [RK_KK_GLOBAL] = global_kernel, [RK_KK_STENCIL] = stencil,
              [RK_KK_RING] = ring },
};

void rk__emit_cuda_module(rk__emitter *e, rk__out *out)
{
    rk__out body = { 0 };
    int has_ring = 0;

    rk__emit_begin(e, &cuda_lang, &body);
    for (const rk__ir_func *f = e->m->funcs; f; f = f->next) {
        has_ring |= f->kind == RK_KK_RING;
    }
    rk__emit_structs(e, "static_assert");
    rk__emit_consts(e, "__device__ static const ");
    rk__emit_funcs(e);
    rk__out_puts(out, "/* Generated by ringkernel codegen (CUDA C) from a .rk file: do not edit. */\n");
    rk__out_puts(out, "#include <math.h>\n#include <stdint.h>\n");
    if (has_ring) {
        rk__out_puts(out, "\n#include <ringkernel/device.cuh>\n");
    }
    rk__out_puts(out, "\n");
    {
        /* With device.cuh included, its rk_globaltimer is the one to use: leave the piece out. */
        rk__emitter pe = *e;
        rk__emit_piece kept[sizeof cuda_pieces / sizeof cuda_pieces[0]];
        size_t n = 0;

        for (size_t i = 0; i < e->npieces; i++) {
            if (!has_ring || strcmp(cuda_pieces[i].name, "rk_globaltimer") != 0) {
                kept[n++] = cuda_pieces[i];
            }
        }
        pe.pieces = kept;
        pe.npieces = n;
        rk__emit_prelude(&pe, body.buf ? body.buf : "", out);
    }
    if (has_ring && body.buf && strstr(body.buf, "rk_reply(") != NULL) {
        /* The structs first: the overloads name them. */
        const char *first_fn = strstr(body.buf, "/* @kernel");
        size_t head = first_fn ? (size_t)(first_fn - body.buf) : 0;

        rk__out_put(out, body.buf, head);
        reply_overloads(e, out);
        rk__out_put(out, body.buf + head, body.len - head);
    } else if (body.buf) {
        rk__out_put(out, body.buf, body.len);
    }
    if (body.oom) {
        out->oom = 1;
    }
    rk__out_free(&body);
}
