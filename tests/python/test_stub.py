"""python/halmk.pyi and the halmk module describe the same API: every public
name of the module and of each of its classes is in the stub and the other
way round, properties are properties and methods methods on both sides, and
each method's parameters (names, order, defaults) match the signature the
module's docstrings declare. A name added to or removed from the C code
without the stub fails here. No HAL needed.

HMK_STUB names the stub to check (default: the source tree's); package.sh
points it at the installed copy."""
import ast
import inspect
import os
import subprocess
import sys

import pytest

import halmk

STUB = os.environ.get("HMK_STUB") or os.path.join(
    os.path.dirname(__file__), "..", "..", "python", "halmk.pyi")

# slots a C type may fill that a user calls as syntax; the stub must list
# exactly the ones each class has. (__delitem__ is left out: CPython gives it
# to every type with a mapping assignment slot, and del r[pin] only raises.)
DUNDERS = {"__init__", "__enter__", "__exit__", "__len__", "__getitem__", "__setitem__",
           "__contains__", "__iter__", "__next__"}


def public(name):
    return not name.startswith("_") or name in ("__version__",)


def stub_tree():
    with open(STUB, encoding="utf-8") as f:
        return ast.parse(f.read(), STUB)


def stub_module():
    """{name: node} of the stub's public top-level names."""
    out = {}
    for node in stub_tree().body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                out[t.id] = node
    return {k: v for k, v in out.items() if public(k)}


def stub_members(cls_node):
    """{name: 'property' | 'method' | 'field'} of a stub class."""
    out = {}
    for node in cls_node.body:
        if isinstance(node, ast.FunctionDef):
            decos = {d.id if isinstance(d, ast.Name) else getattr(d, "attr", "") for d in node.decorator_list}
            if "property" in decos or "setter" in decos:
                out[node.name] = "property"
            elif node.name not in out:  # overloads: one method
                out[node.name] = "method"
        elif isinstance(node, ast.AnnAssign):
            out[node.target.id] = "field"
    return {k: v for k, v in out.items() if public(k) or k in DUNDERS}


def runtime_members(cls):
    """{name: kind} of what the C type itself defines (not inherited)."""
    out = {}
    if issubclass(cls, tuple) and hasattr(cls, "n_fields"):  # a structseq
        return {f: "field" for f in cls.__match_args__}
    for name, obj in vars(cls).items():
        if not (public(name) or name in DUNDERS):
            continue
        kind = "property" if inspect.isdatadescriptor(obj) else "method"
        out[name] = kind
    return out


def is_exception(cls):
    return isinstance(cls, type) and issubclass(cls, BaseException)


def test_stub_parses_and_module_names_match():
    stub = set(stub_module())
    mod = {n for n in dir(halmk) if public(n)}
    assert stub - mod == set(), "in halmk.pyi but not in the module"
    assert mod - stub == set(), "in the module but not in halmk.pyi"


@pytest.mark.parametrize("name", sorted(n for n in dir(halmk) if isinstance(getattr(halmk, n), type)))
def test_class_members_match(name):
    node = stub_module()[name]
    assert isinstance(node, ast.ClassDef), "%s is a class in the module, not in the stub" % name
    cls = getattr(halmk, name)
    if is_exception(cls):
        bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
        assert bases == {b.__name__ for b in cls.__bases__}, "%s's bases differ" % name
        return
    stub, rt = stub_members(node), runtime_members(cls)
    if set(rt.values()) == {"field"}:  # a structseq: its fields are properties in the stub
        rt = {f: "property" for f in rt}
    assert set(stub) - set(rt) == set(), "halmk.%s: in the stub only" % name
    assert set(rt) - set(stub) == set(), "halmk.%s: in the module only" % name
    for m, kind in rt.items():
        assert stub[m] == kind, "halmk.%s.%s is a %s in the module, a %s in the stub" % (name, m, kind, stub[m])


def stub_params(fn):
    """[(name, default or None-marker)] of a stub function, self left out."""
    a = fn.args
    plain = a.posonlyargs + a.args
    defaults = [None] * (len(plain) - len(a.defaults)) + list(a.defaults)
    params = [(p.arg, d) for p, d in zip(plain, defaults)]
    params += [(p.arg, d) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    return [(n, d) for n, d in params if n != "self"]


NO_DEFAULT = object()


def check_signature(where, fn_node, obj):
    try:
        sig = inspect.signature(obj)
    except (ValueError, TypeError):
        return 0  # no text signature (slots such as __enter__): names only
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in sig.parameters.values()):
        return 0  # a slot wrapper's generic (*args, **kwargs)
    rt = [(p.name, p.default) for p in sig.parameters.values() if p.name not in ("self", "$self")]
    st = stub_params(fn_node)
    assert [n for n, _ in st] == [n for n, _ in rt], "%s: parameters differ" % where
    for (n, sd), (_, rd) in zip(st, rt):
        if rd is inspect.Parameter.empty:
            assert sd is None, "%s: %s has a default only in the stub" % (where, n)
        else:
            assert sd is not None, "%s: %s has a default only in the module" % (where, n)
            assert ast.literal_eval(sd) == rd, "%s: %s's default differs" % (where, n)
    return 1


def test_signatures_match():
    checked = 0
    mod = stub_module()
    for name, node in mod.items():
        obj = getattr(halmk, name)
        if isinstance(node, ast.FunctionDef):
            checked += check_signature("halmk.%s" % name, node, obj)
        elif isinstance(node, ast.ClassDef) and not is_exception(obj):
            for m in node.body:
                if isinstance(m, ast.FunctionDef) and not m.decorator_list and m.name in vars(obj):
                    checked += check_signature("halmk.%s.%s" % (name, m.name), m, getattr(obj, m.name))
    assert checked >= 25, "only %d signatures compared: text signatures lost?" % checked


def test_service_init_matches_doc():
    """Service's keywords are in its class docstring (tp_init has no text
    signature): the stub's __init__ lists the same, in order."""
    node = next(m for m in stub_module()["Service"].body
                if isinstance(m, ast.FunctionDef) and m.name == "__init__")
    doc = halmk.Service.__doc__.split("\n\n")[0].replace("\n", " ")
    sig = inspect.signature(eval("lambda " + doc[doc.index("(") + 1:doc.rindex(")")] + ": 0",
                                 {"__builtins__": {}}))
    rt = [(p.name, p.default) for p in sig.parameters.values()]
    st = stub_params(node)
    assert [n for n, _ in st] == [n for n, _ in rt]
    assert [d is None for _, d in st] == [d is inspect.Parameter.empty for _, d in rt]


def test_mypy_stubtest(tmp_path):
    """mypy's own stub checker (python3-mypy) agrees: types of module
    attributes, @final where the type cannot be subclassed, positional-only
    parameters, everything the names-only checks above do not see."""
    pytest.importorskip("mypy.stubtest")
    if not os.environ.get("HMK_STUBTEST"):
        pytest.skip("mypy takes a minute: ctest runs this as python_stubtest (HMK_STUBTEST=1)")
    if os.environ.get("HMK_SANITIZED"):
        pytest.skip("mypy under ASan's LD_PRELOAD: the checks above still ran")
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    with open(STUB, encoding="utf-8") as f:
        (stubs / "halmk.pyi").write_text(f.read(), encoding="utf-8")
    env = dict(os.environ, MYPYPATH=str(stubs))
    # the halmk the tests import, wherever that is (build tree or installed)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(halmk.__file__)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    # mypy's cache of typeshed, kept between runs when HMK_MYPY_CACHE names a place
    cfg = tmp_path / "mypy.ini"
    cfg.write_text("[mypy]\ncache_dir = %s\n" % (os.environ.get("HMK_MYPY_CACHE") or tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "--mypy-config-file", str(cfg), "halmk"],
                       cwd=tmp_path, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-4000:]
