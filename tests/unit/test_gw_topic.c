/* test_gw_topic - mqtt-gateway's pure parts: topics, command payloads
 * (a table of malformed ones), publish policy, backoff, quoting. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw_json.h"
#include "gw_topic.h"

static void names(void **state)
{
    (void)state;
    assert_true(gw_name_ok("spindle.speed", false));
    assert_true(gw_name_ok("shop/floor1", true));
    assert_false(gw_name_ok("shop/floor1", false));
    assert_false(gw_name_ok("", false));
    assert_false(gw_name_ok(NULL, false));
    assert_false(gw_name_ok("a+b", false));
    assert_false(gw_name_ok("a#", true));
    assert_false(gw_name_ok("a b", false));
    assert_false(gw_name_ok("a//b", true));
    assert_false(gw_name_ok("/a", true));
    assert_false(gw_name_ok("a/", true));
    assert_false(gw_name_ok("caf\xc3\xa9", false));
}

static void topics(void **state)
{
    char buf[64];
    (void)state;
    assert_int_equal(gw_topic(buf, sizeof(buf), "hal/m1", "status"), 13);
    assert_string_equal(buf, "hal/m1/status");
    assert_true(gw_topic_pin(buf, sizeof(buf), "hal/m1", "pin.3", NULL) > 0);
    assert_string_equal(buf, "hal/m1/pin/pin.3");
    assert_true(gw_topic_pin(buf, sizeof(buf), "hal/m1", "pin.3", "set") > 0);
    assert_string_equal(buf, "hal/m1/pin/pin.3/set");
    assert_int_equal(gw_topic_pin(buf, 10, "hal/m1", "pin.3", "set"), -ENAMETOOLONG);
}

static void commands(void **state)
{
    char name[16];
    enum gw_cmd cmd = 0;
    (void)state;
    assert_int_equal(gw_topic_command("hal/m1/pin/x.y/set", "hal/m1", name, sizeof(name), &cmd), 0);
    assert_string_equal(name, "x.y");
    assert_int_equal(cmd, GW_CMD_SET);
    assert_int_equal(gw_topic_command("hal/m1/pin/p/pulse", "hal/m1", name, sizeof(name), &cmd), 0);
    assert_int_equal(cmd, GW_CMD_PULSE);
    static const char *bad[] = {
        "hal/m1/pin/x",          /* the value topic, not a command */
        "hal/m1/pin//set",       /* empty name */
        "hal/m1/pin/x/get",      /* unknown command */
        "hal/m1/pin/x/set/more", /* deeper */
        "hal/m2/pin/x/set",      /* another machine */
        "hal/m1x/pin/x/set",     /* a machine whose name starts like ours */
        "hal/m1/pins/x/set",
        "hal/m1",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(gw_topic_command(bad[i], "hal/m1", name, sizeof(name), &cmd), -EINVAL);
    assert_int_equal(gw_topic_command("hal/m1/pin/a-very-long-pin-name/set", "hal/m1", name,
                                      sizeof(name), &cmd), -ENAMETOOLONG);
}

struct pcase {
    enum hmk_type type;
    const char *payload;
    size_t len; /* 0: strlen */
    int want;
};

/* every payload here must be refused, and the output left alone */
static void malformed_payloads(void **state)
{
    (void)state;
    static const struct pcase cases[] = {
        { HMK_TYPE_FLOAT, "", 0, -EMSGSIZE },
        { HMK_TYPE_FLOAT, "1.5 ", 0, -EINVAL },
        { HMK_TYPE_FLOAT, " 1.5", 0, -EINVAL },
        { HMK_TYPE_FLOAT, "1.5\n", 0, -EINVAL },
        { HMK_TYPE_FLOAT, "nan", 0, -EINVAL },
        { HMK_TYPE_FLOAT, "inf", 0, -EINVAL },
        { HMK_TYPE_FLOAT, "1e999", 0, -ERANGE },
        { HMK_TYPE_FLOAT, "12x", 0, -EINVAL },
        { HMK_TYPE_FLOAT, "1\0" "2", 3, -EINVAL },
        { HMK_TYPE_FLOAT, "{\"v\":1}", 0, -EINVAL },
        { HMK_TYPE_BIT, "2", 0, -EINVAL },
        { HMK_TYPE_BIT, "yes", 0, -EINVAL },
        { HMK_TYPE_BIT, "TRUE ", 0, -EINVAL },
        { HMK_TYPE_S32, "2147483648", 0, -ERANGE },
        { HMK_TYPE_S32, "1.0", 0, -EINVAL },
        { HMK_TYPE_U32, "-1", 0, -ERANGE },
        { HMK_TYPE_U32, "4294967296", 0, -ERANGE },
        { HMK_TYPE_FLOAT,
          "1.00000000000000000000000000000000000000000000000000000000000000000", 0, -EMSGSIZE },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hmk_value v = { .type = HMK_TYPE_S32, .s = 77 };
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].payload);
        int ret = gw_payload_parse(cases[i].type, cases[i].payload, len, &v);
        if (ret != cases[i].want)
            fail_msg("case %zu '%s': got %d want %d", i, cases[i].payload, ret, cases[i].want);
        assert_int_equal(v.s, 77);
    }
}

static void good_payloads(void **state)
{
    hmk_value v;
    (void)state;
    assert_int_equal(gw_payload_parse(HMK_TYPE_FLOAT, "2.5", 3, &v), 0);
    assert_true(v.type == HMK_TYPE_FLOAT && v.f == 2.5);
    assert_int_equal(gw_payload_parse(HMK_TYPE_FLOAT, "-1e3", 4, &v), 0);
    assert_true(v.f == -1000.0);
    assert_int_equal(gw_payload_parse(HMK_TYPE_BIT, "true", 4, &v), 0);
    assert_true(v.b);
    assert_int_equal(gw_payload_parse(HMK_TYPE_BIT, "0", 1, &v), 0);
    assert_false(v.b);
    assert_int_equal(gw_payload_parse(HMK_TYPE_S32, "-2147483648", 11, &v), 0);
    assert_int_equal(v.s, INT32_MIN);
    assert_int_equal(gw_payload_parse(HMK_TYPE_U32, "0xffffffff", 10, &v), 0);
    assert_int_equal(v.u, UINT32_MAX);
    /* not NUL-terminated: only len bytes count */
    assert_int_equal(gw_payload_parse(HMK_TYPE_S32, "12345", 2, &v), 0);
    assert_int_equal(v.s, 12);
}

static void policy(void **state)
{
    hmk_value a = { .type = HMK_TYPE_FLOAT, .f = 1.0 }, b = a;
    hmk_value x = { .type = HMK_TYPE_BIT, .b = true }, y = x;
    (void)state;
    assert_false(gw_worth_publishing(&a, &b, 0));
    b.f = 1.0000001;
    assert_true(gw_worth_publishing(&a, &b, 0));
    assert_false(gw_worth_publishing(&a, &b, 0.01));
    b.f = 1.01;
    assert_true(gw_worth_publishing(&a, &b, 0.01));
    b.f = 0.99;
    assert_true(gw_worth_publishing(&a, &b, 0.01));
    a.f = 0.0;
    b.f = -0.0;
    assert_true(gw_worth_publishing(&a, &b, 0));
    assert_false(gw_worth_publishing(&x, &y, 5));
    y.b = false;
    assert_true(gw_worth_publishing(&x, &y, 5)); /* deadband is for floats only */
}

static void backoff(void **state)
{
    int d = 0;
    (void)state;
    d = gw_backoff_next(d, 500, 30000);
    assert_int_equal(d, 500);
    d = gw_backoff_next(d, 500, 30000);
    assert_int_equal(d, 1000);
    for (int i = 0; i < 20; i++)
        d = gw_backoff_next(d, 500, 30000);
    assert_int_equal(d, 30000);
    assert_int_equal(gw_backoff_next(2000000000, 500, 2100000000), 2100000000);
}

static void quoting(void **state)
{
    char buf[16];
    (void)state;
    gw_quote(buf, sizeof(buf), "ab\n\\", 4);
    assert_string_equal(buf, "ab\\x0a\\x5c");
    gw_quote(buf, sizeof(buf), "0123456789abcdefghij", 20);
    assert_string_equal(buf, "0123456789ab...");
    gw_quote(buf, sizeof(buf), "", 0);
    assert_string_equal(buf, "");
}

/* JSON text: strings escaped, values typed, what JSON cannot carry is null */
static void json(void **state)
{
    struct gw_buf b = { 0 };
    hmk_value v;
    char id[16];
    (void)state;
    gw_buf_str(&b, "a\"b\\c\n\x01");
    assert_int_equal(b.err, 0);
    assert_string_equal(b.p, "\"a\\\"b\\\\c\\u000a\\u0001\"");
    gw_buf_reset(&b);
    v = (hmk_value){ .type = HMK_TYPE_BIT, .b = true };
    gw_buf_value(&b, &v);
    v = (hmk_value){ .type = HMK_TYPE_FLOAT, .f = NAN };
    gw_buf_value(&b, &v);
    v = (hmk_value){ .type = HMK_TYPE_FLOAT, .f = -INFINITY };
    gw_buf_value(&b, &v);
    v = (hmk_value){ .type = HMK_TYPE_FLOAT, .f = 1e300 };
    gw_buf_value(&b, &v);
    v = (hmk_value){ .type = HMK_TYPE_S32, .s = -5 };
    gw_buf_value(&b, &v);
    assert_string_equal(b.p, "truenullnull1e+300-5");
    assert_int_equal(gw_ha_id(id, sizeof(id), "spindle.0.x-y_z"), 15);
    assert_string_equal(id, "spindle_0_x-y_z");
    assert_int_equal(gw_ha_id(id, sizeof(id), "spindle.0.x-y_z1"), -ENAMETOOLONG);
    gw_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),         cmocka_unit_test(topics),
        cmocka_unit_test(commands),      cmocka_unit_test(malformed_payloads),
        cmocka_unit_test(good_payloads), cmocka_unit_test(policy),
        cmocka_unit_test(backoff),       cmocka_unit_test(quoting),
        cmocka_unit_test(json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
