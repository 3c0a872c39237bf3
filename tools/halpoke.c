/*
 * halpoke - read, write, pulse, list and watch hal-microkernel pins from a
 * shell (every form takes -r REGION; --watch also -n N and -t SEC).
 *
 *   halpoke PIN                 print the pin's value (what HAL feeds in;
 *                               an out pin's last written value)
 *   halpoke PIN VALUE [PIN VALUE]...   write out values, one transaction
 *   halpoke --pulse PIN VALUE [PIN VALUE]...   one-cycle pulses, in order
 *   halpoke --list              every pin with type, direction, in and out
 *   halpoke --watch [PIN]...    print changes until interrupted
 *
 * Every argument is checked before anything is written: a bad pin or value
 * gets one line on stderr naming it, exit status 1, and the region is left
 * as it was. Usage errors exit 2.
 */
#include "halmk.h"
#include "halmk_tool.h"
#include "hmk_version.h"
#include "halmk_service.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VALUE_LEN 40

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* How long the next wait may last: at most WATCH_SLICE_MS, so a signal
 * that lands between two waits (no EINTR then) stops us that soon; 0 once
 * the -t deadline (ms since the epoch of mono_ms; 0: none) has passed. */
#define WATCH_SLICE_MS 200

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int watch_slice(int64_t deadline)
{
    int64_t left = deadline ? deadline - mono_ms() : WATCH_SLICE_MS;

    if (left <= 0)
        return 0;
    return left < WATCH_SLICE_MS ? (int)left : WATCH_SLICE_MS;
}

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: halpoke [-r REGION] PIN                 print a pin's value\n"
        "       halpoke [-r REGION] PIN VALUE [PIN VALUE]...\n"
        "                                               write values (one transaction)\n"
        "       halpoke [-r REGION] --pulse PIN VALUE [PIN VALUE]...\n"
        "                                               one-cycle pulses, queued in order\n"
        "       halpoke [-r REGION] --list              list every pin\n"
        "       halpoke [-r REGION] --watch [-n N] [-t SEC] [PIN]...\n"
        "                                               print changes until interrupted\n"
        "PIN is an index (1), a region name (pin.1, spindle.speed) or a HAL name\n"
        "(microkernel.pin.1.out). VALUE: bit true/false/1/0; s32/u32 decimal or\n"
        "0x hex integers; float a finite decimal number. REGION defaults to $HAL_MICROKERNEL_REGION or\n"
        "hal-microkernel. See halpoke(1).\n");
}

static int find_pin(hmk_region *r, const char *arg, struct hmk_pin_info *info)
{
    int i = hmk_pin_find(r, arg);

    if (i < 0) {
        fprintf(stderr, "halpoke: pin '%s': no such pin in region '%s' (see halpoke --list)\n",
                arg, hmk_region_name(r));
        return -1;
    }
    hmk_pin_info(r, (unsigned)i, info);
    return i;
}

static int print_value(const hmk_value *v)
{
    char buf[VALUE_LEN];

    hmk_value_format(v, buf, sizeof(buf));
    return printf("%s\n", buf) < 0 ? 1 : 0;
}

static int cmd_get(hmk_region *r, const char *arg)
{
    struct hmk_pin_info info;
    hmk_value v;
    int i = find_pin(r, arg, &info), ret;

    if (i < 0)
        return 1;
    ret = hmk_read(r, (unsigned)i, &v);
    if (ret < 0) {
        fprintf(stderr, "halpoke: pin '%s': %s\n", arg, hmk_strerror(ret));
        return 1;
    }
    return print_value(&v);
}

static const char *value_error(int err)
{
    return err == -ERANGE ? "out of range for" : "is not a valid";
}

/* what a write staged, for wait_applied */
struct staged {
    unsigned n;
    unsigned idx[64];
    hmk_value v[64];
};

static bool same(const hmk_value *a, const hmk_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case HMK_TYPE_BIT:   return a->b == b->b;
    case HMK_TYPE_FLOAT: return a->f == b->f;
    case HMK_TYPE_S32:   return a->s == b->s;
    default:             return a->u == b->u;
    }
}

/* Returns once HAL has the values: the region's out values (what the
 * bridge applied) show every one of them, or the bridge has run three
 * cycles since (another writer's value won), or its thread is stopped
 * (100 ms without a cycle: the values are applied when it starts). A
 * script's next halcmd getp, or halpoke PIN, then sees them. */
static void wait_applied(hmk_region *r, const struct staged *st)
{
    const struct timespec tick = { 0, 1000000L };
    uint64_t c0 = hmk_cycle(r), last = c0;
    unsigned idle = 0;

    for (;;) {
        hmk_value got[64];
        unsigned k = 0;
        uint64_t c;

        if (hmk_read_outs(r, st->idx, st->n, got) < 0)
            return;
        while (k < st->n && same(&got[k], &st->v[k]))
            k++;
        if (k == st->n)
            return;
        c = hmk_cycle(r);
        if (c >= c0 + 3)
            return;
        if (c != last) {
            last = c;
            idle = 0;
        } else if (++idle > 100) {
            return;
        }
        nanosleep(&tick, NULL);
    }
}

static int stage_one(hmk_region *r, hmk_txn *t, const char *pin, const char *text,
                     struct staged *st)
{
    struct hmk_pin_info info;
    hmk_value v;
    int i = find_pin(r, pin, &info), ret;

    if (i < 0)
        return -1;
    if (info.dir == HMK_DIR_IN) {
        fprintf(stderr, "halpoke: pin '%s' is an input (HAL feeds it); it cannot be written\n",
                pin);
        return -1;
    }
    ret = hmk_value_parse(info.type, text, &v);
    if (ret < 0) {
        fprintf(stderr, "halpoke: pin '%s': '%s' %s %s\n", pin, text, value_error(ret),
                hmk_type_name(info.type));
        return -1;
    }
    ret = hmk_txn_set(t, (unsigned)i, &v);
    if (ret < 0) {
        fprintf(stderr, "halpoke: pin '%s': %s\n", pin, hmk_strerror(ret));
        return -1;
    }
    if (st->n < 64) {
        st->idx[st->n] = (unsigned)i;
        st->v[st->n++] = v;
    }
    return 0;
}

static int cmd_set(hmk_region *r, int argc, char **argv)
{
    struct staged st;
    hmk_txn *t = NULL;
    int ret, rc = 1;

    if (argc % 2) {
        fprintf(stderr, "halpoke: pin '%s' has no value\n", argv[argc - 1]);
        return 2;
    }
    ret = hmk_txn_new(r, &t);
    if (ret < 0) {
        fprintf(stderr, "halpoke: %s\n", hmk_strerror(ret));
        return 1;
    }
    memset(&st, 0, sizeof(st));
    for (int k = 0; k < argc; k += 2)
        if (stage_one(r, t, argv[k], argv[k + 1], &st) < 0)
            goto out;
    ret = hmk_txn_commit(t);
    if (ret < 0) {
        fprintf(stderr, "halpoke: region '%s': %s\n", hmk_region_name(r), hmk_strerror(ret));
        goto out;
    }
    wait_applied(r, &st);
    rc = 0;
out:
    hmk_txn_free(t);
    return rc;
}

/* --pulse PIN VALUE...: every pair checked first, then queued in order. */
static int cmd_pulse(hmk_region *r, int argc, char **argv)
{
    hmk_value v[64];
    int idx[64], ret;

    if (argc == 0 || argc % 2 || argc / 2 > 64) {
        fprintf(stderr, "halpoke: --pulse takes PIN VALUE pairs (at most 64)\n");
        return 2;
    }
    for (int k = 0; k < argc; k += 2) {
        struct hmk_pin_info info;
        int i = find_pin(r, argv[k], &info);
        if (i < 0)
            return 1;
        if (info.dir == HMK_DIR_IN || (info.dir == HMK_DIR_IO && !info.slot)) {
            fprintf(stderr, "halpoke: pin '%s': pulses drive out pins and slots only\n", argv[k]);
            return 1;
        }
        ret = hmk_value_parse(info.type, argv[k + 1], &v[k / 2]);
        if (ret < 0) {
            fprintf(stderr, "halpoke: pin '%s': '%s' %s %s\n", argv[k], argv[k + 1],
                    value_error(ret), hmk_type_name(info.type));
            return 1;
        }
        idx[k / 2] = i;
    }
    for (int k = 0; k < argc / 2; k++) {
        ret = hmk_pulse(r, (unsigned)idx[k], &v[k]);
        if (ret < 0) {
            fprintf(stderr, "halpoke: pulse on '%s': %s\n", argv[2 * k],
                    ret == -EAGAIN ? "command queue full, try again" : hmk_strerror(ret));
            return 1;
        }
    }
    return 0;
}

static void format_side(hmk_region *r, unsigned i, int in, char *buf)
{
    hmk_value v;
    int ret = in ? hmk_read_in(r, i, &v) : hmk_read_out(r, i, &v);

    if (ret == -EPERM)
        snprintf(buf, VALUE_LEN, "-");
    else if (ret < 0)
        snprintf(buf, VALUE_LEN, "?");
    else
        hmk_value_format(&v, buf, VALUE_LEN);
}

static int cmd_list(hmk_region *r)
{
    struct hmk_stats st;
    unsigned n = hmk_pin_count(r);

    hmk_stats(r, &st);
    printf("Region %s: %u pins, generation %llu, cycle %llu\n", hmk_region_name(r), n,
           (unsigned long long)st.generation, (unsigned long long)st.cycle);
    printf("Bridge: %llu ns last cycle, %llu ns max; retries %llu, misses %llu; "
           "commits %llu, writer recoveries %llu\n",
           (unsigned long long)st.exec_ns_last, (unsigned long long)st.exec_ns_max,
           (unsigned long long)st.torn_retries, (unsigned long long)st.latch_misses,
           (unsigned long long)st.out_commits, (unsigned long long)st.writer_recoveries);
    printf("%5s  %-5s  %-3s  %-24s  %16s  %16s\n", "Index", "Type", "Dir", "Name", "In", "Out");
    for (unsigned i = 0; i < n; i++) {
        struct hmk_pin_info info;
        char in[VALUE_LEN], out[VALUE_LEN];

        hmk_pin_info(r, i, &info);
        format_side(r, i, 1, in);
        format_side(r, i, 0, out);
        printf("%5u  %-5s  %-3s  %-24s  %16s  %16s\n", i, hmk_type_name(info.type),
               hmk_dir_name(info.dir), info.name, in, out);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

struct watch {
    unsigned n;
    int idx[1024];
    char last[1024][VALUE_LEN];
};

/* Prints the pins whose text changed; returns how many lines it printed. */
static long watch_scan(hmk_region *r, struct watch *w, int first)
{
    struct hmk_stats st;
    long lines = 0;

    hmk_stats(r, &st);
    for (unsigned k = 0; k < w->n; k++) {
        struct hmk_pin_info info;
        char now[VALUE_LEN];
        hmk_value v;

        if (hmk_read(r, (unsigned)w->idx[k], &v) < 0)
            continue;
        hmk_value_format(&v, now, sizeof(now));
        if (!first && strcmp(now, w->last[k]) == 0)
            continue;
        hmk_pin_info(r, (unsigned)w->idx[k], &info);
        printf("%llu %s %s\n", (unsigned long long)st.cycle, info.name, now);
        memcpy(w->last[k], now, sizeof(now));
        lines++;
    }
    fflush(stdout);
    return lines;
}

static bool watch_all_in(hmk_region *r, const struct watch *w)
{
    for (unsigned k = 0; k < w->n; k++) {
        struct hmk_pin_info info;
        hmk_pin_info(r, (unsigned)w->idx[k], &info);
        if (info.dir == HMK_DIR_OUT)
            return false;
    }
    return true;
}

/* Every change, from the bridge's change stream; a reader that fell behind
 * says exactly how many changes it missed. */
static int watch_stream(hmk_region *r, struct watch *w, long lines, long max_lines, int timeout_s)
{
    static bool wanted[1024];
    struct hmk_event ev[64];
    uint64_t lost = 0, reported = 0;
    hmk_stream *s;
    int ret = hmk_stream_open(r, &s);

    if (ret < 0) {
        fprintf(stderr, "halpoke: region '%s': change stream: %s\n", hmk_region_name(r),
                hmk_strerror(ret));
        return 1;
    }
    for (unsigned k = 0; k < w->n; k++)
        wanted[w->idx[k]] = true;
    int64_t deadline = timeout_s > 0 ? mono_ms() + timeout_s * 1000 : 0;

    while (!stop_requested && (max_lines <= 0 || lines < max_lines)) {
        int slice = watch_slice(deadline);
        int n = slice ? hmk_stream_read(s, ev, 64, slice, &lost) : -ETIMEDOUT;
        if (n == -EINTR || (n == -ETIMEDOUT && slice))
            continue;
        if (n == -ETIMEDOUT)
            break;
        if (n < 0) {
            fprintf(stderr, "halpoke: region '%s': %s\n", hmk_region_name(r), hmk_strerror(n));
            hmk_stream_close(s);
            return 1;
        }
        if (lost != reported) {
            fprintf(stderr, "halpoke: %llu changes lost (fell behind the bridge's stream)\n",
                    (unsigned long long)(lost - reported));
            reported = lost;
        }
        for (int k = 0; k < n && (max_lines <= 0 || lines < max_lines); k++) {
            struct hmk_pin_info info;
            char text[VALUE_LEN];

            if (!wanted[ev[k].pin])
                continue;
            hmk_pin_info(r, ev[k].pin, &info);
            hmk_value_format(&ev[k].value, text, sizeof(text));
            printf("%llu %s %s\n", (unsigned long long)ev[k].cycle, info.name, text);
            lines++;
        }
        fflush(stdout);
    }
    hmk_stream_close(s);
    return 0;
}

static int cmd_watch(hmk_region *r, int argc, char **argv, long max_lines, int timeout_s)
{
    static struct watch w;
    struct hmk_pin_info info;
    uint32_t seq = hmk_change_seq(r);
    long lines;

    w.n = 0;
    for (int k = 0; k < argc; k++) {
        int i = find_pin(r, argv[k], &info);
        if (i < 0)
            return 1;
        w.idx[w.n++] = i;
    }
    if (argc == 0)
        for (unsigned i = 0; i < hmk_pin_count(r); i++)
            w.idx[w.n++] = (int)i;
    lines = watch_scan(r, &w, 1);
    if (watch_all_in(r, &w))
        return watch_stream(r, &w, lines, max_lines, timeout_s);
    /* out-only pins are not in the change stream: compare on each wake */
    int64_t deadline = timeout_s > 0 ? mono_ms() + timeout_s * 1000 : 0;

    while (!stop_requested && (max_lines <= 0 || lines < max_lines)) {
        int slice = watch_slice(deadline);
        int ret = slice ? hmk_wait_change(r, &seq, slice) : -ETIMEDOUT;
        if (ret == -EINTR || (ret == -ETIMEDOUT && slice))
            continue;
        if (ret == -ETIMEDOUT)
            return 0;
        if (ret < 0) {
            fprintf(stderr, "halpoke: region '%s': %s\n", hmk_region_name(r), hmk_strerror(ret));
            return 1;
        }
        lines += watch_scan(r, &w, 0);
    }
    return 0;
}

static long parse_long_opt(const char *opt, const char *s, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 1 || v > max) {
        fprintf(stderr, "halpoke: %s '%s': must be a whole number from 1 to %ld\n", opt, s, max);
        return -1;
    }
    return v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "region", required_argument, NULL, 'r' }, { "list", no_argument, NULL, 'l' },
        { "watch", no_argument, NULL, 'w' },        { "count", required_argument, NULL, 'n' },
        { "timeout", required_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
        { "pulse", no_argument, NULL, 'p' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *region = NULL;
    int list = 0, watch = 0, pulse = 0, c, ret, rc;
    long count = 0, timeout = 0;
    struct sigaction sa;
    hmk_region *r = NULL;

    /* '-' first: negative values such as "-5" stay operands, not options */
    while ((c = getopt_long(argc, argv, "+r:lwpn:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': region = optarg; break;
        case 'l': list = 1; break;
        case 'w': watch = 1; break;
        case 'p': pulse = 1; break;
        case 'n': if ((count = parse_long_opt("--count", optarg, 1000000000L)) < 0) return 2; break;
        case 't': if ((timeout = parse_long_opt("--timeout", optarg, 86400L)) < 0) return 2; break;
        case 'h': usage(stdout); return 0;
        case 'V': puts("halpoke " HMK_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    argc -= optind;
    argv += optind;
    if ((list && (watch || pulse || argc)) || (watch && pulse) ||
        (!list && !watch && argc == 0)) {
        usage(stderr);
        return 2;
    }
    ret = hmk_open(region, (list || watch || (argc == 1 && !pulse)) ? HMK_OPEN_RDONLY : 0, &r);
    if (ret < 0) {
        fprintf(stderr, "halpoke: region '%s': %s\n",
                region ? region : (getenv("HAL_MICROKERNEL_REGION") ? getenv("HAL_MICROKERNEL_REGION")
                                                                    : "hal-microkernel"),
                ret == -EINVAL ? "not a valid region name" : hmk_strerror(ret));
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: the futex wait must return */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (pulse)
        rc = cmd_pulse(r, argc, argv);
    else if (list)
        rc = cmd_list(r);
    else if (watch)
        rc = cmd_watch(r, argc, argv, count, (int)timeout);
    else if (argc == 1)
        rc = cmd_get(r, argv[0]);
    else
        rc = cmd_set(r, argc, argv);
    hmk_close(r);
    return rc;
}
