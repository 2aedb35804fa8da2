"""The field registry: every field a condition or an output may name.

A field is declared once, in the table of its class module (fields_evt.py,
fields_proc.py, fields_thread.py, fields_user.py, fields_fd.py,
fields_container.py, ...), and registered here.  Listings (`sensor fields`),
validation (the loader), the reference evaluator and the code generator all
read the same `Field` objects.

How a field is read: `Field.get` is a numba `@njit(inline="always")` function
with the fixed signature

    get(B, P, C, i, arg, key) -> value

  B, P, C   the Batch, Procs and Containers namedtuples (sensor/events/batch.py)
  i         the row
  arg       int64: the resolved argument (an index such as aname[2] -> 2, or for
            evt.arg.NAME the parameter-name id); 0 when the field takes none
  key       uint8[:]: a string argument (proc.env[HOME] -> b"HOME"), else empty

and returns, by the field's `kind`:

  NUM   (value: int64, present: bool)           integers, booleans (0/1), times,
                                                 ports; u64 values as their bit pattern
  STR   (buf: uint8[:], off: int64, len: int64)  a view of `len` bytes of `buf`
                                                 from `off`; len < 0: absent
  IP    (hi: uint64, lo: uint64, present: bool)  a 128-bit address, IPv4 mapped

The generated kernel calls `get` compiled; the reference evaluator calls
`get.py_func` -- the same source, interpreted -- so both read a batch the same
way, and differ only in how they apply operators (which is what they check
against each other).  Absent values make every comparison false, as in Falco.
A STR `buf` may be a batch arena or a constant table (e.g. evt.type names):
both are uint8 arrays.

`resolve_arg(text)` turns the bracket text of a field (or the NAME of
evt.arg.NAME) into (arg, key) at load time, or raises ValueError with a
message for the user.  Callers pass arg=0, key=b"" when no argument is given.

Beyond `get`, a Field may carry:

  any_index   (lo, hi): without an argument the field stands for "any of
              arg = lo..hi" in a condition -- proc.aname=bash matches any
              ancestor (arg 1, 2, ...), fd.ip matches the client or the server
              address (arg 0, 1).  A comparison holds if it holds for some arg;
              iterate upwards and stop at the first absent value.  Outputs use
              `get` with arg=0 as usual.
  text        a Python function (B, P, C, i, arg, key) -> str | None giving
              the text Falco prints, for fields whose text is not a plain
              rendering of `get` (evt.arg.NAME, evt.args, evt.time...).
              Output-only fields have get=None and only `text`.
              `field_text()` below renders any field.
  flags       the name of a flags.py table when a NUM field prints as names
              (thread.cap_effective -> "CAP_CHOWN CAP_KILL"): a condition on
              its text compiles to a bit test, see flag_render().
  params      True for evt.arg / evt.rawarg, whose argument names an event
              parameter: fields_evt.evt_arg_plan() says how to compile them.

The registry: each class module exports FIELDS (its declarative table made
into Field objects); `_CLASS_MODULES` below is the one registration list.
`lookup(name, arg)`, `all_fields()` and `describe_fields()` load it on first
use.  Accessors compile lazily, on first call.

Writing an accessor (measured; see accessors.py): read the row's values into
locals, hand them to `register_jitable` helpers that take ints and arrays and
return ints (a string as its span), and return the buffer from the accessor
body itself -- always the same buffer in one accessor, never a constant table
on one path and an arena on another.  Done so, an inlined call costs ~0.05 s
of kernel compile time and a few ns per row.
"""
from __future__ import annotations

import importlib
import ipaddress
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Optional

import numpy as np


class Kind(str, Enum):
    NUM = "NUM"
    STR = "STR"
    IP = "IP"


class FType(str, Enum):
    """Falco's field types, as `sensor fields` prints them."""
    CHARBUF = "string"
    INT64 = "int64"
    UINT64 = "uint64"
    UINT32 = "uint32"
    INT32 = "int32"
    UINT16 = "uint16"
    PORT = "port"
    BOOL = "bool"
    RELTIME = "reltime"
    ABSTIME = "abstime"
    IPADDR = "ipaddr"
    IPNET = "ipnet"
    BYTEBUF = "bytebuf"
    FLAGS32 = "flags32"
    FLAGS64 = "flags64"      # a u64 bit set printed as names (capability sets)
    MODE = "mode"
    FD = "fd"
    PID = "pid"
    UID = "uid"
    GID = "gid"
    ERRNO = "errno"
    SYSCALLID = "syscallid"
    LIST = "list"            # a list of strings, NUL separated in its STR view

    @property
    def kind(self) -> Kind:
        return _KIND_OF[self]      # a table: alert rendering asks for every field


_KIND_OF = {t: Kind.STR if t in (FType.CHARBUF, FType.BYTEBUF, FType.LIST)
            else Kind.IP if t in (FType.IPADDR, FType.IPNET) else Kind.NUM for t in FType}


class Arg(str, Enum):
    """What may follow the field name."""
    NONE = "none"            # proc.name
    INDEX = "index"          # proc.aname[2]: required integer
    OPT_INDEX = "opt_index"  # proc.aname / proc.aname[2]
    KEY = "key"              # proc.env[HOME]: required text
    OPT_KEY = "opt_key"
    NAME = "name"            # evt.arg.flags, evt.arg[1]: a parameter by name or index


@dataclass(frozen=True)
class Field:
    name: str
    type: FType
    desc: str
    get: Callable = field(repr=False, compare=False, default=None)
    arg: Arg = Arg.NONE
    filter_only: bool = False       # may appear in conditions, not in outputs
    output_only: bool = False       # e.g. evt.args: text for outputs
    resolve_arg: Optional[Callable[[str], tuple[int, bytes]]] = field(
        default=None, repr=False, compare=False)
    # Output formatting of NUM values (e.g. evt.arg.flags -> "O_RDONLY|O_CLOEXEC"),
    # given (value, arg): returns the text Falco would print.  None: decimal.
    format: Optional[Callable] = field(default=None, repr=False, compare=False)
    # See the module docstring.
    any_index: Optional[tuple] = None
    text: Optional[Callable] = field(default=None, repr=False, compare=False)
    flags: Optional[str] = None
    params: bool = False

    def __post_init__(self):
        if self.resolve_arg is None:
            object.__setattr__(self, "resolve_arg", _DEFAULT_RESOLVERS[self.arg](self.name))

    @property
    def kind(self) -> Kind:
        return self.type.kind


# --- argument resolvers ------------------------------------------------------

def index_resolver(name: str):
    """[N] with N a non-negative integer."""
    def resolve(text: str):
        t = text.strip()
        if not t.isdigit():
            raise ValueError(f"'{text}' is not a valid index for {name} (expected a "
                             f"non-negative integer, e.g. {name}[1])")
        return int(t), b""
    return resolve


def key_resolver(name: str):
    """[TEXT]: any non-empty text, passed to the accessor as `key`."""
    def resolve(text: str):
        if not text:
            raise ValueError(f"{name} needs a non-empty argument, e.g. {name}[X]")
        return 0, text.encode("utf-8", "surrogateescape")
    return resolve


def no_arg_resolver(name: str):
    def resolve(text: str):
        raise ValueError(f"{name} does not take an argument")
    return resolve


def _no_param_resolver(name: str):
    def resolve(text: str):
        raise ValueError(f"{name} cannot resolve parameter names")
    return resolve


_DEFAULT_RESOLVERS = {
    Arg.NONE: no_arg_resolver, Arg.INDEX: index_resolver, Arg.OPT_INDEX: index_resolver,
    Arg.KEY: key_resolver, Arg.OPT_KEY: key_resolver, Arg.NAME: _no_param_resolver,
}


# --- declaring a class module's fields -------------------------------------------

class FieldTable:
    """A class module's declarative table and the functions that serve it.

    rows: (name, FType, Arg, flags, description); flags is a space separated
    string of: filter_only, output_only, params, any=LO:HI, flags=TABLE.
    The module then attaches one accessor per field with `@T.get("name")`
    (compiled with @njit(inline="always"), lazily on first call), and optional
    `@T.text`, `@T.resolver`, `@T.formatter` functions; `T.fields()` checks
    that every field that can be read has its accessor."""

    def __init__(self, rows):
        self.rows = rows
        self._get, self._text, self._resolve, self._format = {}, {}, {}, {}

    def _collect(self, store, names, wrap=None):
        def deco(fn):
            obj = wrap(fn) if wrap else fn
            for n in names:
                store[n] = obj
            return obj
        return deco

    def get(self, *names):
        from numba import njit
        return self._collect(self._get, names, njit(inline="always"))

    def use(self, name, jitted):
        """Attach an accessor compiled elsewhere (already @njit(inline="always"))."""
        self._get[name] = jitted

    def text(self, *names):
        return self._collect(self._text, names)

    def resolver(self, *names):
        return self._collect(self._resolve, names)

    def formatter(self, *names):
        return self._collect(self._format, names)

    def fields(self) -> list[Field]:
        out = []
        for name, ftype, arg, flags, desc in self.rows:
            opts = {}
            for tok in flags.split():
                key, _, val = tok.partition("=")
                if key == "any":
                    lo, hi = val.split(":")
                    opts["any_index"] = (int(lo), int(hi))
                elif key == "flags":
                    opts["flags"] = val
                else:
                    assert key in ("filter_only", "output_only", "params"), tok
                    opts[key] = True
            get = self._get.get(name)
            if get is None and not opts.get("output_only"):
                raise AssertionError(f"field {name} has no accessor")
            if opts.get("output_only") and name not in self._text:
                raise AssertionError(f"output-only field {name} has no text function")
            out.append(Field(name, ftype, desc, get, arg, resolve_arg=self._resolve.get(name),
                             format=self._format.get(name), text=self._text.get(name),
                             **opts))
        return out


# --- the registry --------------------------------------------------------------

# The one registration list: each module exports FIELDS, registered in this order.
_CLASS_MODULES = ("fields_evt", "fields_proc", "fields_thread", "fields_user", "fields_fd",
                  "fields_container", "fields_k8s")

_FIELDS: dict[str, Field] = {}
_ORDER: list[Field] = []
_LOADED = False


def register(*fields: Field) -> None:
    """Add fields to the registry; a name may be registered once."""
    for f in fields:
        if f.name in _FIELDS:
            raise ValueError(f"field {f.name} registered twice")
        _FIELDS[f.name] = f
        _ORDER.append(f)


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for mod in _CLASS_MODULES:
        register(*importlib.import_module(f"{__package__}.{mod}").FIELDS)


def lookup(name: str, arg: Optional[str] = None):
    """(Field, arg_text) for a field reference, or None if there is no such field.

    `evt.arg.flags` -> (evt.arg, "flags"); `evt.arg[1]` -> (evt.arg, "1");
    `proc.aname[2]` -> (proc.aname, "2"); `proc.env[HOME]` -> (proc.env, "HOME").
    The argument is not checked here: `Field.resolve_arg` does that."""
    _load()
    f = _FIELDS.get(name)
    if f is not None:
        return f, arg
    if arg is None:
        # A parameter name after a dot: evt.arg.NAME, evt.rawarg.NAME.
        base = name.rpartition(".")[0]
        while base:
            f = _FIELDS.get(base)
            if f is not None and f.arg == Arg.NAME and len(name) > len(base) + 1:
                return f, name[len(base) + 1:]
            base = base.rpartition(".")[0]
    return None


def all_fields() -> list[Field]:
    """Every registered field, in registration order (stable: indexes identify fields)."""
    _load()
    return list(_ORDER)


_ARG_TEXT = {Arg.NONE: "", Arg.INDEX: "[N] required", Arg.OPT_INDEX: "[N] optional",
             Arg.KEY: "[KEY] required", Arg.OPT_KEY: "[KEY] optional",
             Arg.NAME: ".NAME or [N]"}


def describe_fields() -> list[tuple[str, str, str, str]]:
    """Rows (name, type, argument, description) for `sensor fields`."""
    rows = []
    for f in all_fields():
        desc = f.desc
        if f.filter_only:
            desc += " (conditions only)"
        if f.output_only:
            desc += " (outputs only)"
        rows.append((f.name, f.type.value, _ARG_TEXT[f.arg], desc))
    return rows


# --- reading a field from Python ---------------------------------------------------

_NO_KEY = np.zeros(0, np.uint8)
_UNSIGNED = {FType.UINT64, FType.ABSTIME, FType.RELTIME, FType.FLAGS64}


def read(f: Field, B, P, C, i: int, arg: int = 0, key: bytes = b""):
    """The value of `f` on row i through `get.py_func`: int, bytes, an
    ipaddress object, or None when absent (or when the field has no `get`)."""
    if f.get is None:
        return None
    k = np.frombuffer(key, np.uint8) if key else _NO_KEY
    out = f.get.py_func(B, P, C, i, np.int64(arg), k)
    kind = f.kind
    if kind == Kind.NUM:
        v, ok = out
        if not ok:
            return None
        v = int(v)
        return v & (2**64 - 1) if f.type in _UNSIGNED else v
    if kind == Kind.IP:
        hi, lo, ok = out
        return ip_object(int(hi), int(lo)) if ok else None
    buf, off, ln = out
    return None if ln < 0 else bytes(np.asarray(buf[int(off):int(off) + int(ln)]))


def ip_object(hi: int, lo: int):
    """A 128-bit value as IPv4Address when IPv4-mapped, else IPv6Address."""
    v = (hi << 64) | lo
    if v >> 32 == 0xFFFF:
        return ipaddress.IPv4Address(v & 0xFFFFFFFF)
    return ipaddress.IPv6Address(v)


def flag_render(f: Field):
    """For a NUM field with `flags`: the flagtest.Render printing it (no number fallback)."""
    from .flags import table
    from .flagtest import Render
    return Render(table(f.flags), raw=None)


def field_text(f: Field, B, P, C, i: int, arg: int = 0, key: bytes = b"") -> Optional[str]:
    """The text Falco prints for the field on row i; None when absent (<NA>)."""
    if f.text is not None:
        return f.text(B, P, C, i, arg, key)
    v = read(f, B, P, C, i, arg, key)
    if v is None:
        return None
    if f.format is not None:
        return f.format(v, arg)
    if f.flags is not None:
        return flag_render(f).text(v)
    if f.type == FType.BOOL:
        return "true" if v else "false"
    if isinstance(v, bytes):
        if f.type == FType.LIST:
            return ",".join(x.decode("utf-8", "replace") for x in v.split(b"\0")) if v else ""
        return v.decode("utf-8", "replace")
    return str(v)
