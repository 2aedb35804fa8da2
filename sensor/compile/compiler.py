"""Compiler: the collected lists, macros and rules -> a RuleSet (rule.py).

The third loading stage, in Falco's order:

1. lists: each list's items, with names of earlier lists spliced in;
2. macros: each condition parsed, lists expanded, references to other macros
   resolved in slot order under Falco's visibility rule (collector.py);
3. rules: output parsed and checked; condition parsed, exceptions added,
   lists and macros expanded, every field checked against the registry,
   event types computed (evttype.py);
4. warnings for lists and macros nothing used.

Every problem is reported with its position and the item it belongs to; a
rule or macro with an error is left out and the others go on, so one run
shows all the errors.
"""
from __future__ import annotations

from typing import Iterator, Optional

from .ast import (And, Compare, Expr, FieldRef, FieldValue, Literal, Node, Not, Or, SourceRef,
                  ValueList)
from .collector import Collector, ListInfo, MacroInfo, RuleInfo
from .context import FieldProblem, LoadContext
from .errors import (LOAD_DEPRECATED_ITEM, LOAD_ERR_COMPILE_CONDITION, LOAD_ERR_COMPILE_OUTPUT,
                     LOAD_ERR_VALIDATE, LOAD_NO_EVTTYPE, LOAD_UNKNOWN_FIELD, LOAD_UNSAFE_NA_CHECK,
                     LOAD_UNUSED_LIST, LOAD_UNUSED_MACRO, Where)
from .evttype import UnknownEventType, event_types, too_many
from .exceptions import ExceptionError, with_exceptions
from .expand import ExpandError, expand_lists, expand_macros
from .output_format import OutputError, parse_output
from .parser import ParseError, literal_from_item, parse_condition
from .rule import Rule, RuleSet
from .sources import Text, joined, sub_source

CONTAINER_INFO = "%container.info"

# Bounds against rules that expand explosively (a list of lists of lists ...,
# macros that each use the previous one twice): past them, a clear error.
MAX_LIST_ITEMS = 100_000
MAX_CONDITION_NODES = 100_000


class _Failed(Exception):
    """A problem already reported; the item is left out."""


def _walk(e: Expr) -> Iterator[Node]:
    yield e
    if isinstance(e, (And, Or)):
        for c in e.children:
            yield from _walk(c)
    elif isinstance(e, Not):
        yield from _walk(e.child)


def _tree_size(e: Expr, memo: dict) -> int:
    """Nodes of `e` counted as a tree (expanded macros share subtrees)."""
    size = memo.get(id(e))
    if size is None:
        if isinstance(e, (And, Or)):
            size = 1 + sum(_tree_size(c, memo) for c in e.children)
        elif isinstance(e, Not):
            size = 1 + _tree_size(e.child, memo)
        elif isinstance(e, Compare) and isinstance(e.value, ValueList):
            size = 1 + len(e.value.items)
        else:
            size = 1
        memo[id(e)] = size
    return size


def _fields(e: Expr) -> Iterator[FieldRef]:
    for n in _walk(e):
        if isinstance(n, Compare):
            yield n.field
            if isinstance(n.value, FieldValue):
                yield n.value.field


class _Compiler:
    def __init__(self, col: Collector, ctx: LoadContext):
        self.col = col
        self.ctx = ctx
        self.diag = ctx.diag
        self.lists: dict[str, Optional[tuple[Literal, ...]]] = {}   # None: failed
        self.list_values: dict[str, tuple[Literal, ...]] = {}        # the lists that compiled
        self.macros: dict[str, Optional[Expr]] = {}    # resolved bodies; None: failed
        self.used_lists: set[str] = set()
        self.used_macros: set[str] = set()

    # ------------------------------------------------------------ reporting

    def report_at(self, code: str, owner: Where, src: SourceRef, offset: int, message: str):
        # An error at the very end points just past the last token, not past trailing blanks.
        offset = min(offset, len(src.text.rstrip()))
        file, line, col = src.locate(offset) if src.file else (owner.file, owner.line,
                                                               owner.column)
        notes = ()
        if src.item_name and (src.item_type, src.item_name) != (owner.item_type, owner.item_name):
            notes = (f"in {src.item_type} '{src.item_name}'",)
        self.diag.report(code, owner.at(file, line, col), message, notes)

    def fail_at(self, code: str, owner: Where, node: Node, message: str):
        self.report_at(code, owner, node.src, node.pos, message)
        raise _Failed

    def attempt(self, owner: Where, work):
        """Compile one item: work()'s result, or None if it failed (problem reported)."""
        try:
            return work()
        except _Failed:
            return None
        except RecursionError:
            self.diag.report(LOAD_ERR_COMPILE_CONDITION, owner,
                             "condition is nested too deeply once macros are expanded")
            return None

    def check_size(self, expr: Expr, owner: Where) -> Expr:
        size = _tree_size(expr, {})
        if size > MAX_CONDITION_NODES:
            self.diag.report(LOAD_ERR_COMPILE_CONDITION, owner,
                             f"condition too large once macros and lists are expanded: {size} "
                             f"nodes (at most {MAX_CONDITION_NODES})")
            raise _Failed
        return expr

    # ------------------------------------------------------------ lists

    def compile_lists(self) -> None:
        for info in self.col.lists.values():
            self.lists[info.name] = self.attempt(info.where, lambda: self.list_items(info, ()))
        self.list_values = {name: items for name, items in self.lists.items() if items is not None}

    def list_items(self, info: ListInfo, stack: tuple[str, ...]) -> tuple[Literal, ...]:
        """A list's items with earlier lists spliced in.  A name that would loop back
        stays a plain value, as Falco's one-level substitution leaves it."""
        out: list[Literal] = []
        for text in info.items:
            ref = self.col.lists.get(text.value)
            if ref is not None and ref.index < info.visibility and ref.name not in stack \
                    and ref.name != info.name:
                self.used_lists.add(ref.name)
                out.extend(self.spliced(ref, stack + (info.name,)))
            else:
                out.append(literal_from_item(text.value, text.src))
            if len(out) > MAX_LIST_ITEMS:
                self.diag.report(LOAD_ERR_VALIDATE, info.where, f"List expands to more than "
                                 f"{MAX_LIST_ITEMS} items")
                raise _Failed
        return tuple(out)

    def spliced(self, ref: ListInfo, stack: tuple[str, ...]) -> tuple[Literal, ...]:
        """The items `ref` brings where it is named.  Lists not touching the names on
        `stack` expand the same everywhere, so their result is computed once."""
        if ref.name in self.lists:
            if self.lists[ref.name] is None:
                raise _Failed             # its own error is reported already
            if not self._reaches(ref, stack):
                return self.lists[ref.name]
        return self.list_items(ref, stack)

    def _reaches(self, info: ListInfo, names: tuple[str, ...]) -> bool:
        """Whether expanding `info` can meet one of `names` (then it must be redone)."""
        seen, todo = set(), [info]
        while todo:
            cur = todo.pop()
            for text in cur.items:
                ref = self.col.lists.get(text.value)
                if ref is not None and ref.index < cur.visibility and ref.name not in seen:
                    if ref.name in names:
                        return True
                    seen.add(ref.name)
                    todo.append(ref)
        return False

    # ------------------------------------------------------------ macros

    def parse(self, pieces: list[Text], owner: Where) -> Expr:
        src = joined(pieces, owner)
        try:
            return parse_condition(src.text, src)
        except ParseError as e:
            self.report_at(LOAD_ERR_COMPILE_CONDITION, owner, src, e.offset, e.message)
            raise _Failed from None

    def with_lists(self, expr: Expr, owner: Where) -> Expr:
        try:
            return expand_lists(expr, self.list_values, self.used_lists)
        except ExpandError as e:
            self.fail_at(LOAD_ERR_COMPILE_CONDITION, owner, e.node, e.message)

    def compile_macros(self) -> None:
        parsed: dict[str, Optional[Expr]] = {}
        for info in self.col.macros.values():
            parsed[info.name] = self.attempt(info.where, lambda: self.with_lists(
                self.parse(info.condition, info.where), info.where))
        for info in self.col.macros.values():
            body = parsed[info.name]
            self.macros[info.name] = body and self.attempt(info.where, lambda: self.check_size(
                self.resolve(body, info.where, self.macro_table(info, parsed), (info.name,)),
                info.where))

    def macro_table(self, info: MacroInfo, parsed: dict):
        """Macros visible from `info`: resolved bodies of those already done (slot
        order), raw bodies of later ones, as Falco's resolver sees them."""
        def table(name: str):
            other = self.col.macros.get(name)
            if other is None or other.index >= info.visibility:
                return None
            done = name in self.macros
            body = self.macros[name] if done else parsed[name]
            if body is None:
                raise _Failed     # that macro's own error is reported already
            return body, not done
        return table

    def resolve(self, expr: Expr, owner: Where, table, stack=()) -> Expr:
        try:
            return expand_macros(expr, table, self.used_macros, stack)
        except ExpandError as e:
            self.fail_at(LOAD_ERR_VALIDATE, owner, e.node, e.message)

    def rule_macro_table(self, name: str):
        if name not in self.col.macros:
            return None
        body = self.macros[name]
        if body is None:
            raise _Failed         # its error is reported already
        return body, False

    # ------------------------------------------------------------ rules

    def compile_rules(self) -> list[Rule]:
        rules: list[Rule] = []
        for info in self.col.rules.values():
            if not info.unknown_source:
                rule = self.attempt(info.where, lambda: self.compile_rule(info, len(rules)))
                if rule is not None:
                    rules.append(rule)
        return rules

    def compile_rule(self, info: RuleInfo, rule_id: int) -> Optional[Rule]:
        output = self.compile_output(info)
        if output is None:
            return None
        expr = self.parse(info.condition, info.where)
        try:
            expr = with_exceptions(expr, info.exceptions)
        except ExceptionError as e:
            self.diag.report(LOAD_ERR_VALIDATE, e.where or info.where, e.message)
            raise _Failed from None
        expr = self.with_lists(expr, info.where)
        expr = self.check_size(self.resolve(expr, info.where, self.rule_macro_table), info.where)
        if not self.check_fields(expr, info):
            return None
        self.warn_na_checks(expr, info)
        try:
            catalog = self.ctx.catalog
            types = event_types(expr, catalog.type_id, catalog.all_type_ids)
        except UnknownEventType as e:
            self.skip_or_fail(info, e.node, str(e))
            return None
        if info.warn_evttypes and too_many(types):
            self.diag.report(LOAD_NO_EVTTYPE, info.where, "Rule matches too many evt.type values. "
                             "This has a significant performance penalty.")
        src = SourceRef(info.where.file, info.where.line, info.where.column, "rule", info.name)
        return Rule(id=rule_id, name=info.name, condition=expr, output=output,
                    priority=info.priority, desc=info.desc, source=info.source,
                    tags=tuple(sorted(set(info.tags))), enabled=info.enabled, evttypes=types,
                    src=src, condition_text=joined(info.condition, info.where).text)

    def compile_output(self, info: RuleInfo):
        whole = joined(info.output, info.where)
        start = len(whole.text) - len(whole.text.lstrip())
        src = sub_source(whole, start, len(whole.text.rstrip()))     # Falco trims outputs
        if CONTAINER_INFO in src.text:
            self.diag.report(LOAD_DEPRECATED_ITEM, info.where,
                             "%container.info is deprecated (Falco's outputs now name container "
                             "fields one by one); it prints nothing")
        try:
            return parse_output(src.text, self.check_output_field, src)
        except OutputError as e:
            if info.skip_if_unknown_filter and e.unknown:
                self.report_at(LOAD_UNKNOWN_FIELD, info.where, src, e.offset, e.message)
                return None
            self.report_at(LOAD_ERR_COMPILE_OUTPUT, info.where, src, e.offset, e.message)
            raise _Failed from None

    def check_output_field(self, f: FieldRef) -> None:
        self.ctx.catalog.check_field(f.name, f.arg, in_output=True)

    def check_fields(self, expr: Expr, info: RuleInfo) -> bool:
        """Every field of the condition exists and fits; False if the rule is skipped."""
        for f in _fields(expr):
            try:
                self.ctx.catalog.check_field(f.name, f.arg)
            except FieldProblem as e:
                if not e.unknown:
                    self.fail_at(LOAD_ERR_COMPILE_CONDITION, info.where, f, e.message)
                self.skip_or_fail(info, f, e.message)
                return False
        return True

    def skip_or_fail(self, info: RuleInfo, node: Node, message: str) -> None:
        """An unknown field or event type: with skip-if-unknown-filter the rule is left
        out with a warning (this returns), else it is an error (this raises)."""
        if info.skip_if_unknown_filter:
            self.report_at(LOAD_UNKNOWN_FIELD, info.where, node.src, node.pos, message)
            return
        self.fail_at(LOAD_ERR_COMPILE_CONDITION, info.where, node, message)

    def warn_na_checks(self, expr: Expr, info: RuleInfo) -> None:
        for n in _walk(expr):
            if isinstance(n, Compare) and isinstance(n.value, Literal) and n.value.text == "<NA>":
                self.report_at(LOAD_UNSAFE_NA_CHECK, info.where, n.src, n.pos,
                               "Comparing a field with <NA> is unreliable; use 'exists' to "
                               "test whether a field has a value")

    # ------------------------------------------------------------ unused items

    def warn_unused(self) -> None:
        for info in self.col.macros.values():
            if info.name not in self.used_macros:
                self.diag.report(LOAD_UNUSED_MACRO, info.where,
                                 "Macro not referred to by any other rule/macro")
        for info in self.col.lists.values():
            if info.name not in self.used_lists:
                self.diag.report(LOAD_UNUSED_LIST, info.where,
                                 "List not referred to by any other rule/macro")


def compile_ruleset(col: Collector, ctx: LoadContext) -> RuleSet:
    c = _Compiler(col, ctx)
    c.compile_lists()
    c.compile_macros()
    rules = c.compile_rules()
    c.warn_unused()
    version = col.required_engine_version.text if col.required_engine_version else ""
    return RuleSet(rules, list(ctx.diag.warnings), version)
