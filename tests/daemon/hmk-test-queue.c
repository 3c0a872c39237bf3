/*
 * hmk-test-queue - a service for the queue integration tests.
 *   send Q N        send N numbered, check-summed messages to queue Q
 *   recv Q N        receive N, checking order and check sums
 *   ping Q R N      N round trips: send on Q, wait for the echo on R;
 *                   logs the median and p99 round trip in microseconds
 *   pong Q R        echo what arrives on Q to R, for ever
 *   try Q           try to send and to receive on Q; log what each gave
 * Results go to $HMK_TEST_LOG as one line: "q<verb> NAME ...".
 */
#include "halmk.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct m {
    uint64_t seq, check;
};

static void logline(const char *fmt, const char *a, long long x, long long y)
{
    FILE *f = fopen(getenv("HMK_TEST_LOG"), "ae");
    if (f) {
        fprintf(f, fmt, a, x, y);
        fclose(f);
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    hmk_queue *q = NULL, *r = NULL;
    long long n = argc > 3 ? atoll(argv[argc - 1]) : 0, bad = 0;
    struct m m;

    if (argc < 3 || hmk_queue_open(argv[2], &q) < 0) {
        if (argc >= 3 && !strcmp(argv[1], "try"))
            logline("qtry %s open %lld %lld\n", argv[2], (long long)hmk_queue_open(argv[2], &q), 0);
        return argc >= 3 && !strcmp(argv[1], "try") ? 0 : 1;
    }
    if (!strcmp(argv[1], "send")) {
        for (long long i = 0; i < n; i++) {
            m.seq = (uint64_t)i;
            m.check = m.seq * 0x9e3779b97f4a7c15ull;
            if (hmk_queue_send(q, &m, sizeof(m), 10000) < 0)
                bad++;
        }
        logline("qsend %s %lld %lld\n", argv[2], n, bad);
    } else if (!strcmp(argv[1], "recv")) {
        for (long long i = 0; i < n; i++)
            if (hmk_queue_recv(q, &m, sizeof(m), 10000) != (int)sizeof(m) ||
                m.seq != (uint64_t)i || m.check != m.seq * 0x9e3779b97f4a7c15ull)
                bad++;
        logline("qrecv %s %lld %lld\n", argv[2], n, bad);
    } else if (!strcmp(argv[1], "ping") && argc == 5 && hmk_queue_open(argv[3], &r) == 0) {
        uint64_t *rtt = calloc((size_t)n, sizeof(*rtt));
        for (long long i = 0; i < n; i++) {
            uint64_t t0 = now_ns();
            m.seq = (uint64_t)i;
            if (hmk_queue_send(q, &m, sizeof(m), 5000) < 0 ||
                hmk_queue_recv(r, &m, sizeof(m), 5000) != (int)sizeof(m) || m.seq != (uint64_t)i)
                bad++;
            rtt[i] = now_ns() - t0;
        }
        qsort(rtt, (size_t)n, sizeof(*rtt), cmp);
        logline("qping %s %lld %lld\n", argv[2], (long long)(rtt[n / 2] / 1000),
                (long long)(rtt[(n * 99) / 100] / 1000));
        logline("qpingbad %s %lld %lld\n", argv[2], bad, 0);
        free(rtt);
    } else if (!strcmp(argv[1], "pong") && argc == 4 && hmk_queue_open(argv[3], &r) == 0) {
        for (;;)
            if (hmk_queue_recv(q, &m, sizeof(m), -1) == (int)sizeof(m))
                hmk_queue_send(r, &m, sizeof(m), 5000);
    } else if (!strcmp(argv[1], "try")) {
        m.seq = 1;
        logline("qtry %s send %lld recv %lld\n", argv[2], (long long)hmk_queue_send(q, &m, sizeof(m), 0),
                (long long)hmk_queue_recv(q, &m, sizeof(m), 0));
    }
    hmk_queue_close(q);
    hmk_queue_close(r);
    return bad ? 1 : 0;
}
