/* test_ctl_client.c - the one reading of the daemon's replies: stats records
 * (good and malformed), quantiles, the JSON object, and hmk_ctl_ask against a
 * scripted daemon on a real socket (ok, error, no final line, silence). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "hmk_ctl_client.h"

/* "stats\tNAME\t..." with hist bucket k = h[k] (others 0) */
static void record(char *buf, size_t len, const char *name, const char *nums, const unsigned *h)
{
    size_t off = (size_t)snprintf(buf, len, "stats\t%s\t%s\t", name, nums);
    for (unsigned k = 0; k < HMK_TELEMETRY_BUCKETS; k++)
        off += (size_t)snprintf(buf + off, len - off, "%s%u", k ? "," : "", h ? h[k] : 0);
}

static void test_parse(void **state)
{
    unsigned h[HMK_TELEMETRY_BUCKETS] = { 0 };
    struct hmk_ctl_stats s;
    char line[1024];
    (void)state;

    h[10] = 90; /* [1024, 2048) ns */
    h[20] = 10; /* [~1 ms, ~2 ms) */
    record(line, sizeof(line), "probe-log", "8000000\t100\t3\t1500000\t2000000", h);
    assert_int_equal(hmk_ctl_stats_parse(line, &s), 0);
    assert_string_equal(s.name, "probe-log");
    assert_int_equal(s.deadline_ns, 8000000);
    assert_int_equal(s.count, 100);
    assert_int_equal(s.misses, 3);
    assert_int_equal(s.max_ns, 1500000);
    assert_int_equal(s.sum_ns, 2000000);
    assert_int_equal(s.hist[10], 90);
    assert_int_equal(hmk_ctl_stats_quantile(&s, 0.5), 2047);
    assert_int_equal(hmk_ctl_stats_quantile(&s, 0.9), 2047);
    assert_int_equal(hmk_ctl_stats_quantile(&s, 0.99), (2ull << 20) - 1);
    /* what the service claims, however big: no overflow */
    record(line, sizeof(line), "x", "0\t18446744073709551615\t0\t0\t18446744073709551615", NULL);
    assert_int_equal(hmk_ctl_stats_parse(line, &s), 0);
    assert_int_equal(s.count, UINT64_MAX);
    assert_int_equal(hmk_ctl_stats_quantile(&s, 0.99), 0); /* no buckets: no quantile */
}

static void test_parse_bad(void **state)
{
    struct hmk_ctl_stats s;
    char line[1024], longname[80];
    (void)state;

    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    const char *bad[] = {
        "", "stats", "stats\t", "service\tx\t0\t0\t0\t0\t0\t0",
        "stats\tx\t0\t0\t0\t0\t0",            /* no hist */
        "stats\tx\t0\t0\t0\t0\t0\t1,2,3",     /* too few buckets */
        "stats\tx\t-1\t0\t0\t0\t0\t0",
        "stats\tx\t0\t 1\t0\t0\t0\t0",
        "stats\tx\t0\t18446744073709551616\t0\t0\t0\t0", /* 2^64 */
        "stats\tb d\t0\t0\t0\t0\t0\t0",       /* not a service name */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(hmk_ctl_stats_parse(bad[i], &s), -EINVAL);
    record(line, sizeof(line), longname, "0\t0\t0\t0\t0", NULL);
    assert_int_equal(hmk_ctl_stats_parse(line, &s), -EINVAL);
    /* one bucket too many, a trailing comma, a tab after the last */
    record(line, sizeof(line), "x", "0\t0\t0\t0\t0", NULL);
    strcat(line, ",0");
    assert_int_equal(hmk_ctl_stats_parse(line, &s), -EINVAL);
    record(line, sizeof(line), "x", "0\t0\t0\t0\t0", NULL);
    strcat(line, ",");
    assert_int_equal(hmk_ctl_stats_parse(line, &s), -EINVAL);
    record(line, sizeof(line), "x", "0\t0\t0\t0\t0", NULL);
    strcat(line, "\t");
    assert_int_equal(hmk_ctl_stats_parse(line, &s), -EINVAL);
}

static void test_json(void **state)
{
    struct hmk_ctl_stats s = { .name = "r", .deadline_ns = 5, .count = 4, .misses = 1, .max_ns = 9, .sum_ns = 20 };
    char buf[1024];
    int n;
    (void)state;

    s.hist[2] = 4;
    n = hmk_ctl_stats_json(&s, 0, buf, sizeof(buf));
    assert_string_equal(buf, "{\"name\":\"r\",\"deadline_ns\":5,\"count\":4,\"misses\":1,\"max_ns\":9,"
                             "\"sum_ns\":20,\"mean_ns\":5,\"p50_le_ns\":7,\"p99_le_ns\":7}");
    assert_int_equal(n, (int)strlen(buf));
    n = hmk_ctl_stats_json(&s, 1, buf, sizeof(buf));
    assert_true(n > 0);
    assert_non_null(strstr(buf, ",\"hist_log2_ns\":[0,0,4,0,"));
    assert_string_equal(buf + n - 4, ",0]}");
    assert_int_equal(hmk_ctl_stats_json(&s, 1, buf, 60), -ENOSPC);
    /* the largest record a service can claim fits what the tool gives it */
    memset(&s, 0xff, sizeof(s));
    memset(s.name, 'n', HMK_CTL_NAME_MAX);
    s.name[HMK_CTL_NAME_MAX] = '\0';
    {
        char big[HMK_CTL_STATS_JSON_MAX];
        assert_true(hmk_ctl_stats_json(&s, 1, big, sizeof(big)) > 0);
    }
    assert_int_equal(hmk_ctl_stats_json(&s, 0, buf, 10), -ENOSPC);
}

/* ---- a scripted daemon ---------------------------------------------------- */

struct server {
    int lfd;
    const char *answer; /* NULL: accept, read the request, say nothing */
    char request[256];
    int hold_ms;        /* with answer NULL: how long to stay silent */
};

static void *serve(void *arg)
{
    struct server *sv = arg;
    int fd = accept(sv->lfd, NULL, NULL);
    ssize_t n;

    if (fd < 0)
        return NULL;
    n = read(fd, sv->request, sizeof(sv->request) - 1);
    if (n > 0)
        sv->request[n] = '\0';
    if (sv->answer) {
        if (write(fd, sv->answer, strlen(sv->answer)) < 0) {
            /* the test sees it */
        }
    } else {
        struct timespec ts = { sv->hold_ms / 1000, (sv->hold_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    close(fd);
    return NULL;
}

static int ask(const char *answer, int hold_ms, const char *request, int timeout_ms, char **reply,
               char *seen, long *took_ms)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    struct server sv = { .answer = answer, .hold_ms = hold_ms };
    struct timespec t0, t1;
    pthread_t th;
    int ret;

    snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/hmk-test-ctlc-%d", (int)getpid());
    unlink(a.sun_path);
    sv.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(sv.lfd >= 0);
    assert_int_equal(bind(sv.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(sv.lfd, 4), 0);
    assert_int_equal(pthread_create(&th, NULL, serve, &sv), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ret = hmk_ctl_ask(a.sun_path, request, timeout_ms, reply);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(th, NULL);
    close(sv.lfd);
    unlink(a.sun_path);
    if (seen)
        strcpy(seen, sv.request);
    if (took_ms)
        *took_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    return ret;
}

static void test_ask(void **state)
{
    char *reply = NULL, seen[256];
    long took;
    (void)state;

    assert_int_equal(ask("service\ta\trunning\t1\t2\t0\t-\nok\n", 0, "status", 5000, &reply, seen, NULL), 0);
    assert_string_equal(seen, "status\n");
    assert_string_equal(reply, "service\ta\trunning\t1\t2\t0\t-\nok\n");
    free(reply);
    assert_int_equal(ask("error\tno service 'b'\n", 0, "status b", 5000, &reply, NULL, NULL), -EREMOTEIO);
    assert_string_equal(reply, "error\tno service 'b'\n");
    free(reply);
    assert_int_equal(ask("service\ta\trunning", 0, "status", 5000, &reply, NULL, NULL), -EPROTO);
    free(reply);
    assert_int_equal(ask("", 0, "status", 5000, &reply, NULL, NULL), -EPROTO);
    free(reply);
    /* a daemon that never answers costs the timeout, not more */
    assert_int_equal(ask(NULL, 5000, "stats", 200, &reply, NULL, &took), -ETIMEDOUT);
    assert_null(reply);
    assert_true(took >= 150 && took < 4000); /* not the silent daemon's 5 s */
    /* what is never sent */
    assert_int_equal(hmk_ctl_ask("/tmp/x", "two\nlines", 100, &reply), -EINVAL);
    assert_int_equal(hmk_ctl_ask("/nonexistent/hmk-ctl", "status", 100, &reply), -ENOENT);
}

static void test_get_stats(void **state)
{
    unsigned h[HMK_TELEMETRY_BUCKETS] = { [3] = 2 };
    char answer[4096], line[1024];
    struct hmk_ctl_stats *st;
    size_t n;
    (void)state;

    record(line, sizeof(line), "a", "0\t2\t0\t12\t20", h);
    snprintf(answer, sizeof(answer), "%s\n", line);
    record(line, sizeof(line), "b", "1000\t0\t0\t0\t0", NULL);
    snprintf(answer + strlen(answer), sizeof(answer) - strlen(answer), "%s\nok\n", line);
    {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        struct server sv = { .answer = answer };
        pthread_t th;
        snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/hmk-test-ctlc-%d", (int)getpid());
        unlink(a.sun_path);
        sv.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(bind(sv.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(listen(sv.lfd, 4), 0);
        assert_int_equal(pthread_create(&th, NULL, serve, &sv), 0);
        assert_int_equal(hmk_ctl_get_stats(a.sun_path, 5000, &st, &n), 0);
        pthread_join(th, NULL);
        close(sv.lfd);
        unlink(a.sun_path);
        assert_string_equal(sv.request, "stats\n");
    }
    assert_int_equal(n, 2);
    assert_string_equal(st[0].name, "a");
    assert_int_equal(st[0].count, 2);
    assert_int_equal(hmk_ctl_stats_quantile(&st[0], 0.5), 15);
    assert_string_equal(st[1].name, "b");
    assert_int_equal(st[1].deadline_ns, 1000);
    free(st);
}

static void test_socket_path(void **state)
{
    (void)state;
    unsetenv("HMK_CONTROL_SOCKET");
    assert_string_equal(hmk_ctl_socket_path(), HMK_CTL_DEFAULT_SOCKET);
    setenv("HMK_CONTROL_SOCKET", "/run/x", 1);
    assert_string_equal(hmk_ctl_socket_path(), "/run/x");
    unsetenv("HMK_CONTROL_SOCKET");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),     cmocka_unit_test(test_parse_bad), cmocka_unit_test(test_json),
        cmocka_unit_test(test_ask),       cmocka_unit_test(test_get_stats), cmocka_unit_test(test_socket_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
