/* test_notify.c - the notification protocol against sockets the test owns:
 * a path socket and an abstract one receive exactly the message; no
 * $NOTIFY_SOCKET is "not managed"; malformed addresses and a missing
 * receiver are errors; the watchdog variables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "notify.h"

/* A bound datagram socket at `name` (path, or '@' + abstract name). */
static int bind_receiver(const char *name)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t n = strlen(name);
    socklen_t len;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memcpy(sa.sun_path, name, n);
    if (name[0] == '@') {
        sa.sun_path[0] = '\0';
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        unlink(name);
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
    return fd;
}

static void expect_datagram(int fd, const char *want)
{
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

static void test_notify_path_socket(void **state)
{
    char path[64];
    int fd;
    (void)state;

    snprintf(path, sizeof(path), "/tmp/hmk-notify-%d", (int)getpid());
    fd = bind_receiver(path);
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(notify_send("READY=1"), 1);
    expect_datagram(fd, "READY=1");
    assert_int_equal(notify_send("STATUS=2 services: 2 running"), 1);
    expect_datagram(fd, "STATUS=2 services: 2 running");
    close(fd);
    /* nobody listening any more: an error, not a hang */
    unlink(path);
    assert_int_equal(notify_send("WATCHDOG=1"), -ENOENT);
    unsetenv("NOTIFY_SOCKET");
}

static void test_notify_abstract_socket(void **state)
{
    char name[64];
    int fd;
    (void)state;

    snprintf(name, sizeof(name), "@hmk-notify-%d", (int)getpid());
    fd = bind_receiver(name);
    setenv("NOTIFY_SOCKET", name, 1);
    assert_int_equal(notify_send("STOPPING=1"), 1);
    expect_datagram(fd, "STOPPING=1");
    close(fd);
    unsetenv("NOTIFY_SOCKET");
}

static void test_notify_unmanaged(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(notify_send("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    assert_int_equal(notify_send("READY=1"), 0);
    unsetenv("NOTIFY_SOCKET");
}

static void test_notify_bad_address(void **state)
{
    char longname[200];
    (void)state;

    setenv("NOTIFY_SOCKET", "relative/path", 1);
    assert_int_equal(notify_send("READY=1"), -EINVAL);
    setenv("NOTIFY_SOCKET", "@", 1);
    assert_int_equal(notify_send("READY=1"), -EINVAL);
    memset(longname, 'a', sizeof(longname) - 1);
    longname[0] = '/';
    longname[sizeof(longname) - 1] = '\0';
    setenv("NOTIFY_SOCKET", longname, 1);
    assert_int_equal(notify_send("READY=1"), -EINVAL);
    unsetenv("NOTIFY_SOCKET");
}

static void test_notify_watchdog(void **state)
{
    char pid[32];
    uint64_t us = 0;
    (void)state;

    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    assert_int_equal(notify_watchdog_usec(&us), 0);
    setenv("WATCHDOG_USEC", "3000000", 1);
    assert_int_equal(notify_watchdog_usec(&us), 1);
    assert_int_equal(us, 3000000);
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(notify_watchdog_usec(&us), 1);
    snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1); /* meant for another process */
    us = 0;
    assert_int_equal(notify_watchdog_usec(&us), 0);
    assert_int_equal(us, 0);
    unsetenv("WATCHDOG_PID");
    static const char *const bad[] = { "x", "0", "-5", "12s", " 7" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("WATCHDOG_USEC", bad[i], 1);
        assert_int_equal(notify_watchdog_usec(&us), -EINVAL);
    }
    unsetenv("WATCHDOG_USEC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notify_path_socket),
        cmocka_unit_test(test_notify_abstract_socket),
        cmocka_unit_test(test_notify_unmanaged),
        cmocka_unit_test(test_notify_bad_address),
        cmocka_unit_test(test_notify_watchdog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
