/*
 * web_state.h - what the web service knows about HAL, shared between the
 * one watcher thread that follows the region and the HTTP threads that
 * serve browsers.
 *
 * The watcher is the only writer of the table; every pin carries the
 * version of its last change, so a client keeps just "the version I sent
 * last" and builds its next frame from what changed since: latest value
 * wins, a slow client costs the others nothing and its backlog is bounded
 * by the pin count, never by the change rate.
 */
#ifndef WEB_STATE_H
#define WEB_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "halmk.h"
#include "web_json.h"

#define WEB_MAX_SVCS 64

struct web_pin {
    char name[48];
    enum hmk_type type;
    enum hmk_dir dir;
    bool has_out;       /* out or io: may be written (if granted) */
    bool granted;       /* hmk_write_granted: this service may write it */
    hmk_value val;      /* what halcmd getp shows */
    hmk_value out;      /* last value written towards HAL (has_out) */
    uint64_t cycle;     /* bridge cycle of the last change */
    int64_t wall_ms;    /* wall clock when the service saw it */
    double bridge_ms;   /* wall clock of the bridge cycle of the change (ms,
                         * from the change stream; 0: not known) */
    uint64_t ver;       /* web_state.ver when it last changed */
};

struct web_status {
    bool attached, connected, fault;
    uint64_t generation, cycle, bridge_ns;
    unsigned nsvc;
    bool svc_known;     /* the control socket answered */
    struct web_svc svc[WEB_MAX_SVCS];
};

struct web_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;      /* broadcast on any change */
    /* configuration, fixed before the watcher starts */
    const char *region_name;  /* NULL: libhalmk's default */
    const char *ctl_socket;
    unsigned open_flags;
    /* under lock */
    hmk_region *r;            /* the watcher's handle; writers use it under lock */
    unsigned npins;
    struct web_pin *pin;      /* HMK capacity entries */
    uint64_t ver, layout, status_ver;
    struct web_status st;
    unsigned clients;
    uint64_t dropped;
    bool stop;
    bool streaming;           /* following hmk_stream (else snapshot diffs) */
    /* the watcher's alone: the bridge's last (cycle, time) and its period */
    uint64_t clk_cycle, clk_ns, period_ns;
};

int web_state_init(struct web_state *s);
void web_state_destroy(struct web_state *s);
/* Runs the watcher until s->stop; returns only then. */
void *web_watch_main(void *arg);
void web_state_stop(struct web_state *s);

/* JSON for GET /api/pins and the stream's snapshot; caller holds lock. */
void web_json_snapshot(struct web_state *s, struct wj_buf *b);
/* status object; caller holds lock */
void web_json_status(struct web_state *s, struct wj_buf *b);
/* {"pins":[...]} of the pins changed after version since; caller holds lock */
void web_json_delta(struct web_state *s, struct wj_buf *b, uint64_t since);

#endif
