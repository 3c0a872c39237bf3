/* Unit tests of mtconnect-adapter's pure parts: mapping file parsing and
 * SHDR formatting (services/mtconnect-adapter/mtc.h). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mtc.h"

static struct mtc_config cfg;
static char err[512];

static int parse(const char *text)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    int ret = mtc_config_parse(&cfg, "map.ini", f, err, sizeof(err));
    fclose(f);
    return ret;
}

static const char *GOOD =
    "# a machine\n"
    "[adapter]\n"
    "listen = 0.0.0.0:7879\n"
    "device = mill\n"
    "uuid = mill-1\n"
    "availability = attached\n"
    "heartbeat-ms = 5000\n"
    "\n"
    "[event estop]\n"
    "pin = estop\n"
    "type = EMERGENCY_STOP\n"
    "map = 0=ARMED 1=TRIGGERED\n"
    "[event mode]\n"
    "pin = mode\n"
    "type = CONTROLLER_MODE\n"
    "map = 1=MANUAL 2=AUTOMATIC 3=MANUAL_DATA_INPUT\n"
    "default = UNAVAILABLE\n"
    "[sample Sspeed]\n"
    "pin = spindle.speed\n"
    "type = ROTARY_VELOCITY\n"
    "units = REVOLUTION/MINUTE\n"
    "scale = 60\n"
    "deadband = 1\n"
    "precision = 6\n"
    "[condition spindle]\n"
    "pin = spindle.fault\n"
    "type = SYSTEM\n"
    "native-code = SP1\n"
    "text = spindle drive fault\n";

static void test_parse_good(void **state)
{
    (void)state;
    assert_int_equal(parse(GOOD), 0);
    assert_string_equal(cfg.listen, "0.0.0.0:7879");
    assert_string_equal(cfg.device, "mill");
    assert_false(cfg.avail_needs_daemon);
    assert_int_equal(cfg.heartbeat_ms, 5000);
    assert_int_equal(cfg.nitems, 4);
    assert_int_equal(cfg.item[0].kind, MTC_EVENT);
    assert_int_equal(cfg.item[0].nmap, 2);
    assert_string_equal(cfg.item[0].map[1].to, "TRIGGERED");
    assert_int_equal(cfg.item[0].line, 9);
    assert_true(cfg.item[2].scale == 60);
    assert_string_equal(cfg.item[3].text, "spindle drive fault");
    assert_string_equal(cfg.item[3].level, "FAULT");
}

/* Every bad input: one message naming FILE:LINE and what is wrong. */
static void test_parse_errors(void **state)
{
    static const struct { const char *text, *msg; } bad[] = {
        { "[adapter]\nport = 1\n", "map.ini:2: unknown setting 'port'" },
        { "[event e]\npin = x\n", "map.ini:1: [e]: no type =" },
        { "[event e]\ntype = X\n", "map.ini:1: [e]: no pin =" },
        { "[event e]\npin=a\ntype=X\nmap = 0=A 0=B\n", "map.ini:4: map: 0 given twice" },
        { "[event e]\npin=a\ntype=X\nmap = zero=A\n", "map.ini:4: map: 'zero' is not a 32-bit" },
        { "[event e]\npin=a\ntype=X\nmap = 1=A|B\n", "map.ini:4: map label = A|B: must not" },
        { "[condition c]\npin=a\ntype=X\ntext = a|b\n", "map.ini:4: text = a|b" },
        { "[condition c]\npin=a\ntype=X\nlevel = ERROR\n", "map.ini:4: level = ERROR" },
        { "[sample s]\npin=a\ntype=X\ndeadband = -1\n", "map.ini:4: deadband = -1" },
        { "[sample s]\npin=a\ntype=X\nmap = 0=A\n", "map.ini:4: unknown setting 'map'" },
        { "[gauge g]\n", "map.ini:1: unknown section [gauge]" },
        { "[event 9x]\n", "map.ini:1: [event]: needs one key" },
        { "[event a]\npin=p\ntype=X\n[sample a]\n", "map.ini:4: key 'a' already used at line 1" },
        { "pin = x\n", "map.ini:1: 'pin' outside a section" },
        { "[adapter]\nheartbeat-ms = 10\n", "map.ini:2: heartbeat-ms = 10: not a number" },
        { "[adapter]\navailability = maybe\n", "map.ini:2: availability = maybe" },
        { "[adapter]\n", "map.ini:0: no data items" },
        { "[event avail]\npin=p\ntype=X\n", "map.ini:1: [avail]: the key is the availability key" },
        { "[adapter\n", "map.ini:1: malformed section header" },
        { "[event e]\njunk\n", "map.ini:2: expected KEY = VALUE" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(parse(bad[i].text), -22);
        if (strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0)
            fail_msg("case %zu: got '%s', want '%s...'", i, err, bad[i].msg);
        assert_null(strchr(err, '\n'));
    }
}

static void test_type_check(void **state)
{
    (void)state;
    assert_int_equal(parse(GOOD), 0);
    assert_int_equal(mtc_item_check_type(&cfg, &cfg.item[0], HMK_TYPE_BIT, err, sizeof(err)), 0);
    assert_int_equal(mtc_item_check_type(&cfg, &cfg.item[0], HMK_TYPE_FLOAT, err, sizeof(err)), -22);
    assert_string_equal(err, "map.ini:9: [estop] pin 'estop' is float: a map needs a bit, s32 or u32 pin");
    assert_int_equal(mtc_item_check_type(&cfg, &cfg.item[1], HMK_TYPE_BIT, err, sizeof(err)), -22);
    assert_int_equal(mtc_item_check_type(&cfg, &cfg.item[1], HMK_TYPE_S32, err, sizeof(err)), 0);
    assert_int_equal(mtc_item_check_type(&cfg, &cfg.item[3], HMK_TYPE_S32, err, sizeof(err)), -22);
    assert_int_equal(mtc_item_check_type(&cfg, &cfg.item[2], HMK_TYPE_FLOAT, err, sizeof(err)), 0);
}

static const char *val(unsigned i, hmk_value v)
{
    static char buf[MTC_VAL_MAX];
    double num;
    assert_true(mtc_item_value(&cfg.item[i], &v, buf, sizeof(buf), &num) > 0);
    return buf;
}

static void test_values(void **state)
{
    (void)state;
    assert_int_equal(parse(GOOD), 0);
    assert_string_equal(val(0, (hmk_value){ .type = HMK_TYPE_BIT, .b = true }), "TRIGGERED");
    assert_string_equal(val(0, (hmk_value){ .type = HMK_TYPE_BIT, .b = false }), "ARMED");
    assert_string_equal(val(1, (hmk_value){ .type = HMK_TYPE_S32, .s = 2 }), "AUTOMATIC");
    assert_string_equal(val(1, (hmk_value){ .type = HMK_TYPE_S32, .s = 7 }), "UNAVAILABLE");
    assert_string_equal(val(2, (hmk_value){ .type = HMK_TYPE_FLOAT, .f = 25.5 }), "1530");
    assert_string_equal(val(2, (hmk_value){ .type = HMK_TYPE_FLOAT, .f = -0.0 }), "0");
    assert_string_equal(val(2, (hmk_value){ .type = HMK_TYPE_FLOAT, .f = NAN }), "UNAVAILABLE");
    assert_string_equal(val(2, (hmk_value){ .type = HMK_TYPE_FLOAT, .f = 1.0 / 3 }), "20");
    assert_string_equal(val(3, (hmk_value){ .type = HMK_TYPE_BIT, .b = true }),
                        "FAULT|SP1|||spindle drive fault");
    assert_string_equal(val(3, (hmk_value){ .type = HMK_TYPE_BIT, .b = false }), "NORMAL||||");
    cfg.item[0].invert = true;
    assert_string_equal(val(0, (hmk_value){ .type = HMK_TYPE_BIT, .b = true }), "ARMED");
    cfg.item[1].dflt[0] = '\0';
    assert_string_equal(val(1, (hmk_value){ .type = HMK_TYPE_S32, .s = -4 }), "-4");
    assert_true(mtc_item_passes(&cfg.item[2], 100, 101));
    assert_false(mtc_item_passes(&cfg.item[2], 100, 100.5));
    assert_true(mtc_item_passes(&cfg.item[2], NAN, 100.5));
}

static void test_time_and_sanitize(void **state)
{
    char buf[32], s[] = "a|b\nc\td\x7f";
    (void)state;
    assert_int_equal(mtc_format_time(1764682106123ull, buf, sizeof(buf)), 24);
    assert_string_equal(buf, "2025-12-02T13:28:26.123Z");
    assert_int_equal(mtc_format_time(5, buf, sizeof(buf)), 24);
    assert_string_equal(buf, "1970-01-01T00:00:00.005Z");
    assert_int_equal(mtc_format_time(0, buf, 10), -28);
    mtc_sanitize(s);
    assert_string_equal(s, "a/b c d ");
}

static void test_lines(void **state)
{
    char vals[MTC_MAX_ITEMS][MTC_VAL_MAX] = { "ARMED", "AUTOMATIC", "1500", "NORMAL||||" };
    bool want[MTC_MAX_ITEMS] = { true, false, true, true };
    struct mtc_buf b = { 0 };
    (void)state;

    assert_int_equal(parse(GOOD), 0);
    assert_int_equal(mtc_lines(&cfg, "T", "AVAILABLE", vals, want, &b), 0);
    assert_string_equal(b.p, "T|avail|AVAILABLE|estop|ARMED|Sspeed|1500\nT|spindle|NORMAL||||\n");
    b.len = 0;
    memset(want, 0, sizeof(want));
    want[3] = true;
    /* only a condition: no empty time-stamp line before it */
    assert_int_equal(mtc_lines(&cfg, "T", NULL, vals, want, &b), 0);
    assert_string_equal(b.p, "T|spindle|NORMAL||||\n");
    mtc_buf_free(&b);
}

static void test_devices(void **state)
{
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    (void)state;

    assert_int_equal(parse(GOOD), 0);
    assert_int_equal(mtc_write_devices(&cfg, f), 0);
    fclose(f);
    assert_non_null(strstr(p, "<Device id=\"mill\" name=\"mill\" uuid=\"mill-1\">"));
    assert_non_null(strstr(p, "category=\"SAMPLE\" id=\"Sspeed\" type=\"ROTARY_VELOCITY\" units=\"REVOLUTION/MINUTE\""));
    assert_non_null(strstr(p, "category=\"CONDITION\" id=\"spindle\" type=\"SYSTEM\""));
    assert_non_null(strstr(p, "id=\"avail\" type=\"AVAILABILITY\""));
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),   cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_type_check),   cmocka_unit_test(test_values),
        cmocka_unit_test(test_time_and_sanitize), cmocka_unit_test(test_lines),
        cmocka_unit_test(test_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
