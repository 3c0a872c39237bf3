/*
 * queue.c - halmk.Queue: libhalmk's named message queues between services.
 * send/recv block with the GIL released; a queue closed while another
 * thread is blocked in it is released when that call returns.
 */
#include "halmk_py.h"

#include <errno.h>

typedef struct {
    PyObject_HEAD
    hmk_queue *q;
    PyObject *name;
    unsigned msg_size;
    int users;
    bool closed;
} QueueObject;

static int queue_usable(QueueObject *o)
{
    if (!o->q || o->closed) {
        PyErr_SetString(PyExc_ValueError, "operation on a closed queue");
        return -1;
    }
    return 0;
}

static void queue_release(QueueObject *o)
{
    if (--o->users == 0 && o->closed && o->q) {
        hmk_queue_close(o->q);
        o->q = NULL;
    }
}

static int queue_init(QueueObject *o, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", NULL};
    struct hmk_queue_stats st;
    const char *name;
    hmk_queue *q;
    int ret;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "s:Queue", kwlist, &name))
        return -1;
    if (o->q) {
        PyErr_SetString(PyExc_RuntimeError, "Queue already open");
        return -1;
    }
    Py_BEGIN_ALLOW_THREADS
    ret = hmk_queue_open(name, &q);
    Py_END_ALLOW_THREADS
    if (ret < 0) {
        hmkpy_raise(ret, name);
        return -1;
    }
    if ((ret = hmk_queue_stats(q, &st)) < 0) {
        hmk_queue_close(q);
        hmkpy_raise(ret, name);
        return -1;
    }
    o->q = q;
    o->msg_size = st.msg_size;
    o->closed = false;
    o->users = 0;
    Py_XSETREF(o->name, PyUnicode_FromString(name));
    return o->name ? 0 : -1;
}

static void queue_dealloc(QueueObject *o)
{
    hmk_queue_close(o->q);
    Py_XDECREF(o->name);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

static const char *qname(QueueObject *o)
{
    return o->name ? PyUnicode_AsUTF8(o->name) : "?";
}

static PyObject *queue_send(QueueObject *o, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"data", "timeout", NULL};
    PyObject *timeout = NULL;
    Py_buffer buf;
    int ms, ret;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|O:send", kwlist, &buf, &timeout))
        return NULL;
    if (hmkpy_timeout_ms(timeout, &ms) < 0 || queue_usable(o) < 0) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    if ((size_t)buf.len > o->msg_size) {
        PyErr_Format(PyExc_ValueError, "queue '%s': message of %zd bytes, at most %u",
                     qname(o), buf.len, o->msg_size);
        PyBuffer_Release(&buf);
        return NULL;
    }
    o->users++;
    int64_t end = hmkpy_now_ms() + ms;
    do {
        int left = ms < 0 ? -1 : (int)(end - hmkpy_now_ms());
        hmk_queue *q = o->q;
        Py_BEGIN_ALLOW_THREADS
        ret = hmk_queue_send(q, buf.buf, (size_t)buf.len, ms >= 0 && left < 0 ? 0 : left);
        Py_END_ALLOW_THREADS
    } while (ret == -EINTR && PyErr_CheckSignals() == 0);
    PyBuffer_Release(&buf);
    if (ret < 0 && ret != -EINTR)
        hmkpy_raise(ret, qname(o));
    queue_release(o);
    if (ret < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *queue_recv(QueueObject *o, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout = NULL, *res = NULL;
    char *buf;
    int ms, ret;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:recv", kwlist, &timeout) ||
        hmkpy_timeout_ms(timeout, &ms) < 0 || queue_usable(o) < 0)
        return NULL;
    if (!(buf = PyMem_Malloc(o->msg_size ? o->msg_size : 1)))
        return PyErr_NoMemory();
    o->users++;
    int64_t end = hmkpy_now_ms() + ms;
    do {
        int left = ms < 0 ? -1 : (int)(end - hmkpy_now_ms());
        hmk_queue *q = o->q;
        size_t len = o->msg_size;
        Py_BEGIN_ALLOW_THREADS
        ret = hmk_queue_recv(q, buf, len, ms >= 0 && left < 0 ? 0 : left);
        Py_END_ALLOW_THREADS
    } while (ret == -EINTR && PyErr_CheckSignals() == 0);
    if (ret >= 0)
        res = PyBytes_FromStringAndSize(buf, ret);
    else if (ret != -EINTR)
        hmkpy_raise(ret, qname(o));
    PyMem_Free(buf);
    queue_release(o);
    return res;
}

static PyObject *queue_stats(QueueObject *o, PyObject *unused)
{
    struct hmk_queue_stats st;
    int ret;
    (void)unused;

    if (queue_usable(o) < 0)
        return NULL;
    if ((ret = hmk_queue_stats(o->q, &st)) < 0)
        return hmkpy_raise(ret, qname(o));
    return Py_BuildValue("{sIsIsIsKsKsK}", "depth", st.depth, "msg_size", st.msg_size, "queued",
                         st.queued, "sent", (unsigned long long)st.sent, "received",
                         (unsigned long long)st.received, "recoveries",
                         (unsigned long long)st.recoveries);
}

static PyObject *queue_close(QueueObject *o, PyObject *unused)
{
    (void)unused;
    o->closed = true;
    if (o->users == 0 && o->q) {
        hmk_queue_close(o->q);
        o->q = NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *queue_enter(QueueObject *o, PyObject *unused)
{
    (void)unused;
    if (queue_usable(o) < 0)
        return NULL;
    Py_INCREF(o);
    return (PyObject *)o;
}

static PyObject *queue_exit(QueueObject *o, PyObject *args)
{
    (void)args;
    return queue_close(o, NULL);
}

#define KW (PyCFunction)(void (*)(void))
static PyMethodDef queue_methods[] = {
    {"send", KW queue_send, METH_VARARGS | METH_KEYWORDS,
     "send($self, data, timeout=None)\n--\n\nQueue one message (bytes, at most msg_size). Blocks while the queue\n"
     "is full, up to timeout seconds (0: never blocks, Error EAGAIN; None: for\n"
     "ever; Timeout otherwise)."},
    {"recv", KW queue_recv, METH_VARARGS | METH_KEYWORDS,
     "recv($self, timeout=None)\n--\n\nThe next message as bytes; blocks while empty, as send()."},
    {"stats", (PyCFunction)queue_stats, METH_NOARGS,
     "stats($self)\n--\n\ndict: depth, msg_size, queued, sent, received, recoveries."},
    {"close", (PyCFunction)queue_close, METH_NOARGS, "close($self)\n--\n\nClose this handle."},
    {"__enter__", (PyCFunction)queue_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)queue_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

PyTypeObject hmkpy_QueueType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "halmk.Queue",
    .tp_basicsize = sizeof(QueueObject),
    .tp_dealloc = (destructor)queue_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Queue(name): a named message queue between services (/dev/shm/hmkq.<name>).\n\n"
              "Bounded, fixed-size messages, many senders, one receiver at a time. Under the\n"
              "daemon a service may open only the queues its [queue] sections grant it\n"
              "(PermissionDenied otherwise).",
    .tp_methods = queue_methods,
    .tp_init = (initproc)queue_init,
    .tp_new = PyType_GenericNew,
};

PyObject *hmkpy_queue_create(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "depth", "msg_size", "mode", NULL};
    const char *name;
    unsigned depth, msg_size, mode = 0600;
    int ret;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "sII|I:queue_create", kwlist, &name, &depth,
                                     &msg_size, &mode))
        return NULL;
    if ((ret = hmk_queue_create(name, depth, msg_size, mode)) < 0)
        return hmkpy_raise(ret, name);
    Py_RETURN_NONE;
}

PyObject *hmkpy_queue_unlink(PyObject *self, PyObject *args)
{
    const char *name;
    int ret;
    (void)self;

    if (!PyArg_ParseTuple(args, "s:queue_unlink", &name))
        return NULL;
    if ((ret = hmk_queue_unlink(name)) < 0)
        return hmkpy_raise(ret, name);
    Py_RETURN_NONE;
}
