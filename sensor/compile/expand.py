"""Expansion on the syntax tree: list names become their items, macro names their bodies.

Falco substitutes lists by rewriting the condition text before parsing,
which breaks on quoting.  Here both happen on the tree, so a value is never
re-read as syntax:

- Lists.  An unquoted item of a value list `(a, some_list, "b")` that names
  a list is replaced by that list's items; an unquoted single value
  (`proc.name = some_list`) naming a one-item list becomes that item, as
  Falco's text substitution makes it.  Quoted values are never list names.
- Macros.  An identifier in boolean position is replaced by the macro's body.
  `MacroTable` says which macros a reference may see (Falco's visibility
  order) and whether a body still holds references of its own; a reference
  back to a macro being expanded is a loop and an error.

Expanded subtrees keep their own `src`, so an error inside a macro body
points into the macro's text.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable, Mapping, Optional

from .ast import And, Compare, Expr, Ident, Literal, Node, Not, Or, ValueList

# name -> (body, body_may_hold_references), or None when no visible macro has that name
MacroTable = Callable[[str], Optional[tuple[Expr, bool]]]


class ExpandError(Exception):
    def __init__(self, message: str, node: Node):
        super().__init__(message)
        self.message = message
        self.node = node


def splice_list_names(items: Iterable[Literal], lists: Mapping[str, tuple[Literal, ...]],
                      used: set) -> tuple[Literal, ...]:
    out: list[Literal] = []
    for item in items:
        if not item.quoted and item.text in lists:
            used.add(item.text)
            out.extend(lists[item.text])
        else:
            out.append(item)
    return tuple(out)


def expand_lists(expr: Expr, lists: Mapping[str, tuple[Literal, ...]], used: set) -> Expr:
    """`expr` with list names replaced by their items; names of lists met go to `used`."""
    if isinstance(expr, (And, Or)):
        return replace(expr, children=tuple(expand_lists(c, lists, used) for c in expr.children))
    if isinstance(expr, Not):
        return replace(expr, child=expand_lists(expr.child, lists, used))
    if isinstance(expr, Compare):
        value = expr.value
        if isinstance(value, ValueList):
            return replace(expr, value=replace(value, items=splice_list_names(value.items, lists,
                                                                              used)))
        if isinstance(value, Literal) and not value.quoted and value.text in lists:
            items = lists[value.text]
            used.add(value.text)
            if len(items) != 1:
                raise ExpandError(f"list '{value.text}' has {len(items)} items but is used as "
                                  f"a single value of '{expr.op}'", value)
            return replace(expr, value=items[0])
    return expr


def expand_macros(expr: Expr, table: MacroTable, used: set, stack: tuple[str, ...] = ()) -> Expr:
    """`expr` with macro references replaced by bodies.  `stack` holds the macros
    being expanded (a reference to one of them is a loop); names of macros met go
    to `used`.  Raises ExpandError for an undefined macro or a loop."""
    if isinstance(expr, (And, Or)):
        return replace(expr, children=tuple(expand_macros(c, table, used, stack)
                                            for c in expr.children))
    if isinstance(expr, Not):
        return replace(expr, child=expand_macros(expr.child, table, used, stack))
    if isinstance(expr, Ident):
        if expr.name in stack:
            raise ExpandError(f"reference loop in macro '{expr.name}'", expr)
        entry = table(expr.name)
        if entry is None:
            raise ExpandError(f"Undefined macro '{expr.name}' used in filter.", expr)
        used.add(expr.name)
        body, has_references = entry
        return expand_macros(body, table, used, stack + (expr.name,)) if has_references else body
    return expr
