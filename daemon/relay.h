/*
 * relay.h - the daemon's change relay (docs/isolation.md).
 *
 * The bridge never wakes readers itself: while "someone waits" is set in
 * the control block, it bumps the relay word and wakes at most one thread,
 * this one, which wakes every reader. A reader that finds the relay idle
 * sends a datagram to the relay's abstract socket (hmk_poke_addr);
 * the relay then arms, and disarms again after a change that woke nobody.
 * So the servo thread makes no system call while nobody waits, and one
 * FUTEX_WAKE of one thread in a changing cycle when someone does, however
 * many wait. Own thread, own region handle; stopping it disarms.
 */
#ifndef HMK_RELAY_H
#define HMK_RELAY_H

struct relay;

/* Starts the relay for a region. NULL (and *err set to -errno) if the
 * handle could not take the control block or the socket is taken. */
struct relay *relay_start(const char *region, int *err);
void relay_stop(struct relay *r); /* NULL is fine; returns once the thread ended */

#endif
