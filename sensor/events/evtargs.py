"""Event parameters as fields: evt.arg.NAME, evt.arg[N], evt.rawarg.NAME.

Falco's evt.arg.NAME is the parameter's *text*: names for flags
("O_RDONLY|O_CREAT"), errno names for errors, the user name for a uid, the
bytes of a path.  evt.rawarg.NAME is the raw value.

The argument resolves to one int (`resolve_param`): a parameter-name id
(evttypes.param_name_id, >= 0) for evt.arg.NAME, or -(N + 1) for evt.arg[N].
Which parameter that is depends on the row's (type, dir).

How a caller compiles `evt.arg.X <op> <literal>` -- `evt_arg_plan(X, types)`
groups the rule's event types by how parameter X is stored and printed, and
for each group (an ArgPlan) the caller emits `(type, dir) in plan.slots and
<test>`, OR-ed over the groups:

  storage "bytes"  paths, buffers, strings: string operators on the evt.arg
                   accessor (`fields_evt` "evt.arg": get_arg_str).
  storage "name"   uid/gid: the name the state engine resolved, stored in the
                   parameter's arg_off/arg_len next to the number in arg_int
                   ("<NA>" when unknown, "<NONE>" for -1, as Falco prints):
                   string operators on the same evt.arg accessor.
  storage "num"    numbers, flags, enums, errno: read the raw value with the
                   evt.rawarg accessor (get_arg_num) and test it with
                   `plan.render.test(op, literal)` -> flagtest.NumTest (a bit
                   or set test equivalent to comparing the printed text), or
                   None: that operator cannot be compiled (reject the rule).

The reference evaluator compares `evt_arg_text(...)` (the exact printed text)
instead; both agree by construction (tests check it).

Deliberate differences from Falco: an fd or pid parameter prints as its number
(Falco prints "<f>/path" or the process name when it knows them), and byte
buffers are compared as raw bytes (Falco replaces non-printable bytes by '.').
Their text is Falco's: bytebuf with '.' for non-printable bytes, and
sockaddr/socktuple/fdlist (stored binary) rendered by sensor/events/params.py.
"""
from __future__ import annotations

from typing import Iterable, NamedTuple, Optional

import numpy as np
from numba import njit
from numba.extending import register_jitable

from . import evttypes as ET
from .flags import table as flag_table
from .flagtest import Raw, Render
from . import params as _params

PARAM_INDEX, NPARAMS, PARAM_STORAGE = ET.PARAM_INDEX, ET.NPARAMS, ET.PARAM_STORAGE
STORE_NUM, STORE_BYTES = ET.STORE_NUM, ET.STORE_BYTES


# --- resolving the argument -------------------------------------------------------

def resolve_param(field_name: str):
    """Resolver for evt.arg / evt.rawarg: NAME -> name id, N -> -(N + 1)."""
    def resolve(text: str):
        t = text.strip()
        if t.isdigit():
            n = int(t)
            if n >= ET.MAX_PARAMS:
                raise ValueError(f"{field_name}[{t}]: events have at most "
                                 f"{ET.MAX_PARAMS} parameters")
            return -(n + 1), b""
        nid = ET.param_name_id(t)
        if nid is None:
            raise ValueError(f"no event has a parameter named '{t}' ({field_name}.{t})")
        return nid, b""
    return resolve


# --- numba accessors ---------------------------------------------------------------

# Helpers take ints and arrays, never the B tuple (see fields_proc.py).

@register_jitable
def param_k(etype, edir, mask, arg):
    """(slot, k): the row's parameter index for `arg`, k = -1 if it has none."""
    slot = np.int64(etype) * 2 + np.int64(edir)
    if arg >= 0:
        k = np.int64(PARAM_INDEX[arg, slot])
    else:
        k = -arg - 1
        if k >= NPARAMS[slot]:
            k = np.int64(-1)
    if k >= 0 and (np.int64(mask) >> k) & 1 == 0:
        k = np.int64(-1)
    return slot, k


@register_jitable
def arg_num(slot, k, arg_int, i):
    if k < 0 or PARAM_STORAGE[slot, k] == STORE_BYTES:
        return np.int64(0), False
    return np.int64(arg_int[k, i]), True


@register_jitable
def arg_span(slot, k, arg_off, arg_len, i):
    """Span in the arena of evt.arg's bytes: a byte parameter, or the name the
    state engine wrote for a uid/gid parameter; absent for other numbers."""
    if k < 0 or PARAM_STORAGE[slot, k] == STORE_NUM:
        return np.int64(0), np.int64(-1)
    return np.int64(arg_off[k, i]), np.int64(arg_len[k, i])


@njit(inline="always")
def get_arg_num(B, P, C, i, arg, key):
    """evt.rawarg: the raw value of a numeric parameter (absent for byte ones)."""
    slot, k = param_k(B.type[i], B.dir[i], B.arg_mask[i], arg)
    return arg_num(slot, k, B.arg_int, i)


@njit(inline="always")
def get_arg_str(B, P, C, i, arg, key):
    """evt.arg as bytes: byte parameters, and uid/gid parameters by name."""
    slot, k = param_k(B.type[i], B.dir[i], B.arg_mask[i], arg)
    off, ln = arg_span(slot, k, B.arg_off, B.arg_len, i)
    return B.arena, off, ln


# --- how a parameter prints -----------------------------------------------------------

_KIND_OF_TYPE = {"flags8": "bits", "flags16": "bits", "flags32": "bits", "sigset": "bits",
                 "enumflags8": "enum", "enumflags16": "enum", "enumflags32": "enum",
                 "errno": "enum", "sigtype": "enum", "syscallid": "enum", "mode": "mode"}
_NAME_TYPES = ("uid", "gid")


def param_render(p: ET.Param) -> Render:
    """How a numeric parameter prints in evt.arg (names, else the number)."""
    kind = _KIND_OF_TYPE.get(p.ptype)
    table = flag_table(p.table) if (p.table and kind) else None
    if p.ptype == "sigset":
        return Render(table, kind, raw=None)
    if kind in ("bits", "enum") and p.ptype not in ("errno", "sigtype", "syscallid"):
        raw = Raw("dec", 32, False)          # flags print as %u when no name applies
    else:
        raw = Raw(p.fmt, p.width, p.signed)
    return Render(table, kind, raw=raw)


def storage_of(p: ET.Param) -> str:
    if p.storage == "bytes":
        return "bytes"
    return "name" if p.ptype in _NAME_TYPES else "num"


# --- plans for the compiler -------------------------------------------------------------

class ArgPlan(NamedTuple):
    storage: str                 # "bytes" | "name" | "num"
    slots: frozenset             # {(type_id, dir)} where the parameter has this shape
    index: dict                  # (type_id, dir) -> parameter index k
    param: ET.Param              # a representative parameter
    render: Optional[Render]     # for "num": turns (op, literal) into a NumTest
    field: str                   # accessor to read it with: "evt.arg" or "evt.rawarg"


def evt_arg_plan(arg_text: str, type_ids: Optional[Iterable[int]] = None,
                 dirs=(ET.ENTER, ET.EXIT)) -> list[ArgPlan]:
    """How to evaluate evt.arg.<arg_text> (or evt.arg[N]) on the given event types
    (None: all).  One ArgPlan per distinct (storage, type, table, format); an
    empty list means no such parameter in those types (the field is always absent)."""
    arg, _ = resolve_param("evt.arg")(arg_text)
    groups: dict = {}
    for tid in (ET.all_type_ids() if type_ids is None else type_ids):
        for d in dirs:
            ps = ET.params(tid, d)
            if arg >= 0:
                k = ET.param_index(tid, d, ET.PARAM_NAMES[arg])
            else:
                k = -arg - 1 if -arg - 1 < len(ps) else -1
            if k < 0:
                continue
            p = ps[k]
            shape = (storage_of(p), p.ptype, p.table, p.fmt)
            groups.setdefault(shape, (p, {}))[1][(tid, d)] = k
    plans = []
    for (storage, *_), (p, index) in sorted(groups.items(), key=lambda g: str(g[0])):
        plans.append(ArgPlan(storage, frozenset(index), index, p,
                             param_render(p) if storage == "num" else None,
                             "evt.rawarg" if storage == "num" else "evt.arg"))
    return plans


# --- the text, for outputs and the reference evaluator -------------------------------------

_DOTTED_TYPES = frozenset({"bytebuf", "charbufarray"})


def row_param(B, i: int, arg: int):
    """(Param, k) of the row's parameter for `arg`, or (None, -1)."""
    slot, k = param_k(B.type[i], B.dir[i], B.arg_mask[i], np.int64(arg))
    if k < 0:
        return None, -1
    tid, d = divmod(int(slot), 2)
    return ET.params(tid, d)[int(k)], int(k)


def param_text(B, i: int, p: ET.Param, k: int) -> Optional[str]:
    if p.storage == "bytes":
        off, ln = int(B.arg_off[k, i]), int(B.arg_len[k, i])
        raw = bytes(B.arena[off:off + max(ln, 0)])
        if p.ptype in _params.BINARY_TYPES:  # stored as the driver wrote them
            return _params.render(p.ptype, raw)
        if p.ptype in _DOTTED_TYPES:        # Falco: non-printable bytes as '.'
            return _params.printable(raw)
        return raw.decode("utf-8", "replace")
    if p.ptype in _NAME_TYPES:          # the name the state engine resolved
        off, ln = int(B.arg_off[k, i]), int(B.arg_len[k, i])
        return bytes(B.arena[off:off + ln]).decode("utf-8", "replace") if ln >= 0 else None
    return param_render(p).text(int(B.arg_int[k, i]))


def evt_arg_text(B, P, C, i, arg, key) -> Optional[str]:
    """evt.arg.NAME as Falco prints it; None if the row has no such parameter."""
    p, k = row_param(B, i, arg)
    return None if p is None else param_text(B, i, p, k)


def evt_rawarg_text(B, P, C, i, arg, key) -> Optional[str]:
    p, k = row_param(B, i, arg)
    if p is None:
        return None
    if p.storage == "bytes":
        return param_text(B, i, p, k)
    return str(int(B.arg_int[k, i]))


def evt_args_text(B, P, C, i, arg, key) -> str:
    """evt.args: every present parameter as name=text, space separated."""
    tid, d = int(B.type[i]), int(B.dir[i])
    out = []
    for k, p in enumerate(ET.params(tid, d)):
        if (int(B.arg_mask[i]) >> k) & 1:
            out.append(f"{p.name}={param_text(B, i, p, k)}")
    return " ".join(out)
