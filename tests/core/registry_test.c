/* registry_test.c - the CPU actor registry: register, look up, unregister, duplicates, bad names, limits,
 * and the conflict a duplicate RK_REGISTER_ACTOR leaves for rk_kernel_launch to report; and the Vulkan
 * actor registry's checks (rk_vulkan_actor_register; launching them is runtime_test's, on Vulkan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ringkernel/actor.h"
#include "ringkernel/runtime.h"

static int handler_a(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    (void)ctx, (void)env, (void)payload;
    return 0;
}

static int handler_b(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    (void)ctx, (void)env, (void)payload;
    return 1;
}

static int init_a(void *state, uint32_t size)
{
    (void)state, (void)size;
    return 0;
}

/* Registered by the constructor macro before main(), as applications do. */
RK_REGISTER_ACTOR(registry_ctor_actor, handler_a, 24)

static void test_register_lookup_unregister(void **s)
{
    rk_actor_def def = { "reg_basic", handler_a, init_a, 48 }, got;

    (void)s;
    assert_int_equal(rk_actor_register(&def), 0);
    memset(&got, 0, sizeof got);
    assert_int_equal(rk_actor_lookup("reg_basic", &got), 0);
    assert_string_equal(got.name, "reg_basic");
    assert_ptr_equal(got.handler, handler_a);
    assert_ptr_equal(got.init, init_a);
    assert_int_equal(got.state_size, 48);
    assert_int_equal(rk_actor_unregister("reg_basic"), 0);
    assert_int_equal(rk_actor_lookup("reg_basic", &got), RK_ENOENT);
}

static void test_definition_is_copied(void **s)
{
    char name[16] = "reg_copied";
    rk_actor_def def = { name, handler_a, NULL, 8 }, got;

    (void)s;
    assert_int_equal(rk_actor_register(&def), 0);
    strcpy(name, "overwritten");
    def.handler = handler_b;
    assert_int_equal(rk_actor_lookup("reg_copied", &got), 0);
    assert_ptr_equal(got.handler, handler_a);
    assert_int_equal(rk_actor_unregister("reg_copied"), 0);
}

static void test_constructor_registration(void **s)
{
    rk_actor_def got;

    (void)s;
    assert_int_equal(rk_actor_lookup("registry_ctor_actor", &got), 0);
    assert_ptr_equal(got.handler, handler_a);
    assert_int_equal(got.state_size, 24);
}

static void test_duplicate_is_eexist(void **s)
{
    rk_actor_def def = { "reg_dup", handler_a, NULL, 0 }, got;

    (void)s;
    assert_int_equal(rk_actor_register(&def), 0);
    assert_int_equal(rk_actor_register(&def), RK_EEXIST);
    assert_int_equal(rk_last_error_code(), RK_EEXIST);
    assert_non_null(strstr(rk_last_error(), "reg_dup"));
    /* The first definition stays. */
    assert_int_equal(rk_actor_lookup("reg_dup", &got), 0);
    assert_ptr_equal(got.handler, handler_a);
    assert_int_equal(rk_actor_unregister("reg_dup"), 0);
}

static void test_conflicting_duplicate_fails_launch(void **s)
{
    rk_actor_def a = { "reg_conflict", handler_a, NULL, 0 }, b = { "reg_conflict", handler_b, NULL, 0 }, got;
    rk_runtime *rt;
    rk_kernel *k;

    (void)s;
    assert_int_equal(rk_actor_register(&a), 0);
    assert_int_equal(rk_actor_register(&b), RK_EEXIST);
    assert_non_null(strstr(rk_last_error(), "different definition"));
    assert_int_equal(rk_actor_lookup("reg_conflict", &got), 0); /* lookup still answers */
    assert_int_equal(rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = RK_BACKEND_CPU, .workers = 1 }), 0);
    assert_int_equal(rk_kernel_launch(rt, "reg_conflict", NULL, &k), RK_EEXIST);
    assert_non_null(strstr(rk_last_error(), "registered twice"));
    /* Unregistering resolves the conflict. */
    assert_int_equal(rk_actor_unregister("reg_conflict"), 0);
    assert_int_equal(rk_actor_register(&b), 0);
    assert_int_equal(rk_kernel_launch(rt, "reg_conflict", NULL, &k), 0);
    assert_int_equal(rk_runtime_destroy(rt), 0);
    assert_int_equal(rk_actor_unregister("reg_conflict"), 0);
}

static void test_long_name_is_einval(void **s)
{
    char name[80];
    rk_actor_def def = { name, handler_a, NULL, 0 }, got;

    (void)s;
    memset(name, 'x', sizeof name);
    name[64] = '\0'; /* 64 bytes: one too many */
    assert_int_equal(rk_actor_register(&def), RK_EINVAL);
    name[63] = '\0'; /* 63 bytes: the longest allowed */
    assert_int_equal(rk_actor_register(&def), 0);
    assert_int_equal(rk_actor_lookup(name, &got), 0);
    assert_int_equal(rk_actor_unregister(name), 0);
}

static void test_bad_definitions_are_einval(void **s)
{
    rk_actor_def no_handler = { "reg_nohandler", NULL, NULL, 0 };
    rk_actor_def no_name = { NULL, handler_a, NULL, 0 };
    rk_actor_def empty_name = { "", handler_a, NULL, 0 };
    rk_actor_def got;

    (void)s;
    assert_int_equal(rk_actor_register(NULL), RK_EINVAL);
    assert_int_equal(rk_actor_register(&no_handler), RK_EINVAL);
    assert_int_equal(rk_actor_register(&no_name), RK_EINVAL);
    assert_int_equal(rk_actor_register(&empty_name), RK_EINVAL);
    assert_int_equal(rk_actor_lookup(NULL, &got), RK_EINVAL);
    assert_int_equal(rk_actor_lookup("echo", NULL), RK_EINVAL);
    assert_int_equal(rk_actor_unregister(NULL), RK_EINVAL);
}

static void test_unregister_unknown_is_enoent(void **s)
{
    rk_actor_def got;

    (void)s;
    assert_int_equal(rk_actor_unregister("reg_never_registered"), RK_ENOENT);
    assert_int_equal(rk_actor_lookup("reg_never_registered", &got), RK_ENOENT);
}

static void test_user_actor_shadows_builtin(void **s)
{
    rk_actor_def mine = { "echo", handler_b, NULL, 0 }, got;
    rk_runtime *rt;

    (void)s;
    /* A runtime registers the built-ins; a user registration of the same name replaces the built-in. */
    assert_int_equal(rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = RK_BACKEND_CPU, .workers = 1 }), 0);
    assert_int_equal(rk_actor_lookup("echo", &got), 0);
    assert_ptr_not_equal(got.handler, handler_b);
    assert_int_equal(rk_actor_register(&mine), 0);
    assert_int_equal(rk_actor_lookup("echo", &got), 0);
    assert_ptr_equal(got.handler, handler_b);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_registry_full_is_elimit(void **s)
{
    char name[32];
    rk_actor_def def = { name, handler_a, NULL, 0 };
    int added = 0, rc = 0;

    (void)s;
    for (int i = 0; i < 2000 && rc == 0; i++) {
        snprintf(name, sizeof name, "reg_fill_%d", i);
        if ((rc = rk_actor_register(&def)) == 0)
            added++;
    }
    assert_int_equal(rc, RK_ELIMIT);
    assert_true(added > 0 && added <= 1024);
    for (int i = 0; i < added; i++) {
        snprintf(name, sizeof name, "reg_fill_%d", i);
        assert_int_equal(rk_actor_unregister(name), 0);
    }
    snprintf(name, sizeof name, "reg_after_fill");
    assert_int_equal(rk_actor_register(&def), 0);
    assert_int_equal(rk_actor_unregister(name), 0);
}

static void test_vulkan_registration_checks(void **s)
{
    /* The five words of a SPIR-V header (magic, version 1.0, generator, bound, schema): enough for the
     * registry, which checks only the header; the module's content is checked at launch. */
    static const uint32_t header[5] = { 0x07230203u, 0x00010000u, 0, 8, 0 };
    static const uint32_t text[5] = { 0x73726576u, 0, 0, 0, 0 }; /* "vers...": GLSL, not SPIR-V */
    rk_vulkan_actor_def d = { sizeof d, 16, "vk_reg_test", header, 5 }, bad;

    (void)s;
    assert_int_equal(rk_vulkan_actor_register(NULL), RK_EINVAL);
    bad = d;
    bad.size = 8; /* a struct from a future-incompatible or zeroed caller */
    assert_int_equal(rk_vulkan_actor_register(&bad), RK_EINVAL);
    assert_non_null(strstr(rk_last_error(), "sizeof(rk_vulkan_actor_def)"));
    bad = d;
    bad.spirv = text;
    assert_int_equal(rk_vulkan_actor_register(&bad), RK_EINVAL);
    assert_non_null(strstr(rk_last_error(), "not a SPIR-V module"));
    bad = d;
    bad.spirv_words = 4;
    assert_int_equal(rk_vulkan_actor_register(&bad), RK_EINVAL);
    bad = d;
    bad.name = "";
    assert_int_equal(rk_vulkan_actor_register(&bad), RK_EINVAL);
    assert_int_equal(rk_vulkan_actor_register(&d), 0);
    assert_int_equal(rk_vulkan_actor_register(&d), RK_EEXIST);
    assert_int_equal(rk_vulkan_actor_unregister("vk_reg_test"), 0);
    assert_int_equal(rk_vulkan_actor_unregister("vk_reg_test"), RK_ENOENT);
    assert_int_equal(rk_vulkan_actor_unregister(NULL), RK_EINVAL);
    assert_int_equal(rk_vulkan_actor_register(&d), 0); /* the name is free again */
    assert_int_equal(rk_vulkan_actor_unregister("vk_reg_test"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_lookup_unregister),
        cmocka_unit_test(test_definition_is_copied),
        cmocka_unit_test(test_constructor_registration),
        cmocka_unit_test(test_duplicate_is_eexist),
        cmocka_unit_test(test_conflicting_duplicate_fails_launch),
        cmocka_unit_test(test_long_name_is_einval),
        cmocka_unit_test(test_bad_definitions_are_einval),
        cmocka_unit_test(test_unregister_unknown_is_enoent),
        cmocka_unit_test(test_user_actor_shadows_builtin),
        cmocka_unit_test(test_registry_full_is_elimit),
        cmocka_unit_test(test_vulkan_registration_checks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
