/* runtime_test.c - runtimes, kernels and host <-> kernel messaging, on one backend.
 *
 * One suite for every backend: `runtime_test --backend cpu|cuda|vulkan`. A backend that rk_backend_probe
 * reports unavailable makes the program print why and exit 77 (CTest: skipped). The suite's own test
 * actors are written twice: in C below for the CPU backend, and as Vulkan shaders (the .comp files of vk_actors/, built
 * into this program and registered with rk_vulkan_actor_register); the tests that use them skip themselves
 * on CUDA only, which has no device versions of them.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>

#include "mix64.h"
#include "ringkernel/actor.h"
#include "ringkernel/builtin.h"
#include "ringkernel/hlc.h"
#include "ringkernel/message.h"
#include "ringkernel/runtime.h"

static rk_backend_kind g_backend = RK_BACKEND_CPU;

#define WORKERS 2u
#define TIMEOUT RK_TIMEOUT_MS(5000) /* generous: sanitizers on a busy 2-core machine */

/* ---- Test actors (CPU) ---------------------------------------------------------------------------- */

#define TYPE_FAIL RK_TYPE_ID(test_fail)

/* Replies with the request's HLC stamp as payload (the reply's own stamp is in its envelope). */
static int hlc_probe(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    (void)payload;
    return rk_actor_reply(ctx, env, env->type_id, &env->hlc, sizeof env->hlc);
}
RK_REGISTER_ACTOR(test_hlc_probe, hlc_probe, 0)

/* Fails TYPE_FAIL messages with RK_EINVAL; echoes the others. */
static int failer(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    if (env->type_id == TYPE_FAIL)
        return RK_EINVAL;
    return rk_actor_reply(ctx, env, env->type_id, payload, env->payload_len);
}
RK_REGISTER_ACTOR(test_failer, failer, 0)

/* Replies with its instance number and a per-instance message count (state). */
static int instance_probe(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    uint64_t *count = rk_actor_state(ctx);
    uint64_t out[2];

    (void)payload;
    out[0] = RK_ADDR_INSTANCE(rk_actor_self(ctx));
    out[1] = ++*count;
    return rk_actor_reply(ctx, env, env->type_id, out, sizeof out);
}
RK_REGISTER_ACTOR(test_instances, instance_probe, sizeof(uint64_t))

/* Echoes its payload; a 4-word payload first sleeps for word 3 microseconds (slow calls that time out). */
static int sleeper(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    uint64_t w[4];

    if (env->payload_len == sizeof w) {
        memcpy(w, payload, sizeof w);
        if (w[3] > 0)
            nanosleep(&(struct timespec){ 0, (long)(w[3] * 1000) }, NULL);
    }
    return rk_actor_reply(ctx, env, env->type_id, payload, env->payload_len);
}
RK_REGISTER_ACTOR(test_sleeper, sleeper, 0)

#ifdef RK_TEST_VK_ACTORS
#include "ringkernel/vulkan/rk_vk_abi.h"
#include "vk_actors/test_types.h"

#define VK_ACTOR(sym) extern const uint32_t rk_test_vk_##sym[]; extern const size_t rk_test_vk_##sym##_words;
VK_ACTOR(hlc_probe)
VK_ACTOR(failer)
VK_ACTOR(instances)
VK_ACTOR(sleeper)

/* Registers the Vulkan versions of the test actors above, under the same names (state as the C ones). */
static int register_vulkan_actors(void)
{
    const rk_vulkan_actor_def defs[] = {
        { sizeof defs[0], 0, "test_hlc_probe", rk_test_vk_hlc_probe, rk_test_vk_hlc_probe_words },
        { sizeof defs[0], 0, "test_failer", rk_test_vk_failer, rk_test_vk_failer_words },
        { sizeof defs[0], sizeof(uint64_t), "test_instances", rk_test_vk_instances, rk_test_vk_instances_words },
        { sizeof defs[0], 4, "test_sleeper", rk_test_vk_sleeper, rk_test_vk_sleeper_words },
    };

    if (TYPE_FAIL != ((uint64_t)TEST_FAIL_HI << 32 | TEST_FAIL_LO)) {
        fprintf(stderr, "runtime_test: vk_actors/test_types.h disagrees with rk_type_id(\"test_fail\")\n");
        return -1;
    }
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        if (rk_vulkan_actor_register(&defs[i]) != 0) {
            fprintf(stderr, "runtime_test: rk_vulkan_actor_register(%s): %s\n", defs[i].name, rk_last_error());
            return -1;
        }
    }
    return 0;
}
#endif

/* ---- Helpers -------------------------------------------------------------------------------------- */

static rk_runtime *rt_new_opts(rk_stop_fn on_stop, void *arg)
{
    rk_runtime *rt = NULL;
    rk_runtime_opts o = { .backend = g_backend, .workers = WORKERS, .on_stop = on_stop, .on_stop_arg = arg };

    if (rk_runtime_create(&rt, &o) != 0)
        fail_msg("rk_runtime_create: %s", rk_last_error());
    return rt;
}

static rk_runtime *rt_new(void) { return rt_new_opts(NULL, NULL); }

/* --low-latency: every launch that can takes RK_LAUNCH_LOW_LATENCY, so the whole suite runs over the LL
 * encoding (abi.h) on a backend that has it. */
static int g_low_latency;

static const rk_launch_opts *with_mode(const rk_launch_opts *o, rk_launch_opts *buf)
{
    const uint32_t excl = RK_LAUNCH_MULTI_PRODUCER | RK_LAUNCH_GRID_SYNC;

    if (!g_low_latency || (o != NULL && (o->flags & excl)))
        return o;
    *buf = o != NULL ? *o : (rk_launch_opts){ 0 };
    buf->flags |= RK_LAUNCH_LOW_LATENCY;
    return buf;
}

static rk_kernel *launch(rk_runtime *rt, const char *name, const rk_launch_opts *o)
{
    rk_kernel *k = NULL;
    rk_launch_opts buf;

    o = with_mode(o, &buf);
    if (rk_kernel_launch(rt, name, o, &k) != 0)
        fail_msg("rk_kernel_launch(%s): %s", name, rk_last_error());
    return k;
}

/* For tests of the suite's own actors: the CPU backend runs the C ones, Vulkan the shaders of vk_actors/
 * (when the build has Vulkan); CUDA has no device versions of them. */
static void skip_without_test_actors(void)
{
    if (g_backend == RK_BACKEND_CUDA)
        skip();
}

static rk_msg msg_make(uint64_t type, const void *payload, uint32_t len)
{
    rk_msg m;

    memset(&m, 0, sizeof m);
    m.env.type_id = type;
    m.env.payload_len = len;
    m.payload = (void *)payload;
    return m;
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;

    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

static int64_t cpu_time_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Like launch(), but a backend that does not support the options (RK_ENOTSUP) skips the test. */
static rk_kernel *launch_or_skip(rk_runtime *rt, const char *name, const rk_launch_opts *o)
{
    rk_kernel *k = NULL;
    rk_launch_opts buf;
    int rc = rk_kernel_launch(rt, name, with_mode(o, &buf), &k);

    if (rc == RK_ENOTSUP) {
        printf("skipped: %s\n", rk_last_error());
        assert_int_equal(rk_runtime_destroy(rt), 0);
        skip();
    }
    if (rc != 0)
        fail_msg("rk_kernel_launch(%s): %s", name, rk_last_error());
    return k;
}

/* A GPU kernel starts asynchronously: INITIALIZING until the device loop writes RUNNING. */
static rk_kernel_state wait_started(const rk_kernel *k)
{
    int64_t deadline = now_ns() + TIMEOUT;
    struct timespec tick = { 0, 100000 };

    while (rk_kernel_state_get(k) == RK_STATE_INITIALIZING && now_ns() < deadline)
        nanosleep(&tick, NULL);
    return rk_kernel_state_get(k);
}

/* Asks a counter for its value (rk_call). */
static rk_counter_value counter_get(rk_kernel *k)
{
    rk_msg req = msg_make(RK_COUNTER_GET, NULL, 0), reply;
    rk_counter_value v;

    memset(&reply, 0, sizeof reply);
    reply.payload = &v;
    reply.payload_cap = sizeof v;
    if (rk_call(k, &req, &reply, TIMEOUT) != 0)
        fail_msg("rk_call(counter_get): %s", rk_last_error());
    assert_int_equal(reply.env.payload_len, sizeof v);
    return v;
}

/* ---- Runtime creation ------------------------------------------------------------------------------ */

static void test_create_destroy(void **s)
{
    rk_runtime *rt = rt_new();

    (void)s;
    assert_int_equal(rk_runtime_backend(rt), g_backend);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_auto_choice_is_queryable(void **s)
{
    rk_backend_status st;
    rk_runtime *rt;

    (void)s;
    assert_int_equal(rk_runtime_create(&rt, NULL), 0); /* NULL options: AUTO */
    assert_int_not_equal(rk_runtime_backend(rt), RK_BACKEND_AUTO);
    assert_int_equal(rk_backend_probe(rk_runtime_backend(rt), &st), 0);
    assert_true(st.available);
    assert_int_equal(rk_backend_probe(RK_BACKEND_AUTO, &st), 0);
    assert_true(st.available);
    assert_non_null(strstr(st.reason, rk_backend_name(rk_runtime_backend(rt))));
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_backend_names_and_probe(void **s)
{
    rk_backend_kind kind;
    rk_backend_status st;
    rk_device_info dev;

    (void)s;
    assert_int_equal(rk_backend_parse("CPU", &kind), 0);
    assert_int_equal(kind, RK_BACKEND_CPU);
    assert_int_equal(rk_backend_parse("vulkan", &kind), 0);
    assert_int_equal(kind, RK_BACKEND_VULKAN);
    assert_int_equal(rk_backend_parse("opencl", &kind), RK_EINVAL);
    assert_string_equal(rk_backend_name(RK_BACKEND_CUDA), "cuda");
    assert_string_equal(rk_backend_name((rk_backend_kind)99), "unknown");
    assert_int_equal(rk_backend_probe(RK_BACKEND_CPU, NULL), RK_EINVAL);
    assert_int_equal(rk_backend_probe(RK_BACKEND_CPU, &st), 0);
    assert_true(st.compiled && st.available && st.device_count == 1);
    assert_int_equal(rk_backend_probe(RK_BACKEND_METAL, &st), 0);
    assert_false(st.available);
    assert_false(st.compiled);
    assert_non_null(strstr(st.reason, "not compiled into this build"));
    assert_int_equal(rk_backend_devices(RK_BACKEND_CPU, &dev, 1), 1);
    assert_true(dev.compute_units >= 1 && dev.memory_bytes > 0 && dev.name[0] != '\0');
    assert_int_equal(rk_backend_devices(RK_BACKEND_CPU, NULL, 1), RK_EINVAL);
    assert_int_equal(rk_backend_devices(RK_BACKEND_METAL, &dev, 1), 0);
}

static void test_unavailable_backend_is_enodev(void **s)
{
    rk_runtime *rt = NULL;

    (void)s;
    assert_int_equal(rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = RK_BACKEND_METAL }), RK_ENODEV);
    assert_null(rt);
    assert_non_null(strstr(rk_last_error(), "metal"));
    assert_int_equal(rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = (rk_backend_kind)42 }), RK_EINVAL);
}

static void test_null_pointers(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "echo", NULL);
    rk_msg m = msg_make(1, NULL, 0);
    rk_kernel_stats st;
    rk_hlc_ts ts;
    const rk_envelope *ce;
    const void *cp;
    rk_envelope *e;
    void *p;

    (void)s;
    assert_int_equal(rk_runtime_create(NULL, NULL), RK_EINVAL);
    assert_int_equal(rk_kernel_launch(NULL, "echo", NULL, &k), RK_EINVAL);
    assert_int_equal(rk_kernel_launch(rt, NULL, NULL, &k), RK_EINVAL);
    assert_int_equal(rk_kernel_launch(rt, "echo", NULL, NULL), RK_EINVAL);
    assert_int_equal(rk_send(NULL, &m, 0), RK_EINVAL);
    assert_int_equal(rk_send(k, NULL, 0), RK_EINVAL);
    assert_int_equal(rk_send_batch(k, &m, 0, 0), RK_EINVAL);
    assert_int_equal(rk_recv(NULL, &m, 0), RK_EINVAL);
    assert_int_equal(rk_recv(k, NULL, 0), RK_EINVAL);
    m.payload_cap = 8; /* a capacity without a buffer */
    assert_int_equal(rk_recv(k, &m, 0), RK_EINVAL);
    m.env.payload_len = 8; /* a payload without bytes */
    assert_int_equal(rk_send(k, &m, 0), RK_EINVAL);
    assert_int_equal(rk_call(k, NULL, &m, 0), RK_EINVAL);
    assert_int_equal(rk_send_reserve(k, 0, NULL, &p, 0), RK_EINVAL);
    assert_int_equal(rk_send_reserve(k, 0, &e, NULL, 0), RK_EINVAL);
    assert_int_equal(rk_send_commit(NULL), RK_EINVAL);
    assert_int_equal(rk_send_commit(k), RK_EINVAL); /* nothing reserved */
    assert_int_equal(rk_recv_peek(k, NULL, &cp, 0), RK_EINVAL);
    assert_int_equal(rk_recv_peek(k, &ce, NULL, 0), RK_EINVAL);
    assert_int_equal(rk_recv_release(NULL), RK_EINVAL);
    assert_int_equal(rk_recv_release(k), RK_EINVAL); /* nothing peeked */
    assert_int_equal(rk_kernel_stats_get(NULL, &st), RK_EINVAL);
    assert_int_equal(rk_kernel_stats_get(k, NULL), RK_EINVAL);
    assert_int_equal(rk_kernel_terminate(NULL, 0), RK_EINVAL);
    assert_int_equal(rk_runtime_hlc_now(NULL, &ts), RK_EINVAL);
    assert_int_equal(rk_runtime_hlc_now(rt, NULL), RK_EINVAL);
    assert_int_equal(rk_kernel_payload_max(NULL), 0);
    assert_int_equal(rk_kernel_addr(NULL), RK_ADDR_HOST);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* ---- Launch options ------------------------------------------------------------------------------- */

static void test_zero_capacity_and_slot_mean_defaults(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "echo", &(rk_launch_opts){ .queue_capacity = 0, .slot_size = 0 });

    (void)s;
    assert_int_equal(rk_kernel_payload_max(k), 256 - RK_ENVELOPE_SIZE);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* Launching echo with o fails with code, says `detail`, and leaves no kernel. */
static void expect_launch_error(rk_launch_opts o, int code, const char *detail)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = NULL;

    assert_int_equal(rk_kernel_launch(rt, "echo", &o, &k), code);
    if (strstr(rk_last_error(), detail) == NULL)
        fail_msg("detail '%s' does not mention '%s'", rk_last_error(), detail);
    assert_null(k);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_capacity_not_power_of_two_is_einval(void **s)
{
    (void)s;
    expect_launch_error((rk_launch_opts){ .queue_capacity = 100 }, RK_EINVAL, "queue_capacity 100");
    expect_launch_error((rk_launch_opts){ .queue_capacity = 1 }, RK_EINVAL, "queue_capacity 1");
}

static void test_slot_size_not_power_of_two_is_einval(void **s)
{
    (void)s;
    expect_launch_error((rk_launch_opts){ .slot_size = 100 }, RK_EINVAL, "slot_size 100");
    expect_launch_error((rk_launch_opts){ .slot_size = 32 }, RK_EINVAL, "slot_size 32");
}

static void test_unknown_launch_flags_are_einval(void **s)
{
    (void)s;
    expect_launch_error((rk_launch_opts){ .flags = 1u << 7 }, RK_EINVAL, "launch flags");
    expect_launch_error((rk_launch_opts){ .flags = RK_LAUNCH_LOW_LATENCY | RK_LAUNCH_MULTI_PRODUCER }, RK_EINVAL,
                        "not with RK_LAUNCH_MULTI_PRODUCER");
    expect_launch_error((rk_launch_opts){ .flags = RK_LAUNCH_LOW_LATENCY | RK_LAUNCH_GRID_SYNC }, RK_EINVAL,
                        "not with RK_LAUNCH_GRID_SYNC");
}

static void test_unknown_actor_is_enoent(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = NULL;

    (void)s;
    assert_int_equal(rk_kernel_launch(rt, "no_such_actor", NULL, &k), RK_ENOENT);
    assert_non_null(strstr(rk_last_error(), "no_such_actor"));
    assert_null(k);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_payload_larger_than_slot_is_emsgsize(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "echo", &(rk_launch_opts){ .slot_size = 128 });
    uint8_t buf[128] = { 0 };
    rk_msg m = msg_make(1, buf, 65);
    rk_envelope *e;
    void *p;

    (void)s;
    assert_int_equal(rk_kernel_payload_max(k), 64);
    assert_int_equal(rk_send(k, &m, 0), RK_EMSGSIZE);
    assert_int_equal(rk_send_batch(k, &m, 1, 0), RK_EMSGSIZE);
    assert_int_equal(rk_send_reserve(k, 65, &e, &p, 0), RK_EMSGSIZE);
    m.env.payload_len = 64; /* exactly the maximum fits */
    assert_int_equal(rk_send(k, &m, TIMEOUT), 0);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* ---- Lifecycle ------------------------------------------------------------------------------------- */

static void test_send_to_terminated_kernel_is_eclosed(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "echo", NULL);
    rk_msg m = msg_make(1, NULL, 0);
    rk_envelope *e;
    void *p;

    (void)s;
    assert_int_equal(rk_kernel_terminate(k, TIMEOUT), 0);
    assert_int_equal(rk_send(k, &m, 0), RK_ECLOSED);
    assert_int_equal(rk_send(k, &m, TIMEOUT), RK_ECLOSED);
    assert_int_equal(rk_send_reserve(k, 0, &e, &p, 0), RK_ECLOSED);
    assert_int_equal(rk_recv(k, &m, 0), RK_ECLOSED); /* stopped and nothing left */
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_double_terminate_is_eclosed(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "echo", NULL);

    (void)s;
    assert_int_equal(rk_kernel_terminate(k, TIMEOUT), 0);
    assert_int_equal(rk_kernel_terminate(k, TIMEOUT), RK_ECLOSED);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_double_destroy_is_ebadhandle(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k;

    (void)s;
    assert_int_equal(rk_runtime_destroy(rt), 0);
    assert_int_equal(rk_runtime_destroy(rt), RK_EBADHANDLE);
    assert_int_equal(rk_runtime_destroy(NULL), RK_EBADHANDLE);
    assert_int_equal(rk_kernel_launch(rt, "echo", NULL, &k), RK_EBADHANDLE);
}

static void test_lifecycle_states_and_drain(void **s)
{
    enum { N = 500 };
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "echo", &(rk_launch_opts){ .queue_capacity = 1024 });
    rk_kernel_stats st;
    uint64_t v, got = 0;
    rk_msg m;

    (void)s;
    assert_int_equal(wait_started(k), RK_STATE_RUNNING);
    for (uint64_t i = 0; i < N; i++) {
        m = msg_make(7, &i, sizeof i);
        assert_int_equal(rk_send(k, &m, TIMEOUT), 0);
    }
    /* Terminate right away: everything queued before it is processed (drain). */
    assert_int_equal(rk_kernel_terminate(k, TIMEOUT), 0);
    assert_int_equal(rk_kernel_state_get(k), RK_STATE_STOPPED);
    assert_int_equal(rk_kernel_stats_get(k, &st), 0);
    assert_int_equal(st.state, RK_STATE_STOPPED);
    assert_int_equal(st.msgs_in, N);
    assert_int_equal(st.msgs_out, N);
    assert_int_equal(st.sent, N);
    /* Replies stay receivable after the stop, in order. */
    memset(&m, 0, sizeof m);
    m.payload = &v;
    m.payload_cap = sizeof v;
    while (rk_recv(k, &m, 0) == 0) {
        assert_int_equal(v, got);
        got++;
    }
    assert_int_equal(got, N);
    assert_int_equal(rk_recv(k, &m, RK_TIMEOUT_MS(10)), RK_ECLOSED);
    assert_int_equal(rk_kernel_stats_get(k, &st), 0);
    assert_int_equal(st.received, N);
    assert_true(st.uptime_ns > 0);
    assert_string_equal(st.name, "echo");
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

typedef struct stop_log {
    int calls;
    rk_kernel_stats stats[8];
} stop_log;

static void on_stop(const rk_kernel_stats *st, void *arg)
{
    stop_log *log = arg;

    if (log->calls < 8)
        log->stats[log->calls] = *st;
    log->calls++;
}

static const rk_kernel_stats *stop_find(const stop_log *log, uint32_t id)
{
    for (int i = 0; i < log->calls && i < 8; i++)
        if (log->stats[i].kernel_id == id)
            return &log->stats[i];
    fail_msg("no on_stop report for kernel %u", id);
    return NULL;
}

static void test_on_stop_called_once_per_kernel(void **s)
{
    stop_log log = { 0 };
    rk_runtime *rt = rt_new_opts(on_stop, &log);
    rk_kernel *k[3];
    uint64_t v = 0;
    rk_msg m = msg_make(9, &v, sizeof v), r;
    const rk_kernel_stats *st;

    (void)s;
    for (int i = 0; i < 3; i++) {
        k[i] = launch(rt, "echo", NULL);
        for (int j = 0; j < 10 * (i + 1); j++)
            assert_int_equal(rk_send(k[i], &m, TIMEOUT), 0);
    }
    memset(&r, 0, sizeof r);
    r.payload = &v;
    r.payload_cap = sizeof v;
    for (int j = 0; j < 5; j++)
        assert_int_equal(rk_recv(k[0], &r, TIMEOUT), 0);
    assert_int_equal(rk_kernel_terminate(k[0], TIMEOUT), 0); /* reported here ... */
    assert_int_equal(log.calls, 1);
    assert_int_equal(rk_runtime_destroy(rt), 0); /* ... and the others here, each once */
    assert_int_equal(log.calls, 3);
    for (int i = 0; i < 3; i++) {
        st = stop_find(&log, (uint32_t)(i + 1));
        assert_int_equal(st->state, RK_STATE_STOPPED);
        assert_int_equal(st->sent, 10 * (i + 1));
        assert_int_equal(st->msgs_in, 10 * (i + 1));
        assert_int_equal(st->msgs_out, 10 * (i + 1));
        assert_int_equal(st->received, i == 0 ? 5 : 0);
        assert_int_equal(st->errors, 0);
    }
}

/* ---- Messaging ------------------------------------------------------------------------------------- */

static void test_recv_timeout_expires(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "echo", NULL);
    rk_msg m;
    int64_t t0, dt;

    (void)s;
    memset(&m, 0, sizeof m);
    assert_int_equal(rk_recv(k, &m, 0), RK_EAGAIN);
    t0 = now_ns();
    assert_int_equal(rk_recv(k, &m, RK_TIMEOUT_MS(30)), RK_ETIMEDOUT);
    dt = now_ns() - t0;
    assert_true(dt >= RK_TIMEOUT_MS(30));
    assert_true(dt < RK_TIMEOUT_MS(2000)); /* sanity, with room for a loaded machine */
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_echo_round_trip(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "echo", NULL);
    const char text[] = "hello, kernel";
    char buf[64] = { 0 };
    rk_msg m = msg_make(RK_TYPE_ID(greeting), text, sizeof text), r;

    (void)s;
    m.env.correlation_id = 4242;
    assert_int_equal(rk_send(k, &m, TIMEOUT), 0);
    memset(&r, 0, sizeof r);
    r.payload = buf;
    r.payload_cap = sizeof buf;
    assert_int_equal(rk_recv(k, &r, TIMEOUT), 0);
    assert_int_equal(r.env.magic, RK_ENVELOPE_MAGIC);
    assert_int_equal(r.env.type_id, RK_TYPE_ID(greeting));
    assert_int_equal(r.env.payload_len, sizeof text);
    assert_string_equal(buf, text);
    assert_int_equal(r.env.correlation_id, 4242);
    assert_true(r.env.flags & RK_ENV_REPLY);
    assert_int_equal(r.env.source, rk_kernel_addr(k));
    assert_int_equal(r.env.dest, RK_ADDR_HOST);
    assert_int_equal(r.env.seq, 1);
    /* A buffer too small truncates, consumes and says so. */
    assert_int_equal(rk_send(k, &m, TIMEOUT), 0);
    r.payload_cap = 4;
    memset(buf, 0, sizeof buf);
    assert_int_equal(rk_recv(k, &r, TIMEOUT), RK_EMSGSIZE);
    assert_int_equal(r.env.payload_len, sizeof text);
    assert_memory_equal(buf, text, 4);
    assert_int_equal(buf[4], 0);
    assert_int_equal(rk_recv(k, &r, 0), RK_EAGAIN);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* Waits up to TIMEOUT for the kernel to reach `want`. */
static rk_kernel_state wait_state(const rk_kernel *k, rk_kernel_state want)
{
    int64_t deadline = now_ns() + TIMEOUT;
    struct timespec tick = { 0, 100000 };

    while (rk_kernel_state_get(k) != want && now_ns() < deadline)
        nanosleep(&tick, NULL);
    return rk_kernel_state_get(k);
}

/* A paused kernel queues messages without handling them; resume hands them over in order; pause and resume
 * of a terminated kernel are RK_ECLOSED. */
static void test_pause_resume(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "echo", NULL);
    uint64_t v, got;
    rk_msg r;

    (void)s;
    assert_int_equal(wait_started(k), RK_STATE_RUNNING);
    assert_int_equal(rk_kernel_pause(NULL), RK_EINVAL);
    assert_int_equal(rk_kernel_pause(k), 0);
    assert_int_equal(wait_state(k, RK_STATE_PAUSED), RK_STATE_PAUSED);
    for (v = 0; v < 10; v++) {
        rk_msg m = msg_make(7, &v, sizeof v);
        assert_int_equal(rk_send(k, &m, TIMEOUT), 0);
    }
    memset(&r, 0, sizeof r);
    r.payload = &got;
    r.payload_cap = sizeof got;
    assert_int_equal(rk_recv(k, &r, RK_TIMEOUT_MS(50)), RK_ETIMEDOUT); /* nothing handled while paused */
    assert_int_equal(rk_kernel_state_get(k), RK_STATE_PAUSED);
    assert_int_equal(rk_kernel_resume(k), 0);
    for (v = 0; v < 10; v++) {
        assert_int_equal(rk_recv(k, &r, TIMEOUT), 0);
        assert_int_equal(got, v);
    }
    assert_int_equal(wait_state(k, RK_STATE_RUNNING), RK_STATE_RUNNING);
    /* Terminate drains a paused kernel. */
    assert_int_equal(rk_kernel_pause(k), 0);
    {
        rk_msg m = msg_make(7, &v, sizeof v);
        assert_int_equal(rk_send(k, &m, TIMEOUT), 0);
    }
    assert_int_equal(rk_kernel_terminate(k, TIMEOUT), 0);
    assert_int_equal(rk_recv(k, &r, TIMEOUT), 0);
    assert_int_equal(got, 10);
    assert_int_equal(rk_kernel_pause(k), RK_ECLOSED);
    assert_int_equal(rk_kernel_resume(k), RK_ECLOSED);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_batch_send_recv(void **s)
{
    enum { N = 1000, B = 32 };
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "echo", &(rk_launch_opts){ .queue_capacity = 64, .slot_size = 128 });
    uint64_t vals[B], outv[B];
    rk_msg m[B], r[B];
    uint64_t sent = 0, got = 0;

    (void)s;
    for (int i = 0; i < B; i++) {
        m[i] = msg_make(3, &vals[i], sizeof vals[i]);
        memset(&r[i], 0, sizeof r[i]);
        r[i].payload = &outv[i];
        r[i].payload_cap = sizeof outv[i];
    }
    while (got < N) {
        if (sent < N) {
            uint32_t n = N - sent < B ? (uint32_t)(N - sent) : B;
            int rc;

            for (uint32_t i = 0; i < n; i++)
                vals[i] = sent + i;
            rc = rk_send_batch(k, m, n, 0);
            if (rc > 0)
                sent += (uint64_t)rc;
            else
                assert_int_equal(rc, RK_EAGAIN);
        }
        int rc = rk_recv_batch(k, r, B, sent < N ? 0 : TIMEOUT);
        if (rc == RK_EAGAIN)
            continue;
        assert_true(rc >= 1 && rc <= B);
        for (int i = 0; i < rc; i++)
            assert_int_equal(outv[i], got++);
    }
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_zero_copy_reserve_commit_peek_release(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "echo", NULL);
    const rk_envelope *ce;
    const void *cp;
    rk_envelope *e;
    void *p;
    rk_kernel_stats st;

    (void)s;
    assert_int_equal(rk_send_reserve(k, 16, &e, &p, TIMEOUT), 0);
    assert_int_equal(e->magic, RK_ENVELOPE_MAGIC);
    assert_int_equal(e->payload_len, 16);
    assert_int_equal(e->dest, rk_kernel_addr(k));
    assert_ptr_equal(p, (uint8_t *)e + RK_ENVELOPE_SIZE);
    assert_int_equal(rk_send_reserve(k, 16, &e, &p, 0), RK_EINVAL); /* one at a time */
    e->type_id = RK_TYPE_ID(zc);
    memcpy(p, "zero-copy bytes!", 16);
    assert_int_equal(rk_send_commit(k), 0);
    assert_int_equal(rk_send_commit(k), RK_EINVAL);
    assert_int_equal(rk_recv_peek(k, &ce, &cp, TIMEOUT), 0);
    assert_int_equal(ce->type_id, RK_TYPE_ID(zc));
    assert_int_equal(ce->payload_len, 16);
    assert_memory_equal(cp, "zero-copy bytes!", 16);
    assert_int_equal(rk_recv_peek(k, &ce, &cp, 0), RK_EINVAL); /* one at a time */
    assert_int_equal(rk_recv_release(k), 0);
    assert_int_equal(rk_recv_release(k), RK_EINVAL);
    assert_int_equal(rk_kernel_stats_get(k, &st), 0);
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.received, 1);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

typedef struct stray_arg {
    rk_kernel *k;
    _Atomic int stop;
    uint64_t sent;
} stray_arg;

/* Sends plain messages (their echoes are stray replies for rk_call) until told to stop. It keeps fewer
 * than 64 strays unconsumed: rk_call only receives after its send, so strays that filled both rings would
 * leave its request no room (the caller, not the library, must bound what it leaves unreceived). */
static void *stray_sender(void *p)
{
    stray_arg *a = p;
    uint64_t v = 0xdead;
    rk_msg m = msg_make(RK_TYPE_ID(stray), &v, sizeof v);
    rk_kernel_stats st;

    while (!atomic_load(&a->stop)) {
        if (rk_kernel_stats_get(a->k, &st) != 0)
            break;
        if (a->sent - st.dropped < 64 && rk_send(a->k, &m, 0) == 0)
            a->sent++;
        else
            sched_yield();
    }
    return NULL;
}

/* ---- Concurrent request/reply (runtime.c K7) -------------------------------------------------------- */

/* Pauses a started kernel and waits until it takes no more messages. */
static void pause_started(rk_kernel *k)
{
    assert_int_equal(wait_started(k), RK_STATE_RUNNING);
    assert_int_equal(rk_kernel_pause(k), 0);
    assert_int_equal(wait_state(k, RK_STATE_PAUSED), RK_STATE_PAUSED);
}

typedef struct caller_arg {
    rk_kernel *k;
    uint64_t id;        /* caller id, 1-based */
    int calls;
    int slow_every;     /* test_sleeper only: every n-th call sleeps SLOW_US and gives up first (0: never) */
    int timed_out;      /* calls that returned RK_ETIMEDOUT, as they should */
    int late;           /* slow calls answered anyway: the caller was descheduled past its deadline while
                           another caller delivered its reply (legitimate on a loaded machine) */
    char error[200];    /* the first failure, empty if none */
} caller_arg;

#define SLOW_US 5000u                /* a slow call's handler sleeps this long... */
#define SLOW_TIMEOUT RK_TIMEOUT_MS(1) /* ...and its caller gives up after this */

/* Calls a/k a->calls times; each request is (caller id, sequence, mix, sleep in us) and each reply must
 * carry this caller's own words back. Failures are recorded (cmocka asserts only in the main thread). */
static void *caller_main(void *p)
{
    caller_arg *a = p;

    for (int i = 1; i <= a->calls && a->error[0] == '\0'; i++) {
        int slow = a->slow_every != 0 && i % a->slow_every == 0, rc;
        uint64_t req[4] = { a->id, (uint64_t)i, mix64(a->id << 40 ^ (uint64_t)i), slow ? SLOW_US : 0 };
        uint64_t out[4] = { 0 };
        rk_msg m = msg_make(RK_TYPE_ID(call), req, sizeof req), r;

        memset(&r, 0, sizeof r);
        r.payload = out;
        r.payload_cap = sizeof out;
        int64_t t0 = now_ns();
        rc = rk_call(a->k, &m, &r, slow ? SLOW_TIMEOUT : TIMEOUT);
        if (slow && rc == RK_ETIMEDOUT)
            a->timed_out++;
        else if (rc != 0)
            snprintf(a->error, sizeof a->error, "caller %llu call %d: %s", (unsigned long long)a->id, i,
                     rk_last_error());
        else if (slow && now_ns() - t0 < (int64_t)SLOW_US * 1000)
            snprintf(a->error, sizeof a->error, "caller %llu call %d: a %u us handler answered within %lld ns",
                     (unsigned long long)a->id, i, SLOW_US, (long long)(now_ns() - t0));
        else if (slow && memcmp(out, req, sizeof req) == 0)
            a->late++;
        else if (memcmp(out, req, sizeof req) != 0 || r.env.payload_len != sizeof req ||
                 r.env.type_id != RK_TYPE_ID(call) ||
                 r.env.correlation_id == 0 || !(r.env.flags & RK_ENV_REPLY))
            snprintf(a->error, sizeof a->error, "caller %llu call %d: got the reply (%llu, %llu) of another",
                     (unsigned long long)a->id, i, (unsigned long long)out[0], (unsigned long long)out[1]);
    }
    return NULL;
}

/* Runs t callers (slow_every as caller_arg) on k and checks each got its own replies. Returns the number
 * of calls that timed out; *late (if not NULL) gets the number of slow calls answered after their
 * deadline (see caller_arg.late). */
static int run_callers_late(rk_kernel *k, int t, int calls, int slow_every, int *late)
{
    caller_arg a[8];
    pthread_t th[8];
    int timed_out = 0;

    assert_true(t <= 8);
    for (int i = 0; i < t; i++) {
        a[i] = (caller_arg){ .k = k, .id = (uint64_t)i + 1, .calls = calls, .slow_every = slow_every };
        assert_int_equal(pthread_create(&th[i], NULL, caller_main, &a[i]), 0);
    }
    for (int i = 0; i < t; i++) {
        pthread_join(th[i], NULL);
        if (a[i].error[0] != '\0')
            fail_msg("%s", a[i].error);
        timed_out += a[i].timed_out;
        if (late != NULL)
            *late += a[i].late;
    }
    return timed_out;
}

static int run_callers(rk_kernel *k, int t, int calls, int slow_every)
{
    return run_callers_late(k, t, calls, slow_every, NULL);
}

/* A multi-producer kernel: a message another sender queued behind an open zero-copy reservation is not
 * lost when terminate comes before that reservation's commit; the drain waits for the commit (which then
 * fails with RK_ECLOSED and withdraws the slot) and handles the queued message. A reservation belongs to
 * the thread that made it, so the reserving thread commits. */
typedef struct late_commit {
    rk_kernel *k;
    _Atomic int reserved;
    int rc;
} late_commit;

static void *late_commit_main(void *p)
{
    late_commit *lc = p;
    struct timespec pause = { 0, 50000000 };
    uint64_t v = 88;
    rk_envelope *env;
    void *payload;

    lc->rc = rk_send_reserve(lc->k, sizeof v, &env, &payload, TIMEOUT);
    if (lc->rc != 0) {
        atomic_store(&lc->reserved, -1);
        return NULL;
    }
    memcpy(payload, &v, sizeof v);
    env->type_id = 8;
    atomic_store(&lc->reserved, 1);
    nanosleep(&pause, NULL); /* the main thread sends behind us and starts terminate meanwhile */
    lc->rc = rk_send_commit(lc->k);
    return NULL;
}

static void test_open_reservation_does_not_lose_queued_messages(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch_or_skip(rt, "echo", &(rk_launch_opts){ .flags = RK_LAUNCH_MULTI_PRODUCER });
    late_commit lc = { .k = k, .reserved = 0, .rc = 0 };
    uint64_t v = 77, got = 0;
    struct timespec tick = { 0, 100000 };
    pthread_t t;
    rk_msg m = msg_make(7, &v, sizeof v), r;

    (void)s;
    assert_int_equal(pthread_create(&t, NULL, late_commit_main, &lc), 0);
    while (atomic_load(&lc.reserved) == 0)
        nanosleep(&tick, NULL);
    assert_int_equal(atomic_load(&lc.reserved), 1);
    assert_int_equal(rk_send(k, &m, TIMEOUT), 0); /* queued behind the open reservation */
    assert_int_equal(rk_kernel_terminate(k, TIMEOUT), 0);
    pthread_join(t, NULL);
    assert_true(lc.rc == RK_ECLOSED || lc.rc == 0);
    memset(&r, 0, sizeof r);
    r.payload = &got;
    r.payload_cap = sizeof got;
    if (lc.rc == 0) { /* the commit won the race with terminate: both were handled, in queue order */
        assert_int_equal(rk_recv(k, &r, TIMEOUT), 0);
        assert_int_equal(r.env.type_id, 8);
    }
    assert_int_equal(rk_recv(k, &r, TIMEOUT), 0);
    assert_int_equal(r.env.type_id, 7);
    assert_int_equal(got, 77);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_call_from_eight_threads(void **s)
{
    enum { T = 8, N = 1000 };
    /* Queues of 4 slots: requests wait for H2K room and replies for K2H room all the time, so callers
     * block in their sends while another drains (the drainer must never wait on itself). */
    static const uint32_t capacities[] = { 1024, 4 };
    rk_kernel_stats st;

    (void)s;
    for (size_t c = 0; c < sizeof capacities / sizeof capacities[0]; c++) {
        rk_runtime *rt = rt_new();
        rk_kernel *k = launch_or_skip(rt, "echo", &(rk_launch_opts){ .flags = RK_LAUNCH_MULTI_PRODUCER,
                                                                      .queue_capacity = capacities[c] });

        assert_int_equal(run_callers(k, T, N, 0), 0);
        assert_int_equal(rk_kernel_stats_get(k, &st), 0);
        assert_int_equal(st.sent, T * N);
        assert_int_equal(st.received, T * N);
        assert_int_equal(st.dropped, 0);
        assert_int_equal(rk_runtime_destroy(rt), 0);
    }
}

static void test_call_timeout_drops_late_reply(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "echo", NULL);
    uint64_t v, out = 0;
    rk_msg m = msg_make(RK_TYPE_ID(call), &v, sizeof v), r;
    rk_kernel_stats st;

    (void)s;
    memset(&r, 0, sizeof r);
    r.payload = &out;
    r.payload_cap = sizeof out;
    pause_started(k);
    /* Paused: nothing answers. Three calls time out, one gives up at once. */
    for (v = 1; v <= 3; v++)
        assert_int_equal(rk_call(k, &m, &r, RK_TIMEOUT_MS(20)), RK_ETIMEDOUT);
    v = 4;
    assert_int_equal(rk_call(k, &m, &r, 0), RK_EAGAIN);
    assert_int_equal(rk_kernel_resume(k), 0);
    /* The next call drains the four late replies first (K2H is FIFO): dropped, never delivered to it. */
    v = 5;
    assert_int_equal(rk_call(k, &m, &r, TIMEOUT), 0);
    assert_int_equal(out, 5);
    assert_int_equal(rk_kernel_stats_get(k, &st), 0);
    assert_int_equal(st.dropped, 4);
    assert_int_equal(st.received, 5);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* rk_call_ex's cancel callback: counts the questions, asks to stop at the `stop_at`-th. */
typedef struct cancel_probe {
    atomic_int asked;
    int stop_at;
} cancel_probe;

static int cancel_after(void *arg)
{
    cancel_probe *p = arg;

    return atomic_fetch_add(&p->asked, 1) + 1 >= p->stop_at;
}

typedef struct held_call {
    rk_kernel *k;
    int rc;
} held_call;

/* Holds the drain role with a call that waits for `TIMEOUT` (the kernel is paused, then resumed). */
static void *held_call_main(void *arg)
{
    held_call *h = arg;
    uint64_t v = 100, out = 0;
    rk_msg m = msg_make(RK_TYPE_ID(call), &v, sizeof v), r;

    memset(&r, 0, sizeof r);
    r.payload = &out;
    r.payload_cap = sizeof out;
    h->rc = rk_call(h->k, &m, &r, TIMEOUT);
    return NULL;
}

static void test_call_cancel(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "echo", &(rk_launch_opts){ .flags = RK_LAUNCH_MULTI_PRODUCER, .queue_capacity = 2 });
    uint64_t v = 1, out = 0;
    rk_msg m = msg_make(RK_TYPE_ID(call), &v, sizeof v), r;
    cancel_probe p = { .stop_at = 3 };
    rk_call_opts o = { .cancel = cancel_after, .cancel_arg = &p, .check_ns = RK_TIMEOUT_MS(1) };
    rk_kernel_stats st;
    held_call h = { .k = k };
    pthread_t t;

    (void)s;
    memset(&r, 0, sizeof r);
    r.payload = &out;
    r.payload_cap = sizeof out;
    pause_started(k);
    /* The drainer's path: sent, then waits for a reply that cannot come; asked every ms, stops at the 3rd. */
    assert_int_equal(rk_call_ex(k, &m, &r, RK_TIMEOUT_INFINITE, &o), RK_ECANCELED);
    assert_int_equal(atomic_load(&p.asked), 3);
    assert_int_equal(rk_last_error_code(), RK_ECANCELED);
    /* A callback that never stops the call: the deadline still ends it, and NULL opts is rk_call. */
    p.stop_at = INT32_MAX;
    v = 2;
    assert_int_equal(rk_call_ex(k, &m, &r, RK_TIMEOUT_MS(20), &o), RK_ETIMEDOUT);
    assert_true(atomic_load(&p.asked) > 3);
    v = 3;
    assert_int_equal(rk_call_ex(k, &m, &r, 0, NULL), RK_EAGAIN);
    /* H2K has 2 slots and the paused kernel takes nothing: fill them; a cancel while H2K stays full sends
     * nothing. */
    while (rk_send(k, &m, 0) == 0)
        ;
    assert_int_equal(rk_kernel_stats_get(k, &st), 0);
    uint64_t sent = st.sent;
    atomic_store(&p.asked, 0);
    p.stop_at = 2;
    assert_int_equal(rk_call_ex(k, &m, &r, RK_TIMEOUT_INFINITE, &o), RK_ECANCELED);
    assert_int_equal(rk_kernel_stats_get(k, &st), 0);
    assert_int_equal(st.sent, sent);
    /* A linked caller's path: another thread holds the drain role, this one sleeps, then gives up. */
    assert_int_equal(rk_kernel_resume(k), 0);
    while (rk_recv(k, &r, RK_TIMEOUT_MS(50)) == 0) /* the replies of the sends above; late call replies too */
        ;
    pause_started(k);
    assert_int_equal(pthread_create(&t, NULL, held_call_main, &h), 0);
    nanosleep(&(struct timespec){ 0, 20000000 }, NULL); /* let it take the drain role */
    atomic_store(&p.asked, 0);
    p.stop_at = 2;
    v = 4;
    assert_int_equal(rk_call_ex(k, &m, &r, RK_TIMEOUT_INFINITE, &o), RK_ECANCELED);
    assert_int_equal(rk_kernel_resume(k), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(h.rc, 0); /* the holder got its own reply; the canceled call's was dropped */
    v = 5;
    assert_int_equal(rk_call_ex(k, &m, &r, TIMEOUT, &o), 0);
    assert_int_equal(out, 5);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_call_concurrent_timeouts(void **s)
{
    enum { T = 8, N = 25, SLOW_EVERY = 6 }; /* the last call of each caller is fast */
    rk_runtime *rt;
    rk_kernel *k;
    rk_kernel_stats st;
    int timed_out, late = 0;

    (void)s;
    skip_without_test_actors();
    rt = rt_new();
    k = launch_or_skip(rt, "test_sleeper", &(rk_launch_opts){ .flags = RK_LAUNCH_MULTI_PRODUCER }); /* a device without a shader clock */
    timed_out = run_callers_late(k, T, N, SLOW_EVERY, &late);
    /* Every slow call times out, unless its thread was descheduled past the deadline while another caller
     * delivered its (late, own) reply; no fast call times out. */
    assert_int_equal(timed_out + late, T * (N / SLOW_EVERY));
    /* Each caller's last call is fast and came after its slow ones, so every late reply was drained by
     * then (the kernel answers in order): each was dropped exactly once. */
    assert_int_equal(rk_kernel_stats_get(k, &st), 0);
    assert_int_equal(st.dropped, (uint64_t)timed_out);
    assert_int_equal(st.received, T * N);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* rk_call from `callers` threads at once among the echoes of plain sends (stray replies). */
static void call_among_strays(int callers, int calls)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch_or_skip(rt, "echo", &(rk_launch_opts){ .flags = RK_LAUNCH_MULTI_PRODUCER,
                                                                  .queue_capacity = 256 });
    stray_arg a = { .k = k };
    rk_kernel_stats st;
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, stray_sender, &a), 0);
    assert_int_equal(run_callers(k, callers, calls, 0), 0);
    atomic_store(&a.stop, 1);
    pthread_join(t, NULL);
    /* Whatever a call drains with no call waiting for it is dropped; the rest is still queued. */
    assert_int_equal(rk_kernel_stats_get(k, &st), 0);
    assert_int_equal(st.sent, a.sent + (uint64_t)callers * calls);
    assert_true(st.dropped <= a.sent);
    assert_int_equal(st.received, st.dropped + (uint64_t)callers * calls);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_call_matches_among_stray_replies(void **s)
{
    (void)s;
    call_among_strays(1, 300);
    call_among_strays(4, 300);
}

static void test_call_pending_table_is_bounded(void **s)
{
    enum { T = RK_CALL_MAX_PENDING + 1 }; /* one drains, RK_CALL_MAX_PENDING wait */
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch_or_skip(rt, "echo", &(rk_launch_opts){ .flags = RK_LAUNCH_MULTI_PRODUCER,
                                                                  .queue_capacity = 2 * RK_CALL_MAX_PENDING });
    caller_arg *a = calloc(T, sizeof *a);
    pthread_t *t = calloc(T, sizeof *t);
    uint64_t v = 0, out;
    rk_msg m = msg_make(RK_TYPE_ID(call), &v, sizeof v), r;
    rk_kernel_stats st;
    pthread_attr_t attr;
    int64_t deadline = now_ns() + TIMEOUT;
    struct timespec tick = { 0, 1000000 };

    (void)s;
    assert_non_null(a);
    assert_non_null(t);
    memset(&r, 0, sizeof r);
    r.payload = &out;
    r.payload_cap = sizeof out;
    pause_started(k);
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, 256 * 1024), 0); /* a thousand threads */
    for (int i = 0; i < T; i++) {
        a[i] = (caller_arg){ .k = k, .id = (uint64_t)i + 1, .calls = 1 };
        assert_int_equal(pthread_create(&t[i], &attr, caller_main, &a[i]), 0);
    }
    pthread_attr_destroy(&attr);
    /* Every request is queued (the kernel is paused): the table is full. */
    do {
        nanosleep(&tick, NULL);
        assert_int_equal(rk_kernel_stats_get(k, &st), 0);
    } while (st.sent < T && now_ns() < deadline);
    assert_int_equal(st.sent, T);
    assert_int_equal(rk_call(k, &m, &r, TIMEOUT), RK_ELIMIT);
    assert_int_equal(rk_kernel_stats_get(k, &st), 0);
    assert_int_equal(st.sent, T); /* a failed call sent nothing */
    assert_int_equal(rk_kernel_resume(k), 0);
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        if (a[i].error[0] != '\0')
            fail_msg("%s", a[i].error);
    }
    assert_int_equal(rk_call(k, &m, &r, TIMEOUT), 0); /* room again */
    free(a);
    free(t);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_counter_state_persists(void **s)
{
    enum { N = 100000, B = 64 };
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "counter", &(rk_launch_opts){ .queue_capacity = 1024, .slot_size = 64 * 2 });
    rk_counter_add adds[B];
    rk_msg m[B];
    rk_counter_value v;
    int64_t expect = 0;
    uint32_t sent = 0;

    (void)s;
    for (int i = 0; i < B; i++)
        m[i] = msg_make(RK_COUNTER_ADD, &adds[i], sizeof adds[i]);
    while (sent < N) {
        uint32_t n = N - sent < B ? N - sent : B;
        int rc;

        for (uint32_t i = 0; i < n; i++)
            adds[i].value = (int64_t)(sent + i) - 1000;
        rc = rk_send_batch(k, m, n, TIMEOUT);
        assert_true(rc >= 1);
        for (int i = 0; i < rc; i++)
            expect += adds[i].value;
        sent += (uint32_t)rc;
    }
    v = counter_get(k);
    assert_int_equal(v.count, N);
    assert_int_equal(v.sum, expect);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

typedef struct mp_arg {
    rk_kernel *k;
    int64_t value;
    int n;
} mp_arg;

static void *mp_sender(void *p)
{
    mp_arg *a = p;
    rk_counter_add add = { a->value };
    rk_msg m = msg_make(RK_COUNTER_ADD, &add, sizeof add);

    for (int i = 0; i < a->n; i++)
        if (rk_send(a->k, &m, TIMEOUT) != 0)
            return (void *)1;
    return NULL;
}

static void test_multi_producer_four_threads(void **s)
{
    enum { T = 4, N = 20000 };
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch_or_skip(rt, "counter", &(rk_launch_opts){ .flags = RK_LAUNCH_MULTI_PRODUCER,
                                                                     .queue_capacity = 256 });
    mp_arg a[T];
    pthread_t t[T];
    rk_counter_value v;
    int64_t expect = 0;
    void *ret;

    (void)s;
    for (int i = 0; i < T; i++) {
        a[i] = (mp_arg){ .k = k, .value = (int64_t)(i + 1) * 1000 + 3, .n = N };
        expect += a[i].value * N;
        assert_int_equal(pthread_create(&t[i], NULL, mp_sender, &a[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], &ret);
        assert_null(ret);
    }
    v = counter_get(k);
    assert_int_equal(v.count, (uint64_t)T * N);
    assert_int_equal(v.sum, expect);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_backpressure_drops_nothing(void **s)
{
    enum { N = 5000 };
    rk_runtime *rt = rt_new();
    /* Tiny queues: H2K and K2H fill constantly, so the kernel parks on K2H and resumes on receive. */
    rk_kernel *k = launch(rt, "echo", &(rk_launch_opts){ .queue_capacity = 4, .slot_size = 128 });
    uint64_t sent = 0, got = 0, v, out;
    rk_msg m = msg_make(5, &v, sizeof v), r;

    (void)s;
    memset(&r, 0, sizeof r);
    r.payload = &out;
    r.payload_cap = sizeof out;
    /* First fill both rings without receiving, so the kernel must stop on a full K2H. */
    for (v = 0; rk_send(k, &m, RK_TIMEOUT_MS(50)) == 0; v++)
        sent++;
    assert_int_equal(rk_last_error_code(), RK_ETIMEDOUT);
    assert_true(sent >= 8);
    while (got < N) {
        if (sent < N) {
            v = sent;
            if (rk_send(k, &m, 0) == 0)
                sent++;
        }
        if (rk_recv(k, &r, sent < N ? 0 : TIMEOUT) == 0)
            assert_int_equal(out, got++);
    }
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_hlc_replies_follow_requests(void **s)
{
    enum { N = 200 };
    rk_runtime *rt;
    rk_kernel *k;
    rk_hlc_ts prev, now, req;
    rk_msg m = msg_make(1, NULL, 0), r;

    (void)s;
    skip_without_test_actors();
    rt = rt_new();
    k = launch(rt, "test_hlc_probe", NULL);
    memset(&r, 0, sizeof r);
    r.payload = &req;
    r.payload_cap = sizeof req;
    assert_int_equal(rk_runtime_hlc_now(rt, &prev), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(rk_send(k, &m, TIMEOUT), 0);
        assert_int_equal(rk_recv(k, &r, TIMEOUT), 0);
        assert_true(rk_hlc_compare(&req, &prev) > 0);        /* the request was stamped after prev */
        assert_true(rk_hlc_compare(&r.env.hlc, &req) > 0);   /* the reply after the request */
        assert_int_equal(r.env.hlc.node, RK_ADDR_KERNEL(rk_kernel_addr(k)));
        assert_int_equal(rk_runtime_hlc_now(rt, &now), 0);
        assert_true(rk_hlc_compare(&now, &r.env.hlc) > 0);   /* the host merged the reply */
        assert_true(rk_hlc_compare(&now, &prev) > 0);        /* and its clock is monotone */
        prev = now;
    }
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_handler_error_yields_error_reply(void **s)
{
    rk_runtime *rt;
    rk_kernel *k;
    rk_kernel_stats st;
    int32_t code = 0;
    rk_msg m = msg_make(TYPE_FAIL, NULL, 0), r;

    (void)s;
    skip_without_test_actors();
    rt = rt_new();
    k = launch(rt, "test_failer", NULL);
    memset(&r, 0, sizeof r);
    r.payload = &code;
    r.payload_cap = sizeof code;
    assert_int_equal(rk_call(k, &m, &r, TIMEOUT), RK_EHANDLER);
    assert_non_null(strstr(rk_last_error(), "RK_EINVAL"));
    assert_true(r.env.flags & RK_ENV_ERROR);
    assert_true(r.env.flags & RK_ENV_REPLY);
    assert_int_equal(r.env.type_id, TYPE_FAIL);
    assert_int_equal(code, RK_EINVAL);
    /* A plain send that fails is counted, but gets no reply. */
    assert_int_equal(rk_send(k, &m, TIMEOUT), 0);
    m.env.type_id = 1; /* a following good message proves the kernel went on */
    assert_int_equal(rk_send(k, &m, TIMEOUT), 0);
    assert_int_equal(rk_recv(k, &r, TIMEOUT), 0);
    assert_int_equal(r.env.type_id, 1);
    assert_int_equal(wait_started(k), RK_STATE_RUNNING);
    /* Counters are published at the end of an activation, which may come after the reply arrived: read
     * them once the kernel stopped. */
    assert_int_equal(rk_kernel_terminate(k, TIMEOUT), 0);
    assert_int_equal(rk_kernel_stats_get(k, &st), 0);
    assert_int_equal(st.errors, 2);
    assert_int_equal(st.last_error, RK_EINVAL);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_counter_rejects_bad_messages(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "counter", NULL);
    uint32_t small = 1;
    rk_msg m = msg_make(RK_COUNTER_ADD, &small, sizeof small), r;
    rk_counter_add add = { 5 };
    rk_counter_value v;

    (void)s;
    memset(&r, 0, sizeof r);
    r.payload = &v;
    r.payload_cap = sizeof v;
    assert_int_equal(rk_call(k, &m, &r, TIMEOUT), RK_EHANDLER); /* wrong payload size */
    m = msg_make(RK_TYPE_ID(unknown), NULL, 0);
    assert_int_equal(rk_call(k, &m, &r, TIMEOUT), RK_EHANDLER);
    m = msg_make(RK_COUNTER_ADD, &add, sizeof add);
    assert_int_equal(rk_call(k, &m, &r, TIMEOUT), 0); /* an add as a request answers the new value */
    assert_int_equal(v.count, 1);
    assert_int_equal(v.sum, 5);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_instances_have_their_own_state(void **s)
{
    rk_runtime *rt;
    rk_kernel *k;
    uint64_t out[2];
    rk_msg m = msg_make(1, NULL, 0), r;

    (void)s;
    skip_without_test_actors();
    rt = rt_new();
    k = launch(rt, "test_instances", &(rk_launch_opts){ .instances = 3 });
    memset(&r, 0, sizeof r);
    r.payload = out;
    r.payload_cap = sizeof out;
    for (int round = 1; round <= 2; round++) {
        for (uint32_t inst = 0; inst < 3; inst++) {
            m.env.dest = RK_ADDR(0, inst);
            assert_int_equal(rk_send(k, &m, TIMEOUT), 0);
            assert_int_equal(rk_recv(k, &r, TIMEOUT), 0);
            assert_int_equal(out[0], inst);
            assert_int_equal(out[1], round);
            assert_int_equal(r.env.source, RK_ADDR(RK_ADDR_KERNEL(rk_kernel_addr(k)), inst));
        }
    }
    m.env.dest = RK_ADDR(0, 3);
    assert_int_equal(rk_send(k, &m, 0), RK_EINVAL);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_ten_thousand_idle_actors(void **s)
{
    enum { N = 10000 };
    rk_runtime *rt;
    rk_kernel **k = calloc(N, sizeof *k);
    int base = thread_count(), threads;
    int64_t cpu0, cpu_used;
    uint32_t v, out;
    rk_msg m = msg_make(2, &v, sizeof v), r;
    struct timespec pause = { 0, 200 * 1000 * 1000 };

    (void)s;
    assert_non_null(k);
    /* CPU only. The test is about a thread pool: 10,000 kernels served by WORKERS threads and no CPU while
     * idle. CUDA caps resident kernels by SMs (C1). Vulkan drives each kernel from its own host thread
     * (vulkan_backend.c V1) with its own buffers, descriptor pool, command buffers and fence: 10,000
     * kernels would be 10,000 threads and ~40,000 device allocations, past maxMemoryAllocationCount on
     * most drivers (4096 on NVIDIA's). The host-driven dispatch loop trades that scale for a loop a shader
     * can run without forward-progress guarantees; docs/GUIDE.md §5 says so. */
    if (g_backend != RK_BACKEND_CPU) {
        free(k);
        skip();
    }
    rt = rt_new();
    for (int i = 0; i < N; i++)
        k[i] = launch(rt, "echo", &(rk_launch_opts){ .queue_capacity = 2, .slot_size = 128 });
    threads = thread_count();
    assert_true(threads <= base + (int)WORKERS + 1);
    /* Idle actors cost no CPU: the workers sleep. */
    cpu0 = cpu_time_ns();
    nanosleep(&pause, NULL);
    cpu_used = cpu_time_ns() - cpu0;
    if (cpu_used > RK_TIMEOUT_MS(100))
        fail_msg("10,000 idle actors used %lld ms of CPU in 200 ms", (long long)(cpu_used / 1000000));
    /* Every one of them answers. */
    for (uint32_t i = 0; i < N; i++) {
        v = i;
        assert_int_equal(rk_send(k[i], &m, TIMEOUT), 0);
    }
    memset(&r, 0, sizeof r);
    r.payload = &out;
    r.payload_cap = sizeof out;
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(rk_recv(k[i], &r, TIMEOUT), 0);
        assert_int_equal(out, i);
    }
    assert_true(thread_count() <= base + (int)WORKERS + 1);
    assert_int_equal(rk_runtime_destroy(rt), 0);
    free(k);
}

static void test_destroy_with_unread_replies(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "echo", &(rk_launch_opts){ .queue_capacity = 4 });
    rk_msg m = msg_make(1, NULL, 0);
    int n = 0;

    (void)s;
    /* Fill K2H and H2K; nobody receives. destroy still stops the kernel (discarding the replies). */
    while (rk_send(k, &m, RK_TIMEOUT_MS(20)) == 0)
        n++;
    assert_true(n >= 8);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* ---- main ------------------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_destroy),
        cmocka_unit_test(test_auto_choice_is_queryable),
        cmocka_unit_test(test_backend_names_and_probe),
        cmocka_unit_test(test_unavailable_backend_is_enodev),
        cmocka_unit_test(test_null_pointers),
        cmocka_unit_test(test_zero_capacity_and_slot_mean_defaults),
        cmocka_unit_test(test_capacity_not_power_of_two_is_einval),
        cmocka_unit_test(test_slot_size_not_power_of_two_is_einval),
        cmocka_unit_test(test_unknown_launch_flags_are_einval),
        cmocka_unit_test(test_unknown_actor_is_enoent),
        cmocka_unit_test(test_payload_larger_than_slot_is_emsgsize),
        cmocka_unit_test(test_send_to_terminated_kernel_is_eclosed),
        cmocka_unit_test(test_double_terminate_is_eclosed),
        cmocka_unit_test(test_double_destroy_is_ebadhandle),
        cmocka_unit_test(test_lifecycle_states_and_drain),
        cmocka_unit_test(test_on_stop_called_once_per_kernel),
        cmocka_unit_test(test_recv_timeout_expires),
        cmocka_unit_test(test_echo_round_trip),
        cmocka_unit_test(test_pause_resume),
        cmocka_unit_test(test_batch_send_recv),
        cmocka_unit_test(test_zero_copy_reserve_commit_peek_release),
        cmocka_unit_test(test_call_matches_among_stray_replies),
        cmocka_unit_test(test_open_reservation_does_not_lose_queued_messages),
        cmocka_unit_test(test_call_from_eight_threads),
        cmocka_unit_test(test_call_timeout_drops_late_reply),
        cmocka_unit_test(test_call_cancel),
        cmocka_unit_test(test_call_concurrent_timeouts),
        cmocka_unit_test(test_call_pending_table_is_bounded),
        cmocka_unit_test(test_counter_state_persists),
        cmocka_unit_test(test_multi_producer_four_threads),
        cmocka_unit_test(test_backpressure_drops_nothing),
        cmocka_unit_test(test_hlc_replies_follow_requests),
        cmocka_unit_test(test_handler_error_yields_error_reply),
        cmocka_unit_test(test_counter_rejects_bad_messages),
        cmocka_unit_test(test_instances_have_their_own_state),
        cmocka_unit_test(test_ten_thousand_idle_actors),
        cmocka_unit_test(test_destroy_with_unread_replies),
    };
    rk_backend_status st;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
            if (rk_backend_parse(argv[++i], &g_backend) != 0 || g_backend == RK_BACKEND_AUTO) {
                fprintf(stderr, "runtime_test: unknown backend '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--low-latency") == 0) {
            g_low_latency = 1;
        } else {
            fprintf(stderr, "usage: runtime_test [--backend cpu|cuda|vulkan] [--low-latency]\n");
            return 2;
        }
    }
    if (rk_backend_probe(g_backend, &st) != 0 || !st.available) {
        printf("runtime_test: backend %s is not available: %s\n", rk_backend_name(g_backend), st.reason);
        return 77;
    }
#ifdef RK_TEST_VK_ACTORS
    if (register_vulkan_actors() != 0)
        return 1;
#endif
    printf("runtime_test: backend %s (%s)%s\n", rk_backend_name(g_backend), st.reason,
           g_low_latency ? ", every kernel launched with RK_LAUNCH_LOW_LATENCY" : "");
    if (getenv("RK_TEST_FILTER") != NULL) /* e.g. RK_TEST_FILTER='test_call*' */
        cmocka_set_test_filter(getenv("RK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
