/*
 * libhalmk: region attach, pin lookup, reads and snapshots. The contract is
 * in include/halmk.h (include/halmk_tool.h for what only in-tree tools use);
 * the layout and the seqlock rules are in include/hmk_region.h. Writes and
 * pulses are in lib/halmk_write.c, change notification in lib/halmk_wait.c.
 */
#include "halmk.h"
#include "halmk_tool.h"
#include "hmk_region.h"
#include "halmk_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The public enums (halmk.h) and the region's (hmk_region.h, which the
 * bridge compiles against without the library) are one numbering: the
 * library passes one for the other with a cast. */
_Static_assert(HMK_TYPE_BIT == (int)HMK_RT_BIT && HMK_TYPE_FLOAT == (int)HMK_RT_FLOAT &&
               HMK_TYPE_S32 == (int)HMK_RT_S32 && HMK_TYPE_U32 == (int)HMK_RT_U32,
               "hmk_type and hmk_region_type differ");
_Static_assert(HMK_DIR_IN == (int)HMK_RD_IN && HMK_DIR_OUT == (int)HMK_RD_OUT &&
               HMK_DIR_IO == (int)HMK_RD_IO, "hmk_dir and hmk_region_dir differ");

/* A reader that keeps losing to the bridge (it writes once per servo
 * period, for microseconds) yields after this many tries, then gives up. */
#define HMK_READ_SPINS   64u
#define HMK_READ_TRIES   100000u

/* Test-only deliberate corruption: built with -DHMK_BROKEN_SEQLOCK (the
 * halstress-broken binary, never installed, never libhalmk itself) the
 * readers below take whatever they read, ignoring the counter, so that
 * tests/hal/halstress_broken can show halstress catches torn snapshots. */
#ifdef HMK_BROKEN_SEQLOCK
#define HMK_SKIP_RETRY 1
#else
#define HMK_SKIP_RETRY 0
#endif

#define SHM_DIR "/dev/shm/" /* where shm_open(3) keeps "/name" */

/* A region's name fits r->name and, after SHM_DIR, a path of NAME_MAX + 16. */
static int hmk_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > NAME_MAX - 1 || strchr(name, '/') || name[0] == '.')
        return 0;
    return 1;
}

static int hmk_header_check(const struct hmk_region_header *h, off_t file_size)
{
    if (h->magic != HMK_REGION_MAGIC)
        return -EBADMSG;
    if (h->abi_version != HMK_ABI_VERSION)
        return -EPROTONOSUPPORT;
    if (h->header_size != sizeof(struct hmk_region_header) ||
        h->pin_desc_size != sizeof(struct hmk_pin_desc) ||
        h->region_size != sizeof(struct hmk_shm) ||
        (uint64_t)file_size != h->region_size)
        return -EMSGSIZE;
    if (h->max_pins != HMK_MAX_PINS || h->pin_count == 0 || h->pin_count > HMK_MAX_PINS)
        return -EBADMSG;
    if (memchr(h->hal_prefix, '\0', sizeof(h->hal_prefix)) == NULL)
        return -EBADMSG;
    return 0;
}

static int hmk_pins_check(const struct hmk_pin_desc *p, unsigned n, uint64_t hash)
{
    for (unsigned i = 0; i < n; i++) {
        if (memchr(p[i].name, '\0', sizeof(p[i].name)) == NULL || p[i].name[0] == '\0')
            return -EBADMSG;
        if (p[i].type < HMK_RT_BIT || p[i].type > HMK_RT_U32)
            return -EBADMSG;
        if (p[i].dir < HMK_RD_IN || p[i].dir > HMK_RD_IO)
            return -EBADMSG;
    }
    return hmk_layout_hash(p, n) == hash ? 0 : -EBADMSG;
}

static int hmk_state_check(uint32_t state)
{
    if (state == HMK_STATE_ATTACHED)
        return 0;
    return state == HMK_STATE_DETACHED ? -ESTALE : -EAGAIN;
}

/* $HMK_WRITE_PINS, set by the daemon from the service's `writes =`:
 * comma- or space-separated pin names. Unknown names are an error: a
 * config that grants a pin the bridge does not have is a mistake. */
static int hmk_grants_load(hmk_region *r)
{
    const char *env = getenv("HMK_WRITE_PINS");
    char buf[8192], *save = NULL;

    if (!env)
        return 0;
    r->granted_only = true;
    if (strlen(env) >= sizeof(buf))
        return -E2BIG;
    strcpy(buf, env);
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        int i = hmk_pin_find(r, tok);
        if (i < 0)
            return -ENXIO;
        r->granted[i / 64] |= 1ull << (i % 64);
    }
    return 0;
}

/* $HMK_WRITE_PINS set but naming no pin: the service was granted nothing. */
static bool hmk_granted_nothing(void)
{
    const char *env = getenv("HMK_WRITE_PINS");

    return env && env[strspn(env, ", ")] == '\0';
}

int hmk_open(const char *name, unsigned flags, hmk_region **out)
{
    struct hmk_region_header h;
    struct hmk_shm *shm = MAP_FAILED;
    hmk_region *r = NULL;
    struct stat st;
    char path[NAME_MAX + 16];
    int fd = -1, ret;

    if (!out || (flags & ~HMK_OPEN_RDONLY))
        return -EINVAL;
    if (!name)
        name = getenv("HAL_MICROKERNEL_REGION");
    if (!name || !*name)
        name = HMK_DEFAULT_REGION;
    if (!hmk_name_valid(name))
        return -EINVAL;
    /* granted nothing: refuse writes here already */
    if (hmk_granted_nothing())
        flags |= HMK_OPEN_RDONLY;
    /* always read-only: writes go to a channel, never to the region. Not
     * blocking, and only a regular file: a FIFO squatting the name must
     * give an error, not hang us */
    /* by hand, not snprintf: the daemon attaches through here, and libc's
     * printf is pages it otherwise never keeps mapped (daemon/fmt.h). The
     * name's length was checked above, so both fit. */
    memcpy(path, SHM_DIR, sizeof(SHM_DIR) - 1);
    strcpy(path + sizeof(SHM_DIR) - 1, name);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0)
        return errno == ELOOP ? -EBADMSG : -errno;
    if (fstat(fd, &st) < 0) {
        ret = -errno;
        goto fail;
    }
    /* the header once, into our own copy: everything below uses only it,
     * so a writer racing us cannot make us size or index by another value */
    if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(h) ||
        pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
        ret = -EBADMSG;
        goto fail;
    }
    ret = hmk_header_check(&h, st.st_size);
    if (ret < 0)
        goto fail;
    ret = hmk_state_check(h.state);
    if (ret < 0)
        goto fail;
    shm = mmap(NULL, h.region_size, PROT_READ, MAP_SHARED, fd, 0);
    if (shm == MAP_FAILED) {
        ret = -errno;
        goto fail;
    }
    r = calloc(1, sizeof(*r) + h.pin_count * sizeof(r->pins[0]));
    if (!r) {
        ret = -ENOMEM;
        goto fail;
    }
    r->poke_fd = -1;
    r->hdr = h;
    r->pin_count = h.pin_count;
    memcpy(r->pins, shm->pin, r->pin_count * sizeof(r->pins[0]));
    ret = hmk_pins_check(r->pins, r->pin_count, h.layout_hash);
    if (ret < 0)
        goto fail;
    r->shm = shm;
    r->size = h.region_size;
    r->flags = flags;
    r->generation = h.generation;
    strcpy(r->name, name); /* fits: hmk_name_valid */
    memcpy(r->prefix, h.hal_prefix, sizeof(r->prefix));
    r->prefix[sizeof(r->prefix) - 1] = '\0';
    ret = hmk_grants_load(r);
    if (ret < 0)
        goto fail;
    close(fd);
    *out = r;
    return 0;

fail:
    free(r);
    if (shm != MAP_FAILED)
        munmap(shm, h.region_size);
    if (fd >= 0)
        close(fd);
    return ret;
}

void hmk_close(hmk_region *r)
{
    if (!r)
        return;
    hmk_notify_stop(r); /* its thread waits on the mapping: first */
    hmk_cap_release(r);
    munmap((void *)r->shm, r->size);
    free(r);
}

const char *hmk_region_name(const hmk_region *r)
{
    return r->name;
}

int hmk_check(const hmk_region *r)
{
    return hmk_state_check(atomic_load_explicit(&r->shm->hdr.state, memory_order_acquire));
}

uint64_t hmk_cycle_time(const hmk_region *r, uint64_t cycle)
{
    const struct hmk_region_header *h = &r->shm->hdr;
    uint64_t c1, t, c2;

    /* the header keeps only the latest cycle's stamp: an older cycle's was
     * overwritten, and the latest one is a later time than it had */
    c1 = atomic_load_explicit(&h->bridge_cycle, memory_order_acquire);
    t = atomic_load_explicit(&h->bridge_time_ns, memory_order_acquire);
    c2 = atomic_load_explicit(&h->bridge_cycle, memory_order_acquire);
    (void)cycle;
    return c1 == c2 ? t : 0;
}

int hmk_stats(const hmk_region *r, struct hmk_stats *o)
{
    const struct hmk_region_header *h = &r->shm->hdr;

    memset(o, 0, sizeof(*o));
    o->generation = r->generation;
    o->cycle = atomic_load_explicit(&h->bridge_cycle, memory_order_relaxed);
    o->bridge_time_ns = atomic_load_explicit(&h->bridge_time_ns, memory_order_relaxed);
    o->heartbeat_ns = atomic_load_explicit(&h->daemon_heartbeat_ns, memory_order_relaxed);
    o->connected = atomic_load_explicit(&h->connected, memory_order_relaxed) != 0;
    o->faulted = h->faulted != 0;
    o->rejected = atomic_load_explicit(&h->rejected, memory_order_relaxed);
    o->cycles = atomic_load_explicit(&h->cycles, memory_order_relaxed);
    o->torn_retries = atomic_load_explicit(&h->torn_retries, memory_order_relaxed);
    o->latch_misses = atomic_load_explicit(&h->latch_misses, memory_order_relaxed);
    o->writer_recoveries = r->chan ? atomic_load_explicit(&r->chan->writer_recoveries,
                                                          memory_order_relaxed) : 0;
    o->exec_ns_last = atomic_load_explicit(&h->exec_ns_last, memory_order_relaxed);
    o->exec_ns_max = atomic_load_explicit(&h->exec_ns_max, memory_order_relaxed);
    o->out_commits = atomic_load_explicit(&h->out_applied, memory_order_relaxed);
    o->layout_hash = r->hdr.layout_hash;
    o->pin_count = r->pin_count;
    o->heartbeat_timeout_ms = r->hdr.heartbeat_timeout_ms;
    return hmk_check(r);
}

unsigned hmk_pin_count(const hmk_region *r)
{
    return r->pin_count;
}

static int hmk_find_exact(const hmk_region *r, const char *name, size_t len, int slot_only)
{
    for (unsigned i = 0; i < r->pin_count; i++) {
        const struct hmk_pin_desc *p = &r->pins[i];
        if (slot_only && !(p->flags & HMK_PIN_SLOT))
            continue;
        if (strncmp(p->name, name, len) == 0 && p->name[len] == '\0')
            return (int)i;
    }
    return -ENOENT;
}

static int hmk_find_index(const hmk_region *r, const char *name)
{
    char *end;
    unsigned long v;

    if (name[0] < '0' || name[0] > '9')
        return -ENOENT;
    errno = 0;
    v = strtoul(name, &end, 10);
    if (errno || *end || v >= r->pin_count)
        return -ENOENT;
    return (int)v;
}

/* By region name; a seed slot also by its HAL pins' names pin.N.in/.out. */
static int hmk_find_name(const hmk_region *r, const char *name)
{
    size_t len = strlen(name);
    int i = hmk_find_exact(r, name, len, 0);

    if (i >= 0)
        return i;
    if (len > 3 && strcmp(name + len - 3, ".in") == 0)
        return hmk_find_exact(r, name, len - 3, 1);
    if (len > 4 && strcmp(name + len - 4, ".out") == 0)
        return hmk_find_exact(r, name, len - 4, 1);
    return -ENOENT;
}

int hmk_pin_find(const hmk_region *r, const char *name)
{
    size_t plen = strlen(r->prefix);
    int i;

    if (!name || !*name)
        return -EINVAL;
    i = hmk_find_index(r, name);
    if (i >= 0)
        return i;
    /* the region name first: a pin may be named "<prefix>.x" (with
     * prefix=spindle, pin spindle.speed), then the HAL name */
    i = hmk_find_name(r, name);
    if (i >= 0)
        return i;
    if (strncmp(name, r->prefix, plen) == 0 && name[plen] == '.')
        return hmk_find_name(r, name + plen + 1);
    return -ENOENT;
}

int hmk_pin_info(const hmk_region *r, unsigned index, struct hmk_pin_info *o)
{
    const struct hmk_pin_desc *p;

    if (index >= r->pin_count)
        return -ERANGE;
    p = &r->pins[index];
    o->name = p->name;
    o->type = (enum hmk_type)p->type;
    o->dir = (enum hmk_dir)p->dir;
    o->index = index;
    o->slot = (p->flags & HMK_PIN_SLOT) != 0;
    return 0;
}

/* The checks of hmk_txn_set that need no channel, in the same order. */
int hmk_write_granted(const hmk_region *r, unsigned index)
{
    if (!r)
        return -EINVAL;
    if (index >= r->pin_count)
        return -ERANGE;
    if ((r->flags & HMK_OPEN_RDONLY) || !(r->pins[index].dir & HMK_RD_OUT))
        return 0;
    if (r->granted_only && !(r->granted[index / 64] & (1ull << (index % 64))))
        return 0;
    return 1;
}

static void hmk_decode(uint8_t type, uint64_t raw, hmk_value *v)
{
    v->type = (enum hmk_type)type;
    switch (type) {
    case HMK_RT_BIT:   v->b = raw != 0; break;
    case HMK_RT_FLOAT: v->f = hmk_dec_float(raw); break;
    case HMK_RT_S32:   v->s = hmk_dec_s32(raw); break;
    default:           v->u = (uint32_t)raw; break;
    }
}

int hmk_read_in(const hmk_region *r, unsigned index, hmk_value *v)
{
    if (index >= r->pin_count)
        return -ERANGE;
    if (!(r->pins[index].dir & HMK_RD_IN))
        return -EPERM;
    /* one pin is one 64-bit atomic: consistent without the seqlock */
    hmk_decode(r->pins[index].type,
               atomic_load_explicit(&r->shm->in.value[index], memory_order_relaxed), v);
    return hmk_check(r);
}

int hmk_read_out(const hmk_region *r, unsigned index, hmk_value *v)
{
    if (index >= r->pin_count)
        return -ERANGE;
    if (!(r->pins[index].dir & HMK_RD_OUT))
        return -EPERM;
    /* what the bridge applied (the merge of every channel); one 64-bit atomic */
    hmk_decode(r->pins[index].type,
               atomic_load_explicit(&r->shm->in.out_value[index], memory_order_relaxed), v);
    return hmk_check(r);
}

/* One seqlock read of the in block: in values of pins [0, n_in) into
 * raw_in (NULL: none), out values of idx[0..n_out) into raw_out. */
static int hmk_in_read(const hmk_region *r, uint64_t *raw_in, unsigned n_in, const unsigned *idx,
                       uint64_t *raw_out, unsigned n_out, uint64_t *cyc)
{
    const struct hmk_in_block *b = &r->shm->in;
    unsigned tries;

    for (tries = 0; tries < HMK_READ_TRIES; tries++) {
        uint64_t s = hmk_in_read_begin(b);
        if (!(s & 1u) || HMK_SKIP_RETRY) {
            *cyc = atomic_load_explicit(&b->cycle, memory_order_relaxed);
            for (unsigned i = 0; i < n_in; i++)
                raw_in[i] = atomic_load_explicit(&b->value[i], memory_order_relaxed);
            for (unsigned k = 0; k < n_out; k++)
                raw_out[k] = atomic_load_explicit(&b->out_value[idx[k]], memory_order_relaxed);
            if (!hmk_in_read_retry(b, s) || HMK_SKIP_RETRY)
                return 0;
        }
        if (tries % HMK_READ_SPINS == HMK_READ_SPINS - 1)
            sched_yield();
    }
    return -EAGAIN;
}

int hmk_read_outs(const hmk_region *r, const unsigned *idx, unsigned n, hmk_value *out)
{
    uint64_t raw[HMK_MAX_PINS], cyc;
    int ret;

    if (n > HMK_MAX_PINS || (n && (!idx || !out)))
        return -EINVAL;
    /* every index checked before reading: nothing half-done on bad input */
    for (unsigned k = 0; k < n; k++) {
        if (idx[k] >= r->pin_count)
            return -ERANGE;
        if (!(r->pins[idx[k]].dir & HMK_RD_OUT))
            return -EPERM;
    }
    /* the bridge publishes the applied values of one cycle together: pins
     * one transaction wrote are seen together */
    ret = hmk_in_read(r, NULL, 0, idx, raw, n, &cyc);
    if (ret < 0)
        return ret;
    for (unsigned k = 0; k < n; k++)
        hmk_decode(r->pins[idx[k]].type, raw[k], &out[k]);
    return hmk_check(r);
}

int hmk_read(const hmk_region *r, unsigned index, hmk_value *v)
{
    if (index >= r->pin_count)
        return -ERANGE;
    if (r->pins[index].dir & HMK_RD_IN)
        return hmk_read_in(r, index, v);
    return hmk_read_out(r, index, v);
}

int hmk_snapshot(const hmk_region *r, hmk_value *vals, unsigned n, uint64_t *cycle)
{
    uint64_t raw[HMK_MAX_PINS], oraw[HMK_MAX_PINS], cyc = 0;
    unsigned idx[HMK_MAX_PINS] = { 0 }, n_out = 0;
    int ret;

    if (n > r->pin_count || (n && !vals))
        return -EINVAL;
    /* out-only pins give their applied out value, from the same snapshot */
    for (unsigned i = 0; i < n; i++)
        if (!(r->pins[i].dir & HMK_RD_IN))
            idx[n_out++] = i;
    ret = hmk_in_read(r, raw, n, idx, oraw, n_out, &cyc);
    if (ret < 0)
        return ret;
    for (unsigned k = 0; k < n_out; k++)
        raw[idx[k]] = oraw[k];
    for (unsigned i = 0; i < n; i++)
        hmk_decode(r->pins[i].type, raw[i], &vals[i]);
    if (cycle)
        *cycle = cyc;
    return hmk_check(r);
}

/* ---- error messages ---------------------------------------------------- */

const char *hmk_strerror(int err)
{
    switch (err) {
    case -ENOENT:          return "no such region (is hal_microkernel_bridge loaded?)";
    case -EBADMSG:         return "not a hal-microkernel region, or corrupt";
    case -EPROTONOSUPPORT: return "region ABI version differs from this program's";
    case -EMSGSIZE:        return "region size differs from its declared layout";
    case -ESTALE:          return "region detached (bridge unloaded or reloaded)";
    case -EAGAIN:          return "region busy, try again";
    case -ERANGE:          return "out of range";
    case -EINVAL:          return "invalid argument or wrong type for the pin";
    case -EPERM:           return "pin is not writable from outside HAL (direction in)";
    case -EROFS:           return "region opened read-only";
    case -EACCES:          return "permission denied";
    case -ENOKEY:          return "permission denied: no write channel (writing needs root, the "
                                  "daemon's writer-group, or a service granted the pin by writes =)";
    case -ENXIO:           return "$HMK_WRITE_PINS names a pin the region does not have";
    default:               return strerror(-err);
    }
}
