/* hmk_ctl_client.c - see include/hmk_ctl_client.h */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hmk_ctl_client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CTL_REPLY_MAX (1u << 20) /* far above 1024 services' records */

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *hmk_ctl_socket_path(void)
{
    const char *p = getenv(HMK_ENV_CONTROL_SOCKET);

    return p && *p ? p : HMK_CTL_DEFAULT_SOCKET;
}

/* The final line decides: "ok", "error\t...", or none at all. */
static int ctl_verdict(const char *reply)
{
    const char *last = reply, *p;
    size_t len = strlen(reply);

    if (len == 0 || reply[len - 1] != '\n')
        return -EPROTO;
    for (p = reply; p < reply + len - 1; p++)
        if (*p == '\n')
            last = p + 1;
    if (!strcmp(last, "ok\n"))
        return 0;
    if (!strncmp(last, "error\t", 6))
        return -EREMOTEIO;
    return -EPROTO;
}

int hmk_ctl_ask(const char *path, const char *request, int timeout_ms, char **reply)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
    size_t rlen = strlen(request), got = 0, cap = 4096;
    int64_t end = mono_ms() + timeout_ms;
    char line[HMK_CTL_REQUEST_MAX + 1];
    char *buf = NULL;
    int fd, ret;

    *reply = NULL;
    if (strlen(path) >= sizeof(a.sun_path))
        return -ENAMETOOLONG;
    if (rlen + 1 > HMK_CTL_REQUEST_MAX || memchr(request, '\n', rlen))
        return -EINVAL;
    memcpy(line, request, rlen);
    line[rlen] = '\n';
    strcpy(a.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* SO_SNDTIMEO also bounds connect() on a full backlog */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        /* a daemon that refuses us (busy) may answer and close before we
         * send: its answer is still there to read */
        (send(fd, line, rlen + 1, MSG_NOSIGNAL) != (ssize_t)(rlen + 1) && errno != EPIPE &&
         errno != ECONNRESET)) {
        ret = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
        goto out;
    }
    buf = malloc(cap);
    if (!buf) {
        ret = -ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t n;
        if (got + 1 == cap) {
            char *nb = cap < CTL_REPLY_MAX ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                ret = cap < CTL_REPLY_MAX ? -ENOMEM : -EMSGSIZE;
                goto out;
            }
            buf = nb;
            cap *= 2;
        }
        n = recv(fd, buf + got, cap - 1 - got, 0);
        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ECONNRESET)
            break; /* what came before the reset is still the answer */
        if (n < 0) {
            ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
            goto out;
        }
        got += (size_t)n;
        /* a daemon that dribbles does not get longer than the timeout */
        if (mono_ms() > end) {
            ret = -ETIMEDOUT;
            goto out;
        }
    }
    buf[got] = '\0';
    ret = ctl_verdict(buf);
    *reply = buf;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return ret;
}

/* One unsigned decimal field ending at sep; advances *p past it. */
static int field_u64(const char **p, char sep, uint64_t *v)
{
    const char *s = *p;
    char *e;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    *v = strtoull(s, &e, 10);
    if (errno || *e != sep)
        return -EINVAL;
    *p = *e ? e + 1 : e;
    return 0;
}

static int stats_fields(const char *line, struct hmk_ctl_stats *out)
{
    const char *p = line, *tab;
    uint64_t *num[] = { &out->deadline_ns, &out->count, &out->misses, &out->max_ns, &out->sum_ns };

    if (strncmp(p, "stats\t", 6))
        return -EINVAL;
    p += 6;
    tab = strchr(p, '\t');
    if (!tab || !hmk_ctl_name_valid(p, (size_t)(tab - p)))
        return -EINVAL;
    memcpy(out->name, p, (size_t)(tab - p));
    p = tab + 1;
    for (size_t k = 0; k < sizeof(num) / sizeof(num[0]); k++)
        if (field_u64(&p, '\t', num[k]) < 0)
            return -EINVAL;
    for (unsigned k = 0; k < HMK_TELEMETRY_BUCKETS; k++)
        if (field_u64(&p, k + 1 < HMK_TELEMETRY_BUCKETS ? ',' : '\0', &out->hist[k]) < 0)
            return -EINVAL;
    return 0;
}

int hmk_ctl_stats_parse(const char *line, struct hmk_ctl_stats *out)
{
    int ret;

    memset(out, 0, sizeof(*out));
    ret = stats_fields(line, out);
    if (ret < 0) /* nothing half-read */
        memset(out, 0, sizeof(*out));
    return ret;
}

uint64_t hmk_ctl_stats_quantile(const struct hmk_ctl_stats *s, double q)
{
    long double total = 0, want, acc = 0;

    /* long double: counts a service made up cannot overflow the sum */
    for (unsigned k = 0; k < HMK_TELEMETRY_BUCKETS; k++)
        total += s->hist[k];
    if (total == 0)
        return 0;
    /* a hair under q * total: 0.9 is not exactly 0.9 in binary, and 90 of
     * 100 in one bucket must make it the p90 */
    want = total * (q < 0 ? 0 : q > 1 ? 1 : q) * (1 - 1e-12L);
    for (unsigned k = 0; k < HMK_TELEMETRY_BUCKETS; k++) {
        acc += s->hist[k];
        if (s->hist[k] && acc >= want)
            return (2ull << k) - 1;
    }
    return 0;
}

int hmk_ctl_stats_json(const struct hmk_ctl_stats *s, int hist, char *buf, size_t len)
{
    size_t off;
    int n;

    /* names are [A-Za-z0-9_.@-] (hmk_ctl_name_valid): nothing to escape */
    n = snprintf(buf, len,
                 "{\"name\":\"%s\",\"deadline_ns\":%" PRIu64 ",\"count\":%" PRIu64
                 ",\"misses\":%" PRIu64 ",\"max_ns\":%" PRIu64 ",\"sum_ns\":%" PRIu64
                 ",\"mean_ns\":%" PRIu64 ",\"p50_le_ns\":%" PRIu64 ",\"p99_le_ns\":%" PRIu64,
                 s->name, s->deadline_ns, s->count, s->misses, s->max_ns, s->sum_ns,
                 s->count ? s->sum_ns / s->count : 0, hmk_ctl_stats_quantile(s, 0.5),
                 hmk_ctl_stats_quantile(s, 0.99));
    if (n < 0 || (size_t)n >= len)
        return -ENOSPC;
    off = (size_t)n;
    for (unsigned k = 0; hist && k < HMK_TELEMETRY_BUCKETS; k++) {
        n = snprintf(buf + off, len - off, "%s%" PRIu64, k ? "," : ",\"hist_log2_ns\":[", s->hist[k]);
        if (n < 0 || (size_t)n >= len - off)
            return -ENOSPC;
        off += (size_t)n;
    }
    n = snprintf(buf + off, len - off, "%s}", hist ? "]" : "");
    if (n < 0 || (size_t)n >= len - off)
        return -ENOSPC;
    return (int)(off + (size_t)n);
}

int hmk_ctl_get_stats(const char *path, int timeout_ms, struct hmk_ctl_stats **out, size_t *n)
{
    struct hmk_ctl_stats *v = NULL;
    char *reply = NULL, *line, *save = NULL;
    size_t count = 0;
    int ret;

    *out = NULL;
    *n = 0;
    ret = hmk_ctl_ask(path, "stats", timeout_ms, &reply);
    for (line = ret == 0 ? strtok_r(reply, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        struct hmk_ctl_stats *nv;
        if (!strcmp(line, "ok"))
            break;
        nv = realloc(v, (count + 1) * sizeof(*v));
        if (!nv) {
            ret = -ENOMEM;
            break;
        }
        v = nv;
        if (hmk_ctl_stats_parse(line, &v[count]) < 0) {
            ret = -EPROTO;
            break;
        }
        count++;
    }
    free(reply);
    if (ret < 0) {
        free(v);
        return ret;
    }
    *out = v;
    *n = count;
    return 0;
}
