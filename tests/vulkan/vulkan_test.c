/* vulkan_test.c - what only the Vulkan backend has: device listing and selection, the pipeline cache on
 * disk, the SPIR-V dispatch layer (a SAXPY kernel with timestamps), terminate under load, many kernels,
 * counter instances, the missing-loader path and the validation layer.
 *
 *   vulkan_test                     the suite; exits 77 (skipped) when no Vulkan device is usable
 *   vulkan_test --no-loader         run with RK_VK_LOADER pointing nowhere: the backend must say why it is
 *                                   unavailable, and everything else must keep working
 *   vulkan_test --provoke-validation  makes one invalid call and checks that the validation messenger
 *                                   counted it (so a clean run's zero means something)
 *
 * With RK_VK_VALIDATION=1 (the CTest registration sets it) every context runs under the validation layer
 * and the suite fails if it reported anything.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/vulkan/vk_context.h"
#include "ringkernel/builtin.h"
#include "ringkernel/message.h"
#include "ringkernel/runtime.h"

extern const uint32_t rk_test_spv_saxpy[];
extern const size_t rk_test_spv_saxpy_words;

#define TIMEOUT RK_TIMEOUT_MS(10000)

static char g_cache_dir[256]; /* a fresh directory per run, so the cache tests see no earlier file */

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static rk_runtime *rt_new(void)
{
    rk_runtime *rt = NULL;

    if (rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = RK_BACKEND_VULKAN }) != 0)
        fail_msg("rk_runtime_create: %s", rk_last_error());
    return rt;
}

static rk_kernel *launch(rk_runtime *rt, const char *name, const rk_launch_opts *o)
{
    rk_kernel *k = NULL;

    if (rk_kernel_launch(rt, name, o, &k) != 0)
        fail_msg("rk_kernel_launch(%s): %s", name, rk_last_error());
    return k;
}

static rk__vk_ctx *ctx_new(const char *cache_dir)
{
    rk__vk_ctx *c = NULL;
    rk__vk_ctx_opts o = { .device = 0, .cache_dir = cache_dir };

    if (rk__vk_ctx_create(&c, &o) != 0)
        fail_msg("rk__vk_ctx_create: %s", rk_last_error());
    return c;
}

/* ---- Devices --------------------------------------------------------------------------------------- */

static void test_devices_in_preference_order(void **s)
{
    rk__vk_device_desc d[RK__VK_MAX_DEVICES];
    rk_device_info info[RK__VK_MAX_DEVICES];
    rk_backend_status st;
    int n, m;

    (void)s;
    n = rk__vk_devices(d, RK__VK_MAX_DEVICES, NULL);
    assert_true(n >= 1);
    for (int i = 1; i < n; i++) /* discrete, integrated, virtual, CPU, other */
        assert_true(d[i - 1].type == d[i].type ||
                    !(d[i - 1].type == VK_PHYSICAL_DEVICE_TYPE_CPU && d[i].type != VK_PHYSICAL_DEVICE_TYPE_OTHER));
    m = rk_backend_devices(RK_BACKEND_VULKAN, info, RK__VK_MAX_DEVICES);
    assert_int_equal(m, n);
    for (int i = 0; i < m; i++) {
        assert_int_equal(info[i].backend, RK_BACKEND_VULKAN);
        assert_int_equal(info[i].index, i);
        assert_non_null(strstr(info[i].name, d[i].name));
        assert_non_null(strstr(info[i].name, rk__vk_type_name(d[i].type))); /* the type rides on the name */
        assert_true(info[i].driver[0] != '\0');
    }
    assert_int_equal(rk_backend_probe(RK_BACKEND_VULKAN, &st), 0);
    assert_true(st.compiled && st.available);
    assert_int_equal(st.device_count, n);
    assert_non_null(strstr(st.reason, d[0].name));
    /* AUTO takes Vulkan for a GPU only; a CPU implementation (lavapipe) leaves it to the CPU backend. */
    assert_int_equal(rk_backend_probe(RK_BACKEND_AUTO, &st), 0);
    if (d[0].type == VK_PHYSICAL_DEVICE_TYPE_CPU)
        assert_null(strstr(st.reason, "auto selects vulkan"));
}

static void test_device_selection(void **s)
{
    rk__vk_device_desc d;
    rk_runtime *rt = NULL;
    rk__vk_ctx *c;

    (void)s;
    assert_int_equal(rk__vk_devices(&d, 1, NULL), 1);
    c = ctx_new(g_cache_dir);
    assert_string_equal(c->desc.name, d.name); /* device 0 is the preferred one */
    assert_int_equal(c->desc.type, d.type);
    rk__vk_ctx_destroy(c);
    assert_int_equal(rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = RK_BACKEND_VULKAN, .device = 99 }),
                     RK_ENODEV);
    assert_null(rt);
    assert_non_null(strstr(rk_last_error(), "no device 99"));
}

/* ---- Pipeline cache -------------------------------------------------------------------------------- */

static void build_saxpy(rk__vk_ctx *c)
{
    rk__vk_pipeline p;

    if (rk__vk_pipeline_create(c, rk_test_spv_saxpy, rk_test_spv_saxpy_words, 2, 8, &p) != 0)
        fail_msg("rk__vk_pipeline_create: %s", rk_last_error());
    rk__vk_pipeline_destroy(c, &p);
}

/* The cache file's header names this device (VkPipelineCacheHeaderVersionOne). */
static void assert_cache_file_valid(const char *path, const rk__vk_ctx *c)
{
    VkPipelineCacheHeaderVersionOne h;
    FILE *f = fopen(path, "rb");

    assert_non_null(f);
    assert_int_equal(fread(&h, 1, sizeof h, f), sizeof h);
    fclose(f);
    assert_int_equal(h.headerVersion, VK_PIPELINE_CACHE_HEADER_VERSION_ONE);
    assert_int_equal(h.vendorID, c->props.vendorID);
    assert_memory_equal(h.pipelineCacheUUID, c->props.pipelineCacheUUID, VK_UUID_SIZE);
}

static size_t file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    fclose(f);
    return n > 0 ? (size_t)n : 0;
}

static void test_pipeline_cache_round_trip_and_corrupt_file(void **s)
{
    char dir[300], path[600];
    rk__vk_ctx *c;
    FILE *f;

    (void)s;
    snprintf(dir, sizeof dir, "%s/round-trip", g_cache_dir); /* created by the context */
    c = ctx_new(dir);
    assert_int_equal(c->cache_loaded, 0); /* no file yet */
    assert_int_equal(c->cache_rejected, 0);
    assert_true(c->cache_path[0] != '\0');
    assert_non_null(strstr(c->cache_path, dir));
    snprintf(path, sizeof path, "%s", c->cache_path);
    build_saxpy(c);
    rk__vk_ctx_destroy(c); /* writes the file */
    c = ctx_new(dir);
    /* Seeded from the file: all of it (lavapipe's cache holds only the header, a GPU driver's holds the
     * compiled pipelines too). */
    assert_true(c->cache_loaded >= sizeof(VkPipelineCacheHeaderVersionOne));
    assert_int_equal(c->cache_loaded, file_size(path));
    assert_int_equal(c->cache_rejected, 0);
    assert_cache_file_valid(path, c);
    rk__vk_ctx_destroy(c);

    /* A damaged file is ignored (the pipelines are built anyway) and rewritten at destroy. */
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs("this is not a pipeline cache, but it is longer than a header of 32 bytes", f);
    fclose(f);
    c = ctx_new(dir);
    assert_int_equal(c->cache_loaded, 0);
    assert_int_equal(c->cache_rejected, 1);
    build_saxpy(c);
    rk__vk_ctx_destroy(c);
    c = ctx_new(dir);
    assert_int_equal(c->cache_loaded, file_size(path));
    assert_int_equal(c->cache_rejected, 0);
    assert_cache_file_valid(path, c);
    rk__vk_ctx_destroy(c);
}

/* ---- SPIR-V dispatch --------------------------------------------------------------------------------- */

static void test_saxpy_dispatch_with_timestamps(void **s)
{
    enum { N = 1 << 20 };
    rk__vk_ctx *c = ctx_new(g_cache_dir);
    rk__vk_pipeline p;
    rk__vk_buffer x, y;
    rk__vk_buffer *bufs[2] = { &x, &y };
    struct { float a; uint32_t n; } push = { 2.0f, N - 3 }; /* the tail proves the bound check */
    uint32_t groups[3] = { (N + 63) / 64, 1, 1 };
    uint64_t elapsed = 0;
    float *xv, *yv;

    (void)s;
    assert_int_equal(rk__vk_pipeline_create(c, rk_test_spv_saxpy, rk_test_spv_saxpy_words, 2, sizeof push, &p), 0);
    assert_int_equal(rk__vk_buffer_create(c, N * sizeof(float), RK__VK_MEM_HOST, 0, &x), 0);
    assert_int_equal(rk__vk_buffer_create(c, N * sizeof(float), RK__VK_MEM_HOST, 0, &y), 0);
    xv = x.map;
    yv = y.map;
    for (int i = 0; i < N; i++) { /* small integers: every result is exact in float */
        xv[i] = (float)(i % 1000);
        yv[i] = (float)(i % 7);
    }
    assert_int_equal(rk__vk_run(c, &p, bufs, 2, &push, groups, &elapsed), 0);
    for (int i = 0; i < N; i++) {
        float want = i < N - 3 ? 2.0f * (float)(i % 1000) + (float)(i % 7) : (float)(i % 7);
        if (yv[i] != want)
            fail_msg("y[%d] = %g, want %g", i, (double)yv[i], (double)want);
    }
    if (c->timestamp_bits > 0)
        assert_true(elapsed > 0);
    else
        printf("note: device '%s' has no compute timestamps; elapsed not checked\n", c->desc.name);
    printf("saxpy of %d floats: %.3f ms of device time\n", N, (double)elapsed / 1e6);
    /* The layer refuses what is not SPIR-V and a dispatch with the wrong buffers, with no side effect. */
    assert_int_equal(rk__vk_run(c, &p, bufs, 1, &push, groups, NULL), RK_EINVAL);
    {
        rk__vk_pipeline bad;
        uint32_t junk[8] = { 0xdeadbeef };

        assert_int_equal(rk__vk_pipeline_create(c, junk, 8, 2, 0, &bad), RK_EINVAL);
        assert_non_null(strstr(rk_last_error(), "SPIR-V"));
    }
    rk__vk_buffer_destroy(c, &y);
    rk__vk_buffer_destroy(c, &x);
    rk__vk_pipeline_destroy(c, &p);
    rk__vk_ctx_destroy(c);
}

/* ---- Actors ------------------------------------------------------------------------------------------ */

typedef struct load {
    rk_kernel *k;
    _Atomic uint64_t sent, received;
    int order_ok;
} load;

static void *load_sender(void *p)
{
    load *l = p;
    uint64_t v;
    rk_msg m = { .env.type_id = 5, .env.payload_len = sizeof v, .payload = &v };

    for (v = 0;; v++) {
        int rc = rk_send(l->k, &m, RK_TIMEOUT_MS(100));
        if (rc == RK_ECLOSED)
            return NULL;
        if (rc != 0) {
            v--; /* a full queue for 100 ms (a slow machine): try the same value again */
            continue;
        }
        atomic_store(&l->sent, v + 1);
    }
}

static void *load_receiver(void *p)
{
    load *l = p;
    uint64_t v, want = 0;
    rk_msg r = { .payload = &v, .payload_cap = sizeof v };

    l->order_ok = 1;
    for (;;) {
        int rc = rk_recv(l->k, &r, RK_TIMEOUT_MS(100));
        if (rc == RK_ECLOSED)
            return NULL;
        if (rc != 0)
            continue;
        if (v != want++)
            l->order_ok = 0;
        atomic_store(&l->received, want);
    }
}

static void test_terminate_under_load(void **s)
{
    rk_runtime *rt = rt_new();
    load l = { .k = launch(rt, "echo", &(rk_launch_opts){ .queue_capacity = 512 }) };
    struct timespec busy = { 0, 150 * 1000 * 1000 };
    pthread_t ts, tr;
    rk_kernel_stats st;
    int64_t t0, dt;

    (void)s;
    assert_int_equal(pthread_create(&ts, NULL, load_sender, &l), 0);
    assert_int_equal(pthread_create(&tr, NULL, load_receiver, &l), 0);
    nanosleep(&busy, NULL);
    assert_true(atomic_load(&l.received) > 0); /* it is really under load */
    t0 = now_ns();
    assert_int_equal(rk_kernel_terminate(l.k, RK_TIMEOUT_MS(3000)), 0);
    dt = now_ns() - t0;
    pthread_join(ts, NULL);
    pthread_join(tr, NULL);
    assert_true(dt < RK_TIMEOUT_MS(3000));
    printf("terminate under load: %.2f ms, %llu messages\n", (double)dt / 1e6,
           (unsigned long long)atomic_load(&l.sent));
    /* Drained: everything accepted was handled and answered, in order. */
    assert_int_equal(rk_kernel_stats_get(l.k, &st), 0);
    assert_int_equal(st.state, RK_STATE_STOPPED);
    assert_int_equal(st.sent, atomic_load(&l.sent));
    assert_int_equal(st.msgs_in, st.sent);
    assert_int_equal(st.msgs_out, st.sent);
    assert_int_equal(st.received, atomic_load(&l.received));
    assert_int_equal(st.received, st.sent);
    assert_true(l.order_ok);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_many_kernels_at_once(void **s)
{
    enum { K = 24, N = 200 };
    rk_runtime *rt = rt_new();
    rk_kernel *k[K];
    rk_counter_add add;
    rk_counter_value v;
    uint64_t x, got;

    (void)s;
    for (int i = 0; i < K; i++)
        k[i] = launch(rt, i % 2 ? "counter" : "echo", &(rk_launch_opts){ .queue_capacity = 256 });
    /* Interleaved: every kernel has work queued while the others run. */
    for (int j = 0; j < N; j++) {
        for (int i = 0; i < K; i++) {
            rk_msg m = { .env.type_id = i % 2 ? RK_COUNTER_ADD : 9, .env.payload_len = 8 };

            add.value = i * 1000 + j;
            x = (uint64_t)i << 32 | (uint64_t)j;
            m.payload = i % 2 ? (void *)&add : (void *)&x;
            assert_int_equal(rk_send(k[i], &m, TIMEOUT), 0);
        }
    }
    for (int i = 0; i < K; i++) {
        if (i % 2) {
            rk_msg req = { .env.type_id = RK_COUNTER_GET }, r = { .payload = &v, .payload_cap = sizeof v };

            assert_int_equal(rk_call(k[i], &req, &r, TIMEOUT), 0);
            assert_int_equal(v.count, N);
            assert_int_equal(v.sum, (int64_t)N * i * 1000 + (int64_t)N * (N - 1) / 2);
            continue;
        }
        for (int j = 0; j < N; j++) {
            rk_msg r = { .payload = &got, .payload_cap = sizeof got };

            assert_int_equal(rk_recv(k[i], &r, TIMEOUT), 0);
            assert_int_equal(got, (uint64_t)i << 32 | (uint64_t)j);
        }
    }
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* The counter keeps one state per instance; replies come from the instance addressed. */
static void test_counter_instances(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = launch(rt, "counter", &(rk_launch_opts){ .instances = 3 });
    rk_counter_add add;
    rk_counter_value v;

    (void)s;
    for (uint32_t inst = 0; inst < 3; inst++) {
        for (int j = 0; j <= (int)inst; j++) {
            rk_msg m = { .env.type_id = RK_COUNTER_ADD, .env.payload_len = sizeof add, .env.dest = RK_ADDR(0, inst),
                         .payload = &add };
            add.value = 10 * (int64_t)inst - 7;
            assert_int_equal(rk_send(k, &m, TIMEOUT), 0);
        }
    }
    for (uint32_t inst = 0; inst < 3; inst++) {
        rk_msg req = { .env.type_id = RK_COUNTER_GET, .env.dest = RK_ADDR(0, inst) };
        rk_msg r = { .payload = &v, .payload_cap = sizeof v };

        assert_int_equal(rk_call(k, &req, &r, TIMEOUT), 0);
        assert_int_equal(v.count, inst + 1);
        assert_int_equal(v.sum, (int64_t)(inst + 1) * (10 * (int64_t)inst - 7));
        assert_int_equal(r.env.source, RK_ADDR(RK_ADDR_KERNEL(rk_kernel_addr(k)), inst));
    }
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* Only the built-ins run on Vulkan for now: a CPU actor's name is RK_ENOENT, with the reason. */
static void test_unknown_actor_names_the_builtins(void **s)
{
    rk_runtime *rt = rt_new();
    rk_kernel *k = NULL;

    (void)s;
    assert_int_equal(rk_kernel_launch(rt, "no_such_actor", NULL, &k), RK_ENOENT);
    assert_non_null(strstr(rk_last_error(), "echo and counter"));
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* ---- Validation -------------------------------------------------------------------------------------- */

/* Runs last: every context above ran under the validation layer when RK_VK_VALIDATION=1. */
static void test_validation_reported_nothing(void **s)
{
    const char *env = getenv("RK_VK_VALIDATION");
    uint64_t errors, warnings;
    rk__vk_ctx *c;

    (void)s;
    if (env == NULL || strcmp(env, "1") != 0) {
        printf("note: RK_VK_VALIDATION is not 1; nothing to check\n");
        skip();
    }
    c = ctx_new(g_cache_dir);
    if (!c->validation) {
        printf("note: VK_LAYER_KHRONOS_validation is not installed (Debian: vulkan-validationlayers)\n");
        rk__vk_ctx_destroy(c);
        skip();
    }
    rk__vk_ctx_destroy(c);
    rk__vk_validation_counts(&errors, &warnings);
    assert_int_equal(errors, 0);
    assert_int_equal(warnings, 0);
}

/* --provoke-validation: a buffer of size 0 breaks a valid-usage rule the layer checks
 * (VUID-VkBufferCreateInfo-size-00912); the messenger must count it. */
static int provoke_validation(void)
{
    VkBufferCreateInfo bi = { .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = 0,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, .sharingMode = VK_SHARING_MODE_EXCLUSIVE };
    rk__vk_ctx_opts o = { .device = 0, .validation = 1, .cache_dir = g_cache_dir };
    VkBuffer b = VK_NULL_HANDLE;
    uint64_t errors = 0;
    rk__vk_ctx *c;

    if (rk__vk_ctx_create(&c, &o) != 0) {
        printf("vulkan_test: no usable Vulkan device: %s\n", rk_last_error());
        return 77;
    }
    if (!c->validation) {
        printf("vulkan_test: the validation layer is not installed\n");
        rk__vk_ctx_destroy(c);
        return 77;
    }
    if (c->vkCreateBuffer(c->device, &bi, NULL, &b) == VK_SUCCESS)
        c->vkDestroyBuffer(c->device, b, NULL);
    rk__vk_ctx_destroy(c);
    rk__vk_validation_counts(&errors, NULL);
    printf("vulkan_test: the validation layer reported %llu error(s) for a zero-sized buffer\n",
           (unsigned long long)errors);
    return errors >= 1 ? 0 : 1;
}

/* ---- No loader ----------------------------------------------------------------------------------------- */

/* --no-loader (RK_VK_LOADER names a missing file): Vulkan is unavailable with the reason, and the rest of
 * the library works. */
static int no_loader(void)
{
    const char *path = getenv("RK_VK_LOADER");
    char want[300];
    rk_backend_status st;
    rk_device_info d;
    rk_runtime *rt = NULL;
    int fails = 0;

#define CHECK(cond)                                                                                       \
    do {                                                                                                  \
        if (!(cond)) {                                                                                    \
            fprintf(stderr, "vulkan_test --no-loader: %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
            fails++;                                                                                      \
        }                                                                                                 \
    } while (0)

    CHECK(path != NULL && access(path, F_OK) != 0);
    snprintf(want, sizeof want, "no Vulkan loader (%s not found)", path != NULL ? path : "libvulkan.so.1");
    CHECK(rk_backend_probe(RK_BACKEND_VULKAN, &st) == 0);
    CHECK(st.compiled && !st.available && st.device_count == 0);
    CHECK(strcmp(st.reason, want) == 0);
    printf("vulkan_test --no-loader: probe says '%s'\n", st.reason);
    CHECK(rk_backend_devices(RK_BACKEND_VULKAN, &d, 1) == 0);
    CHECK(rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = RK_BACKEND_VULKAN }) == RK_ENODEV);
    CHECK(rt == NULL && strstr(rk_last_error(), want) != NULL);
    /* AUTO falls back to the CPU (or CUDA) backend, which works. */
    CHECK(rk_runtime_create(&rt, NULL) == 0);
    if (rt != NULL) {
        CHECK(rk_runtime_backend(rt) != RK_BACKEND_VULKAN);
        CHECK(rk_runtime_destroy(rt) == 0);
    }
#undef CHECK
    return fails == 0 ? 0 : 1;
}

/* ---- main ---------------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devices_in_preference_order),
        cmocka_unit_test(test_device_selection),
        cmocka_unit_test(test_pipeline_cache_round_trip_and_corrupt_file),
        cmocka_unit_test(test_saxpy_dispatch_with_timestamps),
        cmocka_unit_test(test_terminate_under_load),
        cmocka_unit_test(test_many_kernels_at_once),
        cmocka_unit_test(test_counter_instances),
        cmocka_unit_test(test_unknown_actor_names_the_builtins),
        cmocka_unit_test(test_validation_reported_nothing), /* last */
    };
    rk_backend_status st;
    const char *tmp = getenv("TMPDIR");
    int rc;

    snprintf(g_cache_dir, sizeof g_cache_dir, "%s/rk-vk-test.XXXXXX", tmp != NULL && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(g_cache_dir) == NULL) {
        perror("vulkan_test: mkdtemp");
        return 1;
    }
    if (argc == 2 && strcmp(argv[1], "--no-loader") == 0)
        rc = no_loader();
    else if (argc == 2 && strcmp(argv[1], "--provoke-validation") == 0)
        rc = provoke_validation();
    else if (argc > 1) {
        fprintf(stderr, "usage: vulkan_test [--no-loader | --provoke-validation]\n");
        rc = 2;
    } else if (rk_backend_probe(RK_BACKEND_VULKAN, &st) != 0 || !st.available) {
        printf("vulkan_test: Vulkan is not available: %s\n", st.reason);
        rc = 77;
    } else {
        printf("vulkan_test: %s\n", st.reason);
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    }
    /* The cache directory and what the tests left in it. */
    {
        char cmd[sizeof g_cache_dir + 16];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_cache_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "vulkan_test: could not remove %s\n", g_cache_dir);
    }
    return rc;
}
