/* test_cfg.c - configuration parsing: a golden good file with every key, the
 * defaults, and every kind of bad line with its line number. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cfg.h"
#include "log.h"

static void test_golden(void **state)
{
    struct cfg_error err;
    struct cfg *c = NULL;
    struct cfg_service *w;
    (void)state;

    int ret = cfg_load(HMK_TEST_DATA "/good.ini", &c, &err);
    if (ret)
        fprintf(stderr, "line %d: %s\n", err.line, err.msg);
    assert_int_equal(ret, 0);
    assert_string_equal(c->daemon.region, "rig-1");
    assert_int_equal(c->daemon.heartbeat_ms, 250);
    assert_int_equal(c->daemon.log_level, LOG_DEBUG);
    assert_string_equal(c->daemon.control_socket, "/tmp/hmk.sock");
    assert_int_equal(c->daemon.control_mode, 0600);
    assert_true(c->daemon.has_control_group);
    assert_int_equal(c->daemon.control_gid, 0);
    assert_true(c->daemon.has_writer_group);
    assert_int_equal(c->daemon.writer_gid, 0);
    assert_true(c->svc[0]->has_writer_gid); /* every service learns it */
    assert_true(c->daemon.pin_monitor);
    assert_int_equal(c->daemon.pin_monitor_rate, 20);

    assert_int_equal(c->n_svc, 3);
    /* start order: db first, cache after db, web after both */
    assert_string_equal(c->svc[0]->name, "db");
    assert_string_equal(c->svc[1]->name, "cache");
    assert_string_equal(c->svc[2]->name, "web");
    w = cfg_find(c, "web");
    assert_non_null(w);
    assert_int_equal(w->line, 12);
    assert_string_equal(w->argv[0], "/usr/bin/web");
    assert_string_equal(w->argv[1], "--port");
    assert_string_equal(w->argv[2], "80");
    assert_string_equal(w->argv[3], "two words");
    assert_string_equal(w->argv[4], "q\"uote");
    assert_string_equal(w->argv[5], "back slash");
    assert_null(w->argv[6]);
    assert_int_equal(w->restart, CFG_RESTART_ALWAYS);
    assert_int_equal(w->backoff_initial_ms, 100);
    assert_true(w->backoff_factor == 1.5);
    assert_int_equal(w->backoff_max_ms, 120000);
    assert_int_equal(w->crash_limit, 3);
    assert_int_equal(w->crash_window_ms, 60000);
    assert_string_equal(w->after[0], "db");
    assert_string_equal(w->after[1], "cache");
    assert_null(w->after[2]);
    assert_true(w->has_user);
    assert_int_equal(w->uid, 65534);
    assert_true(w->has_group);
    assert_int_equal(w->gid, 65534);
    assert_int_equal(w->nice, -5);
    assert_true(w->has_affinity);
    assert_int_equal(CPU_COUNT(&w->affinity), 3);
    assert_true(CPU_ISSET(2, &w->affinity) && CPU_ISSET(3, &w->affinity) && CPU_ISSET(5, &w->affinity));
    assert_int_equal(w->limit_as, 512ull << 20);
    assert_int_equal(w->limit_cpu, 3600);
    assert_int_equal(w->limit_nofile, 1024);
    assert_int_equal(w->stop_timeout_ms, 2500);
    assert_string_equal(w->env[0], "A=1");
    assert_string_equal(w->env[1], "B=x y");
    assert_null(w->env[2]);
    assert_int_equal(w->ready, CFG_READY_FD);
    assert_int_equal(w->ready_timeout_ms, 45000);
    assert_true(w->has_writes);
    assert_string_equal(w->writes[0], "pin.0");
    assert_string_equal(w->writes[1], "spindle.speed");
    assert_null(w->writes[2]);
    w = cfg_find(c, "db");
    assert_true(w->has_writes);
    assert_null(w->writes);

    w = cfg_find(c, "cache");
    assert_int_equal(w->restart, CFG_RESTART_NO);
    assert_int_equal(w->crash_limit, 0);
    assert_int_equal(w->limit_as, RLIM_INFINITY);
    assert_int_equal(w->limit_cpu, CFG_RLIM_UNSET);
    cfg_free(c);
}

static void test_defaults(void **state)
{
    struct cfg_error err;
    struct cfg *c = NULL;
    struct cfg_service *s;
    (void)state;

    assert_int_equal(cfg_load_string("[service a]\nexec = a\n", &c, &err), 0);
    assert_string_equal(c->daemon.region, "hal-microkernel");
    assert_int_equal(c->daemon.heartbeat_ms, 1000);
    assert_string_equal(c->daemon.control_socket, "/run/hal-microkernel/control");
    assert_int_equal(c->daemon.control_mode, 0660);
    assert_false(c->daemon.pin_monitor);
    s = c->svc[0];
    assert_int_equal(s->restart, CFG_RESTART_ON_FAILURE);
    assert_int_equal(s->backoff_initial_ms, 500);
    assert_int_equal(s->backoff_max_ms, 30000);
    assert_int_equal(s->crash_limit, 5);
    assert_int_equal(s->stop_timeout_ms, 10000);
    assert_int_equal(s->ready, CFG_READY_NONE);
    assert_int_equal(s->ready_timeout_ms, 0);
    assert_false(s->has_user || s->has_group || s->has_nice || s->has_affinity);
    assert_null(s->env);
    assert_false(s->has_writes);
    cfg_free(c);
    /* empty file: valid, no services */
    assert_int_equal(cfg_load_string("", &c, &err), 0);
    assert_int_equal(c->n_svc, 0);
    cfg_free(c);
}

struct bad {
    const char *text;
    int line;
    const char *msg; /* substring */
};

static const struct bad bads[] = {
    { "[daemon]\nregion = x\n\n[bogus]\n", 4, "unknown section [bogus]" },
    { "[daemon]\nfoo = 1\n", 2, "unknown key 'foo' in [daemon]" },
    { "[service a]\nexec = a\nfoo = 1\n", 3, "unknown key 'foo' in [service a]" },
    { "key = 1\n", 1, "outside of a section" },
    { "[daemon]\nthis line has no equals\n", 2, "syntax error" },
    { "[daemon\n", 1, "syntax error" },
    { "[daemon] junk\n", 1, "unexpected text after section header" },
    { "[daemon]\n[daemon]\n", 2, "duplicate section [daemon]" },
    { "[service a]\nexec = a\n[service a]\nexec = b\n", 3, "duplicate section [service a]" },
    { "[service a b]\nexec = a\n", 1, "invalid service name 'a b'" },
    { "[service a]\nexec = a\nexec = b\n", 3, "duplicate key 'exec'" },
    { "[service a]\nexec = 'unterminated\n", 2, "unterminated quote" },
    { "[service a]\nexec = \"\"x\\\n", 2, "invalid exec" },
    { "[service a]\nrestart = always\n", 1, "has no exec" },
    { "[service a]\nexec = a\nrestart = sometimes\n", 3, "invalid restart 'sometimes'" },
    { "[service a]\nexec = a\nbackoff-initial = 5 s\n", 3, "invalid backoff-initial" },
    { "[service a]\nexec = a\nbackoff-initial = -1\n", 3, "invalid backoff-initial" },
    { "[service a]\nexec = a\nbackoff-max = 10parsecs\n", 3, "invalid backoff-max" },
    { "[service a]\nexec = a\nbackoff-factor = 0.5\n", 3, "invalid backoff-factor" },
    { "[service a]\nexec = a\nbackoff-initial = 1min\nbackoff-max = 1s\n", 1, "larger than backoff-max" },
    { "[service a]\nexec = a\ncrash-limit = 3\n", 3, "invalid crash-limit" },
    { "[service a]\nexec = a\ncrash-limit = 0 in 10s\n", 3, "invalid crash-limit" },
    { "[service a]\nexec = a\ncrash-limit = 3 in forever\n", 3, "invalid crash-limit" },
    { "[service a]\nexec = a\n\nafter = b\n", 4, "unknown service 'b' in after" },
    { "[service a]\nexec = a\nafter = b\n[service b]\nexec = b\nafter = c\n[service c]\nexec = c\nafter = a\n",
      1, "dependency cycle in after: a -> b -> c -> a" },
    { "[service a]\nexec = a\nafter = a\n", 1, "dependency cycle in after: a -> a" },
    { "[service a]\nexec = a\nuser = no-such-user-hmk\n", 3, "unknown user 'no-such-user-hmk'" },
    { "[service a]\nexec = a\ngroup = no-such-group-hmk\n", 3, "unknown group 'no-such-group-hmk'" },
    { "[service a]\nexec = a\nnice = 20\n", 3, "invalid nice '20'" },
    { "[service a]\nexec = a\nnice = 1x\n", 3, "invalid nice" },
    { "[service a]\nexec = a\ncpu-affinity = 3-1\n", 3, "invalid cpu-affinity" },
    { "[service a]\nexec = a\ncpu-affinity = 1,,2\n", 3, "invalid cpu-affinity" },
    { "[service a]\nexec = a\ncpu-affinity = 99999\n", 3, "invalid cpu-affinity" },
    { "[service a]\nexec = a\nlimit-as = 12Q\n", 3, "invalid limit-as" },
    { "[service a]\nexec = a\nlimit-cpu = -1\n", 3, "invalid limit-cpu" },
    { "[service a]\nexec = a\nlimit-nofile = 2\n", 3, "invalid limit-nofile" },
    { "[service a]\nexec = a\nstop-timeout = 0\n", 3, "invalid stop-timeout" },
    { "[service a]\nexec = a\nenv = NOEQUALS\n", 3, "invalid env" },
    { "[service a]\nexec = a\nenv = 1X=2\n", 3, "invalid environment variable name" },
    { "[service a]\nexec = a\nenv = A=1\nenv = A=2\n", 4, "duplicate env 'A'" },
    { "[service a]\nexec = a\nenv = HMK_READY_FD=4\n", 3, "set by the daemon" },
    { "[service a]\nexec = a\nready = sd_notify\n", 3, "invalid ready" },
    { "[service a]\nexec = a\nready-timeout = 0\n", 3, "invalid ready-timeout" },
    { "[service a]\nexec = a\nready-timeout = soon\n", 3, "invalid ready-timeout" },
    { "[service a]\nexec = a\nready-timeout = none\nready-timeout = 1s\n", 4, "duplicate" },
    { "[service a]\nexec = a\nwrites = pin.0 ../x\n", 3, "invalid pin name '../x' in writes" },
    /* a region pin name is at most HAL_NAME_LEN (47) characters */
    { "[service a]\nexec = a\nwrites = pin.0, pppppppppppppppppppppppppppppppppppppppppppppppp\n", 3, "invalid pin name 'pppppppppppppppppppppppppppppppppppppppppppppppp' in writes" },
    { "[service a]\nexec = a\nafter = b, c/d\n", 3, "invalid service name 'c/d' in after" },
    { "[service a]\nexec = a\nwrites = a\nwrites = b\n", 4, "duplicate key 'writes'" },
    { "[service a]\nexec = a\nenv = HMK_WRITE_PINS=x\n", 3, "set by the daemon" },
    { "[service a]\nexec = a\nready =\n", 3, "empty value for 'ready'" },
    { "[daemon]\nheartbeat-period = 0\n", 2, "invalid heartbeat-period" },
    { "[daemon]\nlog-level = loud\n", 2, "invalid log-level" },
    { "[daemon]\ncontrol-socket = relative/path\n", 2, "invalid control-socket" },
    { "[daemon]\ncontrol-mode = 0999\n", 2, "invalid control-mode" },
    { "[daemon]\ncontrol-group = no-such-group-hmk\n", 2, "unknown group" },
    { "[daemon]\nwriter-group = no-such-group-hmk\n", 2, "unknown group" },
    { "[daemon]\nwriter-group = root\nwriter-group = root\n", 3, "duplicate key 'writer-group'" },
    { "[daemon]\npin-monitor = maybe\n", 2, "invalid pin-monitor" },
    { "[daemon]\npin-monitor-rate = 0\n", 2, "invalid pin-monitor-rate" },
    { "[daemon]\nregion = /etc/passwd\n", 2, "invalid region name" },
    { "[daemon]\nregion = a\nregion = b\n", 3, "duplicate key 'region'" },
    { "[queue a/b]\ndepth = 4\n", 1, "invalid queue name 'a/b'" },
    { "[service a]\nexec = a\n[queue q]\ndepth = 4\nsize = 8\nsenders = a\n", 3,
      "[queue q] needs depth, size, senders and receivers" },
    { "[service a]\nexec = a\n[queue q]\ndepth = 4\nsize = 8\nsenders = a\nreceivers = b\n", 3,
      "[queue q]: unknown service 'b' in receivers" },
    { "[queue q]\ndepth = 0\n", 2, "invalid depth '0'" },
    { "[queue q]\nsize = 70000\n", 2, "invalid size '70000'" },
    { "[queue q]\ndepth = 4\ndepth = 8\n", 3, "duplicate key 'depth' in [queue q]" },
    { "[queue q]\ncolor = red\n", 2, "unknown key 'color' in [queue q]" },
    { "[queue q]\ndepth = 4\n[queue q]\n", 3, "duplicate section [queue q]" },
    { "[service a]\nexec = a\nenv = HMK_QUEUES_SEND=q\n", 3, "set by the daemon" },
    { "[service a]\nexec = a\nsched = fifo:0\n", 3, "invalid sched 'fifo:0' (priority 1 to 99" },
    { "[service a]\nexec = a\nsched = rr:100\n", 3, "invalid sched 'rr:100' (priority 1 to 99" },
    { "[service a]\nexec = a\nsched = fifo:\n", 3, "invalid sched 'fifo:' (expected other" },
    { "[service a]\nexec = a\nsched = realtime\n", 3, "invalid sched 'realtime' (expected" },
    { "[service a]\nexec = a\nsched = deadline:2/10/10\n", 3, "invalid sched 'deadline:2/10/10' (expected" },
    { "[service a]\nexec = a\nsched = deadline:2ms/10ms\n", 3, "invalid sched" },
    { "[service a]\nexec = a\nsched = deadline:2ms/10ms/10ms/1ms\n", 3, "invalid sched" },
    { "[service a]\nexec = a\nsched = deadline:20ms/10ms/10ms\n", 3, "runtime <= deadline <= period" },
    { "[service a]\nexec = a\nsched = deadline:1ms/10ms/5ms\n", 3, "runtime <= deadline <= period" },
    { "[service a]\nexec = a\nsched = deadline:0ns/10ms/10ms\n", 3, "each 1ns to 100s" },
    { "[service a]\nexec = a\nsched = idle\nsched = batch\n", 4, "duplicate key 'sched'" },
    { "[service a]\nexec = a\nlimit-rttime = 0\n", 3, "invalid limit-rttime '0'" },
    { "[service a]\nexec = a\nlimit-rttime = 5x\n", 3, "invalid limit-rttime" },
    { "[daemon]\nrt-cpus = 1-\n", 2, "invalid rt-cpus '1-'" },
    { "[service a]\nexec = a\ncpu-affinity = 0\nsched = deadline:1ms/10ms/10ms\n", 4,
      "[service a]: sched = deadline cannot have a cpu-affinity" },
    /* CPU 1000: never isolated here, so the result does not depend on the machine */
    { "[daemon]\nrt-cpus = 1000\n[service a]\nexec = a\nsched = fifo:10\ncpu-affinity = 999-1000\n", 5,
      "[service a]: a realtime sched on CPU 1000, which LinuxCNC's realtime threads use" },
    { "[daemon]\nrt-cpus = 1000\n[service a]\nexec = a\nsched = rr:5\n", 5,
      "[service a]: a realtime sched may run on every CPU, including rt-cpus 1000 (not isolated)" },
    { "[daemon]\nrt-cpus = 1000\n[service a]\nexec = a\nsched = deadline:1ms/10ms/10ms\n", 5,
      "isolate them (isolcpus=)" },
};

static void test_queues(void **state)
{
    struct cfg_error err;
    struct cfg *c = NULL;

    (void)state;
    assert_int_equal(cfg_load_string("[service tx]\nexec = tx\n[service rx]\nexec = rx\n"
                                     "[service other]\nexec = o\n"
                                     "[queue q]\ndepth = 64\nsize = 1K\nsenders = tx other\nreceivers = rx\n"
                                     "[queue r]\ndepth = 2\nsize = 8\nsenders = rx\nreceivers = tx\n",
                                     &c, &err), 0);
    assert_int_equal(c->n_q, 2);
    assert_string_equal(c->q[0]->name, "q");
    assert_int_equal(c->q[0]->depth, 64);
    assert_int_equal(c->q[0]->size, 1024);
    struct cfg_service *tx = cfg_find(c, "tx"), *rx = cfg_find(c, "rx");
    assert_true(tx->has_queues && rx->has_queues);
    assert_string_equal(tx->q_send[0], "q");
    assert_null(tx->q_send[1]);
    assert_string_equal(tx->q_recv[0], "r");
    assert_string_equal(rx->q_recv[0], "q");
    assert_string_equal(rx->q_send[0], "r");
    assert_null(cfg_find(c, "other")->q_recv);
    cfg_free(c);
}

static void test_bad_lines(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        struct cfg_error err;
        struct cfg *c = NULL;
        int ret = cfg_load_string(bads[i].text, &c, &err);
        if (ret != -EINVAL || err.line != bads[i].line || !strstr(err.msg, bads[i].msg)) {
            fprintf(stderr, "case %zu: ret %d line %d msg '%s'; want line %d '%s'\n", i, ret, err.line,
                    err.msg, bads[i].line, bads[i].msg);
            fail();
        }
        assert_null(c);
    }
}

static void test_long_line(void **state)
{
    char text[600];
    struct cfg_error err;
    struct cfg *c = NULL;
    (void)state;

    snprintf(text, sizeof(text), "[service a]\nexec = a\nenv = X=%0500d\n", 0);
    assert_int_equal(cfg_load_string(text, &c, &err), -EINVAL);
    assert_int_equal(err.line, 3);
    assert_non_null(strstr(err.msg, "line too long"));
}

/* A NUL byte inside a line of a file is an error on that line, not a
 * value silently cut short. */
static void test_nul_byte_in_file(void **state)
{
    static const char text[] = "[daemon]\nregion = ab\0cd\nlog-level = info\n";
    char path[] = "/tmp/hmk-cfg-nul.XXXXXX";
    struct cfg_error err;
    struct cfg *c = NULL;
    int fd = mkstemp(path);
    (void)state;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    assert_int_equal(cfg_load(path, &c, &err), -EINVAL);
    unlink(path);
    assert_null(c);
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.msg, "NUL byte"));
}

/* Not a configuration: an endless or huge file is refused, not read
 * until memory runs out. */
static void test_file_too_big(void **state)
{
    struct cfg_error err;
    struct cfg *c = NULL;
    (void)state;
    assert_int_equal(cfg_load("/dev/zero", &c, &err), -EFBIG);
    assert_null(c);
}

/* The last line counts without its newline; a long line in a file is
 * reported as in a string. */
static void test_file_edges(void **state)
{
    char path[] = "/tmp/hmk-cfg-edge.XXXXXX", text[600];
    struct cfg_error err;
    struct cfg *c = NULL;
    int fd = mkstemp(path), n;
    (void)state;

    assert_true(fd >= 0);
    n = snprintf(text, sizeof(text), "[daemon]\nlog-level = debug");
    assert_int_equal(write(fd, text, (size_t)n), n);
    assert_int_equal(cfg_load(path, &c, &err), 0);
    assert_int_equal(c->daemon.log_level, LOG_DEBUG);
    cfg_free(c);
    c = NULL;
    n = snprintf(text, sizeof(text), "\n[service a]\nexec = a\nenv = X=%0500d\n", 0);
    assert_int_equal(write(fd, text, (size_t)n), n);
    close(fd);
    assert_int_equal(cfg_load(path, &c, &err), -EINVAL);
    unlink(path);
    assert_null(c);
    assert_int_equal(err.line, 5);
    assert_non_null(strstr(err.msg, "line too long"));
}

static void test_missing_file(void **state)
{
    struct cfg_error err;
    struct cfg *c = NULL;
    (void)state;
    assert_int_equal(cfg_load("/nonexistent/hmk.ini", &c, &err), -ENOENT);
    assert_int_equal(err.line, 0);
}

static void test_split(void **state)
{
    char **v = NULL;
    (void)state;

    assert_int_equal(cfg_split_argv("  a  'b c'd \"e\\\\f\" g\\ h '' ", &v), 0);
    assert_string_equal(v[0], "a");
    assert_string_equal(v[1], "b cd");
    assert_string_equal(v[2], "e\\f");
    assert_string_equal(v[3], "g h");
    assert_string_equal(v[4], "");
    assert_null(v[5]);
    cfg_strv_free(v);
    /* no expansion of any kind */
    assert_int_equal(cfg_split_argv("$HOME * ~ `x`", &v), 0);
    assert_string_equal(v[0], "$HOME");
    assert_string_equal(v[1], "*");
    assert_string_equal(v[2], "~");
    assert_string_equal(v[3], "`x`");
    cfg_strv_free(v);
    assert_int_equal(cfg_split_argv("   ", &v), -ENODATA);
    assert_int_equal(cfg_split_argv("a \"b", &v), -EINVAL);
    assert_int_equal(cfg_split_argv("a\\", &v), -EINVAL);
}

/* Decimals with units, exact: no binary fractions, no exponents or signs,
 * rounding to the nearest, range checked before anything overflows. */
static void test_scaled(void **state)
{
    static const char *const bad[] = { "", "1.", ".5", "1.s", "+1", "-1", " 1", "1 ", "1e3s", "0x10",
                                       "1,5s", "inf", "nan", "1.5x", "1.5.5s" };
    struct cfg_error err;
    struct cfg *c = NULL;
    uint64_t ms, ns;
    (void)state;

    assert_int_equal(cfg_parse_duration_ms("0.1s", &ms), 0);
    assert_int_equal(ms, 100);
    assert_int_equal(cfg_parse_duration_ms("1.0005s", &ms), 0); /* 1000.5 ms: half up */
    assert_int_equal(ms, 1001);
    assert_int_equal(cfg_parse_duration_ms("1.0004999999999s", &ms), 0); /* digits past 9 dropped */
    assert_int_equal(ms, 1000);
    assert_int_equal(cfg_parse_duration_ms("0.25min", &ms), 0);
    assert_int_equal(ms, 15000);
    assert_int_equal(cfg_parse_duration_ms("1000000000000ms", &ms), 0); /* the maximum */
    assert_int_equal(cfg_parse_duration_ms("1000000000000.4ms", &ms), 0);
    assert_int_equal(ms, 1000000000000ull);
    assert_int_equal(cfg_parse_duration_ms("1000000000000.5ms", &ms), -ERANGE);
    assert_int_equal(cfg_parse_duration_ms("18446744073709551616", &ms), -ERANGE);
    assert_int_equal(cfg_parse_duration_ms("99999999999999999999999999h", &ms), -ERANGE);
    assert_int_equal(cfg_parse_duration_ms("99999999999999999999999999x", &ms), -EINVAL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (cfg_parse_duration_ms(bad[i], &ms) != -EINVAL)
            fail_msg("duration '%s' accepted", bad[i]);

    assert_int_equal(sched_parse_ns("1.5ms", &ns), 0);
    assert_int_equal(ns, 1500000);
    assert_int_equal(sched_parse_ns("0.6ns", &ns), 0); /* rounds to 1 ns */
    assert_int_equal(ns, 1);
    assert_int_equal(sched_parse_ns("0.4ns", &ns), -ERANGE);
    assert_int_equal(sched_parse_ns("100s", &ns), 0);
    assert_int_equal(sched_parse_ns("100.000000001s", &ns), -ERANGE);
    assert_int_equal(sched_parse_ns("1", &ns), -EINVAL); /* a unit is required */

    assert_int_equal(cfg_load_string("[service a]\nexec = a\nbackoff-factor = 1.25\n", &c, &err), 0);
    assert_true(c->svc[0]->backoff_factor == 1.25);
    cfg_free(c);
    c = NULL;
    assert_int_equal(cfg_load_string("[service a]\nexec = a\nbackoff-factor = 100.000000001\n", &c, &err),
                     -EINVAL);
    assert_int_equal(cfg_load_string("[service a]\nexec = a\nbackoff-factor = 1e1\n", &c, &err), -EINVAL);
}

/* Name lists: blanks and commas both separate; a pin name may have all
 * of HAL's 47 characters. */
static void test_name_lists(void **state)
{
    static const char text[] = "[service a]\nexec = a\n"
                               "writes = ppppppppppppppppppppppppppppppppppppppppppppppp,q r\n"
                               "after = b,c\nafter = d\n"
                               "[service b]\nexec = b\n[service c]\nexec = c\n[service d]\nexec = d\n";
    struct cfg_error err;
    struct cfg *c = NULL;
    struct cfg_service *a;
    (void)state;

    assert_int_equal(cfg_load_string(text, &c, &err), 0);
    a = c->svc[c->n_svc - 1]; /* start order: its after= targets first */
    assert_string_equal(a->name, "a");
    assert_int_equal(strlen(a->writes[0]), 47);
    assert_string_equal(a->writes[2], "r");
    assert_null(a->writes[3]);
    assert_string_equal(a->after[2], "d");
    assert_null(a->after[3]);
    assert_int_equal(a->after_line[0], 4);
    assert_int_equal(a->after_line[2], 5);
    cfg_free(c);
}

static void test_values(void **state)
{
    uint64_t ms, sz;
    unsigned n;
    bool b;
    (void)state;

    assert_int_equal(cfg_parse_duration_ms("2", &ms), 0);
    assert_int_equal(ms, 2000);
    assert_int_equal(cfg_parse_duration_ms("1.5s", &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(cfg_parse_duration_ms("2min", &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(cfg_parse_duration_ms("1h", &ms), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(cfg_parse_duration_ms("0ms", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(cfg_parse_duration_ms("inf", &ms), -EINVAL);
    assert_int_equal(cfg_parse_duration_ms("1e400", &ms), -EINVAL);
    assert_int_equal(cfg_parse_duration_ms("99999999999h", &ms), -ERANGE);
    assert_int_equal(cfg_parse_crash_limit("3 in 60s", &n, &ms), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ms, 60000);
    assert_int_equal(cfg_parse_crash_limit("3  in 60s", &n, &ms), -EINVAL);
    assert_int_equal(cfg_parse_size("1K", &sz), 0);
    assert_int_equal(sz, 1024);
    assert_int_equal(cfg_parse_size("3G", &sz), 0);
    assert_int_equal(sz, 3ull << 30);
    assert_int_equal(cfg_parse_size("99999999999999T", &sz), -ERANGE);
    assert_int_equal(cfg_parse_bool("on", &b), 0);
    assert_true(b);
    assert_int_equal(cfg_parse_bool("nope", &b), -EINVAL);
}

static void test_sched(void **state)
{
    struct cfg_error err;
    struct cfg *c = NULL;
    char buf[64];
    (void)state;

    assert_int_equal(cfg_load_string("[daemon]\nrt-cpus = none\n"
                                     "[service f]\nexec = f\nsched = fifo:10\ncpu-affinity = 0\n"
                                     "limit-rttime = 200ms\n"
                                     "[service d]\nexec = d\nsched = deadline:500us/2.5ms/10ms\n"
                                     "[service o]\nexec = o\nsched = idle\n[service n]\nexec = n\n",
                                     &c, &err), 0);
    struct cfg_service *f = cfg_find(c, "f"), *d = cfg_find(c, "d");
    assert_int_equal(f->sched.cls, SCHED_CLASS_FIFO);
    assert_int_equal(f->sched.prio, 10);
    assert_int_equal(f->sched_line, 5);
    assert_int_equal(f->limit_rttime, 200000);
    assert_true(sched_is_realtime(&f->sched));
    assert_int_equal(d->sched.cls, SCHED_CLASS_DEADLINE);
    assert_int_equal(d->sched.runtime_ns, 500000);
    assert_int_equal(d->sched.deadline_ns, 2500000);
    assert_int_equal(d->sched.period_ns, 10000000);
    sched_format(&d->sched, buf, sizeof(buf));
    assert_string_equal(buf, "deadline:500us/2500us/10ms");
    assert_int_equal(cfg_find(c, "o")->sched.cls, SCHED_CLASS_IDLE);
    assert_false(sched_is_realtime(&cfg_find(c, "o")->sched));
    assert_int_equal(cfg_find(c, "n")->sched.cls, SCHED_CLASS_UNSET);
    assert_int_equal(cfg_find(c, "n")->limit_rttime, CFG_RLIM_UNSET);
    assert_false(c->daemon.has_rt_cpus);
    cfg_free(c);
}

static void test_equal(void **state)
{
    struct cfg_error err;
    struct cfg *a = NULL, *b = NULL;
    (void)state;

    assert_int_equal(cfg_load_string("[service a]\nexec = x y\nenv = A=1\n[service b]\nexec = x\n", &a, &err), 0);
    assert_int_equal(cfg_load_string("[service a]\nexec = x  y\nenv = A=1\n[service b]\nexec = x\nnice = 1\n",
                                     &b, &err), 0);
    assert_true(cfg_service_equal(cfg_find(a, "a"), cfg_find(b, "a")));
    assert_false(cfg_service_equal(cfg_find(a, "b"), cfg_find(b, "b")));
    cfg_free(a);
    cfg_free(b);
    /* a changed scheduling class restarts the service on reload */
    assert_int_equal(cfg_load_string("[service a]\nexec = x\nsched = fifo:10\n", &a, &err), 0);
    assert_int_equal(cfg_load_string("[service a]\nexec = x\nsched = fifo:11\n", &b, &err), 0);
    assert_false(cfg_service_equal(cfg_find(a, "a"), cfg_find(b, "a")));
    cfg_free(a);
    cfg_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),     cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_queues),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_nul_byte_in_file),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_file_too_big),
        cmocka_unit_test(test_file_edges), cmocka_unit_test(test_split),
        cmocka_unit_test(test_scaled),
        cmocka_unit_test(test_name_lists),
        cmocka_unit_test(test_values),     cmocka_unit_test(test_equal),
        cmocka_unit_test(test_sched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
