/* main.c - a program outside the RingKernel tree, built against an installed prefix by install_test.sh:
 * creates a CPU runtime, launches the built-in "echo" actor, round-trips one message, prints OK. */
#include <stdio.h>
#include <string.h>

#include <ringkernel/ringkernel.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "consumer: %s: %s (%s)\n", what, rk_strerror(rc), rk_last_error());
    return 1;
}

int main(void)
{
    if (strcmp(rk_version(), RK_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer: header %s, library %s\n", RK_VERSION_STRING, rk_version());
        return 1;
    }
    rk_runtime *rt;
    int rc = rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = RK_BACKEND_CPU, .workers = 1 });
    if (rc != 0)
        return fail("rk_runtime_create", rc);
    rk_kernel *k;
    if ((rc = rk_kernel_launch(rt, "echo", NULL, &k)) != 0)
        return fail("rk_kernel_launch", rc);

    char text[] = "ping";
    rk_msg msg = { .payload = text };
    msg.env.type_id = RK_TYPE_ID(consumer_ping);
    msg.env.payload_len = sizeof text;
    if ((rc = rk_send(k, &msg, RK_TIMEOUT_MS(5000))) != 0)
        return fail("rk_send", rc);

    char buf[64] = { 0 };
    rk_msg reply = { .payload = buf, .payload_cap = sizeof buf };
    if ((rc = rk_recv(k, &reply, RK_TIMEOUT_MS(5000))) != 0)
        return fail("rk_recv", rc);
    if (reply.env.payload_len != sizeof text || memcmp(buf, text, sizeof text) != 0) {
        fprintf(stderr, "consumer: echo returned %u bytes '%.*s'\n", (unsigned)reply.env.payload_len,
                (int)sizeof buf, buf);
        return 1;
    }
    if ((rc = rk_kernel_terminate(k, RK_TIMEOUT_MS(5000))) != 0)
        return fail("rk_kernel_terminate", rc);
    if ((rc = rk_runtime_destroy(rt)) != 0)
        return fail("rk_runtime_destroy", rc);
    puts("OK");
    return 0;
}
