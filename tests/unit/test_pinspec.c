/*
 * test_pinspec.c - the bridge's loadrt parameter parser
 * (bridge/hmk_pinspec.c): the default seed layout, pins= parsing, types=,
 * and for every kind of bad input an error code plus one sentence that
 * names the offending item (what the bridge prints on a failed loadrt);
 * its fault-policy values read exactly as halpoke's hmk_value_parse reads
 * them (the one parser of hmk_value_syntax.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "halmk.h"
#include "hmk_pinspec.h"
#include "hmk_value_syntax.h"

static struct hmk_pinspec ps; /* 64 KiB: not on the stack */
static char err[HMK_ERR_LEN];

#define PFX HMK_DEFAULT_PREFIX

/* parse must fail with `code` and an error naming `names` (and `also`) */
static void parse_bad(const char *prefix, int count, const char *pins, int code,
                      const char *names, const char *also)
{
    memset(err, 0, sizeof(err));
    int ret = hmk_pinspec_parse(prefix, count, pins, &ps, err, sizeof(err));
    if (ret != code || !strstr(err, names) || (also && !strstr(err, also)))
        print_message("prefix=%s count=%d pins=%s: ret %d (want %d), err \"%s\" "
                      "(want it to name \"%s\"%s%s)\n", prefix, count, pins ? pins : "(null)",
                      ret, code, err, names, also ? " and " : "", also ? also : "");
    assert_int_equal(ret, code);
    assert_non_null(strstr(err, names));
    if (also)
        assert_non_null(strstr(err, also));
    assert_null(strchr(err, '\n'));
    assert_true(strlen(err) < sizeof(err));
}

static void parse_ok(const char *prefix, int count, const char *pins, unsigned n)
{
    memset(err, 0, sizeof(err));
    int ret = hmk_pinspec_parse(prefix, count, pins, &ps, err, sizeof(err));
    if (ret != 0)
        print_message("pins=%s: %s\n", pins ? pins : "(null)", err);
    assert_int_equal(ret, 0);
    assert_int_equal(ps.n, n);
    assert_string_equal(err, "");
}

static void test_pinspec_default_seed_layout(void **state)
{
    char name[16];
    (void)state;

    parse_ok(PFX, -1, NULL, HMK_DEFAULT_COUNT);
    assert_int_equal(HMK_DEFAULT_COUNT, 16);
    for (unsigned i = 0; i < 16; i++) {
        snprintf(name, sizeof(name), "pin.%u", i);
        assert_string_equal(ps.pin[i].name, name);
        assert_int_equal(ps.pin[i].type, HMK_RT_FLOAT);
        assert_int_equal(ps.pin[i].dir, HMK_RD_IO);
        assert_int_equal(ps.pin[i].flags, HMK_PIN_SLOT);
    }
    parse_ok(PFX, -1, "", 16);
    parse_ok(PFX, 4, NULL, 4);
    parse_ok(PFX, 256, NULL, 256);
    assert_string_equal(ps.pin[255].name, "pin.255");
    parse_ok(PFX, (int)HMK_MAX_PINS, NULL, HMK_MAX_PINS);
    assert_string_equal(ps.pin[HMK_MAX_PINS - 1].name, "pin.1023");
}

static void test_pinspec_count_zero_without_pins(void **state)
{
    (void)state;
    parse_bad(PFX, 0, NULL, -EINVAL, "count=0", NULL);
    parse_bad(PFX, 0, "", -EINVAL, "count=0", NULL);
}

static void test_pinspec_count_out_of_range(void **state)
{
    (void)state;
    parse_bad(PFX, -2, NULL, -ERANGE, "count=-2", NULL);
    parse_bad(PFX, (int)HMK_MAX_PINS + 1, NULL, -ERANGE, "count=1025", NULL);
    parse_bad(PFX, 1000000, NULL, -ERANGE, "count=1000000", NULL);
}

static void test_pinspec_pins_each_type_and_dir(void **state)
{
    static const struct { const char *type; uint8_t t; } types[] = {
        { "bit", HMK_RT_BIT }, { "float", HMK_RT_FLOAT }, { "s32", HMK_RT_S32 },
        { "u32", HMK_RT_U32 },
    };
    static const struct { const char *dir; uint8_t d; } dirs[] = {
        { "in", HMK_RD_IN }, { "out", HMK_RD_OUT }, { "io", HMK_RD_IO },
    };
    char spec[64];
    (void)state;

    for (size_t t = 0; t < 4; t++)
        for (size_t d = 0; d < 3; d++) {
            snprintf(spec, sizeof(spec), "my-pin_%s.%s:%s:%s", types[t].type, dirs[d].dir,
                     types[t].type, dirs[d].dir);
            parse_ok(PFX, -1, spec, 1); /* pins= alone: no slots */
            assert_int_equal(ps.pin[0].type, types[t].t);
            assert_int_equal(ps.pin[0].dir, dirs[d].d);
            assert_int_equal(ps.pin[0].flags, 0);
            assert_int_equal(strncmp(ps.pin[0].name, spec, strlen(ps.pin[0].name)), 0);
        }

    /* slots first, then the named pins in the order given */
    parse_ok(PFX, 2, "spindle.speed:float:in,estop:bit:out,count:s32:io,pos:u32:out", 6);
    assert_string_equal(ps.pin[0].name, "pin.0");
    assert_string_equal(ps.pin[1].name, "pin.1");
    assert_string_equal(ps.pin[2].name, "spindle.speed");
    assert_int_equal(ps.pin[2].type, HMK_RT_FLOAT);
    assert_int_equal(ps.pin[2].dir, HMK_RD_IN);
    assert_string_equal(ps.pin[3].name, "estop");
    assert_int_equal(ps.pin[3].type, HMK_RT_BIT);
    assert_int_equal(ps.pin[3].dir, HMK_RD_OUT);
    assert_string_equal(ps.pin[4].name, "count");
    assert_int_equal(ps.pin[4].type, HMK_RT_S32);
    assert_int_equal(ps.pin[4].dir, HMK_RD_IO);
    assert_string_equal(ps.pin[5].name, "pos");
    assert_int_equal(ps.pin[5].type, HMK_RT_U32);
    assert_int_equal(ps.pin[5].flags, 0);
    /* names that start like reserved ones but are not */
    parse_ok(PFX, -1, "pins:float:in,connected2:bit:in,pin:bit:out,updates:u32:in", 4);
}

static void test_pinspec_bad_type(void **state)
{
    (void)state;
    parse_bad(PFX, -1, "speed:double:in", -EINVAL, "speed", "'double'");
    parse_bad(PFX, -1, "a:bit:in,speed:FLOAT:in", -EINVAL, "speed", "'FLOAT'");
    parse_bad(PFX, -1, "speed::in", -EINVAL, "speed", "''");
    parse_bad(PFX, 4, "speed:s64:out", -EINVAL, "speed", "'s64'");
}

static void test_pinspec_bad_dir(void **state)
{
    (void)state;
    parse_bad(PFX, -1, "speed:float:inout", -EINVAL, "speed", "'inout'");
    parse_bad(PFX, -1, "speed:float:IN", -EINVAL, "speed", "'IN'");
    parse_bad(PFX, -1, "speed:float:", -EINVAL, "speed", "''");
    parse_bad(PFX, -1, "speed:float:bidir", -EINVAL, "speed", "'bidir'");
}

static void test_pinspec_missing_or_extra_field(void **state)
{
    (void)state;
    parse_bad(PFX, -1, "speed:float", -EINVAL, "'speed:float'", "NAME:TYPE:DIR");
    parse_bad(PFX, -1, "speed", -EINVAL, "'speed'", "NAME:TYPE:DIR");
    parse_bad(PFX, -1, "a:bit:in,speed:float:out:0:x", -EINVAL, "'speed:float:out:0:x'", NULL);
    /* a fourth field is the fault policy: only out and io pins have one */
    parse_bad(PFX, -1, "a:bit:in,speed:float:in:x", -EINVAL, "'speed': an in pin", NULL);
    parse_bad(PFX, -1, "speed:float:out:fast", -EINVAL, "policy 'fast'", NULL);
    parse_bad(PFX, -1, "n:s32:out:2147483648", -EINVAL, "policy '2147483648'", NULL);
    parse_bad(PFX, -1, "b:bit:io:2", -EINVAL, "policy '2'", NULL);
    parse_bad(PFX, -1, "speed:float:in:", -EINVAL, "'speed': an in pin", NULL);
    parse_bad(PFX, -1, ":float:in", -EINVAL, "name", NULL);
}

static void test_pinspec_duplicate_name(void **state)
{
    (void)state;
    parse_bad(PFX, -1, "speed:float:in,estop:bit:out,speed:s32:out", -EINVAL, "'speed'",
              "twice");
}

static void test_pinspec_reserved_name(void **state)
{
    static const char *const reserved[] = { "connected", "update-count", "error-count",
                                            "update", "read", "write", "pin.3", "pin.0",
                                            "pin.x" };
    char spec[64];
    (void)state;

    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        char want[64];
        snprintf(spec, sizeof(spec), "%s:bit:in", reserved[i]);
        snprintf(want, sizeof(want), "'%s'", reserved[i]);
        parse_bad(PFX, -1, spec, -EINVAL, want, "reserved");
    }
}

static void test_pinspec_name_too_long(void **state)
{
    char name[64], spec[96];
    (void)state;

    /* "microkernel." is 12 characters: 35 more make HAL's 47 */
    memset(name, 'a', 35);
    name[35] = '\0';
    snprintf(spec, sizeof(spec), "%s:float:in", name);
    parse_ok(PFX, -1, spec, 1);
    assert_string_equal(ps.pin[0].name, name);
    name[35] = 'b';
    name[36] = '\0';
    snprintf(spec, sizeof(spec), "%s:float:in", name);
    parse_bad(PFX, -1, spec, -EINVAL, name, "47");
    /* the limit follows the prefix */
    parse_ok("mk", -1, spec, 1);
    memset(name, 'c', 45);
    name[45] = '\0';
    snprintf(spec, sizeof(spec), "%s:float:in", name);
    parse_bad("mk", -1, spec, -EINVAL, name, NULL);
}

static void test_pinspec_bad_characters(void **state)
{
    static const char *const bad[] = { "sp eed", "1speed", "_speed", "-speed", ".speed",
                                       "speed.", "a..b", "a/b", "a$b", "sp\teed", "a\"b",
                                       "\xc3\xa4\x62\x63" };
    char spec[64];
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(spec, sizeof(spec), "%s:float:in", bad[i]);
        parse_bad(PFX, -1, spec, -EINVAL, bad[i], NULL);
    }
}

static void test_pinspec_trailing_and_empty_items(void **state)
{
    (void)state;
    parse_bad(PFX, -1, "speed:float:in,", -EINVAL, "trailing ','", NULL);
    parse_bad(PFX, -1, "speed:float:in,,estop:bit:out", -EINVAL, "pins", NULL);
    parse_bad(PFX, -1, ",speed:float:in", -EINVAL, "pins", NULL);
    parse_bad(PFX, -1, ",", -EINVAL, "pins", NULL);
}

static void test_pinspec_too_many_pins(void **state)
{
    size_t cap = (HMK_MAX_PINS + 2) * 24;
    char *spec = malloc(cap);
    size_t len = 0;
    (void)state;

    assert_non_null(spec);
    spec[0] = '\0';
    for (unsigned i = 0; i < HMK_MAX_PINS; i++)
        len += (size_t)snprintf(spec + len, cap - len, "%sp%u:u32:io", i ? "," : "", i);
    parse_ok(PFX, -1, spec, HMK_MAX_PINS);
    assert_string_equal(ps.pin[HMK_MAX_PINS - 1].name, "p1023");
    snprintf(spec + len, cap - len, ",p%u:u32:io", HMK_MAX_PINS);
    parse_bad(PFX, -1, spec, -E2BIG, "1024", NULL);
    /* slots count too */
    parse_bad(PFX, (int)HMK_MAX_PINS, "extra:bit:in", -E2BIG, "1024", NULL);
    parse_ok(PFX, (int)HMK_MAX_PINS - 1, "extra:bit:in", HMK_MAX_PINS);
    free(spec);
}

static void test_pinspec_bad_prefix(void **state)
{
    char longp[64];
    (void)state;

    parse_bad("", -1, NULL, -EINVAL, "prefix=''", NULL);
    parse_bad("1mk", -1, NULL, -EINVAL, "prefix='1mk'", NULL);
    parse_bad("m k", -1, NULL, -EINVAL, "prefix='m k'", NULL);
    parse_bad("mk.", -1, NULL, -EINVAL, "prefix='mk.'", NULL);
    parse_bad("mk/x", -1, NULL, -EINVAL, "prefix='mk/x'", NULL);
    memset(longp, 'p', 35);
    longp[35] = '\0';
    parse_bad(longp, -1, NULL, -EINVAL, longp, NULL);
    longp[34] = '\0'; /* 34 + ".update-count" = 47 */
    parse_ok(longp, -1, NULL, 16);
    parse_ok("my.board_2-x", -1, NULL, 16);
    assert_int_equal(hmk_pinspec_check_prefix(NULL, err, sizeof(err)), -EINVAL);
    assert_int_equal(hmk_pinspec_check_prefix("microkernel", err, sizeof(err)), 0);
}

static void test_pinspec_bad_region(void **state)
{
    static const char *const bad[] = { "", "-x", "1abc", "a/b", "a.b", "../etc", "a b",
                                       ".hidden" };
    char longr[260];
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[64];
        err[0] = '\0';
        snprintf(want, sizeof(want), "region='%s'", bad[i]);
        assert_int_equal(hmk_pinspec_check_region(bad[i], err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, want));
    }
    assert_int_equal(hmk_pinspec_check_region(NULL, err, sizeof(err)), -EINVAL);
    memset(longr, 'r', 201);
    longr[201] = '\0';
    assert_int_equal(hmk_pinspec_check_region(longr, err, sizeof(err)), -EINVAL);
    longr[200] = '\0';
    assert_int_equal(hmk_pinspec_check_region(longr, err, sizeof(err)), 0);
    assert_int_equal(hmk_pinspec_check_region("hal-microkernel", err, sizeof(err)), 0);
    assert_int_equal(hmk_pinspec_check_region("Mk_2", err, sizeof(err)), 0);
}

static void test_pinspec_bad_mode(void **state)
{
    static const char *const bad[] = { "", "66", "06600", "0460", "0200", "0770", "0755",
                                       "0668", "abc", "0x1b6", "-660", "0 660" };
    static const struct { const char *s; unsigned v; } good[] = {
        { "0660", 0660 }, { "660", 0660 }, { "0600", 0600 }, { "0644", 0644 },
        { "0666", 0666 },
    };
    unsigned mode;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[64];
        err[0] = '\0';
        mode = 12345;
        snprintf(want, sizeof(want), "mode='%s'", bad[i]);
        assert_int_equal(hmk_pinspec_parse_mode(bad[i], &mode, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, want));
        assert_int_equal(mode, 12345);
    }
    assert_int_equal(hmk_pinspec_parse_mode(NULL, &mode, err, sizeof(err)), -EINVAL);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(hmk_pinspec_parse_mode(good[i].s, &mode, err, sizeof(err)), 0);
        assert_int_equal(mode, good[i].v);
    }
}

static void test_pinspec_slot_types(void **state)
{
    (void)state;
    parse_ok(PFX, -1, NULL, 16);
    assert_int_equal(hmk_pinspec_slot_types(&ps, "float,float,float,bit", err, sizeof(err)), 0);
    assert_int_equal(ps.pin[3].type, HMK_RT_BIT);
    assert_int_equal(ps.pin[2].type, HMK_RT_FLOAT);
    assert_int_equal(ps.pin[4].type, HMK_RT_FLOAT);
    assert_int_equal(hmk_pinspec_slot_types(&ps, ",s32,,u32", err, sizeof(err)), 0);
    assert_int_equal(ps.pin[0].type, HMK_RT_FLOAT); /* empty item keeps float */
    assert_int_equal(ps.pin[1].type, HMK_RT_S32);
    assert_int_equal(ps.pin[3].type, HMK_RT_U32);
    assert_int_equal(hmk_pinspec_slot_types(&ps, NULL, err, sizeof(err)), 0);
    assert_int_equal(hmk_pinspec_slot_types(&ps, "", err, sizeof(err)), 0);

    err[0] = '\0';
    assert_int_equal(hmk_pinspec_slot_types(&ps, "float,double", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "'double'"));
    /* more items than slots; named pins are not slots */
    parse_ok(PFX, 2, "x:bit:in", 3);
    err[0] = '\0';
    assert_int_equal(hmk_pinspec_slot_types(&ps, "bit,bit,bit", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "2 slots"));
    assert_int_equal(ps.pin[2].type, HMK_RT_BIT);
}

static void test_pinspec_fault_policies(void **state)
{
    static struct hmk_pinspec ps;
    char err[HMK_ERR_LEN];

    (void)state;
    assert_int_equal(hmk_pinspec_parse("microkernel", 2,
                     "c:bit:out:true,f:float:io:-2.5,s:s32:out:-7,u:u32:out:hold,h:float:out",
                     &ps, err, sizeof(err)), 0);
    assert_int_equal(ps.n, 7);
    assert_int_equal(ps.pin[2].policy, HMK_POLICY_SAFE);
    assert_int_equal(ps.pin[2].safe_value, 1);
    assert_int_equal(ps.pin[3].policy, HMK_POLICY_SAFE);
    assert_true(hmk_dec_float(ps.pin[3].safe_value) == -2.5);
    assert_int_equal(hmk_dec_s32(ps.pin[4].safe_value), -7);
    assert_int_equal(ps.pin[5].policy, HMK_POLICY_HOLD);
    assert_int_equal(ps.pin[6].policy, HMK_POLICY_HOLD);
    /* slots: safe= in slot order, hold or empty keeps the last value */
    assert_int_equal(hmk_pinspec_slot_safe(&ps, "0.5,hold", err, sizeof(err)), 0);
    assert_int_equal(ps.pin[0].policy, HMK_POLICY_SAFE);
    assert_true(hmk_dec_float(ps.pin[0].safe_value) == 0.5);
    assert_int_equal(ps.pin[1].policy, HMK_POLICY_HOLD);
    assert_int_equal(hmk_pinspec_slot_safe(&ps, "0,0,0", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "more items than the 2 slots"));
    assert_int_equal(hmk_pinspec_slot_safe(&ps, "nan", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "'nan'"));
}

/* safe= and a pins= POLICY take what halpoke takes: 0x hex for integers,
 * exponents for floats (before the shared parser they were decimal only) */
static void test_pinspec_policy_value_syntax(void **state)
{
    (void)state;
    assert_int_equal(hmk_pinspec_parse(PFX, 4, "a:u32:out:0x10,b:s32:io:-0x10", &ps, err,
                                       sizeof(err)), 0);
    assert_int_equal(ps.pin[4].policy, HMK_POLICY_SAFE);
    assert_int_equal(ps.pin[4].safe_value, 16);
    assert_int_equal(hmk_dec_s32(ps.pin[5].safe_value), -16);
    assert_int_equal(hmk_pinspec_slot_types(&ps, "s32,u32,float,bit", err, sizeof(err)), 0);
    assert_int_equal(hmk_pinspec_slot_safe(&ps, "0x10,0XfF,1e3,true", err, sizeof(err)), 0);
    assert_int_equal(hmk_dec_s32(ps.pin[0].safe_value), 16);
    assert_int_equal(ps.pin[1].safe_value, 255);
    assert_true(hmk_dec_float(ps.pin[2].safe_value) == 1000.0);
    assert_int_equal(ps.pin[3].safe_value, 1);
    /* still refused, as halpoke refuses them */
    assert_int_equal(hmk_pinspec_slot_safe(&ps, ",,0x10", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "item 2 '0x10'"));
    assert_int_equal(hmk_pinspec_slot_safe(&ps, ",-1", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "item 1 '-1'"));
    assert_int_equal(hmk_pinspec_slot_safe(&ps, "+1", err, sizeof(err)), -EINVAL);
    assert_int_equal(hmk_pinspec_slot_safe(&ps, "0x", err, sizeof(err)), -EINVAL);
    parse_bad(PFX, 0, "a:s32:out:0x80000000", -EINVAL, "policy '0x80000000'", "s32");
    parse_bad(PFX, 0, "a:float:out:0x10", -EINVAL, "policy '0x10'", "float");
}

/* safe= for slot 0 of type t and hmk_value_parse agree on `text`:
 * both accept it with the same value, or both refuse it */
static void agree(uint8_t t, const char *text)
{
    static const enum hmk_type pub[] = { [HMK_RT_BIT] = HMK_TYPE_BIT,
                                         [HMK_RT_FLOAT] = HMK_TYPE_FLOAT,
                                         [HMK_RT_S32] = HMK_TYPE_S32,
                                         [HMK_RT_U32] = HMK_TYPE_U32 };
    static const char *const tname[] = { NULL, "bit", "float", "s32", "u32" };
    static struct hmk_pinspec named; /* 64 KiB: not on the stack */
    static char pins[HMK_VALUE_TEXT_MAX + 64];
    hmk_value v;
    uint64_t enc = 0;
    int rv = hmk_value_parse(pub[t], text, &v), rs;

    ps.pin[0].type = t;
    ps.pin[0].policy = HMK_POLICY_HOLD;
    rs = hmk_pinspec_slot_safe(&ps, text, err, sizeof(err));
    if ((rv == 0) != (rs == 0))
        print_message("type %u '%s': hmk_value_parse %d, safe= %d (%s)\n", t, text, rv, rs, err);
    assert_int_equal(rv == 0, rs == 0);
    if (rv < 0) {
        assert_int_equal(rs, -EINVAL);
        assert_int_equal(ps.pin[0].policy, HMK_POLICY_HOLD);
    } else {
        switch (t) {
        case HMK_RT_BIT:   enc = v.b; break;
        case HMK_RT_FLOAT: enc = hmk_enc_float(v.f); break;
        case HMK_RT_S32:   enc = hmk_enc_s32(v.s); break;
        default:           enc = v.u; break;
        }
        assert_int_equal(ps.pin[0].policy, HMK_POLICY_SAFE);
        assert_int_equal(ps.pin[0].safe_value, enc);
    }
    /* the same text as a pins= POLICY */
    snprintf(pins, sizeof(pins), "a:%s:out:%s", tname[t], text);
    rs = hmk_pinspec_parse(PFX, 0, pins, &named, err, sizeof(err));
    assert_int_equal(rv == 0, rs == 0);
    if (rs == 0)
        assert_int_equal(named.pin[0].safe_value, enc);
}

/* one syntax: every text, as every type, is accepted by both parsers or by
 * neither (texts with ',' or ':' would split the lists; "" and "hold" are
 * the policy's own words) */
static void test_pinspec_policy_agrees_with_hmk_value_parse(void **state)
{
    static const char *const texts[] = {
        "0x10", "0X1f", "-0x10", "0x", "-0x", "0xg", "0x0x5", "-1", "-0", "1", "0", "2",
        "010", "08", "+1", "+1.5", "1.5", ".5", "-.5", "1e3", "1E-3", "e5", "1e", "-",
        ".", "1.5.5", "1e999", "-1e999", "1e-400", "nan", "inf", "-inf", "0x1p3",
        "true", "TRUE", "True", "false", "FALSE", "yes", " 1", "1 ", "\t1", "1\n",
        "2147483647", "2147483648", "-2147483648", "-2147483649", "0x7fffffff",
        "0x80000000", "-0x80000000", "4294967295", "4294967296", "0xffffffff",
        "0x100000000", "99999999999999999999", "-99999999999999999999", "18446744073709551616",
        "abc", "1x", "--1", "1-", "\xc2\xb9",
    };
    static char zeros[HMK_VALUE_TEXT_MAX + 2];
    (void)state;

    assert_int_equal(hmk_pinspec_parse(PFX, 1, NULL, &ps, err, sizeof(err)), 0);
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        for (uint8_t t = HMK_RT_BIT; t <= HMK_RT_U32; t++)
            agree(t, texts[i]);
    /* the length limit is the same for both: 255 zeros are 0, 256 nothing */
    memset(zeros, '0', HMK_VALUE_TEXT_MAX);
    for (uint8_t t = HMK_RT_FLOAT; t <= HMK_RT_U32; t++)
        agree(t, zeros);
    zeros[HMK_VALUE_TEXT_MAX] = '0';
    for (uint8_t t = HMK_RT_FLOAT; t <= HMK_RT_U32; t++) {
        hmk_value v;
        assert_int_equal(hmk_value_parse(HMK_TYPE_S32, zeros, &v), -EINVAL);
        agree(t, zeros);
    }
}

static void test_pinspec_err_buffer_handling(void **state)
{
    char small[8];
    (void)state;

    /* a short buffer is truncated and terminated; none at all is fine */
    memset(small, 'Z', sizeof(small));
    assert_int_equal(hmk_pinspec_parse(PFX, -1, "bad name:bit:in", &ps, small, sizeof(small)),
                     -EINVAL);
    assert_int_equal(small[sizeof(small) - 1], '\0');
    assert_int_equal(hmk_pinspec_parse(PFX, -1, "bad name:bit:in", &ps, NULL, 0), -EINVAL);
    assert_int_equal(hmk_pinspec_parse(PFX, 0, NULL, &ps, NULL, 0), -EINVAL);
    /* success clears an old message */
    strcpy(err, "old");
    assert_int_equal(hmk_pinspec_parse(PFX, -1, NULL, &ps, err, sizeof(err)), 0);
    assert_string_equal(err, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinspec_default_seed_layout),
        cmocka_unit_test(test_pinspec_count_zero_without_pins),
        cmocka_unit_test(test_pinspec_count_out_of_range),
        cmocka_unit_test(test_pinspec_pins_each_type_and_dir),
        cmocka_unit_test(test_pinspec_bad_type),
        cmocka_unit_test(test_pinspec_bad_dir),
        cmocka_unit_test(test_pinspec_missing_or_extra_field),
        cmocka_unit_test(test_pinspec_duplicate_name),
        cmocka_unit_test(test_pinspec_reserved_name),
        cmocka_unit_test(test_pinspec_name_too_long),
        cmocka_unit_test(test_pinspec_bad_characters),
        cmocka_unit_test(test_pinspec_trailing_and_empty_items),
        cmocka_unit_test(test_pinspec_too_many_pins),
        cmocka_unit_test(test_pinspec_bad_prefix),
        cmocka_unit_test(test_pinspec_bad_region),
        cmocka_unit_test(test_pinspec_bad_mode),
        cmocka_unit_test(test_pinspec_slot_types),
        cmocka_unit_test(test_pinspec_fault_policies),
        cmocka_unit_test(test_pinspec_policy_value_syntax),
        cmocka_unit_test(test_pinspec_policy_agrees_with_hmk_value_parse),
        cmocka_unit_test(test_pinspec_err_buffer_handling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
