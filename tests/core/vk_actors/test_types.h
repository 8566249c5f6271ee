/* test_types.h - numbers the runtime suite's Vulkan test actors share with runtime_test.c (plain #defines of
 * 32-bit literals, read alike by C and GLSL, as rk_vk_abi.h). runtime_test.c checks them against
 * rk_type_id() before it registers the actors. */
#ifndef RK_TEST_VK_TYPES_H
#define RK_TEST_VK_TYPES_H

/* FNV-1a of "test_fail" (TYPE_FAIL in runtime_test.c), as word halves. */
#define TEST_FAIL_LO 0xa26b534eu
#define TEST_FAIL_HI 0xd97e7d55u

#endif
