/*
 * fuzz_cfg - the daemon's INI configuration loader (daemon/cfg*.c, inih).
 *
 * Input: normally the whole input is the configuration text, given to
 * cfg_load_string(). A first byte of 0x01..0x07 selects instead:
 *   0x01 cfg_split_argv   0x02 cfg_parse_duration_ms  0x03 cfg_parse_crash_limit
 *   0x04 cfg_parse_cpu_list  0x05 cfg_parse_size  0x06 cfg_parse_bool
 *   0x07 the rest as a file, through cfg_load() (the FILE reader)
 *
 * Properties (abort() on violation): a failure is -EINVAL with a non-empty,
 * terminated message (or a -errno from the file), success gives a
 * configuration whose services are all found by name and equal to
 * themselves (the daemon's reload compares services with
 * cfg_service_equal), with argv non-empty, and whose queues have a depth,
 * a size, and senders and receivers that are configured services.
 */
#include "cfg.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void check_cfg(int ret, struct cfg *c, const struct cfg_error *err)
{
    if (ret < 0) {
        if (!memchr(err->msg, '\0', sizeof(err->msg)))
            abort();
        if (ret == -EINVAL && (err->msg[0] == '\0' || err->line < 0))
            abort();
        return;
    }
    if (ret != 0 || !c)
        abort();
    for (unsigned i = 0; i < c->n_svc; i++) {
        struct cfg_service *s = c->svc[i];
        if (!s || !s->name || cfg_find(c, s->name) != s)
            abort();
        if (!s->argv || !s->argv[0])
            abort();
        if (!cfg_service_equal(s, s))
            abort();
    }
    for (unsigned i = 0; i < c->n_q; i++) {
        const struct cfg_queue *q = c->q[i];
        if (!q || !q->name || !q->depth || !q->size)
            abort(); /* depth and size are required */
        /* senders and receivers name configured services */
        for (char **n = q->senders; n && *n; n++)
            if (!cfg_find(c, *n))
                abort();
        for (char **n = q->receivers; n && *n; n++)
            if (!cfg_find(c, *n))
                abort();
    }
    cfg_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg_error err;
    struct cfg *c = NULL;
    unsigned sel = size ? data[0] : 0;
    char *text;
    int ret;

    if (sel >= 1 && sel <= 7) {
        data++;
        size--;
    } else {
        sel = 0;
    }
    text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    switch (sel) {
    case 0:
        memset(&err, 0x5a, sizeof(err));
        ret = cfg_load_string(text, &c, &err);
        check_cfg(ret, c, &err);
        break;
    case 1: {
        char **argv = NULL;
        ret = cfg_split_argv(text, &argv);
        if (ret >= 0) {
            if (!argv || !argv[0])
                abort();
            cfg_strv_free(argv);
        } else if (ret != -EINVAL && ret != -ENODATA && ret != -ENOMEM) {
            abort();
        }
        break;
    }
    case 2: {
        uint64_t ms;
        (void)cfg_parse_duration_ms(text, &ms);
        break;
    }
    case 3: {
        unsigned n;
        uint64_t w;
        (void)cfg_parse_crash_limit(text, &n, &w);
        break;
    }
    case 4: {
        cpu_set_t set;
        (void)cfg_parse_cpu_list(text, &set);
        break;
    }
    case 5: {
        uint64_t v;
        (void)cfg_parse_size(text, &v);
        break;
    }
    case 6: {
        bool b;
        (void)cfg_parse_bool(text, &b);
        break;
    }
    default: {
        /* the FILE path: a memfd, so nothing lands on disk */
        char path[64];
        int fd = memfd_create("fuzz_cfg", MFD_CLOEXEC);
        if (fd < 0)
            abort();
        if (size && write(fd, data, size) != (ssize_t)size)
            abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        memset(&err, 0x5a, sizeof(err));
        ret = cfg_load(path, &c, &err);
        check_cfg(ret, c, &err);
        close(fd);
        break;
    }
    }
    free(text);
    return 0;
}
