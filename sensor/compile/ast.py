"""Syntax tree of a rule condition.

Every node carries `pos`: the character offset of its first character in the
condition text it was parsed from, and `src`: a `SourceRef` naming where that
text came from (file, line, column of the text's first character, and the
item -- rule or macro -- that owns it).  After macro expansion a subtree keeps
the `src` of the macro it came from, so an error found late still points at
the right file and column.

Nodes are frozen dataclasses: passes build new trees instead of mutating.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import NamedTuple, Optional, Union


class Span(NamedTuple):
    """From `offset` of a text on, characters sit at `line`/`column` onwards in `file`."""
    offset: int
    file: str
    line: int
    column: int


@dataclass(frozen=True)
class SourceRef:
    """Where a condition text starts: used to turn node offsets into file positions."""
    file: str = ""
    line: int = 0          # 1-based line of the text's first character in `file` (0: unknown)
    column: int = 0        # 1-based column of that character
    item_type: str = ""    # "rule", "macro", "list", ...
    item_name: str = ""
    text: str = ""         # the condition text itself (for snippets)
    # When the text is not a verbatim copy of the file (a folded YAML scalar,
    # an escaped string, a condition joined from an append in another file),
    # `spans` maps its offsets back: each span runs until the next one.
    spans: tuple[Span, ...] = ()

    def locate(self, offset: int) -> tuple[str, int, int]:
        """(file, line, column), 1-based, of the character at `offset` of `text`."""
        if self.spans:
            i = max(bisect_right([s.offset for s in self.spans], offset) - 1, 0)
            s = self.spans[i]
            return s.file, s.line, s.column + max(offset - s.offset, 0)
        before = self.text[:offset]
        nl = before.count("\n")
        if nl == 0:
            return self.file, self.line, self.column + offset
        return self.file, self.line + nl, offset - before.rfind("\n")

    def position(self, offset: int) -> tuple[int, int]:
        """(line, column), 1-based, of the character at `offset` of `text`."""
        return self.locate(offset)[1:]


NO_SOURCE = SourceRef()


@dataclass(frozen=True)
class Node:
    pos: int = field(default=0, kw_only=True, compare=False)
    src: SourceRef = field(default=NO_SOURCE, kw_only=True, compare=False, repr=False)


@dataclass(frozen=True)
class And(Node):
    children: tuple["Expr", ...]


@dataclass(frozen=True)
class Or(Node):
    children: tuple["Expr", ...]


@dataclass(frozen=True)
class Not(Node):
    child: "Expr"


@dataclass(frozen=True)
class Ident(Node):
    """A bare identifier in boolean position: a macro reference (resolved away by expansion)."""
    name: str


@dataclass(frozen=True)
class FieldRef(Node):
    """A field, optionally with an argument and wrapped in transformers.

    `tolower(proc.aname[2])` is FieldRef("proc.aname", "2", ("tolower",)).
    `arg` is the raw text between the brackets, or for `evt.arg.flags` the
    registry decides: the parser gives name="evt.arg.flags", arg=None and the
    field registry resolves it.  Transformers are listed innermost first.
    """
    name: str
    arg: Optional[str] = None
    transformers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Literal(Node):
    """A constant: bare word or quoted string, kept as text; `quoted` tells which."""
    text: str
    quoted: bool = False


@dataclass(frozen=True)
class ValueList(Node):
    """`(a, b, "c")` on the right of in/intersects/pmatch.  Before expansion an
    unquoted item may name a `list` item; expansion splices that list in."""
    items: tuple[Literal, ...]


@dataclass(frozen=True)
class FieldValue(Node):
    """`val(proc.pname)` on the right of a comparison: compare against another field."""
    field: FieldRef


Value = Union[Literal, ValueList, FieldValue]


@dataclass(frozen=True)
class Compare(Node):
    """`field op value`; `value` is None for the unary operator `exists`."""
    field: FieldRef
    op: str
    value: Optional[Value] = None


Expr = Union[And, Or, Not, Ident, Compare]

# Operators, as Falco spells them.
UNARY_OPS = frozenset({"exists"})
LIST_OPS = frozenset({"in", "intersects", "pmatch"})
BINARY_OPS = frozenset({
    "=", "==", "!=", "<", "<=", ">", ">=",
    "contains", "icontains", "bcontains", "startswith", "bstartswith", "endswith",
    "glob", "iglob", "regex",
})
ALL_OPS = UNARY_OPS | LIST_OPS | BINARY_OPS
TRANSFORMERS = frozenset({"tolower", "toupper", "b64", "basename", "len"})
