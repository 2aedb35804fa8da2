"""Binding: an expanded condition -> a typed tree both evaluators consume.

Binding resolves every field through the registry, applies transformers to
the field's type, checks that the operator suits that type (Falco's
flt_is_comparable tables), and converts literals once, at load time:

  numeric fields   decimal integers in the range of the field's type
                   (uint64 values kept as their int64 bit pattern); bool
                   fields take `true` / `false`
  string fields    the literal's UTF-8 bytes; bcontains/bstartswith take hex
  IP fields        an address or a CIDR network, IPv4 mapped into IPv6, kept as
                   (net_hi, net_lo, mask_hi, mask_lo): `=` with an address is
                   a full-length mask, so every IP operator is a mask test

A literal that does not convert is a `ConditionError` carrying the node's
position.  What comes out holds only registry objects, ints and bytes: the
code generator never sees rule text again.
"""
from __future__ import annotations

import binascii
import ipaddress
import re
from dataclasses import dataclass
from typing import Optional, Union

from . import ast as A
from ..events import fields as registry
from ..events.fields import FType, Kind


class ConditionError(ValueError):
    """A condition that cannot be compiled; `node` gives pos/src for the message."""

    def __init__(self, message: str, node: Optional[A.Node] = None):
        super().__init__(message)
        self.message = message
        self.node = node

    def __reduce__(self):          # picklable across worker processes
        return (ConditionError, (self.message, self.node))


@dataclass(frozen=True)
class BField:
    field: object                  # registry Field
    index: int                     # position in registry.all_fields(): its identifier
    arg: int
    key: bytes
    transformers: tuple
    kind: Kind                     # after transformers
    ftype: FType                   # after transformers
    text: str                      # display form, e.g. tolower(proc.name)
    any_range: Optional[tuple] = None   # (lo, hi): no argument given, "any of arg lo..hi"
    arg_text: Optional[str] = None      # the argument as written (evt.arg planning)

    @property
    def flags(self) -> bool:
        """A number that conditions see as its printed names (capability sets)."""
        return bool(getattr(self.field, "flags", None)) and not self.transformers

    @property
    def params(self) -> bool:
        """evt.arg.NAME: a parameter whose storage depends on the event type."""
        return bool(getattr(self.field, "params", False)) and self.kind == Kind.STR

    @property
    def is_list(self) -> bool:
        return self.ftype == FType.LIST

    @property
    def unsigned(self) -> bool:
        """Ordered comparisons must treat the int64 value as a u64 bit pattern."""
        return self.ftype in (FType.UINT64, FType.ABSTIME, FType.RELTIME)


Net = tuple                        # (net_hi, net_lo, mask_hi, mask_lo)


@dataclass(frozen=True)
class FlagText:
    """A text comparison on a flags field: the literal(s) as written, and the
    equivalent test on the number (sensor.events.flagtest.NumTest)."""
    literal: object                # bytes, or a tuple of bytes for `in`
    test: object


@dataclass(frozen=True)
class BCmp:
    field: BField
    op: str                        # Falco's spelling; "==" is folded into "="
    value: object                  # None | int | bytes | Net | tuple of those | BField
    node: A.Compare


@dataclass(frozen=True)
class BAnd:
    children: tuple


@dataclass(frozen=True)
class BOr:
    children: tuple


@dataclass(frozen=True)
class BNot:
    child: object


BExpr = Union[BCmp, BAnd, BOr, BNot]

_REL = {"=", "!=", "<", "<=", ">", ">="}
_OPS_BY_TYPE = {
    "num": _REL | {"in", "intersects", "exists"},
    "bool": {"=", "!=", "in", "intersects", "exists"},
    "string": _REL | {"contains", "icontains", "startswith", "endswith", "glob", "iglob",
                      "pmatch", "in", "intersects", "regex", "exists"},
    "bytes": {"=", "!=", "contains", "startswith", "endswith", "bcontains", "bstartswith",
              "in", "intersects", "exists"},
    "list": {"in", "intersects", "exists"},
    "ip": {"=", "!=", "in", "intersects", "exists"},
}
# Operators allowed between two fields (val()), by kind.
_FIELD_OPS = {Kind.NUM: _REL, Kind.STR: _REL | {"contains", "icontains", "startswith", "endswith"},
              Kind.IP: {"=", "!="}}

_INT_RANGES = {
    FType.INT64: (-2**63, 2**63 - 1), FType.PID: (-2**63, 2**63 - 1),
    FType.FD: (-2**63, 2**63 - 1), FType.ERRNO: (-2**63, 2**63 - 1),
    FType.INT32: (-2**31, 2**31 - 1),
    FType.UINT64: (0, 2**64 - 1), FType.ABSTIME: (0, 2**64 - 1), FType.RELTIME: (0, 2**64 - 1),
    FType.UINT32: (0, 2**32 - 1), FType.FLAGS32: (0, 2**32 - 1), FType.MODE: (0, 2**32 - 1),
    FType.UID: (0, 2**32 - 1), FType.GID: (0, 2**32 - 1),
    FType.UINT16: (0, 2**16 - 1), FType.PORT: (0, 2**16 - 1), FType.SYSCALLID: (0, 2**16 - 1),
    FType.BOOL: (0, 1),
}
_DECIMAL = re.compile(r"-?[0-9]+\Z")


def _type_class(bf: BField) -> str:
    if bf.flags:
        return "string"
    if bf.kind == Kind.IP:
        return "ip"
    if bf.kind == Kind.NUM:
        return "bool" if bf.ftype == FType.BOOL else "num"
    if bf.ftype == FType.LIST:
        return "list"
    return "bytes" if bf.ftype == FType.BYTEBUF else "string"


def bind_field(ref: A.FieldRef, reg=None) -> BField:
    reg = reg or registry
    found = reg.lookup(ref.name, ref.arg)
    if found is None:
        raise ConditionError(f"unknown field '{ref.name}'", ref)
    fld, arg_text = found
    arg, key = 0, b""
    if arg_text is not None and fld.resolve_arg is not None:
        try:
            arg, key = fld.resolve_arg(arg_text)
        except ValueError as e:
            raise ConditionError(f"field '{ref.name}': {e}", ref) from None
    ftype = fld.type
    text = fld.name if arg_text is None else _field_text(fld.name, arg_text)
    for tr in ref.transformers:
        if ftype.kind != Kind.STR or (ftype == FType.LIST and tr != "len"):
            raise ConditionError(f"transformer '{tr}' needs a string field, "
                                 f"not {ftype.value} ({text})", ref)
        ftype = FType.UINT64 if tr == "len" else FType.CHARBUF
        text = f"{tr}({text})"
    index = _field_index(fld, reg)
    any_range = getattr(fld, "any_index", None) if arg_text is None else None
    return BField(fld, index, int(arg), bytes(key), tuple(ref.transformers),
                  ftype.kind, ftype, text, any_range, arg_text)


def _field_text(name: str, arg_text: str) -> str:
    return name if name.endswith("." + arg_text) else f"{name}[{arg_text}]"


def _field_index(fld, reg) -> int:
    for k, f in enumerate(reg.all_fields()):
        if f is fld:
            return k
    raise ConditionError(f"field '{fld.name}' is not in the registry list")


def bind(expr: A.Expr, reg=None) -> BExpr:
    """Bind an expanded condition (no Ident left).  reg: the field registry module
    (default sensor.events.fields; tests may pass a stand-in)."""
    if isinstance(expr, A.And):
        return BAnd(tuple(bind(c, reg) for c in expr.children))
    if isinstance(expr, A.Or):
        return BOr(tuple(bind(c, reg) for c in expr.children))
    if isinstance(expr, A.Not):
        return BNot(bind(expr.child, reg))
    if isinstance(expr, A.Compare):
        return _bind_compare(expr, reg)
    if isinstance(expr, A.Ident):
        raise ConditionError(f"undefined macro '{expr.name}'", expr)
    raise ConditionError(f"unexpected node {type(expr).__name__}", expr)


def _bind_compare(node: A.Compare, reg) -> BCmp:
    bf = bind_field(node.field, reg)
    op = "=" if node.op == "==" else node.op
    if op not in A.ALL_OPS:
        raise ConditionError(f"unknown operator '{op}'", node)
    tclass = _type_class(bf)
    if op not in _OPS_BY_TYPE[tclass]:
        raise ConditionError(f"'{op}' operator not supported for {_TNAME[tclass]} "
                             f"field '{bf.text}'", node)
    val = node.value
    if op == "exists":
        if val is not None:
            raise ConditionError("'exists' takes no value", node)
        return BCmp(bf, op, None, node)
    if val is None:
        raise ConditionError(f"'{op}' needs a value", node)
    if bf.flags:
        return BCmp(bf, op, _flag_text(bf, op, val, node), node)
    if isinstance(val, A.FieldValue):
        other = bind_field(val.field, reg)
        if op not in _FIELD_OPS.get(bf.kind, ()) or other.kind != bf.kind \
                or bf.is_list or other.is_list or other.flags or bf.params or other.params:
            raise ConditionError(f"'{op}' cannot compare '{bf.text}' with field "
                                 f"'{other.text}'", node)
        return BCmp(bf, op, other, node)
    if op in A.LIST_OPS:
        items = val.items if isinstance(val, A.ValueList) else (val,)
        return BCmp(bf, op, tuple(_convert(bf, op, it) for it in items), node)
    if isinstance(val, A.ValueList):
        raise ConditionError(f"'{op}' takes a single value, not a list", node)
    return BCmp(bf, op, _convert(bf, op, val), node)


def _flag_text(bf: BField, op: str, val, node) -> FlagText:
    from ..events.fields import flag_render
    if isinstance(val, A.FieldValue):
        raise ConditionError(f"'{bf.text}' cannot be compared with another field", node)
    many = op in A.LIST_OPS
    items = val.items if isinstance(val, A.ValueList) else (val,)
    if not many and isinstance(val, A.ValueList):
        raise ConditionError(f"'{op}' takes a single value, not a list", node)
    texts = [it.text for it in items]
    test_op = "in" if op in ("in", "intersects") else op
    test = None if op == "pmatch" else flag_render(bf.field).test(
        test_op, texts if many else texts[0])
    if test is None:
        raise ConditionError(f"'{op}' cannot be compiled for flags field '{bf.text}'", node)
    lit = tuple(t.encode() for t in texts) if many else texts[0].encode()
    return FlagText(lit, test)


_TNAME = {"num": "numeric", "bool": "bool", "string": "string", "bytes": "buffer",
          "list": "list", "ip": "ip address"}


def _convert(bf: BField, op: str, lit: A.Literal):
    text = lit.text
    if bf.kind == Kind.IP:
        return parse_net(text, lit)
    if bf.kind == Kind.NUM:
        return parse_int(text, bf.ftype, lit)
    if op in ("bcontains", "bstartswith"):
        try:
            return binascii.unhexlify(text)
        except (binascii.Error, ValueError):
            raise ConditionError(f"'{text}' is not a hex byte string", lit) from None
    if op == "regex":
        try:
            re.compile(text.encode("utf-8"))
        except re.error as e:
            raise ConditionError(f"invalid regex: {e}", lit) from None
    return text.encode("utf-8", "surrogateescape")


def parse_int(text: str, ftype: FType, node=None) -> int:
    """A literal for a numeric field, as the int64 (bit pattern) the accessor returns."""
    if ftype == FType.BOOL:
        if text in ("true", "false"):
            return int(text == "true")
        raise ConditionError(f"'{text}' is not a bool (true or false)", node)
    if not _DECIMAL.match(text):
        raise ConditionError(f"'{text}' is not a number ({ftype.value})", node)
    v = int(text)
    lo, hi = _INT_RANGES.get(ftype, (-2**63, 2**63 - 1))
    if not lo <= v <= hi:
        raise ConditionError(f"{text} is out of range for {ftype.value}", node)
    return v - 2**64 if v >= 2**63 else v


def parse_net(text: str, node=None) -> Net:
    """An address or CIDR network -> (net_hi, net_lo, mask_hi, mask_lo), IPv4 mapped."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ConditionError(f"'{text}' is not an IP address or network", node) from None
    prefix = net.prefixlen
    value = int(net.network_address)
    if net.version == 4:
        value |= 0xFFFF << 32
        prefix += 96
    mask = ((1 << 128) - 1) ^ ((1 << (128 - prefix)) - 1)
    value &= mask
    return (value >> 64, value & (2**64 - 1), mask >> 64, mask & (2**64 - 1))


def ip_value(text: str) -> tuple:
    """An address as (hi, lo): how tests and builders write IP columns."""
    a = ipaddress.ip_address(text)
    v = int(a) | ((0xFFFF << 32) if a.version == 4 else 0)
    return v >> 64, v & (2**64 - 1)
