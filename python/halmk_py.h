/*
 * halmk_py.h - shared declarations of the halmk CPython extension (python/).
 * The extension is a thin layer over libhalmk's public API (include/halmk.h,
 * include/halmk_service.h); it adds no protocol of its own.
 */
#ifndef HALMK_PY_H
#define HALMK_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include "halmk.h"
#include "halmk_service.h"

/* exceptions (module.c) */
extern PyObject *hmkpy_Error, *hmkpy_Stale, *hmkpy_PermissionDenied, *hmkpy_Timeout,
    *hmkpy_NotFound;
/* Raise the exception that matches err (negative errno) with hmk_strerror's
 * text; `what` (a pin, region or queue name, may be NULL) becomes its
 * filename. Returns NULL. */
PyObject *hmkpy_raise(int err, const char *what);
PyObject *hmkpy_from_value(const hmk_value *v);
/* Python object -> value of a pin of type `type`, checked: TypeError for a
 * wrong Python type, ValueError out of range, both naming the pin. -1 on error. */
int hmkpy_to_value(enum hmk_type type, PyObject *obj, const char *pin, hmk_value *out);
/* timeout in seconds (None = for ever) -> milliseconds (-1 = for ever). -1 on error. */
int hmkpy_timeout_ms(PyObject *obj, int *ms);
int64_t hmkpy_now_ms(void);
/* The one place that judges "is HAL connected" (see module.c). */
int hmkpy_connected(const hmk_region *r);

/* region.c */
typedef struct RegionObject {
    PyObject_HEAD
    hmk_region *r;
    bool closed;        /* close() called; r is released once users == 0 */
    int users;          /* blocking calls, transactions, streams using r */
    uint64_t since;     /* wait() cursor */
    PyObject *names;    /* tuple: index -> region pin name */
    PyObject *index;    /* dict: region pin name -> index */
    struct hmkpy_notifier *notifier; /* fileno() helper thread, or NULL */
} RegionObject;
extern PyTypeObject hmkpy_RegionType, hmkpy_TxnType, hmkpy_StreamType;
extern PyTypeObject hmkpy_PinInfoType, hmkpy_EventType;
int hmkpy_region_init_types(PyObject *m);
PyObject *hmkpy_open(PyObject *self, PyObject *args, PyObject *kw);
void hmkpy_region_release(RegionObject *o);   /* users-- and deferred close */
int hmkpy_region_usable(RegionObject *o);     /* -1 + ValueError if closed */
/* key (name or index) -> pin index and info; -1 + KeyError/IndexError */
int hmkpy_pin_lookup(RegionObject *o, PyObject *key, struct hmk_pin_info *info);

/* stream.c */
PyObject *hmkpy_stream_new(RegionObject *o);

/* notifier.c: an eventfd made readable by a thread blocked in
 * hmk_wait_change (libhalmk offers no file descriptor for changes). */
struct hmkpy_notifier;
int hmkpy_notifier_start(const hmk_region *r, struct hmkpy_notifier **out);
int hmkpy_notifier_fd(const struct hmkpy_notifier *n);
void hmkpy_notifier_drain(struct hmkpy_notifier *n);
void hmkpy_notifier_stop(struct hmkpy_notifier *n);  /* NULL is fine */

/* queue.c */
extern PyTypeObject hmkpy_QueueType;
PyObject *hmkpy_queue_create(PyObject *self, PyObject *args, PyObject *kw);
PyObject *hmkpy_queue_unlink(PyObject *self, PyObject *args);

/* service.c */
extern PyTypeObject hmkpy_ServiceType;

#endif
