/*
 * halmk_int.h - libhalmk's private handle, shared by its own files only
 * (lib/halmk.c: attach and reads; lib/halmk_write.c: writes and pulses;
 * lib/halmk_wait.c: change notification; lib/hmk_cap.c: how a process comes
 * to hold a write channel or, for the daemon, the control block).
 */
#ifndef HMK_HALMK_INT_H
#define HMK_HALMK_INT_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "halmk.h"
#include "hmk_region.h"

struct hmk_region {
    const struct hmk_shm *shm;          /* the public region, mapped read-only */
    struct hmk_chan *chan;              /* our write channel, mapped on the first write */
    int chan_err;                       /* why we have none (0: not tried yet) */
    int64_t chan_err_ms;                /* when that was found */
    struct hmk_ctl *ctl;                /* daemon only (hmk_cap_attach) */
    struct hmk_shm *wshm;               /* daemon only: the region, writable (change word) */
    int poke_fd;                        /* datagram socket to the daemon's relay, or -1 */
    struct hmk_notify *notify;          /* hmk_change_fd's thread and eventfd, or NULL */
    size_t size;
    unsigned flags;
    uint64_t generation;
    unsigned pin_count;
    bool granted_only;                  /* $HMK_WRITE_PINS was set */
    uint64_t granted[HMK_MAX_PINS / 64];
    struct hmk_region_header hdr;       /* private copy, validated once at open */
    char name[NAME_MAX + 1];
    char prefix[HMK_NAME_MAX];
    struct hmk_pin_desc pins[]; /* private, validated copy of the pin table */
};

/* lib/halmk.c: the bridge's CLOCK_MONOTONIC stamp of `cycle`, or of a later
 * one when it has been overwritten (0 when torn by a concurrent update) */
uint64_t hmk_cycle_time(const hmk_region *r, uint64_t cycle);

/* lib/hmk_cap.c */
int hmk_chan_get(hmk_region *r);        /* maps r->chan; -EACCES etc. */
void hmk_cap_release(hmk_region *r);    /* unmaps whatever hmk_cap.c mapped */
void hmk_relay_poke(hmk_region *r);     /* asks the daemon's relay to arm; best effort */
/* lib/halmk_wait.c */
int hmk_wait_change_or(const hmk_region *r, uint32_t *seq, int timeout_ms,
                       const atomic_bool *stop);
/* lib/hmk_stream.c */
void hmk_notify_stop(hmk_region *r);    /* joins hmk_change_fd's thread, closes its fd */

#endif
