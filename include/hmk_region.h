/*
 * hmk_region.h - the shared-memory region's layout and its seqlock primitives.
 *
 * Contract: this header is the ONLY definition of the region's layout. It is
 * included by the realtime bridge (bridge/hal_microkernel_bridge.c, built by
 * halcompile) and by libhalmk (lib/), so the two sides cannot drift apart.
 * Services and tools never include it: they use include/halmk.h.
 *
 * Every field another process may touch concurrently is a C11 atomic. The
 * seqlock helpers below follow H.-J. Boehm, "Can Seqlocks Get Along with
 * Programming Language Memory Models?" (2012):
 *   writer: store odd counter (relaxed), release fence, relaxed data stores,
 *           store even counter (release);
 *   reader: load counter (acquire), relaxed data loads, acquire fence,
 *           re-load counter (relaxed) and compare.
 *
 * In values (HAL -> services) use a plain seqlock with one writer: the bridge.
 * Out values (services -> HAL) use a double-copy "latch" seqlock: the writers
 * (serialised by the process-shared robust mutex `out.lock`) only ever modify
 * the copy readers are not directed to, so copy[seq & 1] is always a complete,
 * consistent set of values, even if a writer dies at any instruction. The
 * bridge therefore never waits for a writer: it retries when a flip
 * happened during its read (the writer may then be writing the copy it was
 * reading), at most HMK_LATCH_RETRIES times.
 *
 * RT context: the inline helpers marked "RT-safe" do no allocation, no
 * locking and no system call (but for hmk_change_publish's one FUTEX_WAKE,
 * described there); the bridge calls only those.
 */
#ifndef HMK_REGION_H
#define HMK_REGION_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HMK_REGION_MAGIC    0x4b4d4c48u /* "HLMK" in little-endian memory */
#define HMK_ABI_VERSION     3u  /* 3: stream records carry the cycle stamp */
#define HMK_MAX_PINS        1024u       /* fixed capacity: layout never depends on config */
#define HMK_NAME_MAX        48u         /* HAL_NAME_LEN (47) + NUL */
#define HMK_LATCH_RETRIES   4u          /* bridge's bound on out-value read retries */
#define HMK_MAX_CHANNELS    32u         /* write channels, a fixed maximum (channels=) */
#define HMK_DEFAULT_CHANNELS 8u
#define HMK_HEADER_SPACE    1024u       /* the header's room at the start of the region */
#define HMK_DEFAULT_REGION  "hal-microkernel"
#define HMK_DEFAULT_PREFIX  "microkernel"

/* Values of hmk_pin_desc.type equal LinuxCNC's hal_type_t on purpose. */
enum hmk_region_type { HMK_RT_BIT = 1, HMK_RT_FLOAT = 2, HMK_RT_S32 = 3, HMK_RT_U32 = 4 };
/* Bit 0: the pin has an in value (HAL feeds it). Bit 1: it has an out value. */
enum hmk_region_dir { HMK_RD_IN = 1, HMK_RD_OUT = 2, HMK_RD_IO = 3 };
/* hmk_pin_desc.flags */
#define HMK_PIN_SLOT 0x01u /* seed slot: separate HAL pins pin.N.in and pin.N.out */

/* Out side after the daemon's heartbeat went stale (the fault latch, see
 * hal_microkernel_bridge(9)): keep the last value, or drive a safe one. */
enum hmk_policy { HMK_POLICY_HOLD = 0, HMK_POLICY_SAFE = 1 };

enum hmk_region_state { HMK_STATE_INIT = 0, HMK_STATE_ATTACHED = 1, HMK_STATE_DETACHED = 2 };

struct hmk_pin_desc {
    char     name[HMK_NAME_MAX]; /* NUL-terminated, without the HAL prefix */
    uint8_t  type;               /* enum hmk_region_type */
    uint8_t  dir;                /* enum hmk_region_dir */
    uint8_t  flags;              /* HMK_PIN_* */
    uint8_t  reserved0;
    uint32_t policy;             /* enum hmk_policy: what the out side does in a fault */
    uint64_t safe_value;         /* encoded value for HMK_POLICY_SAFE */
};

struct hmk_region_header {
    uint32_t magic;
    uint32_t abi_version;
    uint32_t header_size;        /* sizeof(struct hmk_region_header) */
    uint32_t pin_desc_size;      /* sizeof(struct hmk_pin_desc) */
    uint64_t region_size;        /* sizeof(struct hmk_shm) */
    uint64_t layout_hash;        /* FNV-1a over the pin table */
    uint64_t generation;         /* new value each time the bridge creates a region */
    uint32_t pin_count;
    uint32_t max_pins;           /* HMK_MAX_PINS */
    _Atomic uint32_t state;      /* enum hmk_region_state */
    uint32_t heartbeat_timeout_ms;
    _Atomic uint64_t bridge_cycle;       /* cycle number of the last completed update */
    _Atomic uint64_t bridge_time_ns;     /* CLOCK_MONOTONIC at that update */
    /* the daemon's heartbeat as the bridge last read it from the control
     * block (which only the daemon and rtapi_app can reach): a mirror */
    _Atomic uint64_t daemon_heartbeat_ns;
    _Atomic uint32_t daemon_pid;
    _Atomic uint32_t connected;          /* <prefix>.connected, as the bridge set it */
    /* counters: every one written by the bridge only */
    _Atomic uint64_t cycles;             /* realtime function invocations */
    _Atomic uint64_t torn_retries;       /* latch re-reads the bridge needed */
    _Atomic uint64_t latch_misses;       /* cycles a channel hit HMK_LATCH_RETRIES (error-count) */
    _Atomic uint64_t rejected;           /* writes and commands refused (not granted, bad) */
    _Atomic uint64_t exec_ns_last;       /* bridge time in its function, last cycle */
    _Atomic uint64_t exec_ns_max;
    _Atomic uint64_t out_applied;        /* pin writes the bridge took from channels */
    /* change word W: the bridge adds 2 in each cycle where an in value or
     * an applied out value changed; bit 0 says the daemon's relay is armed
     * (set and cleared by the daemon only). Readers FUTEX_WAIT on it. */
    _Atomic uint32_t change_word;
    uint32_t faulted;                    /* <prefix>.fault, as the bridge set it */
    char hal_prefix[HMK_NAME_MAX];       /* HAL name prefix, e.g. "microkernel" */
    /* where the root daemon finds rtapi_app's capabilities (pidfd_getfd):
     * descriptor numbers in rtapi_app and the inodes they must have */
    int32_t rtapi_pid;
    uint32_t channels;                   /* write channels (channels= at loadrt) */
    int32_t region_fd, ctl_fd;
    uint64_t region_ino, ctl_ino;
    int32_t chan_fd[HMK_MAX_CHANNELS];
    uint64_t chan_ino[HMK_MAX_CHANNELS];
    uint8_t reserved[32];
};

struct hmk_in_block {
    _Atomic uint64_t seq;                /* odd while the bridge writes */
    _Atomic uint64_t cycle;              /* cycle of the snapshot */
    uint8_t pad[48];
    _Atomic uint64_t value[HMK_MAX_PINS];
    _Atomic uint64_t changed_cycle[HMK_MAX_PINS]; /* cycle of the pin's last change */
    /* out values as the bridge last applied them (the merge of every
     * channel), in the same snapshot: what HAL is being driven with */
    _Atomic uint64_t out_value[HMK_MAX_PINS];
};

/* One writer's latch: a double copy of every pin's value and write
 * generation. The bridge applies pin i from a channel only when its wgen
 * changed since the bridge last looked, and only if the pin is granted. */
struct hmk_out_copy {
    _Atomic uint64_t value[HMK_MAX_PINS];
    _Atomic uint32_t wgen[HMK_MAX_PINS];  /* per-pin write generation */
};

struct hmk_out_block {
    union {
        pthread_mutex_t lock;            /* process-shared, robust, PI */
        uint8_t lock_space[64];
    };
    _Atomic uint64_t seq;                /* readers use copy[seq & 1] */
    uint8_t pad[56];
    struct hmk_out_copy copy[2];
};

/* The public object, /dev/shm/<region>: writable by rtapi_app's user only,
 * read by everyone else. Nothing in it is written by a less-trusted process. */
struct hmk_shm {
    union {
        struct hmk_region_header hdr;
        uint8_t hdr_space[HMK_HEADER_SPACE];
    };
    struct hmk_pin_desc pin[HMK_MAX_PINS];
    struct hmk_in_block in;
};

_Static_assert(sizeof(pthread_mutex_t) <= 64, "mutex must fit its slot");
_Static_assert(sizeof(struct hmk_pin_desc) == 64, "pin desc is 64 bytes");
_Static_assert(sizeof(struct hmk_region_header) <= HMK_HEADER_SPACE, "header fits");
_Static_assert(offsetof(struct hmk_region_header, generation) == 32, "abi");
_Static_assert(offsetof(struct hmk_region_header, state) == 48, "abi");
_Static_assert(offsetof(struct hmk_region_header, bridge_cycle) == 56, "abi");
_Static_assert(offsetof(struct hmk_region_header, daemon_heartbeat_ns) == 72, "abi");
_Static_assert(offsetof(struct hmk_region_header, cycles) == 88, "abi");
_Static_assert(offsetof(struct hmk_region_header, change_word) == 144, "abi");
_Static_assert(offsetof(struct hmk_region_header, hal_prefix) == 152, "abi");
_Static_assert(offsetof(struct hmk_region_header, rtapi_pid) == 200, "abi (tests read it with od)");
_Static_assert(offsetof(struct hmk_shm, pin) == HMK_HEADER_SPACE, "abi");
_Static_assert(offsetof(struct hmk_in_block, value) == 64, "abi");
_Static_assert(offsetof(struct hmk_out_block, seq) == 64, "abi");
_Static_assert(offsetof(struct hmk_out_block, copy) == 128, "abi");
_Static_assert(sizeof(struct hmk_shm) ==
               HMK_HEADER_SPACE + 64 * HMK_MAX_PINS + (64 + 24 * HMK_MAX_PINS), "region size");
/* the bridge reads 64-bit values written by other processes in one load */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");

/* Not RT: the lock every shared writer side uses (out values, queues,
 * commands): process-shared, robust (a holder that dies is recoverable
 * with EOWNERDEAD), priority inheritance. */
static inline void hmk_mutex_init_shared(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;

    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

/* ---- value encoding: every value travels as 64 bits ------------------- */

static inline uint64_t hmk_enc_float(double f)
{
    union { double d; uint64_t u; } c = { .d = f };
    return c.u;
}
static inline double hmk_dec_float(uint64_t u)
{
    union { uint64_t u; double d; } c = { .u = u };
    return c.d;
}
static inline uint64_t hmk_enc_s32(int32_t s) { return (uint64_t)(uint32_t)s; }
static inline int32_t hmk_dec_s32(uint64_t u) { return (int32_t)(uint32_t)u; }

/* FNV-1a over the pin table; used as the layout hash. Not RT (load time). */
static inline uint64_t hmk_layout_hash(const struct hmk_pin_desc *pins, uint32_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *p = (const unsigned char *)pins;
    for (size_t i = 0; i < (size_t)n * sizeof(*pins); i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- in block: single-writer seqlock ---------------------------------- */

/* RT-safe. Bridge only. */
static inline uint64_t hmk_in_write_begin(struct hmk_in_block *b)
{
    uint64_t s = atomic_load_explicit(&b->seq, memory_order_relaxed);
    atomic_store_explicit(&b->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    return s + 1;
}

/* RT-safe. Bridge only. `s` is what hmk_in_write_begin returned. */
static inline void hmk_in_write_end(struct hmk_in_block *b, uint64_t s)
{
    atomic_store_explicit(&b->seq, s + 1, memory_order_release);
}

/* Reader: returns the counter to pass to hmk_in_read_retry; odd means "busy". */
static inline uint64_t hmk_in_read_begin(const struct hmk_in_block *b)
{
    return atomic_load_explicit(&b->seq, memory_order_acquire);
}

/* Reader: nonzero when the data read since hmk_in_read_begin may be torn. */
static inline int hmk_in_read_retry(const struct hmk_in_block *b, uint64_t s)
{
    atomic_thread_fence(memory_order_acquire);
    return (s & 1u) || atomic_load_explicit(&b->seq, memory_order_relaxed) != s;
}

/* ---- out block: latch (double-copy) seqlock --------------------------- */

/* Reader (the bridge; RT-safe): which copy to read. */
static inline uint64_t hmk_out_read_begin(const struct hmk_out_block *b)
{
    return atomic_load_explicit(&b->seq, memory_order_acquire);
}

static inline int hmk_out_read_retry(const struct hmk_out_block *b, uint64_t s)
{
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&b->seq, memory_order_relaxed) != s;
}

/*
 * Writer, lock held: flip readers to the other copy and return the index of
 * the copy that is now safe to write. Call twice per transaction, writing the
 * same values each time; after the second call and its writes both copies
 * are equal again.
 */
static inline unsigned hmk_out_write_flip(struct hmk_out_block *b)
{
    uint64_t s = atomic_load_explicit(&b->seq, memory_order_relaxed);
    /* release: publishes the copy written before this flip to readers that
     * see s + 1 (it is the copy they are now directed to) */
    atomic_store_explicit(&b->seq, s + 1, memory_order_release);
    /* orders the flip before the data stores that follow: a reader whose
     * relaxed loads see any of them re-reads a counter >= s + 1 (Boehm, sec. 3) */
    atomic_thread_fence(memory_order_release);
    return (unsigned)(s & 1u);
}

/* ---- capabilities: the control block and the write channels ----------
 *
 * Objects that a less-trusted process may write, and that the bridge maps,
 * are sealed memfds (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL): nobody can
 * resize them, so no store of the bridge can fault with SIGBUS. They have no
 * name: only rtapi_app holds them, and the root daemon takes them with
 * pidfd_getfd (the descriptor numbers and inodes are in the region header).
 *
 * The control block is the daemon's alone (it never hands it out): the
 * heartbeat that drives <prefix>.connected, the relay word the bridge wakes,
 * and each channel's grant (the out pins the bridge takes from it).
 *
 * A write channel is one writer's latch plus its own command ring. Channel
 * 0 is the tools channel: every out pin, for root tools (halpoke) and the
 * daemon. Channels 1.. are handed by the daemon to one service each, with
 * the grant its `writes =` gives: what a service writes to a pin outside
 * its grant, it writes to itself.
 */
#define HMK_CTL_MAGIC      0x434c4d48u /* "HMLC" */
#define HMK_CHAN_MAGIC     0x484c4d48u /* "HMLH" */
#define HMK_SEALS_REQUIRED 0x0007u     /* F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW */
#define HMK_GRANT_WORDS    (HMK_MAX_PINS / 64u)

struct hmk_ctl {
    uint32_t magic;
    uint32_t channels;
    uint64_t generation;                 /* the region's generation */
    _Atomic uint64_t heartbeat_ns;       /* CLOCK_MONOTONIC, written by the daemon */
    _Atomic uint32_t daemon_pid;
    _Atomic uint32_t relay_armed;        /* daemon: someone waits, wake the relay */
    _Atomic uint32_t relay_word;         /* bridge: +1 and one FUTEX_WAKE(1) per change */
    _Atomic uint32_t alive;              /* daemon: a robust futex word, hmk_daemon_alive() */
    _Atomic uint64_t grant_seq;          /* seqlock over grant[], one writer: the daemon */
    uint8_t pad[16];
    _Atomic uint64_t grant[HMK_MAX_CHANNELS][HMK_GRANT_WORDS];
};

struct hmk_cmd_rec {
    _Atomic uint64_t seq;        /* position + 1 when complete */
    _Atomic uint64_t value;
    _Atomic uint32_t pin;
    _Atomic uint32_t kind;
    uint64_t reserved;
};

/*
 * One-shot commands (pulses): a ring in each channel that the channel's
 * writers fill under `lock` (robust) and the bridge reads without a lock.
 * The bridge keeps its own read position; `head` is a copy it publishes so
 * writers can tell the ring is full. A pulse drives an out pin to a value
 * for exactly one servo cycle; two pulses on one pin are at least one cycle
 * apart, so they never merge. The bridge takes at most HMK_CMD_PER_CYCLE
 * commands a cycle over all channels, round robin.
 */
#define HMK_CMD_DEPTH      256u
#define HMK_CMD_PER_CYCLE  16u
enum hmk_cmd_kind { HMK_CMD_PULSE = 1 };

struct hmk_cmd_ring {
    union { pthread_mutex_t lock; uint8_t lock_space[64]; };
    _Atomic uint64_t head;       /* next the bridge takes (its published copy) */
    _Atomic uint64_t tail;       /* next a writer fills */
    _Atomic uint64_t done;       /* commands applied */
    _Atomic uint64_t dropped;    /* commands refused or dropped (fault latch set) */
    uint8_t reserved[32];
    struct hmk_cmd_rec rec[HMK_CMD_DEPTH];
};

struct hmk_chan {
    uint32_t magic;
    uint32_t index;
    uint64_t generation;
    _Atomic uint64_t writer_recoveries;  /* EOWNERDEAD repairs done by writers */
    _Atomic uint64_t commits;            /* transactions committed */
    uint8_t pad[32];
    struct hmk_out_block out;
    struct hmk_cmd_ring cmd;
};
_Static_assert(sizeof(struct hmk_cmd_rec) == 32, "command record is 32 bytes");
_Static_assert(offsetof(struct hmk_chan, out) % 64 == 0, "latch cache-aligned");

/* ---- making a region: the one place its fields are filled -------------
 *
 * The bridge, and every test and fuzzer that fakes what the bridge makes,
 * call these, so a region made anywhere is the one hmk_open checks. Not RT
 * (load time). Each caller fills what is its own: descriptors and their
 * inodes, rtapi_pid.
 */

/* Fills the header of a zeroed region whose pin table shm->pin[0..n) is
 * already written (the layout hash is taken over it): not magic, not state. */
static inline void hmk_region_header_init(struct hmk_shm *shm, uint32_t n, uint32_t nchan,
                                          uint64_t gen, const char *prefix,
                                          uint32_t heartbeat_timeout_ms)
{
    struct hmk_region_header *h = &shm->hdr;

    h->abi_version = HMK_ABI_VERSION;
    h->header_size = sizeof(*h);
    h->pin_desc_size = sizeof(struct hmk_pin_desc);
    h->region_size = sizeof(*shm);
    h->pin_count = n;
    h->max_pins = HMK_MAX_PINS;
    h->heartbeat_timeout_ms = heartbeat_timeout_ms;
    h->layout_hash = hmk_layout_hash(shm->pin, n);
    h->generation = gen;
    snprintf(h->hal_prefix, sizeof(h->hal_prefix), "%s", prefix);
    h->channels = nchan;
}

/* Call after everything else in the region is written: magic, then state
 * ATTACHED with release (readers load state with acquire, then trust it). */
static inline void hmk_region_publish(struct hmk_region_header *h)
{
    h->magic = HMK_REGION_MAGIC;
    atomic_store_explicit(&h->state, HMK_STATE_ATTACHED, memory_order_release);
}

/* Makes a zeroed hmk_chan write channel k of generation gen: its two
 * robust locks, magic last. */
static inline void hmk_chan_init(struct hmk_chan *c, uint32_t k, uint64_t gen)
{
    c->index = k;
    c->generation = gen;
    hmk_mutex_init_shared(&c->out.lock);
    hmk_mutex_init_shared(&c->cmd.lock);
    c->magic = HMK_CHAN_MAGIC;
}

/* Makes a zeroed control block for nchan channels of generation gen, magic
 * last (the grants are the bridge's merge's and the daemon's). */
static inline void hmk_ctl_init(struct hmk_ctl *ctl, uint32_t nchan, uint64_t gen)
{
    ctl->channels = nchan;
    ctl->generation = gen;
    ctl->magic = HMK_CTL_MAGIC;
}

/* ---- change stream ------------------------------------------------------ */

/*
 * Every in-value change, in order: /dev/shm/<region>.stream, a ring of
 * fixed-size records with one producer (the bridge, in its read function)
 * and any number of readers, each at its own position, without locks.
 * Record at position p lives in slot p % depth; its `seq` is p + 1 once
 * complete. The producer invalidates a slot (seq = 0), writes the fields
 * and then publishes seq and head (release). A reader that finds another
 * seq, before or after copying, knows the slot was overwritten: it counts
 * the records it missed instead of returning wrong ones. The bridge never
 * waits for a reader. A pin contributes at most one record per cycle.
 * Each record carries its cycle's stamp (time_ns, the bridge_time_ns that
 * cycle publishes): in the record rather than in a per-cycle side ring, so
 * the stamp is covered by the record's own seq check and lives exactly as
 * long as the record (a ring indexed by cycle % N could be overwritten while
 * an old record survives, in a slow-changing machine). Cost: one more
 * relaxed 8-byte store per change, still constant per cycle.
 */
#define HMK_STREAM_MAGIC   0x534d4c48u /* "HLMS" */
#define HMK_STREAM_SUFFIX  ".stream"
#define HMK_STREAM_DEFAULT_DEPTH 4096u
#define HMK_STREAM_MAX_DEPTH (1u << 20)

struct hmk_stream_rec {
    _Atomic uint64_t seq;        /* position + 1 when complete, 0 while written */
    _Atomic uint64_t cycle;
    _Atomic uint64_t value;      /* encoded as in the region */
    _Atomic uint64_t time_ns;    /* the cycle's stamp: CLOCK_MONOTONIC, = bridge_time_ns */
    _Atomic uint32_t pin;
    uint32_t reserved;
};

struct hmk_stream_hdr {
    uint32_t magic;
    uint32_t depth;              /* records in the ring */
    uint64_t generation;         /* the region's generation */
    _Atomic uint64_t head;       /* records ever written */
    uint8_t reserved[40];
    struct hmk_stream_rec rec[];
};
_Static_assert(sizeof(struct hmk_stream_rec) == 40, "stream record is 40 bytes");
_Static_assert(sizeof(struct hmk_stream_hdr) == 64, "stream header is 64 bytes");

/* RT-safe. Bridge only. The position and the depth are the bridge's own
 * copies: what the shared header says is for readers, and nothing a reader
 * writes there could change where the bridge stores. */
static inline void hmk_stream_append(struct hmk_stream_hdr *st, uint64_t *head, uint32_t depth,
                                     uint64_t cycle, uint64_t time_ns, uint32_t pin,
                                     uint64_t value)
{
    uint64_t pos = *head;
    struct hmk_stream_rec *r = &st->rec[pos % depth];

    atomic_store_explicit(&r->seq, 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&r->cycle, cycle, memory_order_relaxed);
    atomic_store_explicit(&r->pin, pin, memory_order_relaxed);
    atomic_store_explicit(&r->value, value, memory_order_relaxed);
    atomic_store_explicit(&r->time_ns, time_ns, memory_order_relaxed);
    atomic_store_explicit(&r->seq, pos + 1, memory_order_release);
    *head = pos + 1;
    atomic_store_explicit(&st->head, pos + 1, memory_order_release);
}

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Whether the daemon is alive, from hmk_ctl.alive: one load, no system
 * call. A thread of the daemon holds the word the way a robust futex is
 * held: its thread id in the low bits, the word on the thread's robust
 * list. When that thread dies by any means (SIGKILL, OOM, a crash) the
 * kernel clears the id and sets FUTEX_OWNER_DIED as part of the exit; a
 * daemon that detaches or stops cleanly stores 0. So a dead daemon is seen
 * in the bridge's next cycle; a hung one, alive but stuck, only by its
 * heartbeat going stale. */
static inline int hmk_daemon_alive(uint32_t w)
{
    return (w & FUTEX_TID_MASK) != 0 && !(w & FUTEX_OWNER_DIED);
}

/* RT-safe: one atomic add on the change word, and, only while the daemon
 * is connected and its relay armed (someone waits), one FUTEX_WAKE of at
 * most one waiter: the daemon's relay thread, which fans the wake out to
 * every reader. The cost does not depend on how many readers wait, and
 * nothing a reader does can add a system call here. */
static inline void hmk_change_publish(struct hmk_region_header *h, struct hmk_ctl *c,
                                      int connected)
{
    atomic_fetch_add_explicit(&h->change_word, 2, memory_order_seq_cst);
    if (connected && atomic_load_explicit(&c->relay_armed, memory_order_seq_cst)) {
        atomic_fetch_add_explicit(&c->relay_word, 1, memory_order_seq_cst);
        syscall(SYS_futex, &c->relay_word, FUTEX_WAKE, 1, NULL, NULL, 0);
    }
}
#endif

#endif /* HMK_REGION_H */
