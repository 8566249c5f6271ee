/* litmus_test.cu - memory-ordering litmus test over mapped pinned memory, both directions.
 *
 * The queue protocol's promise (queue.h Q3/Q4): a reader that sees a published index also sees every
 * byte of the slots before it. Each message is 64 bytes whose 8 words all derive from its sequence
 * number, so a reader that sees the index without the payload sees a stale or torn word. Run over
 * >= 10 million messages each way, with the same primitives and the same protocol as the actor loop
 * (device.cuh: acquire load of the index, block barrier, reads; barrier, system fence, relaxed store):
 *   host -> GPU: the host produces with rk_queue_reserve_spsc/commit; a 256-thread block consumes.
 *   GPU -> host: a 256-thread block produces; the host consumes with rk_queue_peek_spsc/release.
 * Exit 0 when no violation is seen, 1 on any, 77 without a GPU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringkernel/device.cuh"
#include "ringkernel/queue.h"
#include "ringkernel/runtime.h"

#define CAP 4096u
#define SLOT 64u
#define WORDS (SLOT / 8)

__host__ __device__ static inline uint64_t word_of(uint64_t seq, unsigned j)
{
    return seq * 0x9E3779B97F4A7C15ull + j;
}

#define CHECK(call)                                                                                   \
    do {                                                                                              \
        cudaError_t e_ = (call);                                                                      \
        if (e_ != cudaSuccess) {                                                                      \
            fprintf(stderr, "litmus: %s: %s\n", #call, cudaGetErrorString(e_));                       \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

/* Consumer block: takes up to blockDim messages per round. bad[0] counts torn or stale words. */
__global__ void gpu_consume(rk_queue_header *q, uint8_t *slots, uint64_t total, unsigned long long *bad,
                            volatile uint32_t *abort_flag)
{
    __shared__ uint64_t head_s;
    __shared__ int quit_s;
    uint64_t tail = 0;
    while (tail < total) {
        if (threadIdx.x == 0) {
            uint64_t h;
            quit_s = 0;
            do {
                h = rk_ld_acquire_sys_u64(&q->head); /* pairs with R1 in rk_queue_commit_spsc() */
                if (*abort_flag) {
                    quit_s = 1;
                    break;
                }
            } while (h == tail);
            head_s = h;
        }
        __syncthreads();
        if (quit_s)
            return;
        uint64_t n = head_s - tail;
        if (n > blockDim.x)
            n = blockDim.x;
        if (threadIdx.x < n) {
            uint64_t seq = tail + threadIdx.x;
            const uint64_t *w = (const uint64_t *)(slots + (seq & (CAP - 1)) * SLOT);
            for (unsigned j = 0; j < WORDS; j++)
                if (w[j] != word_of(seq, j))
                    atomicAdd(bad, 1ull);
        }
        __syncthreads();
        tail += n;
        if (threadIdx.x == 0) {
            asm volatile("fence.acq_rel.sys;" ::: "memory"); /* reads done before the host reuses slots */
            rk_st_relaxed_sys_u64(&q->tail, tail);
        }
    }
}

/* Producer block: writes up to blockDim messages per round, then publishes them. */
__global__ void gpu_produce(rk_queue_header *q, uint8_t *slots, uint64_t total, volatile uint32_t *abort_flag)
{
    __shared__ uint64_t room_s;
    __shared__ int quit_s;
    uint64_t head = 0;
    while (head < total) {
        if (threadIdx.x == 0) {
            uint64_t t;
            quit_s = 0;
            do {
                t = rk_ld_acquire_sys_u64(&q->tail); /* pairs with R2 in rk_queue_release_spsc() */
                if (*abort_flag) {
                    quit_s = 1;
                    break;
                }
            } while (head - t >= CAP);
            room_s = CAP - (head - t);
        }
        __syncthreads();
        if (quit_s)
            return;
        uint64_t n = room_s < blockDim.x ? room_s : blockDim.x;
        if (n > total - head)
            n = total - head;
        if (threadIdx.x < n) {
            uint64_t seq = head + threadIdx.x;
            uint64_t *w = (uint64_t *)(slots + (seq & (CAP - 1)) * SLOT);
            for (unsigned j = 0; j < WORDS; j++)
                w[j] = word_of(seq, j);
        }
        __syncthreads();
        head += n;
        if (threadIdx.x == 0) {
            asm volatile("fence.acq_rel.sys;" ::: "memory"); /* payload visible before the index */
            rk_st_relaxed_sys_u64(&q->head, head);
        }
    }
}

static void *dev_ptr(void *host)
{
    void *d;
    CHECK(cudaHostGetDevicePointer(&d, host, 0));
    return d;
}

int main(int argc, char **argv)
{
    rk_backend_status st;
    uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 10) : 16000000ull;
    if (rk_backend_probe(RK_BACKEND_CUDA, &st) != 0 || !st.available) {
        printf("litmus: skipped: %s\n", st.reason);
        return 77;
    }
    CHECK(cudaSetDeviceFlags(cudaDeviceMapHost));
    size_t len = rk_queue_region_size(CAP, SLOT, RK_QUEUE_SPSC);
    void *region;
    uint32_t *abort_flag;
    unsigned long long *bad_d, bad = 0;
    cudaStream_t s;
    rk_queue q;
    CHECK(cudaHostAlloc(&region, len, cudaHostAllocMapped));
    CHECK(cudaHostAlloc((void **)&abort_flag, 64, cudaHostAllocMapped));
    CHECK(cudaMalloc(&bad_d, sizeof bad));
    CHECK(cudaMemset(bad_d, 0, sizeof bad));
    CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    *abort_flag = 0;

    /* Host -> GPU. */
    if (rk_queue_format(region, len, CAP, SLOT, RK_QUEUE_SPSC) != 0 || rk_queue_attach(&q, region, len) != 0) {
        fprintf(stderr, "litmus: queue setup: %s\n", rk_last_error());
        return 1;
    }
    rk_queue_header *qd = (rk_queue_header *)dev_ptr(region);
    gpu_consume<<<1, 256, 0, s>>>(qd, (uint8_t *)qd + q.hdr->slots_offset, total, bad_d, (uint32_t *)dev_ptr(abort_flag));
    CHECK(cudaGetLastError());
    int64_t t0 = rk_monotonic_ns();
    for (uint64_t h = 0; h < total;) {
        uint64_t pos;
        uint32_t want = total - h < 256 ? (uint32_t)(total - h) : 256;
        int n = rk_queue_reserve_wait_spsc(&q, want, &pos, RK_TIMEOUT_MS(10000));
        if (n < 0) {
            fprintf(stderr, "litmus: H2K stalled at %llu: %s\n", (unsigned long long)h, rk_last_error());
            *(volatile uint32_t *)abort_flag = 1;
            cudaStreamSynchronize(s);
            return 1;
        }
        for (int i = 0; i < n; i++) {
            uint64_t *w = (uint64_t *)rk_queue_slot(&q, pos + (uint64_t)i);
            for (unsigned j = 0; j < WORDS; j++)
                w[j] = word_of(pos + (uint64_t)i, j);
        }
        rk_queue_commit_spsc(&q, (uint32_t)n);
        h += (uint64_t)n;
    }
    CHECK(cudaStreamSynchronize(s));
    double h2k_s = (rk_monotonic_ns() - t0) / 1e9;
    CHECK(cudaMemcpy(&bad, bad_d, sizeof bad, cudaMemcpyDeviceToHost));
    printf("litmus host->GPU: %llu messages, %llu bad words, %.1f M msg/s\n", (unsigned long long)total, bad,
           total / h2k_s / 1e6);
    if (bad)
        return 1;

    /* GPU -> host. */
    if (rk_queue_format(region, len, CAP, SLOT, RK_QUEUE_SPSC) != 0 || rk_queue_attach(&q, region, len) != 0)
        return 1;
    gpu_produce<<<1, 256, 0, s>>>(qd, (uint8_t *)qd + q.hdr->slots_offset, total, (uint32_t *)dev_ptr(abort_flag));
    CHECK(cudaGetLastError());
    uint64_t bad_h = 0;
    t0 = rk_monotonic_ns();
    for (uint64_t t = 0; t < total;) {
        uint64_t pos;
        int n = rk_queue_peek_wait_spsc(&q, 1024, &pos, RK_TIMEOUT_MS(10000));
        if (n < 0) {
            fprintf(stderr, "litmus: K2H stalled at %llu: %s\n", (unsigned long long)t, rk_last_error());
            *(volatile uint32_t *)abort_flag = 1;
            cudaStreamSynchronize(s);
            return 1;
        }
        for (int i = 0; i < n; i++) {
            const uint64_t *w = (const uint64_t *)rk_queue_slot(&q, pos + (uint64_t)i);
            for (unsigned j = 0; j < WORDS; j++)
                bad_h += w[j] != word_of(pos + (uint64_t)i, j);
        }
        rk_queue_release_spsc(&q, (uint32_t)n);
        t += (uint64_t)n;
    }
    CHECK(cudaStreamSynchronize(s));
    double k2h_s = (rk_monotonic_ns() - t0) / 1e9;
    printf("litmus GPU->host: %llu messages, %llu bad words, %.1f M msg/s\n", (unsigned long long)total,
           (unsigned long long)bad_h, total / k2h_s / 1e6);
    cudaFreeHost(region);
    cudaFreeHost(abort_flag);
    cudaFree(bad_d);
    cudaStreamDestroy(s);
    return bad_h ? 1 : 0;
}
