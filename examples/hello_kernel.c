/* hello_kernel.c - the smallest complete RingKernel program.
 *
 * Creates a runtime on the best available backend, launches the built-in "echo" actor as a kernel, sends
 * it "hello", receives the echo, and shuts everything down. Exits non-zero on any error.
 *
 *     cc hello_kernel.c $(pkg-config --cflags --libs ringkernel) -o hello_kernel && ./hello_kernel
 */
#include <stdio.h>
#include <string.h>

#include <ringkernel/ringkernel.h>

/* Prints the failing call with the library's detail and leaves main with status 1. */
#define CHECK(call)                                                                          \
    do {                                                                                     \
        int rc_ = (call);                                                                    \
        if (rc_ < 0) {                                                                       \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, rk_err_name(rc_), rk_last_error()); \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)

int main(void)
{
    rk_runtime *rt;
    rk_kernel *k;
    char text[] = "hello";
    char reply_buf[64] = { 0 };

    /* 1. A runtime: RK_BACKEND_AUTO picks CUDA, then Vulkan, then the CPU. */
    CHECK(rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = RK_BACKEND_AUTO }));

    /* 2. A kernel: a long-lived actor, launched by its registered name (NULL options: defaults). */
    CHECK(rk_kernel_launch(rt, "echo", NULL, &k));

    /* 3. Send one message host -> kernel. The type id is a stable hash of a name you choose. */
    rk_msg msg = { .env = { .type_id = RK_TYPE_ID(greeting), .payload_len = sizeof text }, .payload = text };
    CHECK(rk_send(k, &msg, RK_TIMEOUT_MS(1000)));

    /* 4. Receive the reply kernel -> host into our buffer. */
    rk_msg reply = { .payload = reply_buf, .payload_cap = sizeof reply_buf - 1 };
    CHECK(rk_recv(k, &reply, RK_TIMEOUT_MS(1000)));

    printf("backend: %s\n", rk_backend_name(rk_runtime_backend(rt)));
    printf("reply:   \"%s\" (%u bytes from kernel %u)\n", reply_buf, reply.env.payload_len,
           RK_ADDR_KERNEL(reply.env.source));
    if (strcmp(reply_buf, text) != 0) {
        fprintf(stderr, "unexpected reply\n");
        return 1;
    }

    /* 5. Stop the kernel (it drains its queue first), then free everything. */
    CHECK(rk_kernel_terminate(k, RK_TIMEOUT_MS(1000)));
    CHECK(rk_runtime_destroy(rt));
    return 0;
}
