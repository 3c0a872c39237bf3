/*
 * filefeed - what no realtime component may do: wait on a file or FIFO,
 * sleep on purpose (--delay-ms) before each read, and feed each number read
 * to an out pin. HAL's thread never waits for it. See filefeed(1).
 *
 * A FIFO is a feed: one value per line, reopened at EOF so the next writer
 * continues it. A regular file is a value file (a sensor's in /sys, say):
 * its first line is sampled, from a fresh open, every --delay-ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "halmk_service.h"
#include "hmk_version.h"

struct ff {
    const char *from, *to;
    long delay_ms;
    bool make_fifo;
    int fd;
    bool regular;            /* a value file, not a feed */
    unsigned long line;      /* FIFO: lines since start */
    char buf[256];           /* the line; no number is longer */
    bool overlong;           /* the line did not fit */
    enum hmk_type type;
    hmk_value last;          /* republished after a re-attach */
    bool have_last;
    struct timespec mtime;   /* of the regular file's last version read */
    off_t size;
    bool quiet;              /* re-reading that same version: warned already */
    char err[PATH_MAX + 64]; /* a handler's failure, printed once by main */
};

/* Blocking waits must end on SIGTERM without a race: while a tick runs,
 * the signals are blocked except inside ppoll, and our handler (chained to
 * the framework's) records that one came. */
static volatile sig_atomic_t ff_stopping;
static struct sigaction ff_prev;
static sigset_t ff_block, ff_waitmask;
static bool ff_hooked;

static void ff_on_signal(int sig)
{
    ff_stopping = 1;
    if (ff_prev.sa_handler != SIG_DFL && ff_prev.sa_handler != SIG_IGN)
        ff_prev.sa_handler(sig);
}

static void ff_hook_signals(void)
{
    struct sigaction sa = { .sa_handler = ff_on_signal };

    ff_hooked = true;
    sigaction(SIGTERM, &sa, &ff_prev);
    sigaction(SIGINT, &sa, NULL);
    sigemptyset(&ff_block);
    sigaddset(&ff_block, SIGTERM);
    sigaddset(&ff_block, SIGINT);
}

/* ppoll that a stop request ends: -EINTR then. */
static int ff_wait(struct pollfd *p, nfds_t n, long ms)
{
    struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };
    int ret;

    if (ff_stopping)
        return -EINTR;
    ret = ppoll(p, n, ms < 0 ? NULL : &ts, &ff_waitmask);
    if (ret < 0)
        return -errno;
    return ff_stopping ? -EINTR : ret;
}

static int ff_open(struct ff *ff)
{
    struct stat st;

    /* O_NONBLOCK: opening a FIFO must not block outside ppoll; Linux does
     * not report a hang-up before the first writer came */
    ff->fd = open(ff->from, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (ff->fd < 0)
        return -errno;
    if (fstat(ff->fd, &st) < 0) {
        int ret = -errno;
        close(ff->fd);
        ff->fd = -1;
        return ret;
    }
    ff->regular = S_ISREG(st.st_mode);
    if (ff->regular)
        ff->line = 0;
    /* a value file is sampled again and again: warn once per version */
    ff->quiet = ff->regular && st.st_size == ff->size &&
                st.st_mtim.tv_sec == ff->mtime.tv_sec && st.st_mtim.tv_nsec == ff->mtime.tv_nsec;
    ff->mtime = st.st_mtim;
    ff->size = st.st_size;
    return 0;
}

/* Next line into ff->buf (NUL-terminated, newline removed): 1, or 0 at
 * EOF (the file is closed then), or -errno. One byte per read(): nothing
 * past the current line leaves the pipe, so a SIGKILL loses at most the
 * line being read; the rest stays in the FIFO for the next filefeed. */
static int ff_getline(struct ff *ff)
{
    size_t len = 0;
    char c;

    for (;;) {
        struct pollfd p = { .fd = ff->fd, .events = POLLIN };
        ssize_t n;
        int ret;

        /* wait first: a FIFO with no writer yet reads as EOF, but polls
         * as not ready until one comes */
        if ((ret = ff_wait(&p, 1, -1)) < 0)
            return ret;
        n = read(ff->fd, &c, 1);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0)
            return -errno;
        if (n == 0) {
            close(ff->fd);
            ff->fd = -1;
            if (len == 0)
                return 0;
            c = '\n'; /* a last line without newline counts */
        }
        if (c == '\n') {
            ff->buf[len < sizeof(ff->buf) ? len : sizeof(ff->buf) - 1] = '\0';
            ff->overlong = len >= sizeof(ff->buf);
            return 1;
        }
        if (len < sizeof(ff->buf))
            ff->buf[len] = c;
        len++;
    }
}

static void ff_warn(struct ff *ff, int err)
{
    const char *type = hmk_type_name(ff->type);

    if (ff->quiet)
        return;
    fprintf(stderr, "filefeed: %s:%lu: %s%s '%.40s%s', not written\n", ff->from, ff->line,
            err == -E2BIG ? "line too long" : err == -ERANGE ? "out of range for " : "not a ",
            err == -E2BIG ? "" : type, ff->buf, strlen(ff->buf) > 40 ? "..." : "");
}

/* One line per tick: sleep, wait for a line, parse, write. */
static int ff_tick(hmk_svc *s, void *user)
{
    struct ff *ff = user;
    hmk_value v;
    int ret = ff_wait(NULL, 0, ff->delay_ms);

    if (ret == -EINTR)
        return 0; /* the framework sees the signal and stops */
    if (ff->fd < 0 && (ret = ff_open(ff)) < 0) {
        snprintf(ff->err, sizeof(ff->err), "%s: %s", ff->from, strerror(-ret));
        return ret;
    }
    ret = ff_getline(ff);
    if (ret == -EINTR)
        return 0;
    if (ret < 0)
        snprintf(ff->err, sizeof(ff->err), "%s: %s", ff->from, strerror(-ret));
    if (ret <= 0)
        return ret;
    if (ff->regular && ff->fd >= 0) {
        close(ff->fd); /* one sample per open: a rewrite cannot tear it */
        ff->fd = -1;
    }
    ff->line++;
    ret = ff->overlong ? -E2BIG : hmk_value_parse(ff->type, ff->buf, &v);
    if (ret < 0) {
        ff_warn(ff, ret);
        return 0;
    }
    ff->last = v;
    ff->have_last = true;
    ret = hmk_svc_set(s, 0, &v);
    /* -ESTALE: HAL went away; on_attach writes the value to the new region */
    return ret < 0 ? ret : hmk_svc_commit(s);
}

static int ff_on_tick(hmk_svc *s, void *user)
{
    sigset_t old;
    int ret;

    sigprocmask(SIG_BLOCK, &ff_block, &old);
    ff_waitmask = old;
    ret = ff_tick(s, user);
    sigprocmask(SIG_SETMASK, &old, NULL); /* a pending stop is handled here */
    return ret;
}

static int ff_on_attach(hmk_svc *s, void *user)
{
    struct ff *ff = user;
    struct hmk_pin_info info;

    hmk_svc_write_info(s, 0, &info);
    ff->type = info.type;
    if (!ff_hooked)
        ff_hook_signals(); /* after the framework installed its handler */
    if (ff->have_last && ff->last.type == ff->type)
        return hmk_svc_set(s, 0, &ff->last);
    return 0;
}

static void ff_usage(FILE *f)
{
    fprintf(f, "Usage: filefeed --from PATH --to PIN [--delay-ms N] [--mkfifo]\n"
               "Read numbers, one per line, from a file or FIFO and write each to an out pin.\n"
               "  -f, --from PATH     file or FIFO to read (a FIFO is reopened at EOF)\n"
               "  -t, --to PIN        out pin to write (bit, float, s32 or u32)\n"
               "  -d, --delay-ms N    sleep N ms before each read (0..3600000, default 0)\n"
               "  -m, --mkfifo        create PATH as a FIFO if it does not exist\n");
}

static int ff_args(int argc, char **argv, struct ff *ff)
{
    static const struct option opts[] = {
        { "from", required_argument, NULL, 'f' },     { "to", required_argument, NULL, 't' },
        { "delay-ms", required_argument, NULL, 'd' }, { "mkfifo", no_argument, NULL, 'm' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    char *end;
    int c;

    while ((c = getopt_long(argc, argv, ":f:t:d:mh", opts, NULL)) != -1) {
        switch (c) {
        case 'f': ff->from = optarg; break;
        case 't': ff->to = optarg; break;
        case 'm': ff->make_fifo = true; break;
        case 'd':
            errno = 0;
            ff->delay_ms = strtol(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end || errno || ff->delay_ms > 3600000) {
                fprintf(stderr, "filefeed: --delay-ms: '%s' is not a number from 0 to 3600000\n",
                        optarg);
                return -EINVAL;
            }
            break;
        case 'h': ff_usage(stdout); exit(0);
        case 'V': puts("filefeed " HMK_VERSION); exit(0);
        case ':':
            fprintf(stderr, "filefeed: option '%s' needs a value\n", argv[optind - 1]);
            return -EINVAL;
        default:
            fprintf(stderr, "filefeed: unknown option '%s' (see filefeed --help)\n",
                    argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc || !ff->from || !ff->to) {
        fprintf(stderr, optind < argc ? "filefeed: unexpected argument '%s'\n"
                                      : "filefeed: --from PATH and --to PIN are required%s\n",
                optind < argc ? argv[optind] : "");
        return -EINVAL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct ff ff = { .fd = -1 };
    const char *writes[2] = { NULL };
    struct hmk_svc_def def = { .name = "filefeed", .writes = writes, .on_attach = ff_on_attach,
                               .on_tick = ff_on_tick, .period_ms = 1, .user = &ff };
    char err[256] = "";
    int ret;

    if (ff_args(argc, argv, &ff) < 0)
        return 2;
    writes[0] = ff.to;
    if (ff.make_fifo && mkfifo(ff.from, 0660) < 0 && errno != EEXIST) {
        fprintf(stderr, "filefeed: %s: cannot create FIFO: %s\n", ff.from, strerror(errno));
        return 1;
    }
    if (access(ff.from, R_OK) < 0) {
        fprintf(stderr, "filefeed: %s: %s\n", ff.from, strerror(errno));
        return 1;
    }
    ret = hmk_svc_run(&def, err, sizeof(err));
    if (ret < 0)
        fprintf(stderr, "filefeed: %s\n", ff.err[0] ? ff.err : err);
    return ret < 0 ? 1 : 0;
}
