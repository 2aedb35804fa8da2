"""Collector: declarations from every file, in order -> the final lists, macros and rules.

The second loading stage.  It applies definitions, appends, overrides and
`enabled` toggles exactly in load order, across files, and never parses or
compiles a condition: conditions stay as the text pieces they were written
in (an append adds a piece; the compiler joins them with a blank, as Falco
does).

Ordering follows Falco.  Every declaration gets the next number.  A name's
`index` is the number of its first definition (its slot: redefining keeps
the slot); its `visibility` is the number of its latest definition or append.
A list item or a macro reference inside a macro resolves only to lists and
macros whose index is below the visibility of the one referring to them;
rules see everything.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .context import BUILTIN_PLUGINS, LoadContext
from .errors import LOAD_ERR_VALIDATE, LOAD_UNKNOWN_SOURCE, Where
from .parser import LIST_OPS, NUM_OPS, STR_SYMBOL_OPS, STR_WORD_OPS, UNARY_OPS
from .reader import (Decl, EngineVersion, ExceptionSpec, ListDecl, MacroDecl, PluginRequirement,
                     RuleDecl, Seq)
from .rule import Priority
from .sources import Text

SUPPORTED_OPERATORS = frozenset(UNARY_OPS + NUM_OPS + STR_SYMBOL_OPS + STR_WORD_OPS + LIST_OPS)


@dataclass
class ListInfo:
    name: str
    items: list[Text]
    index: int
    visibility: int
    where: Where


@dataclass
class MacroInfo:
    name: str
    condition: list[Text]
    index: int
    visibility: int
    where: Where


@dataclass
class RuleInfo:
    name: str
    where: Where
    condition: list[Text]
    output: list[Text]
    desc: str
    priority: Priority
    source: str = "syscall"
    tags: list[str] = field(default_factory=list)
    enabled: bool = True
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    exceptions: list[ExceptionSpec] = field(default_factory=list)
    unknown_source: bool = False


class _Invalid(Exception):
    def __init__(self, where: Where, message: str):
        super().__init__(message)
        self.where, self.message = where, message


def _semver(v: tuple) -> str:
    return ".".join(str(x) for x in v)


def _parse_version(text: str) -> Optional[tuple]:
    parts = text.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


class Collector:
    def __init__(self, ctx: LoadContext):
        self.ctx = ctx
        self.lists: dict[str, ListInfo] = {}     # insertion order is slot order
        self.macros: dict[str, MacroInfo] = {}
        self.rules: dict[str, RuleInfo] = {}
        self.required_engine_version: Optional[EngineVersion] = None
        self._next = 0

    def add(self, decl: Decl) -> bool:
        """Apply one declaration; False (and an error reported) if it is invalid."""
        handler = {EngineVersion: self._engine_version, PluginRequirement: self._plugins,
                   ListDecl: self._list, MacroDecl: self._macro, RuleDecl: self._rule}[type(decl)]
        try:
            handler(decl)
            return True
        except _Invalid as e:
            self.ctx.diag.report(LOAD_ERR_VALIDATE, e.where, e.message)
            return False

    def _number(self) -> int:
        self._next += 1
        return self._next - 1

    # ------------------------------------------------------------ requirements

    def _engine_version(self, decl: EngineVersion) -> None:
        ours = self.ctx.engine_version
        if decl.version[0] != ours[0] or decl.version > ours:
            raise _Invalid(decl.where, f"Rules require engine version {decl.text}, "
                                       f"but engine version is {_semver(ours)}")
        if self.required_engine_version is None or \
                decl.version > self.required_engine_version.version:
            self.required_engine_version = decl

    def _plugins(self, decl: PluginRequirement) -> None:
        for name, version in decl.alternatives:
            if _parse_version(version) is None:
                raise _Invalid(decl.where, f"Invalid required version '{version}' for plugin "
                                           f"'{name}'")
        # The container plugin's fields are built in; no other plugin can be loaded.
        if not any(name in BUILTIN_PLUGINS for name, _ in decl.alternatives):
            wanted = ", ".join(f"{n} (>= {v})" for n, v in decl.alternatives)
            raise _Invalid(decl.where, "Plugin requirement not satisfied, must load one of: "
                                       + wanted)

    # ------------------------------------------------------------ lists and macros

    def _list(self, decl: ListDecl) -> None:
        n = self._number()
        prev = self.lists.get(decl.name)
        if decl.append:
            if prev is None:
                raise _Invalid(decl.where, "List has 'append' key but no list by that name "
                                           "already exists")
            prev.items.extend(decl.items)
            prev.visibility = n
        else:
            index = prev.index if prev else n
            self.lists[decl.name] = ListInfo(decl.name, list(decl.items), index, n, decl.where)

    def _macro(self, decl: MacroDecl) -> None:
        n = self._number()
        prev = self.macros.get(decl.name)
        if decl.append:
            if prev is None:
                raise _Invalid(decl.where, "Macro has 'append' key but no macro by that name "
                                           "already exists")
            prev.condition.append(decl.condition)
            prev.visibility = n
        else:
            index = prev.index if prev else n
            self.macros[decl.name] = MacroInfo(decl.name, [decl.condition], index, n, decl.where)

    # ------------------------------------------------------------ rules

    def _rule(self, decl: RuleDecl) -> None:
        {"define": self._define_rule, "append": self._append_rule,
         "replace": self._replace_rule, "enable": self._enable_rule}[decl.mode](decl)
        self._number()

    def _define_rule(self, decl: RuleDecl) -> None:
        p = decl.props
        prev = self.rules.get(decl.name)
        if prev is not None and prev.source != p["source"]:
            raise _Invalid(decl.where, "Rule has been re-defined with a different source")
        info = RuleInfo(decl.name, decl.where, [p["condition"]], [p["output"]], p["desc"],
                        p["priority"], p["source"], list(p["tags"]),
                        p.get("enabled", True), p.get("warn_evttypes", True),
                        p.get("skip-if-unknown-filter", False), list(p["exceptions"]))
        if info.source not in self.ctx.sources:
            info.unknown_source = True
            self.ctx.diag.report(LOAD_UNKNOWN_SOURCE, decl.where,
                                 f"Unknown source {info.source}, skipping")
        else:
            for ex in info.exceptions:
                self._check_exception(ex)
        # A redefinition takes the slot of the first definition (dicts keep insertion order).
        self.rules[decl.name] = info

    def _previous(self, decl: RuleDecl, message: str) -> RuleInfo:
        prev = self.rules.get(decl.name)
        if prev is None:
            raise _Invalid(decl.where, message)
        return prev

    def _append_rule(self, decl: RuleDecl) -> None:
        prev = self._previous(decl, "Rule has 'append' key but no rule by that name already exists")
        p = decl.props
        if not p:
            raise _Invalid(decl.where, "Appended rule must have exceptions or condition property")
        if p.get("condition") is not None and p["condition"].value.strip():
            prev.condition.append(p["condition"])
        if p.get("output") is not None and p["output"].value.strip():
            prev.output.append(p["output"])
        if p.get("desc"):
            prev.desc += " " + p["desc"]
        for tag in p.get("tags") or ():
            if tag not in prev.tags:
                prev.tags.append(tag)
        for ex in p.get("exceptions") or ():
            self._append_exception(prev, ex)

    def _append_exception(self, rule: RuleInfo, ex: ExceptionSpec) -> None:
        existing = next((e for e in rule.exceptions if e.name == ex.name), None)
        if existing is None:
            if ex.fields is None:
                raise _Invalid(ex.where, "Rule exception must have fields property with a list "
                                         "of fields")
            if not ex.values:
                raise _Invalid(ex.where, "Rule exception must have values property with a list "
                                         "of values")
            if not rule.unknown_source:
                self._check_exception(ex)
            rule.exceptions.append(ex)
            return
        if ex.fields is not None:
            raise _Invalid(ex.where, "Can not append exception fields to existing exception, "
                                     "only values")
        if ex.comps is not None:
            raise _Invalid(ex.where, "Can not append exception comps to existing exception, "
                                     "only values")
        existing.values.extend(ex.values)

    def _replace_rule(self, decl: RuleDecl) -> None:
        prev = self._previous(decl, "An 'override.<key>: replace' to a rule was requested but no "
                                    "rule by that name already exists")
        p = decl.props
        if "condition" in p:
            prev.condition = [p["condition"]]
        if "output" in p:
            prev.output = [p["output"]]
        if "desc" in p:
            prev.desc = p["desc"]
        if "tags" in p:
            prev.tags = list(p["tags"])
        if "exceptions" in p:
            for ex in p["exceptions"]:
                if ex.fields is None:
                    raise _Invalid(ex.where, "Rule exception item must have fields property with "
                                             "a list of fields")
                if not prev.unknown_source:
                    self._check_exception(ex)
            prev.exceptions = list(p["exceptions"])
        for key, attr in (("priority", "priority"), ("enabled", "enabled"),
                          ("warn_evttypes", "warn_evttypes"),
                          ("skip-if-unknown-filter", "skip_if_unknown_filter")):
            if key in p:
                setattr(prev, attr, p[key])

    def _enable_rule(self, decl: RuleDecl) -> None:
        prev = self._previous(decl, "Rule has 'enabled' key but no rule by that name already "
                                    "exists")
        prev.enabled = decl.props["enabled"]

    # ------------------------------------------------------------ exceptions

    def _check_exception(self, ex: ExceptionSpec) -> None:
        """Falco's checks of an exception's shape; fills in the default comparisons."""
        if ex.fields is None:
            raise _Invalid(ex.where, "Rule exception item must have fields property with a list "
                                     "of fields")
        if isinstance(ex.fields, Seq):
            if ex.comps is None:
                ex.comps = Seq(tuple(Text("=", f.src) for f in ex.fields.items), ex.fields.src)
            comps = ex.comps.items if isinstance(ex.comps, Seq) else ()
            if len(comps) != len(ex.fields.items):
                raise _Invalid(ex.where, "Fields and comps lists must have equal length")
            for comp in comps:
                if not isinstance(comp, Text) or comp.value not in SUPPORTED_OPERATORS:
                    raise _Invalid(ex.where, f"'{_entry_text(comp)}' is not a supported "
                                             "comparison operator")
            fields = ex.fields.items
        else:
            if ex.comps is None:
                ex.comps = Text("in", ex.fields.src)
            if isinstance(ex.comps, Seq):
                raise _Invalid(ex.where, "Fields and comps must both be strings")
            if ex.comps.value not in LIST_OPS:
                raise _Invalid(ex.where, "When fields is a single value, comps must be one of "
                                         "(in, pmatch, intersects)")
            fields = (ex.fields,)
        for f in fields:
            if not isinstance(f, Text) or not self.ctx.catalog.field_known(f.value):
                raise _Invalid(ex.where, f"'{_entry_text(f)}' is not a supported filter field")


def _entry_text(entry) -> str:
    if isinstance(entry, Text):
        return entry.value
    return "(" + ", ".join(_entry_text(e) for e in entry.items) + ")"
