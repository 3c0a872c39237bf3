/* test_ctl_parse.c - the control request parser (pure; fuzzed later). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "ctl_parse.h"

static int parse(const char *s, struct ctl_request *rq)
{
    const char *why = NULL;
    int ret = ctl_parse_request(s, strlen(s), rq, &why);
    if (ret < 0)
        assert_non_null(why);
    return ret;
}

static void test_good(void **state)
{
    struct ctl_request rq;
    (void)state;

    assert_int_equal(parse("status\n", &rq), 0);
    assert_int_equal(rq.verb, HMK_CTL_STATUS);
    assert_false(rq.has_name);
    assert_int_equal(parse("status web-1\n", &rq), 0);
    assert_true(rq.has_name);
    assert_string_equal(rq.name, "web-1");
    assert_int_equal(parse("start a\n", &rq), 0);
    assert_int_equal(rq.verb, HMK_CTL_START);
    assert_int_equal(parse("stop a.b@c_d\n", &rq), 0);
    assert_int_equal(rq.verb, HMK_CTL_STOP);
    assert_string_equal(rq.name, "a.b@c_d");
    assert_int_equal(parse("restart x\n", &rq), 0);
    assert_int_equal(rq.verb, HMK_CTL_RESTART);
}

static void test_bad(void **state)
{
    static const char *const bad[] = {
        "", "\n", "status", "start\n", "start \n", "start  a\n", "start a \n", "start a b\n",
        "Status\n", "statusx\n", "reboot\n", "status a\nstatus b\n", "start ../x\n", "start a\r\n",
        "stat\n", "restart\n",
    };
    struct ctl_request rq;
    char big[300];
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], &rq), -EINVAL);
    memset(big, 'a', sizeof(big));
    memcpy(big, "start ", 6);
    big[sizeof(big) - 2] = '\n';
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(parse(big, &rq), -EINVAL);
    /* name of exactly 63 is fine, 64 is not */
    memset(big, 'n', sizeof(big));
    memcpy(big, "stop ", 5);
    big[5 + 63] = '\n';
    big[5 + 64] = '\0';
    assert_int_equal(parse(big, &rq), 0);
    big[5 + 63] = 'n';
    big[5 + 64] = '\n';
    big[5 + 65] = '\0';
    assert_int_equal(parse(big, &rq), -EINVAL);
    /* embedded NUL */
    {
        const char *why;
        assert_int_equal(ctl_parse_request("stop a\0b\n", 9, &rq, &why), -EINVAL);
    }
    /* a request cut off before its newline (the peer shut its side) says so */
    {
        const char *why = NULL;
        assert_int_equal(ctl_parse_request("status", 6, &rq, &why), -EINVAL);
        assert_string_equal(why, "request must end with a newline");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_good), cmocka_unit_test(test_bad) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
