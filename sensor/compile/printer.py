"""Canonical text of a condition tree: one spelling per meaning.

Single spaces around operators and keywords, parentheses only where
precedence needs them (an `or` inside an `and`, an `and`/`or`/`not` under a
`not`), nested `and`s and `or`s flattened, quoted strings always in double
quotes with escapes.  Parsing the printed text gives a tree that prints the
same text again, so golden tests can compare strings.
"""
from __future__ import annotations

from .ast import And, Compare, Expr, FieldRef, FieldValue, Ident, Literal, Not, Or, ValueList
from .parser import _ARG_BARE, is_bare

_ESCAPE = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def quote(text: str) -> str:
    return '"' + "".join(_ESCAPE.get(c, c) for c in text) + '"'


def format_literal(lit: Literal) -> str:
    return lit.text if not lit.quoted and is_bare(lit.text) else quote(lit.text)


def format_field(f: FieldRef) -> str:
    text = f.name
    if f.arg is not None:
        arg = f.arg if _ARG_BARE.fullmatch(f.arg) else quote(f.arg)
        text += f"[{arg}]"
    for t in f.transformers:
        text = f"{t}({text})"
    return text


def format_value(v) -> str:
    if isinstance(v, Literal):
        return format_literal(v)
    if isinstance(v, ValueList):
        return "(" + ", ".join(format_literal(i) for i in v.items) + ")"
    if isinstance(v, FieldValue):
        inner = format_field(v.field)
        return inner if v.field.transformers else f"val({inner})"
    raise TypeError(f"not a value node: {v!r}")


def _flat(node, kind) -> list:
    """Children of `node`, with same-kind children spliced in (a and (b and c) -> a, b, c)."""
    out = []
    for c in node.children:
        out.extend(_flat(c, kind) if isinstance(c, kind) else [c])
    return out


def format_expr(e: Expr) -> str:
    if isinstance(e, Or):
        return " or ".join(format_expr(c) for c in _flat(e, Or))
    if isinstance(e, And):
        return " and ".join(_group(c, Or) for c in _flat(e, And))
    if isinstance(e, Not):
        return "not " + _group(e.child, (And, Or, Not))
    if isinstance(e, Compare):
        head = f"{format_field(e.field)} {e.op}"
        return head if e.value is None else f"{head} {format_value(e.value)}"
    if isinstance(e, Ident):
        return e.name
    raise TypeError(f"not an expression node: {e!r}")


def _group(e: Expr, needs_parens) -> str:
    text = format_expr(e)
    return f"({text})" if isinstance(e, needs_parens) else text
