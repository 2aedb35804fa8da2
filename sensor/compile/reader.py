"""Reader: one rules file (YAML text) -> declarations, each with its position.

The first of the three loading stages (reader -> collector -> compiler).  It
checks the shape of every item the way Falco's reader does, with Falco's
codes and messages, and turns each item into a declaration for the
collector: define/append a list or macro, define/append/replace/enable a
rule, require an engine or plugin version.  It knows nothing of other files,
of fields or of the condition language.

YAML is composed, not loaded, so every value keeps its line and column, and
scalars keep their source text (`yes` stays the string "yes", `22` stays
"22", as Falco's yaml-cpp reads them).  A string value that ends up in a
message (a condition, an output, a list item) becomes a `Text` whose
SourceRef maps each character back to the file, even through folded block
scalars and escapes.  The first problem stops the file, as in Falco.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional, Union

import yaml

from .ast import SourceRef
from .errors import (LOAD_APPEND_NO_VALUES, LOAD_DEPRECATED_ITEM, LOAD_ERR_YAML_PARSE,
                     LOAD_ERR_YAML_VALIDATE, LOAD_INVALID_LIST_NAME, LOAD_INVALID_MACRO_NAME,
                     LOAD_UNKNOWN_ITEM, Diagnostics, Where)
from .rule import Priority
from .sources import SourceMap, Text

_NULL_TAG = "tag:yaml.org,2002:null"
_TRUE = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}
_FALSE = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}
_MACRO_NAME = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_LIST_NAME = re.compile(r"[^()\"'\s=,]+")
_SEMVER = re.compile(r"(\d+)\.(\d+)\.(\d+)")

DEPRECATED_APPEND = ("The 'append' key is deprecated: write an 'override' entry instead "
                     "(e.g. 'condition: append').")
DEPRECATED_ENABLED = ("A rule item with only 'enabled' is deprecated: add 'override' with "
                      "'enabled: replace'.")
OVERRIDE_AND_APPEND = "Keys 'override' and 'append: true' cannot be used together."

RULE_APPENDABLE = ("condition", "output", "desc", "tags", "exceptions")
RULE_REPLACEABLE = ("condition", "output", "desc", "priority", "tags", "exceptions", "enabled",
                    "warn_evttypes", "skip-if-unknown-filter")

# YAML aliases let a few lines stand for a huge tree of exception values.
MAX_EXCEPTION_VALUES = 100_000

# PyYAML and yaml-cpp word the same problem differently; Falco's messages quote yaml-cpp.
_YAML_CPP_WORDING = {"mapping values are not allowed here": "illegal map value"}


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Seq:
    """A YAML sequence value (of exception fields/comps/values)."""
    items: tuple["Entry", ...]
    src: SourceRef


Entry = Union[Text, Seq]


@dataclass
class ExceptionSpec:
    name: str
    where: Where
    fields: Optional[Entry] = None
    comps: Optional[Entry] = None
    values: list[Entry] = field(default_factory=list)


@dataclass
class EngineVersion:
    version: tuple[int, int, int]
    text: str
    where: Where


@dataclass
class PluginRequirement:
    alternatives: list[tuple[str, str]]     # (plugin name, version); one must be met
    where: Where


@dataclass
class ListDecl:
    name: str
    items: list[Text]
    append: bool
    where: Where


@dataclass
class MacroDecl:
    name: str
    condition: Text
    append: bool
    where: Where


@dataclass
class RuleDecl:
    """mode: define | append | replace | enable.  `props` holds what the item sets:
    condition/output (Text), desc/source (str), priority (Priority), tags (list[str]),
    enabled/warn_evttypes/skip-if-unknown-filter (bool), exceptions (list[ExceptionSpec])."""
    name: str
    mode: str
    props: dict
    where: Where


Decl = Union[EngineVersion, PluginRequirement, ListDecl, MacroDecl, RuleDecl]


class _Invalid(Exception):
    def __init__(self, code: str, where: Where, message: str):
        super().__init__(message)
        self.code, self.where, self.message = code, where, message


# ---------------------------------------------------------------- node helpers


def _get(mapping, key: str):
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _is_null(node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def _is_map(node) -> bool:
    return isinstance(node, yaml.MappingNode)


def _is_seq(node) -> bool:
    return isinstance(node, yaml.SequenceNode)


def _is_scalar(node) -> bool:
    return isinstance(node, yaml.ScalarNode) and not _is_null(node)


class _ItemReader:
    """Reads the items of one file; `decls` receives what was read."""

    def __init__(self, name: str, text: str, diag: Diagnostics):
        self.map = SourceMap(name, text)
        self.diag = diag
        self.decls: list[Decl] = []
        self.entries_left = MAX_EXCEPTION_VALUES

    # ------------------------------------------------------------ value decoding

    def fail(self, where: Where, message: str, node=None):
        if node is not None:
            m = node.start_mark
            where = where.at(self.map.name, m.line + 1, m.column + 1)
        raise _Invalid(LOAD_ERR_YAML_VALIDATE, where, message)

    def scalar(self, item, key: str, where: Where, required: bool = True):
        """The scalar node under `key`, checked as Falco's decode_val does (None if absent)."""
        node = _get(item, key)
        if node is None:
            if required:
                self.fail(where, f"Item has no mapping for key '{key}'")
            return None
        if _is_null(node):
            self.fail(where, f"Mapping for key '{key}' is empty", node)
        if not isinstance(node, yaml.ScalarNode):
            self.fail(where, "Value is not a scalar value", node)
        if node.value == "":
            self.fail(where, "Value must be non-empty", node)
        return node

    def string(self, item, key, where, required=True) -> Optional[str]:
        node = self.scalar(item, key, where, required)
        return None if node is None else node.value

    def text(self, item, key, where, required=True) -> Optional[Text]:
        node = self.scalar(item, key, where, required)
        return None if node is None else self.map.text_of(node, where)

    def boolean(self, item, key, where, required=False) -> Optional[bool]:
        node = self.scalar(item, key, where, required)
        if node is None:
            return None
        if node.value in _TRUE:
            return True
        if node.value in _FALSE:
            return False
        self.fail(where, "Can't decode YAML scalar value", node)

    def sequence(self, item, key, where, required) -> Optional[list]:
        node = _get(item, key)
        if node is None:
            if required:
                self.fail(where, f"Item has no mapping for key '{key}'")
            return None
        if not _is_seq(node):
            self.fail(where, "Value is not a sequence", node)
        for v in node.value:
            if not _is_scalar(v):
                self.fail(where, "sequence value is not scalar", v)
        return node.value

    def entry(self, node, where: Where) -> Entry:
        """An exception's fields/comps/value: a scalar or a (nested) sequence."""
        self.entries_left -= 1
        if self.entries_left < 0:
            self.fail(where, f"More than {MAX_EXCEPTION_VALUES} exception values", node)
        if _is_seq(node):
            return Seq(tuple(self.entry(v, where) for v in node.value), self.map.ref_at(node, where))
        if not _is_scalar(node) or node.value == "":
            self.fail(where, "Value must be non-empty", node)
        return self.map.text_of(node, where)

    # ------------------------------------------------------------ items

    def read_document(self, doc) -> None:
        if doc is None or _is_null(doc):
            return
        content = Where("rules content", "", self.map.name)
        if not _is_map(doc) and not _is_seq(doc):
            self.fail(content, "Rules content is not yaml")
        if not _is_seq(doc):
            self.fail(content, "Rules content is not yaml array of objects")
        for item in doc.value:
            if not _is_null(item):
                self.read_item(item)

    def read_item(self, item) -> None:
        if not _is_map(item):
            self.fail(self.map.where(item, "rules content item"),
                      "Unexpected element type. Each element should be a yaml associative array.")
        for key, reader in (("required_engine_version", self.read_engine_version),
                            ("required_plugin_versions", self.read_plugin_versions),
                            ("list", self.read_list), ("macro", self.read_macro),
                            ("rule", self.read_rule)):
            if _get(item, key) is not None:
                return reader(item)
        self.diag.report(LOAD_UNKNOWN_ITEM, self.map.where(item, "rules content item"),
                         "Unknown top level item")

    def read_engine_version(self, item) -> None:
        where = self.map.where(item, "required_engine_version")
        node = self.scalar(item, "required_engine_version", where)
        text = node.value
        if text.isdigit():                  # a bare number N means 0.N.0
            version = (0, int(text), 0)
        elif _SEMVER.fullmatch(text):
            version = tuple(int(x) for x in _SEMVER.fullmatch(text).groups())
        else:
            self.fail(where, "Can't decode YAML scalar value", node)
        self.decls.append(EngineVersion(version, text, where))

    def read_plugin_versions(self, item) -> None:
        node = _get(item, "required_plugin_versions")
        where = self.map.where(node, "required_plugin_versions")
        if not _is_seq(node):
            self.fail(where, "Value of required_plugin_versions must be a sequence")
        for plugin in node.value:
            entry = self.map.where(plugin, "required_plugin_versions entry")
            if not _is_map(plugin):
                self.fail(entry, "Plugin version must be a mapping")
            alternatives = [self.plugin_version(plugin, entry)]
            alt_node = _get(plugin, "alternatives")
            if alt_node is not None:
                if not _is_seq(alt_node):
                    self.fail(entry, "Value of plugin version alternatives must be a sequence")
                for alt in alt_node.value:
                    alt_where = self.map.where(alt, "required_plugin_versions alternative")
                    if not _is_map(alt):
                        self.fail(alt_where, "Plugin version alternative must be a mapping")
                    alternatives.append(self.plugin_version(alt, alt_where))
            self.decls.append(PluginRequirement(alternatives, entry))

    def plugin_version(self, node, where) -> tuple[str, str]:
        name = self.string(node, "name", where)
        return name, self.string(node, "version", Where(where.item_type, name, where.file,
                                                        where.line, where.column))

    def read_overrides(self, item, where, appendable, replaceable) -> tuple[set, set]:
        node = _get(item, "override")
        if node is None:
            return set(), set()
        if not _is_map(node):
            self.fail(where, "Value of 'override' must be a mapping", node)
        append, replace = set(), set()
        for k, v in node.value:
            key, op = k.value, getattr(v, "value", "")
            if op == "append":
                if key not in appendable:
                    self.fail(where, f"Key '{key}' cannot be appended to, use 'replace' instead", k)
                append.add(key)
            elif op == "replace":
                if key not in replaceable:
                    self.fail(where, f"Key '{key}' cannot be replaced", k)
                replace.add(key)
            else:
                allowed = " ".join(o for o, ok in (("append", key in appendable),
                                                   ("replace", key in replaceable)) if ok)
                self.fail(where, f"Invalid override operation for key '{key}': '{op}'. "
                                 f"Allowed values are: {allowed}", v)
        return append, replace

    def read_append_flag(self, item, where) -> bool:
        append = bool(self.boolean(item, "append", where))
        if append:
            self.diag.report(LOAD_DEPRECATED_ITEM, where, DEPRECATED_APPEND)
        return append

    def read_list(self, item) -> None:
        name = self.string(item, "list", self.map.where(item, "list"))
        where = self.map.where(item, "list", name)
        if not _LIST_NAME.fullmatch(name):
            self.diag.report(LOAD_INVALID_LIST_NAME, where,
                             f"List name '{name}' cannot be referenced from a condition: "
                             "it must be a bare word (no blanks, quotes, parentheses, '=' or ',')")
        items = [self.map.text_of(v, where) for v in self.sequence(item, "items", where, True)]
        append = self.read_append_flag(item, where)
        over_append, over_replace = self.read_overrides(item, where, ("items",), ("items",))
        if append and (over_append or over_replace):
            self.fail(where, OVERRIDE_AND_APPEND)
        self.decls.append(ListDecl(name, items, append or "items" in over_append, where))

    def read_macro(self, item) -> None:
        name = self.string(item, "macro", self.map.where(item, "macro"))
        where = self.map.where(item, "macro", name)
        if not _MACRO_NAME.fullmatch(name):
            self.diag.report(LOAD_INVALID_MACRO_NAME, where,
                             f"Macro name '{name}' cannot be referenced from a condition: "
                             "it must be a letter followed by letters, digits or '_'")
        condition = self.text(item, "condition", where)
        append = self.read_append_flag(item, where)
        over_append, over_replace = self.read_overrides(item, where, ("condition",), ("condition",))
        if append and (over_append or over_replace):
            self.fail(where, OVERRIDE_AND_APPEND)
        self.decls.append(MacroDecl(name, condition, append or "condition" in over_append, where))

    def read_rule(self, item) -> None:
        name = self.string(item, "rule", self.map.where(item, "rule"))
        where = self.map.where(item, "rule", name)
        append = self.read_append_flag(item, where)
        over_append, over_replace = self.read_overrides(item, where, RULE_APPENDABLE,
                                                        RULE_REPLACEABLE)
        if append and (over_append or over_replace):
            self.fail(where, OVERRIDE_AND_APPEND)
        if over_append or over_replace:
            self.read_rule_overrides(item, name, where, over_append, over_replace)
        elif append:
            props = {}
            if _get(item, "condition") is not None:
                props["condition"] = self.text(item, "condition", where)
            if _get(item, "exceptions") is not None:
                props["exceptions"] = self.exceptions(item, where, appending=True)
            self.decls.append(RuleDecl(name, "append", props, where))
        elif all(_get(item, k) is None for k in ("condition", "output", "desc", "priority")):
            enabled = self.boolean(item, "enabled", where, required=True)
            self.diag.report(LOAD_DEPRECATED_ITEM, where, DEPRECATED_ENABLED)
            self.decls.append(RuleDecl(name, "enable", {"enabled": enabled}, where))
        else:
            self.decls.append(RuleDecl(name, "define", self.rule_definition(item, where), where))

    def rule_definition(self, item, where) -> dict:
        props = {"condition": self.text(item, "condition", where),
                 "output": self.text(item, "output", where),
                 "desc": self.string(item, "desc", where),
                 "priority": self.priority(item, where),
                 "source": self.string(item, "source", where, required=False) or "syscall",
                 "tags": self.tags(item, where) or [],
                 "exceptions": self.exceptions(item, where, appending=False)}
        for key in ("enabled", "warn_evttypes", "skip-if-unknown-filter"):
            value = self.boolean(item, key, where)
            if value is not None:
                props[key] = value
        return props

    def read_rule_overrides(self, item, name, where, over_append, over_replace) -> None:
        defined = {k for k in RULE_REPLACEABLE if _get(item, k) is not None}
        for op, keys in (("append", over_append), ("replace", over_replace)):
            for key in sorted(keys):
                if key not in defined:
                    kind = "An append" if op == "append" else "A replace"
                    self.fail(where, f"{kind} override for '{key}' was specified but '{key}' "
                                     "is not defined")
        for key in sorted(defined - over_append - over_replace):
            self.fail(where, f"Unexpected key '{key}': no corresponding entry under 'override' "
                             "is defined.", _get(item, key))
        for mode, keys in (("append", over_append), ("replace", over_replace)):
            if keys:
                props = {key: self.rule_value(item, key, where) for key in keys}
                self.decls.append(RuleDecl(name, mode, props, where))

    def rule_value(self, item, key, where):
        if key in ("condition", "output"):
            return self.text(item, key, where)
        if key == "desc":
            return self.string(item, key, where)
        if key == "priority":
            return self.priority(item, where)
        if key == "tags":
            return self.tags(item, where)
        if key == "exceptions":
            return self.exceptions(item, where, appending=True)
        return self.boolean(item, key, where, required=True)

    def priority(self, item, where) -> Priority:
        node = self.scalar(item, "priority", where)
        try:
            return Priority.parse(node.value)
        except KeyError:
            self.fail(where, "Invalid priority", node)

    def tags(self, item, where) -> Optional[list[str]]:
        nodes = self.sequence(item, "tags", where, required=False)
        return None if nodes is None else [n.value for n in nodes]

    def exceptions(self, item, where, appending: bool) -> list[ExceptionSpec]:
        node = _get(item, "exceptions")
        if node is None or _is_null(node):
            return []
        if not _is_seq(node):
            self.fail(where, "Rule exceptions must be a sequence", node)
        out: list[ExceptionSpec] = []
        for ex in node.value:
            anonymous = self.map.where(ex, "exception")
            if not _is_map(ex):
                self.fail(anonymous, "Rule exception must be a mapping")
            name = self.string(ex, "name", anonymous)
            ex_where = self.map.where(ex, "exception", name)
            if any(e.name == name for e in out):
                self.fail(ex_where, "Exceptions names in the same object must be unique")
            spec = ExceptionSpec(name, ex_where)
            fields = _get(ex, "fields")
            if fields is None and not appending:
                self.fail(ex_where, "Item has no mapping for key 'fields'")
            if fields is not None and not _is_null(fields):
                spec.fields = self.entry(fields, ex_where)
            comps = _get(ex, "comps")
            if comps is not None and not _is_null(comps):
                spec.comps = self.entry(comps, ex_where)
            values = _get(ex, "values")
            if values is not None:
                if not _is_seq(values):
                    self.fail(ex_where, "Rule exception values must be a sequence", values)
                spec.values = [self.entry(v, ex_where) for v in values.value]
            elif appending:
                self.diag.report(LOAD_APPEND_NO_VALUES, ex_where,
                                 "Overriding/appending exception with no values")
            out.append(spec)
        return out


def _yaml_error_message(e: yaml.YAMLError) -> tuple[str, int, int]:
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    if mark is None:
        return problem, 0, 0
    line, col = mark.line + 1, mark.column + 1
    wording = _YAML_CPP_WORDING.get(problem)
    if wording:
        # Falco passes on yaml-cpp's text; scripts match on it.
        return f"yaml-cpp: error at line {line}, column {col}: {wording}", line, col
    return f"error at line {line}, column {col}: {problem}", line, col


def read(name: str, text: str, diag: Diagnostics) -> list[Decl]:
    """The declarations of one rules file, in order.  Problems go to `diag`;
    the first error stops the file (what was read before it is returned)."""
    diag.add_source(name, text)
    reader = _ItemReader(name, text, diag)
    try:
        docs = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as e:
        message, line, col = _yaml_error_message(e)
        diag.report(LOAD_ERR_YAML_PARSE, Where("rules content", "", name, line, col), message)
        return []
    try:
        for doc in docs:
            reader.read_document(doc)
    except _Invalid as e:
        diag.report(e.code, e.where, e.message)
    return reader.decls
