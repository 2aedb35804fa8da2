"""Event-type analysis: which event types can make a condition true.

Routing sends each event type only to the rules that can match it, so every
rule needs a set of event types that is sure to contain all the types it
can match -- as small as possible, never too small.

The set algebra.  Each node of the (expanded) condition denotes a set of
event types:

- a check on evt.type -- `evt.type = open`, `evt.type in (open, openat)` --
  denotes the types it names; `evt.type != open` denotes all types but open;
- any other check (`proc.name = cat`, `evt.type exists`, a transformed
  evt.type, an evt.type compared with another field) says nothing about the
  type: it denotes all types;
- `a and b` can only match types both sides can match: the intersection;
- `a or b` matches types either side matches: the union;
- `not`: pushed down to the leaves with De Morgan's laws (`not (a and b)` is
  `not a or not b`, `not (a or b)` is `not a and not b`), so it only ever
  applies to a leaf.  A negated evt.type check denotes the complement of its
  set; a negated other check still denotes all types -- `not proc.name = cat`
  can be true for any type -- which is why negation cannot simply complement
  the set of a whole subtree.

This is libsinsp's algorithm (filter/ppm_codes.cpp).  One more rule comes
from Falco's earlier engine, whose results Falco's conformance cases pin
(falco_tests.yaml, test_warnings/rules_events): as soon as a negation (`not`
or `!=`) appears before an evt.type check in the condition's text, the rule
gets all types.  That widening only ever enlarges a set, so it stays safe.
Every negated evt.type check meets it (the negation comes first), so the
complement sets never reach the router.

The result is a frozenset of event-type ids, or None for "all types".
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional

from .ast import And, Compare, Expr, FieldRef, Literal, Node, Not, Or, ValueList

EVTTYPE_OPS = frozenset({"=", "==", "!=", "in"})

# Falco warns past 100 event codes, which count enter and exit separately;
# here one id is one event type, hence half.
TOO_MANY_TYPES = 50

TypeSet = Optional[frozenset]     # None: every type


class UnknownEventType(Exception):
    def __init__(self, name: str, node: Node):
        super().__init__(f"unknown event type {name}")
        self.name = name
        self.node = node


def _is_evttype(field: FieldRef) -> bool:
    return field.name == "evt.type" and field.arg is None and not field.transformers


def _names(value) -> Optional[list[Literal]]:
    if isinstance(value, Literal):
        return [value]
    if isinstance(value, ValueList):
        return list(value.items)
    return None                   # compared with another field: says nothing


def _intersect(sets: Iterable[TypeSet]) -> TypeSet:
    out: TypeSet = None
    for s in sets:
        out = s if out is None else (out if s is None else out & s)
    return out


def _union(sets: Iterable[TypeSet]) -> TypeSet:
    out: TypeSet = frozenset()
    for s in sets:
        if s is None:
            return None
        out |= s
    return out


class _Analysis:
    def __init__(self, type_id: Callable[[str], Optional[int]], all_ids: Callable[[], Iterable]):
        self.type_id = type_id
        self.all_ids = all_ids
        self._all: Optional[frozenset] = None

    def complement(self, s: frozenset) -> TypeSet:
        if self._all is None:
            self._all = frozenset(self.all_ids())
        rest = self._all - s
        return None if rest == self._all else rest

    def types(self, e: Expr, negated: bool) -> TypeSet:
        if isinstance(e, (And, Or)):
            # Under a negation `and` acts as `or` and vice versa (De Morgan).
            meet = isinstance(e, And) != negated
            sets = [self.types(c, negated) for c in e.children]
            return _intersect(sets) if meet else _union(sets)
        if isinstance(e, Not):
            return self.types(e.child, not negated)
        if isinstance(e, Compare) and _is_evttype(e.field) and e.op in EVTTYPE_OPS:
            names = _names(e.value)
            if names is None:
                return None
            ids = frozenset(self.id_of(n) for n in names)
            return self.complement(ids) if negated != (e.op == "!=") else ids
        return None

    def id_of(self, lit: Literal) -> int:
        i = self.type_id(lit.text)
        if i is None:
            raise UnknownEventType(lit.text, lit)
        return i


def _negation_before_evttype(e: Expr) -> bool:
    """True if, reading the condition left to right, a `not` or `!=` comes before
    (or is) an evt.type check."""
    seen_negation = False

    def walk(n: Expr) -> bool:
        nonlocal seen_negation
        if isinstance(n, (And, Or)):
            return any(walk(c) for c in n.children)
        if isinstance(n, Not):
            seen_negation = True
            return walk(n.child)
        if isinstance(n, Compare):
            seen_negation = seen_negation or n.op == "!="
            return seen_negation and n.field.name == "evt.type"
        return False

    return walk(e)


def event_types(expr: Expr, type_id: Callable[[str], Optional[int]],
                all_ids: Callable[[], Iterable]) -> TypeSet:
    """Ids of the event types `expr` can match; None for all.  Raises
    UnknownEventType for a name `type_id` does not know."""
    types = _Analysis(type_id, all_ids).types(expr, False)
    return None if _negation_before_evttype(expr) else types


def too_many(types: TypeSet) -> bool:
    """Whether a rule deserves Falco's LOAD_NO_EVTTYPE warning."""
    return types is None or not types or len(types) > TOO_MANY_TYPES
