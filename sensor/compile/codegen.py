"""Code generation: bound rules -> the source of a numba kernel module.

Shape of the generated module (DESIGN.md point 5):

  F<n>  = registry field n's accessor        (n: its index in all_fields())
  C<n>  = np.array([...ints...])             every literal, set, glob program
  kernel_<u>(B, P, C_, rows, lo, hi, out_row, out_rule, m, best) -> m
                                             numba; the rows rows[lo:hi], all of
                                             one dispatch group (rules sharing an
                                             event-type list), or every row for
                                             rules without event types; per row,
                                             its rules in rule order, each a few
                                             statements setting `hit`; B, P, C_
                                             are views holding only the columns
                                             the kernel reads (_V<u>)
  kernel(B, P, C_, out_row, out_rule, *shard) -> m
                                             plain Python: buckets the rows by
                                             group (K.group_rows, a counting sort)
                                             and runs each kernel that has rows;
                                             matches come out in row order.  With
                                             shard = (shard_of_row, w) (an int8
                                             array, an entry per row), only rows
                                             i with shard_of_row[i] == w are
                                             evaluated, by every rule
                                             (K.shard_rows filters the buckets):
                                             a pipeline worker's share

Compile time is what shapes this (numba inlines every accessor and operator
call into the kernel, and LLVM's time grows faster than the function): a
group's rules are split into kernels of bounded size (_chunks), a rule's
accessor values are kept in locals (_Emitter.rule_lines), kernels get column
views (_columns), and modcache.compile_kernels compiles them on every core.
Measured on falco-0.31.1 (65 rules, this 2-core VM): 447 s cold before, 95 s
with the first three, 52 s with the last; the stable rules from 50-65 s to
~17 s; evaluation as fast as before (perf/RESULTS.md).  Rules without event
types get kernels of their own that run on every row; with rule_matching
"first" a row's first match so far is kept in `best` across its kernels.

Safety: nothing from a rules file becomes code.  Names in the source are
built from integers (field indexes, constant numbers, rule ids); values are
emitted with `repr(int(x))` only; field and rule names are never written, not
even in comments: `Generated.line_rules` maps source lines back to rule ids.

Test ordering: children of and/or are sorted by estimated cost and
selectivity (see _ordered): cheap, selective tests first, contains last.
"""
from __future__ import annotations

import dis
import functools
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import kernels as K
from . import reference
from .bind import BAnd, BCmp, BField, BNot, BOr, ConditionError, FlagText
from ..events.fields import FType, Kind

_REL_CODE = {"=": K.EQ, "!=": K.NE, "<": K.LT, "<=": K.LE, ">": K.GT, ">=": K.GE}
_STR_FIELD_OPS = dict(_REL_CODE, contains=6, icontains=7, startswith=8, endswith=9)
_SMALL_SET = 4          # up to this many strings: a chain of equalities beats hashing
_MAX_DEPTH = 24         # deeper subexpressions become helper functions (parser limits)
_MAX_BINDS = 16         # nested `if`s in a rule's code (see rule_lines)


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


# -- test ordering ------------------------------------------------------------
# Children of an and/or are pure, total tests (an absent value is just false),
# so any order gives the same result; the order only decides how much work a
# row costs before the chain short-circuits.  Each test gets an estimated cost
# (field access + operator, in rough ns) and an estimated probability of being
# true; an `and` runs its children by cost / P(false) ascending, an `or` by
# cost / P(true) (the classic optimal order for independent tests).  The
# probabilities are crude priors, not measurements: a positive string test
# (=, in, startswith, contains, ...) against literals is rarely true, `!=`,
# `exists` and negations (rule exceptions) are nearly always true.  What this
# buys on the stable rules: the selective `fd.name in (...)` of a rule runs
# before its dozen exception clauses walking ancestors.

_P_SELECTIVE, _P_NUM_EQ, _P_REL, _P_LIKELY = 0.1, 0.3, 0.5, 0.9


def _field_cost(bf) -> float:
    """Rough cost of reading a field: a row column, a process-slot column, or a
    walk up the process tree."""
    if bf.any_range is not None:
        return 30.0
    name = bf.field.name
    if name.startswith(("proc.aname", "proc.apid", "proc.aexe", "proc.acmdline")):
        return 2.0 + 2.0 * max(int(bf.arg), 0)
    if name.startswith(("proc.p", "proc.s", "proc.vpgid.")):
        return 4.0
    if getattr(bf.field, "params", False):
        return 3.0
    if name.startswith(("proc.", "container.", "k8s.", "user.loginname")):
        return 2.0
    return 1.0


def _estimate(expr, memo):
    """(cost, probability true) of a bound expression, children in planned order.
    memo: id(node) -> estimate, for one tree (keeps the walk linear)."""
    if isinstance(expr, bool):
        return 0.0, (1.0 if expr else 0.0)
    got = memo.get(id(expr))
    if got is not None:
        return got[0]
    if isinstance(expr, BNot):
        c, p = _estimate(expr.child, memo)
        est = c, 1.0 - p
    elif isinstance(expr, (BAnd, BOr)):
        est = _chain(_ordered(expr, memo), isinstance(expr, BAnd), memo)
    else:
        est = _cmp_estimate(expr)
    memo[id(expr)] = (est, expr)            # the node too: its id stays unique
    return est


def _cmp_estimate(c):
    bf, op = c.field, c.op
    cost = _field_cost(bf) + 8.0 * len(bf.transformers)
    if isinstance(c.value, BField):
        return cost + _field_cost(c.value) + 2.0, _P_REL
    if op == "exists":
        return cost, _P_LIKELY
    if isinstance(c.value, FlagText) or bf.kind != Kind.STR:
        cost += 0.5 if op not in ("in", "intersects") else 1.0
        if op == "!=":
            return cost, _P_LIKELY
        return cost, (_P_NUM_EQ if op in ("=", "in", "intersects") else _P_REL)
    if op == "!=":
        return cost + 1.0, _P_LIKELY
    if op in ("contains", "icontains", "bcontains", "glob", "iglob", "pmatch", "regex"):
        return cost + 10.0, _P_SELECTIVE
    if op in ("in", "intersects"):
        return cost + 3.0, _P_SELECTIVE
    if op in _REL_CODE and op != "=":
        return cost + 2.0, _P_REL
    return cost + 1.0, _P_SELECTIVE


def _chain(children, is_and, memo):
    """Expected cost and probability of a short-circuit chain run in this order."""
    cost, reach, p_all = 0.0, 1.0, 1.0
    for ch in children:
        c, p = _estimate(ch, memo)
        cost += reach * c
        reach *= p if is_and else (1.0 - p)
        p_all *= p if is_and else (1.0 - p)
    return cost, (p_all if is_and else 1.0 - p_all)


def _ordered(expr, memo):
    """The children of an and/or in planned order (stable for equal keys)."""
    is_and = isinstance(expr, BAnd)

    def key(ch):
        c, p = _estimate(ch, memo)
        stop = (1.0 - p) if is_and else p        # chance this child ends the chain
        return c / max(stop, 1e-3)
    return sorted(expr.children, key=key)


class _Emitter:
    def __init__(self, registry):
        self.registry = registry
        self.types = None               # event types of the rule being emitted
        self.consts: dict = {}          # (dtype, shape, bytes) -> name
        self.const_lines: list[str] = []
        self.fields: set[int] = set()
        self.rule_fields: set[int] = set()      # fields the rule being emitted reads
        self.helpers: list[list[str]] = []
        self.nhelpers = 0
        self.memo: dict = {}            # test-ordering estimates (see _estimate)
        self.bound: dict = {}           # accessor call -> local holding its value
        self.reuse: set = set()         # accessor calls the current rule makes twice or more
        self.uses = None                # Counter of accessor calls, while counting

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

    def call(self, bf: BField, arg: str = None, index: int = None) -> str:
        """The accessor call's text; arg: an int (default the bound one) or a loop variable."""
        index = bf.index if index is None else index
        self.fields.add(index)
        self.rule_fields.add(index)
        key = self.const(np.frombuffer(bf.key, np.uint8).copy() if bf.key else np.zeros(0, np.uint8))
        arg = repr(int(bf.arg)) if arg is None else arg
        return f"F{int(index)}(B, P, C_, i, {arg}, {key})"

    def raw(self, bf: BField, arg: str = None, index: int = None) -> str:
        """The accessor's value: the local it is bound to, else the call."""
        text = self.call(bf, arg, index)
        if self.uses is not None:
            self.uses[text] += 1
        return self.bound.get(text, text)

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
            parts = [self.expr(c, depth + 1) for c in _ordered(node, self.memo)]
            if not parts:
                return repr(isinstance(node, BAnd))
            joiner = "\n and " if isinstance(node, BAnd) else "\n or "
            return "(" + joiner.join(parts) + ")"
        return self.compare(node)

    def helper(self, node) -> str:
        name = f"sub_{self.nhelpers}"
        self.nhelpers += 1
        bound, self.bound = self.bound, {}        # the rule's locals are not in scope
        body = self.expr(node, 0)
        self.bound = bound
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
        bound, self.bound = self.bound, {}        # the rule's locals are not in scope
        test = self.compare(c, self.value(bf, "v")).replace("\n", " ")
        self.bound = bound
        head = ["@K.inlined",      # see _function
                f"def {name}(B, P, C_, i):"]
        loop = [f"for a in range({int(lo)}, {int(hi) + 1}):",
                f"    v = {self.raw(bf, 'a')}",
                f"    if not K.{_EXISTS[bf.field.type.kind]}(v):"]
        if reference.every_end_must_hold(c):     # `fd.ip != X`: neither end is X
            body = ["seen = False"] + loop + ["        break",
                                               "    seen = True",
                                               f"    if not ({test}):",
                                               "        return False",
                                               "return seen"]
        else:
            body = loop + ["        return False",
                           f"    if {test}:",
                           "        return True",
                           "return False"]
        self.helpers.append(head + ["    " + ln for ln in body])
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
            guard = f"K.row_slot_in(B.type[i], B.dir[i], {self.const(slots)})"
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

    # -- a rule as a few statements: accessor values kept in locals
    def rule_lines(self, cond, tag: str) -> list[str]:
        """Statements setting `hit` to `cond`, for the kernel's row loop.

        numba inlines an accessor at each of its call sites, and a rule reading
        fd.name in twenty exception clauses made twenty copies: most of a big
        rule's compile time.  So the rule's top-level chain (and/or, with the
        `not (a or b ...)` of exceptions spread out) is cut where a test is sure
        to read an accessor that later tests read too; the value goes into a
        local there, where it would be computed anyway, and the rest of the chain
        runs in a nested `if`:

            hit = <tests before>
            if hit:
                v<tag>_0 = F89(B, P, C_, i, 0, C0)
                hit = <tests reading v<tag>_0 ...>
        """
        self.bound, self.reuse = {}, self._reused(cond)
        if isinstance(cond, bool):
            return [f"hit = {cond!r}"]
        is_or = isinstance(cond, BOr)
        lines, indent = [], ""
        for k, (binds, terms) in enumerate(self._segments(self._terms(cond, False, is_or), tag)):
            if k:
                lines.append(indent + ("if not hit:" if is_or else "if hit:"))
                indent += "    "
            lines += [f"{indent}{var} = {text}" for var, text in binds]
            body = (" or " if is_or else " and ").join(terms).replace("\n", " ")
            lines.append(f"{indent}hit = {body}")
        self.bound = {}
        return lines

    def _terms(self, node, negated: bool, is_or: bool) -> list:
        """The chain of `node` (and-chain, or or-chain if is_or) spread into its terms,
        in evaluation order: [(node, negated)].  Nested chains of the same kind and
        negated chains of the other kind (De Morgan) are spread too."""
        if isinstance(node, BNot):
            return self._terms(node.child, not negated, is_or)
        and_like = isinstance(node, BAnd) != negated if isinstance(node, (BAnd, BOr)) else None
        if and_like is not None and and_like != is_or:
            return [t for c in _ordered(node, self.memo) for t in self._terms(c, negated, is_or)]
        return [(node, negated)]

    def _segments(self, terms, tag: str) -> list:
        """Cut the terms where a term binds an accessor value: [(binds, [term text])],
        binds [(local, accessor call)].  At most _MAX_BINDS cuts (nesting depth)."""
        segments = [([], [])]
        for node, negated in terms:
            binds = []
            if len(segments) <= _MAX_BINDS and not isinstance(node, bool):
                for bf in _surely_read(node, self.memo):
                    text = self.call(bf)
                    if text in self.reuse and text not in self.bound:
                        self.bound[text] = f"v{tag}_{len(self.bound)}"
                        binds.append((self.bound[text], text))
            if binds and segments[-1][1]:
                segments.append(([], []))
            segments[-1][0].extend(binds)
            text = self.expr(node)
            segments[-1][1].append(f"(not {text})" if negated else text)
        return segments

    def _reused(self, cond) -> set:
        """Accessor calls the rule's code would make more than once (a dry run)."""
        saved = (self.helpers, self.nhelpers, self.bound)
        self.helpers, self.uses, self.bound = [], Counter(), {}
        try:
            if not isinstance(cond, bool):
                self.expr(cond)
            return {text for text, n in self.uses.items() if n > 1}
        finally:
            self.helpers, self.nhelpers, self.bound = saved
            self.uses = None


def _surely_read(node, memo) -> list:
    """The fields whose plain accessor call is made whenever `node` is evaluated:
    the leftmost path of the and/or tree.  Erring here costs time, not results:
    accessors are pure and total."""
    while isinstance(node, (BNot, BAnd, BOr)):
        node = node.child if isinstance(node, BNot) else _ordered(node, memo)[0]
    if not isinstance(node, BCmp):
        return []
    bf, op, lit = node.field, node.op, node.value
    if bf.any_range is not None or (bf.params and op != "exists"):
        return []                     # read in a helper, or behind a type guard
    if op in ("in", "intersects") and not isinstance(lit, FlagText) and not lit:
        return []                     # an empty set: the test is a constant
    if isinstance(lit, FlagText) and lit.test.kind == "const":
        return []
    return [bf, lit] if isinstance(lit, BField) else [bf]


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
    lines = ["@K.inlined", f"def {name}(B, P, C_, i):"]
    body_lines = body.split("\n")
    lines.append("    return " + body_lines[0])
    lines += ["        " + ln for ln in body_lines[1:]]
    return lines


# -- planning: dispatch groups, and kernels of bounded size ------------------
# numba's compile time grows faster than linearly with a function's size: the
# open group of falco-0.31.1, 18 rules in one kernel, took 267 s, its rules one
# by one 103 s.  So a group's rules are split into chunks of at most about
# _CHUNK_SIZE accessor and operator calls (what numba and LLVM inline, see
# _RuleCode.size), one kernel each.  Not smaller: each kernel passes over its
# rows again, evaluating again the tests its rules share with the other
# chunks' (fused, LLVM computes them once).  Measured on falco-0.31.1 (cold on
# 2 cores; M events/s exec-heavy / quiet; before: 13.7 / 36.8):
#   size   250: 23 kernels, 52 s, 12.3 / 32.7     600: 18 kernels, 61 s, 14.7 / 38.4
#   size   450: 20 kernels, 57 s, 13.4 / 35.6     none: 17 kernels, 75 s, 14.1 / 37.1
# The stable rules' largest group is 241: one kernel per group.

_CHUNK_SIZE = 600
_NO_MATCH = 2**62               # `best` of a row no rule matched yet


@dataclass
class _RuleCode:
    position: int               # in rule order
    rule_id: int
    lines: list                 # statements setting `hit` (_Emitter.rule_lines)
    fields: set                 # registry indexes of the accessors it calls
    batch_columns: set          # B columns its code reads itself (B.type[i], ...)
    nrt: bool                   # it calls a helper that allocates (see kernels.py)
    size: int                   # accessor and operator calls, helpers included


@dataclass
class _KernelPlan:
    bucket: int                 # the dispatch group whose rows it runs on; -1: every row
    codes: list                 # its rules' _RuleCode, in rule order
    reads_best: bool = False    # rule_matching "first": a kernel before it saw its rows
    writes_best: bool = False   # ... or one after it will (or the entry keeps the first)


def _groups(rules):
    """Event-type dispatch over the rules that have event types: (type id -> group
    table, [rule positions per group]).  Types no rule watches map to group
    len(groups), which has no kernel.  Rules without event types are in no group:
    they get kernels of their own that run on every row (see _plan)."""
    typed = sorted({t for r in rules if r.evttypes is not None for t in r.evttypes})
    lists, index = [], {}
    table = np.full(max(typed) + 1 if typed else 1, -1, np.int32)
    for t in typed:
        key = tuple(p for p, r in enumerate(rules)
                    if r.evttypes is not None and t in r.evttypes)
        if key not in index:
            index[key] = len(lists)
            lists.append(list(key))
        table[t] = index[key]
    table[table < 0] = len(lists)
    return table, lists


def _rule_code(em, p, rule, cond, types) -> _RuleCode:
    """Emit one rule for rows of event types `types` (None: any)."""
    em.types = rule.evttypes if types is None else types
    em.rule_fields = set()
    outer, em.helpers = em.helpers, []
    lines = em.rule_lines(cond, str(int(p)))
    helpers, em.helpers = em.helpers, outer + em.helpers
    text = "\n".join(lines + ["\n".join(h) for h in helpers])
    size = len(re.findall(r"\bF\d+\(", text)) + text.count("K.")
    return _RuleCode(int(p), int(rule.id), lines, em.rule_fields,
                     set(re.findall(r"\bB\.(\w+)", text)),
                     any(t in text for t in _ALLOCATING), size)


def _chunks(codes, budget=None):
    """Split rules, kept in order, into runs of at most `budget` size (a rule larger
    than that alone), each about the same size."""
    budget = budget or _CHUNK_SIZE
    runs = _greedy_runs(codes, budget)
    # the fewest runs greedy filling gives; now the smallest budget giving as few
    while budget > 1 and len(_greedy_runs(codes, budget * 9 // 10)) == len(runs):
        budget = budget * 9 // 10
        runs = _greedy_runs(codes, budget)
    return runs


def _greedy_runs(codes, budget):
    runs, acc = [[]], 0
    for c in codes:
        if runs[-1] and acc + c.size > budget:
            runs.append([])
            acc = 0
        runs[-1].append(c)
        acc += c.size
    return runs if runs[-1] else []


def _plan(em, rules, conds, table, lists, rule_matching, type_name):
    """The kernels, in the order they run on a row: each group's chunks (rule
    order), then the chunks of the rules without event types.  A group's
    rules fold `evt.type` tests for the group's own types."""
    kernels = []
    for g, lst in enumerate(lists):
        types = frozenset(int(t) for t in np.flatnonzero(table == g))
        codes = [_rule_code(em, p, rules[p], fold_evttype(conds[p], types, type_name), types)
                 for p in lst]
        kernels += [_KernelPlan(g, chunk) for chunk in _chunks(codes)]
    untyped = [_rule_code(em, p, r, conds[p], None)
               for p, r in enumerate(rules) if r.evttypes is None]
    if untyped:
        kernels += [_KernelPlan(-1, chunk) for chunk in _chunks(untyped)]
    if rule_matching == "first":
        _plan_first_match(kernels)
    return kernels


def _dedupes(plans) -> bool:
    """rule_matching "first": can a row get two matches, from a group's kernel and
    from a kernel of rules without types (then the entry keeps the first)?"""
    buckets = {p.bucket for p in plans}
    return -1 in buckets and len(buckets) > 1


def _plan_first_match(plans) -> None:
    """rule_matching "first" across kernels: a row seen by several kernels (a
    group's chunks, then the kernels of rules without types) keeps in best[row]
    the position of its first match so far; a kernel reads it to skip rules
    after it, and writes it for the kernels after."""
    dedupe = _dedupes(plans)

    def shares_rows(p, q):
        return p.bucket == q.bucket or -1 in (p.bucket, q.bucket)
    for k, plan in enumerate(plans):
        plan.reads_best = any(shares_rows(plan, q) for q in plans[:k])
        plan.writes_best = dedupe or any(shares_rows(plan, q) for q in plans[k + 1:])


def generate(bound_rules, rule_matching: str = "first", registry=None,
             type_name=None) -> Generated:
    """bound_rules: [(Rule, bound condition)] in rule order (enabled ones only);
    registry: the field registry module the conditions were bound with;
    type_name: event type id -> name (default: sensor.events.evttypes).

    Kernels of bounded size per dispatch group (rules sharing an event-type
    list), kernels for the rules without event types that run on every row
    (see _plan), and a plain Python `kernel` that buckets the rows by group
    (counting sort, numba) and runs each kernel that has rows."""
    if rule_matching not in ("first", "all"):
        raise ValueError(f"rule_matching must be 'first' or 'all', not {rule_matching!r}")
    if registry is None:
        from ..events import fields as registry
    if not _MODULE_NAME.match(registry.__name__):
        raise ValueError("registry module name is not a dotted identifier")
    if type_name is None:
        from ..events.evttypes import type_name
    em = _Emitter(registry)
    rules = [r for r, _ in bound_rules]
    table, lists = _groups(rules)
    kernels = _plan(em, rules, [c for _, c in bound_rules], table, lists, rule_matching,
                    type_name)
    kernel_texts = [_kernel_text(u, plan, rule_matching) for u, plan in enumerate(kernels)]
    entry = _entry_text(em, kernels, table, len(lists), rules, rule_matching)

    lines = [
        "# Generated by sensor.compile.codegen: do not edit.",
        f"# deps {dependency_fingerprint(registry)}  matching {rule_matching}",
        "import numpy as np",
        "from numba import njit",
        "from sensor.compile import kernels as K",
        "from sensor.compile import modcache as _modcache",
        f"import {registry.__name__} as _registry",
        "",
        "_FIELDS = _registry.all_fields()",
    ]
    lines += [f"F{k} = _FIELDS[{k}].get" for k in sorted(em.fields)]
    lines += em.const_lines + [""]
    for h in em.helpers:
        lines += h + [""]
    line_rules = []
    for block in kernel_texts:
        lines.append("")
        for text, rid in block:
            if rid is not None:
                line_rules.append((len(lines) + 1, len(lines) + text.count("\n") + 1, rid))
            lines += text.split("\n")
    lines += entry
    if rule_matching == "all":
        per_row = max([len(lst) for lst in lists] or [0]) + sum(
            len(p.codes) for p in kernels if p.bucket < 0)
    else:                       # a typed and an untyped match, before keeping the first
        per_row = 2 if _dedupes(kernels) else 1
    return Generated("\n".join(lines) + "\n", line_rules, max(1, per_row))


def _kernel_text(u, plan, rule_matching):
    """The numba kernel of plan u, on the rows rows[lo:hi]: [(text, rule id or
    None)], a rule's lines mapping back to it."""
    first = rule_matching == "first"
    # a group's kernels see only the matches of its earlier chunks (skipped at the
    # row); the kernels of untyped rules also those of any rule before
    guard = first and plan.reads_best and plan.bucket < 0
    head = (f"@njit(cache=True, nogil=True, _nrt={any(c.nrt for c in plan.codes)!r})\n"
            f"def kernel_{u}(B, P, C_, rows, lo, hi, out_row, out_rule, m, best):\n"
            "    for j in range(lo, hi):\n"
            "        i = rows[j]")
    if first and plan.reads_best:
        head += ("\n        b = best[i]\n"
                 f"        if b < {plan.codes[0].position}:     # an earlier rule matched\n"
                 "            continue")
    blocks = [(head, None)]
    for code in plan.codes:
        p = code.position
        body = [f"        # rule {code.rule_id}"]
        if guard:
            body += ["        hit = False", f"        if {p} < b:"]
        pad = "            " if guard else "        "
        body += [pad + ln for ln in code.lines]
        body += ["        if hit:",
                 "            out_row[m] = i",
                 f"            out_rule[m] = {p}",
                 "            m += 1"]
        if first and plan.writes_best:
            body.append(f"            best[i] = {p}")
        if first:
            body.append("            continue")
        blocks.append(("\n".join(body), code.rule_id))
    return blocks + [("    return m\n", None)]


# -- the columns a kernel reads -------------------------------------------------
# A kernel gets small namedtuples holding only the columns it reads, not the
# batch tables (~100 arrays): LLVM spent most of a kernel's compile time on
# copies of those big structs (InstCombine; a rule reading event parameters
# compiled in 19 s, 6 s with views), and numba unboxes every array of a tuple
# at each call (7.3 -> 4.6 us per kernel call on the stable rules).

def _columns(registry, plan) -> tuple:
    """(Batch, Procs, Containers) column names the kernel reads, each sorted: those
    of its accessors, and the B columns its own code reads (B.type[i], ...)."""
    wanted = [set().union(*(c.batch_columns for c in plan.codes)), set(), set()]
    fields = registry.all_fields()
    for k in set().union(*(c.fields for c in plan.codes)):
        for names, read in zip(wanted, _accessor_columns(fields[k].get)):
            names |= read
    out = []
    for names, table in zip(wanted, _tables()):
        if None in names:                            # the accessor passes the table on
            names = set(table._fields)
        out.append(tuple(sorted(names & set(table._fields))))
    return tuple(out)


@functools.lru_cache(maxsize=None)
def _accessor_columns(get) -> tuple:
    """The attributes an accessor reads off its B, P and C parameters, from its
    bytecode: each a set of names, holding None if the parameter is used any
    other way (passed to a function, stored): then every column."""
    code = get.py_func.__code__
    params = code.co_varnames[:3]
    read = {name: set() for name in params}
    ins = list(dis.get_instructions(code))
    for k, x in enumerate(ins):
        if x.opname == "LOAD_FAST" and x.argval in read:
            nxt = ins[k + 1] if k + 1 < len(ins) else None
            attr = nxt is not None and nxt.opname == "LOAD_ATTR"
            read[x.argval].add(nxt.argval if attr else None)
    return tuple(read[name] for name in params)


def _tables():
    from ..events.batch import Batch, Containers, Procs
    return Batch, Procs, Containers


def _entry_text(em, kernels, table, ngroups, rules, rule_matching):
    """The plain Python `kernel(B, P, C_, out_row, out_rule, *shard) -> m`: rows
    bucketed by group, each kernel on its rows and its column views; matches in
    row order, then rule order.  Given shard = (shard_of_row, w), the buckets and
    the rows of the untyped rules' kernels keep only rows i with
    shard_of_row[i] == w (K.shard_rows); without it, no extra work.  (`*shard`,
    not `shard=None`: the source holds int and bool constants only.)"""
    typed = any(p.bucket >= 0 for p in kernels)
    untyped = any(p.bucket < 0 for p in kernels)
    best = any(p.reads_best for p in kernels)
    ids = np.array([int(r.id) for r in rules] or [0], np.int64)
    comma = "," if len(kernels) == 1 else ""
    lines = [""]
    for u, plan in enumerate(kernels):
        index = [tuple(t._fields.index(c) for c in sorted(names, key=t._fields.index))
                 for names, t in zip(_columns(em.registry, plan), _tables())]
        lines += [f"_V{u} = K.ColumnViews(__name__, {u}, {index[0]!r}, {index[1]!r}, "
                  f"{index[2]!r})",
                  f"Batch_{u}, Procs_{u}, Containers_{u} = _V{u}.types"]
    lines += [
        "",
        f"_KERNELS = ({', '.join(f'kernel_{u}' for u in range(len(kernels)))}{comma})",
        f"_VIEWS = ({', '.join(f'_V{u}' for u in range(len(kernels)))}{comma})",
        f"_BUCKETS = ({', '.join(str(p.bucket) for p in kernels)}{comma})"
        "     # dispatch group of each kernel; -1: every row",
        f"_SIZES = ({', '.join(str(sum(c.size for c in p.codes)) for p in kernels)}{comma})",
        "_NO_BEST = np.zeros(1, np.int64)",
        "_NO_ROWS = np.zeros(0, np.int64)",
        "_COLD = [True]",
        "",
        "",
        "def kernel(B, P, C_, out_row, out_rule, *shard):",
        "    n = int(B.n[0])",
        "    if n == 0 or not _KERNELS:",
        "        return 0",
        "    rows = np.empty(n, np.int64)",
        f"    starts = np.zeros({ngroups + 2}, np.int64)",
    ]
    if typed:
        lines.append(f"    K.group_rows(B.type, n, {em.const(table)}, {ngroups}, rows, starts)")
    if untyped:
        lines += [
            "    if shard:                 # (shard_of_row, w): only rows of shard w",
            "        every = np.empty(n, np.int64)",
            "        ne = K.shard_rows(*shard, n, rows, starts, every)",
            "    else:",
            "        every, ne = np.arange(n, dtype=np.int64), n",
        ]
    else:
        lines += [
            "    every, ne = rows, n",
            "    if shard:                 # (shard_of_row, w): only rows of shard w",
            "        K.shard_rows(*shard, n, rows, starts, _NO_ROWS)",
        ]
    lines.append(f"    best = np.full(n, {_NO_MATCH}, np.int64)" if best
                 else "    best = _NO_BEST")
    lines += [
        "    if _COLD:                 # compile every kernel now, on several cores",
        "        _modcache.compile_kernels(__name__, _KERNELS, _SIZES, [",
        "            (*_VIEWS[u].of(B, P, C_), rows, 0, 0, out_row, out_rule, 0, best)",
        "            for u in range(len(_KERNELS))])",
        "        _COLD.clear()",
        "    m = 0",
        "    parts = 0",
        "    for u in range(len(_KERNELS)):",
        "        g = _BUCKETS[u]",
        "        todo, lo, hi = (every, 0, ne) if g < 0 else (rows, starts[g], starts[g + 1])",
        "        if hi > lo:",
        "            Bu, Pu, Cu = _VIEWS[u].of(B, P, C_)",
        "            m1 = _KERNELS[u](Bu, Pu, Cu, todo, lo, hi, out_row, out_rule, m, best)",
        "            parts += m1 > m",
        "            m = m1",
    ]
    if rule_matching == "first" and _dedupes(kernels):
        lines += [
            "    if parts > 1:           # keep each row's first match in rule order",
            "        keep = out_rule[:m] == best[out_row[:m]]",
            "        m = int(keep.sum())",
            "        out_row[:m] = out_row[:keep.size][keep]",
            "        out_rule[:m] = out_rule[:keep.size][keep]",
        ]
    # kernels write a row's matches in rule order, except that the kernels of
    # rules without types come after the group's: then sort by rule too
    keys = "(out_rule[:m], out_row[:m])" if untyped and rule_matching == "all" \
        else "(out_row[:m],)"
    lines += [
        "    if parts > 1:           # several kernels: rows ascending, rule order within",
        f"        o = np.lexsort({keys})",
        "        out_row[:m] = out_row[:m][o]",
        "        out_rule[:m] = out_rule[:m][o]",
    ]
    if not np.array_equal(ids, np.arange(ids.size)):
        lines.append(f"    out_rule[:m] = {em.const(ids)}[out_rule[:m]]     # positions -> ids")
    lines.append("    return m")
    return lines


def run_kernel(gen: Generated, mod, B, P, C, shard=None) -> tuple[np.ndarray, np.ndarray]:
    """Run the generated module `mod` (of `gen`) on a batch: (rows, rule ids), parallel
    int64 arrays, rows ascending and rule order within a row.  shard: None (every
    row) or (shard_of_row, w): only rows with shard_of_row[row] == w."""
    cap = int(B.n[0]) * gen.max_matches_per_row     # np.empty: pages untouched if unused
    out_row = np.empty(cap, np.int64)
    out_rule = np.empty(cap, np.int64)
    if shard is None:
        m = mod.kernel(B, P, C, out_row, out_rule)
    else:
        of_row, w = shard
        if of_row.shape[0] < int(B.n[0]):     # the kernels index it unchecked
            raise ValueError("shard: fewer entries than rows")
        m = mod.kernel(B, P, C, out_row, out_rule, of_row, int(w))
    return out_row[:m].copy(), out_rule[:m].copy()
