/* Unit tests for services/web/web_json.c: JSON text, the write request,
 * the daemon's status records, the connected judgement, token and Origin. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "web_json.h"

static void test_str_escapes(void **state)
{
    struct wj_buf b;
    (void)state;
    wj_init(&b, 1024);
    wj_str(&b, "a\"b\\c\n\x01</script>");
    assert_string_equal(b.p, "\"a\\\"b\\\\c\\u000a\\u0001</script>\"");
    wj_free(&b);
}

static void test_values(void **state)
{
    struct wj_buf b;
    hmk_value v = { .type = HMK_TYPE_FLOAT, .f = 1.5 };
    (void)state;
    wj_init(&b, 1024);
    wj_value(&b, &v);
    wj_raw(&b, " ");
    v.f = NAN;
    wj_value(&b, &v);
    wj_raw(&b, " ");
    v.f = -INFINITY;
    wj_value(&b, &v);
    wj_raw(&b, " ");
    v = (hmk_value){ .type = HMK_TYPE_BIT, .b = true };
    wj_value(&b, &v);
    wj_raw(&b, " ");
    v = (hmk_value){ .type = HMK_TYPE_S32, .s = -7 };
    wj_value(&b, &v);
    wj_raw(&b, " ");
    v = (hmk_value){ .type = HMK_TYPE_U32, .u = 4294967295u };
    wj_value(&b, &v);
    assert_string_equal(b.p, "1.5 \"nan\" \"-inf\" true -7 4294967295");
    wj_free(&b);
}

/* Past the cap nothing more is appended and `full` says so. */
static void test_cap(void **state)
{
    struct wj_buf b;
    (void)state;
    wj_init(&b, 16);
    wj_raw(&b, "0123456789");
    assert_false(b.full);
    wj_raw(&b, "0123456789");
    assert_true(b.full);
    assert_string_equal(b.p, "0123456789");
    wj_reset(&b);
    assert_false(b.full);
    assert_int_equal(b.len, 0);
    wj_free(&b);
}

static void test_service_record(void **state)
{
    struct web_svc s;
    (void)state;
    assert_int_equal(web_parse_service("service\tpinlog\trunning\t123\t4567\t2\t-", &s), 0);
    assert_string_equal(s.name, "pinlog");
    assert_string_equal(s.state, "running");
    assert_int_equal(s.pid, 123);
    assert_int_equal(s.uptime_ms, 4567);
    assert_int_equal(s.restarts, 2);
    assert_string_equal(s.last_exit, "-");
    assert_int_equal(web_parse_service("service\tx\tfailed\t0\t0\t3\tkilled by SIGKILL", &s), 0);
    assert_string_equal(s.last_exit, "killed by SIGKILL");
    /* malformed: missing field, extra field, non-numbers, other records */
    assert_int_equal(web_parse_service("service\tx\tfailed\t0\t0\t3", &s), -EINVAL);
    assert_int_equal(web_parse_service("service\tx\tfailed\t0\t0\t3\t-\textra", &s), -EINVAL);
    assert_int_equal(web_parse_service("service\tx\tfailed\t-1\t0\t3\t-", &s), -EINVAL);
    assert_int_equal(web_parse_service("service\tx\tfailed\t1x\t0\t3\t-", &s), -EINVAL);
    assert_int_equal(web_parse_service("ok", &s), -EINVAL);
    assert_int_equal(web_parse_service("service\t\trunning\t1\t0\t0\t-", &s), -EINVAL);
    assert_int_equal(web_parse_service("service\tx\tverylongstatename123\t1\t0\t0\t-", &s), -EINVAL);
}

static void test_write_ok(void **state)
{
    struct web_write_req r;
    const char *why;
    (void)state;
#define P(s) web_parse_write(s, strlen(s), &r, &why)
    assert_int_equal(P("{\"pin\":\"pin.1\",\"value\":2.5}"), 0);
    assert_string_equal(r.pin, "pin.1");
    assert_string_equal(r.text, "2.5");
    assert_int_equal(P("{\"pin\":\"lamp\",\"value\":true}"), 0);
    assert_string_equal(r.text, "true");
    assert_int_equal(P("{\"value\":1e3,\"pin\":\"count\"}"), 0);
    assert_string_equal(r.text, "1000");
    assert_int_equal(P("{\"pin\":\"pin.0\",\"value\":\"0x10\"}"), 0);
    assert_string_equal(r.text, "0x10");
}

static void test_write_bad(void **state)
{
    struct web_write_req r;
    const char *why;
    (void)state;
    assert_int_equal(P("{\"pin\":\"pin.1\",\"value\":"), -EINVAL);
    assert_string_equal(why, "malformed JSON");
    assert_int_equal(P("[1,2]"), -EINVAL);
    assert_int_equal(P("{\"pin\":3,\"value\":1}"), -EINVAL);
    assert_int_equal(P("{\"pin\":\"\",\"value\":1}"), -EINVAL);
    assert_int_equal(P("{\"pin\":\"a\"}"), -EINVAL);
    assert_string_equal(why, "\"value\" is missing");
    assert_int_equal(P("{\"pin\":\"a\",\"value\":null}"), -EINVAL);
    assert_int_equal(P("{\"pin\":\"a\",\"value\":[1]}"), -EINVAL);
    assert_int_equal(P("{\"pin\":\"a\",\"value\":1,\"x\":2}"), -EINVAL);
    assert_int_equal(P("{\"pin\":\"a\",\"value\":\"\"}"), -EINVAL);
    assert_int_equal(P("{\"pin\":\"0123456789012345678901234567890123456789012345678901234567890123456789\",\"value\":1}"), -EINVAL);
    /* the body's length is what counts, not a NUL inside it */
    assert_int_equal(web_parse_write("{\"pin\":\"a\",\"value\":1}", 10, &r, &why), -EINVAL);
}

static void test_connected(void **state)
{
    struct hmk_stats st = { .heartbeat_ns = 10000000000ull, .heartbeat_timeout_ms = 500 };
    (void)state;
    assert_true(web_hal_connected(true, &st, 10000000000ull + 499000000ull));
    assert_false(web_hal_connected(true, &st, 10000000000ull + 500000000ull));
    assert_false(web_hal_connected(false, &st, 10000000000ull));
    /* stamped after "now" was read: fresh */
    assert_true(web_hal_connected(true, &st, 9000000000ull));
    st.heartbeat_ns = 0; /* never stamped */
    assert_false(web_hal_connected(true, &st, 1));
    assert_false(web_hal_connected(true, NULL, 1));
}

static void test_token_origin(void **state)
{
    (void)state;
    assert_true(web_token_eq("abcdefghijklmnop", "abcdefghijklmnop"));
    assert_false(web_token_eq("abcdefghijklmnoq", "abcdefghijklmnop"));
    assert_false(web_token_eq("abcdefghijklmno", "abcdefghijklmnop"));
    assert_false(web_token_eq("abcdefghijklmnopq", "abcdefghijklmnop"));
    assert_false(web_token_eq("", "abcdefghijklmnop"));
    assert_true(web_origin_ok(NULL, "127.0.0.1:8080"));
    assert_true(web_origin_ok("http://127.0.0.1:8080", "127.0.0.1:8080"));
    assert_false(web_origin_ok("http://evil.example", "127.0.0.1:8080"));
    assert_false(web_origin_ok("http://127.0.0.1:8080.evil", "127.0.0.1:8080"));
    assert_false(web_origin_ok("https://127.0.0.1:8080", "127.0.0.1:8080"));
    assert_false(web_origin_ok("null", "127.0.0.1:8080"));
    assert_false(web_origin_ok("http://x", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str_escapes),   cmocka_unit_test(test_values),
        cmocka_unit_test(test_cap),           cmocka_unit_test(test_service_record),
        cmocka_unit_test(test_write_ok),      cmocka_unit_test(test_write_bad),
        cmocka_unit_test(test_connected),     cmocka_unit_test(test_token_origin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
