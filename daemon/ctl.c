/*
 * ctl.c - the control socket (hmk_ctl.h has the protocol): accepting
 * clients, their requests and replies, who may do what (SO_PEERCRED), and
 * the descriptor reserve that keeps clients from taking the last
 * descriptors supervision needs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_parse.h"
#include "daemon.h"
#include "fmt.h"
#include "log.h"

#define MAX_CLIENTS 32
#define FDS_TICK_MS 200     /* while short of descriptors: look again this often */
#define FDS_QUIET_MS 5000   /* ... and call the episode over after this long without */

/* ------------------------------------------------- out of file descriptors */

void reserve_release(void)
{
    while (d.n_reserve)
        close(d.reserve[--d.n_reserve]);
}

/* The reserve: FD_RESERVE descriptors held while there are enough, all or
 * none. A control connection is accepted only while the reserve is whole,
 * so clients never take the last descriptors; when starting a service or
 * attaching the region runs short, the reserve is let go for it. Returns 0
 * when whole, else -errno (and holds none). */
int reserve_take(void)
{
    while (d.n_reserve < FD_RESERVE) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), e = errno;
        if (fd < 0) {
            reserve_release();
            return -e;
        }
        d.reserve[d.n_reserve++] = fd;
    }
    return 0;
}

static void listen_events(uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = &d.w_listen };

    if (d.listen_fd >= 0)
        epoll_ctl(d.epfd, EPOLL_CTL_MOD, d.listen_fd, &ev);
}

bool fds_lacking(int err)
{
    return err == EMFILE || err == ENFILE;
}

/* Short of descriptors (err: EMFILE, ENFILE; ENOBUFS, ENOMEM from accept)
 * while doing `what`: the reserve goes to supervision, the listening socket
 * leaves the epoll set (a pending connection keeps it readable: left in, it
 * would spin) and a timer looks again every FDS_TICK_MS (fds_tick). One
 * line for the whole episode. */
void fds_short_begin(int err, const char *what)
{
    struct rlimit rl = { 0, 0 };

    reserve_release();
    listen_events(0);
    d.fds_short_ms = now_ms();
    if (d.fds_short)
        return;
    d.fds_short = true;
    timer_arm(d.fds_tick_fd, FDS_TICK_MS, true);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (fds_lacking(err))
        log_warn("Out of file descriptors while %s (%s; limit %llu): control connections are "
                 "refused until there are enough again; services are still supervised",
                 what, strerror(err), (unsigned long long)rl.rlim_cur);
    else
        log_warn("Out of memory while %s (%s): control connections are refused until there "
                 "is enough again; services are still supervised", what, strerror(err));
}


/* Whether a live daemon listens at sa. A socket file left by a killed
 * daemon refuses connections, except for a moment after a SIGKILL, when a
 * child between fork and exec may still hold the listening socket: only a
 * socket that keeps taking connections for a second belongs to a daemon
 * (one that is busy, or whose backlog is full, still counts). */
static bool socket_alive(const struct sockaddr_un *sa)
{
    for (int i = 0; i < 10; i++) {
        struct timespec gap = { 0, 100000000 };
        int p = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), r, e;

        if (p < 0)
            return true; /* cannot tell: never take over a live daemon's socket */
        r = connect(p, (const struct sockaddr *)sa, sizeof(*sa));
        e = errno;
        close(p);
        if (r < 0 && e != EAGAIN)
            return false;
        if (i < 9)
            nanosleep(&gap, NULL);
    }
    return true;
}


/* ----------------------------------------------------------- control socket */

int ctl_listen(const struct cfg_daemon *c)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    mode_t old_umask;
    char dir[sizeof(sa.sun_path)], *slash;
    int fd, ret;

    if (d.listen_fd >= 0) {
        close_fd(&d.listen_fd);
        unlink(d.listen_path);
        d.listen_path[0] = '\0';
    }
    if (!*c->control_socket)
        return 0;
    fmt(sa.sun_path, sizeof(sa.sun_path), "%s", c->control_socket);
    fmt(dir, sizeof(dir), "%s", c->control_socket);
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    /* a socket left over by a daemon that was killed goes; one that a
     * running daemon still answers on stays, and we refuse to start */
    {
        struct stat st;
        if (lstat(sa.sun_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            if (socket_alive(&sa)) {
                close(fd);
                errno = EADDRINUSE;
                return -1;
            }
            unlink(sa.sun_path);
        }
    }
    old_umask = umask(0177); /* no window where the socket is wider open than asked */
    ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old_umask);
    if (ret < 0 || chmod(sa.sun_path, c->control_mode) < 0 ||
        (c->has_control_group && chown(sa.sun_path, (uid_t)-1, c->control_gid) < 0) || listen(fd, 16) < 0)
        goto fail;
    d.w_listen = (struct watch){ W_LISTEN, NULL };
    if (ep_add(fd, &d.w_listen, EPOLLIN) < 0)
        goto fail;
    d.listen_fd = fd;
    fmt(d.listen_path, sizeof(d.listen_path), "%s", c->control_socket);
    return 0;
fail:
    ret = errno;
    close(fd);
    errno = ret;
    return -1;
}

/* Unlinks and closes now; frees after the current batch of epoll events,
 * which may still hold a pointer to it (see reap_dead_clients). */
void client_close(struct client *c)
{
    for (struct client **pp = &d.clients; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    close_fd(&c->fd);
    close_fd(&c->pass_fd);
    free(c->out);
    c->out = NULL;
    c->next = d.dead_clients;
    d.dead_clients = c;
    d.n_clients--;
}

void reap_dead_clients(void)
{
    while (d.dead_clients) {
        struct client *c = d.dead_clients;
        d.dead_clients = c->next;
        free(c);
    }
}

static int out_append(struct client *c, const char *format, ...) __attribute__((format(printf, 2, 3)));
static int out_append(struct client *c, const char *format, ...)
{
    va_list ap;
    char *n;
    int len;

    va_start(ap, format);
    len = fmt_v(NULL, 0, format, ap);
    va_end(ap);
    n = realloc(c->out, c->out_len + (size_t)len + 1);
    if (!n)
        return -ENOMEM;
    c->out = n;
    va_start(ap, format);
    fmt_v(c->out + c->out_len, (size_t)len + 1, format, ap);
    va_end(ap);
    c->out_len += (size_t)len;
    return 0;
}

static void out_record(struct client *c, const struct svc *s, uint64_t now)
{
    out_append(c, "service\t%s\t%s\t%d\t%llu\t%u\t%s\n", s->cfg->name, svc_state_name(s->state),
               (int)s->proc.pid, svc_has_process(s) ? (unsigned long long)(now - s->start_ms) : 0ULL,
               s->restarts, s->last_exit);
}

/* A write channel, the descriptor travelling with the "ok": a service's
 * own (the peer is its main process: libhalmk asks again after the bridge
 * was reloaded, the channel it inherited being the old bridge's), or the
 * tools channel for a user of the writer group (every out pin, like root's
 * halpoke). */
static void out_stats(struct client *c, const struct svc *s)
{
    struct telem_snap sn;
    char line[1024];

    telem_read(&s->tm, &sn);
    sn.deadline_ns = s->cfg->deadline_ns; /* the configured one, whatever the block says */
    if (telem_format(s->cfg->name, &sn, line, sizeof(line)) > 0)
        out_append(c, "%s", line);
}

static void client_channel(struct client *c)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    struct svc *s = NULL;
    int fd;

    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0)
        s = svc_by_pid(cred.pid);
    if (s && s->chan && svc_writes(s->cfg)) {
        /* a service that re-attached to a new region before we did: it
         * asks again (libhalmk retries on this reply for a second) */
        if (!region_attached(&d.region)) {
            out_append(c, "error\tno region attached (is the bridge loaded?)\n");
            return;
        }
        fd = region_channel_fd(&d.region, s->chan, s->cfg->writes);
        if (fd == -ESTALE) {
            /* the bridge was reloaded and our heartbeat has not noticed
             * yet: notice now (re-attach), then hand out the new channel */
            region_tick(&d.region, now_ms());
            fd = region_attached(&d.region) ? region_channel_fd(&d.region, s->chan, s->cfg->writes)
                                            : -ESTALE;
        }
        if (fd == -ESTALE) {
            out_append(c, "error\tno region attached (is the bridge loaded?)\n");
            return;
        }
        if (fd < 0) {
            out_append(c, "error\tcannot hand service %s its channel: %s\n", s->cfg->name,
                       hmk_strerror(fd));
            return;
        }
        c->pass_fd = fd;
        out_append(c, "ok\n");
        return;
    }
    if (!c->writer) {
        log_warn("Refused a write channel to a peer outside the writer group");
        out_append(c, "error\tpermission denied: writing needs root or the writer-group "
                   "(writer-group = in [daemon])\n");
        return;
    }
    if (!region_attached(&d.region)) {
        out_append(c, "error\tno region attached (is the bridge loaded?)\n");
        return;
    }
    fd = region_tools_channel_fd(&d.region);
    if (fd < 0) {
        out_append(c, "error\tcannot take the tools channel: %s\n", hmk_strerror(fd));
        return;
    }
    c->pass_fd = fd;
    out_append(c, "ok\n");
}

static void client_request(struct client *c, size_t len)
{
    struct ctl_request rq;
    const char *why;
    struct svc *s = NULL;
    uint64_t now = now_ms();

    if (ctl_parse_request(c->in, len, &rq, &why) < 0) {
        out_append(c, "error\t%s\n", why);
        return;
    }
    if (rq.verb == HMK_CTL_CHANNEL) {
        client_channel(c);
        return;
    }
    if (rq.has_name) {
        s = svc_find(rq.name, false);
        if (!s) {
            out_append(c, "error\tno such service: %s\n", rq.name);
            return;
        }
    }
    if (rq.verb == HMK_CTL_STATS) {
        for (struct svc *t = s ? s : d.svcs; t; t = s ? NULL : t->next)
            out_stats(c, t);
        out_append(c, "ok\n");
        return;
    }
    if (rq.verb != HMK_CTL_STATUS) {
        if (!c->priv) {
            log_warn("Refused '%s %s' from an unprivileged peer", hmk_ctl_verb_name(rq.verb), rq.name);
            out_append(c, "error\tpermission denied\n");
            return;
        }
        if (d.shutting_down) {
            out_append(c, "error\tshutting down\n");
            return;
        }
        log_info("Control: %s %s", hmk_ctl_verb_name(rq.verb), rq.name);
        /* the goal, then what the table makes of it in the service's state */
        switch (rq.verb) {
        case HMK_CTL_START:
            s->goal_up = true;
            svc_event(s, SVC_EV_START, NULL);
            break;
        case HMK_CTL_STOP:
            s->goal_up = false;
            svc_event(s, SVC_EV_STOP, NULL);
            break;
        case HMK_CTL_RESTART:
            s->goal_up = true;
            svc_event(s, SVC_EV_RESTART, NULL);
            break;
        default:
            break;
        }
        reconcile();
    }
    if (s)
        out_record(c, s, now);
    else
        for (s = d.svcs; s; s = s->next)
            out_record(c, s, now);
    out_append(c, "ok\n");
}

/* The first bytes of a reply that carries a descriptor go with it. */
static ssize_t client_send_fd(struct client *c)
{
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    struct iovec iov = { c->out, c->out_len };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof(u.buf) };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    ssize_t n;

    memset(&u, 0, sizeof(u));
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &c->pass_fd, sizeof(int));
    n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
    if (n >= 0)
        close_fd(&c->pass_fd);
    return n;
}

static void client_flush(struct client *c)
{
    while (c->out_off < c->out_len) {
        if (c->pass_fd >= 0 && c->out_off == 0) {
            ssize_t n = client_send_fd(c);
            if (n < 0 && errno == EAGAIN) {
                struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &c->w };
                epoll_ctl(d.epfd, EPOLL_CTL_MOD, c->fd, &ev);
                return;
            }
            if (n < 0)
                break;
            c->out_off += (size_t)n;
            continue;
        }
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &c->w };
                epoll_ctl(d.epfd, EPOLL_CTL_MOD, c->fd, &ev);
                return;
            }
            break;
        }
        c->out_off += (size_t)n;
    }
    client_close(c);
}

void client_io(struct client *c)
{
    char *nl;
    ssize_t n;

    if (c->fd < 0)
        return; /* closed earlier in this batch */
    if (c->out) {
        client_flush(c);
        return;
    }
    n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
    if (n < 0 && errno == EAGAIN)
        return;
    /* a peer that shut its side mid-line still gets one error line */
    if (n < 0 || (n == 0 && c->in_len == 0)) {
        client_close(c);
        return;
    }
    c->in_len += (size_t)n;
    nl = memchr(c->in, '\n', c->in_len);
    if (!nl && c->in_len < sizeof(c->in) && n > 0)
        return;
    client_request(c, nl ? (size_t)(nl - c->in + 1) : c->in_len);
    if (!c->out) {
        client_close(c);
        return;
    }
    client_flush(c);
}

/* The peer (SO_PEERCRED, SO_PEERGROUPS) is root, or in group gid if has. */
static bool peer_in_group(int fd, bool has, gid_t gid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    gid_t groups[256];

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return false;
    if (cred.uid == 0)
        return true;
    if (!has)
        return false;
    if (cred.gid == gid)
        return true;
    len = sizeof(groups);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
        return false;
    for (size_t i = 0; i < len / sizeof(gid_t); i++)
        if (groups[i] == gid)
            return true;
    return false;
}

static bool peer_privileged(int fd)
{
    return peer_in_group(fd, d.cfg->daemon.has_control_group, d.cfg->daemon.control_gid);
}

/* A full table evicts the oldest client that has had CLIENT_GRACE_MS to say
 * something: a peer that connects and stays silent cannot lock the control
 * socket, and no timer is needed while the table is not full. */
#define CLIENT_GRACE_MS 5000u
static void evict_stale_client(void)
{
    struct client *oldest = NULL;

    for (struct client *c = d.clients; c; c = c->next)
        if (!oldest || c->accepted_ms < oldest->accepted_ms)
            oldest = c;
    if (oldest && now_ms() - oldest->accepted_ms >= CLIENT_GRACE_MS)
        client_close(oldest);
}

/* Answers one error line and closes. */
static void refuse(int fd, const char *line)
{
    char sink[HMK_CTL_REQUEST_MAX];

    if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
        /* the peer is gone already */
    }
    /* closing with its request unread would reset the connection and lose
     * the answer: take what it sent so far */
    while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
        ;
    close(fd);
}

/* While short of descriptors: connections waiting in the backlog get a
 * prompt answer instead of none (each borrows a descriptor for a moment,
 * if there is one); a bounded number per tick. */
static void refuse_pending(void)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(d.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        refuse(fd, "error\tthe daemon is out of file descriptors; try again shortly\n");
    }
}

/* Every FDS_TICK_MS while short of descriptors: clients silent for their
 * grace time go (they may be what holds the descriptors), waiting ones are
 * answered; once the reserve can be taken whole again, accept() resumes,
 * and after FDS_QUIET_MS without a shortage the episode is over. */
void fds_tick(void)
{
    uint64_t x, now = now_ms();

    if (read(d.fds_tick_fd, &x, sizeof(x)) < 0) {
        /* nothing to drain */
    }
    if (!d.fds_short)
        return;
    for (struct client *c = d.clients, *next; c; c = next) {
        next = c->next;
        if (now - c->accepted_ms >= CLIENT_GRACE_MS)
            client_close(c);
    }
    if (reserve_take() < 0) {
        d.fds_short_ms = now;
        if (d.listen_fd >= 0)
            refuse_pending();
        return;
    }
    listen_events(EPOLLIN);
    if (now - d.fds_short_ms >= FDS_QUIET_MS) {
        d.fds_short = false;
        timer_disarm(d.fds_tick_fd);
        log_info("File descriptors available again: control connections accepted");
    }
}

void ctl_accept(void)
{
    for (;;) {
        int fd = -1, ret;
        struct client *c;

        /* the reserve whole first: clients never take the last descriptors */
        ret = reserve_take();
        if (ret == 0) {
            fd = accept4(d.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            ret = fd < 0 ? -errno : 0;
        }
        if (ret < 0) {
            if (fds_lacking(-ret) || ret == -ENOBUFS || ret == -ENOMEM) {
                /* the released reserve lends the waiting ones a descriptor
                 * each for their answer */
                fds_short_begin(-ret, "accepting a control connection");
                refuse_pending();
            }
            return;
        }
        if (d.n_clients >= MAX_CLIENTS)
            evict_stale_client();
        if (d.n_clients >= MAX_CLIENTS || !(c = calloc(1, sizeof(*c)))) {
            refuse(fd, "error\tbusy\n");
            continue;
        }
        c->fd = fd;
        c->accepted_ms = now_ms();
        c->w = (struct watch){ W_CLIENT, c };
        c->priv = peer_privileged(fd);
        c->writer = peer_in_group(fd, d.cfg->daemon.has_writer_group, d.cfg->daemon.writer_gid);
        c->pass_fd = -1;
        if (ep_add(fd, &c->w, EPOLLIN) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = d.clients;
        d.clients = c;
        d.n_clients++;
    }
}

