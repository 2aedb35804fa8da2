"""The event-type table: our type ids and each type's parameters.

Derived from the driver's layouts (ppm_table.py), one type per event *name*
(open, openat, execve, ...), with the newest layout of that name:

  enter ('>', dir 0)  the driver's enter parameters;
  exit  ('<', dir 1)  the driver's exit parameters, then every enter parameter
                      the exit lacks, in enter order.  A live sensor emits one
                      event per syscall at exit with all arguments (DESIGN.md),
                      and newer captures lay exit events out the same way.

System calls the driver only reports through its generic "syscall" event
(madvise, ...) get a type of their own named after the syscall, as Falco's
evt.type shows them; their parameters are the generic event's (ID, nativeID).
Meta and tracepoint events (container, procexit, switch, signaldeliver, ...)
have an enter direction only.

Type ids are small ints in table order (ppm_table.EVENTS, then the generic
syscalls in code order), so they are stable while the tables only grow.

Row parameters live in Batch.arg_int (numeric storage) or Batch.arg_off/arg_len
(byte storage, in the arena) at the parameter's index in its (type, dir)
layout; `Param.storage` says which.  For numba: PARAM_INDEX[name_id, slot],
NPARAMS[slot], PARAM_STORAGE[slot, k] with slot = type_id * 2 + dir.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from . import ppm_table

ENTER, EXIT = 0, 1
MAX_PARAMS = 32                 # == batch.MAX_PARAMS (checked in tests)

# Driver types stored as bytes in the arena; every other type is a number.
BYTE_TYPES = frozenset({
    "charbuf", "bytebuf", "sockaddr", "socktuple", "fdlist", "fspath", "fsrelpath",
    "charbufarray", "charbuf_pair_array", "ipv4net", "ipv6addr", "ipv6net", "ipaddr", "ipnet",
})
# Width in bits and signedness of numeric types (how their number prints).
_NUM_SHAPE = {
    "int8": (8, True), "int16": (16, True), "int32": (32, True), "int64": (64, True),
    "uint8": (8, False), "uint16": (16, False), "uint32": (32, False), "uint64": (64, False),
    "errno": (64, True), "fd": (64, True), "pid": (64, True), "dyn": (64, True),
    "syscallid": (16, False), "sigtype": (8, False), "reltime": (64, False),
    "abstime": (64, False), "port": (16, False), "l4proto": (8, False),
    "sockfamily": (8, False), "bool": (32, False), "ipv4addr": (32, False),
    "flags8": (8, False), "flags16": (16, False), "flags32": (32, False),
    "enumflags8": (8, False), "enumflags16": (16, False), "enumflags32": (32, False),
    "uid": (32, False), "gid": (32, False), "mode": (32, False), "sigset": (32, False),
    "double": (64, False),
}
# Tables implied by a type when the driver names none.
_TYPE_TABLE = {"errno": "errno", "sigtype": "signals", "sigset": "sigset",
               "syscallid": "syscall_names"}


class Param(NamedTuple):
    name: str
    ptype: str                  # the driver's PT_* type in lower case
    table: Optional[str] = None  # flags.py table printing it, if any
    fmt: str = "dec"            # dec | hex | oct: how the number prints

    @property
    def storage(self) -> str:
        """"bytes" (arg_off/arg_len in the arena) or "num" (arg_int)."""
        return "bytes" if self.ptype in BYTE_TYPES else "num"

    @property
    def width(self) -> int:
        return _NUM_SHAPE.get(self.ptype, (64, True))[0]

    @property
    def signed(self) -> bool:
        return _NUM_SHAPE.get(self.ptype, (64, True))[1]


class EventType(NamedTuple):
    id: int
    name: str
    category: str               # the driver's category: file, net, io_read, process...
    source: str                 # syscall | tracepoint | meta | plugin
    enter: tuple
    exit: tuple
    ppm: tuple                  # driver codes of the newest layout (enter, exit); () generic
    syscall: Optional[int]      # PPM_SC code, for generic syscalls

    def params(self, dir: int) -> tuple:
        return self.exit if dir == EXIT else self.enter


def parse_params(spec: str) -> tuple:
    """'fd:fd flags:flags32/file_flags mode:uint32%o' -> (Param, ...)."""
    out = []
    for item in spec.split():
        name, _, rest = item.partition(":")
        rest, _, fmt = rest.partition("%")
        ptype, _, table = rest.partition("/")
        out.append(Param(name, ptype, table or _TYPE_TABLE.get(ptype),
                         {"x": "hex", "o": "oct", "": "dec"}[fmt]))
    return tuple(out)


def _spec(text: str) -> str:
    return ppm_table.SHARED[text[1:]] if text.startswith("@") else text


def _merge_exit(enter: tuple, exit: tuple) -> tuple:
    have = {p.name for p in exit}
    return exit + tuple(p for p in enter if p.name not in have)


_SOURCES = {"t": "tracepoint", "m": "meta", "p": "plugin"}
# Tracepoint codes among the syscall names: they are event types of their own.
_NOT_SYSCALLS = {"-", "unknown", "sched_process_exit", "sched_switch", "page_fault_user",
                 "page_fault_kernel", "signal_deliver"}


class PpmLayout(NamedTuple):
    """One driver code, as the scap reader needs it."""
    code: int
    type_id: int
    dir: int
    params: tuple               # this version's parameters, in file order
    old: bool                   # an old version (replay only)


def _build():
    rows = ppm_table.EVENTS
    newest: dict[str, tuple] = {}
    order: list[str] = []
    for row in rows:
        code, name, cat, marks, ent, ext = row
        if name not in newest:
            order.append(name)
        if "o" not in marks or name not in newest:
            newest[name] = row
    types: list[EventType] = []
    for name in order:
        code, _, cat, marks, ent, ext = newest[name]
        enter = parse_params(_spec(ent))
        exit_ = () if "x" in marks else _merge_exit(enter, parse_params(_spec(ext)))
        source = next((_SOURCES[m] for m in marks if m in _SOURCES), "syscall")
        types.append(EventType(len(types), name, cat, source, enter, exit_,
                               (code, code + 1), None))
    generic = types[0]
    assert generic.name == "syscall"
    for sc, name in enumerate(ppm_table.SYSCALL_NAMES):
        if name in _NOT_SYSCALLS or name in newest:
            continue
        types.append(EventType(len(types), name, "other", "syscall", generic.enter,
                               generic.exit, (), sc))
    by_name = {t.name: t for t in types}
    layouts = {}
    for code, name, cat, marks, ent, ext in rows:
        t = by_name[name]
        enter = parse_params(_spec(ent))
        exit_ = parse_params(_spec(ext))
        if newest[name][0] == code:      # the newest exit also carries the enter params
            exit_ = t.exit
        layouts[code] = PpmLayout(code, t.id, ENTER, enter, "o" in marks)
        if "x" not in marks:
            layouts[code + 1] = PpmLayout(code + 1, t.id, EXIT, exit_, "o" in marks)
    return types, by_name, layouts


TYPES, _BY_NAME, PPM_LAYOUTS = _build()
_SYSCALL_TYPE = {t.syscall: t.id for t in TYPES if t.syscall is not None}
_SC_CODE = {n: k for k, n in enumerate(ppm_table.SYSCALL_NAMES)}


# --- lookups ------------------------------------------------------------------

def type_id(name: str) -> Optional[int]:
    """Our id for an event type name (as in `evt.type = openat`), None if unknown."""
    t = _BY_NAME.get(name)
    return None if t is None else t.id


def type_name(tid: int) -> str:
    return TYPES[tid].name


def event_type(tid: int) -> EventType:
    return TYPES[tid]


def all_type_ids() -> frozenset:
    return frozenset(range(len(TYPES)))


def params(tid: int, dir: int) -> list:
    """The ordered parameters of (type, dir); a Param's position is its index in arg_*."""
    return list(TYPES[tid].params(dir))


def ppm_layout(code: int) -> Optional[PpmLayout]:
    """The driver code's type, direction and parameters (for the scap reader).

    For the newest version of an event the exit layout is ours (driver exit
    params + appended enter params); older captures stop after the driver's own
    exit params -- read as many as the event header's nparams says."""
    return PPM_LAYOUTS.get(code)


def ppm_param_map(code: int) -> tuple:
    """For each parameter of a driver code's layout, its index in our (type, dir)
    layout (-1: we do not keep it).  The scap reader writes parameter j of an
    event with that code to arg_*[map[j]]; old versions map by name."""
    lay = PPM_LAYOUTS[code]
    return tuple(param_index(lay.type_id, lay.dir, p.name) for p in lay.params)


def type_for_syscall(sc_code: int) -> int:
    """Type of a generic event whose ID parameter is `sc_code` (PPM_SC_*)."""
    tid = _SYSCALL_TYPE.get(sc_code)
    if tid is not None:
        return tid
    name = ppm_table.SYSCALL_NAMES[sc_code] if 0 <= sc_code < len(ppm_table.SYSCALL_NAMES) else ""
    t = _BY_NAME.get(name)
    return t.id if t is not None else TYPES[0].id


def syscall_code(name: str) -> Optional[int]:
    """The driver's PPM_SC code for a system call name."""
    return _SC_CODE.get(name)


# --- parameter names ------------------------------------------------------------

# Every parameter name of every layout, old ones included (rules written for
# older captures may name them: they are then absent from today's rows).
PARAM_NAMES: tuple = tuple(sorted({p.name for lay in PPM_LAYOUTS.values() for p in lay.params}
                                  | {p.name for t in TYPES for d in (ENTER, EXIT)
                                     for p in t.params(d)}))
_PARAM_ID = {n: k for k, n in enumerate(PARAM_NAMES)}


def param_name_id(name: str) -> Optional[int]:
    """A global id per distinct parameter name (row of PARAM_INDEX)."""
    return _PARAM_ID.get(name)


def param_index(tid: int, dir: int, name: str) -> int:
    """Index of the parameter `name` in (type, dir), -1 if it has none."""
    for k, p in enumerate(params(tid, dir)):
        if p.name == name:
            return k
    return -1


def find_param(tid: int, dir: int, name: str) -> Optional[Param]:
    k = param_index(tid, dir, name)
    return None if k < 0 else params(tid, dir)[k]


STORE_NUM, STORE_BYTES, STORE_NAME = 0, 1, 2


def _arrays():
    nslots = len(TYPES) * 2
    index = np.full((len(PARAM_NAMES), nslots), -1, np.int8)
    nparams = np.zeros(nslots, np.int8)
    storage = np.zeros((nslots, MAX_PARAMS), np.uint8)
    has_res = np.zeros(len(TYPES), np.uint8)
    for t in TYPES:
        for d in (ENTER, EXIT):
            slot = t.id * 2 + d
            ps = t.params(d)
            assert len(ps) <= MAX_PARAMS, t.name
            nparams[slot] = len(ps)
            for k, p in enumerate(ps):
                if index[_PARAM_ID[p.name], slot] < 0:
                    index[_PARAM_ID[p.name], slot] = k
                storage[slot, k] = (STORE_BYTES if p.storage == "bytes" else
                                    STORE_NAME if p.ptype in ("uid", "gid") else STORE_NUM)
        # evt.res exists when the exit's first parameter is the return value.
        has_res[t.id] = bool(t.exit) and t.exit[0].ptype in ("errno", "fd", "pid")
    for a in (index, nparams, storage, has_res):
        a.flags.writeable = False
    return index, nparams, storage, has_res


# Numba reads these as frozen constants.
#   PARAM_INDEX[name_id, type*2+dir]  parameter index, -1 if absent
#   NPARAMS[type*2+dir]               number of parameters
#   PARAM_STORAGE[type*2+dir, k]      STORE_NUM (arg_int), STORE_BYTES (arg_off/arg_len),
#                                     STORE_NAME (arg_int; arg_off/arg_len may hold the
#                                     name the state engine resolved: uid, gid)
#   HAS_RES[type]                     1 if exit events carry a return value (evt.res)
PARAM_INDEX, NPARAMS, PARAM_STORAGE, HAS_RES = _arrays()


def pack_names(names):
    """Names packed 8-byte aligned and zero padded (as the arenas are), for numba:
    (blob, offsets, lengths); a None name gets length -1 (absent)."""
    blob, offs, lens = bytearray(), [], []
    for n in names:
        b = b"" if n is None else n.encode()
        offs.append(len(blob))
        lens.append(-1 if n is None else len(b))
        blob += b + b"\0" * (-len(b) % 8 or 8)
    out = (np.frombuffer(bytes(blob), np.uint8).copy(), np.array(offs, np.int64),
           np.array(lens, np.int64))
    for a in out:
        a.flags.writeable = False
    return out


# evt.type text for numba: TYPE_NAMES[TYPE_NAME_OFF[t] : + TYPE_NAME_LEN[t]].
TYPE_NAMES, TYPE_NAME_OFF, TYPE_NAME_LEN = pack_names([t.name for t in TYPES])


def type_ids_matching(pred) -> frozenset:
    """Ids of the types whose name satisfies `pred` (for evt.type operators other than =/in)."""
    return frozenset(t.id for t in TYPES if pred(t.name))
