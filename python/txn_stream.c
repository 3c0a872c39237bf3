/*
 * txn_stream.c - halmk.Transaction (a multi-pin write that reaches HAL in
 * one servo cycle) and halmk.Stream (the bridge's lossless change stream
 * as an iterator). Both keep their Region open (a user of it) until closed.
 */
#include "halmk_py.h"

#include <errno.h>

typedef struct {
    PyObject_HEAD
    RegionObject *region;
    hmk_txn *t;
} TxnObject;

PyObject *hmkpy_txn_new(RegionObject *o)
{
    TxnObject *t = PyObject_New(TxnObject, &hmkpy_TxnType);
    int ret;

    if (!t)
        return NULL;
    t->region = NULL;
    t->t = NULL;
    if ((ret = hmk_txn_new(o->r, &t->t)) < 0) {
        Py_DECREF(t);
        return hmkpy_raise(ret, hmk_region_name(o->r));
    }
    Py_INCREF(o);
    t->region = o;
    o->users++;
    return (PyObject *)t;
}

static void txn_release(TxnObject *t)
{
    if (t->t) {
        hmk_txn_free(t->t);
        t->t = NULL;
        hmkpy_region_release(t->region);
    }
    Py_CLEAR(t->region);
}

static void txn_dealloc(TxnObject *t)
{
    txn_release(t);
    PyObject_Free(t);
}

static int txn_usable(TxnObject *t)
{
    if (!t->t) {
        PyErr_SetString(PyExc_ValueError, "operation on a closed transaction");
        return -1;
    }
    return 0;
}

static int txn_setitem(TxnObject *t, PyObject *key, PyObject *val)
{
    struct hmk_pin_info info;
    hmk_value v;
    int idx, ret;

    if (!val) {
        PyErr_SetString(PyExc_TypeError, "pins cannot be deleted");
        return -1;
    }
    if (txn_usable(t) < 0 || (idx = hmkpy_pin_lookup(t->region, key, &info)) < 0 ||
        hmkpy_to_value(info.type, val, info.name, &v) < 0)
        return -1;
    if ((ret = hmk_txn_set(t->t, (unsigned)idx, &v)) < 0) {
        hmkpy_raise(ret, info.name);
        return -1;
    }
    return 0;
}

static PyObject *txn_commit(TxnObject *t, PyObject *unused)
{
    int ret;
    (void)unused;
    if (txn_usable(t) < 0)
        return NULL;
    if ((ret = hmk_txn_commit(t->t)) < 0)
        return hmkpy_raise(ret, hmk_region_name(t->region->r));
    return PyLong_FromLong(ret);
}

static PyObject *txn_clear(TxnObject *t, PyObject *unused)
{
    (void)unused;
    if (txn_usable(t) < 0)
        return NULL;
    hmk_txn_clear(t->t);
    Py_RETURN_NONE;
}

static PyObject *txn_enter(TxnObject *t, PyObject *unused)
{
    (void)unused;
    if (txn_usable(t) < 0)
        return NULL;
    Py_INCREF(t);
    return (PyObject *)t;
}

/* Commit when the block ends normally; on an exception stage nothing. */
static PyObject *txn_exit(TxnObject *t, PyObject *args)
{
    PyObject *type = Py_None, *res = Py_None;

    if (!PyArg_ParseTuple(args, "|OOO", &type, &res, &res))
        return NULL;
    if (!t->t)
        Py_RETURN_NONE;
    res = type == Py_None ? txn_commit(t, NULL) : txn_clear(t, NULL);
    txn_release(t);
    if (!res)
        return NULL;
    Py_DECREF(res);
    Py_RETURN_FALSE;
}

static PyObject *txn_close(TxnObject *t, PyObject *unused)
{
    (void)unused;
    txn_release(t);
    Py_RETURN_NONE;
}

static PyMethodDef txn_methods[] = {
    {"commit", (PyCFunction)txn_commit, METH_NOARGS,
     "commit($self)\n--\n\nSend the staged values; they reach HAL in one servo cycle. Returns the\n"
     "number of pins written; the transaction is empty again."},
    {"clear", (PyCFunction)txn_clear, METH_NOARGS, "clear($self)\n--\n\nDrop the staged values."},
    {"close", (PyCFunction)txn_close, METH_NOARGS,
     "close($self)\n--\n\nRelease the transaction without committing."},
    {"__enter__", (PyCFunction)txn_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)txn_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods txn_mapping = {NULL, NULL, (objobjargproc)txn_setitem};

PyTypeObject hmkpy_TxnType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "halmk.Transaction",
    .tp_basicsize = sizeof(TxnObject),
    .tp_dealloc = (destructor)txn_dealloc,
    .tp_as_mapping = &txn_mapping,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Values staged with t[key] = value, committed together (Region.transaction()).\n\n"
              "    with r.transaction() as t:\n"
              "        t['x'] = 1.5; t['enable'] = True   # same servo cycle\n\n"
              "Each set is checked at once (type, range, grant); a failed set leaves the\n"
              "transaction as it was. An exception inside the with block commits nothing.",
    .tp_methods = txn_methods,
};

/* ---- Stream ------------------------------------------------------------- */

#define STREAM_BATCH 64

typedef struct {
    PyObject_HEAD
    RegionObject *region;
    hmk_stream *s;
    bool busy;          /* a thread is reading: hmk_stream is one reader's */
    uint64_t lost;
    unsigned head, count;
    struct hmk_event ev[STREAM_BATCH];
} StreamObject;

PyObject *hmkpy_stream_new(RegionObject *o)
{
    StreamObject *s = PyObject_New(StreamObject, &hmkpy_StreamType);
    int ret;

    if (!s)
        return NULL;
    s->region = NULL;
    s->s = NULL;
    s->busy = false;
    s->lost = 0;
    s->head = s->count = 0;
    if ((ret = hmk_stream_open(o->r, &s->s)) < 0) {
        Py_DECREF(s);
        return hmkpy_raise(ret, hmk_region_name(o->r));
    }
    Py_INCREF(o);
    s->region = o;
    o->users++;
    return (PyObject *)s;
}

static void stream_release(StreamObject *s)
{
    if (s->s) {
        hmk_stream_close(s->s);
        s->s = NULL;
        hmkpy_region_release(s->region);
    }
    Py_CLEAR(s->region);
}

static void stream_dealloc(StreamObject *s)
{
    stream_release(s);
    PyObject_Free(s);
}

static PyObject *event_new(StreamObject *s, const struct hmk_event *e)
{
    PyObject *ev = PyStructSequence_New(&hmkpy_EventType), *name, *v;

    if (!ev)
        return NULL;
    name = e->pin < (unsigned)PyTuple_GET_SIZE(s->region->names)
               ? Py_NewRef(PyTuple_GET_ITEM(s->region->names, e->pin))
               : PyLong_FromUnsignedLong(e->pin);
    v = hmkpy_from_value(&e->value);
    PyStructSequence_SET_ITEM(ev, 0, PyLong_FromUnsignedLongLong(e->cycle));
    PyStructSequence_SET_ITEM(ev, 1, name);
    PyStructSequence_SET_ITEM(ev, 2, v);
    if (!PyStructSequence_GET_ITEM(ev, 0) || !name || !v)
        Py_CLEAR(ev);
    return ev;
}

/* Fill the buffer: blocks up to ms (GIL released). 0, or -1 with an
 * exception set (Timeout when nothing came in time). */
static int stream_fill(StreamObject *s, int ms)
{
    int64_t end = hmkpy_now_ms() + ms;
    int n;

    if (!s->s) {
        PyErr_SetString(PyExc_ValueError, "operation on a closed stream");
        return -1;
    }
    if (s->busy) {
        PyErr_SetString(PyExc_RuntimeError, "stream is being read by another thread");
        return -1;
    }
    s->busy = true;
    do {
        int left = ms < 0 ? -1 : (int)(end - hmkpy_now_ms());
        hmk_stream *hs = s->s;
        uint64_t lost = s->lost;
        Py_BEGIN_ALLOW_THREADS
        n = hmk_stream_read(hs, s->ev, STREAM_BATCH, ms >= 0 && left < 0 ? 0 : left, &lost);
        Py_END_ALLOW_THREADS
        s->lost = lost;
    } while (n == -EINTR && PyErr_CheckSignals() == 0);
    s->busy = false;
    if (n < 0) {
        if (n != -EINTR)
            hmkpy_raise(n, hmk_region_name(s->region->r));
        return -1;
    }
    s->head = 0;
    s->count = (unsigned)n;
    return 0;
}

static PyObject *stream_next(StreamObject *s)
{
    while (s->head >= s->count)
        if (stream_fill(s, -1) < 0)
            return NULL;
    return event_new(s, &s->ev[s->head++]);
}

static PyObject *stream_read(StreamObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout = NULL, *list;
    int ms;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:read", kwlist, &timeout) ||
        hmkpy_timeout_ms(timeout, &ms) < 0)
        return NULL;
    if (s->head >= s->count && stream_fill(s, ms) < 0)
        return NULL;
    if (!(list = PyList_New(0)))
        return NULL;
    while (s->head < s->count) {
        PyObject *ev = event_new(s, &s->ev[s->head++]);
        if (!ev || PyList_Append(list, ev) < 0) {
            Py_XDECREF(ev);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(ev);
    }
    return list;
}

static PyObject *stream_close(StreamObject *s, PyObject *unused)
{
    (void)unused;
    if (s->busy) {
        PyErr_SetString(PyExc_RuntimeError, "stream is being read by another thread");
        return NULL;
    }
    stream_release(s);
    Py_RETURN_NONE;
}

static PyObject *stream_enter(StreamObject *s, PyObject *unused)
{
    (void)unused;
    Py_INCREF(s);
    return (PyObject *)s;
}

static PyObject *stream_exit(StreamObject *s, PyObject *args)
{
    (void)args;
    return stream_close(s, NULL);
}

static PyObject *stream_get_lost(StreamObject *s, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(s->lost);
}

static PyMethodDef stream_methods[] = {
    {"read", (PyCFunction)(void (*)(void))stream_read, METH_VARARGS | METH_KEYWORDS,
     "read($self, timeout=None)\n--\n\nThe next batch of Events (up to 64), blocking up to timeout seconds\n"
     "(None: for ever; Timeout when none came)."},
    {"close", (PyCFunction)stream_close, METH_NOARGS, "close($self)\n--\n\nUnsubscribe."},
    {"__enter__", (PyCFunction)stream_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)stream_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef stream_getset[] = {
    {"lost", (getter)stream_get_lost, NULL,
     "Changes overwritten before this stream read them (exact, cumulative).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject hmkpy_StreamType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "halmk.Stream",
    .tp_basicsize = sizeof(StreamObject),
    .tp_dealloc = (destructor)stream_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Every change of an in value, in order, from Region.stream().\n\n"
              "    for ev in r.stream():      # blocks (GIL released) between changes\n"
              "        print(ev.cycle, ev.pin, ev.value)\n\n"
              "Lossless while the reader keeps up with the bridge's stream_depth; .lost\n"
              "counts exactly what it missed otherwise. One reading thread at a time.",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)stream_next,
    .tp_methods = stream_methods,
    .tp_getset = stream_getset,
};
