/*
 * The adapter's one event loop: epoll over the listening socket, every
 * agent connection and the HAL half's descriptor (adapter.h). Sockets are non-blocking; each client
 * has a bounded output buffer (client-buffer bytes, and SO_SNDBUF set to the
 * same so the kernel does not queue megabytes more behind it). A client
 * whose buffer would overflow, that sends something other than SHDR
 * commands, or that stops pinging after it started, is dropped with one
 * log line; the others never wait for it.
 */
#include "adapter.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLIENT_IN_MAX 256   /* longest command line a client may send */

struct client {
    struct client *next;
    int fd;
    char peer[64];
    char *out;
    size_t off, len, cap;   /* unsent bytes are out[off..len) */
    char in[CLIENT_IN_MAX];
    size_t inlen;
    int64_t last_rx_ms;
    bool pinged;            /* heartbeats on: silence means a dead agent */
    bool want_out;          /* EPOLLOUT registered */
};

struct net {
    struct hub *h;
    const struct mtc_config *c;
    int ep, lfd;
    struct client *clients;
    struct client *dead;    /* dropped during this epoll batch, freed after it */
    unsigned nclients;
    struct hal *hal;
    int hal_fd;             /* registered HAL descriptor, or -1 */
    unsigned hal_gen;       /* hal_watch_fd's generation of it */
    bool hal_fd_set;
};

static int split_listen(const char *spec, char *host, size_t hlen, const char **port)
{
    const char *colon;

    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (!end || end[1] != ':')
            return -EINVAL;
        snprintf(host, hlen, "%.*s", (int)(end - spec - 1), spec + 1);
        *port = end + 2;
        return 0;
    }
    colon = strrchr(spec, ':');
    if (!colon)
        return -EINVAL;
    snprintf(host, hlen, "%.*s", (int)(colon - spec), spec);
    *port = colon + 1;
    return 0;
}

int net_listen(const struct mtc_config *c, int *fd, char *bound, size_t blen, char *err,
               size_t errlen)
{
    struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
                              .ai_socktype = SOCK_STREAM }, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[80], h2[INET6_ADDRSTRLEN], p2[16];
    const char *port;
    int s, one = 1, ret;

    if (split_listen(c->listen, host, sizeof(host), &port) < 0 ||
        (ret = getaddrinfo(host, port, &hints, &ai)) != 0) {
        snprintf(err, errlen, "%s: listen = %s: not a numeric ADDRESS:PORT", c->file, c->listen);
        return -EINVAL;
    }
    if (!fd) { /* a config check */
        freeaddrinfo(ai);
        return 0;
    }
    s = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(s, ai->ai_addr, ai->ai_addrlen) < 0 || listen(s, 16) < 0 ||
        getsockname(s, (struct sockaddr *)&ss, &sl) < 0) {
        ret = -errno;
        snprintf(err, errlen, "listen on %s: %s", c->listen, strerror(errno));
        if (s >= 0)
            close(s);
        freeaddrinfo(ai);
        return ret;
    }
    freeaddrinfo(ai);
    getnameinfo((struct sockaddr *)&ss, sl, h2, sizeof(h2), p2, sizeof(p2),
                NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(bound, blen, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h2, p2);
    *fd = s;
    return 0;
}

static void client_drop(struct net *n, struct client *cl, const char *why)
{
    struct client **pp;

    if (why && !strcmp(why, "disconnected"))
        mtc_log("client %s: disconnected (%u left)", cl->peer, n->nclients - 1);
    else if (why)
        mtc_log("client %s: %s; dropped", cl->peer, why);
    for (pp = &n->clients; *pp; pp = &(*pp)->next)
        if (*pp == cl) {
            *pp = cl->next;
            break;
        }
    close(cl->fd); /* also removes it from the epoll set */
    cl->fd = -1;
    /* later events of this batch may still point at it */
    cl->next = n->dead;
    n->dead = cl;
    n->nclients--;
}

static void reap(struct net *n)
{
    while (n->dead) {
        struct client *cl = n->dead;
        n->dead = cl->next;
        free(cl->out);
        free(cl);
    }
}

/* Sends what is queued; false if the client had to be dropped. */
static bool client_flush(struct net *n, struct client *cl)
{
    while (cl->off < cl->len) {
        ssize_t w = send(cl->fd, cl->out + cl->off, cl->len - cl->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0) {
            client_drop(n, cl, w < 0 ? strerror(errno) : "connection closed");
            return false;
        }
        cl->off += (size_t)w;
    }
    if (cl->off == cl->len)
        cl->off = cl->len = 0;
    if ((cl->off < cl->len) != cl->want_out) {
        struct epoll_event ev = { .events = EPOLLIN | (cl->want_out ? 0 : EPOLLOUT), .data.ptr = cl };
        cl->want_out = !cl->want_out;
        epoll_ctl(n->ep, EPOLL_CTL_MOD, cl->fd, &ev);
    }
    return true;
}

/* Queue bytes for one client, bounded; false if it was dropped. */
static bool client_send(struct net *n, struct client *cl, const char *p, size_t len)
{
    size_t queued = cl->len - cl->off;

    if (queued + len > n->c->client_buffer) {
        char why[96];
        snprintf(why, sizeof(why), "not reading (%zu bytes queued, client-buffer = %zu)",
                 queued + len, n->c->client_buffer);
        client_drop(n, cl, why);
        return false;
    }
    if (cl->off && cl->len + len > cl->cap) {
        memmove(cl->out, cl->out + cl->off, queued);
        cl->off = 0;
        cl->len = queued;
    }
    if (cl->len + len > cl->cap) {
        size_t cap = cl->cap ? cl->cap : 4096;
        char *q;
        while (cap < cl->len + len)
            cap *= 2;
        q = realloc(cl->out, cap);
        if (!q) {
            client_drop(n, cl, "out of memory");
            return false;
        }
        cl->out = q;
        cl->cap = cap;
    }
    memcpy(cl->out + cl->len, p, len);
    cl->len += len;
    return client_flush(n, cl);
}

/* Pending lines to everyone connected; a snapshot for everyone after an
 * overflow. */
static void fan_out(struct net *n)
{
    struct mtc_buf lines = { 0 };
    struct client *cl, *next;
    bool resync;

    resync = n->h->resync;
    n->h->resync = false;
    if (resync)
        hub_snapshot(n->h, mtc_utc_ms(), &lines);
    else {
        lines = n->h->pending;
        memset(&n->h->pending, 0, sizeof(n->h->pending));
    }
    n->h->pending.len = 0;
    for (cl = n->clients; lines.len && cl; cl = next) {
        next = cl->next;
        client_send(n, cl, lines.p, lines.len);
    }
    mtc_buf_free(&lines);
}

static void client_new(struct net *n, int fd, const struct sockaddr_storage *ss, socklen_t sl)
{
    char host[INET6_ADDRSTRLEN] = "?", port[16] = "?";
    struct mtc_buf snap = { 0 };
    struct client *cl;
    int sndbuf = (int)n->c->client_buffer, one = 1;
    struct epoll_event ev = { .events = EPOLLIN };

    getnameinfo((const struct sockaddr *)ss, sl, host, sizeof(host), port, sizeof(port),
                NI_NUMERICHOST | NI_NUMERICSERV);
    if (n->nclients >= n->c->max_clients) {
        mtc_log("client %s:%s: refused, max-clients = %u already connected", host, port,
                n->c->max_clients);
        close(fd);
        return;
    }
    cl = calloc(1, sizeof(*cl));
    if (!cl) {
        close(fd);
        return;
    }
    cl->fd = fd;
    snprintf(cl->peer, sizeof(cl->peer), "%s:%s", host, port);
    cl->last_rx_ms = mtc_mono_ms();
    /* a fixed kernel buffer: memory per client stays bounded, and a client
     * that stops reading fills client-buffer soon, not after megabytes */
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ev.data.ptr = cl;
    if (epoll_ctl(n->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        free(cl);
        return;
    }
    cl->next = n->clients;
    n->clients = cl;
    n->nclients++;
    mtc_log("client %s: connected (%u now)", cl->peer, n->nclients);
    /* lines published before this snapshot go to the others first, so the
     * new client sees the snapshot and then exactly what follows it */
    fan_out(n);
    hub_snapshot(n->h, mtc_utc_ms(), &snap);
    client_send(n, cl, snap.p, snap.len);
    mtc_buf_free(&snap);
}

static void accept_all(struct net *n)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(n->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                mtc_log("accept: %s", strerror(errno));
            return;
        }
        client_new(n, fd, &ss, sl);
    }
}

/* One command line from an agent. false: dropped. */
static bool client_line(struct net *n, struct client *cl, char *s)
{
    char pong[48], *e = s + strlen(s);

    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    if (!*s)
        return true;
    for (char *q = s; *q; q++)
        if (!isprint((unsigned char)*q)) {
            client_drop(n, cl, "sent binary data");
            return false;
        }
    if (!strcmp(s, "* PING")) {
        cl->pinged = true;
        int len = snprintf(pong, sizeof(pong), "* PONG %u\n", n->c->heartbeat_ms);
        return client_send(n, cl, pong, (size_t)len);
    }
    if (s[0] == '*')
        return true; /* another protocol command: nothing we answer */
    {
        char why[CLIENT_IN_MAX + 64];
        snprintf(why, sizeof(why), "sent '%.40s' (not an SHDR command)", s);
        client_drop(n, cl, why);
    }
    return false;
}

static void client_read(struct net *n, struct client *cl)
{
    for (;;) {
        ssize_t r = recv(cl->fd, cl->in + cl->inlen, sizeof(cl->in) - 1 - cl->inlen, 0);
        char *nl;

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            client_drop(n, cl, r < 0 ? strerror(errno) : "disconnected");
            return;
        }
        cl->last_rx_ms = mtc_mono_ms();
        cl->inlen += (size_t)r;
        cl->in[cl->inlen] = '\0';
        while ((nl = memchr(cl->in, '\n', cl->inlen))) {
            size_t used = (size_t)(nl - cl->in) + 1;
            *nl = '\0';
            if (strlen(cl->in) != used - 1) {
                client_drop(n, cl, "sent a NUL byte");
                return;
            }
            if (!client_line(n, cl, cl->in))
                return;
            memmove(cl->in, cl->in + used, cl->inlen - used);
            cl->inlen -= used;
        }
        if (cl->inlen == sizeof(cl->in) - 1) {
            client_drop(n, cl, "sent a line longer than 255 bytes");
            return;
        }
    }
}

/* Agents that turned heartbeats on and then fell silent for two periods
 * (what cppagent itself allows the adapter) are gone; returns the epoll
 * timeout until the next such deadline. */
static int check_silent(struct net *n)
{
    int64_t now = mtc_mono_ms(), limit = 2 * (int64_t)n->c->heartbeat_ms, next = -1;
    struct client *cl, *nx;

    for (cl = n->clients; cl; cl = nx) {
        nx = cl->next;
        if (!cl->pinged)
            continue;
        if (now - cl->last_rx_ms > limit) {
            client_drop(n, cl, "no PING for two heartbeat periods");
            continue;
        }
        if (next < 0 || cl->last_rx_ms + limit - now < next)
            next = cl->last_rx_ms + limit - now + 1;
    }
    return (int)next;
}

/* The HAL descriptor, (re)registered whenever the HAL half changed it. */
static int watch_hal(struct net *n)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    unsigned gen;
    int fd = hal_watch_fd(n->hal, &gen);

    if (gen == n->hal_gen && n->hal_fd_set)
        return 0;
    if (n->hal_fd >= 0)
        epoll_ctl(n->ep, EPOLL_CTL_DEL, n->hal_fd, NULL); /* ENOENT if it was closed */
    n->hal_fd = fd;
    n->hal_gen = gen;
    n->hal_fd_set = true;
    if (fd >= 0 && epoll_ctl(n->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    return 0;
}

/* epoll_pwait's timeout: the nearer of the silent-client and HAL deadlines. */
static int loop_timeout(struct net *n, int64_t *hal_due)
{
    int t = check_silent(n), h = hal_timeout_ms(n->hal);
    int64_t now = mtc_mono_ms();

    if (h < 0)
        *hal_due = -1;
    else if (*hal_due < 0 || *hal_due - now > h)
        *hal_due = now + h;
    if (*hal_due >= 0) {
        int left = *hal_due > now ? (int)(*hal_due - now) : 0;
        if (t < 0 || left < t)
            t = left;
    }
    return t;
}

static int net_loop(struct net *n, volatile sig_atomic_t *stop, const sigset_t *waitmask)
{
    struct epoll_event evs[32];
    int64_t hal_due = -1;
    int ret = 0;

    while (!*stop && ret == 0 && (ret = watch_hal(n)) == 0) {
        int k = epoll_pwait(n->ep, evs, 32, loop_timeout(n, &hal_due), waitmask);
        if (k < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < k && ret == 0; i++) {
            struct client *cl = evs[i].data.ptr;
            if (cl && (void *)cl != (void *)n && cl->fd < 0)
                continue; /* dropped earlier in this batch */
            if (cl == NULL) {
                ret = hal_ready(n->hal);
                hal_due = -1; /* it just looked: the next tick from now */
            } else if ((void *)cl == (void *)n) {
                accept_all(n);
            } else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                client_read(n, cl);
            } else if (evs[i].events & EPOLLOUT) {
                client_flush(n, cl);
            }
        }
        if (ret == 0 && hal_due >= 0 && mtc_mono_ms() >= hal_due) {
            ret = hal_tick(n->hal);
            hal_due = -1;
        }
        fan_out(n);
        reap(n);
    }
    return ret;
}

int net_run(struct hub *h, int listen_fd, struct hal *a, volatile sig_atomic_t *stop,
            const sigset_t *waitmask)
{
    struct net n = { .h = h, .c = h->c, .lfd = listen_fd, .hal = a, .hal_fd = -1 };
    struct epoll_event ev = { .events = EPOLLIN };
    int ret;

    n.ep = epoll_create1(EPOLL_CLOEXEC);
    if (n.ep < 0)
        return -errno;
    ev.data.ptr = &n;
    epoll_ctl(n.ep, EPOLL_CTL_ADD, n.lfd, &ev);
    fan_out(&n); /* what attaching published */
    ret = net_loop(&n, stop, waitmask);
    while (n.clients)
        client_drop(&n, n.clients, NULL);
    reap(&n);
    close(n.ep);
    return ret;
}
