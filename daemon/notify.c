/* notify.c - see notify.h */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Fills *sa from $NOTIFY_SOCKET; returns the address length, 0 if unset. */
static int notify_address(struct sockaddr_un *sa, socklen_t *len)
{
    const char *e = getenv("NOTIFY_SOCKET");
    size_t n;

    if (!e || !*e)
        return 0;
    n = strlen(e);
    if ((e[0] != '/' && e[0] != '@') || n >= sizeof(sa->sun_path) || (e[0] == '@' && n < 2))
        return -EINVAL;
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, e, n);
    if (e[0] == '@') {
        sa->sun_path[0] = '\0'; /* abstract: the length says where the name ends */
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 1;
}

int notify_send(const char *msg)
{
    struct sockaddr_un sa;
    socklen_t len = 0;
    int r = notify_address(&sa, &len), fd;

    if (r <= 0)
        return r;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    r = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa, len) < 0
            ? -errno : 1;
    close(fd);
    return r;
}

static int notify_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return -EINVAL;
    *out = v;
    return 0;
}

int notify_watchdog_usec(uint64_t *usec)
{
    const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    uint64_t v, p;

    if (!us || !*us)
        return 0;
    if (notify_parse_u64(us, &v) < 0 || v == 0)
        return -EINVAL;
    if (pid && *pid) {
        if (notify_parse_u64(pid, &p) < 0 || p == 0)
            return -EINVAL;
        if (p != (uint64_t)getpid())
            return 0; /* inherited from a parent the manager watches */
    }
    *usec = v;
    return 1;
}
