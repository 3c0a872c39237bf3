/*
 * module.c - the halmk module: exceptions, value conversion, the "is HAL
 * connected" judgement, module functions.
 */
#include "halmk_py.h"
#include "hmk_version.h"

#include <errno.h>
#include <math.h>
#include <time.h>

PyObject *hmkpy_Error, *hmkpy_Stale, *hmkpy_PermissionDenied, *hmkpy_Timeout, *hmkpy_NotFound;

int64_t hmkpy_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "Is HAL connected": today the daemon's heartbeat is fresh (stats'
 * heartbeat_ns within heartbeat_timeout_ms). Issue 11 replaces this with a
 * flag the bridge publishes; this function is the only place to change.
 * 1 connected, 0 not, < 0 error. */
int hmkpy_connected(const hmk_region *r)
{
    struct hmk_stats st;
    int ret = hmk_stats(r, &st);

    /* the bridge's own <prefix>.connected, mirrored in the region */
    return ret < 0 ? ret : st.connected;
}

PyObject *hmkpy_raise(int err, const char *what)
{
    PyObject *cls = hmkpy_Error, *exc;

    switch (err) {
    case -ESTALE: cls = hmkpy_Stale; break;
    case -EPERM:
    case -EROFS:
    case -EACCES: cls = hmkpy_PermissionDenied; break;
    case -ETIMEDOUT: cls = hmkpy_Timeout; break;
    case -ENOENT: cls = hmkpy_NotFound; break;
    case -ENOMEM: return PyErr_NoMemory();
    }
    if (what)
        exc = PyObject_CallFunction(cls, "iss", -err, hmk_strerror(err), what);
    else
        exc = PyObject_CallFunction(cls, "is", -err, hmk_strerror(err));
    if (exc) {
        PyErr_SetObject(cls, exc);
        Py_DECREF(exc);
    }
    return NULL;
}

PyObject *hmkpy_from_value(const hmk_value *v)
{
    switch (v->type) {
    case HMK_TYPE_BIT: return PyBool_FromLong(v->b);
    case HMK_TYPE_FLOAT: return PyFloat_FromDouble(v->f);
    case HMK_TYPE_S32: return PyLong_FromLong(v->s);
    case HMK_TYPE_U32: return PyLong_FromUnsignedLong(v->u);
    }
    PyErr_Format(hmkpy_Error, "value of unknown type %d", (int)v->type);
    return NULL;
}

static int to_int(PyObject *obj, const char *pin, const char *tname, long long lo, long long hi,
                  long long *out)
{
    int overflow = 0;
    long long x;

    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "pin '%s' is %s: expected int, got %s", pin, tname,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    x = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (overflow || x < lo || x > hi) {
        PyErr_Format(PyExc_ValueError, "pin '%s' is %s: %R out of range %lld..%lld", pin, tname,
                     obj, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int hmkpy_to_value(enum hmk_type type, PyObject *obj, const char *pin, hmk_value *out)
{
    long long x;

    out->type = type;
    switch (type) {
    case HMK_TYPE_BIT:
        if (PyBool_Check(obj)) {
            out->b = obj == Py_True;
            return 0;
        }
        if (to_int(obj, pin, "bit", 0, 1, &x) < 0)
            return -1;
        out->b = x != 0;
        return 0;
    case HMK_TYPE_FLOAT:
        if (!PyFloat_Check(obj) && !PyLong_Check(obj)) {
            PyErr_Format(PyExc_TypeError, "pin '%s' is float: expected float or int, got %s", pin,
                         Py_TYPE(obj)->tp_name);
            return -1;
        }
        out->f = PyFloat_AsDouble(obj);
        if (out->f == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "pin '%s' is float: %R out of range", pin, obj);
            return -1;
        }
        if (!isfinite(out->f)) {
            PyErr_Format(PyExc_ValueError, "pin '%s' is float: %R is not finite", pin, obj);
            return -1;
        }
        return 0;
    case HMK_TYPE_S32:
        if (to_int(obj, pin, "s32", INT32_MIN, INT32_MAX, &x) < 0)
            return -1;
        out->s = (int32_t)x;
        return 0;
    case HMK_TYPE_U32:
        if (to_int(obj, pin, "u32", 0, UINT32_MAX, &x) < 0)
            return -1;
        out->u = (uint32_t)x;
        return 0;
    }
    PyErr_Format(hmkpy_Error, "pin '%s' has unknown type %d", pin, (int)type);
    return -1;
}

int hmkpy_timeout_ms(PyObject *obj, int *ms)
{
    double s;

    if (!obj || obj == Py_None) {
        *ms = -1;
        return 0;
    }
    if (!PyFloat_Check(obj) && !PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "timeout must be a number of seconds or None, not %s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    s = PyFloat_AsDouble(obj);
    if (s == -1.0 && PyErr_Occurred())
        return -1;
    if (!(s >= 0) || s > INT32_MAX / 1000.0) {
        PyErr_Format(PyExc_ValueError, "timeout %R out of range 0..%d s (or None)", obj,
                     INT32_MAX / 1000);
        return -1;
    }
    *ms = (int)ceil(s * 1000.0);
    return 0;
}

PyDoc_STRVAR(ready_doc,
"ready()\n--\n\n"
"Tell the supervising daemon that this service is up (writes READY=1 to\n"
"the descriptor named by $HMK_READY_FD, once). Does nothing when not run\n"
"by the daemon. Service.run() calls it itself after the first attach;\n"
"call it only from a program with its own loop.");

static PyObject *mod_ready(PyObject *self, PyObject *unused)
{
    int ret = hmk_ready();
    (void)self;
    (void)unused;
    if (ret < 0)
        return hmkpy_raise(ret, "$HMK_READY_FD");
    Py_RETURN_NONE;
}

PyDoc_STRVAR(strerror_doc,
"strerror(errno, /)\n--\n\nlibhalmk's one-phrase text for an errno value (positive).");

static PyObject *mod_strerror(PyObject *self, PyObject *arg)
{
    long e = PyLong_AsLong(arg);
    (void)self;
    if (e == -1 && PyErr_Occurred())
        return NULL;
    if (e <= 0 || e > 4095) {
        PyErr_Format(PyExc_ValueError, "errno %ld out of range 1..4095", e);
        return NULL;
    }
    return PyUnicode_FromString(hmk_strerror((int)-e));
}

PyDoc_STRVAR(open_doc,
"open(name=None, readonly=False, wait=0)\n--\n\n"
"Attach to the region the bridge hal_microkernel_bridge created and return\n"
"a Region. name None means $HAL_MICROKERNEL_REGION, else 'hal-microkernel'.\n"
"wait=SECONDS blocks up to that long (None: for ever) until the region\n"
"appears (inotify, no polling) instead of raising NotFound at once.\n"
"Use as a context manager: `with halmk.open() as r: print(r['pin.0'])`.");

PyDoc_STRVAR(qcreate_doc,
"queue_create(name, depth, msg_size, mode=0o600)\n--\n\n"
"Make the message queue /dev/shm/hmkq.<name> (the daemon does this from its\n"
"[queue] sections). An existing queue of the same geometry is kept.");

PyDoc_STRVAR(qunlink_doc, "queue_unlink(name, /)\n--\n\nRemove the message queue <name>.");

static PyMethodDef mod_methods[] = {
    {"open", (PyCFunction)(void (*)(void))hmkpy_open, METH_VARARGS | METH_KEYWORDS, open_doc},
    {"ready", mod_ready, METH_NOARGS, ready_doc},
    {"strerror", mod_strerror, METH_O, strerror_doc},
    {"queue_create", (PyCFunction)(void (*)(void))hmkpy_queue_create, METH_VARARGS | METH_KEYWORDS,
     qcreate_doc},
    {"queue_unlink", hmkpy_queue_unlink, METH_VARARGS, qunlink_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(mod_doc,
"Python access to hal-microkernel: LinuxCNC HAL pins without polling.\n\n"
"A service reads and writes HAL pins that hal_microkernel_bridge exposes in a\n"
"shared-memory region, and sleeps in the kernel until they change:\n\n"
"    import halmk\n"
"    with halmk.open() as r:\n"
"        print(r['spindle.speed'])        # read (halcmd getp)\n"
"        r['coolant'] = True              # write (needs a grant under the daemon)\n"
"        with r.transaction() as t:       # pins reach HAL in one servo cycle\n"
"            t['a'] = 1; t['b'] = 2.5\n"
"        changed = r.wait(['spindle.speed'], timeout=1.0)\n"
"        for ev in r.stream():            # every change, in order\n"
"            print(ev.cycle, ev.pin, ev.value)\n\n"
"Services under the hal-microkernel daemon use halmk.Service (readiness,\n"
"SIGTERM, re-attach after a LinuxCNC restart). Errors are exceptions whose\n"
"strerror is libhalmk's text: Stale (region detached), PermissionDenied (a\n"
"PermissionError), Timeout (a TimeoutError), NotFound (a FileNotFoundError),\n"
"all subclasses of halmk.Error (an OSError). Wrong value types raise\n"
"TypeError, out-of-range values ValueError, unknown pins KeyError, each\n"
"naming the pin. See docs/python.md.");

static struct PyModuleDef mod_def = {
    PyModuleDef_HEAD_INIT, "halmk", mod_doc, -1, mod_methods, NULL, NULL, NULL, NULL,
};

static PyObject *new_exc(PyObject *m, const char *name, PyObject *bases, const char *doc)
{
    char full[64];
    PyObject *e;

    snprintf(full, sizeof(full), "halmk.%s", name);
    e = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    if (e && PyModule_AddObjectRef(m, name, e) < 0)
        Py_CLEAR(e);
    return e;
}

static int add_exceptions(PyObject *m)
{
    PyObject *b;

    hmkpy_Error = new_exc(m, "Error", PyExc_OSError,
                          "A libhalmk call failed: errno and strerror (libhalmk's text).");
    if (!hmkpy_Error)
        return -1;
    hmkpy_Stale = new_exc(m, "Stale", hmkpy_Error,
                          "The bridge detached the region (LinuxCNC stopped or reloaded): "
                          "close it and open again.");
    b = Py_BuildValue("(OO)", hmkpy_Error, PyExc_PermissionError);
    hmkpy_PermissionDenied = b ? new_exc(m, "PermissionDenied", b,
        "A write to a pin HAL feeds, not granted by the daemon (writes =), or "
        "through a read-only region.") : NULL;
    Py_XDECREF(b);
    b = Py_BuildValue("(OO)", hmkpy_Error, PyExc_TimeoutError);
    hmkpy_Timeout = b ? new_exc(m, "Timeout", b, "A wait ran out of time.") : NULL;
    Py_XDECREF(b);
    b = Py_BuildValue("(OO)", hmkpy_Error, PyExc_FileNotFoundError);
    hmkpy_NotFound = b ? new_exc(m, "NotFound", b,
        "No such region (is hal_microkernel_bridge loaded?) or queue.") : NULL;
    Py_XDECREF(b);
    return hmkpy_Stale && hmkpy_PermissionDenied && hmkpy_Timeout && hmkpy_NotFound ? 0 : -1;
}

PyMODINIT_FUNC PyInit_halmk(void)
{
    PyObject *m = PyModule_Create(&mod_def);

    if (!m)
        return NULL;
    if (add_exceptions(m) < 0 || hmkpy_region_init_types(m) < 0 ||
        PyType_Ready(&hmkpy_QueueType) < 0 || PyType_Ready(&hmkpy_ServiceType) < 0 ||
        PyModule_AddObjectRef(m, "Queue", (PyObject *)&hmkpy_QueueType) < 0 ||
        PyModule_AddObjectRef(m, "Service", (PyObject *)&hmkpy_ServiceType) < 0 ||
        PyModule_AddStringConstant(m, "DEFAULT_REGION", "hal-microkernel") < 0 ||
        PyModule_AddStringConstant(m, "__version__", HMK_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
