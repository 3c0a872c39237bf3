/*
 * fuzz_region - region attach (hmk_open, hmk_stream_open) against arbitrary
 * /dev/shm contents.
 *
 * Every input becomes a /dev/shm object named hmk-fuzz-<pid> (the public,
 * read-only region, ABI 3) plus its change stream hmk-fuzz-<pid>.stream,
 * and a write channel: a memfd the header names by inode, passed in
 * $HMK_CHANNEL_FD as the daemon passes it (or not, and then root's
 * pidfd_getfd path runs against this very process, as rtapi_app). hmk_open()
 * must either refuse the region with a negative errno or give a handle on
 * which pin lookup, reads, snapshots, stats, the change stream, writes,
 * transactions and pulses stay inside the mappings and the validated pin
 * table; a channel that is not exactly the one the header names, sealed
 * and of a channel's size, must never be written. Both /dev/shm objects
 * are unlinked after every input (fuzz/run.sh also removes them if the
 * fuzzer dies), the memfds closed.
 *
 * Input:
 *   byte 0  flags
 *           bits 0-1  0: the rest of the input is the object's contents, as is
 *                     1: a valid region image (built as the bridge's
 *                        init_region builds it), bytes 8.. overlaid at OFFSET
 *                     2: the same, OFFSET counted from the in/out blocks
 *                     3: the same, then the object resized to SIZE
 *           bit 2     recompute the layout hash after the overlay (so a damaged
 *                     pin table gets past the hash check)
 *           bits 3-4  write channel: 0 a valid sealed memfd in $HMK_CHANNEL_FD,
 *                     1 no $HMK_CHANNEL_FD (root: pidfd_getfd from this
 *                     process, the header's chan_fd[0]), 2 not sealed,
 *                     3 sealed but 4096 bytes too long
 *           bit 5     the channel's content says another generation (the
 *                     library does not trust content: still taken)
 *           bit 6     open with HMK_OPEN_RDONLY
 *           bit 7     the bytes after the last NUL are $HMK_WRITE_PINS
 *                     (and a pin name to look up)
 *   byte 1-2  OFFSET (little-endian)
 *   byte 3    slot count of the image (0..63; >= 192 means 1020: with the
 *             4 named pins, the largest table), or, in mode 3, SIZE = region size - 4096 +
 *             16 * byte 3
 *   byte 4    change stream companion (<name>.stream, lib/hmk_stream.c):
 *           bits 0-1  0 valid, 1 missing, 2 wrong magic, 3 size not matching depth
 *           bit 2     of another generation
 *           bits 3-7  A: after hmk_stream_open, the harness appends 5*A*A
 *                     records (some damaged, some naming pins the region
 *                     lacks) as the bridge would, lapping the ring when
 *                     that exceeds its depth, then reads them all back
 *   byte 5-6  stream depth (little-endian; 0 is invalid)
 *   byte 7    stream head at open
 *   byte 8..  overlay (modes 1-3) or contents (mode 0)
 *
 * The stream reader must deliver, in order, exactly the records that were
 * complete and name a pin of the region, and count every other one as
 * lost: delivered + lost == appended.
 */
#include "halmk.h"
#include "hmk_pinspec.h"
#include "hmk_region.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_name[64];
static char g_path[96];
static char g_spath[96];
static char g_env[16384 + 32]; /* putenv() keeps the pointer: one static buffer */
static unsigned char g_image[sizeof(struct hmk_shm)];
static int g_verbose; /* $HMK_FUZZ_VERBOSE: print what hmk_open answers */

static void cleanup(void)
{
    unlink(g_path);
    unlink(g_spath);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(g_name, sizeof(g_name), "hmk-fuzz-%ld", (long)getpid());
    snprintf(g_path, sizeof(g_path), "/dev/shm/%s", g_name);
    snprintf(g_spath, sizeof(g_spath), "/dev/shm/%s%s", g_name, HMK_STREAM_SUFFIX);
    unsetenv("HMK_WRITE_PINS");
    /* no daemon to ask for a channel: never the machine's own */
    setenv("HMK_CONTROL_SOCKET", "/nonexistent/hmk-fuzz-control", 1);
    unsetenv("HAL_MICROKERNEL_REGION");
    g_verbose = getenv("HMK_FUZZ_VERBOSE") != NULL;
    atexit(cleanup);
    return 0;
}

static int write_file(const char *path, const void *p, size_t len, size_t file_size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok;

    if (fd < 0)
        return -1;
    ok = (len == 0 || pwrite(fd, p, len, 0) == (ssize_t)len) &&
         ftruncate(fd, (off_t)file_size) == 0;
    close(fd);
    return ok ? 0 : -1;
}

/* A valid region as hal_microkernel_bridge's init_region makes it, in
 * g_image (kept in g_template for the next input of the same count). */
static void build_image(int count)
{
    static unsigned char g_template[sizeof(struct hmk_shm)];
    static int g_template_count = -1;
    static struct hmk_pinspec ps;
    struct hmk_shm *shm = (struct hmk_shm *)g_image;
    struct hmk_region_header *h = &shm->hdr;
    char err[HMK_ERR_LEN];

    if (count == g_template_count) {
        memcpy(g_image, g_template, sizeof(g_image));
        return;
    }
    if (hmk_pinspec_parse("fz", count,
                          "spindle.speed:float:out:0,estop:bit:in,mode:s32:io:hold,"
                          "counter:u32:out:7",
                          &ps, err, sizeof(err)) < 0)
        abort();
    memset(g_image, 0, sizeof(g_image));
    memcpy(shm->pin, ps.pin, ps.n * sizeof(ps.pin[0]));
    hmk_region_header_init(shm, ps.n, 1, 0x1234567890abcdefull, "fz", 500);
    h->rtapi_pid = (int32_t)getpid();
    hmk_region_publish(h);
    /* some values, so reads decode something */
    for (unsigned i = 0; i < ps.n; i++) {
        atomic_store_explicit(&shm->in.value[i], i * 0x0101010101010101ull, memory_order_relaxed);
        atomic_store_explicit(&shm->in.out_value[i], ~(uint64_t)i, memory_order_relaxed);
    }
    memcpy(g_template, g_image, sizeof(g_image));
    g_template_count = count;
}

static void check_name(const char *s)
{
    if (!s || !memchr(s, '\0', HMK_NAME_MAX) || !*s)
        abort();
}

static void exercise(hmk_region *r, const char *query)
{
    static hmk_value vals[HMK_MAX_PINS];
    struct hmk_pin_info info;
    struct hmk_stats st;
    hmk_value v;
    uint64_t cycle;
    unsigned n = hmk_pin_count(r);
    char hal[HMK_NAME_MAX * 2 + 8];

    if (n == 0 || n > HMK_MAX_PINS)
        abort();
    check_name(hmk_region_name(r));
    (void)hmk_check(r);
    (void)hmk_stats(r, &st);
    if (st.pin_count != n)
        abort();
    for (unsigned i = 0; i < n; i++) {
        int f;

        if (hmk_pin_info(r, i, &info) != 0)
            abort();
        check_name(info.name);
        if (info.index != i || info.type < HMK_TYPE_BIT || info.type > HMK_TYPE_U32 ||
            info.dir < HMK_DIR_IN || info.dir > HMK_DIR_IO)
            abort();
        (void)hmk_read(r, i, &v);
        (void)hmk_read_in(r, i, &v);
        (void)hmk_read_out(r, i, &v);
        /* lookup is linear: try the first and the last few pins only, or a
         * 1024-pin table costs a million compares per input */
        if (i >= 8 && i + 8 < n)
            continue;
        /* names may repeat in a forged table: lookup finds one of that name */
        f = hmk_pin_find(r, info.name);
        if (f < 0 || (unsigned)f >= n)
            abort();
        {
            snprintf(hal, sizeof(hal), "fz.%s%s", info.name, info.slot ? ".out" : "");
            f = hmk_pin_find(r, hal);
            if (f >= (int)n)
                abort();
        }
    }
    if (hmk_pin_info(r, n, &info) != -ERANGE || hmk_read(r, n, &v) != -ERANGE)
        abort();
    (void)hmk_snapshot(r, vals, n, &cycle);
    if (hmk_snapshot(r, vals, n + 1, &cycle) != -EINVAL)
        abort();
    (void)hmk_change_seq(r);
    if (query && *query) {
        int f = hmk_pin_find(r, query);
        if (f >= (int)n)
            abort();
    }
}

/* what the harness appends at stream position p */
static uint64_t rec_value(uint64_t p) { return p * 0x9e3779b97f4a7c15ull; }
static uint32_t rec_pin(uint64_t p, unsigned npins) { return (uint32_t)(p % (npins + 1u)); }
static uint64_t rec_time(uint64_t p) { return p * 1000003u + 17u; }
static int rec_damaged(uint64_t p, unsigned salt) { return (p * 7u + salt) % 5u == 0; }

/* Writes the stream companion: header only, records come later. */
static void write_stream(const uint8_t *ctl, uint64_t generation)
{
    struct hmk_stream_hdr h;
    unsigned depth = (unsigned)ctl[1] | ((unsigned)ctl[2] << 8);
    size_t fsize = sizeof(h) + (size_t)depth * sizeof(struct hmk_stream_rec);

    memset(&h, 0, sizeof(h));
    h.magic = HMK_STREAM_MAGIC;
    h.depth = depth;
    h.generation = generation ^ ((ctl[0] & 4) ? 1 : 0);
    atomic_store_explicit(&h.head, ctl[3], memory_order_relaxed);
    switch (ctl[0] & 3u) {
    case 1: unlink(g_spath); return;
    case 2: h.magic ^= 0xff; break;
    case 3: fsize += 8; break;
    }
    if (write_file(g_spath, &h, sizeof(h), fsize) < 0)
        abort();
}

/* Appends records behind the reader's back, then reads everything. */
static void exercise_stream(hmk_region *r, const uint8_t *ctl)
{
    static struct hmk_event ev[64];
    hmk_stream *s = NULL;
    unsigned depth = (unsigned)ctl[1] | ((unsigned)ctl[2] << 8), npins = hmk_pin_count(r);
    uint64_t h0 = ctl[3], adv = 5u * (ctl[0] >> 3) * (ctl[0] >> 3), h1 = h0 + adv;
    uint64_t lost = 0, delivered = 0, last = 0, first;
    int ret, fd, have_last = 0;

    ret = hmk_stream_open(r, &s);
    if (g_verbose)
        fprintf(stderr, "hmk_stream_open: %d\n", ret);
    if (ret < 0) {
        if (s || !hmk_strerror(ret))
            abort();
        return;
    }
    /* the bridge's appends, done through the file: the reader maps it shared */
    fd = open(g_spath, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        abort();
    first = h1 > depth && h1 - depth > h0 ? h1 - depth : h0;
    for (uint64_t p = first; p < h1 && p < first + 1024; p++) {
        struct hmk_stream_rec rec;
        memset(&rec, 0, sizeof(rec));
        atomic_store_explicit(&rec.seq, rec_damaged(p, ctl[3]) ? p : p + 1, memory_order_relaxed);
        atomic_store_explicit(&rec.cycle, p, memory_order_relaxed);
        atomic_store_explicit(&rec.value, rec_value(p), memory_order_relaxed);
        atomic_store_explicit(&rec.time_ns, rec_time(p), memory_order_relaxed);
        atomic_store_explicit(&rec.pin, rec_pin(p, npins), memory_order_relaxed);
        if (pwrite(fd, &rec, sizeof(rec), (off_t)(sizeof(struct hmk_stream_hdr) +
                                                  (p % depth) * sizeof(rec))) != sizeof(rec))
            abort();
    }
    if (pwrite(fd, &h1, sizeof(h1), offsetof(struct hmk_stream_hdr, head)) != sizeof(h1))
        abort();
    close(fd);

    for (int calls = 0; calls < 4096; calls++) {
        ret = hmk_stream_read(s, ev, 64, 0, &lost);
        if (ret <= 0)
            break;
        if (ret > 64)
            abort();
        for (int i = 0; i < ret; i++) {
            uint64_t p = ev[i].cycle, raw; /* the harness stores the position there */
            struct hmk_pin_info info;
            int bad;
            if (p < h0 || p >= h1 || (have_last && p <= last) || rec_damaged(p, ctl[3]))
                abort(); /* out of order, made up, or a damaged record */
            if (ev[i].pin >= npins || ev[i].pin != rec_pin(p, npins) || ev[i].time_ns != rec_time(p))
                abort();
            if (hmk_pin_info(r, ev[i].pin, &info) != 0 || ev[i].value.type != info.type)
                abort();
            raw = rec_value(p);
            switch (info.type) {
            case HMK_TYPE_BIT:   bad = ev[i].value.b != (raw != 0); break;
            case HMK_TYPE_FLOAT: {
                double f = hmk_dec_float(raw);
                bad = memcmp(&f, &ev[i].value.f, sizeof(f)) != 0;
                break;
            }
            case HMK_TYPE_S32:   bad = ev[i].value.s != hmk_dec_s32(raw); break;
            default:             bad = ev[i].value.u != (uint32_t)raw; break;
            }
            if (bad)
                abort(); /* not the value appended at that position */
            last = p;
            have_last = 1;
        }
        delivered += (uint64_t)ret;
    }
    if (g_verbose)
        fprintf(stderr, "stream: appended %llu, delivered %llu, lost %llu, last read %d\n",
                (unsigned long long)adv, (unsigned long long)delivered,
                (unsigned long long)lost, ret);
    if (ret > 0)
        abort(); /* 4096 reads of 64 cannot be needed for at most 4805 records */
    if (ret == -ETIMEDOUT && delivered + lost != adv)
        abort(); /* every appended record is delivered or counted lost */
    hmk_stream_close(s);
}

/* The write channel for this input (flags bits 3-5): a memfd as the
 * bridge makes one, or one damaged the way flags say. */
static struct hmk_chan *g_chan;
static size_t g_chan_size;
static int g_chan_fd = -1;
/* the channel as the bridge made it, to tell whether a write landed */
static unsigned char g_chan_init[sizeof(struct hmk_chan)];

static void chan_close(void)
{
    if (g_chan)
        munmap(g_chan, g_chan_size);
    if (g_chan_fd >= 0)
        close(g_chan_fd);
    g_chan = NULL;
    g_chan_fd = -1;
}

static void chan_make(unsigned flags, uint64_t generation)
{
    unsigned kind = (flags >> 3) & 3u;
    int seals = kind == 2 ? 0 : F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
    char env[16];

    g_chan_size = sizeof(struct hmk_chan) + (kind == 3 ? 4096 : 0);
    g_chan_fd = memfd_create("hmk-fuzz-channel", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (g_chan_fd < 0 || ftruncate(g_chan_fd, (off_t)g_chan_size) < 0)
        abort();
    g_chan = mmap(NULL, g_chan_size, PROT_READ | PROT_WRITE, MAP_SHARED, g_chan_fd, 0);
    if (g_chan == MAP_FAILED)
        abort();
    memset(g_chan, 0, sizeof(*g_chan));
    hmk_chan_init(g_chan, 0, generation ^ ((flags & 0x20) ? 1 : 0));
    memcpy(g_chan_init, g_chan, sizeof(g_chan_init));
    if (seals && fcntl(g_chan_fd, F_ADD_SEALS, seals) < 0)
        abort();
    if (kind == 1) {
        unsetenv("HMK_CHANNEL_FD");
    } else {
        snprintf(env, sizeof(env), "%d", g_chan_fd);
        setenv("HMK_CHANNEL_FD", env, 1);
    }
}

/* Names the channel in the image's header (before the overlay damages it). */
static void chan_name(struct hmk_region_header *h)
{
    struct stat st;

    if (fstat(g_chan_fd, &st) < 0)
        abort();
    h->chan_fd[0] = g_chan_fd;
    h->chan_ino[0] = (uint64_t)st.st_ino;
}

static int chan_written(void)
{
    return memcmp(g_chan, g_chan_init, sizeof(g_chan_init)) != 0;
}

/* Writes, a transaction and a pulse of the first and last few pins: an
 * error or a write that lands in the channel, never anywhere else. */
static void exercise_writes(hmk_region *r, unsigned flags, int chan_ok)
{
    unsigned n = hmk_pin_count(r);
    struct hmk_pin_info info;
    hmk_txn *t = NULL;
    int any = 0;

    if (hmk_txn_new(r, &t) < 0)
        abort();
    for (unsigned i = 0; i < n; i++) {
        hmk_value v;
        int ret;

        if (i >= 4 && i + 4 < n)
            continue;
        if (hmk_pin_info(r, i, &info) != 0)
            abort();
        memset(&v, 0, sizeof(v));
        v.type = info.type;
        v.u = 1;
        if (info.type == HMK_TYPE_FLOAT)
            v.f = 1.5;
        ret = hmk_write(r, i, &v);
        if (ret > 0 || !hmk_strerror(ret))
            abort();
        if (ret == 0 && (!chan_ok || (flags & 0x40)))
            abort(); /* wrote through a channel it must have refused */
        any |= ret == 0;
        ret = hmk_txn_set(t, i, &v);
        if (ret > 0)
            abort();
        ret = hmk_pulse(r, i, &v);
        if (ret > 0 || (ret == 0 && (!chan_ok || (flags & 0x40))))
            abort();
        any |= ret == 0;
    }
    if (g_verbose)
        fprintf(stderr, "writes: channel %s, %s\n", chan_ok ? "valid" : "refused",
                any ? "some written" : "none written");
    if (hmk_txn_commit(t) > 0 && !chan_ok)
        abort();
    hmk_txn_free(t);
    if (any && !chan_written())
        abort(); /* a write reported done is in the channel */
    if (!chan_ok && chan_written())
        abort(); /* a channel the library had to refuse was written */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hmk_shm *shm = (struct hmk_shm *)g_image;
    const char *query = NULL;
    unsigned flags, mode, off;
    size_t body_len, file_size = sizeof(struct hmk_shm);
    const void *file = g_image;
    hmk_region *r = NULL;
    uint64_t gen;
    int ret;

    if (size < 8)
        return 0;
    flags = data[0];
    mode = flags & 3u;
    off = (unsigned)data[1] | ((unsigned)data[2] << 8);
    body_len = size - 8;

    if (flags & 0x80) {
        /* $HMK_WRITE_PINS: the bytes after the last NUL */
        const uint8_t *nul = memrchr(data + 8, 0, body_len);
        if (nul) {
            size_t elen = size - (size_t)(nul + 1 - data);
            if (elen > sizeof(g_env) - 32)
                elen = sizeof(g_env) - 32;
            memcpy(g_env, "HMK_WRITE_PINS=", 15);
            memcpy(g_env + 15, nul + 1, elen);
            g_env[15 + elen] = '\0';
            putenv(g_env);
            query = g_env + 15;
            body_len = (size_t)(nul - (data + 8));
        }
    }

    if (mode == 0) {
        file = data + 8;
        file_size = body_len;
        chan_make(flags, 0);
    } else {
        int count = data[3] >= 192 ? (int)HMK_MAX_PINS - 4 : data[3] & 63;
        size_t base = mode == 2 ? offsetof(struct hmk_shm, in) : 0;

        if (mode == 3)
            count = 4;
        build_image(count);
        chan_make(flags, shm->hdr.generation);
        chan_name(&shm->hdr);
        base = (base + off) % sizeof(g_image);
        if (body_len > sizeof(g_image) - base)
            body_len = sizeof(g_image) - base;
        memcpy(g_image + base, data + 8, body_len);
        if (flags & 4) {
            uint32_t n = shm->hdr.pin_count <= HMK_MAX_PINS ? shm->hdr.pin_count : HMK_MAX_PINS;
            shm->hdr.layout_hash = hmk_layout_hash(shm->pin, n);
        }
        if (mode == 3)
            file_size = sizeof(g_image) - 4096 + 16u * data[3];
    }
    /* mode 3 may cut the image short; ftruncate zero-fills a longer one */
    if (write_file(g_path, file, file_size < sizeof(g_image) || mode == 0 ? file_size
                   : sizeof(g_image), file_size) < 0)
        abort();

    gen = mode == 0 ? 0 : shm->hdr.generation;
    if (mode == 0 && body_len >= offsetof(struct hmk_region_header, generation) + 8)
        memcpy(&gen, data + 8 + offsetof(struct hmk_region_header, generation), 8);

    write_stream(data + 4, gen);

    ret = hmk_open(g_name, (flags & 0x40) ? HMK_OPEN_RDONLY : 0, &r);
    if (g_verbose)
        fprintf(stderr, "hmk_open: %d (%s)\n", ret, ret < 0 ? hmk_strerror(ret) : "attached");
    if (ret == 0) {
        /* a channel the library may take: listed (the header as written,
         * after the overlay), sealed, of a channel's size, of this region */
        const struct hmk_region_header *fh = (const struct hmk_region_header *)file;
        struct stat st;
        int chan_ok = ((flags >> 3) & 3u) <= 1 &&
                      file_size >= sizeof(*fh) && fstat(g_chan_fd, &st) == 0;
        if (chan_ok && ((flags >> 3) & 3u) == 0) {
            int listed = 0;
            for (unsigned k = 0; k < fh->channels && k < HMK_MAX_CHANNELS; k++)
                listed |= fh->chan_ino[k] == (uint64_t)st.st_ino;
            chan_ok = listed;
        } else if (chan_ok) {
            /* without $HMK_CHANNEL_FD: root takes rtapi_app's (our) fd
             * chan_fd[0], which must be inode chan_ino[0] */
            chan_ok = geteuid() == 0 &&
                      fh->rtapi_pid == (int32_t)getpid() && fh->chan_fd[0] == g_chan_fd &&
                      fh->chan_ino[0] == (uint64_t)st.st_ino;
        }
        exercise(r, query);
        exercise_stream(r, data + 4);
        exercise_writes(r, flags, chan_ok);
        hmk_close(r);
    } else {
        const char *msg = hmk_strerror(ret);
        if (ret > 0 || r != NULL || !msg || !*msg)
            abort();
    }
    if (flags & 0x80)
        unsetenv("HMK_WRITE_PINS");
    chan_close();
    cleanup();
    return 0;
}
