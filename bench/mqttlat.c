/*
 * mqttlat - change-to-subscriber latency and throughput through an MQTT
 * broker, for bench/mqtt.sh.
 *
 *   mqttlat gw REGION PORT TOPIC N RATE      changes pin 0 of a test region
 *                                            through its simulator
 *                                            (hmk-test-region), at most one
 *                                            value a 1 ms cycle as a bridge;
 *                                            mqtt-gateway publishes them
 *   mqttlat direct - PORT TOPIC N RATE       the peer: publishes the same
 *                                            values to TOPIC itself
 * Values 1..N at RATE per second (0: as fast as possible); a subscriber in
 * this process stamps each arrival. Prints one line:
 *   sent N got M final F p50_us A p99_us B changes_per_s C msgs_per_s D
 */
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>



static uint64_t *sent_ns, *got_ns;
static long n_values, last_got, n_msgs;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The region's simulator (tests/daemon/hmk-test-region) takes "set PIN
 * VALUE" datagrams and publishes the latest value of each pin once per
 * cycle, as the bridge does: no process per change, no second writer of the
 * region. Fire and forget: the simulator's reply goes nowhere. */
static int sim_fd = -1;
static struct sockaddr_un sim_addr;
static socklen_t sim_len;

static void sim_open(const char *region)
{
    sim_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&sim_addr, 0, sizeof(sim_addr));
    sim_addr.sun_family = AF_UNIX;
    snprintf(sim_addr.sun_path + 1, sizeof(sim_addr.sun_path) - 1, "hmk-test-region/%s", region);
    sim_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sim_addr.sun_path + 1));
    if (sim_fd < 0) {
        perror("socket");
        exit(1);
    }
}

static void region_set(double v)
{
    char req[64];
    int n = snprintf(req, sizeof(req), "set 0 %.17g", v);

    while (sendto(sim_fd, req, (size_t)n, 0, (struct sockaddr *)&sim_addr, sim_len) < 0) {
        if (errno != EAGAIN && errno != ENOBUFS) {
            perror("mqttlat: the region's simulator");
            exit(1);
        }
        usleep(100);
    }
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    long k = msg->payloadlen > 0 ? strtol(msg->payload, NULL, 10) : 0;
    uint64_t t = now_ns();

    (void)m;
    (void)obj;
    if (msg->retain) /* a previous run's value, delivered on subscribing */
        return;
    pthread_mutex_lock(&lock);
    if (k >= 1 && k <= n_values) {
        got_ns[k] = t;
        last_got = k;
        n_msgs++;
    }
    pthread_mutex_unlock(&lock);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static struct mosquitto *client(int port, const char *topic)
{
    struct mosquitto *m = mosquitto_new(NULL, true, NULL);

    if (!m || mosquitto_connect(m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "mqttlat: cannot connect to 127.0.0.1:%d\n", port);
        exit(1);
    }
    if (topic) {
        mosquitto_message_callback_set(m, on_message);
        mosquitto_subscribe(m, NULL, topic, 1);
    }
    mosquitto_loop_start(m);
    return m;
}

int main(int argc, char **argv)
{
    bool gw = false;
    struct mosquitto *sub, *pub = NULL;
    uint64_t t0, t1, *lat;
    long rate, got = 0;
    char text[32];

    if (argc != 7) {
        fprintf(stderr, "usage: mqttlat gw|direct REGION PORT TOPIC N RATE\n");
        return 2;
    }
    n_values = atol(argv[5]);
    rate = atol(argv[6]);
    sent_ns = calloc((size_t)n_values + 1, sizeof(*sent_ns));
    got_ns = calloc((size_t)n_values + 1, sizeof(*got_ns));
    lat = calloc((size_t)n_values + 1, sizeof(*lat));
    mosquitto_lib_init();
    sub = client(atoi(argv[3]), argv[4]);
    if (!strcmp(argv[1], "gw")) {
        gw = true;
        sim_open(argv[2]);
    } else {
        pub = client(atoi(argv[3]), NULL);
    }
    usleep(300000); /* the subscription settles (measurement set-up, not a wait for a condition) */
    t0 = now_ns();
    for (long k = 1; k <= n_values; k++) {
        if (rate > 0)
            while (now_ns() < t0 + (uint64_t)(k - 1) * 1000000000u / (uint64_t)rate)
                usleep(50);
        sent_ns[k] = now_ns();
        if (gw) {
            region_set((double)k);
        } else {
            snprintf(text, sizeof(text), "%ld", k);
            mosquitto_publish(pub, NULL, argv[4], (int)strlen(text), text, 1, true);
        }
    }
    t1 = now_ns();
    for (int i = 0; i < 2000; i++) { /* until the final value arrived: 20 s at most */
        pthread_mutex_lock(&lock);
        got = last_got;
        pthread_mutex_unlock(&lock);
        if (got == n_values)
            break;
        usleep(10000);
    }
    pthread_mutex_lock(&lock);
    long m = 0;
    uint64_t tlast = t0;
    for (long k = 1; k <= n_values; k++)
        if (got_ns[k]) {
            lat[m++] = got_ns[k] - sent_ns[k];
            if (got_ns[k] > tlast)
                tlast = got_ns[k];
        }
    qsort(lat, (size_t)m, sizeof(*lat), cmp_u64);
    printf("sent %ld got %ld final %s p50_us %.0f p99_us %.0f changes_per_s %.0f msgs_per_s %.0f\n",
           n_values, n_msgs, got == n_values ? "exact" : "MISSING",
           m ? lat[m / 2] / 1e3 : 0.0, m ? lat[(m * 99) / 100] / 1e3 : 0.0,
           n_values / ((t1 - t0) / 1e9), n_msgs / ((tlast - t0) / 1e9));
    pthread_mutex_unlock(&lock);
    mosquitto_loop_stop(sub, true);
    if (pub)
        mosquitto_loop_stop(pub, true);
    mosquitto_lib_cleanup();
    return got == n_values ? 0 : 1;
}
