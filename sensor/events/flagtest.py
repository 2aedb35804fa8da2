"""Numeric tests equivalent to comparing a number's printed text.

`evt.arg.flags contains O_TRUNC` compares the text Falco prints for the flags
("O_TRUNC|O_CREAT|O_WRONLY").  A compiled kernel should not print numbers;
`Render.test(op, literal)` returns a `NumTest` on the raw value that is true
exactly when `op(render.text(value), literal)` is, or None when the operator
cannot be expressed that way (the caller then rejects the rule or falls back
to the text).  The reference evaluator keeps comparing `render.text(value)`;
tests check both agree.

How the equivalence is built (bits and mode tables):
  * a handful of "special" values behave irregularly (0, and every entry's
    own value, where the walk stops early): each is decided by printing it;
  * elsewhere the entries fall into independent groups of overlapping bits
    (file_flags: {O_RDWR, O_WRONLY, O_RDONLY} share two bits; most entries
    are single bits); which names a group prints depends only on the value's
    bits in that group, so a predicate becomes, per group, "value & mask is
    one of these patterns";
  * a value no entry matches prints its number instead (params) or "".
Enum tables have finitely many named values: evaluate the predicate on each,
and on the printed number for the others.
"""
from __future__ import annotations

import fnmatch
from typing import NamedTuple, Optional

from .flags import FlagTable

MAX_GROUP_BITS = 12      # patterns enumerated per group of overlapping entries


class NumTest(NamedTuple):
    """A test on an integer value.

    kind  "const" (a: bool) | "eq" (a: int) | "in" (a: frozenset) |
          "mask" (a: mask, b: frozenset of allowed `value & mask`) |
          "not" (a: NumTest) | "and" / "or" (a: tuple of NumTest)
    """
    kind: str
    a: object = None
    b: object = None

    def eval(self, v: int) -> bool:
        k = self.kind
        if k == "const":
            return bool(self.a)
        if k == "eq":
            return v == self.a
        if k == "in":
            return v in self.a
        if k == "mask":
            return (v & self.a) in self.b
        if k == "not":
            return not self.a.eval(v)
        if k == "and":
            return all(t.eval(v) for t in self.a)
        return any(t.eval(v) for t in self.a)


TRUE = NumTest("const", True)
FALSE = NumTest("const", False)


def t_in(values) -> NumTest:
    values = frozenset(values)
    if not values:
        return FALSE
    return NumTest("eq", next(iter(values))) if len(values) == 1 else NumTest("in", values)


def t_not(t: NumTest) -> NumTest:
    if t.kind == "const":
        return FALSE if t.a else TRUE
    return t.a if t.kind == "not" else NumTest("not", t)


def t_and(*ts: NumTest) -> NumTest:
    ts = [t for t in ts if t != TRUE]
    if any(t == FALSE for t in ts):
        return FALSE
    # Single-pattern mask tests on disjoint bits merge: (v & m1) == p1 and
    # (v & m2) == p2  ->  (v & (m1|m2)) == p1|p2.
    single = [t for t in ts if t.kind == "mask" and len(t.b) == 1]
    if len(single) > 1 and all(a.a & b.a == 0 for j, a in enumerate(single)
                               for b in single[j + 1:]):
        mask = pattern = 0
        for t in single:
            mask |= t.a
            pattern |= next(iter(t.b))
        ts = [t for t in ts if t not in single] + [NumTest("mask", mask, frozenset({pattern}))]
    return ts[0] if len(ts) == 1 else (NumTest("and", tuple(ts)) if ts else TRUE)


def t_or(*ts: NumTest) -> NumTest:
    ts = [t for t in ts if t != FALSE]
    if any(t == TRUE for t in ts):
        return TRUE
    return ts[0] if len(ts) == 1 else (NumTest("or", tuple(ts)) if ts else FALSE)


def t_mask(mask: int, allowed) -> NumTest:
    allowed = frozenset(allowed)
    if not allowed:
        return FALSE
    if len(allowed) == 1 << bin(mask).count("1"):
        return TRUE
    return NumTest("mask", mask, allowed)


# --- text operators, as the reference evaluator applies them ---------------

def text_op(op: str, text: str, lit: str) -> bool:
    """Falco's string operators on (field text, literal)."""
    if op in ("=", "=="):
        return text == lit
    if op == "!=":
        return text != lit
    if op in ("contains", "bcontains"):
        return lit in text
    if op == "icontains":
        return lit.lower() in text.lower()
    if op in ("startswith", "bstartswith"):
        return text.startswith(lit)
    if op == "endswith":
        return text.endswith(lit)
    if op == "glob":
        return fnmatch.fnmatchcase(text, lit)
    if op == "iglob":
        return fnmatch.fnmatchcase(text.lower(), lit.lower())
    raise ValueError(f"no text semantics for operator {op!r}")


# --- printing a raw number ---------------------------------------------------

_ALPHABET = {"dec": set("-0123456789"), "hex": set("0123456789ABCDEF"), "oct": set("01234567")}


class Raw(NamedTuple):
    """How a number prints when no name applies: fmt dec/hex/oct, width in bits, signed."""
    fmt: str = "dec"
    width: int = 64
    signed: bool = True

    def text(self, v: int) -> str:
        v = int(v) & ((1 << self.width) - 1)
        if self.signed and v >> (self.width - 1):
            v -= 1 << self.width
        if self.fmt == "hex":
            return format(v & ((1 << self.width) - 1), "X")
        if self.fmt == "oct":
            return "0" + format(v, "o") if v else "0"
        return str(v)

    def parse(self, lit: str) -> Optional[int]:
        """The number that prints exactly as `lit`, or None."""
        try:
            v = int(lit, {"dec": 10, "hex": 16, "oct": 8}[self.fmt])
        except ValueError:
            return None
        return v if self.text(v) == lit and -(1 << 63) <= v < (1 << 64) else None

    def may_print(self, lit: str) -> bool:
        return set(lit) <= _ALPHABET[self.fmt]


class Render:
    """How one numeric parameter (or field) prints: names from `table` rendered
    as `kind`, else the raw number (`raw`), or "" when raw is None."""

    def __init__(self, table: Optional[FlagTable], kind: Optional[str] = None,
                 raw: Optional[Raw] = Raw()):
        self.table = table.with_kind(kind) if (table is not None and kind) else table
        self.raw = raw

    def text(self, v: int) -> str:
        if self.table is not None:
            named = self.table.resolve(v)
            if named:
                return named
        return self.raw.text(v) if self.raw is not None else ""

    # -- the numeric equivalent of a text comparison --------------------------

    def test(self, op: str, lit) -> Optional[NumTest]:
        """NumTest true exactly when text_op(op, self.text(v), lit); `lit` is a
        str, or a list of str for `in`.  None: not expressible."""
        if op == "in":
            parts = [self.test("=", x) for x in lit]
            return None if any(p is None for p in parts) else t_or(*parts)
        if op == "!=":
            t = self.test("=", lit)
            return None if t is None else t_not(t)
        if op not in ("=", "==", "contains", "icontains"):
            if self.table is not None and self.table.kind == "enum":
                return self._enum_test(op, lit)
            return None
        if self.table is None:
            return self._raw_test(op, lit)
        if self.table.kind == "enum":
            return self._enum_test(op, lit)
        return self._walk_test(op, lit)

    def _raw_test(self, op, lit) -> Optional[NumTest]:
        """Values that print as a number only (no name applied)."""
        if self.raw is None:
            return TRUE if text_op(op, "", lit) else FALSE
        if op in ("=", "=="):
            n = self.raw.parse(lit)
            return FALSE if n is None else NumTest("eq", n)
        if op in ("contains", "icontains", "startswith", "endswith") and not self.raw.may_print(
                lit.upper() if op == "icontains" and self.raw.fmt == "hex" else lit):
            return FALSE
        return None

    def _enum_test(self, op, lit) -> Optional[NumTest]:
        known = {v for _, v in self.table.entries}
        hits = {v for v in known if text_op(op, self.text(v), lit)}
        other = self._raw_test(op, lit)
        if other is None:
            return None
        if other.kind == "eq" and other.a in known:
            other = FALSE
        return t_or(t_in(hits), t_and(t_not(t_in(known)), other))

    def _walk_test(self, op, lit) -> Optional[NumTest]:
        groups = _groups(self.table)
        if groups is None:
            return None
        general = self._general_walk(op, lit, groups)
        if general is None:
            return None
        # Special values: decide each by its text, where the general test differs.
        special = {0} | {v for _, v in self.table.entries if v}
        truth = {v: text_op(op, self.text(v), lit) for v in special}
        add = {v for v in special if truth[v] and not general.eval(v)}
        drop = {v for v in special if not truth[v] and general.eval(v)}
        return t_or(t_in(add), t_and(t_not(t_in(drop)), general))

    def _general_walk(self, op, lit, groups) -> Optional[NumTest]:
        """For values that are not special: names printed = union over groups."""
        sep = self.table.sep
        empty = t_and(*[t_mask(g.mask, [p for p, names in g.patterns if not names])
                        for g in groups])
        if op in ("contains", "icontains"):
            if not lit:
                return TRUE
            if sep in lit:
                return None
            fold = (lambda s: s.lower()) if op == "icontains" else (lambda s: s)
            any_name = t_or(*[t_mask(g.mask, [p for p, names in g.patterns
                                              if any(fold(lit) in fold(n) for n in names)])
                              for g in groups])
            fallback = self._raw_test(op, lit)
            if fallback is None:
                return None
            return t_or(any_name, t_and(empty, fallback))
        # equality
        order = {n: k for k, (n, v) in enumerate(self.table.entries) if v}
        want = lit.split(sep) if lit else []
        if want and all(n in order for n in want):
            if [order[n] for n in want] != sorted(order[n] for n in want) or \
                    len(set(want)) != len(want):
                return FALSE
            return t_and(*[t_mask(g.mask, [p for p, names in g.patterns
                                           if sorted(names) == sorted(set(want) & g.names)])
                           for g in groups])
        fallback = self._raw_test("=", lit)
        return t_and(empty, fallback) if fallback is not None else None


class _Group(NamedTuple):
    mask: int
    names: frozenset
    patterns: tuple        # ((value & mask, names printed), ...)


_GROUPS: dict = {}


def _groups(table: FlagTable) -> Optional[list[_Group]]:
    """Nonzero entries grouped by shared bits, with every pattern's printed names."""
    key = (table.name, table.kind, table.entries)
    if key not in _GROUPS:
        _GROUPS[key] = _make_groups(table)
    return _GROUPS[key]


def _make_groups(table: FlagTable) -> Optional[list[_Group]]:
    entries = [(n, v) for n, v in table.entries if v]
    groups: list[list] = []
    for e in entries:
        joined = [g for g in groups if any(v & e[1] for _, v in g)]
        merged = [e]
        for g in joined:
            merged = g + merged
            groups.remove(g)
        groups.append(sorted(merged, key=entries.index))
    out = []
    for g in groups:
        mask = 0
        for _, v in g:
            mask |= v
        bits = [1 << b for b in range(mask.bit_length()) if mask >> b & 1]
        if len(bits) > MAX_GROUP_BITS:
            return None
        pats = []
        for k in range(1 << len(bits)):
            p = sum(b for j, b in enumerate(bits) if k >> j & 1)
            rest, names = p, []
            for n, v in g:
                if rest & v == v:
                    names.append(n)
                    rest &= ~v
            pats.append((p, tuple(names)))
        out.append(_Group(mask, frozenset(n for n, _ in g), tuple(pats)))
    return out
