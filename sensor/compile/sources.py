"""Text from a rules file and where each of its characters came from.

A condition is rarely a verbatim slice of its file: YAML folds block
scalars, drops quotes, decodes escapes; an appended condition is two pieces,
perhaps from two files, joined with a blank.  `Text` pairs a string with a
SourceRef whose spans map every offset back to file/line/column, so errors
found anywhere later (a parse error, an unknown field inside a macro) point
at the right character.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from .ast import SourceRef, Span
from .errors import Where


@dataclass(frozen=True)
class Text:
    """A string value from the file and where each of its characters came from."""
    value: str
    src: SourceRef


class SourceMap:
    """One file: turns YAML marks and scalar nodes into positions and Texts."""

    def __init__(self, name: str, text: str):
        self.name = name
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_col(self, index: int) -> tuple[int, int]:
        line = bisect_right(self.line_starts, index)
        return line, index - self.line_starts[line - 1] + 1

    def where(self, node, item_type: str, item_name: str = "") -> Where:
        m = node.start_mark
        return Where(item_type, item_name, self.name, m.line + 1, m.column + 1)

    def ref_at(self, node, where: Where) -> SourceRef:
        """A SourceRef for a node that is not a string (a sequence): its start only."""
        line, col = self.line_col(node.start_mark.index)
        return SourceRef(self.name, line, col, where.item_type, where.item_name)

    def text_of(self, node, where: Where) -> Text:
        value = node.value
        start = node.start_mark.index
        raw = self.text[start:node.end_mark.index]
        line, col = self.line_col(start)
        spans: tuple[Span, ...] = ()
        if raw != value:
            spans = self._align(value, raw, start)
            if spans:
                line, col = spans[0].line, spans[0].column
        src = SourceRef(self.name, line, col, where.item_type, where.item_name, value, spans)
        return Text(value, src)

    def _align(self, value: str, raw: str, base: int) -> tuple[Span, ...]:
        """Map each character of a scalar's value to its place in the raw text.

        Greedy: each value character is looked for a little ahead in the raw
        text (skipping quotes, indentation, escape backslashes, the block
        header); a character that has no counterpart (a folded line break, an
        escape such as \\n) stays where the search was.  A new span starts
        wherever the mapping stops being contiguous on one line.
        """
        spans: list[Span] = []
        p = 0
        prev = None
        for i, c in enumerate(value):
            q = raw.find(c, p, p + 80)
            if q < 0 or raw.count("\n", p, q) > 1:
                q = min(p, max(len(raw) - 1, 0))
            else:
                p = q + 1
            index = base + q
            line, col = self.line_col(index)
            if prev is None or index != prev[0] + 1 or line != prev[1]:
                spans.append(Span(i, self.name, line, col))
            prev = (index, line)
        return tuple(spans)


def joined(pieces: list[Text], where: Where) -> SourceRef:
    """One SourceRef for pieces joined with blanks (a condition and its appends)."""
    if len(pieces) == 1:
        return pieces[0].src
    spans: list[Span] = []
    offset = 0
    for piece in pieces:
        spans.extend(Span(offset + s.offset, s.file, s.line, s.column) for s in _spans(piece.src))
        offset += len(piece.value) + 1
    first = pieces[0].src
    text = " ".join(p.value for p in pieces)
    return SourceRef(first.file, first.line, first.column, where.item_type, where.item_name,
                     text, tuple(spans))


def sub_source(src: SourceRef, start: int, end: int) -> SourceRef:
    """The SourceRef of src.text[start:end]."""
    spans = _spans(src)
    out: list[Span] = []
    for i, s in enumerate(spans):
        stop = spans[i + 1].offset if i + 1 < len(spans) else len(src.text) + 1
        if stop <= start:
            continue
        if s.offset >= end:
            break
        if s.offset < start:
            out.append(Span(0, s.file, s.line, s.column + start - s.offset))
        else:
            out.append(Span(s.offset - start, s.file, s.line, s.column))
    file, line, col = src.locate(start)
    return SourceRef(file, line, col, src.item_type, src.item_name, src.text[start:end],
                     tuple(out))


def _spans(src: SourceRef) -> list[Span]:
    if src.spans:
        return list(src.spans)
    out = [Span(0, src.file, src.line, src.column)]
    for i, c in enumerate(src.text):
        if c == "\n":
            out.append(Span(i + 1, src.file, src.line + len(out), 1))
    return out
