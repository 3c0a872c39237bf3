/* status.c - see status.h */
#include "status.h"

#include <string.h>
#include "fmt.h"
#include "notify.h"

void status_format(const struct status_counts *c, char *buf, size_t len)
{
    unsigned total = 0;
    size_t n;

    for (int i = 0; i < SVC_STATE_COUNT; i++)
        total += c->n[i];
    n = (size_t)fmt(buf, len, "%u service%s: %u running", total, total == 1 ? "" : "s", c->n[SVC_RUNNING]);
    for (int i = 0; i < SVC_STATE_COUNT && n < len; i++)
        if (i != SVC_RUNNING && c->n[i])
            n += (size_t)fmt(buf + n, len - n, ", %u %s", c->n[i], svc_state_name(i));
    if (n < len)
        fmt(buf + n, len - n, "; region %s %s", c->region, c->attached ? "attached" : "absent");
}

int status_update(struct status_notifier *sn, const struct status_counts *c)
{
    char line[sizeof(sn->last)], msg[sizeof(sn->last) + 8];
    int r;

    status_format(c, line, sizeof(line));
    if (!strcmp(line, sn->last))
        return 0;
    fmt(msg, sizeof(msg), "STATUS=%s", line);
    r = notify_send(msg);
    if (r < 0)
        return r; /* try again on the next change */
    memcpy(sn->last, line, sizeof(line));
    return 1;
}
