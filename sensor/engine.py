"""The embeddable rules engine: load rules, evaluate batches, count matches.

    eng = Engine(rule_matching="first")
    eng.load_rules_file("/etc/sensor/falco_rules.yaml")
    m = eng.evaluate(batch, procs, containers)      # or eng.evaluate((B, P, C))
    for row, rule in m: ...

Loading is Falco-like: every load adds its source after the earlier ones, and
the whole sequence is loaded again, so a later file may append to or override
what an earlier one defined.  A load that fails raises RulesError and leaves
the engine as it was.  Conditions are bound (fields resolved, literals
converted) and checked by the code generator at load time, so every error
shows up there; the numba kernel is compiled lazily, on the first evaluate
after a change.

Only rules of source "syscall" are evaluated.  The engine never logs, prints
or exits: it raises RulesError (sensor.compile.errors) or ValueError.

enable_rules(name_pattern, tag, enabled) selects rules like Falco's -D/-t/-T:
`name_pattern` is a substring of the rule name (a compiled `re.Pattern` is
searched instead), `tag` an exact tag; given both, a rule must satisfy both;
given neither, every rule.  Selections are replayed, in order, after a reload.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .compile import codegen, modcache
from .compile.bind import ConditionError, bind
from .compile.errors import LOAD_ERR_COMPILE_CONDITION, LoadMessage, RulesError
from .compile.rule import Rule

EVALUATED_SOURCE = "syscall"


@dataclass
class Matches:
    """Matches of one batch: parallel arrays, rows ascending (rule order within a row)."""
    rows: np.ndarray          # int64 row numbers
    rule_ids: np.ndarray      # int64 Rule.id
    _by_id: dict

    def __len__(self) -> int:
        return int(self.rows.size)

    def __iter__(self):
        return iter(zip(self.rows.tolist(), self.rule_ids.tolist()))

    def pairs(self) -> list[tuple[int, int]]:
        return list(self)

    def rules(self) -> list[Rule]:
        return [self._by_id[r] for r in self.rule_ids.tolist()]


class Engine:
    def __init__(self, rule_matching: str = "first", registry=None, catalog=None):
        """registry: field registry module (default sensor.events.fields); catalog:
        the loader's Catalog (default: built from the registry and the event table)."""
        self.rule_matching = rule_matching
        self._registry = registry
        self._catalog = catalog
        self._sources: list[tuple[str, str, Optional[str]]] = []   # (kind, name, text)
        self._selections: list[tuple] = []
        self._rules: list[Rule] = []
        self._bound: dict[int, object] = {}
        self.warnings: list[LoadMessage] = []
        self._module = None
        self._generated = None
        self._counts: Counter = Counter()
        self._events = 0
        self._min_priority = None

    # ------------------------------------------------------------ loading
    @property
    def rule_matching(self) -> str:
        return self._rule_matching

    @rule_matching.setter
    def rule_matching(self, value: str) -> None:
        if value not in ("first", "all"):
            raise ValueError(f"rule_matching must be 'first' or 'all', not {value!r}")
        self._rule_matching = value
        self._module = None

    @property
    def rules(self) -> list[Rule]:
        return list(self._rules)

    def load_rules_file(self, path: str) -> None:
        """Add a rules file, or a directory of them (its files, sorted by name)."""
        self._load(self._sources + [("path", str(path), None)])

    def load_rules(self, text: str, name: str = "rules") -> None:
        """Add rules from YAML text; `name` stands for the file in messages."""
        self._load(self._sources + [("text", name, text)])

    def _load(self, sources) -> None:
        from .compile.loader import Loader
        loader = Loader(self._loader_catalog())
        for kind, name, text in sources:
            if kind == "path":
                loader.add_path(name)
            else:
                loader.add_text(name, text)
        ruleset = loader.compile()
        bound, errors = bind_rules(ruleset.rules, self._registry, self._type_name(),
                                   loader.ctx.diag.source_line)
        if errors:
            raise RulesError(errors, ruleset.warnings)
        self._sources = list(sources)
        self._rules = ruleset.rules
        self._bound = bound
        self.warnings = list(ruleset.warnings)
        for sel in self._selections:
            self._apply(*sel)
        self._changed()

    def check_output_field(self, ref) -> None:
        """Raise FieldProblem if `ref` cannot be printed in an output (append_output)."""
        from .compile.context import Catalog
        catalog = self._loader_catalog() or Catalog.default()
        catalog.check_field(ref.name, ref.arg, in_output=True)

    def _loader_catalog(self):
        if self._catalog is None and self._registry is not None:
            from .compile.context import Catalog
            from .events import evttypes
            self._catalog = Catalog(self._registry.lookup, evttypes.type_id,
                                    evttypes.type_name, evttypes.all_type_ids)
        return self._catalog

    def _type_name(self):
        if self._catalog is not None:
            return self._catalog.type_name
        from .events.evttypes import type_name
        return type_name

    # ------------------------------------------------------------ selection
    def enable_rules(self, name_pattern=None, tag: Optional[str] = None,
                     enabled: bool = True) -> int:
        """Enable (or disable) the selected rules; returns how many were selected."""
        self._selections.append((name_pattern, tag, enabled))
        n = self._apply(name_pattern, tag, enabled)
        self._changed()
        return n

    def _apply(self, name_pattern, tag, enabled) -> int:
        n = 0
        for r in self._rules:
            if name_pattern is not None:
                if isinstance(name_pattern, re.Pattern):
                    if not name_pattern.search(r.name):
                        continue
                elif name_pattern not in r.name:
                    continue
            if tag is not None and tag not in r.tags:
                continue
            r.enabled = enabled
            n += 1
        return n

    def set_min_priority(self, priority) -> None:
        """Evaluate only rules at least as severe as `priority` (Falco's `priority`
        setting; a compile.rule.Priority, or None for all)."""
        self._min_priority = priority
        self._changed()

    def describe_rule(self, name: Optional[str] = None):
        """A dict for the rule named `name`, or a list of dicts for all rules."""
        if name is None:
            return [self._describe(r) for r in self._rules]
        for r in self._rules:
            if r.name == name:
                return self._describe(r)
        raise KeyError(name)

    def _describe(self, r: Rule) -> dict:
        names = None
        if r.evttypes is not None:
            tn = self._type_name()
            names = sorted({tn(t) for t in r.evttypes})
        return {"id": r.id, "name": r.name, "desc": r.desc, "condition": r.condition_text,
                "output": r.output.text, "priority": r.priority.label(), "tags": list(r.tags),
                "source": r.source, "enabled": r.enabled, "event_types": names}

    # ------------------------------------------------------------ compiling
    def _changed(self) -> None:
        self._module = None
        self._generated = None

    def _active(self):
        floor = self._min_priority
        return [(r, self._bound[r.id]) for r in self._rules
                if r.enabled and r.id in self._bound and (floor is None or r.priority <= floor)]

    def event_types(self) -> Optional[set]:
        """The event type ids the active rules can match; None when a rule can
        match any type (live capture then attaches every probe)."""
        types = set()
        for r, _ in self._active():
            if r.evttypes is None:
                return None
            types.update(r.evttypes)
        return types

    def generate(self) -> codegen.Generated:
        if self._generated is None:
            self._generated = codegen.generate(self._active(), self.rule_matching,
                                               self._registry, self._type_name())
        return self._generated

    def generated_source(self) -> str:
        return self.generate().source

    def rule_for_line(self, line: int) -> Optional[Rule]:
        """The rule whose code holds `line` (1-based) of generated_source()."""
        rid = self.generate().rule_at(line)
        return next((r for r in self._rules if r.id == rid), None)

    def compile(self):
        """Import the generated module (compiled by numba on first call, or from cache)."""
        if self._module is None:
            self._module = modcache.load(self.generate().source)
        return self._module

    # ------------------------------------------------------------ evaluating
    def evaluate(self, batch, procs=None, containers=None, shard=None) -> Matches:
        """Matches of the enabled rules on a batch.  `batch` may be a (B, P, C) tuple
        or an object with .batch/.procs/.containers.  shard: None (every row) or
        (shard_of_row, w), an int8 array with an entry per row and a worker's
        number: only rows with shard_of_row[row] == w are evaluated (by every rule;
        the same matches as evaluating all rows and keeping those rows') and
        counted in stats()["events"]."""
        B, P, C = _unbundle(batch, procs, containers)
        n = int(B.n[0])
        events = n if shard is None else int(np.count_nonzero(shard[0][:n] == shard[1]))
        by_id = {r.id: r for r in self._rules}
        if not self._active() or n == 0:
            empty = np.zeros(0, np.int64)
            self._events += events
            return Matches(empty, empty.copy(), by_id)
        rows, ids = codegen.run_kernel(self.generate(), self.compile(), B, P, C, shard)
        self._events += events
        for rid, cnt in zip(*np.unique(ids, return_counts=True)):
            self._counts[int(rid)] += int(cnt)
        return Matches(rows, ids, by_id)

    def stats(self) -> dict:
        by_rule, by_prio = {}, Counter()
        for r in self._rules:
            c = self._counts.get(r.id, 0)
            if c:
                by_rule[r.name] = by_rule.get(r.name, 0) + c
                by_prio[r.priority.label()] += c
        return {"events": self._events, "matches": sum(self._counts.values()),
                "by_rule": by_rule, "by_priority": dict(by_prio)}

    def reset_stats(self) -> None:
        self._counts.clear()
        self._events = 0


def bind_rules(rules, registry=None, type_name=None,
               source_line=None) -> tuple[dict, list[LoadMessage]]:
    """Bind every evaluated rule and generate its code once, alone: what the
    compiler cannot handle (a literal of the wrong type, an operator the kernel
    lacks) becomes a LoadMessage with the rule's position.  Returns
    ({rule id: bound condition}, errors).  `sensor rules validate` runs this too,
    so a file that validates is a file the engine loads.  source_line(file, line):
    the text the loader parsed, quoted in messages (the loader's Diagnostics)."""
    bound, errors = {}, []
    for rule in rules:
        if rule.source != EVALUATED_SOURCE:
            continue
        try:
            bound[rule.id] = bind(rule.condition, registry)
            codegen.generate([(rule, bound[rule.id])], registry=registry, type_name=type_name)
        except ConditionError as e:
            errors.append(_message(rule, e, source_line))
    return bound, errors


def _unbundle(batch, procs, containers):
    if procs is not None:
        return batch, procs, containers
    if isinstance(batch, tuple) and len(batch) == 3 and not hasattr(batch, "_fields"):
        return batch
    return batch.batch, batch.procs, batch.containers


def _message(rule: Rule, e: ConditionError, source_line=None) -> LoadMessage:
    """The error at the node's position in its file, quoting that line as parsed."""
    node = e.node
    src = getattr(node, "src", None) or rule.src
    pos = getattr(node, "pos", 0) if node is not None else 0
    file, line, col = src.locate(pos) if src.text else (src.file, src.line, src.column)
    snippet = source_line(file, line) if source_line and file and line else ""
    return LoadMessage(LOAD_ERR_COMPILE_CONDITION, "rule", rule.name, e.message,
                       file, line, col, snippet)
