/*
 * service.c - halmk.Service: libhalmk's service framework (hmk_svc_run)
 * with Python handlers.
 *
 * run() releases the GIL for hmk_svc_run and takes it back around each
 * handler. An exception in a handler stops the loop (the handler returns
 * -ECANCELED to the framework) and run() re-raises it. hmk_svc_run owns
 * SIGTERM, SIGINT and SIGALRM while it runs; run() puts back the handlers
 * Python had when it returns.
 */
#include "halmk_py.h"

#include <errno.h>
#include <signal.h>
#include <structmember.h>

enum { H_ATTACH, H_CHANGE, H_TICK, H_STOP, H_LOST, H_COUNT };
static const char *const handler_names[H_COUNT] = {"on_attach", "on_change", "on_tick",
                                                   "on_stop", "on_lost"};

typedef struct {
    PyObject_HEAD
    PyObject *dict;
    PyObject *name, *region;          /* str; str or None */
    PyObject *reads, *writes;         /* tuples of str */
    PyObject *given[H_COUNT];         /* handlers passed to __init__, or NULL */
    PyObject *bound[H_COUNT];         /* during run(): what to call, or NULL */
    bool pass_self[H_COUNT];          /* given[] handlers get the service first */
    int period_ms;
    bool stream, running;
    hmk_svc *s;
    PyThreadState *ts;
    PyObject *exc_type, *exc_val, *exc_tb;
} ServiceObject;

static int svc_init(ServiceObject *o, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "reads", "writes", "period", "stream", "region",
                             "on_attach", "on_change", "on_tick", "on_stop", "on_lost", NULL};
    PyObject *reads = NULL, *writes = NULL, *period = Py_None, *region = Py_None, *name;
    PyObject *h[H_COUNT] = {NULL};
    int stream = 0, ms;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "U|OOOpOOOOOO:Service", kwlist, &name, &reads,
                                     &writes, &period, &stream, &region, &h[0], &h[1], &h[2],
                                     &h[3], &h[4]))
        return -1;
    if (o->running) {
        PyErr_SetString(PyExc_RuntimeError, "service is running");
        return -1;
    }
    if (period != Py_None && hmkpy_timeout_ms(period, &ms) < 0)
        return -1;
    o->period_ms = period == Py_None ? 0 : ms;
    if (region != Py_None && !PyUnicode_Check(region)) {
        PyErr_SetString(PyExc_TypeError, "region must be a str or None");
        return -1;
    }
    PyObject *lists[2] = {reads, writes}, *tuples[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        tuples[k] = lists[k] ? PySequence_Tuple(lists[k]) : PyTuple_New(0);
        for (Py_ssize_t i = 0; tuples[k] && i < PyTuple_GET_SIZE(tuples[k]); i++)
            if (!PyUnicode_Check(PyTuple_GET_ITEM(tuples[k], i))) {
                PyErr_Format(PyExc_TypeError, "%s must be pin names (str), not %s",
                             k ? "writes" : "reads", Py_TYPE(PyTuple_GET_ITEM(tuples[k], i))->tp_name);
                Py_CLEAR(tuples[k]);
            }
        if (!tuples[k]) {
            Py_XDECREF(tuples[0]);
            return -1;
        }
    }
    for (int k = 0; k < H_COUNT; k++)
        if (h[k] && h[k] != Py_None && !PyCallable_Check(h[k])) {
            PyErr_Format(PyExc_TypeError, "%s must be callable", handler_names[k]);
            Py_DECREF(tuples[0]);
            Py_DECREF(tuples[1]);
            return -1;
        }
    Py_XSETREF(o->reads, tuples[0]);
    Py_XSETREF(o->writes, tuples[1]);
    Py_XSETREF(o->name, Py_NewRef(name));
    Py_XSETREF(o->region, Py_NewRef(region));
    for (int k = 0; k < H_COUNT; k++)
        Py_XSETREF(o->given[k], h[k] && h[k] != Py_None ? Py_NewRef(h[k]) : NULL);
    o->stream = stream;
    return 0;
}

static int svc_traverse(ServiceObject *o, visitproc visit, void *arg)
{
    Py_VISIT(o->dict);
    Py_VISIT(o->reads);
    Py_VISIT(o->writes);
    for (int k = 0; k < H_COUNT; k++) {
        Py_VISIT(o->given[k]);
        Py_VISIT(o->bound[k]);
    }
    return 0;
}

static int svc_clear(ServiceObject *o)
{
    Py_CLEAR(o->dict);
    Py_CLEAR(o->name);
    Py_CLEAR(o->region);
    Py_CLEAR(o->reads);
    Py_CLEAR(o->writes);
    for (int k = 0; k < H_COUNT; k++) {
        Py_CLEAR(o->given[k]);
        Py_CLEAR(o->bound[k]);
    }
    return 0;
}

static void svc_dealloc(ServiceObject *o)
{
    PyObject_GC_UnTrack(o);
    svc_clear(o);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

/* ---- handlers: back into Python ----------------------------------------- */

static void svc_enter(ServiceObject *o, hmk_svc *s)
{
    PyEval_RestoreThread(o->ts);
    o->s = s;
}

/* Leaves Python again; an exception is kept for run() and stops the loop. */
static int svc_leave(ServiceObject *o, PyObject *res)
{
    int ret = 0;

    if (!res) {
        if (!o->exc_type)
            PyErr_Fetch(&o->exc_type, &o->exc_val, &o->exc_tb);
        else
            PyErr_Clear();
        ret = -ECANCELED;
    }
    Py_XDECREF(res);
    o->ts = PyEval_SaveThread();
    return ret;
}

/* calls handler k with the argument tuple args (stolen) */
static PyObject *svc_call(ServiceObject *o, int k, PyObject *args)
{
    PyObject *res, *full;

    if (!args)
        return NULL;
    if (!o->pass_self[k]) {
        res = PyObject_Call(o->bound[k], args, NULL);
        Py_DECREF(args);
        return res;
    }
    full = PyTuple_New(PyTuple_GET_SIZE(args) + 1);
    if (!full) {
        Py_DECREF(args);
        return NULL;
    }
    PyTuple_SET_ITEM(full, 0, Py_NewRef((PyObject *)o));
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); i++)
        PyTuple_SET_ITEM(full, i + 1, Py_NewRef(PyTuple_GET_ITEM(args, i)));
    Py_DECREF(args);
    res = PyObject_Call(o->bound[k], full, NULL);
    Py_DECREF(full);
    return res;
}

static int h_attach(hmk_svc *s, void *user)
{
    ServiceObject *o = user;
    svc_enter(o, s);
    return svc_leave(o, svc_call(o, H_ATTACH, PyTuple_New(0)));
}

static int h_change(hmk_svc *s, unsigned slot, const hmk_value *v, uint64_t cycle, void *user)
{
    ServiceObject *o = user;
    PyObject *val;

    svc_enter(o, s);
    val = hmkpy_from_value(v);
    return svc_leave(o, val ? svc_call(o, H_CHANGE, Py_BuildValue("(ONK)", PyTuple_GET_ITEM(o->reads, slot),
                                                                  val, (unsigned long long)cycle))
                            : NULL);
}

static int h_tick(hmk_svc *s, void *user)
{
    ServiceObject *o = user;
    svc_enter(o, s);
    return svc_leave(o, svc_call(o, H_TICK, PyTuple_New(0)));
}

static void h_stop(hmk_svc *s, void *user)
{
    ServiceObject *o = user;
    svc_enter(o, s);
    svc_leave(o, svc_call(o, H_STOP, PyTuple_New(0)));
}

static int h_lost(hmk_svc *s, uint64_t count, void *user)
{
    ServiceObject *o = user;
    svc_enter(o, s);
    return svc_leave(o, svc_call(o, H_LOST, Py_BuildValue("(K)", (unsigned long long)count)));
}

/* ---- run ---------------------------------------------------------------- */

/* handlers given to __init__ win over methods (a subclass's on_change) */
static int svc_bind(ServiceObject *o)
{
    for (int k = 0; k < H_COUNT; k++) {
        Py_CLEAR(o->bound[k]);
        o->pass_self[k] = o->given[k] != NULL;
        if (o->given[k]) {
            o->bound[k] = Py_NewRef(o->given[k]);
            continue;
        }
        o->bound[k] = PyObject_GetAttrString((PyObject *)o, handler_names[k]);
        if (!o->bound[k]) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError))
                return -1;
            PyErr_Clear();
        }
        if (o->bound[k] == Py_None)
            Py_CLEAR(o->bound[k]);
    }
    return 0;
}

static const char **name_array(PyObject *tuple)
{
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    const char **a = PyMem_Calloc((size_t)n + 1, sizeof(*a));

    if (!a) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (!(a[i] = PyUnicode_AsUTF8(PyTuple_GET_ITEM(tuple, i)))) {
            PyMem_Free(a);
            return NULL;
        }
    return a;
}

static PyObject *svc_finish(ServiceObject *o, int ret, const char *err)
{
    for (int k = 0; k < H_COUNT; k++)
        Py_CLEAR(o->bound[k]);
    if (o->exc_type) {
        PyErr_Restore(o->exc_type, o->exc_val, o->exc_tb);
        o->exc_type = o->exc_val = o->exc_tb = NULL;
        return NULL;
    }
    if (ret < 0) {
        PyObject *e = PyObject_CallFunction(ret == -ESTALE ? hmkpy_Stale : hmkpy_Error, "is",
                                            -ret, err[0] ? err : hmk_strerror(ret));
        if (e) {
            PyErr_SetObject((PyObject *)Py_TYPE(e), e);
            Py_DECREF(e);
        }
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *svc_run(ServiceObject *o, PyObject *unused)
{
    static const int sigs[3] = {SIGTERM, SIGINT, SIGALRM};
    struct sigaction old[3];
    struct hmk_svc_def def = {0};
    const char **reads, **writes;
    char err[512] = "";
    int ret;
    (void)unused;

    if (!o->name) {
        PyErr_SetString(PyExc_RuntimeError, "Service.__init__ was not called");
        return NULL;
    }
    if (o->running) {
        PyErr_SetString(PyExc_RuntimeError, "service is already running");
        return NULL;
    }
    if (svc_bind(o) < 0)
        return NULL;
    if (!(reads = name_array(o->reads)))
        return NULL;
    if (!(writes = name_array(o->writes))) {
        PyMem_Free(reads);
        return NULL;
    }
    def.name = PyUnicode_AsUTF8(o->name);
    def.region = o->region != Py_None ? PyUnicode_AsUTF8(o->region) : NULL;
    def.reads = reads;
    def.writes = writes;
    def.on_attach = o->bound[H_ATTACH] ? h_attach : NULL;
    def.on_change = o->bound[H_CHANGE] ? h_change : NULL;
    def.on_tick = o->bound[H_TICK] ? h_tick : NULL;
    def.on_stop = o->bound[H_STOP] ? h_stop : NULL;
    def.on_lost = o->bound[H_LOST] ? h_lost : NULL;
    def.period_ms = o->period_ms;
    def.stream = o->stream;
    def.user = o;
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], NULL, &old[i]);
    o->running = true;
    Py_INCREF(o);
    o->ts = PyEval_SaveThread();
    ret = hmk_svc_run(&def, err, sizeof(err));
    PyEval_RestoreThread(o->ts);
    o->s = NULL;
    o->running = false;
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &old[i], NULL);
    PyMem_Free(reads);
    PyMem_Free(writes);
    PyObject *res = svc_finish(o, ret, err);
    Py_DECREF(o);
    return res;
}

/* ---- inside handlers ----------------------------------------------------- */

static int svc_live(ServiceObject *o)
{
    if (!o->s) {
        PyErr_SetString(PyExc_RuntimeError, "only inside a handler of a running service");
        return -1;
    }
    return 0;
}

static int slot_of(PyObject *tuple, PyObject *key)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tuple); i++) {
        int eq = PyObject_RichCompareBool(PyTuple_GET_ITEM(tuple, i), key, Py_EQ);
        if (eq)
            return eq < 0 ? -2 : (int)i;
    }
    return -1;
}

static PyObject *svc_getitem(ServiceObject *o, PyObject *key)
{
    hmk_value v;
    int slot, ret;

    if (svc_live(o) < 0 || (slot = slot_of(o->reads, key)) == -2)
        return NULL;
    if (slot < 0) {
        PyErr_Format(PyExc_KeyError, "%R is not one of the service's reads", key);
        return NULL;
    }
    if ((ret = hmk_svc_get(o->s, (unsigned)slot, &v)) < 0)
        return hmkpy_raise(ret, PyUnicode_AsUTF8(key));
    return hmkpy_from_value(&v);
}

static int svc_setitem(ServiceObject *o, PyObject *key, PyObject *val)
{
    struct hmk_pin_info info;
    hmk_value v;
    int slot, ret;

    if (!val) {
        PyErr_SetString(PyExc_TypeError, "pins cannot be deleted");
        return -1;
    }
    if (svc_live(o) < 0 || (slot = slot_of(o->writes, key)) == -2)
        return -1;
    if (slot < 0) {
        PyErr_Format(PyExc_KeyError, "%R is not one of the service's writes", key);
        return -1;
    }
    if ((ret = hmk_svc_write_info(o->s, (unsigned)slot, &info)) < 0 ||
        (ret = 0, hmkpy_to_value(info.type, val, info.name, &v) < 0))
        return ret < 0 ? (hmkpy_raise(ret, PyUnicode_AsUTF8(key)), -1) : -1;
    if ((ret = hmk_svc_set(o->s, (unsigned)slot, &v)) < 0) {
        hmkpy_raise(ret, info.name);
        return -1;
    }
    return 0;
}

static PyObject *svc_commit(ServiceObject *o, PyObject *unused)
{
    int ret;
    (void)unused;
    if (svc_live(o) < 0)
        return NULL;
    if ((ret = hmk_svc_commit(o->s)) < 0)
        return hmkpy_raise(ret, NULL);
    Py_RETURN_NONE;
}

static PyObject *svc_stop(ServiceObject *o, PyObject *unused)
{
    (void)unused;
    if (svc_live(o) < 0)
        return NULL;
    hmk_svc_stop(o->s);
    Py_RETURN_NONE;
}

static PyObject *svc_get_period(ServiceObject *o, void *c)
{
    (void)c;
    if (o->period_ms <= 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(o->period_ms / 1000.0);
}

static int svc_set_period(ServiceObject *o, PyObject *val, void *c)
{
    int ms = 0;
    (void)c;
    if (val && val != Py_None && hmkpy_timeout_ms(val, &ms) < 0)
        return -1;
    o->period_ms = ms;
    if (o->s)
        hmk_svc_set_period(o->s, ms);
    return 0;
}

static PyObject *svc_get_connected(ServiceObject *o, void *c)
{
    int ret;
    (void)c;
    if (svc_live(o) < 0)
        return NULL;
    if ((ret = hmkpy_connected(hmk_svc_region(o->s))) < 0)
        return hmkpy_raise(ret, NULL);
    return PyBool_FromLong(ret);
}

static PyObject *svc_get_running(ServiceObject *o, void *c)
{
    (void)c;
    return PyBool_FromLong(o->running);
}

static PyMethodDef svc_methods[] = {
    {"run", (PyCFunction)svc_run, METH_NOARGS,
     "run($self)\n--\n\nAttach (waiting for the region without polling), report readiness to the\n"
     "daemon, call the handlers until SIGTERM/SIGINT or stop(), re-attach after a\n"
     "LinuxCNC restart. Returns None after a clean stop; raises the exception a\n"
     "handler raised, or halmk.Error naming what failed. Once per process."},
    {"commit", (PyCFunction)svc_commit, METH_NOARGS,
     "commit($self)\n--\n\nSend what handlers staged so far now, not at the end of the round."},
    {"stop", (PyCFunction)svc_stop, METH_NOARGS,
     "stop($self)\n--\n\nEnd run() as SIGTERM would (on_stop runs, staged values commit)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef svc_getset[] = {
    {"period", (getter)svc_get_period, (setter)svc_set_period,
     "Seconds between on_tick calls when nothing changes (None: no ticks, no timer).", NULL},
    {"connected", (getter)svc_get_connected, NULL,
     "True while HAL and the daemon are connected (inside handlers).", NULL},
    {"running", (getter)svc_get_running, NULL, "True inside run().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef svc_members[] = {
    {"name", T_OBJECT, offsetof(ServiceObject, name), READONLY, "Service name."},
    {"reads", T_OBJECT, offsetof(ServiceObject, reads), READONLY, "Pins watched (tuple)."},
    {"writes", T_OBJECT, offsetof(ServiceObject, writes), READONLY, "Pins written (tuple)."},
    {NULL, 0, 0, 0, NULL},
};

static PyMappingMethods svc_mapping = {NULL, (binaryfunc)svc_getitem, (objobjargproc)svc_setitem};

PyTypeObject hmkpy_ServiceType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "halmk.Service",
    .tp_basicsize = sizeof(ServiceObject),
    .tp_dealloc = (destructor)svc_dealloc,
    .tp_as_mapping = &svc_mapping,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc =
        "Service(name, reads=(), writes=(), period=None, stream=False, region=None,\n"
        "        on_attach=None, on_change=None, on_tick=None, on_stop=None, on_lost=None)\n\n"
        "A service run by the hal-microkernel daemon, the way hal.component users\n"
        "write userspace components, without polling:\n\n"
        "    class Coolant(halmk.Service):\n"
        "        def on_change(self, pin, value, cycle):\n"
        "            self['coolant'] = value          # staged, committed after the round\n"
        "    Coolant('coolant', reads=['spindle-at-speed'], writes=['coolant']).run()\n\n"
        "Handlers are methods of a subclass, or callables given here (then called\n"
        "with the service first): on_attach(), after every (re)attach; on_change(pin,\n"
        "value, cycle), once per read pin after attach, then per change (stream=True:\n"
        "every change in order, and on_lost(count) for what was missed); on_tick()\n"
        "every `period` seconds without changes; on_stop() on SIGTERM/SIGINT.\n"
        "Inside handlers: self[read_pin] reads, self[write_pin] = v stages a write;\n"
        "everything staged in one round reaches HAL in one servo cycle.",
    .tp_traverse = (traverseproc)svc_traverse,
    .tp_clear = (inquiry)svc_clear,
    .tp_methods = svc_methods,
    .tp_members = svc_members,
    .tp_getset = svc_getset,
    .tp_dictoffset = offsetof(ServiceObject, dict),
    .tp_init = (initproc)svc_init,
    .tp_new = PyType_GenericNew,
    .tp_free = PyObject_GC_Del,
};
