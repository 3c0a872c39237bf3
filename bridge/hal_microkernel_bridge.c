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
 * make no system call other than clock_gettime (vDSO); every loop is bounded
 * by the pin count or HMK_LATCH_RETRIES.
 */
#include "rtapi.h"
#include "rtapi_app.h"
#include "hal.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/* halcompile builds one file per module; the parser stays ordinary C so
 * the unit tests and fuzzers build it on its own. */
#include "hmk_pinspec.c"

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
static int timeout_ms = 500;
RTAPI_MP_INT(timeout_ms, "daemon heartbeat age after which connected goes false (ms)");
static int stream_depth = HMK_STREAM_DEFAULT_DEPTH;
RTAPI_MP_INT(stream_depth, "records in the change stream ring (16..1048576, default 4096)");
static char *mode = NULL;
RTAPI_MP_STRING(mode, "permissions of the region, octal (default 0660)");
static char *group = NULL;
RTAPI_MP_STRING(group, "group owning the region (default: LinuxCNC's user's group)");
static char *writers = NULL;
RTAPI_MP_STRING(writers, "group that may write (an ACL); the owning group then only reads");

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
static struct hmk_waiters *wobj = MAP_FAILED;
static int wobj_fd = -1;
static struct hmk_cmd_ring *cobj = MAP_FAILED;
static int cobj_fd = -1;
static char cobj_path[sizeof(shm_path) + sizeof(HMK_CMD_SUFFIX)];
static struct hmk_stream_hdr *sobj = MAP_FAILED;
static int sobj_fd = -1;
static size_t sobj_size;
static char sobj_path[sizeof(shm_path) + sizeof(HMK_STREAM_SUFFIX)];
static char wobj_path[sizeof(shm_path) + sizeof(HMK_WAITERS_SUFFIX)];
static struct hmk_pinspec spec;
static uint64_t timeout_ns;

/* realtime-side private state */
static uint64_t cycle;
static bool was_connected; /* the daemon's heartbeat was fresh at some point */
static bool faulted;       /* ... and then went stale: the fault latch */
static bool reset_prev;
static uint64_t exec_acc;
static uint64_t last_in[HMK_MAX_PINS];
static uint64_t latched[HMK_MAX_PINS];
static uint32_t latched_gen[HMK_MAX_PINS];
static uint32_t applied_gen[HMK_MAX_PINS];
static uint64_t wcycle;                     /* write-function cycles */
static uint64_t last_pulse[HMK_MAX_PINS];   /* wcycle of the pin's last pulse */

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

/* HAL -> region: one consistent snapshot of every in value per cycle. */
/* HAL -> region; leaves its own time in exec_acc. */
static void do_read(void)
{
    struct hmk_region_header *h = &shm->hdr;
    uint64_t t0 = now_ns(), s, hb;
    unsigned changed = 0;

    cycle++;
    s = hmk_in_write_begin(&shm->in);
    for (unsigned i = 0; i < spec.n; i++) {
        uint64_t raw;
        if (!(spec.pin[i].dir & HMK_RD_IN))
            continue;
        raw = hal_get(spec.pin[i].type, hal->ptr[2 * i]);
        if (raw != last_in[i]) {
            last_in[i] = raw;
            changed++;
            atomic_store_explicit(&shm->in.changed_cycle[i], cycle, memory_order_relaxed);
            hmk_stream_append(sobj, cycle, i, raw);
        }
        atomic_store_explicit(&shm->in.value[i], raw, memory_order_relaxed);
    }
    atomic_store_explicit(&shm->in.cycle, cycle, memory_order_relaxed);
    hmk_in_write_end(&shm->in, s);
    if (changed)
        hmk_change_publish(h, wobj);

    hb = atomic_load_explicit(&h->daemon_heartbeat_ns, memory_order_acquire);
    *hal->connected = hb != 0 && (t0 <= hb || t0 - hb <= timeout_ns);
    update_fault(*hal->connected);
    *hal->update_count = (hal_u32_t)cycle;
    atomic_store_explicit(&h->bridge_time_ns, t0, memory_order_relaxed);
    atomic_store_explicit(&h->bridge_cycle, cycle, memory_order_release);
    atomic_fetch_add_explicit(&h->cycles, 1, memory_order_relaxed);
    exec_acc = now_ns() - t0;
}

/* One-shot commands, in order, at most HMK_CMD_PER_CYCLE a cycle. A pulse
 * overrides the out value for this cycle only (the latch drives the pin
 * again next cycle); a second pulse on a pin waits a cycle, so two never
 * merge, and commands behind it wait too, keeping the order. While the
 * fault latch is set, commands are dropped and counted: a pulse must not
 * fire long after it was asked for, when the service that sent it is gone. */
static void drain_commands(void)
{
    uint64_t h = atomic_load_explicit(&cobj->head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&cobj->tail, memory_order_acquire);

    for (unsigned k = 0; k < HMK_CMD_PER_CYCLE && h != t; k++) {
        const struct hmk_cmd_rec *c = &cobj->rec[h % HMK_CMD_DEPTH];
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        uint32_t pin = atomic_load_explicit(&c->pin, memory_order_relaxed);
        const struct hmk_pin_desc *p = pin < spec.n ? &spec.pin[pin] : NULL;

        if (seq != h + 1 || !p || !(p->dir & HMK_RD_OUT) || faulted) {
            atomic_fetch_add_explicit(&cobj->dropped, 1, memory_order_relaxed);
            h++;
            continue;
        }
        if (last_pulse[pin] && last_pulse[pin] + 1 >= wcycle)
            break;
        hal_put(p->type, hal->ptr[2 * pin + ((p->flags & HMK_PIN_SLOT) ? 1 : 0)],
                atomic_load_explicit(&c->value, memory_order_relaxed));
        last_pulse[pin] = wcycle;
        atomic_fetch_add_explicit(&cobj->done, 1, memory_order_relaxed);
        h++;
    }
    atomic_store_explicit(&cobj->head, h, memory_order_release);
}

/* region -> HAL: read the latch's stable copy, at most HMK_LATCH_RETRIES
 * tries; on a miss keep last cycle's values and count it. */
/* region -> HAL; adds its own time to exec_acc. */
static void do_write(void)
{
    struct hmk_region_header *h = &shm->hdr;
    struct hmk_out_block *b = &shm->out;
    uint64_t t0 = now_ns();
    unsigned tries;

    for (tries = 0; tries < HMK_LATCH_RETRIES; tries++) {
        uint64_t s = hmk_out_read_begin(b);
        const struct hmk_out_copy *c = &b->copy[s & 1u];
        for (unsigned i = 0; i < spec.n; i++) {
            if (!(spec.pin[i].dir & HMK_RD_OUT))
                continue;
            latched[i] = atomic_load_explicit(&c->value[i], memory_order_relaxed);
            latched_gen[i] = atomic_load_explicit(&c->wgen[i], memory_order_relaxed);
        }
        if (!hmk_out_read_retry(b, s))
            break;
        atomic_fetch_add_explicit(&h->torn_retries, 1, memory_order_relaxed);
    }
    if (faulted) {
        /* the region's values are not applied while the latch is set */
        for (unsigned i = 0; i < spec.n; i++) {
            const struct hmk_pin_desc *p = &spec.pin[i];
            if ((p->dir & HMK_RD_OUT) && p->policy == HMK_POLICY_SAFE)
                hal_put(p->type, hal->ptr[2 * i + ((p->flags & HMK_PIN_SLOT) ? 1 : 0)],
                        p->safe_value);
        }
    } else if (tries == HMK_LATCH_RETRIES) {
        uint64_t m = atomic_fetch_add_explicit(&h->latch_misses, 1, memory_order_relaxed) + 1;
        *hal->error_count = (hal_u32_t)m;
    } else {
        for (unsigned i = 0; i < spec.n; i++) {
            const struct hmk_pin_desc *p = &spec.pin[i];
            if (!(p->dir & HMK_RD_OUT))
                continue;
            /* an io pin is driven only when a writer changed it, so HAL's
             * own value is not overwritten by a stale one every cycle */
            if (p->dir == HMK_RD_IO && !(p->flags & HMK_PIN_SLOT)) {
                if (latched_gen[i] == applied_gen[i])
                    continue;
                applied_gen[i] = latched_gen[i];
            }
            /* named pins have one HAL pin: its pointer is ptr[2i], which
             * HAL rewrites when the pin is linked */
            hal_put(p->type, hal->ptr[2 * i + ((p->flags & HMK_PIN_SLOT) ? 1 : 0)], latched[i]);
        }
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

    memcpy(shm->pin, spec.pin, spec.n * sizeof(spec.pin[0]));
    h->abi_version = HMK_ABI_VERSION;
    h->header_size = sizeof(*h);
    h->pin_desc_size = sizeof(struct hmk_pin_desc);
    h->region_size = sizeof(*shm);
    h->pin_count = spec.n;
    h->max_pins = HMK_MAX_PINS;
    h->heartbeat_timeout_ms = (uint32_t)timeout_ms;
    h->layout_hash = hmk_layout_hash(shm->pin, spec.n);
    h->generation = gen;
    snprintf(h->hal_prefix, sizeof(h->hal_prefix), "%s", pfx);
    hmk_mutex_init_shared(&shm->out.lock);
    h->magic = HMK_REGION_MAGIC;
    atomic_store_explicit(&h->state, HMK_STATE_ATTACHED, memory_order_release);
}

/* Creates, sizes (fallocate: a full /dev/shm fails here, not later with
 * SIGBUS), permission-sets and maps a new object under a temporary name. */
static gid_t region_gid = (gid_t)-1; /* -1: leave the creator's group */
static gid_t writers_gid = (gid_t)-1; /* -1: no access list, the mode says it all */

/* With writers=: an access ACL giving that group `wacl` (rw or r) beside
 * what the mode gives owner, owning group and others. The mask is what the
 * two groups need together; entries in the tag order the kernel requires. */
static int set_writers_acl(int fd, unsigned perm, unsigned wacl)
{
    static const uint16_t tag[5] = { ACL_USER_OBJ, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER };
    unsigned bits[5] = { (perm >> 6) & 7, (perm >> 3) & 7, wacl, ((perm >> 3) & 7) | wacl, perm & 7 };
    struct {
        struct posix_acl_xattr_header h;
        struct posix_acl_xattr_entry e[5];
    } acl;

    acl.h.a_version = htole32(POSIX_ACL_XATTR_VERSION);
    for (int i = 0; i < 5; i++) {
        acl.e[i].e_tag = htole16(tag[i]);
        acl.e[i].e_perm = htole16((uint16_t)bits[i]);
        acl.e[i].e_id = htole32(tag[i] == ACL_GROUP ? (uint32_t)writers_gid : (uint32_t)ACL_UNDEFINED_ID);
    }
    return fsetxattr(fd, "system.posix_acl_access", &acl, sizeof(acl), 0) < 0 ? -errno : 0;
}

static int make_object(const char *tmp, unsigned perm, unsigned wacl, size_t size, int *fd,
                       void **map, char *err, unsigned errlen)
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
    if (r == 0 && writers_gid != (gid_t)-1 && (r = set_writers_acl(*fd, perm, wacl)) < 0) {
        snprintf(err, errlen, "writers='%s': cannot set the region's access list: %s (/dev/shm "
                 "must support POSIX ACLs)", writers, strerror(-r));
        return r;
    }
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
    *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
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
    /* whoever may read the region may register as a waiter; only the
     * bridge writes the stream; with writers= the owning group reads only */
    unsigned wperm = (perm & 0666) | ((perm & 0444) >> 1), sperm = perm & ~0022u;
    unsigned rperm = writers_gid != (gid_t)-1 ? sperm : perm;
    /* static: load time only, and HAL's modules keep their stack small */
    static char tmp[sizeof(shm_path) + 32], wtmp[sizeof(wobj_path) + 32],
        stmp[sizeof(sobj_path) + 32], ctmp[sizeof(cobj_path) + 32];
    struct timespec ts;
    uint64_t gen = 0, now;
    void *map = MAP_FAILED, *wmap = MAP_FAILED, *smap = MAP_FAILED, *cmap = MAP_FAILED;
    int r;

    snprintf(shm_path, sizeof(shm_path), "/dev/shm/%s", region);
    snprintf(wobj_path, sizeof(wobj_path), "%s%s", shm_path, HMK_WAITERS_SUFFIX);
    snprintf(tmp, sizeof(tmp), "/dev/shm/.%s.%ld", region, (long)getpid());
    snprintf(wtmp, sizeof(wtmp), "/dev/shm/.%s%s.%ld", region, HMK_WAITERS_SUFFIX, (long)getpid());
    snprintf(sobj_path, sizeof(sobj_path), "%s%s", shm_path, HMK_STREAM_SUFFIX);
    snprintf(stmp, sizeof(stmp), "/dev/shm/.%s%s.%ld", region, HMK_STREAM_SUFFIX, (long)getpid());
    snprintf(cobj_path, sizeof(cobj_path), "%s%s", shm_path, HMK_CMD_SUFFIX);
    snprintf(ctmp, sizeof(ctmp), "/dev/shm/.%s%s.%ld", region, HMK_CMD_SUFFIX, (long)getpid());
    r = make_object(tmp, rperm, 6, sizeof(*shm), &shm_fd, &map, err, errlen);
    shm = map;
    if (r == 0)
        r = make_object(wtmp, wperm, 6, HMK_WAITERS_SIZE, &wobj_fd, &wmap, err, errlen);
    wobj = wmap;
    sobj_size = sizeof(struct hmk_stream_hdr) + (size_t)stream_depth * sizeof(struct hmk_stream_rec);
    if (r == 0)
        r = make_object(stmp, sperm, 4, sobj_size, &sobj_fd, &smap, err, errlen);
    sobj = smap;
    if (r == 0)
        r = make_object(ctmp, rperm, 6, sizeof(*cobj), &cobj_fd, &cmap, err, errlen);
    cobj = cmap;
    if (r == 0)
        r = retire_old(shm_path, &gen, err, errlen);
    if (r < 0)
        goto fail;
    clock_gettime(CLOCK_REALTIME, &ts);
    now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    gen = gen + 1 > now ? gen + 1 : now;
    wobj->magic = HMK_WAITERS_MAGIC;
    wobj->generation = gen;
    sobj->depth = (uint32_t)stream_depth;
    sobj->generation = gen;
    sobj->magic = HMK_STREAM_MAGIC;
    cobj->depth = HMK_CMD_DEPTH;
    cobj->generation = gen;
    hmk_mutex_init_shared(&cobj->lock);
    cobj->magic = HMK_CMD_MAGIC;
    init_region(pfx, gen);
    /* companions first: whoever opens the new region finds them */
    {
        const char *from[] = { wtmp, stmp, ctmp, tmp };
        const char *to[] = { wobj_path, sobj_path, cobj_path, shm_path };
        const int *fds[] = { &wobj_fd, &sobj_fd, &cobj_fd, &shm_fd };
        unsigned k = 0;

        while (k < 4 && rename(from[k], to[k]) == 0)
            k++;
        if (k < 4) {
            r = -errno;
            /* EPERM: in the sticky /dev/shm, a stale one of another user's */
            snprintf(err, errlen, "region='%s': cannot put %s in place: %s%s", region, to[k],
                     strerror(-r), r == -EPERM ? " (another user's is there: remove it)" : "");
            /* a load that fails leaves nothing: take back what went in already */
            while (k--)
                unlink_if_ours(*fds[k], to[k]);
            goto fail;
        }
    }
    return 0;
fail:
    if (cobj != MAP_FAILED)
        munmap(cobj, sizeof(*cobj));
    cobj = MAP_FAILED;
    unlink(ctmp);
    if (cobj_fd >= 0)
        close(cobj_fd);
    cobj_fd = -1;
    if (sobj != MAP_FAILED)
        munmap(sobj, sobj_size);
    if (wobj != MAP_FAILED)
        munmap(wobj, HMK_WAITERS_SIZE);
    if (shm != MAP_FAILED)
        munmap(shm, sizeof(*shm));
    wobj = MAP_FAILED;
    shm = MAP_FAILED;
    sobj = MAP_FAILED;
    unlink(tmp);
    unlink(wtmp);
    unlink(stmp);
    if (sobj_fd >= 0)
        close(sobj_fd);
    sobj_fd = -1;
    if (wobj_fd >= 0)
        close(wobj_fd);
    if (shm_fd >= 0)
        close(shm_fd);
    wobj_fd = shm_fd = -1;
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
        r = hmk_pinspec_parse_mode(mode && *mode ? mode : "0660", perm, err, errlen);
    if (r == 0)
        r = lookup_group("group", group, &region_gid, err, errlen);
    if (r == 0)
        r = lookup_group("writers", writers, &writers_gid, err, errlen);
    if (r == 0 && (stream_depth < 16 || stream_depth > (int)HMK_STREAM_MAX_DEPTH)) {
        snprintf(err, errlen, "stream_depth=%d: must be 16..%u", stream_depth, HMK_STREAM_MAX_DEPTH);
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

    r = check_params(&pfx, &perm, err, sizeof(err));
    if (r < 0) {
        rtapi_print_msg(RTAPI_MSG_ERR, MODNAME ": %s\n", err);
        return r;
    }
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
        hmk_change_publish(&shm->hdr, wobj); /* waiters see -ESTALE at once */
        unlink_if_ours(shm_fd, shm_path);
        unlink_if_ours(wobj_fd, wobj_path);
        unlink_if_ours(sobj_fd, sobj_path);
        unlink_if_ours(cobj_fd, cobj_path);
    }
    /* take the functions out of the threads before unmapping what they use;
     * an invocation already under way gets a moment to finish (this is the
     * non-realtime exit path: sleeping is fine here) */
    hal_exit(comp_id);
    if (shm != MAP_FAILED) {
        nanosleep(&grace, NULL);
        munmap(shm, sizeof(*shm));
        munmap(wobj, HMK_WAITERS_SIZE);
        munmap(sobj, sobj_size);
        munmap(cobj, sizeof(*cobj));
        shm = MAP_FAILED;
        wobj = MAP_FAILED;
        sobj = MAP_FAILED;
        cobj = MAP_FAILED;
    }
    if (sobj_fd >= 0)
        close(sobj_fd);
    if (cobj_fd >= 0)
        close(cobj_fd);
    if (shm_fd >= 0)
        close(shm_fd);
    if (wobj_fd >= 0)
        close(wobj_fd);
    shm_fd = wobj_fd = sobj_fd = cobj_fd = -1;
}
