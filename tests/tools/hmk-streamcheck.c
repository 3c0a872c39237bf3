/*
 * hmk-streamcheck PIN SPAN SLEEP_MS - checks the change stream against a
 * pin that HAL toggles every servo cycle (and nothing else changing).
 *
 * Subscribes, then reads until it has accounted for SPAN cycles, sleeping
 * SLEEP_MS between reads so that it falls behind on purpose when asked.
 * Every cycle must be either an event (consecutive cycles, alternating
 * value) or counted as lost: events + lost == cycles spanned, exactly.
 * Prints "events E lost L span S" and exits 0 only if that holds.
 */
#include "halmk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    struct hmk_event ev[64];
    struct timespec pause;
    hmk_region *r;
    hmk_stream *s;
    uint64_t lost = 0, lost_seen = 0, lost_first = 0, events = 0, first = 0, last = 0, span;
    long sleep_ms;
    int pin, ret, bad = 0;
    bool last_val = false;

    if (argc != 4) {
        fprintf(stderr, "usage: hmk-streamcheck PIN SPAN SLEEP_MS\n");
        return 2;
    }
    span = strtoull(argv[2], NULL, 10);
    sleep_ms = strtol(argv[3], NULL, 10);
    pause.tv_sec = sleep_ms / 1000;
    pause.tv_nsec = (sleep_ms % 1000) * 1000000L;
    if ((ret = hmk_open(NULL, HMK_OPEN_RDONLY, &r)) < 0 || (pin = hmk_pin_find(r, argv[1])) < 0 ||
        (ret = hmk_stream_open(r, &s)) < 0) {
        fprintf(stderr, "hmk-streamcheck: %s\n", hmk_strerror(ret < 0 ? ret : -ENOENT));
        return 1;
    }
    while (!first || last - first + 1 < span) {
        int n = hmk_stream_read(s, ev, 64, 5000, &lost);
        if (n < 0) {
            fprintf(stderr, "hmk-streamcheck: %s\n", hmk_strerror(n));
            return 1;
        }
        for (int k = 0; k < n; k++) {
            /* a batch may run past the span asked for: count up to it only */
            if (first && last - first + 1 >= span)
                break;
            if (ev[k].pin != (unsigned)pin) {
                fprintf(stderr, "unexpected event for pin %u\n", ev[k].pin);
                bad = 1;
                continue;
            }
            if (!first) {
                first = ev[k].cycle; /* losses before the first event do not count */
                lost_seen = lost_first = lost;
            } else {
                uint64_t gap = ev[k].cycle - last - 1, newly = lost - lost_seen;
                /* a gap of g cycles must be exactly the g records counted lost,
                 * and with nothing lost the value must have alternated */
                if (gap != newly || (gap == 0 && ev[k].value.b == last_val)) {
                    fprintf(stderr, "cycle %llu: gap %llu, lost %llu\n",
                            (unsigned long long)ev[k].cycle, (unsigned long long)gap,
                            (unsigned long long)newly);
                    bad = 1;
                }
                lost_seen = lost;
            }
            last = ev[k].cycle;
            last_val = ev[k].value.b;
            events++;
        }
        if (sleep_ms > 0)
            nanosleep(&pause, NULL);
    }
    if (events + (lost_seen - lost_first) != last - first + 1)
        bad = 1;
    printf("events %llu lost %llu span %llu\n", (unsigned long long)events,
           (unsigned long long)(lost_seen - lost_first), (unsigned long long)(last - first + 1));
    hmk_stream_close(s);
    hmk_close(r);
    return bad;
}
