/*
 * pinlog - record pin changes as JSON lines, rotated by size, durably.
 *
 * Durability: every line reaches the file in one write() of the whole line
 * (O_APPEND), so a crash or SIGKILL can only lose the line being written;
 * fdatasync runs at most --sync-ms after a line (and at shutdown), which
 * bounds what a power cut can lose. A torn last line (power cut, full
 * disk) is cut off when pinlog opens the file again, so the file stays
 * valid JSON lines. See pinlog(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "halmk_service.h"
#include "hmk_version.h"
#include "pinlog_line.h"

#define PINLOG_TAIL 4096 /* > PLOG_LINE_MAX: a torn line always ends in it */

struct pinlog {
    const char *path;
    char dir[PATH_MAX];
    uint64_t max_bytes;
    unsigned keep;
    int sync_ms;
    const char **pins;      /* NULL-terminated, as hmk_svc_def.reads */
    bool own_pins;          /* allocated by pinlog_all_pins */
    int fd;
    uint64_t size;
    int64_t synced_ms;      /* when the last fdatasync ran */
    bool dirty;             /* written since then */
    char err[PATH_MAX + 64]; /* a handler's failure, printed once by main */
};

/* Tick only while a line waits for its fdatasync, so an idle pinlog
 * sleeps in the kernel with no timer at all. */
static void pinlog_want_tick(hmk_svc *s, struct pinlog *pl)
{
    hmk_svc_set_period(s, pl->dirty ? pl->sync_ms : 0);
}

static int64_t pinlog_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pinlog_sync_dir(const struct pinlog *pl)
{
    int fd = open(pl->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        ret = -errno;
    close(fd);
    return ret;
}

/* Cuts a torn last line off (see plog_tail_keep). */
static int pinlog_repair(struct pinlog *pl)
{
    char tail[PINLOG_TAIL];
    size_t n = pl->size < sizeof(tail) ? (size_t)pl->size : sizeof(tail);
    int64_t keep;

    if (n && pread(pl->fd, tail, n, (off_t)(pl->size - n)) != (ssize_t)n)
        return -EIO;
    keep = plog_tail_keep(tail, n, pl->size);
    if (keep < 0)
        return (int)keep;
    if ((uint64_t)keep == pl->size)
        return 0;
    if (ftruncate(pl->fd, keep) < 0 || fdatasync(pl->fd) < 0)
        return -errno;
    fprintf(stderr, "pinlog: %s: removed a torn last line (%" PRIu64 " bytes)\n", pl->path,
            pl->size - (uint64_t)keep);
    pl->size = (uint64_t)keep;
    return 0;
}

static int pinlog_open(struct pinlog *pl)
{
    struct stat st;
    int ret;

    pl->fd = open(pl->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (pl->fd < 0)
        return -errno;
    if (fstat(pl->fd, &st) < 0)
        return -errno;
    pl->size = (uint64_t)st.st_size;
    ret = pinlog_repair(pl);
    if (ret < 0)
        return ret;
    /* a file just created must survive a power cut by name, too */
    return pinlog_sync_dir(pl);
}

static int pinlog_sync(struct pinlog *pl)
{
    if (pl->dirty && fdatasync(pl->fd) < 0)
        return -errno;
    pl->dirty = false;
    pl->synced_ms = pinlog_now_ms();
    return 0;
}

/* FILE.keep-1 -> FILE.keep ... FILE -> FILE.1, then a fresh FILE. */
static int pinlog_rotate(struct pinlog *pl)
{
    char from[PATH_MAX], to[PATH_MAX];
    int ret = pinlog_sync(pl);

    if (ret < 0)
        return ret;
    close(pl->fd);
    pl->fd = -1;
    for (unsigned i = pl->keep; i > 0; i--) {
        if (plog_rot_name(from, sizeof(from), pl->path, i - 1) < 0 ||
            plog_rot_name(to, sizeof(to), pl->path, i) < 0)
            return -ENAMETOOLONG;
        if (rename(from, to) < 0 && errno != ENOENT)
            return -errno;
    }
    if (pl->keep == 0 && unlink(pl->path) < 0 && errno != ENOENT)
        return -errno;
    return pinlog_open(pl);
}

static int pinlog_append(struct pinlog *pl, const char *line, size_t len)
{
    ssize_t n;
    int ret;

    if (plog_need_rotate(pl->size, len, pl->max_bytes) && (ret = pinlog_rotate(pl)) < 0)
        return ret;
    do
        n = write(pl->fd, line, len);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)len) {
        ret = n < 0 ? -errno : -ENOSPC;
        /* take back a partial line so the file stays valid */
        if (n > 0 && ftruncate(pl->fd, (off_t)pl->size) < 0)
            ret = -errno;
        return ret;
    }
    pl->size += len;
    pl->dirty = true;
    if (pinlog_now_ms() - pl->synced_ms >= pl->sync_ms)
        return pinlog_sync(pl);
    return 0;
}

/* Stamps the record with both clocks and appends it as one line. */
static int pinlog_record(hmk_svc *s, struct pinlog *pl, struct plog_rec *rec)
{
    struct timespec mono;
    char line[PLOG_LINE_MAX];
    int n, ret;

    clock_gettime(CLOCK_REALTIME, &rec->wall);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    rec->mono_ns = (uint64_t)mono.tv_sec * 1000000000u + (uint64_t)mono.tv_nsec;
    n = plog_format(rec, line, sizeof(line));
    if (n < 0)
        return n;
    ret = pinlog_append(pl, line, (size_t)n);
    if (ret < 0)
        snprintf(pl->err, sizeof(pl->err), "%s: %s", pl->path, strerror(-ret));
    pinlog_want_tick(s, pl);
    return ret;
}

static int pinlog_on_change(hmk_svc *s, unsigned slot, const hmk_value *v, uint64_t cycle,
                            void *user)
{
    struct pinlog *pl = user;
    struct plog_rec rec = { .cycle = cycle, .pin = pl->pins[slot], .value = *v };

    return pinlog_record(s, pl, &rec);
}

/* The service fell behind the bridge's change stream: say exactly how
 * many changes are missing, in the log itself, where they would have been. */
static int pinlog_on_lost(hmk_svc *s, uint64_t count, void *user)
{
    struct pinlog *pl = user;
    struct plog_rec rec = { .cycle = hmk_cycle(hmk_svc_region(s)), .lost = count };

    return pinlog_record(s, pl, &rec);
}

/* Called sync_ms after the last round: flush what is still unsynced. */
static int pinlog_on_tick(hmk_svc *s, void *user)
{
    struct pinlog *pl = user;
    int ret = pinlog_sync(pl);

    pinlog_want_tick(s, pl);
    if (ret < 0)
        snprintf(pl->err, sizeof(pl->err), "%s: fdatasync: %s", pl->path, strerror(-ret));
    return ret;
}

static void pinlog_on_stop(hmk_svc *s, void *user)
{
    if (pinlog_on_tick(s, user) < 0)
        fprintf(stderr, "pinlog: %s\n", ((struct pinlog *)user)->err);
}

/* No pins named: every pin HAL feeds. Waits for the region to exist. */
static int pinlog_all_pins(struct pinlog *pl)
{
    hmk_region *r;
    struct hmk_pin_info info;
    unsigned n = 0;
    int ret = hmk_open_wait(NULL, HMK_OPEN_RDONLY, -1, &r);

    if (ret < 0)
        return ret;
    pl->pins = calloc(hmk_pin_count(r) + 1, sizeof(*pl->pins));
    pl->own_pins = true;
    if (!pl->pins) {
        ret = -ENOMEM;
        goto out;
    }
    for (unsigned i = 0; i < hmk_pin_count(r); i++) {
        if (hmk_pin_info(r, i, &info) < 0 || !(info.dir == HMK_DIR_IN || info.dir == HMK_DIR_IO))
            continue;
        /* names live in the handle, which closes below */
        if (!(pl->pins[n++] = strdup(info.name))) {
            ret = -ENOMEM;
            goto out;
        }
    }
    ret = n ? 0 : -ENOENT;
out:
    hmk_close(r);
    return ret;
}

static void pinlog_free_pins(struct pinlog *pl)
{
    for (unsigned i = 0; pl->own_pins && pl->pins && pl->pins[i]; i++)
        free((char *)pl->pins[i]);
    if (pl->own_pins)
        free(pl->pins);
}

static void pinlog_usage(FILE *f)
{
    fprintf(f, "Usage: pinlog [--out FILE] [--max-bytes N] [--keep N] [--sync-ms N] [PIN...]\n"
               "Record changes of the named pins (default: every pin HAL feeds) as JSON lines.\n"
               "  -o, --out FILE      log file (default /var/log/hal-microkernel/pins.jsonl)\n"
               "  -m, --max-bytes N   rotate before FILE grows past N bytes (0: never; default 10485760)\n"
               "  -k, --keep N        keep N rotated files FILE.1 .. FILE.N (default 5)\n"
               "  -s, --sync-ms N     fdatasync at most N ms after a line (default 100)\n");
}

static int pinlog_number(const char *opt, const char *text, uint64_t max, uint64_t *out)
{
    char *end;

    errno = 0;
    *out = strtoull(text, &end, 10);
    if (*text < '0' || *text > '9' || *end || errno || *out > max) {
        fprintf(stderr, "pinlog: %s: '%s' is not a number from 0 to %" PRIu64 "\n", opt, text, max);
        return -EINVAL;
    }
    return 0;
}

static int pinlog_args(int argc, char **argv, struct pinlog *pl)
{
    static const struct option opts[] = {
        { "out", required_argument, NULL, 'o' },     { "max-bytes", required_argument, NULL, 'm' },
        { "keep", required_argument, NULL, 'k' },    { "sync-ms", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    uint64_t n;
    int c, ret = 0;

    while (ret == 0 && (c = getopt_long(argc, argv, ":o:m:k:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': pl->path = optarg; break;
        case 'm':
            ret = pinlog_number("--max-bytes", optarg, 1000000000000ull, &pl->max_bytes);
            break;
        case 'k':
            ret = pinlog_number("--keep", optarg, 1000, &n);
            pl->keep = (unsigned)n;
            break;
        case 's':
            ret = pinlog_number("--sync-ms", optarg, 3600000, &n);
            pl->sync_ms = (int)n;
            break;
        case 'h': pinlog_usage(stdout); exit(0);
        case 'V': puts("pinlog " HMK_VERSION); exit(0);
        case ':':
            fprintf(stderr, "pinlog: option '%s' needs a value\n", argv[optind - 1]);
            return -EINVAL;
        default:
            fprintf(stderr, "pinlog: unknown option '%s' (see pinlog --help)\n", argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (ret == 0 && optind < argc)
        pl->pins = (const char **)&argv[optind]; /* argv is NULL-terminated */
    return ret;
}

int main(int argc, char **argv)
{
    struct pinlog pl = { .path = "/var/log/hal-microkernel/pins.jsonl", .max_bytes = 10485760,
                         .keep = 5, .sync_ms = 100, .fd = -1 };
    /* stream mode: every change in order, even one that lasted one cycle */
    struct hmk_svc_def def = { .name = "pinlog", .on_change = pinlog_on_change,
                               .on_tick = pinlog_on_tick, .on_stop = pinlog_on_stop,
                               .on_lost = pinlog_on_lost, .stream = true, .user = &pl };
    char err[256] = "", copy[PATH_MAX];
    int ret;

    if (pinlog_args(argc, argv, &pl) < 0)
        return 2;
    snprintf(copy, sizeof(copy), "%s", pl.path);
    snprintf(pl.dir, sizeof(pl.dir), "%s", dirname(copy));
    ret = pinlog_open(&pl);
    if (ret < 0) {
        fprintf(stderr, "pinlog: %s: %s\n", pl.path,
                ret == -EBADMSG ? "not a JSON-lines file (no newline near its end)"
                                : strerror(-ret));
        return 1;
    }
    pl.synced_ms = pinlog_now_ms();
    if (!pl.pins && (ret = pinlog_all_pins(&pl)) < 0) {
        fprintf(stderr, "pinlog: region: %s\n",
                ret == -ENOENT ? "no pin that HAL feeds" : hmk_strerror(ret));
        goto out;
    }
    def.reads = pl.pins;
    ret = hmk_svc_run(&def, err, sizeof(err));
    if (ret < 0)
        fprintf(stderr, "pinlog: %s\n", pl.err[0] ? pl.err : err);
out:
    pinlog_free_pins(&pl);
    if (pl.fd >= 0)
        close(pl.fd);
    return ret < 0 ? 1 : 0;
}
