/*
 * halweb - a live dashboard of hal-microkernel pins in a browser.
 *
 * One watcher thread follows the region (web_watch.c); civetweb's worker
 * threads serve the page, the JSON API and one live event stream (SSE) per
 * browser (web_http.c). The main thread only waits for SIGTERM/SIGINT
 * (sigwait: no handler at all) and shuts both down. See halweb(1).
 */
#include <civetweb.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "halmk_service.h"
#include "hmk_version.h"
#include "hmk_ctl.h"
#include "web_http.h"

struct web_opts {
    const char *listen, *token_file, *ctl;
    unsigned max_clients, fps, send_timeout_ms;
    bool check;
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: halweb [-n] [--listen ADDR:PORT] [--token-file FILE] [--control SOCKET]\n"
               "           [--max-clients N] [--fps N] [--send-timeout MS]\n"
               "A live dashboard of hal-microkernel pins in a browser.\n"
               "  -l, --listen ADDR:PORT   address to serve (default 127.0.0.1:8080)\n"
               "  -t, --token-file FILE    operator token (enables writes); never on argv\n"
               "  -c, --control SOCKET     daemon control socket, or 'none'\n"
               "                           (default " HMK_CTL_DEFAULT_SOCKET ")\n"
               "  -m, --max-clients N      live browsers at once (default 16)\n"
               "  -f, --fps N              frames per second per browser, at most (default 30)\n"
               "  -s, --send-timeout MS    drop a browser that takes no data for MS (default 2000)\n"
               "  -n, --check              check the options and the token file, then exit\n");
}

static int number(const char *opt, const char *text, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(text, &end, 10);
    if (*text < '0' || *text > '9' || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "web: %s: '%s' is not a number from %u to %u\n", opt, text, lo, hi);
        return -EINVAL;
    }
    *out = (unsigned)v;
    return 0;
}

/* ADDR:PORT with a numeric IPv4 address or [IPv6], as civetweb takes it. */
static int check_listen(const char *text)
{
    const char *colon = strrchr(text, ':');
    unsigned port;

    if (!colon || colon == text || strspn(text, "0123456789.:[]abcdefABCDEF") != strlen(text)) {
        fprintf(stderr, "web: --listen: '%s' is not ADDR:PORT (e.g. 127.0.0.1:8080)\n", text);
        return -EINVAL;
    }
    return number("--listen port", colon + 1, 0, 65535, &port);
}

static int parse_args(int argc, char **argv, struct web_opts *o)
{
    static const struct option opts[] = {
        { "listen", required_argument, NULL, 'l' },  { "token-file", required_argument, NULL, 't' },
        { "control", required_argument, NULL, 'c' }, { "max-clients", required_argument, NULL, 'm' },
        { "fps", required_argument, NULL, 'f' },     { "send-timeout", required_argument, NULL, 's' },
        { "check", no_argument, NULL, 'n' },         { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int c, ret = 0;

    while (ret == 0 && (c = getopt_long(argc, argv, ":l:t:c:m:f:s:nhV", opts, NULL)) != -1) {
        switch (c) {
        case 'l': o->listen = optarg; ret = check_listen(optarg); break;
        case 't': o->token_file = optarg; break;
        case 'c': o->ctl = strcmp(optarg, "none") ? optarg : NULL; break;
        case 'm': ret = number("--max-clients", optarg, 1, 256, &o->max_clients); break;
        case 'f': ret = number("--fps", optarg, 1, 100, &o->fps); break;
        case 's': ret = number("--send-timeout", optarg, 100, 600000, &o->send_timeout_ms); break;
        case 'n': o->check = true; break;
        case 'h': usage(stdout); exit(0);
        case 'V': puts("halweb " HMK_VERSION); exit(0);
        case ':':
            fprintf(stderr, "web: option '%s' needs a value\n", argv[optind - 1]);
            return -EINVAL;
        default:
            fprintf(stderr, "web: unknown option '%s' (see halweb --help)\n", argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (ret == 0 && optind < argc) {
        fprintf(stderr, "web: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    return ret;
}

/* The token: the first line of a file only its owner (and group) may
 * read, 16 to 255 printable characters. */
static int read_token(const char *path, char *tok, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    ssize_t len;
    const char *why = NULL;

    if (fd < 0) {
        fprintf(stderr, "web: token file '%s': %s\n", path, strerror(errno));
        return -errno;
    }
    len = fstat(fd, &st) < 0 ? -1 : read(fd, tok, n - 1);
    close(fd);
    if (len < 0)
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (st.st_mode & 0007)
        why = "readable or writable by others (chmod o= it)";
    if (!why) {
        tok[len] = '\0';
        tok[strcspn(tok, "\r\n")] = '\0';
        if (strlen(tok) < 16 || strlen(tok) > 254)
            why = "the token (first line) must be 16 to 254 characters";
        for (const char *p = tok; !why && *p; p++)
            if (*p <= ' ' || *p > '~')
                why = "the token must be printable ASCII without spaces";
    }
    if (why) {
        memset(tok, 0, n);
        fprintf(stderr, "web: token file '%s': %s\n", path, why);
        return -EINVAL;
    }
    return 0;
}

static int log_message(const struct mg_connection *c, const char *msg)
{
    (void)c;
    fprintf(stderr, "web: civetweb: %s\n", msg);
    return 1;
}

static struct mg_context *start_http(const struct web_opts *o, struct web_http *h)
{
    char threads[16], timeout[16];
    struct mg_callbacks cb = { .log_message = log_message };
    /* no CORS at all: civetweb would otherwise answer preflights with "*" */
    const char *opts[] = { "listening_ports", o->listen, "num_threads", threads,
                           "request_timeout_ms", timeout, "enable_keep_alive", "no",
                           "access_control_allow_origin", "", "access_control_allow_methods", "",
                           "access_control_allow_headers", "", NULL };
    struct mg_context *ctx;

    /* the streams hold a thread each; the rest serve requests, and a
     * half-open connection holds one for at most the send timeout */
    snprintf(threads, sizeof(threads), "%u", o->max_clients + 48);
    snprintf(timeout, sizeof(timeout), "%u", o->send_timeout_ms);
    ctx = mg_start(&cb, h, opts);
    if (ctx)
        web_http_register(ctx, h);
    return ctx;
}

static void print_url(struct mg_context *ctx, const struct web_opts *o, bool rw)
{
    struct mg_server_port p[4];
    int n = mg_get_server_ports(ctx, 4, p);
    char host[64];
    const char *colon = strrchr(o->listen, ':');

    snprintf(host, sizeof(host), "%.*s", (int)(colon - o->listen), o->listen);
    fprintf(stderr, "web: serving http://%s:%d/ (%s)\n", host, n > 0 ? p[0].port : 0,
            rw ? "operator token enables writes" : "read-only");
}

static int serve(const struct web_opts *o, struct web_http *h)
{
    struct web_state *s = h->s;
    struct mg_context *ctx;
    pthread_t watcher;
    sigset_t sigs;
    int sig, ret;

    /* every thread created from here on inherits this mask; main takes
     * TERM/INT with sigwait, PIPE is never wanted (sends use MSG_NOSIGNAL
     * or civetweb's own handling) */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    ret = pthread_create(&watcher, NULL, web_watch_main, s);
    if (ret) {
        fprintf(stderr, "web: watcher thread: %s\n", strerror(ret));
        return 1;
    }
    ctx = start_http(o, h);
    if (!ctx) {
        fprintf(stderr, "web: cannot serve on '%s' (address in use or not local?)\n", o->listen);
        ret = 1;
    } else {
        print_url(ctx, o, h->token[0] != 0);
        if ((ret = hmk_ready()) < 0)
            fprintf(stderr, "web: readiness: %s\n", strerror(-ret));
        sigdelset(&sigs, SIGPIPE);
        while (sigwait(&sigs, &sig) != 0)
            ;
        fprintf(stderr, "web: %s, stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        ret = 0;
    }
    web_state_stop(s);
    if (ctx)
        mg_stop(ctx);
    pthread_join(watcher, NULL);
    return ret;
}

int main(int argc, char **argv)
{
    struct web_opts o = { .listen = "127.0.0.1:8080", .ctl = HMK_CTL_DEFAULT_SOCKET,
                          .max_clients = 16, .fps = 30, .send_timeout_ms = 2000 };
    static struct web_state s;
    static struct web_http h;
    int ret;

    if (parse_args(argc, argv, &o) < 0)
        return 2;
    if (o.token_file && read_token(o.token_file, h.token, sizeof(h.token)) < 0)
        return 1;
    if (o.check) {
        printf("web: configuration OK: listen %s, %s, control %s\n", o.listen,
               o.token_file ? "operator writes with the token" : "read-only",
               o.ctl ? o.ctl : "none");
        return 0;
    }
    if (web_state_init(&s) < 0) {
        fprintf(stderr, "web: out of memory\n");
        return 1;
    }
    s.ctl_socket = o.ctl;
    /* no token: no writes, so the region is mapped read-only */
    s.open_flags = h.token[0] ? 0 : HMK_OPEN_RDONLY;
    h.s = &s;
    h.max_clients = o.max_clients;
    h.fps = o.fps;
    mg_init_library(0);
    ret = serve(&o, &h);
    mg_exit_library();
    web_state_destroy(&s);
    return ret;
}
