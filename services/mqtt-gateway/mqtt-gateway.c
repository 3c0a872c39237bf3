/*
 * mqtt-gateway - every pin of the region on an MQTT broker, retained, with
 * a last will, and commands back to the pins the daemon's `writes =` grants.
 * See mqtt-gateway(1) for the topic layout and gw.h for the two threads.
 *
 * This file: options, the pin table, the HAL thread (service framework
 * handlers) and main.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <mosquitto.h>

#include "gw.h"
#include "hmk_ctl_client.h"
#include "hmk_version.h"
#include "gw_topic.h"

#define GW_MAX_PINS 1024

int64_t gw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gw_wake(struct gw *gw)
{
    uint64_t one = 1;
    /* a full counter already means "wake up": nothing to do on EAGAIN */
    if (write(gw->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        fprintf(stderr, "mqtt-gateway: wake: %s\n", strerror(errno));
}

/* ---- HAL thread: record values, wake the network thread ---------------- */

static void gw_record(struct gw *gw, unsigned slot, const hmk_value *v, uint64_t cycle)
{
    struct gw_pin *p = &gw->pins[gw->read_pin[slot]];
    bool wake;

    pthread_mutex_lock(&gw->lock);
    if (cycle > gw->cycle)
        gw->cycle = cycle;
    /* stream mode: an edge not yet published is about to be overwritten
     * (a short pulse): the network thread publishes the other level first */
    if (gw->o.stream && p->dirty && v->type == HMK_TYPE_BIT && p->value.b != v->b)
        p->bounce = true;
    p->value = *v;
    p->have = true;
    gw->state_dirty = true;
    wake = !p->dirty; /* one wake per pin until it is published: no flood */
    p->dirty = true;
    pthread_mutex_unlock(&gw->lock);
    if (wake)
        gw_wake(gw);
}

static int gw_on_change(hmk_svc *s, unsigned slot, const hmk_value *v, uint64_t cycle, void *user)
{
    (void)s;
    gw_record(user, slot, v, cycle);
    return 0;
}

/* Fell behind the stream: the table may hold an older value than HAL has,
 * so take the current ones. Publishing is state, latest value wins, so
 * nothing a subscriber sees goes missing beyond what coalescing drops. */
static int gw_on_lost(hmk_svc *s, uint64_t count, void *user)
{
    struct gw *gw = user;
    hmk_value v;

    atomic_fetch_add(&gw->lost, count);
    for (unsigned k = 0; gw->reads[k]; k++)
        if (hmk_svc_get(s, k, &v) == 0)
            gw_record(gw, k, &v, 0);
    return 0;
}

/* ---- options ----------------------------------------------------------- */

static void gw_usage(FILE *f)
{
    fprintf(f,
            "Usage: mqtt-gateway [OPTION...] [PIN...]\n"
            "Publish pins (default: every pin HAL feeds) to an MQTT broker; accept commands\n"
            "for the pins named by --set.\n"
            "  -H, --host HOST          broker (default localhost)\n"
            "  -p, --port N             broker port (default 1883, 8883 with --cafile)\n"
            "  -t, --prefix P           topic prefix (default hal)\n"
            "  -m, --machine NAME       machine name in topics (default: host name)\n"
            "  -i, --client-id ID       MQTT client id (default mqtt-gateway-<machine>)\n"
            "  -s, --set PIN[,PIN...]   accept BASE/pin/PIN/set and /pulse for these pins\n"
            "  -q, --qos N              QoS of values, status and errors: 0, 1 (default) or 2\n"
            "  -V, --mqtt-version V     3 (3.1.1, default) or 5\n"
            "  -k, --keepalive S        keepalive seconds (default 10)\n"
            "  -d, --deadband X         float changes smaller than X are not published (0)\n"
            "  -I, --min-interval MS    publish a pin at most every MS ms (default 0)\n"
            "  -r, --refresh S          republish every value every S s (0: never; 0)\n"
            "  -P, --password-file F    user name on line 1, password on line 2\n"
            "      --cafile F, --cert F, --key F   TLS\n"
            "      --ha-discovery[=PREFIX]  Home Assistant MQTT discovery under PREFIX\n"
            "                           (default homeassistant): one entity per pin\n"
            "      --ha-remove          with --ha-discovery: clear the entities on a clean stop\n"
            "      --state-interval MS  also BASE/state, every value as one JSON object,\n"
            "                           at most every MS ms (default: no state topic)\n"
            "      --stats-interval MS  ask the daemon for its services' reaction times every\n"
            "                           MS ms, publish them on BASE/stats when they change\n"
            "                           (default 5000; 0: never)\n"
            "      --control PATH       the daemon's control socket (default\n"
            "                           $HMK_CONTROL_SOCKET or " HMK_CTL_DEFAULT_SOCKET ")\n"
            "  -S, --stream             read the change stream: every edge of a bit reaches\n"
            "                           the broker, even a one-cycle pulse\n"
            "  -R, --region NAME        region (default $HAL_MICROKERNEL_REGION or hal-microkernel)\n"
            "  -n, --check              check the options and pins, then exit\n"
            "  -h, --help               this text\n");
}

static int gw_int(const char *opt, const char *text, long min, long max, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (!*text || *end || errno || v < min || v > max) {
        fprintf(stderr, "mqtt-gateway: %s: '%s' is not a whole number from %ld to %ld\n", opt,
                text, min, max);
        return -EINVAL;
    }
    *out = (int)v;
    return 0;
}

static int gw_double(const char *opt, const char *text, double *out)
{
    hmk_value v;

    if (hmk_value_parse(HMK_TYPE_FLOAT, text, &v) < 0 || v.f < 0) {
        fprintf(stderr, "mqtt-gateway: %s: '%s' is not a number >= 0\n", opt, text);
        return -EINVAL;
    }
    *out = v.f;
    return 0;
}

struct gw_names {
    const char *v[GW_MAX_PINS + 1];
    unsigned n;
};

/* --set a,b --set c: every name once, in order */
static int gw_add_names(struct gw_names *set, char *list)
{
    for (char *save = NULL, *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (set->n == GW_MAX_PINS) {
            fprintf(stderr, "mqtt-gateway: --set: more than %d pins\n", GW_MAX_PINS);
            return -E2BIG;
        }
        set->v[set->n++] = t;
    }
    return 0;
}

static int gw_option(struct gw_opts *o, struct gw_names *set, int c, char *arg)
{
    switch (c) {
    case 'H': o->host = arg; return 0;
    case 'p': return gw_int("--port", arg, 1, 65535, &o->port);
    case 't': o->prefix = arg; return 0;
    case 'm': o->machine = arg; return 0;
    case 'i': o->client_id = arg; return 0;
    case 's': return gw_add_names(set, arg);
    case 'q': return gw_int("--qos", arg, 0, 2, &o->qos);
    case 'V':
        if (strcmp(arg, "3") && strcmp(arg, "5")) {
            fprintf(stderr, "mqtt-gateway: --mqtt-version: '%s' is not 3 or 5\n", arg);
            return -EINVAL;
        }
        o->mqtt_version = arg[0] == '5' ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311;
        return 0;
    case 'k': return gw_int("--keepalive", arg, 5, 65535, &o->keepalive);
    case 'd': return gw_double("--deadband", arg, &o->deadband);
    case 'I': return gw_int("--min-interval", arg, 0, 3600000, &o->min_interval_ms);
    case 'r': return gw_int("--refresh", arg, 0, 86400, &o->refresh_s);
    case 'P': o->password_file = arg; return 0;
    case 1: o->cafile = arg; return 0;
    case 2: o->certfile = arg; return 0;
    case 3: o->keyfile = arg; return 0;
    case 5: o->ha_prefix = arg ? arg : "homeassistant"; return 0;
    case 6: o->ha_remove = true; return 0;
    case 7: return gw_int("--state-interval", arg, 1, 3600000, &o->state_interval_ms);
    case 8: return gw_int("--stats-interval", arg, 0, 3600000, &o->stats_interval_ms);
    case 9: o->control = arg; return 0;
    case 'R': o->region = arg; return 0;
    case 'n': o->check_only = true; return 0;
    case 'S': o->stream = true; return 0;
    }
    return -EINVAL;
}

static int gw_args(int argc, char **argv, struct gw_opts *o, struct gw_names *set, char ***pins)
{
    static const struct option opts[] = {
        { "host", required_argument, NULL, 'H' },     { "port", required_argument, NULL, 'p' },
        { "prefix", required_argument, NULL, 't' },   { "machine", required_argument, NULL, 'm' },
        { "client-id", required_argument, NULL, 'i' }, { "set", required_argument, NULL, 's' },
        { "qos", required_argument, NULL, 'q' },      { "mqtt-version", required_argument, NULL, 'V' },
        { "keepalive", required_argument, NULL, 'k' }, { "deadband", required_argument, NULL, 'd' },
        { "min-interval", required_argument, NULL, 'I' }, { "refresh", required_argument, NULL, 'r' },
        { "password-file", required_argument, NULL, 'P' }, { "cafile", required_argument, NULL, 1 },
        { "cert", required_argument, NULL, 2 },       { "key", required_argument, NULL, 3 },
        { "region", required_argument, NULL, 'R' },   { "check", no_argument, NULL, 'n' },
        { "stream", no_argument, NULL, 'S' },         { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 4 },
        { "ha-discovery", optional_argument, NULL, 5 }, { "ha-remove", no_argument, NULL, 6 },
        { "state-interval", required_argument, NULL, 7 },
        { "stats-interval", required_argument, NULL, 8 }, { "control", required_argument, NULL, 9 },
        { NULL, 0, NULL, 0 }
    };
    int c;

    while ((c = getopt_long(argc, argv, ":H:p:t:m:i:s:q:V:k:d:I:r:P:R:nSh", opts, NULL)) != -1) {
        if (c == 'h') {
            gw_usage(stdout);
            exit(0);
        }
        if (c == 4) {
            puts("mqtt-gateway " HMK_VERSION);
            exit(0);
        }
        if (c == ':') {
            fprintf(stderr, "mqtt-gateway: option '%s' needs a value\n", argv[optind - 1]);
            return -EINVAL;
        }
        if (c == '?') {
            fprintf(stderr, "mqtt-gateway: unknown option '%s' (see mqtt-gateway --help)\n",
                    argv[optind - 1]);
            return -EINVAL;
        }
        if (gw_option(o, set, c, optarg) < 0)
            return -EINVAL;
    }
    *pins = &argv[optind]; /* NULL-terminated, as argv is */
    return 0;
}

/* Line 1 user, line 2 password: never on the command line, where every
 * local user can read it in /proc. */
static int gw_read_password(struct gw_opts *o)
{
    FILE *f = fopen(o->password_file, "re");
    char line[2][512];
    int ret = 0;

    if (!f) {
        fprintf(stderr, "mqtt-gateway: --password-file %s: %s\n", o->password_file, strerror(errno));
        return -errno;
    }
    for (int i = 0; i < 2 && ret == 0; i++) {
        if (!fgets(line[i], sizeof(line[i]), f)) {
            line[i][0] = '\0';
            if (i == 0)
                ret = -EINVAL;
        }
        line[i][strcspn(line[i], "\r\n")] = '\0';
    }
    fclose(f);
    if (ret < 0 || !line[0][0]) {
        fprintf(stderr, "mqtt-gateway: --password-file %s: no user name on its first line\n",
                o->password_file);
        return -EINVAL;
    }
    o->user = strdup(line[0]);
    o->password = line[1][0] ? strdup(line[1]) : NULL;
    return o->user ? 0 : -ENOMEM;
}

/* Names fit for topics, a base topic that fits, and readable files. */
static int gw_check_opts(struct gw *gw)
{
    struct gw_opts *o = &gw->o;
    static char host[HOST_NAME_MAX + 1];
    const char *files[] = { o->cafile, o->certfile, o->keyfile };

    if (!o->machine) {
        if (gethostname(host, sizeof(host)) < 0)
            snprintf(host, sizeof(host), "machine");
        host[strcspn(host, ".")] = '\0';
        o->machine = host;
    }
    if (!gw_name_ok(o->prefix, true) || !gw_name_ok(o->machine, false)) {
        fprintf(stderr, "mqtt-gateway: %s '%s' cannot be part of a topic (no spaces, '+', '#'%s)\n",
                gw_name_ok(o->prefix, true) ? "--machine" : "--prefix",
                gw_name_ok(o->prefix, true) ? o->machine : o->prefix,
                gw_name_ok(o->prefix, true) ? ", '/'" : ", empty levels");
        return -EINVAL;
    }
    if (snprintf(gw->base, sizeof(gw->base), "%s/%s", o->prefix, o->machine) >= (int)sizeof(gw->base)) {
        fprintf(stderr, "mqtt-gateway: --prefix and --machine: topic longer than %zu bytes\n",
                sizeof(gw->base) - 1);
        return -ENAMETOOLONG;
    }
    for (unsigned i = 0; i < 3; i++)
        if (files[i] && access(files[i], R_OK) < 0) {
            fprintf(stderr, "mqtt-gateway: %s: %s\n", files[i], strerror(errno));
            return -errno;
        }
    if (o->ha_prefix && !gw_name_ok(o->ha_prefix, true)) {
        fprintf(stderr, "mqtt-gateway: --ha-discovery '%s' cannot be a topic prefix (no spaces, "
                        "'+', '#', empty levels)\n", o->ha_prefix);
        return -EINVAL;
    }
    if (o->ha_remove && !o->ha_prefix) {
        fprintf(stderr, "mqtt-gateway: --ha-remove needs --ha-discovery\n");
        return -EINVAL;
    }
    if ((o->certfile == NULL) != (o->keyfile == NULL)) {
        fprintf(stderr, "mqtt-gateway: --cert and --key go together\n");
        return -EINVAL;
    }
    if (o->password_file)
        return gw_read_password(o);
    return 0;
}

/* ---- the pin table ------------------------------------------------------ */

/* The daemon's grant ($HMK_WRITE_PINS, comma or space separated), checked
 * here so a --set the daemon will refuse fails at start, naming the pin. */
static bool gw_granted(const char *name)
{
    const char *g = getenv("HMK_WRITE_PINS");
    size_t n = strlen(name);

    if (!g)
        return true; /* not under the daemon: libhalmk and the mapping decide */
    for (const char *p = g; *p;) {
        size_t len = strcspn(p, ", ");
        if (len == n && !strncmp(p, name, n))
            return true;
        p += len;
        p += strspn(p, ", ");
    }
    return false;
}

static int gw_add_pin(struct gw *gw, hmk_region *r, const char *name, bool settable)
{
    struct hmk_pin_info info;
    int i = hmk_pin_find(r, name);
    struct gw_pin *p;

    if (i < 0) {
        fprintf(stderr, "mqtt-gateway: pin '%s': no such pin in region '%s'\n", name,
                hmk_region_name(r));
        return -ENOENT;
    }
    hmk_pin_info(r, (unsigned)i, &info);
    for (unsigned k = 0; k < gw->npins; k++)
        if (!strcmp(gw->pins[k].name, info.name)) {
            gw->pins[k].settable |= settable;
            p = &gw->pins[k];
            goto check;
        }
    if (!gw_name_ok(info.name, false)) {
        fprintf(stderr, "mqtt-gateway: pin '%s': the name cannot be a topic level\n", info.name);
        return -EINVAL;
    }
    if (gw->npins == GW_MAX_PINS) {
        fprintf(stderr, "mqtt-gateway: more than %d pins\n", GW_MAX_PINS);
        return -E2BIG;
    }
    p = &gw->pins[gw->npins++];
    *p = (struct gw_pin){ .name = strdup(info.name), .type = info.type, .dir = info.dir,
                          .index = info.index, .read = info.dir != HMK_DIR_OUT,
                          .settable = settable };
    if (!p->name)
        return -ENOMEM;
check:
    if (settable && p->dir == HMK_DIR_IN) {
        fprintf(stderr, "mqtt-gateway: pin '%s' (--set) is an in pin: HAL drives it\n", name);
        return -EPERM;
    }
    if (settable && !gw_granted(p->name)) {
        fprintf(stderr, "mqtt-gateway: pin '%s' (--set): not granted by the daemon's writes =\n",
                name);
        return -EPERM;
    }
    return 0;
}

static int gw_table(struct gw *gw, hmk_region *r, char **pins, const struct gw_names *set)
{
    struct hmk_pin_info info;
    unsigned nread = 0;
    int ret = 0;

    gw->pins = calloc(GW_MAX_PINS, sizeof(*gw->pins));
    gw->reads = calloc(GW_MAX_PINS + 1, sizeof(*gw->reads));
    gw->read_pin = calloc(GW_MAX_PINS, sizeof(*gw->read_pin));
    if (!gw->pins || !gw->reads || !gw->read_pin)
        return -ENOMEM;
    for (unsigned i = 0; pins[i] && ret == 0; i++)
        ret = gw_add_pin(gw, r, pins[i], false);
    for (unsigned i = 0; !pins[0] && i < hmk_pin_count(r) && ret == 0; i++)
        if (hmk_pin_info(r, i, &info) == 0 && info.dir != HMK_DIR_OUT)
            ret = gw_add_pin(gw, r, info.name, false);
    for (unsigned i = 0; i < set->n && ret == 0; i++)
        ret = gw_add_pin(gw, r, set->v[i], true);
    for (unsigned k = 0; k < gw->npins && ret == 0; k++)
        if (gw->pins[k].read) {
            gw->read_pin[nread] = k;
            gw->reads[nread++] = gw->pins[k].name;
        }
    for (unsigned k = 0; ret == 0 && gw->o.state_interval_ms && k < gw->npins; k++)
        if (!strcmp(gw->pins[k].name, "cycle")) {
            fprintf(stderr, "mqtt-gateway: --state-interval: pin 'cycle' would collide with the "
                            "state object's \"cycle\" key\n");
            ret = -EEXIST;
        }
    if (ret == 0 && gw->o.ha_prefix)
        ret = gw_ha_check(gw);
    if (ret == 0 && gw->npins == 0) {
        fprintf(stderr, "mqtt-gateway: region '%s' has no pin to publish\n", hmk_region_name(r));
        ret = -ENOENT;
    }
    return ret;
}

/* The pins named (or every pin HAL feeds) and the --set pins, resolved in
 * the region as it is now; waits for the region unless only checking. */
static int gw_resolve(struct gw *gw, char **pins, const struct gw_names *set)
{
    hmk_region *r;
    int ret = gw->o.check_only ? hmk_open(gw->o.region, HMK_OPEN_RDONLY, &r)
                               : hmk_open_wait(gw->o.region, HMK_OPEN_RDONLY, -1, &r);

    if (ret == -ENOENT && gw->o.check_only) {
        fprintf(stderr, "mqtt-gateway: region '%s' is not there (HAL not running): pins not checked\n",
                gw->o.region ? gw->o.region : "(default)");
        return 0;
    }
    if (ret < 0) {
        fprintf(stderr, "mqtt-gateway: region '%s': %s\n", gw->o.region ? gw->o.region : "(default)",
                hmk_strerror(ret));
        return ret;
    }
    ret = gw_table(gw, r, pins, set);
    if (ret == -ENOMEM)
        fprintf(stderr, "mqtt-gateway: out of memory\n");
    hmk_close(r);
    return ret;
}

static unsigned gw_count_settable(const struct gw *gw)
{
    unsigned n = 0;

    for (unsigned k = 0; k < gw->npins; k++)
        n += gw->pins[k].settable;
    return n;
}

static void gw_free(struct gw *gw)
{
    for (unsigned k = 0; gw->pins && k < gw->npins; k++)
        free(gw->pins[k].name);
    free(gw->pins);
    free(gw->reads);
    free(gw->read_pin);
    free(gw->o.user);
    free(gw->o.password);
    if (gw->wake_fd >= 0)
        close(gw->wake_fd);
}

/* ---- the two threads ---------------------------------------------------- */

/* The network thread starts with the framework's signals blocked, so
 * SIGTERM always lands in the HAL thread, whose waits it must interrupt. */
static int gw_start_net(struct net *net, pthread_t *tid)
{
    sigset_t block, old;
    int ret;

    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    ret = -pthread_create(tid, NULL, gw_net_main, net);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ret;
}

static int gw_run(struct gw *gw)
{
    struct hmk_svc_def def = { .name = "mqtt-gateway", .region = gw->o.region,
                               .reads = gw->reads, .on_change = gw_on_change,
                               .on_lost = gw_on_lost, .stream = gw->o.stream, .user = gw };
    char err[256] = "";
    struct net *net;
    pthread_t tid;
    int ret;

    signal(SIGPIPE, SIG_IGN); /* a broker that hangs up is an error return, not a signal */
    gw->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (gw->wake_fd < 0) {
        fprintf(stderr, "mqtt-gateway: eventfd: %s\n", strerror(errno));
        return -errno;
    }
    mosquitto_lib_init();
    net = gw_net_new(gw);
    if (!net) {
        fprintf(stderr, "mqtt-gateway: cannot set up the MQTT client: %s\n", strerror(errno));
        return -EINVAL;
    }
    ret = gw_start_net(net, &tid);
    if (ret < 0) {
        fprintf(stderr, "mqtt-gateway: thread: %s\n", strerror(-ret));
        gw_net_free(net);
        return ret;
    }
    ret = hmk_svc_run(&def, err, sizeof(err));
    if (ret < 0)
        fprintf(stderr, "mqtt-gateway: %s\n", err);
    atomic_store(&gw->stop, true);
    gw_wake(gw);
    pthread_join(tid, NULL);
    gw_net_free(net);
    mosquitto_lib_cleanup();
    return ret;
}

int main(int argc, char **argv)
{
    static struct gw gw = {
        .o = { .host = "localhost", .prefix = "hal", .qos = 1, .keepalive = 10,
               .mqtt_version = MQTT_PROTOCOL_V311, .inflight_max = 1000,
               .backoff_min_ms = 500, .backoff_max_ms = 30000, .stats_interval_ms = 5000 },
        .lock = PTHREAD_MUTEX_INITIALIZER, .wake_fd = -1,
    };
    static struct gw_names set;
    char **pins;
    int ret;

    if (gw_args(argc, argv, &gw.o, &set, &pins) < 0 || gw_check_opts(&gw) < 0)
        return 2;
    if (!gw.o.port)
        gw.o.port = gw.o.cafile ? 8883 : 1883;
    if (!gw.o.control)
        gw.o.control = hmk_ctl_socket_path();
    ret = gw_resolve(&gw, pins, &set);
    if (ret < 0)
        return 2;
    if (gw.o.check_only) {
        printf("mqtt-gateway: %u pins (%u settable) under %s/: configuration OK\n", gw.npins,
               gw_count_settable(&gw), gw.base);
        return 0;
    }
    ret = gw_run(&gw);
    gw_free(&gw);
    return ret < 0 ? 1 : 0;
}
