"""Code generation: bound rules -> the source of one fused numba kernel module.

Shape of the generated module (DESIGN.md point 5):

  F<n>  = registry field n's accessor        (n: its index in all_fields())
  C<n>  = np.array([...ints...])             every literal, set, glob program
  GRP   = type id -> dispatch group          rules sharing an event-type list
  kernel(B, P, C_, out_row, out_rule) -> m   for each row, loop over the rules of its
                                             group in rule order; `if r == <id>:` picks
                                             the rule's condition, one short-circuit
                                             expression (LLVM makes the chain a jump
                                             table), so each rule's code exists once

Safety: nothing from a rules file becomes code.  Names in the source are
built from integers (field indexes, constant numbers, rule ids); values are
emitted with `repr(int(x))` only; field and rule names are never written, not
even in comments: `Generated.line_rules` maps source lines back to rule ids.

Cost ordering: children of and/or are stably sorted so that the expensive
operators (contains, icontains, glob, pmatch, transformers, ...) run last.
"""
from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import kernels as K
from . import reference
from .bind import BAnd, BCmp, BField, BNot, BOr, ConditionError, FlagText
from ..events.fields import FType, Kind

_REL_CODE = {"=": K.EQ, "!=": K.NE, "<": K.LT, "<=": K.LE, ">": K.GT, ">=": K.GE}
_STR_FIELD_OPS = dict(_REL_CODE, contains=6, icontains=7, startswith=8, endswith=9)
_EXPENSIVE = {"contains", "icontains", "bcontains", "glob", "iglob", "pmatch", "regex"}
_SMALL_SET = 4          # up to this many strings: a chain of equalities beats hashing
_MAX_DEPTH = 24         # deeper subexpressions become helper functions (parser limits)


@dataclass
class Generated:
    source: str
    line_rules: list = field(default_factory=list)   # (first line, last line, rule id), 1-based
    max_matches_per_row: int = 1

    def rule_at(self, line: int):
        for first, last, rid in self.line_rules:
            if first <= line <= last:
                return rid
        return None


@functools.lru_cache(maxsize=8)
def dependency_fingerprint(registry) -> str:
    """Hash of the code a generated module calls into.  numba's cache only checks the
    generated file itself, so this goes into the source (and so into its name)."""
    import numba
    h = hashlib.sha256(numba.__version__.encode())
    root = Path(__file__).resolve().parent.parent
    files = sorted((root / "events").glob("*.py")) + [Path(K.__file__)]
    files.append(Path(registry.__file__))
    for p in files:
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


def fold_evttype(expr, types, type_name):
    """Partially evaluate a condition for rows whose type is in `types`.

    The kernel only tries a rule on rows of its event types, so a comparison on
    evt.type alone (`evt.type in (open, openat)`) whose outcome is the same for
    every one of them is a constant there.  Outcomes are computed with the
    reference evaluator's operator, on the type names.  Returns a bound tree in
    which such leaves are Python bools (and/or/not simplified around them)."""
    if types is None:
        return expr
    if isinstance(expr, BCmp):
        bf = expr.field
        if (bf.field.name != "evt.type" or bf.kind != Kind.STR or bf.transformers
                or isinstance(expr.value, BField)):
            return expr
        outcomes = {reference.compare_value(expr, type_name(t).encode()) for t in types}
        return outcomes.pop() if len(outcomes) == 1 else expr
    if isinstance(expr, BNot):
        child = fold_evttype(expr.child, types, type_name)
        return (not child) if isinstance(child, bool) else BNot(child)
    is_and = isinstance(expr, BAnd)
    kept = []
    for c in expr.children:
        c = fold_evttype(c, types, type_name)
        if isinstance(c, bool):
            if c != is_and:            # false in an and, true in an or: decides it
                return c
            continue
        kept.append(c)
    if not kept:
        return is_and
    return kept[0] if len(kept) == 1 else type(expr)(tuple(kept))


def _cost(expr) -> int:
    if isinstance(expr, bool):
        return 0
    if isinstance(expr, BCmp):
        if expr.op in _EXPENSIVE or expr.field.transformers:
            return 2
        if isinstance(expr.value, BField):
            return 2 if expr.value.transformers else 1
        return 1 if expr.op in ("in", "intersects") else 0
    if isinstance(expr, BNot):
        return _cost(expr.child)
    return max(_cost(c) for c in expr.children)


class _Emitter:
    def __init__(self, registry):
        self.registry = registry
        self.types = None               # event types of the rule being emitted
        self.used: set[str] = set()     # allocating helpers the rules call
        self.consts: dict = {}          # (dtype, shape, bytes) -> name
        self.const_lines: list[str] = []
        self.fields: set[int] = set()
        self.helpers: list[list[str]] = []
        self.nhelpers = 0

    # -- constants: only integers computed here are written
    def const(self, arr: np.ndarray) -> str:
        arr = np.ascontiguousarray(arr)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self.consts:
            name = f"C{len(self.consts)}"
            self.consts[key] = name
            ints = ", ".join(repr(int(x)) for x in arr.ravel())
            shape = ", ".join(repr(int(d)) for d in arr.shape)
            self.const_lines.append(
                f"{name} = np.array([{ints}], dtype=np.{arr.dtype.name}).reshape(({shape},))")
        return self.consts[key]

    def raw(self, bf: BField, arg: str = None, index: int = None) -> str:
        """The accessor call; arg: an int (default the bound one) or a loop variable."""
        index = bf.index if index is None else index
        self.fields.add(index)
        key = self.const(np.frombuffer(bf.key, np.uint8).copy() if bf.key else np.zeros(0, np.uint8))
        arg = repr(int(bf.arg)) if arg is None else arg
        return f"F{int(index)}(B, P, C_, i, {arg}, {key})"

    def value(self, bf: BField, raw: str = None) -> str:
        """The accessor call (or `raw`) with the field's transformers applied."""
        e = raw or self.raw(bf)
        is_list = bf.field.type == FType.LIST
        for tr in bf.transformers:
            if tr == "len":
                e = f"K.t_len({e}, {is_list!r})"
            else:
                e = f"K.{_TRANSFORMERS[tr]}({e})"
            is_list = False
        return e

    # -- expressions
    def expr(self, node, depth: int = 0) -> str:
        if isinstance(node, bool):
            return repr(node)
        if depth > _MAX_DEPTH:
            return self.helper(node)
        if isinstance(node, BNot):
            return f"(not {self.expr(node.child, depth + 1)})"
        if isinstance(node, (BAnd, BOr)):
            parts = [self.expr(c, depth + 1) for c in sorted(node.children, key=_cost)]
            if not parts:
                return repr(isinstance(node, BAnd))
            joiner = "\n and " if isinstance(node, BAnd) else "\n or "
            return "(" + joiner.join(parts) + ")"
        return self.compare(node)

    def helper(self, node) -> str:
        name = f"sub_{self.nhelpers}"
        self.nhelpers += 1
        body = self.expr(node, 0)
        self.helpers.append(_function(name, body))
        return f"{name}(B, P, C_, i)"

    def compare(self, c: BCmp, v: str = None) -> str:
        bf, op, lit = c.field, c.op, c.value
        if bf.any_range is not None and v is None:
            return self.any_of(c)
        if bf.params and op != "exists" and v is None:
            return self.param_compare(c)
        v = v or self.value(bf)
        if isinstance(lit, FlagText):
            return self.numtest(lit.test, v)
        if op == "exists":
            return f"K.{_EXISTS[bf.kind]}({v})"
        if isinstance(lit, BField):
            w = self.value(lit)
            if bf.kind == Kind.NUM:
                return f"K.num_cmp_num({v}, {_REL_CODE[op]}, {w}, {bf.unsigned!r})"
            if bf.kind == Kind.IP:
                return f"K.ip_cmp_ip({v}, {w}, {op == '='!r})"
            return f"K.str_op_str({v}, {_STR_FIELD_OPS[op]}, {w})"
        if bf.kind == Kind.IP:
            nets = lit if op in ("in", "intersects") else (lit,)
            return f"K.ip_in({v}, {self.const(K.build_nets(list(nets)))}, {op == '!='!r})"
        if bf.kind == Kind.NUM:
            if op in ("in", "intersects"):
                vals = np.array(sorted(set(lit)) or [0], np.int64)
                if not lit:
                    return "False"
                return f"K.num_in({v}, {self.const(vals)})"
            return f"K.num_cmp({v}, {_REL_CODE[op]}, {int(lit)}, {bf.unsigned!r})"
        if op == "regex":
            raise ConditionError("the 'regex' operator is not supported by the compiler", c.node)
        return self.compare_str(bf, op, lit, v)

    def compare_str(self, bf: BField, op: str, lit, v: str) -> str:
        if bf.is_list:
            t, items, ioff, ilen = (self.const(a) for a in K.build_strset(lit))
            return f"K.list_in({v}, {t}, {items}, {ioff}, {ilen}, {op == 'intersects'!r})"
        if op in ("in", "intersects"):
            uniq = list(dict.fromkeys(lit))
            if not uniq:
                return "False"
            if len(uniq) <= _SMALL_SET:
                return "(" + " or ".join(self._lit_call("str_eq", v, x) for x in uniq) + ")"
            t, items, ioff, ilen = (self.const(a) for a in K.build_strset(uniq))
            return f"K.str_in({v}, {t}, {items}, {ioff}, {ilen})"
        if op == "pmatch":
            return f"K.str_pmatch({v}, {self.const(K.build_pmatch(list(lit)))})"
        if op in ("glob", "iglob"):
            prog = self.const(K.build_glob(lit, op == "iglob"))
            return f"K.str_glob({v}, {prog}, {op == 'iglob'!r})"
        simple = {"=": "str_eq", "!=": "str_ne", "startswith": "str_startswith",
                  "bstartswith": "str_startswith", "endswith": "str_endswith"}
        if op in simple:
            return self._lit_call(simple[op], v, lit)
        if op in ("contains", "bcontains", "icontains"):
            fold = op == "icontains"
            data = lit.lower() if fold else lit
            return (f"K.str_contains({v}, {self.const(K.build_bytes(data))}, "
                    f"{len(data)}, {fold!r})")
        return f"K.str_rel({v}, {_REL_CODE[op]}, {self.const(K.build_bytes(lit))}, {len(lit)})"

    def any_of(self, c: BCmp) -> str:
        """A field without argument standing for "any of arg lo..hi": a helper that
        tries each arg upwards and stops at the first absent value."""
        bf = c.field
        lo, hi = bf.any_range
        name = f"any_{self.nhelpers}"
        self.nhelpers += 1
        test = self.compare(c, self.value(bf, "v")).replace("\n", " ")
        self.helpers.append([
            "@njit(inline=\"always\")",      # see _function
            f"def {name}(B, P, C_, i):",
            f"    for a in range({int(lo)}, {int(hi) + 1}):",
            f"        v = {self.raw(bf, 'a')}",
            f"        if not K.{_EXISTS[bf.field.type.kind]}(v):",
            "            return False",
            f"        if {test}:",
            "            return True",
            "    return False"])
        return f"{name}(B, P, C_, i)"

    def param_compare(self, c: BCmp) -> str:
        """evt.arg.NAME: per group of event types storing the parameter alike, test
        the row's (type, dir) slot, then bytes with string operators or the raw
        number with the equivalent numeric test."""
        from ..events.evtargs import evt_arg_plan
        bf, op = c.field, c.op
        parts = []
        for plan in evt_arg_plan(bf.arg_text, self.types):
            slots = np.array(sorted(int(t) * 2 + int(d) for t, d in plan.slots), np.int64)
            guard = f"K.row_slot_in(B, i, {self.const(slots)})"
            if plan.storage == "num":
                texts = c.value if isinstance(c.value, tuple) else (c.value,)
                texts = [t.decode("utf-8", "surrogateescape") for t in texts]
                many = op in ("in", "intersects")
                test = None if op not in _TEXT_TESTABLE else plan.render.test(
                    "in" if many else op, texts if many else texts[0])
                if test is None:
                    raise ConditionError(f"'{op}' cannot be compiled for '{bf.text}'", c.node)
                rawf = self.registry.lookup(plan.field, bf.arg_text)[0]
                index = next(k for k, f in enumerate(self.registry.all_fields()) if f is rawf)
                parts.append(f"({guard} and {self.numtest(test, self.raw(bf, None, index))})")
            else:
                plain = BCmp(BField(bf.field, bf.index, bf.arg, bf.key, bf.transformers,
                                    bf.kind, bf.ftype, bf.text), op, c.value, c.node)
                parts.append(f"({guard} and {self.compare(plain, self.value(plain.field))})")
        return "(" + " or ".join(parts) + ")" if parts else "False"

    def numtest(self, t, v: str) -> str:
        """A flagtest.NumTest on NUM value v; false when v is absent."""
        k = t.kind
        if k == "const":
            return f"K.num_exists({v})" if t.a else "False"
        if k == "eq":
            return f"K.num_cmp({v}, {K.EQ}, {_i64(t.a)}, False)"
        if k == "in":
            return f"K.num_in({v}, {self.const(_sorted_i64(t.a))})"
        if k == "mask":
            return f"K.num_mask_in({v}, {_i64(t.a)}, {self.const(_sorted_i64(t.b))})"
        if k == "not":
            return f"(K.num_exists({v}) and not {self.numtest(t.a, v)})"
        joiner = " and " if k == "and" else " or "
        return "(" + joiner.join(self.numtest(x, v) for x in t.a) + ")"

    def _lit_call(self, fn: str, v: str, lit: bytes) -> str:
        return f"K.{fn}({v}, {self.const(K.build_bytes(lit))}, {len(lit)})"


_TEXT_TESTABLE = {"=", "!=", "contains", "icontains", "startswith", "endswith", "glob",
                  "iglob", "in", "intersects"}


def _i64(x: int) -> int:
    x = int(x) & (2**64 - 1)
    return x - 2**64 if x >= 2**63 else x


def _sorted_i64(values) -> np.ndarray:
    return np.array(sorted({_i64(x) for x in values}) or [0], np.int64)


_ALLOCATING = ("K.t_tolower", "K.t_toupper", "K.t_b64", "K.str_op_str", "K.t_basename")

_EXISTS = {Kind.STR: "str_exists", Kind.NUM: "num_exists", Kind.IP: "ip_exists"}
_TRANSFORMERS = {"tolower": "t_tolower", "toupper": "t_toupper", "b64": "t_b64",
                 "basename": "t_basename"}


def _function(name: str, body: str) -> list[str]:
    """A helper (deep subexpression): inlined by numba into the kernel, so the
    batch tuples (hundreds of array fields) are never passed as call arguments."""
    lines = ["@njit(inline=\"always\")", f"def {name}(B, P, C_, i):"]
    body_lines = body.split("\n")
    lines.append("    return " + body_lines[0])
    lines += ["        " + ln for ln in body_lines[1:]]
    return lines


def _groups(rules):
    """Event-type dispatch: (type id -> group table, [rule list per group]).
    Group 0 holds the rules without event types (tried on every row)."""
    typed = sorted({t for r in rules if r.evttypes is not None for t in r.evttypes})
    lists = [[r for r in rules if r.evttypes is None]]
    index = {tuple(r.id for r in lists[0]): 0}
    table = np.zeros(max(typed) + 1 if typed else 1, np.int32)
    for t in typed:
        lst = [r for r in rules if r.evttypes is None or t in r.evttypes]
        key = tuple(r.id for r in lst)
        if key not in index:
            index[key] = len(lists)
            lists.append(lst)
        table[t] = index[key]
    return table, lists


def generate(bound_rules, rule_matching: str = "first", registry=None,
             type_name=None) -> Generated:
    """bound_rules: [(Rule, bound condition)] in rule order (enabled ones only);
    registry: the field registry module the conditions were bound with;
    type_name: event type id -> name (default: sensor.events.evttypes)."""
    if rule_matching not in ("first", "all"):
        raise ValueError(f"rule_matching must be 'first' or 'all', not {rule_matching!r}")
    if registry is None:
        from ..events import fields as registry
    if not _MODULE_NAME.match(registry.__name__):
        raise ValueError("registry module name is not a dotted identifier")
    if type_name is None:
        from ..events.evttypes import type_name
    em = _Emitter(registry)
    helpers, branches = [], []
    for rule, cond in bound_rules:
        cond = fold_evttype(cond, rule.evttypes, type_name)
        em.types = rule.evttypes
        em.helpers = []
        body = em.expr(cond)
        helpers += em.helpers
        branches.append((int(rule.id), body))
        em.used.update(t for t in _ALLOCATING if t in body or any(t in "\n".join(h) for h in em.helpers))

    rules = [r for r, _ in bound_rules]
    table, lists = _groups(rules)
    starts = np.cumsum([0] + [len(lst) for lst in lists]).astype(np.int64)
    order = np.array([int(r.id) for lst in lists for r in lst] or [0], np.int64)
    head = [
        "# Generated by sensor.compile.codegen: do not edit.",
        f"# deps {dependency_fingerprint(registry)}  matching {rule_matching}",
        "import numpy as np",
        "from numba import njit",
        "from sensor.compile import kernels as K",
        f"import {registry.__name__} as _registry",
        "",
        "_FIELDS = _registry.all_fields()",
    ]
    grp, gstart, grules = em.const(table), em.const(starts), em.const(order)
    head += [f"F{k} = _FIELDS[{k}].get" for k in sorted(em.fields)]
    head += em.const_lines
    head.append("")
    lines = list(head)
    for h in helpers:
        lines += h + [""]
    # without reference counting unless a helper allocates (see kernels.py)
    nrt = any(t in em.used for t in _ALLOCATING)
    lines += [
        "",
        f"@njit(cache=True, nogil=True, _nrt={nrt!r})",
        "def kernel(B, P, C_, out_row, out_rule):",
        "    m = 0",
        "    for i in range(B.n[0]):",
        "        t = np.int64(B.type[i])",
        f"        g = {grp}[t] if t < {int(table.size)} else 0",
        f"        for k in range({gstart}[g], {gstart}[g + 1]):",
        f"            r = {grules}[k]",
    ]
    line_rules = []
    kw = "if"
    for rid, body in branches:
        first = len(lines) + 1
        lines.append(f"            # rule {rid}")
        body_lines = body.split("\n")
        lines.append(f"            {kw} r == {rid}:")
        lines.append("                hit = " + body_lines[0])
        lines += ["                    " + ln for ln in body_lines[1:]]
        line_rules.append((first, len(lines), rid))
        kw = "elif"
    if branches:
        lines += ["            else:", "                hit = False"]
    else:
        lines += ["            hit = False"]
    lines += ["            if hit:",
              "                out_row[m] = i",
              "                out_rule[m] = r",
              "                m += 1"]
    if rule_matching == "first":
        lines.append("                break")
    lines.append("    return m")
    return Generated("\n".join(lines) + "\n", line_rules,
                     max(1, max(len(lst) for lst in lists)) if rule_matching == "all" else 1)
