/*
 * halmk.h - libhalmk, the non-realtime side's access to the hal-microkernel
 * shared-memory region that hal_microkernel_bridge creates.
 *
 * Contract
 *  - Context: non-realtime processes only (services, tools, the daemon).
 *  - Errors: every function returning int returns >= 0 on success and a
 *    negative errno on failure. Region-specific meanings:
 *      -ENOENT           no region of that name (bridge not loaded)
 *      -EBADMSG          the object is not a hal-microkernel region, or is corrupt
 *      -EPROTONOSUPPORT  region ABI version differs from this library's
 *      -EMSGSIZE         region size differs from what its header/ABI says
 *      -ESTALE           the bridge detached the region (unloaded, or replaced
 *                        by a newer one): close the handle and open again
 *      -EAGAIN           region still being set up, or a reader lost the race
 *                        too many times; try again
 *      -ERANGE           pin index out of range; value out of range for its type
 *      -EINVAL           wrong type for the pin, or malformed argument
 *      -EPERM            write to a pin HAL feeds (direction in), or to a pin
 *                        not granted in $HMK_WRITE_PINS (see below)
 *      -EROFS            write through a handle opened HMK_OPEN_RDONLY
 *    hmk_strerror() turns these into one short phrase; callers print it once.
 *  - The library never prints, never calls exit(), never installs signal
 *    handlers (but for hmk_svc_run, which handles SIGTERM, SIGINT and
 *    SIGALRM: halmk_service.h). All file descriptors it opens are O_CLOEXEC.
 *  - Ownership: a handle from hmk_open() is released by hmk_close(); a
 *    transaction from hmk_txn_new() by hmk_txn_free(). Strings returned
 *    through hmk_pin_info point into the handle and live as long as it.
 *  - Threads: one handle may be used from several threads for reads; writes
 *    are serialised by the region's process-shared lock. A transaction object
 *    belongs to one thread at a time.
 */
#ifndef HALMK_H
#define HALMK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hmk_region hmk_region; /* opaque handle */
typedef struct hmk_txn hmk_txn;       /* opaque multi-pin write transaction */

/* Same numbers as LinuxCNC's hal_type_t. */
enum hmk_type { HMK_TYPE_BIT = 1, HMK_TYPE_FLOAT = 2, HMK_TYPE_S32 = 3, HMK_TYPE_U32 = 4 };

/* Seen from HAL: IN = HAL feeds the region, OUT = the region drives HAL. */
enum hmk_dir { HMK_DIR_IN = 1, HMK_DIR_OUT = 2, HMK_DIR_IO = 3 };

typedef struct hmk_value {
    enum hmk_type type;
    union {
        bool b;
        double f;
        int32_t s;
        uint32_t u;
    };
} hmk_value;

struct hmk_pin_info {
    const char *name;   /* region name, e.g. "pin.3" or "spindle.speed" */
    enum hmk_type type;
    enum hmk_dir dir;
    unsigned index;
    bool slot;          /* seed slot: HAL pins <prefix>.<name>.in and .out */
};

struct hmk_stats {
    uint64_t generation;
    uint64_t cycle;             /* bridge cycle of the latest in snapshot */
    uint64_t bridge_time_ns;    /* CLOCK_MONOTONIC of that cycle */
    uint64_t heartbeat_ns;      /* daemon heartbeat as the bridge last saw it, 0 = never */
    uint64_t cycles;
    uint64_t torn_retries;
    uint64_t latch_misses;      /* = microkernel.error-count */
    uint64_t writer_recoveries; /* of this handle's write channel */
    uint64_t exec_ns_last;
    uint64_t exec_ns_max;
    uint64_t out_commits;       /* pin writes the bridge applied, all channels */
    uint64_t rejected;          /* writes and pulses the bridge refused (not granted, bad) */
    uint64_t layout_hash;
    unsigned pin_count;
    unsigned heartbeat_timeout_ms;
    bool connected;             /* <prefix>.connected: the bridge sees a live daemon */
    bool faulted;               /* <prefix>.fault */
};

#define HMK_OPEN_RDONLY 0x1u  /* writes fail with -EROFS */

/* The region is always mapped read-only. Writes go through a write channel
 * the first write takes: a service the daemon started uses the one the
 * daemon handed it ($HMK_CHANNEL_FD; only its `writes =` pins reach HAL),
 * root uses the tools channel, a member of the daemon's writer-group gets the
 * tools channel from the daemon (its control socket, $HMK_CONTROL_SOCKET or
 * the default); anyone else gets -ENOKEY (no write channel). Values written
 * reach HAL at the bridge's next write
 * function; hmk_read_out shows them once the bridge applied them. */

/* Write grants: when $HMK_WRITE_PINS is set (the daemon sets it from a
 * service's `writes =`), only the pins it names (comma or space separated)
 * may be written through any handle of this process (-EPERM otherwise); a
 * name the region lacks makes hmk_open fail with -ENXIO; an empty list
 * maps the region read-only, so the kernel refuses writes as well. */

/* Region name: NULL means $HAL_MICROKERNEL_REGION, else "hal-microkernel". */
int hmk_open(const char *name, unsigned flags, hmk_region **out);
void hmk_close(hmk_region *r);                  /* NULL is fine */
const char *hmk_strerror(int err);              /* err is negative */
const char *hmk_region_name(const hmk_region *r); /* as opened; lives as long as r */

/* 0 while the region is live, -ESTALE once the bridge detached it. */
int hmk_check(const hmk_region *r);
/* Fills *out (counters as the bridge last stored them) and returns hmk_check. */
int hmk_stats(const hmk_region *r, struct hmk_stats *out);

unsigned hmk_pin_count(const hmk_region *r);    /* valid indexes are [0, count) */
/* Index of a pin by region name ("pin.1", "spindle.speed"), by HAL name
 * ("microkernel.pin.1.out") or by decimal index ("1"); -ENOENT if none. */
int hmk_pin_find(const hmk_region *r, const char *name);
/* Name, type, direction of pin `index`; -ERANGE if index >= pin count. */
int hmk_pin_info(const hmk_region *r, unsigned index, struct hmk_pin_info *out);
/* Whether this handle may write the pin, as far as this process can know
 * before trying: 1 if hmk_write/hmk_pulse would pass the library's checks
 * (handle not read-only, pin has an out side, and, when $HMK_WRITE_PINS is
 * set, the pin is in it), 0 if they would refuse it (-EROFS, -EPERM);
 * -EINVAL for a NULL handle, -ERANGE for a bad index. It does not take a
 * write channel: a service the daemon started is granted on its channel
 * what $HMK_WRITE_PINS names (both come from its `writes =`); a process
 * without $HMK_WRITE_PINS gets 1 for every out pin and learns at the first
 * write whether it has a channel at all (-ENOKEY). For showing controls
 * only for writable pins; the write itself stays the authority. */
int hmk_write_granted(const hmk_region *r, unsigned index);

/* The value HAL feeds in (pins with an in side). -EPERM for out-only pins. */
int hmk_read_in(const hmk_region *r, unsigned index, hmk_value *out);
/* The value last written towards HAL (pins with an out side), else -EPERM. */
int hmk_read_out(const hmk_region *r, unsigned index, hmk_value *out);
/* What halcmd getp would show: the in side if there is one, else the out. */
int hmk_read(const hmk_region *r, unsigned index, hmk_value *out);

/* Consistent snapshot of the in values of pins [0, n) (out-only pins give
 * their out value) and the bridge cycle they belong to. n <= hmk_pin_count. */
int hmk_snapshot(const hmk_region *r, hmk_value *vals, unsigned n, uint64_t *cycle);

/* Single-pin write (a one-pin transaction). v->type must equal the pin's. */
int hmk_write(hmk_region *r, unsigned index, const hmk_value *v);

/* A pulse: HAL's out pin (a slot's .out, or an out pin) takes v for
 * exactly one servo cycle, then its normal value again. Pulses are queued
 * (up to 256), never lost or merged: two on one pin are at least a cycle
 * apart, in the order sent; the bridge applies up to 16 a cycle. Checked
 * like a write (type, grant, direction; not io pins: -EINVAL). -EAGAIN if
 * the queue is full. Dropped (and counted) while the fault latch is set. */
int hmk_pulse(hmk_region *r, unsigned index, const hmk_value *v);

/* Multi-pin transactions: values staged with hmk_txn_set reach HAL in the
 * same servo cycle after hmk_txn_commit; a writer that dies before the
 * commit completes changes nothing. Staging is checked per call, so a failed
 * set leaves the transaction as it was. commit empties the transaction. */
int hmk_txn_new(hmk_region *r, hmk_txn **out); /* an empty transaction on r */
void hmk_txn_free(hmk_txn *t);                  /* NULL is fine */
/* Stages v for pin `index` (a second set of a pin replaces the first);
 * checked like hmk_write, and takes the write channel (-ENOKEY). */
int hmk_txn_set(hmk_txn *t, unsigned index, const hmk_value *v);
void hmk_txn_clear(hmk_txn *t);                 /* drops what was staged */
/* Number of pins written, or -ESTALE if the region was (or got) detached:
 * a commit never reports success for a region the bridge has left. */
int hmk_txn_commit(hmk_txn *t);

/* Waits until the bridge completed two cycles after the call, so that what
 * this process committed before is in HAL and in hmk_read_out. -EAGAIN at
 * once if the bridge's thread is not running (its cycle did not move for
 * 100 ms: the values are applied when it starts), -ETIMEDOUT after
 * timeout_ms (< 0: no limit), -ESTALE if the region was detached. */
int hmk_sync(const hmk_region *r, int timeout_ms);

/* Change notification. *seq is a cursor: start it with hmk_change_seq().
 * Blocks in the kernel (futex; no polling) until the bridge publishes a
 * cycle in which some in value changed, or a writer commits out values,
 * after *seq; then updates *seq and returns 0. timeout_ms < 0 waits
 * forever. -ETIMEDOUT on timeout, -EINTR if a signal arrived, -ESTALE when
 * the region was detached (the bridge wakes every waiter when it unloads).
 * Works on read-only handles too. */
uint32_t hmk_change_seq(const hmk_region *r);    /* the cursor as of now */
int hmk_wait_change(const hmk_region *r, uint32_t *seq, int timeout_ms);

/* Change stream: every change of an in value, in order, lossless while the
 * reader keeps up (the bridge's ring holds stream_depth records), and an
 * exact count of what it missed when it does not. A subscription starts at
 * the newest record: it sees changes from now on. Read-only; one per
 * thread. hmk_stream_read() fills up to max events, blocking (futex, no
 * polling) up to timeout_ms (< 0: for ever) when there are none, and adds
 * the number of records overwritten before it could read them to *lost.
 * Returns the number of events, or -ETIMEDOUT, -EINTR, -ESTALE (region
 * detached: subscribe again on the new region). */
typedef struct hmk_stream hmk_stream;
struct hmk_event {
    uint64_t cycle;     /* bridge cycle in which HAL's value changed */
    unsigned pin;       /* region pin index */
    hmk_value value;    /* the new value */
    /* that cycle's stamp: CLOCK_MONOTONIC ns, the same clock and value as
     * hmk_stats.bridge_time_ns had for it (equal for every event of a
     * cycle, never decreasing along the stream). To UTC: add
     * CLOCK_REALTIME - CLOCK_MONOTONIC, measured by the reader. */
    uint64_t time_ns;
};
int hmk_stream_open(hmk_region *r, hmk_stream **out);
int hmk_stream_read(hmk_stream *s, struct hmk_event *ev, unsigned max, int timeout_ms,
                    uint64_t *lost);
void hmk_stream_close(hmk_stream *s);                /* NULL is fine */

/* A pollable change notification, for an event loop (poll/epoll) instead of
 * a thread blocked in hmk_wait_change or hmk_stream_read. hmk_change_fd()
 * returns a descriptor (O_CLOEXEC, O_NONBLOCK; the same one on every call
 * for a handle) that becomes readable when the bridge publishes a change
 * (what ends hmk_wait_change) after the first call, and when the region is
 * detached. It is level-triggered: it stays readable until
 * hmk_change_fd_ack(), which clears it and returns 0, or -ESTALE once the
 * region is detached (the descriptor then stays readable: close the handle
 * and open again). The loop: on readable, ack first, then take everything
 * there is (hmk_stream_read with timeout 0, hmk_snapshot ...): a change
 * after the ack makes it readable again, so none falls between.
 * The descriptor belongs to the handle: never close it; hmk_close() does.
 * Costs one library thread per handle, started by the first call, blocked
 * in the same futex as hmk_wait_change (no polling beyond what that does:
 * none while the daemon's relay is armed; 10 ms slices without a daemon),
 * with every signal blocked, joined by hmk_close(). (The kernel offers no
 * descriptor for a futex wait on Debian 12's Linux 6.1: FUTEX_FD is gone,
 * io_uring's futex wait needs 6.7.) Errors: -ESTALE, -ENOMEM, -EMFILE,
 * -EAGAIN (no thread could be created). */
int hmk_change_fd(hmk_region *r);
int hmk_change_fd_ack(hmk_region *r);

/* Message queues between services: named, bounded, fixed-size messages in
 * shared memory (/dev/shm/hmkq.<name>), many senders, one receiver at a
 * time. Every wait has a timeout: timeout_ms 0 never blocks (-EAGAIN when
 * full or empty), < 0 waits for ever, > 0 gives -ETIMEDOUT. Senders and
 * receivers serialise on robust process-shared mutexes; a sender killed
 * mid-send loses only its own message (or, if it had published it, the
 * next sender completes it), a receiver killed mid-receive leaves the
 * message in the queue (delivered again: at least once). Neither corrupts
 * nor wedges the queue.
 * hmk_queue_create makes the object (the daemon does, from its config); an
 * existing queue of the same geometry is kept with its messages, one of
 * another geometry gives -EEXIST. Under the daemon ($HMK_QUEUES_SEND and
 * $HMK_QUEUES_RECV set from the [queue] sections' senders and receivers),
 * a service may open only its queues (-EPERM) and only send or receive as
 * granted (-EPERM). */
typedef struct hmk_queue hmk_queue;
struct hmk_queue_stats {
    unsigned depth, msg_size, queued;
    uint64_t sent, received, recoveries;
};
int hmk_queue_create(const char *name, unsigned depth, unsigned msg_size, unsigned mode);
int hmk_queue_unlink(const char *name);              /* removes the name; openers keep theirs */
int hmk_queue_open(const char *name, hmk_queue **out); /* -ENOENT if not created */
void hmk_queue_close(hmk_queue *q);                  /* NULL is fine */
/* Queues a copy of msg[0..len); -EMSGSIZE if len > the queue's msg_size. */
int hmk_queue_send(hmk_queue *q, const void *msg, size_t len, int timeout_ms);
/* Returns the message's length; -EMSGSIZE (message kept) if len is short. */
int hmk_queue_recv(hmk_queue *q, void *buf, size_t len, int timeout_ms);
int hmk_queue_stats(const hmk_queue *q, struct hmk_queue_stats *out); /* a moment's counts */


/* Strict text <-> value conversion in the one value syntax that halpoke
 * and the bridge's safe= read too (halpoke(1) VALUES). 0, -EINVAL (not of
 * the syntax) or -ERANGE (does not fit the type); *out untouched then. */
int hmk_value_parse(enum hmk_type type, const char *text, hmk_value *out);
/* Writes the shortest text that parses back to the same value. Returns the
 * length, or -ENOSPC if buf is too small. */
int hmk_value_format(const hmk_value *v, char *buf, size_t len);
const char *hmk_type_name(enum hmk_type t);     /* "bit", "float", "s32", "u32" */
const char *hmk_dir_name(enum hmk_dir d);       /* "in", "out", "io" */

#ifdef __cplusplus
}
#endif
#endif /* HALMK_H */
