/*
 * spindle-hours - a maintenance counter: accumulates the time a bit pin is
 * true, publishes it in hours on a float out pin, and persists it
 * atomically (temp file, fsync, rename, fsync of the directory) every
 * --save-s seconds and at shutdown, so a crash, SIGKILL or power cut loses
 * at most the last interval. See spindle-hours(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "halmk_service.h"
#include "hmk_version.h"
#include "hours.h"

struct sh {
    const char *run, *total, *state;
    char dir[PATH_MAX], tmp[PATH_MAX];
    unsigned save_s;
    struct hours_acc acc;
    uint64_t saved_ms;      /* what the state file holds */
    uint64_t saved_at_ns;   /* when it was written */
    uint64_t seen_ns;       /* when we last saw the region alive */
    double published;       /* last value staged on the total pin */
    bool attached;
    char err[PATH_MAX + 128]; /* a handler's failure, printed once by main */
};

static uint64_t sh_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int sh_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The new total reaches the disk before its name does (fsync, then
 * rename, then fsync of the directory): after any crash the state file is
 * either the old one or the new one, whole. */
static int sh_save(struct sh *sh, uint64_t total_ms)
{
    char text[HOURS_STATE_MAX];
    int fd, dfd, ret, n = hours_state_format(total_ms, text, sizeof(text));

    if (n < 0)
        return n;
    fd = open(sh->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    ret = sh_write_all(fd, text, (size_t)n);
    if (ret == 0 && fsync(fd) < 0)
        ret = -errno;
    close(fd);
    if (ret == 0 && rename(sh->tmp, sh->state) < 0)
        ret = -errno;
    if (ret < 0)
        return ret;
    dfd = open(sh->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    if (fsync(dfd) < 0)
        ret = -errno;
    close(dfd);
    if (ret == 0) {
        sh->saved_ms = total_ms;
        sh->saved_at_ns = sh_now_ns();
    }
    return ret;
}

/* -ENOENT: no state yet; -EBADMSG: corrupt. */
static int sh_load(const char *path, uint64_t *total_ms)
{
    char buf[HOURS_STATE_MAX + 1];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n < 0)
        return -errno;
    return hours_state_parse(buf, (size_t)n, total_ms);
}

/* Milliseconds to the next tick: once a second for the pin, and exactly
 * when the next save is due (rounded up, so it is not a hair early). */
static int sh_tick_ms(uint64_t due, uint64_t now)
{
    uint64_t ms = due > now ? (due - now + 999999u) / 1000000u : 1;

    return ms < 1000 ? (int)ms : 1000;
}

/* After each change or tick: publish, save when due, and keep ticking
 * only while there is time to count or a total to save. */
static int sh_step(hmk_svc *s, struct sh *sh, uint64_t now)
{
    uint64_t total_ms = sh->acc.total_ns / 1000000u;
    uint64_t due = sh->saved_at_ns + sh->save_s * 1000000000ull;
    double h = hours_total_h(&sh->acc);
    int ret = 0;

    sh->seen_ns = now;
    if (h != sh->published && (ret = hmk_svc_set_float(s, 0, h)) < 0)
        return ret;
    sh->published = h;
    if (total_ms != sh->saved_ms && now >= due) {
        ret = sh_save(sh, total_ms);
        if (ret < 0)
            snprintf(sh->err, sizeof(sh->err), "%s: cannot save: %s", sh->state, strerror(-ret));
        due = sh->saved_at_ns + sh->save_s * 1000000000ull;
    }
    /* stopped and saved: no timer at all, an idle counter sleeps */
    hmk_svc_set_period(s, (sh->acc.running || total_ms != sh->saved_ms) ? sh_tick_ms(due, now) : 0);
    return ret;
}

static int sh_on_attach(hmk_svc *s, void *user)
{
    struct sh *sh = user;
    struct hmk_pin_info run, total;
    uint64_t now = sh_now_ns();

    hmk_svc_read_info(s, 0, &run);
    hmk_svc_write_info(s, 0, &total);
    if (run.type != HMK_TYPE_BIT || total.type != HMK_TYPE_FLOAT) {
        snprintf(sh->err, sizeof(sh->err), "pin '%s' is %s, want %s",
                 run.type != HMK_TYPE_BIT ? sh->run : sh->total,
                 hmk_type_name(run.type != HMK_TYPE_BIT ? run.type : total.type),
                 run.type != HMK_TYPE_BIT ? "bit" : "float");
        return -EINVAL;
    }
    /* re-attach: HAL was gone, so nothing ran since we last saw it */
    if (sh->attached)
        hours_skip(&sh->acc, sh->seen_ns, now);
    sh->attached = true;
    sh->published = NAN; /* a new region starts at 0: publish again */
    return 0;
}

static int sh_on_change(hmk_svc *s, unsigned slot, const hmk_value *v, uint64_t cycle,
                        void *user)
{
    struct sh *sh = user;
    uint64_t now = sh_now_ns();

    (void)slot;
    (void)cycle;
    hours_set_running(&sh->acc, v->b, now);
    return sh_step(s, sh, now);
}

static int sh_on_tick(hmk_svc *s, void *user)
{
    struct sh *sh = user;
    uint64_t now = sh_now_ns();
    int ret;

    hours_update(&sh->acc, now);
    ret = sh_step(s, sh, now);
    return ret < 0 ? ret : hmk_svc_commit(s);
}

static void sh_on_stop(hmk_svc *s, void *user)
{
    struct sh *sh = user;

    sh->save_s = 0; /* save now, whatever the interval */
    if (sh_on_tick(s, user) < 0)
        fprintf(stderr, "spindle-hours: %s\n", sh->err);
}

static void sh_usage(FILE *f)
{
    fprintf(f, "Usage: spindle-hours --run PIN --total PIN [--state FILE] [--save-s N]\n"
               "Count the hours a bit pin is true; publish them on a float out pin.\n"
               "  -r, --run PIN      bit pin HAL feeds, true while the spindle runs\n"
               "  -t, --total PIN    float out pin for the total in hours\n"
               "  -f, --state FILE   persisted total\n"
               "                     (default /var/lib/hal-microkernel/spindle-hours.state)\n"
               "  -s, --save-s N     save every N seconds while counting (1..86400, default 10)\n");
}

static int sh_args(int argc, char **argv, struct sh *sh)
{
    static const struct option opts[] = {
        { "run", required_argument, NULL, 'r' },   { "total", required_argument, NULL, 't' },
        { "state", required_argument, NULL, 'f' }, { "save-s", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    char *end;
    long n;
    int c;

    while ((c = getopt_long(argc, argv, ":r:t:f:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': sh->run = optarg; break;
        case 't': sh->total = optarg; break;
        case 'f': sh->state = optarg; break;
        case 's':
            errno = 0;
            n = strtol(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end || errno || n < 1 || n > 86400) {
                fprintf(stderr, "spindle-hours: --save-s: '%s' is not a number from 1 to 86400\n",
                        optarg);
                return -EINVAL;
            }
            sh->save_s = (unsigned)n;
            break;
        case 'h': sh_usage(stdout); exit(0);
        case 'V': puts("spindle-hours " HMK_VERSION); exit(0);
        case ':':
            fprintf(stderr, "spindle-hours: option '%s' needs a value\n", argv[optind - 1]);
            return -EINVAL;
        default:
            fprintf(stderr, "spindle-hours: unknown option '%s' (see spindle-hours --help)\n",
                    argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc || !sh->run || !sh->total) {
        fprintf(stderr, optind < argc ? "spindle-hours: unexpected argument '%s'\n"
                                      : "spindle-hours: --run PIN and --total PIN are required%s\n",
                optind < argc ? argv[optind] : "");
        return -EINVAL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sh sh = { .state = "/var/lib/hal-microkernel/spindle-hours.state", .save_s = 10 };
    const char *reads[2] = { NULL }, *writes[2] = { NULL };
    struct hmk_svc_def def = { .name = "spindle-hours", .reads = reads, .writes = writes,
                               .on_attach = sh_on_attach, .on_change = sh_on_change,
                               .on_tick = sh_on_tick, .on_stop = sh_on_stop, .user = &sh };
    char err[256] = "", copy[PATH_MAX];
    uint64_t total_ms = 0;
    int ret;

    if (sh_args(argc, argv, &sh) < 0)
        return 2;
    reads[0] = sh.run;
    writes[0] = sh.total;
    snprintf(copy, sizeof(copy), "%s", sh.state);
    snprintf(sh.dir, sizeof(sh.dir), "%s", dirname(copy));
    snprintf(sh.tmp, sizeof(sh.tmp), "%s.tmp", sh.state);
    ret = sh_load(sh.state, &total_ms);
    if (ret == -EBADMSG) {
        fprintf(stderr, "spindle-hours: %s: corrupt state file, refusing to reset the counter "
                        "(repair or remove it by hand)\n", sh.state);
        return 1;
    }
    if (ret == -ENOENT)
        fprintf(stderr, "spindle-hours: %s: no state yet, counting from 0 h\n", sh.state);
    else if (ret < 0) {
        fprintf(stderr, "spindle-hours: %s: %s\n", sh.state, strerror(-ret));
        return 1;
    }
    hours_init(&sh.acc, total_ms * 1000000u, sh_now_ns());
    sh.saved_ms = total_ms;
    sh.saved_at_ns = sh_now_ns();
    ret = hmk_svc_run(&def, err, sizeof(err));
    if (ret < 0)
        fprintf(stderr, "spindle-hours: %s\n", sh.err[0] ? sh.err : err);
    return ret < 0 ? 1 : 0;
}
