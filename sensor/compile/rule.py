"""What the loader hands to the evaluators: rules with conditions fully expanded.

The loader (reader -> collector -> compiler front end) produces a `RuleSet`;
the reference evaluator and the code generator consume it.  In `Rule.condition`
there are no macros (Ident) and no list names left: macros are spliced in,
list items are spliced into ValueLists, exceptions are folded in as
`and not (...)`, and every FieldRef names a registered field.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Optional

from .ast import Expr, FieldRef, SourceRef


class Priority(IntEnum):
    """Falco's priorities; a lower value is more severe (as syslog)."""
    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFORMATIONAL = 6
    DEBUG = 7

    @classmethod
    def parse(cls, text: str) -> "Priority":
        """Falco accepts any case and the short forms INFO / WARN / ERR / CRIT / EMERG."""
        t = text.strip().upper()
        aliases = {"INFO": "INFORMATIONAL", "WARN": "WARNING", "ERR": "ERROR",
                   "CRIT": "CRITICAL", "EMERG": "EMERGENCY"}
        return cls[aliases.get(t, t)]

    def label(self) -> str:
        """As Falco prints it: Emergency, ..., Informational, Debug."""
        return self.name.capitalize()


@dataclass
class OutputFormat:
    """A rule's output string split into literal text and fields."""
    text: str
    parts: list          # str chunks and FieldRef, in order
    fields: list[FieldRef] = field(default_factory=list)   # the FieldRefs of `parts`


@dataclass
class Rule:
    id: int                          # position in load order: rule_matching=first order
    name: str
    condition: Expr                  # expanded: see the module docstring
    output: OutputFormat
    priority: Priority
    desc: str = ""
    source: str = "syscall"
    tags: tuple[str, ...] = ()
    enabled: bool = True
    evttypes: Optional[frozenset[int]] = None   # event type ids; None: all types
    src: SourceRef = field(default_factory=SourceRef)
    condition_text: str = ""         # after appends/overrides, before expansion
    extra_fields: tuple = ()         # append_output: (name, OutputFormat), JSON only


@dataclass
class RuleSet:
    rules: list[Rule]
    warnings: list                   # sensor.compile.errors.LoadMessage
    required_engine_version: str = ""
