"""A rule's `exceptions` as syntax: the tree Falco gets by pasting text.

Falco appends ` and not (...)` to the condition text for each exception.
The same meaning, built as nodes (values stay values, whatever their quotes):

- `fields: proc.name`, `comps: in` (the default), `values: [a, b]`
      -> proc.name in (a, b)
- `fields: [proc.name, fd.name]`, `comps: [=, startswith]` (default `=`),
  `values: [[a, /tmp], [b, /var]]`
      -> (proc.name = a and fd.name startswith /tmp) or (proc.name = b and ...)
  With a list operator a value may be a YAML list, `(x, y)` written as one
  string, or one name (usually a list's).

An exception without values adds nothing.  The rule's condition becomes
`cond and not E1 and not E2 ...`.  Values that name lists are expanded later
with the rest of the condition.
"""
from __future__ import annotations

from typing import Optional

from .ast import And, Compare, Expr, FieldRef, Not, Or, ValueList
from .parser import LIST_OPS, UNARY_OPS, ParseError, literal_from_item, parse_field_ref, \
    parse_value_list
from .reader import ExceptionSpec, Seq
from .sources import Text


class ExceptionError(Exception):
    """An exception whose values do not fit its fields; `where` is the exception item."""

    def __init__(self, message: str, where=None):
        super().__init__(message)
        self.message = message
        self.where = where


def _value(comp: str, entry, where: str):
    if comp in UNARY_OPS:
        raise ExceptionError(f"Comparison '{comp}' takes no value")
    if isinstance(entry, Seq):
        if comp not in LIST_OPS:
            raise ExceptionError(f"Comparison '{comp}' needs a single value, not a list")
        return ValueList(tuple(_item(e) for e in entry.items), src=entry.src)
    if comp in LIST_OPS:
        if entry.value.lstrip().startswith("("):
            try:
                return parse_value_list(entry.value, entry.src)
            except ParseError as e:
                raise ExceptionError(f"{where}: {e.message}") from None
        return ValueList((_item(entry),), src=entry.src)
    return _item(entry)


def _item(entry):
    if not isinstance(entry, Text):
        raise ExceptionError("Expected values array to contain a list of strings")
    return literal_from_item(entry.value, entry.src)


def _field(text: Text) -> FieldRef:
    return parse_field_ref(text.value, text.src)


def exception_condition(ex: ExceptionSpec) -> Optional[Expr]:
    """The condition an exception excludes, or None when it has no values.
    Expects the collector's checks (fields present, comps filled in)."""
    try:
        return _build(ex)
    except ExceptionError as e:
        raise ExceptionError(e.message, ex.where) from None


def _build(ex: ExceptionSpec) -> Optional[Expr]:
    if isinstance(ex.fields, Text):
        if not ex.values:
            return None
        items = []
        for v in ex.values:
            if not isinstance(v, Text):
                raise ExceptionError("Expected values array to contain a list of strings")
            items.append(literal_from_item(v.value, v.src))
        return Compare(_field(ex.fields), ex.comps.value, ValueList(tuple(items), src=ex.fields.src),
                       src=ex.fields.src)
    fields = [_field(f) for f in ex.fields.items]
    comps = [c.value for c in ex.comps.items]
    alternatives = []
    for row in ex.values:
        cells = row.items if isinstance(row, Seq) else ()
        if len(cells) != len(fields):
            raise ExceptionError("Fields and values lists must have equal length")
        checks = tuple(Compare(f, c, _value(c, v, f.name), src=f.src)
                       for f, c, v in zip(fields, comps, cells))
        alternatives.append(checks[0] if len(checks) == 1 else And(checks, src=ex.fields.src))
    if not alternatives:
        return None
    return alternatives[0] if len(alternatives) == 1 else Or(tuple(alternatives), src=ex.fields.src)


def with_exceptions(condition: Expr, exceptions: list[ExceptionSpec]) -> Expr:
    """`condition and not E1 and not E2 ...` for the exceptions that have values."""
    excluded = []
    for ex in exceptions:
        e = exception_condition(ex)
        if e is not None:
            excluded.append(Not(e, src=e.src))
    if not excluded:
        return condition
    return And((condition, *excluded), src=condition.src, pos=condition.pos)
