"""From a match (row, rule) to an Alert: the rule's output rendered on that row.

Rendering must happen while the row's tables are still valid: the state engine
may reuse a process slot once the batch is released, so the caller turns
matches into Alerts before it releases the batch.

Each rule's output format is prepared once (fields bound, transformers
resolved); rendering a match is then a walk over literal parts and field
readers.  A field without a value prints as Falco's `<NA>` in the text and as
null in output_fields.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..compile import reference
from ..compile.bind import bind_field
from ..compile.rule import Rule
from ..events.fields import FType, Kind, field_text

NA = "<NA>"


@dataclass
class Alert:
    ts: int                      # evt.time, ns since the epoch
    rule: str
    priority: Any                # compile.rule.Priority
    source: str
    tags: tuple
    output: str
    output_fields: dict = field(default_factory=dict)
    num: int = 0                 # evt.num of the event
    repeated: int = 0            # dedup: copies this alert stands for, besides the first
    repeated_ns: int = 0         # dedup: from the first copy's time to this one's


class _FieldPart:
    """One %field of an output: how to read its text and its JSON value."""

    def __init__(self, ref):
        self.bf = bind_field(ref)
        self.name = self.bf.text
        f = self.bf.field
        self.plain_number = (f.kind == Kind.NUM and not self.bf.transformers and f.text is None
                             and f.format is None and f.flags is None
                             and f.type != FType.BOOL)

    def value(self, B, P, C, i) -> tuple[Optional[str], Any]:
        """(text, JSON value) on row i; (None, None) when the field has no value."""
        bf = self.bf
        if bf.transformers:
            v = reference.read(bf, B, P, C, i)
            if v is None:
                return None, None
            text = str(v) if isinstance(v, int) else v.decode("utf-8", "replace")
            return text, v if isinstance(v, int) else text
        text = field_text(bf.field, B, P, C, i, bf.arg, bf.key)
        if text is None:
            return None, None
        if self.plain_number:
            try:
                return text, int(text)
            except ValueError:
                pass
        return text, text


def _prepared(parts) -> list:
    return [p if isinstance(p, str) else _FieldPart(p) for p in parts]


class RuleOutput:
    """A rule's output, prepared for rendering; with append_output's extra fields
    (rule.extra_fields: (name, OutputFormat)), which go to output_fields only."""

    def __init__(self, rule: Rule):
        self.rule = rule
        self.parts = _prepared(rule.output.parts)
        self.extra = [(name, _prepared(fmt.parts)) for name, fmt in rule.extra_fields]

    def render(self, B, P, C, i: int) -> Alert:
        out, fields = [], {}
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            text, value = part.value(B, P, C, i)
            out.append(NA if text is None else text)
            fields[part.name] = value
        for name, parts in self.extra:
            fields[name] = self._extra_value(parts, B, P, C, i)
        r = self.rule
        return Alert(int(B.ts[i]), r.name, r.priority, r.source, tuple(r.tags), "".join(out),
                     fields, int(B.num[i]))


    @staticmethod
    def _extra_value(parts, B, P, C, i):
        """One extra field: a lone %field keeps its JSON value; text with fields is text."""
        if len(parts) == 1 and not isinstance(parts[0], str):
            return parts[0].value(B, P, C, i)[1]
        out = []
        for part in parts:
            text = part if isinstance(part, str) else part.value(B, P, C, i)[0]
            out.append(NA if text is None else text)
        return "".join(out)


class AlertRenderer:
    """Matches of a batch -> Alerts, with each rule's output prepared once."""

    def __init__(self):
        self._outputs: dict[int, RuleOutput] = {}

    def alerts(self, matches, B, P, C) -> list[Alert]:
        result = []
        rules = matches.rules()
        for (row, _), rule in zip(matches, rules):
            ro = self._outputs.get(id(rule))
            if ro is None or ro.rule is not rule:
                ro = self._outputs[id(rule)] = RuleOutput(rule)
            result.append(ro.render(B, P, C, row))
        return result
