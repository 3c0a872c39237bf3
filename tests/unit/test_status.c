/* test_status.c - the STATUS= line and its de-duplication; notify_send is
 * wrapped (-Wl,--wrap=notify_send) to record what would be sent. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "status.h"

static char sent[8][300];
static int n_sent, notify_ret;

int __wrap_notify_send(const char *state);
int __wrap_notify_send(const char *state)
{
    if (notify_ret < 0)
        return notify_ret;
    snprintf(sent[n_sent++ % 8], sizeof(sent[0]), "%s", state);
    return 1;
}

static void test_format(void **state)
{
    struct status_counts c = { .region = "hal-microkernel" };
    char buf[256];
    (void)state;

    status_format(&c, buf, sizeof(buf));
    assert_string_equal(buf, "0 services: 0 running; region hal-microkernel absent");
    c.n[SVC_RUNNING] = 2;
    c.n[SVC_FAILED] = 1;
    c.n[SVC_BACKOFF] = 1;
    c.attached = true;
    status_format(&c, buf, sizeof(buf));
    assert_string_equal(buf, "4 services: 2 running, 1 backoff, 1 failed; region hal-microkernel attached");
    c = (struct status_counts){ .region = "r" };
    c.n[SVC_RUNNING] = 1;
    status_format(&c, buf, sizeof(buf));
    assert_string_equal(buf, "1 service: 1 running; region r absent");
    /* truncation is safe */
    status_format(&c, buf, 8);
    assert_string_equal(buf, "1 servi");
}

static void test_dedupe(void **state)
{
    struct status_notifier sn = { "" };
    struct status_counts c = { .region = "r" };
    (void)state;

    n_sent = 0;
    notify_ret = 0;
    c.n[SVC_STARTING] = 1;
    assert_int_equal(status_update(&sn, &c), 1);
    assert_string_equal(sent[0], "STATUS=1 service: 0 running, 1 starting; region r absent");
    assert_int_equal(status_update(&sn, &c), 0); /* unchanged: nothing sent */
    assert_int_equal(n_sent, 1);
    c.n[SVC_STARTING] = 0;
    c.n[SVC_RUNNING] = 1;
    assert_int_equal(status_update(&sn, &c), 1);
    assert_string_equal(sent[1], "STATUS=1 service: 1 running; region r absent");
    /* a failed send is retried on the next update */
    c.attached = true;
    notify_ret = -ECONNREFUSED;
    assert_int_equal(status_update(&sn, &c), -ECONNREFUSED);
    notify_ret = 0;
    assert_int_equal(status_update(&sn, &c), 1);
    assert_string_equal(sent[2], "STATUS=1 service: 1 running; region r attached");
    assert_int_equal(n_sent, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_format), cmocka_unit_test(test_dedupe) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
