/* k2k_gpu.cu - the GPU section of k2k_bench (k2k.h): K2K on the device, side by side in one run.
 *
 *   throughput (raw inbox)  many producer/consumer warp pairs, one inbox each (the rk_k2k_ring protocol of
 *                           cuda.h: claim only with room, write, publish the sequence word; the consumer
 *                           acquires, reads, releases), all SMs busy, 64-byte messages (an envelope). Two
 *                           variants: a warp claims 32 slots with one CAS (batched), or each thread claims its
 *                           own slot (what rk_k2k_send does: one claim per message). Timed with CUDA events
 *                           around the launch: from the first claim to the last release, plus one launch.
 *   ping-pong (raw inbox)   thread 0 of block 0 and of block 1 (two SMs) bounce one 64-byte message through
 *                           two inboxes; each round trip timed on the SM's clock (converted with the
 *                           %globaltimer span of the whole run): p50/p99/min.
 *   ping-pong (actors)      two resident GPU actors bounce a message with rk_k2k_send through the runtime's
 *                           device loop: mean round trip from the device clock (first send to last receive).
 *   traditional hop         what a kernel-to-kernel hand-off costs without resident kernels: launch an empty
 *                           kernel and synchronise (one hop; a round trip is two).
 * Goals (issue [3]): aggregate K2K throughput >= 10 G msg/s; ping-pong p50 <= 1 us.
 */
#include <algorithm>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

#include "k2k.h"
#include "ringkernel/device.cuh"
#include "ringkernel/ringkernel.h"

#define CK(call)                                                                                          \
    do {                                                                                                  \
        cudaError_t e_ = (call);                                                                          \
        if (e_ != cudaSuccess) {                                                                          \
            fprintf(out, "GPU K2K: %s failed: %s\n", #call, cudaGetErrorString(e_));                     \
            return 1;                                                                                     \
        }                                                                                                 \
    } while (0)

/* ---- Rings in one device allocation ------------------------------------------------------------------ */

/* n rings of cap 64-byte slots: headers, then each ring's sequence words and slots. Returns the headers. */
static cudaError_t make_rings(uint32_t n, uint32_t cap, rk_k2k_ring **rings, void **mem)
{
    const size_t per = cap * sizeof(uint64_t) + (size_t)cap * 64;
    const size_t hdrs = n * sizeof(rk_k2k_ring);
    uint8_t *d = NULL;
    cudaError_t e = cudaMalloc((void **)&d, hdrs + n * per);
    if (e != cudaSuccess)
        return e;
    std::vector<uint8_t> h(hdrs + n * per, 0);
    for (uint32_t r = 0; r < n; r++) {
        rk_k2k_ring *hdr = (rk_k2k_ring *)(h.data() + r * sizeof(rk_k2k_ring));
        uint8_t *base = d + hdrs + r * per;
        hdr->seq = (uint64_t *)base;
        hdr->slots = base + cap * sizeof(uint64_t);
        hdr->mask = cap - 1;
        hdr->slot_shift = 6;
        hdr->payload_max = 0;
        hdr->kernel_id = r + 1;
        uint64_t *seq = (uint64_t *)(h.data() + hdrs + r * per);
        for (uint64_t p = 0; p < cap; p++)
            seq[p] = p;
    }
    e = cudaMemcpy(d, h.data(), h.size(), cudaMemcpyHostToDevice);
    *rings = (rk_k2k_ring *)d;
    *mem = d;
    return e;
}

/* ---- Throughput ----------------------------------------------------------------------------------------- */

/* Even warps produce into ring (block, warp/2), odd warps consume it. batched: one claim of 32 slots per
 * warp; else one claim per thread. The consumer checks every message's number (bad counts mismatches). */
__global__ void tput_kernel(rk_k2k_ring *rings, uint64_t per_pair, int batched, unsigned long long *bad)
{
    const uint32_t warp = threadIdx.x >> 5, lane = threadIdx.x & 31u;
    const uint32_t pair = blockIdx.x * (blockDim.x / 64) + warp / 2;
    rk_k2k_view v = rk_k2k_ring_view(&rings[pair]);
    if ((warp & 1u) == 0) {
        for (uint64_t base = 0; base < per_pair; base += 32) {
            uint64_t pos;
            if (batched) {
                uint64_t t = 0;
                for (;;) {
                    if (lane == 0)
                        t = rk_ld_relaxed_gpu_u64(&v.ring->tail);
                    t = __shfl_sync(RK_FULL_MASK, t, 0);
                    /* room for all 32: every slot free for its position (acquire: after the consumer's reads) */
                    int ok = rk_ld_acquire_gpu_u64(&v.seq[(t + lane) & v.mask]) == t + lane;
                    if (__all_sync(RK_FULL_MASK, ok)) {
                        uint64_t prev = 0;
                        if (lane == 0)
                            prev = atomicCAS((unsigned long long *)&v.ring->tail, t, t + 32);
                        if (__shfl_sync(RK_FULL_MASK, prev, 0) == t)
                            break;
                    }
                }
                pos = t + lane;
            } else {
                while (rk_k2k_ring_claim(&v, &pos) != 0)
                    ;
            }
            uint4 *e = (uint4 *)rk_k2k_ring_slot(&v, pos);
            const uint64_t n = base + lane;
            e[0] = make_uint4(RK_ENVELOPE_MAGIC | (RK_ABI_VERSION << 16), 0, 0, 0);
            e[1] = make_uint4((uint32_t)n, (uint32_t)(n >> 32), pair, 0);
            e[2] = make_uint4(0, 0, 0, 0);
            e[3] = make_uint4(0, 0, (uint32_t)pos, 0);
            rk_k2k_ring_publish(&v, pos);
        }
        return;
    }
    uint64_t head = 0, mine = 0;
    unsigned long long wrong = 0;
    while (head < per_pair) {
        uint64_t s = rk_ld_relaxed_gpu_u64(&v.seq[(head + lane) & v.mask]);
        uint32_t ready = __ballot_sync(RK_FULL_MASK, s == head + lane + 1);
        uint32_t k = __ffs(~ready) - 1; /* the ready prefix */
        if (ready == RK_FULL_MASK)
            k = 32;
        if (k == 0)
            continue;
        asm volatile("fence.acq_rel.gpu;" ::: "memory"); /* the loads above acquire (KQ3) */
        if (lane < k) {
            const uint4 *e = (const uint4 *)rk_k2k_ring_slot(&v, head + lane);
            uint4 w = e[1];
            uint32_t p = e[3].z;
            if (w.z != pair || p != (uint32_t)(head + lane))
                wrong++;
            mine++;
            rk_k2k_ring_release(&v, head + lane);
        }
        head += k;
    }
    (void)mine;
    if (wrong)
        atomicAdd(bad, wrong);
}

/* ---- Raw ping-pong ------------------------------------------------------------------------------------- */

__global__ void pingpong_kernel(rk_k2k_ring *rings, uint32_t n, unsigned long long *cycles, unsigned long long *span)
{
    if (threadIdx.x != 0)
        return;
    rk_k2k_view to = rk_k2k_ring_view(&rings[blockIdx.x == 0 ? 0 : 1]);
    rk_k2k_view from = rk_k2k_ring_view(&rings[blockIdx.x == 0 ? 1 : 0]);
    uint64_t t0 = rk_globaltimer(), c0 = clock64();
    for (uint32_t i = 0; i < n; i++) {
        long long start = clock64();
        uint64_t pos;
        if (blockIdx.x == 0) {
            while (rk_k2k_ring_claim(&to, &pos) != 0)
                ;
            uint4 *e = (uint4 *)rk_k2k_ring_slot(&to, pos);
            e[0] = make_uint4(RK_ENVELOPE_MAGIC | (RK_ABI_VERSION << 16), 0, i, 0);
            rk_k2k_ring_publish(&to, pos);
            while (!rk_k2k_ring_ready(&from, i))
                ;
            const int echoed = ((const uint4 *)rk_k2k_ring_slot(&from, i))[0].z == i; /* our message back */
            rk_k2k_ring_release(&from, i);
            cycles[i] = echoed ? (unsigned long long)(clock64() - start) : 0; /* 0: a wrong message (reported) */
        } else {
            while (!rk_k2k_ring_ready(&from, i))
                ;
            const uint4 m = ((const uint4 *)rk_k2k_ring_slot(&from, i))[0]; /* after the acquire in ready */
            rk_k2k_ring_release(&from, i);
            while (rk_k2k_ring_claim(&to, &pos) != 0)
                ;
            ((uint4 *)rk_k2k_ring_slot(&to, pos))[0] = m;
            rk_k2k_ring_publish(&to, pos);
        }
    }
    if (blockIdx.x == 0) {
        span[0] = rk_globaltimer() - t0;
        span[1] = clock64() - c0;
    }
}

/* ---- Actors: ping-pong through the runtime's device loop -------------------------------------------- */

#define PP_T_GO 0x7070676full   /* host: {peer, rounds} */
#define PP_T_BALL 0x7070626cull /* K2K: {round} */
#define PP_T_GET 0x70706774ull  /* host: reply pp_state */

typedef struct pp_state {
    uint64_t peer, rounds, t_start, t_end, done, errors;
} pp_state;

__device__ static int pp_handler(rk_ctx *ctx, const rk_envelope *env, const void *payload)
{
    pp_state *s = (pp_state *)rk_state(ctx);
    if (env->type_id == PP_T_GO) {
        const uint64_t *p = (const uint64_t *)payload;
        s->peer = p[0];
        s->rounds = p[1];
        s->done = 0;
        if (s->rounds == 0)
            return 0; /* configures the peer only */
        s->t_start = rk_globaltimer();
        uint64_t round = 0;
        return rk_k2k_send(ctx, s->peer, PP_T_BALL, &round, sizeof round);
    }
    if (env->type_id == PP_T_BALL) {
        uint64_t round = *(const uint64_t *)payload;
        if (s->rounds != 0) { /* the initiator: one round trip completed */
            if (++round >= s->rounds) {
                s->t_end = rk_globaltimer();
                s->done = 1;
                return 0;
            }
        }
        int rc = rk_k2k_send(ctx, s->peer, PP_T_BALL, &round, sizeof round);
        if (rc != 0)
            s->errors++;
        return rc;
    }
    if (env->type_id == PP_T_GET) {
        pp_state copy = *s;
        return rk_reply(ctx, env->type_id, &copy, sizeof copy);
    }
    return RK_EINVAL;
}
RK_DEVICE_ACTOR_ORDERED(k2k_bench_pingpong, pp_handler, sizeof(pp_state))

__global__ void empty_kernel(int *p)
{
    if (p != NULL && threadIdx.x == 0)
        *p = 1;
}

static double pct(std::vector<double> &v, double q)
{
    std::sort(v.begin(), v.end());
    return v[(size_t)(q * (double)(v.size() - 1))];
}

static int actor_pingpong(FILE *out, uint64_t rounds, double *rt_ns)
{
    rk_runtime *rt = NULL;
    rk_runtime_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.backend = RK_BACKEND_CUDA;
    rk_kernel *a = NULL, *b = NULL;
    rk_launch_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.block_size = 32;
    int rc = rk_runtime_create(&rt, &ro);
    if (rc == 0)
        rc = rk_kernel_launch(rt, "k2k_bench_pingpong", &lo, &a);
    if (rc == 0)
        rc = rk_kernel_launch(rt, "k2k_bench_pingpong", &lo, &b);
    if (rc != 0) {
        fprintf(out, "GPU K2K actors: %s: %s\n", rk_err_name(rc), rk_last_error());
        if (rt)
            rk_runtime_destroy(rt);
        return 1;
    }
    uint64_t go_b[2] = { rk_kernel_addr(a), 0 }, go_a[2] = { rk_kernel_addr(b), rounds };
    rk_msg m;
    memset(&m, 0, sizeof m);
    m.env.type_id = PP_T_GO;
    m.env.payload_len = sizeof go_b;
    m.payload = go_b;
    rc = rk_send(b, &m, RK_TIMEOUT_MS(5000));
    m.payload = go_a;
    if (rc == 0)
        rc = rk_send(a, &m, RK_TIMEOUT_MS(5000));
    pp_state st;
    memset(&st, 0, sizeof st);
    const int64_t deadline = rk_monotonic_ns() + 60 * (int64_t)1000000000; /* 100k round trips take seconds */
    while (rc == 0 && !st.done && rk_monotonic_ns() < deadline) {
        rk_msg q, r;
        memset(&q, 0, sizeof q);
        memset(&r, 0, sizeof r);
        q.env.type_id = PP_T_GET;
        r.payload = &st;
        r.payload_cap = sizeof st;
        rc = rk_call(a, &q, &r, RK_TIMEOUT_MS(5000));
    }
    if (rc != 0 || !st.done || st.errors != 0) {
        fprintf(out, "GPU K2K actors: ping-pong did not finish (%s, done %llu, errors %llu)\n", rk_err_name(rc),
                (unsigned long long)st.done, (unsigned long long)st.errors);
        rk_runtime_destroy(rt);
        return 1;
    }
    *rt_ns = (double)(st.t_end - st.t_start) / (double)rounds;
    rk_kernel_stats sa;
    rk_kernel_terminate(a, RK_TIMEOUT_MS(5000));
    rk_kernel_terminate(b, RK_TIMEOUT_MS(5000));
    rk_kernel_stats_get(a, &sa);
    fprintf(out, "  actors: kernel A K2K in %llu, out %llu\n", (unsigned long long)sa.k2k_in,
            (unsigned long long)sa.k2k_out);
    rk_runtime_destroy(rt);
    return 0;
}

extern "C" int k2k_bench_gpu(FILE *out, int quick)
{
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        cudaGetLastError();
        fprintf(out, "\nGPU K2K: skipped (no usable CUDA device)\n");
        return 77;
    }
    cudaDeviceProp p;
    int drv = 0;
    CK(cudaGetDeviceProperties(&p, 0));
    cudaDriverGetVersion(&drv);
    fprintf(out, "\nGPU K2K on %s (%d SMs, driver API %d.%d)\n", p.name, p.multiProcessorCount, drv / 1000,
            (drv % 1000) / 10);

    /* Throughput: 8 warps per block = 4 pairs; blocks = 2 x SMs (both co-resident). */
    const uint32_t threads = 256, pairs_per_block = threads / 64;
    const uint32_t blocks = 2 * (uint32_t)p.multiProcessorCount, pairs = blocks * pairs_per_block;
    const uint64_t per_pair = quick ? (1u << 14) : (1u << 20);
    const uint32_t cap = 1024;
    unsigned long long *bad = NULL;
    CK(cudaMalloc((void **)&bad, sizeof *bad));
    for (int batched = 1; batched >= 0; batched--) {
        rk_k2k_ring *rings;
        void *mem;
        CK(make_rings(pairs, cap, &rings, &mem));
        CK(cudaMemset(bad, 0, sizeof *bad));
        cudaEvent_t e0, e1;
        CK(cudaEventCreate(&e0));
        CK(cudaEventCreate(&e1));
        const uint64_t n = per_pair / (batched ? 1 : 4); /* per-thread claims are slower: fewer messages */
        CK(cudaEventRecord(e0));
        tput_kernel<<<blocks, threads>>>(rings, n, batched, bad);
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        CK(cudaGetLastError());
        float ms = 0;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        unsigned long long wrong = 0;
        CK(cudaMemcpy(&wrong, bad, sizeof wrong, cudaMemcpyDeviceToHost));
        const double msgs = (double)pairs * (double)n, rate = msgs / (ms / 1e3);
        fprintf(out, "  throughput, %s: %u pairs x %llu msgs of 64 B = %.0f M msgs in %.2f ms: %.2f G msg/s "
                     "(%.0f GB/s written + read); bad %llu\n",
                batched ? "warp claims 32 slots (batched)" : "one claim per message (as rk_k2k_send)", pairs,
                (unsigned long long)n, msgs / 1e6, ms, rate / 1e9, rate * 128 / 1e9, wrong);
        k2k_bench_record("gpu", batched ? "k2k throughput batched" : "k2k throughput per-message", rate, "msg/s",
                         (uint64_t)msgs);
        if (batched)
            fprintf(out, "  goal >= 10 G msg/s aggregate: %s (%.2fx)\n", rate >= 10e9 ? "met" : "MISSED",
                    rate / 10e9);
        cudaEventDestroy(e0);
        cudaEventDestroy(e1);
        cudaFree(mem);
        if (wrong != 0)
            return 1;
    }
    cudaFree(bad);

    /* Raw ping-pong between two SMs. */
    {
        const uint32_t n = quick ? 2000 : 100000;
        rk_k2k_ring *rings;
        void *mem;
        unsigned long long *cyc = NULL, *span = NULL;
        CK(make_rings(2, 1u << 17, &rings, &mem)); /* no wrap-around: position i is message i */
        CK(cudaMalloc((void **)&cyc, n * sizeof *cyc));
        CK(cudaMalloc((void **)&span, 2 * sizeof *span));
        void *args[] = { &rings, (void *)&n, &cyc, &span };
        CK(cudaLaunchCooperativeKernel((const void *)pingpong_kernel, dim3(2), dim3(32), args, 0, 0));
        CK(cudaDeviceSynchronize());
        std::vector<unsigned long long> c(n);
        unsigned long long sp[2];
        CK(cudaMemcpy(c.data(), cyc, n * sizeof *cyc, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(sp, span, sizeof sp, cudaMemcpyDeviceToHost));
        const double ns_per_cycle = (double)sp[0] / (double)sp[1];
        std::vector<double> ns;
        uint32_t wrong = 0;
        for (uint32_t i = 0; i < n; i++)
            wrong += c[i] == 0;
        if (wrong != 0) {
            fprintf(out, "GPU K2K: ping-pong: %u of %u round trips brought back a wrong message\n", wrong, n);
            return 1;
        }
        for (uint32_t i = n / 10; i < n; i++) /* the first 10% warm up */
            ns.push_back((double)c[i] * ns_per_cycle);
        double p50 = pct(ns, 0.5), p99 = pct(ns, 0.99), mn = ns[0];
        fprintf(out, "  ping-pong, raw inbox, 2 SMs: %zu round trips of 64 B: p50 %.0f ns, p99 %.0f ns, min %.0f ns "
                     "(SM clock, %.3f ns/cycle from %%globaltimer)\n",
                ns.size(), p50, p99, mn, ns_per_cycle);
        fprintf(out, "  goal p50 <= 1 us: %s\n", p50 <= 1000 ? "met" : "MISSED");
        k2k_bench_record("gpu", "k2k ping-pong raw p50", p50, "ns", ns.size());
        k2k_bench_record("gpu", "k2k ping-pong raw p99", p99, "ns", ns.size());
        cudaFree(cyc);
        cudaFree(span);
        cudaFree(mem);
    }

    /* Traditional hop: launch + synchronise an empty kernel. */
    double trad_ns;
    {
        const int n = quick ? 200 : 5000;
        cudaStream_t s;
        CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
        std::vector<double> v;
        for (int i = 0; i < n; i++) {
            int64_t t0 = rk_monotonic_ns();
            empty_kernel<<<1, 32, 0, s>>>(NULL);
            CK(cudaStreamSynchronize(s));
            v.push_back((double)(rk_monotonic_ns() - t0));
        }
        cudaStreamDestroy(s);
        trad_ns = pct(v, 0.5);
        fprintf(out, "  traditional hop (launch an empty kernel + synchronise, host clock): p50 %.0f ns; a round "
                     "trip is two: %.0f ns\n",
                trad_ns, 2 * trad_ns);
        k2k_bench_record("gpu", "traditional hop p50", trad_ns, "ns", (uint64_t)n);
    }

    /* Actors through the device loop. */
    double actor_ns = 0;
    if (actor_pingpong(out, quick ? 2000 : 100000, &actor_ns) != 0)
        return 1;
    fprintf(out, "  ping-pong, two resident actors (rk_k2k_send through the device loop): mean round trip %.0f ns "
                 "(device clock, first send to last receive); traditional round trip / ours: %.1fx\n",
            actor_ns, 2 * trad_ns / actor_ns);
    k2k_bench_record("gpu", "k2k ping-pong actors mean", actor_ns, "ns", quick ? 2000 : 100000);
    return 0;
}
