/*
 * hal-microkernelctl - talk to the hal-microkernel daemon's control socket.
 * Protocol: include/hmk_ctl.h. Links no daemon code.
 *
 *   hal-microkernelctl [-s PATH] [--json] status [NAME]
 *   hal-microkernelctl [-s PATH] [--json] start|stop|restart NAME
 *   hal-microkernelctl [-s PATH] [--json] stats [NAME]
 *
 * Exit status: 0 ok, 1 the daemon answered with an error, 2 usage, 3 cannot
 * reach the daemon or it answered something unreadable.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmk_ctl.h"
#include "hmk_ctl_client.h"
#include "hmk_version.h"

/* "service", name, state, pid, uptime_ms, restarts, last_exit */
#define REC_FIELDS 7
#define REPLY_TIMEOUT_MS 5000
struct rec {
    char *f[REC_FIELDS];
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: hal-microkernelctl [-s SOCKET] [--json] status [NAME]\n"
               "       hal-microkernelctl [-s SOCKET] [--json] start|stop|restart NAME\n"
               "       hal-microkernelctl [-s SOCKET] [--json] stats [NAME]\n"
               "  -s, --socket PATH  control socket (default " HMK_CTL_DEFAULT_SOCKET ")\n"
               "  -j, --json         print JSON instead of a table\n"
               "  -h, --help         this text\n");
}

static void fmt_uptime(unsigned long long ms, char *buf, size_t len)
{
    unsigned long long s = ms / 1000;

    if (s >= 86400)
        snprintf(buf, len, "%llud%02lluh", s / 86400, s / 3600 % 24);
    else if (s >= 3600)
        snprintf(buf, len, "%lluh%02llum", s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
    else
        snprintf(buf, len, "%llu.%01llus", s, ms % 1000 / 100);
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void fmt_ns(unsigned long long ns, char *buf, size_t len)
{
    if (ns >= 1000000000ull)
        snprintf(buf, len, "%.2fs", ns / 1e9);
    else if (ns >= 1000000ull)
        snprintf(buf, len, "%.2fms", ns / 1e6);
    else if (ns >= 1000ull)
        snprintf(buf, len, "%.1fus", ns / 1e3);
    else
        snprintf(buf, len, "%lluns", ns);
}

static void print_stats(const struct hmk_ctl_stats *st, size_t n, bool json)
{
    char b[5][24], obj[HMK_CTL_STATS_JSON_MAX];

    if (!json)
        printf("%-20s %9s %10s %8s %9s %9s %9s %9s\n", "NAME", "DEADLINE", "REACTIONS", "MISSES",
               "MEAN", "P50<=", "P99<=", "MAX");
    else
        printf("[");
    for (size_t i = 0; i < n; i++) {
        const struct hmk_ctl_stats *v = &st[i];
        char cnt[24], mis[24];

        if (json) {
            if (hmk_ctl_stats_json(v, 1, obj, sizeof(obj)) > 0)
                printf("%s%s", i ? "," : "", obj);
            continue;
        }
        if (v->deadline_ns)
            fmt_ns(v->deadline_ns, b[0], sizeof(b[0]));
        else
            snprintf(b[0], sizeof(b[0]), "-");
        fmt_ns(v->count ? v->sum_ns / v->count : 0, b[1], sizeof(b[1]));
        fmt_ns(hmk_ctl_stats_quantile(v, 0.5), b[2], sizeof(b[2]));
        fmt_ns(hmk_ctl_stats_quantile(v, 0.99), b[3], sizeof(b[3]));
        fmt_ns(v->max_ns, b[4], sizeof(b[4]));
        snprintf(cnt, sizeof(cnt), "%llu", (unsigned long long)v->count);
        snprintf(mis, sizeof(mis), "%llu", (unsigned long long)v->misses);
        if (!v->count)
            printf("%-20s %9s %10s %8s %9s %9s %9s %9s\n", v->name, b[0], "0", v->deadline_ns ? "0" : "-",
                   "-", "-", "-", "-");
        else
            printf("%-20s %9s %10s %8s %9s %9s %9s %9s\n", v->name, b[0], cnt,
                   v->deadline_ns ? mis : "-", b[1], b[2], b[3], b[4]);
    }
    if (json)
        printf("]\n");
}

/* One line of the reply into recs or st; -1 if it is not a record of the
 * kind asked for. */
static int take_line(char *line, bool stats, struct rec **recs, size_t *nrec,
                     struct hmk_ctl_stats **st, size_t *nst)
{
    if (stats && !strncmp(line, "stats\t", 6)) {
        struct hmk_ctl_stats *ns = realloc(*st, (*nst + 1) * sizeof(*ns));
        if (!ns)
            return -1;
        *st = ns;
        if (hmk_ctl_stats_parse(line, &ns[*nst]) < 0)
            return -1;
        (*nst)++;
        return 0;
    }
    if (!stats && !strncmp(line, "service\t", 8)) {
        struct rec r, *nr;
        char *fs = NULL, *t = strtok_r(line, "\t", &fs);
        int i = 0;
        for (; t && i < REC_FIELDS; t = strtok_r(NULL, "\t", &fs))
            r.f[i++] = t;
        if (i != REC_FIELDS || t)
            return -1;
        nr = realloc(*recs, (*nrec + 1) * sizeof(*nr));
        if (!nr)
            return -1;
        *recs = nr;
        nr[(*nrec)++] = r;
        return 0;
    }
    return -1;
}

static void print_status(const struct rec *recs, size_t nrec, bool json)
{
    if (json) {
        printf("[");
        for (size_t i = 0; i < nrec; i++) {
            printf("%s{\"name\":", i ? "," : "");
            json_str(recs[i].f[1]);
            printf(",\"state\":");
            json_str(recs[i].f[2]);
            printf(",\"pid\":%s,\"uptime_ms\":%s,\"restarts\":%s,\"last_exit\":", recs[i].f[3], recs[i].f[4],
                   recs[i].f[5]);
            json_str(recs[i].f[6]);
            printf("}");
        }
        printf("]\n");
        return;
    }
    printf("%-20s %-9s %7s %9s %8s  %s\n", "NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT");
    for (size_t i = 0; i < nrec; i++) {
        char up[32];
        unsigned long long ms = strtoull(recs[i].f[4], NULL, 10);
        if (strcmp(recs[i].f[3], "0"))
            fmt_uptime(ms, up, sizeof(up));
        else
            snprintf(up, sizeof(up), "-");
        printf("%-20s %-9s %7s %9s %8s  %s\n", recs[i].f[1], recs[i].f[2],
               strcmp(recs[i].f[3], "0") ? recs[i].f[3] : "-", up, recs[i].f[5], recs[i].f[6]);
    }
}

/* Says on stderr why asking failed; the exit status for it. */
static int ask_failed(const char *path, int err, const char *reply)
{
    if (err == -EREMOTEIO) { /* the daemon's own words, after "error\t" */
        size_t n = strlen(reply);
        const char *e;
        if (n && reply[n - 1] == '\n')
            n--;
        for (e = reply + n; e > reply && e[-1] != '\n'; e--)
            ;
        fprintf(stderr, "hal-microkernelctl: %.*s\n", (int)(reply + n - e) - 6, e + 6);
        return 1;
    }
    if (err == -ETIMEDOUT)
        fprintf(stderr, "hal-microkernelctl: no answer from '%s' within %d s\n", path, REPLY_TIMEOUT_MS / 1000);
    else if (err == -EPROTO)
        fprintf(stderr, "hal-microkernelctl: the daemon closed the connection without an answer\n");
    else if (err == -ENAMETOOLONG)
        fprintf(stderr, "hal-microkernelctl: socket path too long: '%s'\n", path);
    else
        fprintf(stderr, "hal-microkernelctl: cannot connect to '%s': %s\n", path, strerror(-err));
    return err == -ENAMETOOLONG ? 2 : 3;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' }, { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = HMK_CTL_DEFAULT_SOCKET;
    char req[HMK_CTL_REQUEST_MAX + 1];
    char *reply = NULL, *line, *save = NULL;
    struct rec *recs = NULL;
    struct hmk_ctl_stats *st = NULL;
    size_t nst = 0, nrec = 0;
    bool json = false, need_name, stats;
    int opt, ret, rc = 3;

    while ((opt = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
        switch (opt) {
        case 's': path = optarg; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': puts("hal-microkernelctl " HMK_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    stats = !strcmp(argv[optind], "stats");
    need_name = strcmp(argv[optind], "status") != 0 && !stats;
    if ((strcmp(argv[optind], "status") && strcmp(argv[optind], "start") && strcmp(argv[optind], "stop") &&
         strcmp(argv[optind], "restart") && !stats) ||
        argc - optind > 2 || (need_name && argc - optind != 2)) {
        usage(stderr);
        return 2;
    }
    if (argc - optind == 2 && !hmk_ctl_name_valid(argv[optind + 1], strlen(argv[optind + 1]))) {
        fprintf(stderr, "hal-microkernelctl: invalid service name '%s'\n", argv[optind + 1]);
        return 2;
    }
    snprintf(req, sizeof(req), "%s%s%s", argv[optind], argc - optind == 2 ? " " : "",
             argc - optind == 2 ? argv[optind + 1] : "");
    /* a daemon that cannot accept (out of file descriptors, stopped) leaves
     * us in its backlog: give up rather than hang a script for ever */
    ret = hmk_ctl_ask(path, req, REPLY_TIMEOUT_MS, &reply);
    if (ret < 0) {
        rc = ask_failed(path, ret, reply);
        goto out;
    }
    /* every line but the final "ok" is a record of the kind asked for */
    for (line = strtok_r(reply, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strcmp(line, "ok") && !strtok_r(NULL, "\n", &save))
            break;
        if (take_line(line, stats, &recs, &nrec, &st, &nst) < 0) {
            fprintf(stderr, "hal-microkernelctl: malformed reply from the daemon\n");
            goto out;
        }
    }
    if (stats)
        print_stats(st, nst, json);
    else
        print_status(recs, nrec, json);
    rc = 0;
out:
    free(recs);
    free(st);
    free(reply);
    return rc;
}
