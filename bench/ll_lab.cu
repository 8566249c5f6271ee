/*
 * ll_lab.cu - what the LL wire encoding costs on the bus, without the framework (diagnostic).
 *
 * One message in flight between one host thread and one GPU warp through mapped pinned memory, in the
 * LL encoding of abi.h (every 8-byte word: 4 data bytes + a 32-bit flag = position + 1). Variants:
 *   raw       the anchors' probe echo: one 8-byte word each way (the floor of ../shared/anchors).
 *   ll W      W wire words per message each way, one poll in flight (W = 32 is a 128-byte slot).
 *   ll+ctl    the same with a second line (a control word) read in every poll, as rk__device_loop_ll.
 *   ll+work   the same with a fixed busy wait between finding the request and writing the reply: the
 *             slope says how much of each cycle of device work reaches the round trip.
 *   stagger K one warp keeps K polls of the slot in flight, issued a K-th of a bus read apart, so a
 *             request waits a K-th of a read for the next look instead of up to a whole one.
 *   warps K   K warps poll the slot, start-staggered; the first to see the request claims it (shared
 *             memory CAS) and answers.
 * Every figure: wall clock on the host from before the first store of the request to after the last
 * word of the reply was seen with its flag (p50/p99/min over n round trips, after a warm-up).
 *
 * Build: nvcc -O3 -arch=sm_90 -Iinclude -o ll_lab bench/ll_lab.cu (or the ll_lab target); run: ll_lab [n]
 */
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

#include <cuda_runtime.h>

#include "ringkernel/device.cuh"

#define CAP 64u
#define MAXW 32u
#define STOP_WORD 0xdeadbeefu

#define CK(x)                                                                                          \
    do {                                                                                               \
        cudaError_t e_ = (x);                                                                          \
        if (e_ != cudaSuccess) {                                                                       \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));         \
            exit(1);                                                                                   \
        }                                                                                              \
    } while (0)

/* The relaxed system-scope load and store of the device loop (device.cuh: the same instructions). */
__device__ __forceinline__ uint64_t ld_sys(const uint64_t *p) { return rk__ld_relaxed_sys_u64(p); }
__device__ __forceinline__ void st_sys(uint64_t *p, uint64_t v) { rk_st_relaxed_sys_u64(p, v); }

__device__ __forceinline__ void spin(uint32_t cycles)
{
    const long long t = clock64();
    while (clock64() - t < (long long)cycles) {
    }
}

/* Cycles of one dependent sys load of mapped host memory (mean over n), and ns per 1000 cycles. */
__global__ void calib(const uint64_t *p, uint32_t n, unsigned long long *out)
{
    uint64_t acc = 0;
    const long long c0 = clock64();
    uint64_t g0;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(g0));
    for (uint32_t i = 0; i < n; i++)
        acc += ld_sys(p + (acc & 1)); /* dependent: the next address needs this value */
    const long long c1 = clock64();
    uint64_t g1;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(g1));
    out[0] = (unsigned long long)(c1 - c0) / n;
    out[1] = (unsigned long long)((g1 - g0) * 1000 / (uint64_t)(c1 - c0));
    out[2] = acc;
}

/* The anchors' probe echo. */
__global__ void raw_echo(volatile int64_t *h2d, volatile int64_t *d2h, int fence)
{
    if (threadIdx.x != 0)
        return;
    int64_t last = 0;
    for (;;) {
        int64_t v = *h2d;
        if (v == last)
            continue;
        if (v < 0)
            break;
        *d2h = v;
        if (fence)
            __threadfence_system();
        last = v;
    }
}

#define LAB_CTL 1u    /* lane 0 also reads a control line in every poll */
#define LAB_FENCE 2u  /* every lane: a system fence after its reply stores */
#define LAB_FENCE0 4u /* __syncwarp, then lane 0 alone: a system fence after the reply stores */
#define LAB_MMIO 8u   /* reply stores as st.mmio.relaxed.sys (uncached, performed once), no fence */
#define LAB_WT 16u    /* reply stores as st.global.wt (write-through), no fence */
#define LAB_FENCE_W1 32u /* warp 1 fences after warp 0's reply stores (handed over through shared memory) */

__shared__ unsigned long long lab_handoff; /* reply stores made by warp 0 (LAB_FENCE_W1) */
__shared__ volatile int lab_done;

__device__ __forceinline__ void st_mmio(uint64_t *p, uint64_t v)
{
    asm volatile("st.mmio.relaxed.sys.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

/* LL echo, one warp, K polls in flight `gap` cycles apart. */
template <int K>
__device__ __forceinline__ void ll_echo_body(const uint64_t *h2k, uint64_t *k2h, const uint64_t *ctl, uint32_t words,
                                             uint32_t gap, uint32_t work, uint32_t mode, unsigned long long *polls_out)
{
    const uint32_t lane = threadIdx.x & 31u;
    unsigned long long polls = 0;
    uint64_t c = 0;
    for (uint64_t pos = 0;; pos++) {
        const uint64_t *w = h2k + (pos & (CAP - 1)) * MAXW + lane;
        const uint32_t flag = (uint32_t)pos + 1u;
        uint64_t r[K];
#pragma unroll
        for (int j = 0; j < K; j++) {
            if (lane < words)
                r[j] = ld_sys(w);
            if (j + 1 < K)
                spin(gap);
        }
        uint64_t v = 0, cv = 0;
        for (int found = 0; !found;) {
#pragma unroll
            for (int j = 0; j < K; j++) {
                if ((mode & LAB_CTL) && lane == 0)
                    cv = ld_sys(ctl); /* consumed after the vote: only its latency can cost */
                const int ok = lane >= words || (uint32_t)(r[j] >> 32) == flag;
                polls++;
                if (__all_sync(0xffffffffu, ok)) {
                    v = r[j];
                    found = 1;
                    break;
                }
                c += cv;
                if (lane < words)
                    r[j] = ld_sys(w);
            }
        }
        if (__shfl_sync(0xffffffffu, (uint32_t)v, 0) == STOP_WORD)
            break;
        if (work) {
            if (lane == 0)
                spin(work + (uint32_t)(c & 1));
            __syncwarp();
        }
        if (lane < words) {
            uint64_t *dst = k2h + (pos & (CAP - 1)) * MAXW + lane;
            const uint64_t val = (uint64_t)flag << 32 | (uint32_t)v;
            if (mode & LAB_MMIO)
                st_mmio(dst, val);
            else if (mode & LAB_WT)
                __stwt((unsigned long long *)dst, (unsigned long long)val);
            else
                st_sys(dst, val);
        }
        if (mode & LAB_FENCE)
            asm volatile("fence.acq_rel.sys;" ::: "memory");
        if (mode & LAB_FENCE_W1) {
            __syncwarp();
            if (lane == 0)
                asm volatile("st.release.cta.shared.u64 [%0], %1;" ::"r"((unsigned)__cvta_generic_to_shared(&lab_handoff)),
                             "l"(pos + 1) : "memory");
        }
        if (mode & LAB_FENCE0) {
            __syncwarp();
            if (lane == 0)
                asm volatile("fence.acq_rel.sys;" ::: "memory");
        }
    }
    if (lane == 0)
        *polls_out = polls + (c & 1);
}

/* Warp 0 runs ll_echo<1> and hands every reply to warp 1, which fences after it. */
__global__ void ll_echo_fence_w1(const uint64_t *h2k, uint64_t *k2h, const uint64_t *ctl, uint32_t words,
                                 unsigned long long *polls_out)
{
    if (threadIdx.x == 0) {
        lab_handoff = 0;
        lab_done = 0;
    }
    __syncthreads();
    if (threadIdx.x < 32) {
        ll_echo_body<1>(h2k, k2h, ctl, words, 0, 0, LAB_FENCE_W1, polls_out);
        if (threadIdx.x == 0)
            lab_done = 1;
    } else if (threadIdx.x == 32) {
        unsigned long long seen = 0;
        while (!lab_done) {
            unsigned long long h;
            asm volatile("ld.acquire.cta.shared.u64 %0, [%1];" : "=l"(h)
                         : "r"((unsigned)__cvta_generic_to_shared(&lab_handoff)) : "memory");
            if (h != seen) {
                asm volatile("fence.acq_rel.sys;" ::: "memory");
                seen = h;
            }
        }
    }
}

/* Warp 0 runs ll_echo<1>; warp 1 reads the control line back to back until warp 0 is done (a control
 * warp beside the polling one: do their loads interfere?). */
__global__ void ll_echo_ctlwarp(const uint64_t *h2k, uint64_t *k2h, const uint64_t *ctl, uint32_t words,
                                unsigned long long *polls_out)
{
    __shared__ volatile int done;
    if (threadIdx.x == 0)
        done = 0;
    __syncthreads();
    if (threadIdx.x < 32) {
        ll_echo_body<1>(h2k, k2h, ctl, words, 0, 0, 0, polls_out);
        if (threadIdx.x == 0)
            done = 1;
    } else if (threadIdx.x == 32) {
        uint64_t c = 0;
        while (!done)
            c += ld_sys(ctl);
        polls_out[1] = c;
    }
}

template <int K>
__global__ void ll_echo(const uint64_t *h2k, uint64_t *k2h, const uint64_t *ctl, uint32_t words, uint32_t gap,
                        uint32_t work, uint32_t mode, unsigned long long *polls_out)
{
    ll_echo_body<K>(h2k, k2h, ctl, words, gap, work, mode, polls_out);
}

/* LL echo, K warps, each with one poll in flight, started `gap` cycles apart; the first to see a request
 * claims it. */
__global__ void ll_echo_warps(const uint64_t *h2k, uint64_t *k2h, uint32_t words, uint32_t gap, uint32_t fence,
                              unsigned long long *polls_out)
{
    __shared__ unsigned long long next;
    __shared__ volatile int stop;
    const uint32_t lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
    unsigned long long polls = 0;
    if (threadIdx.x == 0) {
        next = 0;
        stop = 0;
    }
    __syncthreads();
    spin(gap * warp);
    while (!stop) {
        const uint64_t pos = *(volatile unsigned long long *)&next;
        const uint32_t flag = (uint32_t)pos + 1u;
        uint64_t v = lane < words ? ld_sys(h2k + (pos & (CAP - 1)) * MAXW + lane) : 0;
        polls++;
        if (!__all_sync(0xffffffffu, lane >= words || (uint32_t)(v >> 32) == flag))
            continue;
        unsigned long long won = 0;
        if (lane == 0)
            won = atomicCAS(&next, pos, pos + 1) == pos;
        if (!__shfl_sync(0xffffffffu, (uint32_t)won, 0))
            continue;
        if (__shfl_sync(0xffffffffu, (uint32_t)v, 0) == STOP_WORD) {
            stop = 1;
            break;
        }
        if (lane < words)
            st_sys(k2h + (pos & (CAP - 1)) * MAXW + lane, (uint64_t)flag << 32 | (uint32_t)v);
        if (fence)
            asm volatile("fence.acq_rel.sys;" ::: "memory");
    }
    atomicAdd(polls_out, polls);
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

struct lat {
    double p50, p99, min;
};

static lat summarize(std::vector<double> &v)
{
    std::sort(v.begin(), v.end());
    return { v[v.size() / 2], v[(size_t)(0.99 * (double)(v.size() - 1))], v[0] };
}

struct bufs {
    uint64_t *h2k, *k2h, *ctl;       /* host views */
    uint64_t *h2k_d, *k2h_d, *ctl_d; /* device views */
    unsigned long long *polls;
};

static uint64_t *mapped(size_t len, uint64_t **dev)
{
    void *h;
    CK(cudaHostAlloc(&h, len, cudaHostAllocMapped));
    memset(h, 0, len);
    CK(cudaHostGetDevicePointer((void **)dev, h, 0));
    return (uint64_t *)h;
}

/* Host side of the LL ping-pong: n timed round trips after warm-up; then the stop message. */
static lat ll_host(bufs *b, uint32_t words, size_t warm, size_t n, uint64_t *bad)
{
    std::vector<double> s;
    s.reserve(n);
    volatile uint64_t *h2k = b->h2k, *k2h = b->k2h;
    for (size_t i = 0; i <= warm + n; i++) {
        const uint64_t pos = i;
        const uint64_t flag = (uint64_t)(uint32_t)(pos + 1) << 32;
        const uint32_t data = i == warm + n ? STOP_WORD : (uint32_t)(i * 7 + 1);
        volatile uint64_t *req = h2k + (pos & (CAP - 1)) * MAXW, *rep = k2h + (pos & (CAP - 1)) * MAXW;
        const int64_t t0 = now_ns();
        for (uint32_t w = 0; w < words; w++)
            req[w] = flag | (uint32_t)(data + w * (w != 0));
        if (data == STOP_WORD)
            break;
        for (uint32_t w = words; w-- > 0;)
            while ((rep[w] & 0xffffffff00000000ull) != flag) {
            }
        const int64_t t1 = now_ns();
        if ((uint32_t)rep[0] != data)
            ++*bad;
        if (i >= warm)
            s.push_back((double)(t1 - t0) / 1e3);
    }
    return summarize(s);
}

static void reset(bufs *b)
{
    memset(b->h2k, 0, CAP * MAXW * 8);
    memset(b->k2h, 0, CAP * MAXW * 8);
    *b->polls = 0;
}

static void report(const char *name, lat l, double raw, unsigned long long polls, size_t n, uint64_t bad)
{
    printf("  %-34s p50 %6.3f us  p99 %6.3f us  min %6.3f us  p50/raw %5.2fx  polls/rt %5.2f%s\n", name,
           l.p50, l.p99, l.min, l.p50 / raw, (double)polls / (double)(n + 1), bad ? "  ECHO MISMATCH" : "");
}

int main(int argc, char **argv)
{
    const size_t n = argc > 1 ? strtoull(argv[1], nullptr, 10) : 100000, warm = 10000;
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("ll_lab: no CUDA device\n");
        return 77;
    }
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    cudaStream_t st;
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    bufs b;
    b.h2k = mapped(CAP * MAXW * 8, &b.h2k_d);
    b.k2h = mapped(CAP * MAXW * 8, &b.k2h_d);
    b.ctl = mapped(4096, &b.ctl_d);
    CK(cudaMallocManaged(&b.polls, 64));
    unsigned long long *cal;
    CK(cudaMallocManaged(&cal, 64));
    calib<<<1, 1, 0, st>>>(b.ctl_d, 10000, cal);
    CK(cudaStreamSynchronize(st));
    const uint32_t L = (uint32_t)cal[0];
    const double ns_per_cycle = (double)cal[1] / 1000.0;
    printf("ll_lab: %s, %zu round trips per variant (+%zu warm-up), one message in flight\n", prop.name, n, warm);
    printf("  one dependent sys load of mapped memory: %u cycles = %.3f us (SM clock %.0f MHz)\n", L,
           L * ns_per_cycle / 1e3, 1e3 / ns_per_cycle);

    double raw = 0;
    for (int fence = 1; fence >= 0; fence--) {
        volatile int64_t *h2d, *d2h;
        int64_t *h2d_d, *d2h_d;
        CK(cudaHostAlloc((void **)&h2d, 64, cudaHostAllocMapped));
        CK(cudaHostAlloc((void **)&d2h, 64, cudaHostAllocMapped));
        *h2d = 0;
        *d2h = 0;
        CK(cudaHostGetDevicePointer((void **)&h2d_d, (void *)h2d, 0));
        CK(cudaHostGetDevicePointer((void **)&d2h_d, (void *)d2h, 0));
        raw_echo<<<1, 32, 0, st>>>(h2d_d, d2h_d, fence);
        std::vector<double> s;
        for (size_t i = 1; i <= warm + n; i++) {
            const int64_t t0 = now_ns();
            *h2d = (int64_t)i;
            while (*d2h != (int64_t)i) {
            }
            const int64_t t1 = now_ns();
            if (i > warm)
                s.push_back((double)(t1 - t0) / 1e3);
        }
        *h2d = -1;
        CK(cudaStreamSynchronize(st));
        lat l = summarize(s);
        if (fence)
            raw = l.p50;
        report(fence ? "raw probe echo (1 word)" : "raw probe echo, no fence after store", l, raw, 0, n, 0);
    }

    struct {
        const char *name;
        uint32_t words, k, work, mode, warps;
    } v[] = {
        { "ll, 32 words (128 B slot)", 32, 1, 0, 0, 0 },
        { "ll, 32 words + fence (all lanes)", 32, 1, 0, LAB_FENCE, 0 },
        { "ll, 32 words, fence by warp 1", 32, 1, 0, LAB_FENCE_W1, 101 },
        { "ll, 32 words + fence + 300 work", 32, 1, 300, LAB_FENCE, 0 },
        { "ll, 32 words + fence + 500 work", 32, 1, 500, LAB_FENCE, 0 },
        { "ll, 32 words, 2 warps", 32, 0, 0, 0, 2 },
        { "ll, 32 words, 2 warps + fence", 32, 0, 0, LAB_FENCE, 2 },
        { "ll, 32 words, 4 warps + fence", 32, 0, 0, LAB_FENCE, 4 },
    };
    for (auto &x : v) {
        reset(&b);
        if (x.warps == 101)
            ll_echo_fence_w1<<<1, 64, 0, st>>>(b.h2k_d, b.k2h_d, b.ctl_d, x.words, b.polls);
        else if (x.warps == 100)
            ll_echo_ctlwarp<<<1, 64, 0, st>>>(b.h2k_d, b.k2h_d, b.ctl_d, x.words, b.polls);
        else if (x.warps)
            ll_echo_warps<<<1, 32 * x.warps, 0, st>>>(b.h2k_d, b.k2h_d, x.words, L / x.warps,
                                                       (x.mode & LAB_FENCE) != 0, b.polls);
        else if (x.k == 1)
            ll_echo<1><<<1, 32, 0, st>>>(b.h2k_d, b.k2h_d, b.ctl_d, x.words, 0, x.work, x.mode, b.polls);
        else
            ll_echo<2><<<1, 32, 0, st>>>(b.h2k_d, b.k2h_d, b.ctl_d, x.words, L / 2, x.work, x.mode, b.polls);
        CK(cudaGetLastError());
        uint64_t bad = 0;
        lat l = ll_host(&b, x.words, warm, n, &bad);
        CK(cudaStreamSynchronize(st));
        report(x.name, l, raw, *b.polls, warm + n, bad);
    }
    return 0;
}
