/* ratelog.c - see ratelog.h */
#include "ratelog.h"

bool ratelog_allow(struct ratelog *r, uint64_t now_ms, unsigned *report)
{
    *report = 0;
    if (!r->started || now_ms - r->window_start_ms >= RATELOG_WINDOW_MS) {
        *report = ratelog_flush(r);
        r->started = true;
        r->window_start_ms = now_ms;
        r->used = 0;
    }
    if (r->used < RATELOG_BURST) {
        r->used++;
        return true;
    }
    r->suppressed++;
    return false;
}

unsigned ratelog_flush(struct ratelog *r)
{
    unsigned n = r->suppressed;

    r->suppressed = 0;
    return n;
}
