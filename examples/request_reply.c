/* request_reply.c - request/reply with rk_call against the built-in "counter" actor.
 *
 * The counter keeps a count and a sum in its state, which persists across messages. Plain sends of
 * RK_COUNTER_ADD are fire-and-forget; rk_call sends a request with a fresh correlation id and waits for
 * the reply that carries it. The program checks the results and exits non-zero if anything is off.
 */
#include <inttypes.h>
#include <stdio.h>

#include <ringkernel/builtin.h>
#include <ringkernel/ringkernel.h>

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
    const int n = 1000;
    rk_runtime *rt;
    rk_kernel *k;
    rk_counter_add add;
    rk_counter_value value;
    int64_t expected = 0;

    CHECK(rk_runtime_create(&rt, NULL)); /* NULL options: the best backend, default settings */
    CHECK(rk_kernel_launch(rt, "counter", NULL, &k));

    /* Fire-and-forget: add 1..n. rk_send waits (up to the timeout) when the queue is full. */
    rk_msg msg = { .env = { .type_id = RK_COUNTER_ADD, .payload_len = sizeof add }, .payload = &add };
    for (int i = 1; i <= n; i++) {
        add.value = i;
        expected += i;
        CHECK(rk_send(k, &msg, RK_TIMEOUT_MS(1000)));
    }

    /* Request/reply: messages to one kernel are handled in order, so the reply counts every add above. */
    rk_msg get = { .env = { .type_id = RK_COUNTER_GET } };
    rk_msg reply = { .payload = &value, .payload_cap = sizeof value };
    CHECK(rk_call(k, &get, &reply, RK_TIMEOUT_MS(1000)));
    printf("counter: count %" PRIu64 ", sum %" PRId64 " (expected %d, %" PRId64 ")\n", value.count, value.sum,
           n, expected);
    int ok = value.count == (uint64_t)n && value.sum == expected;

    /* An add sent as a request answers with the new value. */
    add.value = -expected;
    CHECK(rk_call(k, &msg, &reply, RK_TIMEOUT_MS(1000)));
    printf("after adding %" PRId64 ": count %" PRIu64 ", sum %" PRId64 "\n", add.value, value.count, value.sum);

    ok = ok && value.count == (uint64_t)n + 1 && value.sum == 0;
    CHECK(rk_runtime_destroy(rt)); /* stops the kernel too */
    puts(ok ? "ok" : "MISMATCH");
    return ok ? 0 : 1;
}
