/*
 * region.c - halmk.Region (an open region: pins as a mapping, snapshot,
 * waits, fileno) and halmk.Transaction.
 *
 * Blocking calls release the GIL. A region closed while another thread is
 * blocked in it (or while a Transaction or Stream still uses it) is only
 * marked closed; the handle is released when the last user is done, so no
 * thread ever touches freed memory.
 */
#include "halmk_py.h"

#include <errno.h>
#include <string.h>
#include <structmember.h>

static PyStructSequence_Field pininfo_fields[] = {
    {"name", "region pin name, e.g. 'spindle.speed' or 'pin.3'"},
    {"type", "'bit', 'float', 's32' or 'u32'"},
    {"dir", "seen from HAL: 'in' (HAL feeds it), 'out' (it drives HAL) or 'io'"},
    {"index", "region pin index"},
    {"slot", "True for a seed slot (HAL pins <prefix>.<name>.in and .out)"},
    {NULL, NULL},
};
static PyStructSequence_Desc pininfo_desc = {"halmk.PinInfo", "One pin of a region.",
                                             pininfo_fields, 5};
static PyStructSequence_Field event_fields[] = {
    {"cycle", "bridge cycle in which HAL's value changed"},
    {"pin", "region pin name"},
    {"value", "the new value"},
    {NULL, NULL},
};
static PyStructSequence_Desc event_desc = {"halmk.Event", "One change from Region.stream().",
                                           event_fields, 3};
PyTypeObject hmkpy_PinInfoType, hmkpy_EventType;

int hmkpy_region_usable(RegionObject *o)
{
    if (o->closed || !o->r) {
        PyErr_SetString(PyExc_ValueError, "operation on a closed region");
        return -1;
    }
    return 0;
}

static void region_free_handle(RegionObject *o)
{
    hmkpy_notifier_stop(o->notifier);
    o->notifier = NULL;
    hmk_close(o->r);
    o->r = NULL;
}

void hmkpy_region_release(RegionObject *o)
{
    if (--o->users == 0 && o->closed && o->r)
        region_free_handle(o);
}

int hmkpy_pin_lookup(RegionObject *o, PyObject *key, struct hmk_pin_info *info)
{
    long idx;

    if (hmkpy_region_usable(o) < 0)
        return -1;
    if (PyUnicode_Check(key)) {
        PyObject *i = PyDict_GetItemWithError(o->index, key);
        if (i) {
            idx = PyLong_AsLong(i);
        } else {
            Py_ssize_t len;
            const char *s;
            if (PyErr_Occurred() || !(s = PyUnicode_AsUTF8AndSize(key, &len)))
                return -1;
            idx = (long)strlen(s) == len ? hmk_pin_find(o->r, s) : -ENOENT;
            if (idx < 0) {
                PyErr_Format(PyExc_KeyError, "no pin %R in region '%s'", key,
                             hmk_region_name(o->r));
                return -1;
            }
        }
    } else if (PyLong_Check(key) && !PyBool_Check(key)) {
        idx = PyLong_AsLong(key);
        if (idx == -1 && PyErr_Occurred())
            PyErr_Clear();
        if (idx < 0 || idx >= (long)hmk_pin_count(o->r)) {
            PyErr_Format(PyExc_IndexError, "pin index %R out of range 0..%u", key,
                         hmk_pin_count(o->r) - 1);
            return -1;
        }
    } else {
        PyErr_Format(PyExc_TypeError, "a pin is a name (str) or an index (int), not %s",
                     Py_TYPE(key)->tp_name);
        return -1;
    }
    if (hmk_pin_info(o->r, (unsigned)idx, info) < 0) {
        PyErr_Format(PyExc_KeyError, "no pin %R", key);
        return -1;
    }
    return (int)idx;
}

static int region_build_names(RegionObject *o)
{
    unsigned n = hmk_pin_count(o->r);

    o->names = PyTuple_New(n);
    o->index = PyDict_New();
    if (!o->names || !o->index)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        struct hmk_pin_info info;
        PyObject *name, *idx;
        if (hmk_pin_info(o->r, i, &info) < 0 || !(name = PyUnicode_FromString(info.name)))
            return -1;
        PyTuple_SET_ITEM(o->names, i, name);
        idx = PyLong_FromUnsignedLong(i);
        if (!idx || PyDict_SetItem(o->index, name, idx) < 0) {
            Py_XDECREF(idx);
            return -1;
        }
        Py_DECREF(idx);
    }
    return 0;
}

PyObject *hmkpy_open(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "readonly", "wait", NULL};
    const char *name = NULL;
    int readonly = 0, ms = 0, ret;
    PyObject *wait = NULL;
    hmk_region *r = NULL;
    RegionObject *o;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|zpO:open", kwlist, &name, &readonly, &wait))
        return NULL;
    if (wait && wait != Py_None && hmkpy_timeout_ms(wait, &ms) < 0)
        return NULL;
    if (wait == Py_None)
        ms = -1;
    unsigned flags = readonly ? HMK_OPEN_RDONLY : 0;
    for (int64_t end = hmkpy_now_ms() + ms;;) {
        int left = ms < 0 ? -1 : (int)(end - hmkpy_now_ms());
        Py_BEGIN_ALLOW_THREADS
        ret = ms == 0 ? hmk_open(name, flags, &r) : hmk_open_wait(name, flags, left < 0 && ms >= 0 ? 0 : left, &r);
        Py_END_ALLOW_THREADS
        if (ret != -EINTR)
            break;
        if (PyErr_CheckSignals() < 0)
            return NULL;
    }
    if (ret < 0)
        return hmkpy_raise(ret, name ? name : (getenv("HAL_MICROKERNEL_REGION") ? getenv("HAL_MICROKERNEL_REGION") : "hal-microkernel"));
    o = PyObject_New(RegionObject, &hmkpy_RegionType);
    if (!o) {
        hmk_close(r);
        return NULL;
    }
    o->r = r;
    o->closed = false;
    o->users = 0;
    o->names = o->index = NULL;
    o->notifier = NULL;
    o->since = hmk_cycle(r);
    if (region_build_names(o) < 0) {
        Py_DECREF(o);
        return NULL;
    }
    return (PyObject *)o;
}

static void region_dealloc(RegionObject *o)
{
    if (o->r)
        region_free_handle(o);
    Py_XDECREF(o->names);
    Py_XDECREF(o->index);
    PyObject_Free(o);
}

static PyObject *region_close(RegionObject *o, PyObject *unused)
{
    (void)unused;
    o->closed = true;
    if (o->users == 0 && o->r)
        region_free_handle(o);
    Py_RETURN_NONE;
}

static PyObject *region_enter(RegionObject *o, PyObject *unused)
{
    (void)unused;
    if (hmkpy_region_usable(o) < 0)
        return NULL;
    Py_INCREF(o);
    return (PyObject *)o;
}

static PyObject *region_exit(RegionObject *o, PyObject *args)
{
    (void)args;
    return region_close(o, NULL);
}

static PyObject *region_repr(RegionObject *o)
{
    if (!o->r)
        return PyUnicode_FromFormat("<halmk.Region closed>");
    return PyUnicode_FromFormat("<halmk.Region '%s' %u pins>", hmk_region_name(o->r),
                                hmk_pin_count(o->r));
}

static PyObject *pininfo_new(const struct hmk_pin_info *info)
{
    PyObject *p = PyStructSequence_New(&hmkpy_PinInfoType);

    if (!p)
        return NULL;
    PyStructSequence_SET_ITEM(p, 0, PyUnicode_FromString(info->name));
    PyStructSequence_SET_ITEM(p, 1, PyUnicode_FromString(hmk_type_name(info->type)));
    PyStructSequence_SET_ITEM(p, 2, PyUnicode_FromString(hmk_dir_name(info->dir)));
    PyStructSequence_SET_ITEM(p, 3, PyLong_FromUnsignedLong(info->index));
    PyStructSequence_SET_ITEM(p, 4, PyBool_FromLong(info->slot));
    for (int i = 0; i < 5; i++)
        if (!PyStructSequence_GET_ITEM(p, i)) {
            Py_DECREF(p);
            return NULL;
        }
    return p;
}

static PyObject *region_pins(RegionObject *o, PyObject *unused)
{
    unsigned n;
    PyObject *list;
    (void)unused;

    if (hmkpy_region_usable(o) < 0)
        return NULL;
    n = hmk_pin_count(o->r);
    if (!(list = PyList_New(n)))
        return NULL;
    for (unsigned i = 0; i < n; i++) {
        struct hmk_pin_info info;
        PyObject *p;
        int ret = hmk_pin_info(o->r, i, &info);
        if (ret < 0 || !(p = pininfo_new(&info))) {
            Py_DECREF(list);
            return ret < 0 ? hmkpy_raise(ret, NULL) : NULL;
        }
        PyList_SET_ITEM(list, i, p);
    }
    return list;
}

static PyObject *region_pin(RegionObject *o, PyObject *key)
{
    struct hmk_pin_info info;
    if (hmkpy_pin_lookup(o, key, &info) < 0)
        return NULL;
    return pininfo_new(&info);
}

static PyObject *region_keys(RegionObject *o, PyObject *unused)
{
    (void)unused;
    if (hmkpy_region_usable(o) < 0)
        return NULL;
    return PySequence_List(o->names);
}

static PyObject *region_iter(RegionObject *o)
{
    if (hmkpy_region_usable(o) < 0)
        return NULL;
    return PyObject_GetIter(o->names);
}

static Py_ssize_t region_len(RegionObject *o)
{
    if (hmkpy_region_usable(o) < 0)
        return -1;
    return hmk_pin_count(o->r);
}

static int region_contains(RegionObject *o, PyObject *key)
{
    struct hmk_pin_info info;
    if (hmkpy_region_usable(o) < 0)
        return -1;
    if (hmkpy_pin_lookup(o, key, &info) >= 0)
        return 1;
    if (PyErr_ExceptionMatches(PyExc_KeyError) || PyErr_ExceptionMatches(PyExc_IndexError)) {
        PyErr_Clear();
        return 0;
    }
    return -1;
}

typedef int (*read_fn)(const hmk_region *, unsigned, hmk_value *);

static PyObject *region_read_with(RegionObject *o, PyObject *key, read_fn fn)
{
    struct hmk_pin_info info;
    hmk_value v;
    int idx = hmkpy_pin_lookup(o, key, &info), ret;

    if (idx < 0)
        return NULL;
    ret = fn(o->r, (unsigned)idx, &v);
    if (ret < 0)
        return hmkpy_raise(ret, info.name);
    return hmkpy_from_value(&v);
}

static PyObject *region_getitem(RegionObject *o, PyObject *key)
{
    return region_read_with(o, key, hmk_read);
}

static PyObject *region_read_in(RegionObject *o, PyObject *key)
{
    return region_read_with(o, key, hmk_read_in);
}

static PyObject *region_read_out(RegionObject *o, PyObject *key)
{
    return region_read_with(o, key, hmk_read_out);
}

static int region_setitem(RegionObject *o, PyObject *key, PyObject *val)
{
    struct hmk_pin_info info;
    hmk_value v;
    int idx, ret;

    if (!val) {
        PyErr_SetString(PyExc_TypeError, "pins cannot be deleted");
        return -1;
    }
    if ((idx = hmkpy_pin_lookup(o, key, &info)) < 0 ||
        hmkpy_to_value(info.type, val, info.name, &v) < 0)
        return -1;
    ret = hmk_write(o->r, (unsigned)idx, &v);
    if (ret < 0) {
        hmkpy_raise(ret, info.name);
        return -1;
    }
    return 0;
}

static PyObject *region_pulse(RegionObject *o, PyObject *args)
{
    struct hmk_pin_info info;
    PyObject *key, *val;
    hmk_value v;
    int idx, ret;

    if (!PyArg_ParseTuple(args, "OO:pulse", &key, &val))
        return NULL;
    if ((idx = hmkpy_pin_lookup(o, key, &info)) < 0 ||
        hmkpy_to_value(info.type, val, info.name, &v) < 0)
        return NULL;
    ret = hmk_pulse(o->r, (unsigned)idx, &v);
    if (ret < 0)
        return hmkpy_raise(ret, info.name);
    Py_RETURN_NONE;
}

static PyObject *region_snapshot(RegionObject *o, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"with_cycle", NULL};
    int with_cycle = 0, ret;
    unsigned n;
    hmk_value *vals;
    uint64_t cycle = 0;
    PyObject *d;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:snapshot", kwlist, &with_cycle) ||
        hmkpy_region_usable(o) < 0)
        return NULL;
    n = hmk_pin_count(o->r);
    if (!(vals = PyMem_Calloc(n ? n : 1, sizeof(*vals))))
        return PyErr_NoMemory();
    ret = hmk_snapshot(o->r, vals, n, &cycle);
    d = ret < 0 ? hmkpy_raise(ret, hmk_region_name(o->r)) : PyDict_New();
    for (unsigned i = 0; d && i < n; i++) {
        PyObject *v = hmkpy_from_value(&vals[i]);
        if (!v || PyDict_SetItem(d, PyTuple_GET_ITEM(o->names, i), v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    PyMem_Free(vals);
    if (d && with_cycle) {
        PyObject *t = Py_BuildValue("(KN)", (unsigned long long)cycle, d);
        return t;
    }
    return d;
}

/* pins argument of wait()/changed(): None = every pin HAL feeds. */
static unsigned *wait_pins(RegionObject *o, PyObject *pins, unsigned *n)
{
    unsigned *idx, cap = hmk_pin_count(o->r), k = 0;
    PyObject *seq = NULL;

    if (pins && pins != Py_None) {
        if (PyUnicode_Check(pins) || PyLong_Check(pins))
            seq = PyTuple_Pack(1, pins);
        else
            seq = PySequence_Fast(pins, "pins must be a list of pin names or indexes, or None");
        if (!seq)
            return NULL;
        cap = (unsigned)PySequence_Fast_GET_SIZE(seq);
    }
    if (!(idx = PyMem_Calloc(cap ? cap : 1, sizeof(*idx)))) {
        Py_XDECREF(seq);
        PyErr_NoMemory();
        return NULL;
    }
    for (unsigned i = 0; i < cap; i++) {
        struct hmk_pin_info info;
        int j;
        if (!seq) {
            if (hmk_pin_info(o->r, i, &info) == 0 && (info.dir & HMK_DIR_IN))
                idx[k++] = i;
            continue;
        }
        j = hmkpy_pin_lookup(o, PySequence_Fast_GET_ITEM(seq, i), &info);
        if (j >= 0 && !(info.dir & HMK_DIR_IN)) {
            PyErr_Format(PyExc_ValueError, "pin '%s' is an out pin: HAL does not change it",
                         info.name);
            j = -1;
        }
        if (j < 0) {
            Py_DECREF(seq);
            PyMem_Free(idx);
            return NULL;
        }
        idx[k++] = (unsigned)j;
    }
    Py_XDECREF(seq);
    *n = k;
    return idx;
}

static PyObject *changed_list(RegionObject *o, const unsigned *idx, const bool *changed, unsigned n)
{
    PyObject *list = PyList_New(0);

    for (unsigned i = 0; list && i < n; i++)
        if (changed[i] && PyList_Append(list, PyTuple_GET_ITEM(o->names, idx[i])) < 0)
            Py_CLEAR(list);
    return list;
}

/* wait (block, GIL released) or changed (timeout 0, no exception on none) */
static PyObject *region_wait_common(RegionObject *o, PyObject *pins, int ms, bool raise_timeout)
{
    unsigned n = 0, *idx;
    bool *changed;
    uint64_t since;
    int64_t end = hmkpy_now_ms() + ms;
    int ret;
    PyObject *res = NULL;

    if (hmkpy_region_usable(o) < 0 || !(idx = wait_pins(o, pins, &n)))
        return NULL;
    if (!(changed = PyMem_Calloc(n ? n : 1, sizeof(*changed)))) {
        PyMem_Free(idx);
        return PyErr_NoMemory();
    }
    if (o->notifier)
        hmkpy_notifier_drain(o->notifier); /* before looking: a later change re-arms it */
    since = o->since;
    o->users++;
    do {
        int left = ms < 0 ? -1 : (int)(end - hmkpy_now_ms());
        Py_BEGIN_ALLOW_THREADS
        ret = hmk_wait(o->r, idx, n, &since, ms >= 0 && left < 0 ? 0 : left, changed);
        Py_END_ALLOW_THREADS
    } while (ret == -EINTR && PyErr_CheckSignals() == 0);
    if (ret >= 0 && since > o->since)
        o->since = since;
    if (ret >= 0)
        res = changed_list(o, idx, changed, n);
    else if (ret == -ETIMEDOUT && !raise_timeout)
        res = PyList_New(0);
    else if (ret != -EINTR)
        hmkpy_raise(ret, hmk_region_name(o->r));
    hmkpy_region_release(o);
    PyMem_Free(changed);
    PyMem_Free(idx);
    return res;
}

static PyObject *region_wait(RegionObject *o, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"pins", "timeout", NULL};
    PyObject *pins = NULL, *timeout = NULL;
    int ms;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO:wait", kwlist, &pins, &timeout) ||
        hmkpy_timeout_ms(timeout, &ms) < 0)
        return NULL;
    return region_wait_common(o, pins, ms, true);
}

static PyObject *region_changed(RegionObject *o, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"pins", NULL};
    PyObject *pins = NULL;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:changed", kwlist, &pins))
        return NULL;
    return region_wait_common(o, pins, 0, false);
}

static PyObject *region_wait_any(RegionObject *o, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout = NULL;
    uint32_t seq;
    int ms, ret;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:wait_any", kwlist, &timeout) ||
        hmkpy_timeout_ms(timeout, &ms) < 0 || hmkpy_region_usable(o) < 0)
        return NULL;
    seq = hmk_change_seq(o->r);
    o->users++;
    int64_t end = hmkpy_now_ms() + ms;
    do {
        int left = ms < 0 ? -1 : (int)(end - hmkpy_now_ms());
        Py_BEGIN_ALLOW_THREADS
        ret = hmk_wait_change(o->r, &seq, ms >= 0 && left < 0 ? 0 : left);
        Py_END_ALLOW_THREADS
    } while (ret == -EINTR && PyErr_CheckSignals() == 0);
    if (ret < 0 && ret != -EINTR)
        hmkpy_raise(ret, hmk_region_name(o->r));
    hmkpy_region_release(o);
    if (ret < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *region_fileno(RegionObject *o, PyObject *unused)
{
    int ret;
    (void)unused;

    if (hmkpy_region_usable(o) < 0)
        return NULL;
    if (!o->notifier && (ret = hmkpy_notifier_start(o->r, &o->notifier)) < 0)
        return hmkpy_raise(ret, hmk_region_name(o->r));
    return PyLong_FromLong(hmkpy_notifier_fd(o->notifier));
}

static PyObject *region_stream(RegionObject *o, PyObject *unused)
{
    (void)unused;
    if (hmkpy_region_usable(o) < 0)
        return NULL;
    return hmkpy_stream_new(o);
}

#define STAT(field) {#field, (unsigned long long)st.field}
static PyObject *region_stats(RegionObject *o, PyObject *unused)
{
    struct hmk_stats st;
    int ret;
    PyObject *d;
    (void)unused;

    if (hmkpy_region_usable(o) < 0)
        return NULL;
    if ((ret = hmk_stats(o->r, &st)) < 0)
        return hmkpy_raise(ret, hmk_region_name(o->r));
    struct { const char *k; unsigned long long v; } f[] = {
        STAT(generation), STAT(cycle), STAT(bridge_time_ns), STAT(cycles), STAT(torn_retries),
        STAT(latch_misses), STAT(writer_recoveries), STAT(exec_ns_last), STAT(exec_ns_max),
        STAT(out_commits), STAT(layout_hash), STAT(pin_count),
    };
    if (!(d = PyDict_New()))
        return NULL;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(f[i].v);
        if (!v || PyDict_SetItemString(d, f[i].k, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

static PyObject *region_check(RegionObject *o, PyObject *unused)
{
    int ret;
    (void)unused;
    if (hmkpy_region_usable(o) < 0)
        return NULL;
    if ((ret = hmk_check(o->r)) < 0)
        return hmkpy_raise(ret, hmk_region_name(o->r));
    Py_RETURN_NONE;
}

static PyObject *region_get_connected(RegionObject *o, void *c)
{
    int ret;
    (void)c;
    if (hmkpy_region_usable(o) < 0)
        return NULL;
    if ((ret = hmkpy_connected(o->r)) < 0)
        return hmkpy_raise(ret, hmk_region_name(o->r));
    return PyBool_FromLong(ret);
}

static PyObject *region_get_name(RegionObject *o, void *c)
{
    (void)c;
    if (hmkpy_region_usable(o) < 0)
        return NULL;
    return PyUnicode_FromString(hmk_region_name(o->r));
}

static PyObject *region_get_cycle(RegionObject *o, void *c)
{
    (void)c;
    if (hmkpy_region_usable(o) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(hmk_cycle(o->r));
}

static PyObject *region_get_closed(RegionObject *o, void *c)
{
    (void)c;
    return PyBool_FromLong(o->closed);
}

static PyObject *region_get_stale(RegionObject *o, void *c)
{
    (void)c;
    if (hmkpy_region_usable(o) < 0)
        return NULL;
    return PyBool_FromLong(hmk_check(o->r) == -ESTALE);
}

PyObject *hmkpy_txn_new(RegionObject *o);
static PyObject *region_transaction(RegionObject *o, PyObject *unused)
{
    (void)unused;
    if (hmkpy_region_usable(o) < 0)
        return NULL;
    return hmkpy_txn_new(o);
}

#define KW (PyCFunction)(void (*)(void))
static PyMethodDef region_methods[] = {
    {"close", (PyCFunction)region_close, METH_NOARGS,
     "close($self)\n--\n\nDetach from the region (also on leaving a with block). Idempotent."},
    {"__enter__", (PyCFunction)region_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)region_exit, METH_VARARGS, NULL},
    {"pins", (PyCFunction)region_pins, METH_NOARGS,
     "pins($self)\n--\n\nAll pins as a list of PinInfo(name, type, dir, index, slot)."},
    {"pin", (PyCFunction)region_pin, METH_O,
     "pin($self, key, /)\n--\n\nPinInfo of one pin: key is a region name ('spindle.speed'), a HAL\n"
     "name ('microkernel.pin.1.out') or an index."},
    {"keys", (PyCFunction)region_keys, METH_NOARGS, "keys($self)\n--\n\nThe pins' region names."},
    {"read_in", (PyCFunction)region_read_in, METH_O,
     "read_in($self, key, /)\n--\n\nThe value HAL feeds in (PermissionDenied for out-only pins)."},
    {"read_out", (PyCFunction)region_read_out, METH_O,
     "read_out($self, key, /)\n--\n\nThe value last written towards HAL (PermissionDenied for in pins)."},
    {"pulse", (PyCFunction)region_pulse, METH_VARARGS,
     "pulse($self, key, value, /)\n--\n\nHAL's out pin takes value for exactly one servo cycle, then its\n"
     "normal value again. Queued (256), never merged; Error(EAGAIN) when full."},
    {"snapshot", KW region_snapshot, METH_VARARGS | METH_KEYWORDS,
     "snapshot($self, with_cycle=False)\n--\n\nAll pins' values from one bridge cycle as a dict\n"
     "{name: value} (in values; out-only pins give their out value). with_cycle=True\n"
     "returns (cycle, dict)."},
    {"transaction", (PyCFunction)region_transaction, METH_NOARGS,
     "transaction($self)\n--\n\nA Transaction: pins set on it reach HAL in the same servo cycle when\n"
     "it commits (on leaving its with block without an exception)."},
    {"wait", KW region_wait, METH_VARARGS | METH_KEYWORDS,
     "wait($self, pins=None, timeout=None)\n--\n\nBlock (in the kernel, GIL released) until HAL changes one\n"
     "of pins (names or indexes; None: every pin HAL feeds) after the last wait;\n"
     "return the list of the changed pins' names. timeout in seconds (None: for\n"
     "ever) raises Timeout (a TimeoutError); Stale if LinuxCNC unloaded the bridge."},
    {"changed", KW region_changed, METH_VARARGS | METH_KEYWORDS,
     "changed($self, pins=None)\n--\n\nLike wait() but never blocks: the pins changed since the last\n"
     "wait/changed, possibly []. Re-arms fileno(): call it when that fd is readable."},
    {"wait_any", KW region_wait_any, METH_VARARGS | METH_KEYWORDS,
     "wait_any($self, timeout=None)\n--\n\nBlock until the bridge publishes any change (an in value, or a\n"
     "writer's commit) after this call. Timeout, Stale as wait()."},
    {"fileno", (PyCFunction)region_fileno, METH_NOARGS,
     "fileno($self)\n--\n\nA descriptor that becomes readable when something changed, for select,\n"
     "selectors or asyncio's loop.add_reader; then call changed() (which also\n"
     "re-arms it). A helper thread blocks in the kernel for it: no polling."},
    {"stream", (PyCFunction)region_stream, METH_NOARGS,
     "stream($self)\n--\n\nA Stream: an iterator of every change of an in value, in order, from now\n"
     "on (Event(cycle, pin, value)); its .lost counts changes it missed, exactly."},
    {"stats", (PyCFunction)region_stats, METH_NOARGS,
     "stats($self)\n--\n\nThe region's counters as a dict (cycle, cycles, torn_retries, ...)."},
    {"check", (PyCFunction)region_check, METH_NOARGS,
     "check($self)\n--\n\nRaise Stale if the bridge detached the region."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef region_getset[] = {
    {"name", (getter)region_get_name, NULL, "The region's name.", NULL},
    {"connected", (getter)region_get_connected, NULL,
     "True while HAL and the daemon are connected (what microkernel.connected shows).", NULL},
    {"cycle", (getter)region_get_cycle, NULL, "The bridge's latest published cycle.", NULL},
    {"closed", (getter)region_get_closed, NULL, "True after close().", NULL},
    {"stale", (getter)region_get_stale, NULL, "True once the bridge detached the region.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMappingMethods region_mapping = {
    (lenfunc)region_len, (binaryfunc)region_getitem, (objobjargproc)region_setitem,
};
static PySequenceMethods region_sequence = {.sq_contains = (objobjproc)region_contains};

PyTypeObject hmkpy_RegionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "halmk.Region",
    .tp_basicsize = sizeof(RegionObject),
    .tp_dealloc = (destructor)region_dealloc,
    .tp_repr = (reprfunc)region_repr,
    .tp_as_mapping = &region_mapping,
    .tp_as_sequence = &region_sequence,
    .tp_iter = (getiterfunc)region_iter,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An open hal-microkernel region (from halmk.open()).\n\n"
              "r[key] reads a pin as halcmd getp shows it (bool, float or int); r[key] = v\n"
              "writes it (typed, range-checked). key is a region name, a HAL name or an\n"
              "index. len(r), 'name' in r and iteration over the names work as for a dict.",
    .tp_methods = region_methods,
    .tp_getset = region_getset,
};

int hmkpy_region_init_types(PyObject *m)
{
    if (PyStructSequence_InitType2(&hmkpy_PinInfoType, &pininfo_desc) < 0 ||
        PyStructSequence_InitType2(&hmkpy_EventType, &event_desc) < 0 ||
        PyType_Ready(&hmkpy_RegionType) < 0 || PyType_Ready(&hmkpy_TxnType) < 0 ||
        PyType_Ready(&hmkpy_StreamType) < 0)
        return -1;
    if (PyModule_AddObjectRef(m, "Region", (PyObject *)&hmkpy_RegionType) < 0 ||
        PyModule_AddObjectRef(m, "Transaction", (PyObject *)&hmkpy_TxnType) < 0 ||
        PyModule_AddObjectRef(m, "Stream", (PyObject *)&hmkpy_StreamType) < 0 ||
        PyModule_AddObjectRef(m, "PinInfo", (PyObject *)&hmkpy_PinInfoType) < 0 ||
        PyModule_AddObjectRef(m, "Event", (PyObject *)&hmkpy_EventType) < 0)
        return -1;
    return 0;
}
