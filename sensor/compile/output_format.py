"""A rule's output string -> literal text and fields (rule.OutputFormat).

    "Shell in %container.name (user=%user.name cmd=%proc.aname[2] %toupper(fd.name))"

A `%` starts a field: an optional width (digits, accepted and ignored), then
a field as in conditions -- name, optional `[arg]`, optionally wrapped in
transformers.  Everything else is literal text.  A leading `*` (Falco: print
<NA> for missing values, which is what this engine always does) is dropped.
Unknown fields get Falco's message, "invalid formatting token <rest of the
string>"; a field that exists but cannot be used here (a bad argument, a
condition-only field) gets the registry's reason.
"""
from __future__ import annotations

from typing import Callable

from .ast import NO_SOURCE, FieldRef, SourceRef
from .context import FieldProblem
from .parser import ParseError, parse_field_at
from .rule import OutputFormat


class OutputError(Exception):
    """`unknown`: the field does not exist (skip-if-unknown-filter may then skip the rule)."""

    def __init__(self, message: str, offset: int, unknown: bool = False):
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.unknown = unknown


def parse_output(text: str, check: Callable[[FieldRef], None],
                 src: SourceRef = NO_SOURCE) -> OutputFormat:
    """Split `text` into parts; `check(field)` raises FieldProblem for a field that
    cannot be printed.  Raises OutputError with the offset of the offending `%`."""
    parts: list = []
    fields: list[FieldRef] = []
    i = 1 if text.startswith("*") else 0
    while i < len(text):
        j = text.find("%", i)
        if j < 0:
            parts.append(text[i:])
            break
        if j > i:
            parts.append(text[i:j])
        if j == len(text) - 1:
            raise OutputError("invalid formatting syntax: formatting cannot end with a %", j)
        k = j + 1
        while k < len(text) and text[k].isdigit():
            k += 1
        if k == len(text):
            raise OutputError("invalid formatting syntax: formatting cannot end with a number", j)
        try:
            field, end = parse_field_at(text, k, src)
            check(field)
        except (ParseError, FieldProblem) as e:
            if isinstance(e, FieldProblem) and not e.unknown:
                raise OutputError(e.message, j) from None
            raise OutputError("invalid formatting token " + text[k:], j, unknown=True) from None
        parts.append(field)
        fields.append(field)
        i = end
    return OutputFormat(text, parts, fields)
