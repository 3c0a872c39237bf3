/*
 * hal_microkernel_bridge - the realtime half of hal-microkernel.
 *
 * Copies HAL pins into a seqlock-protected shared-memory region each servo
 * cycle and copies values written there by non-realtime processes back onto
 * HAL pins. Built with `halcompile --compile/--install`; see
 * hal_microkernel_bridge(9) for the pins, functions and parameters.
 *
 * Context: rtapi_app_main/rtapi_app_exit run in rtapi_app's non-realtime
 * context and do all allocation, validation and system calls. The exported
 * functions (bridge_read, bridge_write, bridge_update) run in a HAL thread:
 * they have no error path, allocate nothing, take no lock, print nothing and
 * make no system call other than clock_gettime (vDSO) and, in a cycle where
 * a value changed while the daemon's relay is armed, one FUTEX_WAKE of one
 * waiter; every loop is bounded by the pin count, the channel count,
 * HMK_LATCH_RETRIES or HMK_CMD_PER_CYCLE.
 *
 * Isolation (docs/isolation.md): everything the bridge maps that another
 * process may write is a sealed memfd (nobody can resize it), every
 * position and size it stores by is its own copy, and a channel's writes
 * reach HAL only for the pins the daemon granted that channel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create, F_ADD_SEALS */
#endif
#include "rtapi.h"
#include "rtapi_app.h"
#include "hal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* halcompile builds one file per module; the parser stays ordinary C so
 * the unit tests and fuzzers build it on its own. Its values are read by
 * libhalmk's own value parser, so safe= takes what halpoke takes. */
#include "../lib/hmk_value_syntax.c"
#include "hmk_pinspec.c"
#include "hmk_merge.c"

MODULE_AUTHOR("hal-microkernel developers");
MODULE_DESCRIPTION("Bridge between HAL pins and the hal-microkernel shared-memory region");
MODULE_LICENSE("GPL");

static char *region = NULL;
RTAPI_MP_STRING(region, "shared-memory object under /dev/shm (default hal-microkernel)");
static char *prefix = NULL;
RTAPI_MP_STRING(prefix, "HAL name prefix for pins and functions (default microkernel)");
static int count = -1;
RTAPI_MP_INT(count, "number of float slots pin.N.in/pin.N.out (default 16, or 0 with pins=)");
static char *types = NULL;
RTAPI_MP_STRING(types, "per-slot types, e.g. float,float,float,bit (default all float)");
static char *pins = NULL;
RTAPI_MP_STRING(pins, "named typed pins: NAME:TYPE:DIR[,NAME:TYPE:DIR]...");
static char *safe = NULL;
RTAPI_MP_STRING(safe, "per-slot fault policy: hold or a value, e.g. ,0,hold,0 (default all hold)");
/* a dead daemon shows at once in its alive word; this is for a hung one */
static int timeout_ms = 3000;
RTAPI_MP_INT(timeout_ms, "daemon heartbeat age after which connected goes false (ms)");
static int stream_depth = HMK_STREAM_DEFAULT_DEPTH;
RTAPI_MP_INT(stream_depth, "records in the change stream ring (16..1048576, default 4096)");
static char *mode = NULL;
RTAPI_MP_STRING(mode, "permissions of the region, octal; write bits for group and others are dropped (default 0640)");
static char *group = NULL;
RTAPI_MP_STRING(group, "group owning the region (default: LinuxCNC's user's group)");
static char *writers = NULL;
RTAPI_MP_STRING(writers, "obsolete: write rights are channels the daemon hands out (ignored)");
static int channels = HMK_DEFAULT_CHANNELS;
RTAPI_MP_INT(channels, "write channels: the tools channel plus one per writing service (2..32, default 8)");

#define MODNAME "hal_microkernel_bridge"

/* Pointers into HAL shared memory: HAL rewrites them when pins are linked. */
struct bridge_hal {
    hal_bit_t *connected;
    hal_bit_t *fault;
    hal_bit_t *fault_reset;
    hal_u32_t *update_count;
    hal_u32_t *error_count;
    void *ptr[]; /* per region pin: [2*i] the pin (a slot's .in), [2*i+1] a slot's .out */
};

static int comp_id = -1;
static struct bridge_hal *hal;
static struct hmk_shm *shm = MAP_FAILED;
static int shm_fd = -1;
static char shm_path[256];
static struct hmk_stream_hdr *sobj = MAP_FAILED;
static int sobj_fd = -1;
static size_t sobj_size;
static char sobj_path[sizeof(shm_path) + sizeof(HMK_STREAM_SUFFIX)];
/* the capabilities: sealed memfds, reachable only through rtapi_app */
static struct hmk_ctl *ctl = MAP_FAILED;
static int ctl_fd = -1;
static struct hmk_chan *chan[HMK_MAX_CHANNELS];
static int chan_fd[HMK_MAX_CHANNELS];
static unsigned nchan;
static struct hmk_merge mg; /* the channels' merge (hmk_merge.c): private state */
static struct hmk_pinspec spec;
static uint64_t timeout_ns;

/* realtime-side private state: nothing another process can write */
static uint64_t cycle;
static bool was_connected; /* the daemon's heartbeat was fresh at some point */
static bool faulted;       /* ... and then went stale: the fault latch */
static bool reset_prev;
static uint64_t exec_acc;
static uint64_t last_in[HMK_MAX_PINS];
static uint32_t applied_gen[HMK_MAX_PINS];
static uint64_t wcycle;                     /* write-function cycles */
static uint64_t last_pulse[HMK_MAX_PINS];   /* wcycle of the pin's last pulse */
static uint64_t stream_head;                /* the stream's position and depth: ours */
static uint32_t stream_len;
static uint64_t cmd_head[HMK_MAX_CHANNELS];
static unsigned cmd_rr;

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t hal_get(uint8_t type, void *p)
{
    switch (type) {
    case HMK_RT_BIT:   return *(hal_bit_t *)p ? 1u : 0u;
    case HMK_RT_FLOAT: return hmk_enc_float(*(hal_float_t *)p);
    case HMK_RT_S32:   return hmk_enc_s32(*(hal_s32_t *)p);
    default:           return *(hal_u32_t *)p;
    }
}

static inline void hal_put(uint8_t type, void *p, uint64_t raw)
{
    switch (type) {
    case HMK_RT_BIT:   *(hal_bit_t *)p = raw != 0; break;
    case HMK_RT_FLOAT: *(hal_float_t *)p = hmk_dec_float(raw); break;
    case HMK_RT_S32:   *(hal_s32_t *)p = hmk_dec_s32(raw); break;
    default:           *(hal_u32_t *)p = (uint32_t)raw; break;
    }
}

static inline void publish_exec(uint64_t d)
{
    struct hmk_region_header *h = &shm->hdr;
    atomic_store_explicit(&h->exec_ns_last, d, memory_order_relaxed);
    if (d > atomic_load_explicit(&h->exec_ns_max, memory_order_relaxed))
        atomic_store_explicit(&h->exec_ns_max, d, memory_order_relaxed);
}

/* The fault latch: set when a daemon that was connected goes stale, held
 * until a rising edge on fault-reset while the daemon is connected again.
 * A bridge that never saw a daemon passes writes through (halpoke and
 * services work without the daemon); one that lost it applies each out
 * pin's policy (hold or safe value) until reset. */
static inline void update_fault(bool connected)
{
    bool reset = *hal->fault_reset;

    if (connected)
        was_connected = true;
    else if (was_connected) {
        faulted = true;
        was_connected = false;
    }
    if (faulted && connected && reset && !reset_prev)
        faulted = false;
    reset_prev = reset;
    *hal->fault = faulted;
}

static inline void *out_ptr(unsigned i)
{
    /* a slot drives its .out pin; a named pin has one HAL pin, ptr[2i],
     * which HAL rewrites when the pin is linked */
    return hal->ptr[2 * i + ((spec.pin[i].flags & HMK_PIN_SLOT) ? 1 : 0)];
}

/* HAL -> region: one consistent snapshot of every in value, and of the out
 * values as applied, per cycle; leaves its own time in exec_acc. */
static void do_read(void)
{
    struct hmk_region_header *h = &shm->hdr;
    uint64_t t0 = now_ns(), s, hb;
    bool changed = mg.out_dirty, connected;

    cycle++;
    s = hmk_in_write_begin(&shm->in);
    for (unsigned i = 0; i < spec.n; i++) {
        uint64_t raw;
        if (!(spec.pin[i].dir & HMK_RD_IN))
            continue;
        raw = hal_get(spec.pin[i].type, hal->ptr[2 * i]);
        if (raw != last_in[i]) {
            last_in[i] = raw;
            changed = true;
            atomic_store_explicit(&shm->in.changed_cycle[i], cycle, memory_order_relaxed);
            hmk_stream_append(sobj, &stream_head, stream_len, cycle, t0, i, raw);
        }
        atomic_store_explicit(&shm->in.value[i], raw, memory_order_relaxed);
    }
    for (unsigned j = 0; j < mg.n_out; j++)
        atomic_store_explicit(&shm->in.out_value[mg.out_idx[j]], mg.latched[mg.out_idx[j]],
                              memory_order_relaxed);
    mg.out_dirty = false;
    atomic_store_explicit(&shm->in.cycle, cycle, memory_order_relaxed);
    hmk_in_write_end(&shm->in, s);

    /* liveness comes from the control block, which only the daemon (root)
     * and rtapi_app can reach; the region gets a read-only mirror. A dead
     * daemon shows in its alive word at once (the kernel marks it), a hung
     * one by its heartbeat going stale */
    hb = atomic_load_explicit(&ctl->heartbeat_ns, memory_order_acquire);
    connected = hmk_daemon_alive(atomic_load_explicit(&ctl->alive, memory_order_acquire)) &&
                hb != 0 && (t0 <= hb || t0 - hb <= timeout_ns);
    *hal->connected = connected;
    update_fault(connected);
    atomic_store_explicit(&h->daemon_heartbeat_ns, hb, memory_order_relaxed);
    atomic_store_explicit(&h->daemon_pid, atomic_load_explicit(&ctl->daemon_pid,
                          memory_order_relaxed), memory_order_relaxed);
    atomic_store_explicit(&h->connected, connected, memory_order_relaxed);
    h->faulted = faulted;
    if (changed)
        hmk_change_publish(h, ctl, connected);
    *hal->update_count = (hal_u32_t)cycle;
    atomic_store_explicit(&h->bridge_time_ns, t0, memory_order_relaxed);
    atomic_store_explicit(&h->bridge_cycle, cycle, memory_order_release);
    atomic_fetch_add_explicit(&h->cycles, 1, memory_order_relaxed);
    exec_acc = now_ns() - t0;
}

/* Channel k's commands, in order, within *budget. A pulse overrides the out
 * value for this cycle only (the latch drives the pin again next cycle); a
 * second pulse on a pin waits a cycle, so two never merge, and commands
 * behind it in the ring wait too, keeping the order. A command of an
 * unknown kind, for a pin without an out side, an io pin or one not granted
 * to the channel is refused and counted; while the fault latch is set every
 * command is dropped: a pulse must not fire long after it was asked for. */
static void drain_channel(unsigned k, unsigned *budget)
{
    struct hmk_cmd_ring *cr = &chan[k]->cmd;
    uint64_t hd = cmd_head[k], t = atomic_load_explicit(&cr->tail, memory_order_acquire);

    while (*budget && hd != t) {
        const struct hmk_cmd_rec *c = &cr->rec[hd % HMK_CMD_DEPTH];
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        uint32_t pin = atomic_load_explicit(&c->pin, memory_order_relaxed);
        uint32_t kind = atomic_load_explicit(&c->kind, memory_order_relaxed);
        uint64_t val = atomic_load_explicit(&c->value, memory_order_relaxed);
        const struct hmk_pin_desc *p = pin < spec.n ? &spec.pin[pin] : NULL;

        if (seq != hd + 1 || kind != HMK_CMD_PULSE || !p || !(p->dir & HMK_RD_OUT) ||
            (p->dir == HMK_RD_IO && !(p->flags & HMK_PIN_SLOT)) || !hmk_merge_granted(&mg, k, pin) ||
            hmk_nonfinite(p->type, val) || faulted) {
            atomic_fetch_add_explicit(&cr->dropped, 1, memory_order_relaxed);
            hd++;
            (*budget)--;
            continue;
        }
        if (last_pulse[pin] && last_pulse[pin] + 1 >= wcycle)
            break;
        hal_put(p->type, out_ptr(pin), val);
        last_pulse[pin] = wcycle;
        atomic_fetch_add_explicit(&cr->done, 1, memory_order_relaxed);
        hd++;
        (*budget)--;
    }
    cmd_head[k] = hd;
    atomic_store_explicit(&cr->head, hd, memory_order_release);
}

/* At most HMK_CMD_PER_CYCLE commands a cycle over all channels, starting
 * one channel further each cycle, so no channel's flood starves another. */
static void drain_commands(void)
{
    unsigned budget = HMK_CMD_PER_CYCLE;

    for (unsigned m = 0; m < nchan && budget; m++)
        drain_channel((cmd_rr + m) % nchan, &budget);
    cmd_rr = (cmd_rr + 1) % nchan;
}

/* channels -> HAL; adds its own time to exec_acc. The cost is bounded by
 * the channels ever granted a pin times the out pins (times the retries): it
 * depends on the configuration, never on what a writer does. */
static void do_write(void)
{
    uint64_t t0 = now_ns();

    if (!hmk_merge_all(&mg))
        *hal->error_count = (hal_u32_t)atomic_load_explicit(&shm->hdr.latch_misses,
                                                            memory_order_relaxed);
    for (unsigned j = 0; j < mg.n_out; j++) {
        unsigned i = mg.out_idx[j];
        const struct hmk_pin_desc *p = &spec.pin[i];
        bool pulsed_last = last_pulse[i] && last_pulse[i] == wcycle; /* see drain_channel */

        if (faulted) {
            /* the channels' values are not applied while the latch is set;
             * a pin pulsed last cycle goes back to its latched value */
            if (p->policy == HMK_POLICY_SAFE)
                hal_put(p->type, out_ptr(i), p->safe_value);
            else if (pulsed_last)
                hal_put(p->type, out_ptr(i), mg.latched[i]);
            continue;
        }
        /* an io pin is driven only when a writer changed it, so HAL's own
         * value is not overwritten by a stale one every cycle */
        if (p->dir == HMK_RD_IO && !(p->flags & HMK_PIN_SLOT)) {
            if (mg.pin_gen[i] == applied_gen[i])
                continue;
            applied_gen[i] = mg.pin_gen[i];
        }
        hal_put(p->type, out_ptr(i), mg.latched[i]);
    }
    wcycle++;
    drain_commands();
    exec_acc += now_ns() - t0;
}

/* The exported functions publish the cycle's time once, after their work. */
static void bridge_read(void *arg, long period)
{
    (void)arg;
    (void)period;
    do_read();
    publish_exec(exec_acc);
}

static void bridge_write(void *arg, long period)
{
    (void)arg;
    (void)period;
    do_write();
    publish_exec(exec_acc); /* read + write when both run, as with update */
}

static void bridge_update(void *arg, long period)
{
    (void)arg;
    (void)period;
    do_read();
    do_write();
    publish_exec(exec_acc);
}

/* ---- load time ---------------------------------------------------------- */

static int make_pin(unsigned i, const char *pfx, char *err, unsigned errlen)
{
    const struct hmk_pin_desc *p = &spec.pin[i];
    char name[HAL_NAME_LEN + 1];
    int r;

    if (p->flags & HMK_PIN_SLOT) {
        rtapi_snprintf(name, sizeof(name), "%s.%s.in", pfx, p->name);
        r = hal_pin_new(name, (hal_type_t)p->type, HAL_IN, &hal->ptr[2 * i], comp_id);
        if (r == 0) {
            rtapi_snprintf(name, sizeof(name), "%s.%s.out", pfx, p->name);
            r = hal_pin_new(name, (hal_type_t)p->type, HAL_OUT, &hal->ptr[2 * i + 1], comp_id);
        }
    } else {
        hal_pin_dir_t d = p->dir == HMK_RD_IN ? HAL_IN : p->dir == HMK_RD_OUT ? HAL_OUT : HAL_IO;
        rtapi_snprintf(name, sizeof(name), "%s.%s", pfx, p->name);
        r = hal_pin_new(name, (hal_type_t)p->type, d, &hal->ptr[2 * i], comp_id);
    }
    if (r != 0)
        snprintf(err, errlen, "cannot create HAL pin '%s' (error %d; name taken?)", name, r);
    return r;
}

static int make_hal(const char *pfx, char *err, unsigned errlen)
{
    static const struct { const char *suffix; void (*fn)(void *, long); } fns[] = {
        { "update", bridge_update }, { "read", bridge_read }, { "write", bridge_write },
    };
    char name[HAL_NAME_LEN + 1];
    int r;

    hal = hal_malloc(sizeof(*hal) + 2 * spec.n * sizeof(hal->ptr[0]));
    if (!hal) {
        snprintf(err, errlen, "out of HAL shared memory for %u pins", spec.n);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < spec.n; i++) {
        r = make_pin(i, pfx, err, errlen);
        if (r != 0)
            return r;
    }
    r = hal_pin_bit_newf(HAL_OUT, &hal->connected, comp_id, "%s.connected", pfx);
    if (r == 0)
        r = hal_pin_bit_newf(HAL_OUT, &hal->fault, comp_id, "%s.fault", pfx);
    if (r == 0)
        r = hal_pin_bit_newf(HAL_IN, &hal->fault_reset, comp_id, "%s.fault-reset", pfx);
    if (r == 0)
        r = hal_pin_u32_newf(HAL_OUT, &hal->update_count, comp_id, "%s.update-count", pfx);
    if (r == 0)
        r = hal_pin_u32_newf(HAL_OUT, &hal->error_count, comp_id, "%s.error-count", pfx);
    if (r != 0) {
        snprintf(err, errlen, "cannot create the status pins under '%s' (error %d)", pfx, r);
        return r;
    }
    for (size_t k = 0; k < sizeof(fns) / sizeof(fns[0]); k++) {
        rtapi_snprintf(name, sizeof(name), "%s.%s", pfx, fns[k].suffix);
        r = hal_export_funct(name, fns[k].fn, NULL, 1, 0, comp_id);
        if (r != 0) {
            snprintf(err, errlen, "cannot export function '%s' (error %d)", name, r);
            return r;
        }
    }
    return 0;
}


/* Marks an existing region of ours detached so its users re-attach.
 * Returns -EEXIST if the name is held by something that is not ours. */
static int retire_old(const char *path, uint64_t *old_gen, char *err, unsigned errlen)
{
    struct hmk_region_header h;
    struct stat st;
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return 0;
        snprintf(err, errlen, "region='%s': cannot open the existing %s: %s", region, path,
                 strerror(e));
        return -e;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(h) ||
        pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.magic != HMK_REGION_MAGIC) {
        close(fd);
        snprintf(err, errlen, "region='%s': %s exists and is not a hal-microkernel region; "
                 "remove it", region, path);
        return -EEXIST;
    }
    if (h.abi_version == HMK_ABI_VERSION && (uint64_t)st.st_size == sizeof(struct hmk_shm)) {
        struct hmk_shm *old = mmap(NULL, sizeof(*old), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (old != MAP_FAILED) {
            *old_gen = old->hdr.generation;
            atomic_store_explicit(&old->hdr.state, HMK_STATE_DETACHED, memory_order_release);
            munmap(old, sizeof(*old));
        }
    }
    close(fd);
    return 0;
}

static void init_region(const char *pfx, uint64_t gen)
{
    struct hmk_region_header *h = &shm->hdr;
    struct stat st;

    memcpy(shm->pin, spec.pin, spec.n * sizeof(spec.pin[0]));
    hmk_region_header_init(shm, spec.n, nchan, gen, pfx, (uint32_t)timeout_ms);
    h->rtapi_pid = (int32_t)getpid();
    h->region_fd = shm_fd;
    h->region_ino = fstat(shm_fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
    h->ctl_fd = ctl_fd;
    h->ctl_ino = fstat(ctl_fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
    for (unsigned k = 0; k < nchan; k++) {
        h->chan_fd[k] = chan_fd[k];
        h->chan_ino[k] = fstat(chan_fd[k], &st) == 0 ? (uint64_t)st.st_ino : 0;
    }
    hmk_region_publish(h);
}

/* The control block and the channels: the tools channel (0) may write
 * every out pin; the others nothing until the daemon grants them pins. */
static void init_caps(uint64_t gen)
{
    hmk_ctl_init(ctl, nchan, gen);
    mg.nchan = nchan;
    mg.pin = spec.pin;
    mg.h = &shm->hdr;
    mg.ctl = ctl;
    for (unsigned k = 0; k < nchan; k++)
        mg.chan[k] = chan[k];
    hmk_merge_init(&mg, spec.n);
    for (unsigned k = 0; k < nchan; k++)
        hmk_chan_init(chan[k], k, gen);
}

static gid_t region_gid = (gid_t)-1; /* -1: leave the creator's group */

/* Maps, pre-faults and locks an object the bridge uses every cycle. */
static int map_locked(int fd, size_t size, void **map, char *err, unsigned errlen)
{
    int r;

    *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (*map == MAP_FAILED) {
        r = -errno;
        snprintf(err, errlen, "region='%s': mmap: %s", region, strerror(-r));
        return r;
    }
    memset(*map, 0, size); /* pre-fault every page */
    if (mlock(*map, size) < 0) {
        r = -errno;
        snprintf(err, errlen, "region='%s': mlock %zu bytes: %s", region, size, strerror(-r));
        return r;
    }
    return 0;
}

/* Creates, sizes (fallocate: a full /dev/shm fails here, not later with
 * SIGBUS), permission-sets and maps a new object under a temporary name.
 * perm never has group or other write: only rtapi_app's user writes it. */
static int make_object(const char *tmp, unsigned perm, size_t size, int *fd, void **map,
                       char *err, unsigned errlen)
{
    int r;

    unlink(tmp);
    *fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, perm);
    if (*fd < 0) {
        r = -errno;
        snprintf(err, errlen, "region='%s': cannot create %s: %s", region, tmp, strerror(-r));
        return r;
    }
    if (region_gid != (gid_t)-1 && fchown(*fd, (uid_t)-1, region_gid) < 0) {
        r = -errno;
        snprintf(err, errlen, "group='%s': cannot give the region to it: %s (the user running "
                 "LinuxCNC must be a member)", group, strerror(-r));
        return r;
    }
    /* after fchown, which may clear set-id bits: the mode is set, not umasked */
    r = fchmod(*fd, perm) < 0 ? -errno : 0;
    if (r == 0)
        r = -posix_fallocate(*fd, 0, (off_t)size);
    if (r < 0) {
        /* the stream is the one object whose size the user picks */
        bool stream = strstr(tmp, HMK_STREAM_SUFFIX) != NULL;
        snprintf(err, errlen, "region='%s': cannot size %zu bytes in /dev/shm%s: %s", region, size,
                 stream ? " for the change stream (a smaller stream_depth= needs less)" : "",
                 strerror(-r));
        return r;
    }
    return map_locked(*fd, size, map, err, errlen);
}

/* A sealed memfd: no process, whoever holds it, can shrink or grow it, so
 * no store of the bridge into it can ever fault. */
static int make_memfd(const char *what, size_t size, int *fd, void **map, char *err,
                      unsigned errlen)
{
    int r = 0;

    *fd = memfd_create(what, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (*fd < 0)
        r = -errno;
    else if (ftruncate(*fd, (off_t)size) < 0)
        r = -errno;
    else if ((r = -posix_fallocate(*fd, 0, (off_t)size)) < 0)
        ;
    else if (fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        r = -errno;
    if (r < 0) {
        snprintf(err, errlen, "region='%s': cannot make the %s (%zu bytes, sealed memfd): %s",
                 region, what, size, strerror(-r));
        return r;
    }
    return map_locked(*fd, size, map, err, errlen);
}

static int make_caps(char *err, unsigned errlen)
{
    void *map = MAP_FAILED;
    int r = make_memfd("hal-microkernel-ctl", sizeof(*ctl), &ctl_fd, &map, err, errlen);

    ctl = map;
    for (unsigned k = 0; r == 0 && k < nchan; k++) {
        map = NULL;
        r = make_memfd("hal-microkernel-channel", sizeof(struct hmk_chan), &chan_fd[k], &map,
                       err, errlen);
        chan[k] = map == MAP_FAILED ? NULL : map;
    }
    return r;
}

static void free_caps(void)
{
    for (unsigned k = 0; k < nchan; k++) {
        if (chan[k])
            munmap(chan[k], sizeof(struct hmk_chan));
        chan[k] = NULL;
        if (chan_fd[k] >= 0)
            close(chan_fd[k]);
        chan_fd[k] = -1;
    }
    if (ctl != MAP_FAILED)
        munmap(ctl, sizeof(*ctl));
    ctl = MAP_FAILED;
    if (ctl_fd >= 0)
        close(ctl_fd);
    ctl_fd = -1;
}

/* Unlinks path only if it still names our object, not a newer bridge's. */
static void unlink_if_ours(int fd, const char *path)
{
    struct stat a, b;

    if (fd >= 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
        a.st_ino == b.st_ino && a.st_dev == b.st_dev)
        unlink(path);
}

/* Builds the region under a temporary name and renames it into place, so
 * nobody ever attaches to a half-made one. */
static int make_region(const char *pfx, unsigned perm, char *err, unsigned errlen)
{
    /* only rtapi_app's user writes what is in /dev/shm: the others read */
    unsigned rperm = perm & ~0022u;
    /* static: load time only, and HAL's modules keep their stack small */
    static char tmp[sizeof(shm_path) + 32], stmp[sizeof(sobj_path) + 32];
    struct timespec ts;
    uint64_t gen = 0, now;
    void *map = MAP_FAILED, *smap = MAP_FAILED;
    int r;

    snprintf(shm_path, sizeof(shm_path), "/dev/shm/%s", region);
    snprintf(tmp, sizeof(tmp), "/dev/shm/.%s.%ld", region, (long)getpid());
    snprintf(sobj_path, sizeof(sobj_path), "%s%s", shm_path, HMK_STREAM_SUFFIX);
    snprintf(stmp, sizeof(stmp), "/dev/shm/.%s%s.%ld", region, HMK_STREAM_SUFFIX, (long)getpid());
    r = make_caps(err, errlen);
    if (r == 0)
        r = make_object(tmp, rperm, sizeof(*shm), &shm_fd, &map, err, errlen);
    shm = map;
    stream_len = (uint32_t)stream_depth;
    sobj_size = sizeof(struct hmk_stream_hdr) + (size_t)stream_len * sizeof(struct hmk_stream_rec);
    if (r == 0)
        r = make_object(stmp, rperm, sobj_size, &sobj_fd, &smap, err, errlen);
    sobj = smap;
    if (r == 0)
        r = retire_old(shm_path, &gen, err, errlen);
    if (r < 0)
        goto fail;
    clock_gettime(CLOCK_REALTIME, &ts);
    now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    gen = gen + 1 > now ? gen + 1 : now;
    sobj->depth = stream_len;
    sobj->generation = gen;
    sobj->magic = HMK_STREAM_MAGIC;
    init_region(pfx, gen);
    init_caps(gen);
    /* the stream first: whoever opens the new region finds it */
    {
        const char *to = sobj_path;
        if (rename(stmp, sobj_path) < 0 || (to = shm_path, rename(tmp, shm_path) < 0)) {
            r = -errno;
            /* EPERM: in the sticky /dev/shm, a stale one of another user's */
            snprintf(err, errlen, "region='%s': cannot put %s in place: %s%s", region, to,
                     strerror(-r), r == -EPERM ? " (another user's is there: remove it)" : "");
            unlink_if_ours(sobj_fd, sobj_path);
            goto fail;
        }
    }
    return 0;
fail:
    if (sobj != MAP_FAILED)
        munmap(sobj, sobj_size);
    if (shm != MAP_FAILED)
        munmap(shm, sizeof(*shm));
    shm = MAP_FAILED;
    sobj = MAP_FAILED;
    unlink(tmp);
    unlink(stmp);
    if (sobj_fd >= 0)
        close(sobj_fd);
    if (shm_fd >= 0)
        close(shm_fd);
    sobj_fd = shm_fd = -1;
    free_caps();
    return r;
}

/* A group parameter: unset or empty leaves *gid alone. */
static int lookup_group(const char *param, const char *name, gid_t *gid, char *err, unsigned errlen)
{
    struct group *g;

    if (!name || !*name)
        return 0;
    g = getgrnam(name);
    if (!g) {
        snprintf(err, errlen, "%s='%s': no such group", param, name);
        return -EINVAL;
    }
    *gid = g->gr_gid;
    return 0;
}

static int check_params(const char **pfx, unsigned *perm, char *err, unsigned errlen)
{
    int r;

    if (!region || !*region)
        region = HMK_DEFAULT_REGION;
    *pfx = prefix && *prefix ? prefix : HMK_DEFAULT_PREFIX;
    r = hmk_pinspec_check_region(region, err, errlen);
    if (r == 0)
        r = hmk_pinspec_parse_mode(mode && *mode ? mode : "0640", perm, err, errlen);
    if (r == 0)
        r = lookup_group("group", group, &region_gid, err, errlen);
    if (r == 0 && (stream_depth < 16 || stream_depth > (int)HMK_STREAM_MAX_DEPTH)) {
        snprintf(err, errlen, "stream_depth=%d: must be 16..%u", stream_depth, HMK_STREAM_MAX_DEPTH);
        r = -EINVAL;
    }
    if (r == 0 && (channels < 2 || channels > (int)HMK_MAX_CHANNELS)) {
        snprintf(err, errlen, "channels=%d: must be 2..%u (the tools channel and one per "
                 "writing service)", channels, HMK_MAX_CHANNELS);
        r = -EINVAL;
    }
    if (r == 0 && (timeout_ms < 1 || timeout_ms > 3600000)) {
        snprintf(err, errlen, "timeout_ms=%d: must be 1..3600000", timeout_ms);
        r = -EINVAL;
    }
    if (r == 0)
        r = hmk_pinspec_parse(*pfx, count, pins, &spec, err, errlen);
    if (r == 0)
        r = hmk_pinspec_slot_types(&spec, types, err, errlen);
    if (r == 0)
        r = hmk_pinspec_slot_safe(&spec, safe, err, errlen);
    return r;
}

int rtapi_app_main(void)
{
    char err[1024];
    const char *pfx;
    unsigned perm = 0;
    int r;

    for (unsigned k = 0; k < HMK_MAX_CHANNELS; k++)
        chan_fd[k] = -1;
    r = check_params(&pfx, &perm, err, sizeof(err));
    if (r < 0) {
        rtapi_print_msg(RTAPI_MSG_ERR, MODNAME ": %s\n", err);
        return r;
    }
    if (writers && *writers)
        rtapi_print_msg(RTAPI_MSG_ERR, MODNAME ": writers='%s' is ignored: write rights are "
                        "channels the daemon hands out (see hal_microkernel_bridge(9))\n", writers);
    nchan = (unsigned)channels;
    timeout_ns = (uint64_t)timeout_ms * 1000000ull;
    comp_id = hal_init(MODNAME);
    if (comp_id < 0) {
        rtapi_print_msg(RTAPI_MSG_ERR, MODNAME ": hal_init failed (error %d)\n", comp_id);
        return comp_id;
    }
    r = make_hal(pfx, err, sizeof(err));
    if (r == 0)
        r = make_region(pfx, perm, err, sizeof(err));
    if (r != 0) {
        rtapi_print_msg(RTAPI_MSG_ERR, MODNAME ": %s\n", err);
        hal_exit(comp_id); /* removes every pin and function made so far */
        return r < 0 ? r : -EINVAL;
    }
    hal_ready(comp_id);
    return 0;
}

void rtapi_app_exit(void)
{
    struct timespec grace = { 0, 20000000 };

    if (shm != MAP_FAILED) {
        atomic_store_explicit(&shm->hdr.state, HMK_STATE_DETACHED, memory_order_release);
        /* waiters see -ESTALE at once: here, outside the realtime thread,
         * every one of them may be woken directly */
        atomic_fetch_add_explicit(&shm->hdr.change_word, 2, memory_order_seq_cst);
        syscall(SYS_futex, &shm->hdr.change_word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
        unlink_if_ours(shm_fd, shm_path);
        unlink_if_ours(sobj_fd, sobj_path);
    }
    /* take the functions out of the threads before unmapping what they use;
     * an invocation already under way gets a moment to finish (this is the
     * non-realtime exit path: sleeping is fine here) */
    hal_exit(comp_id);
    if (shm != MAP_FAILED) {
        nanosleep(&grace, NULL);
        munmap(shm, sizeof(*shm));
        munmap(sobj, sobj_size);
        shm = MAP_FAILED;
        sobj = MAP_FAILED;
        free_caps();
    }
    if (sobj_fd >= 0)
        close(sobj_fd);
    if (shm_fd >= 0)
        close(shm_fd);
    shm_fd = sobj_fd = -1;
}
