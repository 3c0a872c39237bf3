/*
 * hmk-test-notify SOCKET OUT - stands in for systemd's notification socket:
 * binds an AF_UNIX datagram socket at SOCKET and appends every message it
 * receives, one line per assignment, to OUT. Runs until SIGTERM.
 * OUT is created (empty) once the socket is bound, so tests wait for it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char buf[4096];
    int fd, out;

    if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "usage: hmk-test-notify SOCKET OUT\n");
        return 2;
    }
    strcpy(sa.sun_path, argv[1]);
    unlink(argv[1]);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("hmk-test-notify: bind");
        return 1;
    }
    out = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (out < 0) {
        perror("hmk-test-notify: open");
        return 1;
    }
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
            continue;
        if (buf[n - 1] != '\n')
            buf[n++] = '\n';
        if (write(out, buf, (size_t)n) < 0)
            return 1;
    }
}
