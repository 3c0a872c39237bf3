/*
 * status.h - the one-line summary the daemon gives systemd (STATUS=) and
 * its de-duplication: a STATUS= message goes out only when the line
 * changed. Library-style: no logging.
 */
#ifndef HMK_STATUS_H
#define HMK_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include "svc_fsm.h"

struct status_counts {
    unsigned n[SVC_STATE_COUNT];
    const char *region;
    bool attached;
};

struct status_notifier {
    char last[256];
};

/* "3 services: 2 running, 1 failed; region NAME attached" */
void status_format(const struct status_counts *c, char *buf, size_t len);
/* Sends STATUS=... through notify_send() if the line changed. Returns 1 when
 * sent, 0 when unchanged, or notify_send()'s negative errno. */
int status_update(struct status_notifier *sn, const struct status_counts *c);

#endif
