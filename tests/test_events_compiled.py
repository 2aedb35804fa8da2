"""Every accessor, compiled, reads the same values as its .py_func (the reference
evaluator's path) on a built batch.

Compiling a function that takes the B/P/C tuples costs a second or two, so all
probes (field, argument) run in a few generated kernels rather than one each.
Their source is written to a file named by the hash of the source and of
sensor/events/*.py and compiled with cache=True: the first run compiles
(~30 s), later runs load the cache.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import sensor.events
from sensor.events import fields as F
from sensor.events.builder import sample_batch
from sensor.events.fields import Arg, Kind

WIDTH = 256          # bytes of each string value kept for comparison

# Extra arguments to probe, beyond each field's argument-less form.
EXTRA_ARGS = {
    "proc.aname": ["0", "1", "2", "3", "9"], "proc.apid": ["2"], "proc.aexe": ["1"],
    "proc.aexepath": ["2"], "proc.acmdline": ["1"], "proc.env": ["HOME", "PATH", "NOPE"],
    "evt.arg": ["flags", "name", "fd", "uid", "request", "domain", "mode", "data", "cmd",
                "res", "0", "1", "5", "31"],
    "evt.rawarg": ["flags", "res", "uid", "name", "0"],
    "container.mount.dest": ["/var/run/*", "1", "/nomatch", "9"],
    "container.mount.source": ["/srv/*", "0"],
    "fd.types": ["0", "3"],
    # any_index fields: the arguments a kernel iterates over (ints: no user syntax)
    "fd.ip": [1], "fd.port": [1], "fd.net": [1],
    "k8s.pod.label": ["app"],
}


def probes():
    out = []
    for f in F.all_fields():
        if f.get is None:
            continue
        if f.arg not in (Arg.INDEX, Arg.KEY, Arg.NAME):
            out.append((f, None))
        out += [(f, a) for a in EXTRA_ARGS.get(f.name, [])]
    return out


PROBES = probes()
CHUNK = 45           # probes per kernel: LLVM slows down on one huge function

KEEP_SOURCE = f"""
@register_jitable
def keep(sbuf, slen, p, i, b, of, n):
    # Copy a STR value (its first {WIDTH} bytes) into the output.
    slen[p, i] = n
    for j in range(min(n, {WIDTH})):
        sbuf[p, i, j] = b[of + j]
"""


def _source(resolved) -> str:
    lines = ["import numpy as np", "from numba import njit",
             "from numba.extending import register_jitable",
             "from sensor.events import fields as _registry", KEEP_SOURCE,
             "_FIELDS = _registry.all_fields()"]
    index = {id(f): k for k, f in enumerate(F.all_fields())}
    kernels = []
    for start in range(0, len(resolved), CHUNK):
        body = _kernel_body(resolved, range(start, min(start + CHUNK, len(resolved))),
                            index, lines)
        kernels.append(f"kernel{start // CHUNK}")
        lines.append(f"\n\n@njit(cache=True)\ndef {kernels[-1]}(B, P, C, num, ok, hi, lo, "
                     f"slen, sbuf):\n    for i in range(B.n[0]):\n" + "\n".join(body))
    lines.append(f"\n\nKERNELS = [{', '.join(kernels)}]")
    return "\n".join(lines) + "\n"


def _kernel_body(resolved, probe_range, index, lines):
    body = []
    for p in probe_range:
        f, arg, key = resolved[p]
        lines.append(f"G{p} = _FIELDS[{index[id(f)]}].get")
        lines.append(f"K{p} = np.array({list(key)!r}, dtype=np.uint8)")
        call = f"G{p}(B, P, C, i, np.int64({arg}), K{p})"
        if f.kind == Kind.NUM:
            body.append(f"        v, o = {call}\n        num[{p}, i] = v\n        ok[{p}, i] = o")
        elif f.kind == Kind.IP:
            body.append(f"        h, l, o = {call}\n        hi[{p}, i] = h\n        lo[{p}, i] = l"
                        f"\n        ok[{p}, i] = o")
        else:
            body.append(f"        b, of, n = {call}\n        keep(sbuf, slen, {p}, i, b, of, n)")
    return body


def _load_kernel(src: str):
    h = hashlib.sha256(src.encode())
    for path in sorted(Path(sensor.events.__file__).parent.glob("*.py")):
        h.update(path.read_bytes())
    name = f"events_probe_{h.hexdigest()[:16]}"
    folder = Path(__file__).parent / "__pycache__" / "events_kernels"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    if not path.exists():
        for old in folder.glob("events_probe_*.py"):       # stale: sources changed
            old.unlink()
        path.write_text(src)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod           # numba's cache needs the module importable by name
    spec.loader.exec_module(mod)
    return mod.KERNELS


@pytest.fixture(scope="module")
def compiled():
    """Run every distinct (accessor, arg, key) once; map each probe to its result."""
    B, P, C = sample_batch()
    resolved, where = [], []
    seen = {}
    for f, a in PROBES:
        if a is None or isinstance(a, int):
            arg, key = a or 0, b""
        else:
            arg, key = f.resolve_arg(a)
        ident = (id(f.get), arg, key)
        if ident not in seen:
            seen[ident] = len(resolved)
            resolved.append((f, arg, key))
        where.append((f, arg, key, seen[ident]))
    kernels = _load_kernel(_source(resolved))
    n, m = len(resolved), int(B.n[0])
    out = dict(num=np.zeros((n, m), np.int64), ok=np.zeros((n, m), np.bool_),
               hi=np.zeros((n, m), np.uint64), lo=np.zeros((n, m), np.uint64),
               slen=np.zeros((n, m), np.int64), sbuf=np.zeros((n, m, WIDTH), np.uint8))
    for kernel in kernels:
        kernel(B, P, C, **out)
    return B, P, C, where, out


def _compiled_value(f, out, p, i):
    if f.kind == Kind.NUM:
        return int(out["num"][p, i]) if out["ok"][p, i] else None
    if f.kind == Kind.IP:
        if not out["ok"][p, i]:
            return None
        return F.ip_object(int(out["hi"][p, i]), int(out["lo"][p, i]))
    n = int(out["slen"][p, i])
    return None if n < 0 else bytes(out["sbuf"][p, i, :min(n, WIDTH)])


@pytest.mark.parametrize("p", range(len(PROBES)),
                         ids=[f.name + (f"[{a}]" if a is not None else "") for f, a in PROBES])
def test_compiled_equals_py_func(compiled, p):
    B, P, C, where, out = compiled
    f, arg, key, q = where[p]
    for i in range(int(B.n[0])):
        want = F.read(f, B, P, C, i, arg, key)
        got = _compiled_value(f, out, q, i)
        if f.kind == Kind.NUM and want is not None and f.type in F._UNSIGNED:
            got &= 2**64 - 1
        if isinstance(want, bytes):
            want = want[:WIDTH]
        assert got == want, (f.name, i)


def test_every_readable_field_is_probed():
    probed = {f.name for f, _ in PROBES}
    assert probed == {f.name for f in F.all_fields() if f.get is not None}
