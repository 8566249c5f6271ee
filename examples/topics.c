/* topics.c - publish/subscribe between the host and an actor (CPU backend).
 *
 * An "averager" actor subscribes to every sensor's temperature ("sensors/+/temp"); the host publishes
 * readings on per-sensor topics, and a reading on another topic ("sensors/7/humidity") reaches nobody.
 * Then the host asks the averager for its count and mean with rk_call. Exits non-zero on any mismatch.
 */
#include <stdio.h>
#include <string.h>

#include <ringkernel/ringkernel.h>

#define CHECK(call)                                                                          \
    do {                                                                                     \
        int rc_ = (call);                                                                    \
        if (rc_ < 0) {                                                                       \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, rk_err_name(rc_), rk_last_error()); \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)

typedef struct { double sum; uint64_t count; } averager_state;

/* Publications arrive with their topic in front of the payload (rk_msg_topic); a request with no topic
 * asks for the result. */
static int averager(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    averager_state *st = rk_actor_state(ctx);
    const char *topic;
    const void *reading;
    uint32_t topic_len, len;

    if (rk_msg_topic(env, payload, &topic, &topic_len, &reading, &len) == 0) {
        double celsius;
        if (len != sizeof celsius)
            return RK_EINVAL;
        memcpy(&celsius, reading, sizeof celsius);
        st->sum += celsius;
        st->count++;
        return 0;
    }
    return rk_actor_reply(ctx, env, env->type_id, st, sizeof *st);
}
RK_REGISTER_ACTOR(averager, averager, sizeof(averager_state))

int main(void)
{
    rk_runtime *rt;
    rk_kernel *k;
    averager_state result;
    double expected = 0;
    char topic[64];

    CHECK(rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = RK_BACKEND_CPU }));
    CHECK(rk_kernel_launch(rt, "averager", NULL, &k));
    CHECK(rk_subscribe(rt, k, "sensors/+/temp"));

    for (int sensor = 0; sensor < 10; sensor++) {
        double celsius = 20.0 + sensor;
        snprintf(topic, sizeof topic, "sensors/%d/temp", sensor);
        expected += celsius;
        /* Returns how many subscribers got it: here 1. */
        CHECK(rk_publish(rt, topic, RK_TYPE_ID(reading), &celsius, sizeof celsius, RK_TIMEOUT_MS(1000)));
    }
    double humidity = 55.0;
    int delivered = rk_publish(rt, "sensors/7/humidity", RK_TYPE_ID(reading), &humidity, sizeof humidity,
                               RK_TIMEOUT_MS(1000));
    CHECK(delivered);

    /* Publications arrive in the averager's K2K inbox, requests in its H2K ring, and the actor takes turns
     * between the two: a request can overtake publications sent before it. Ask until all ten counted. */
    rk_msg get = { .env = { .type_id = RK_TYPE_ID(get_average) } };
    rk_msg reply = { .payload = &result, .payload_cap = sizeof result };
    for (int tries = 0; tries < 1000; tries++) {
        CHECK(rk_call(k, &get, &reply, RK_TIMEOUT_MS(1000)));
        if (result.count == 10)
            break;
    }
    printf("humidity reading delivered to %d subscriber(s); averager saw %llu readings, mean %.1f C\n",
           delivered, (unsigned long long)result.count, result.count ? result.sum / (double)result.count : 0.0);
    int ok = delivered == 0 && result.count == 10 && result.sum == expected;

    CHECK(rk_runtime_destroy(rt));
    puts(ok ? "ok" : "MISMATCH");
    return ok ? 0 : 1;
}
