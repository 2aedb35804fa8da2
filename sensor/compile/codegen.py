"""Code generation: bound rules -> the source of a numba kernel module.

Shape of the generated module (DESIGN.md point 5):

  F<n>  = registry field n's accessor        (n: its index in all_fields())
  C<n>  = np.array([...ints...])             every literal, set, glob program
  kernel_<u>(B, P, C_, rows, lo, hi, out_row, out_rule, m) -> m
                                             numba; the rows rows[lo:hi], all of
                                             one dispatch group (rules sharing an
                                             event-type list): for each, loop over
                                             the group's rules in rule order; `if
                                             r == <id>:` picks the rule's condition,
                                             one short-circuit expression
  kernel(B, P, C_, out_row, out_rule) -> m   plain Python: buckets the rows by
                                             kernel (K.group_rows, a counting sort)
                                             and runs each kernel that has rows;
                                             matches come out in row order

One kernel per group keeps each numba function small, which LLVM optimises
better and faster.  Measured on the stable rules (perf/bench_rules.py, this
2-vCPU VM, noisy): the split alone took open rows from ~310 to ~210 ns and the
cold compile from well over 100 s to ~55-65 s; with the test ordering below,
the benchmark went from ~4-7 to ~30 M events/s.  Rules without event types belong
to every group; rather than emit them once per group, all groups then share
one fused kernel that looks the group up per row (see _units).

Safety: nothing from a rules file becomes code.  Names in the source are
built from integers (field indexes, constant numbers, rule ids); values are
emitted with `repr(int(x))` only; field and rule names are never written, not
even in comments: `Generated.line_rules` maps source lines back to rule ids.

Test ordering: children of and/or are sorted by estimated cost and
selectivity (see _ordered): cheap, selective tests first, contains last.
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
        self.helpers: list[list[str]] = []
        self.nhelpers = 0
        self.memo: dict = {}            # test-ordering estimates (see _estimate)

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
            parts = [self.expr(c, depth + 1) for c in _ordered(node, self.memo)]
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
        head = ["@njit(inline=\"always\")",      # see _function
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


def _units(lists):
    """Dispatch groups -> kernels ("units"): one kernel per group, except that
    rules without event types belong to every group and would be emitted once
    per group; then all groups share one fused kernel (each rule once)."""
    typed = [g for g in range(1, len(lists)) if lists[g]]
    if lists[0] and typed:
        return [[0] + typed]
    return [[g] for g in range(len(lists)) if lists[g]]


def generate(bound_rules, rule_matching: str = "first", registry=None,
             type_name=None) -> Generated:
    """bound_rules: [(Rule, bound condition)] in rule order (enabled ones only);
    registry: the field registry module the conditions were bound with;
    type_name: event type id -> name (default: sensor.events.evttypes).

    Usually one numba kernel per dispatch group (rules sharing an event-type
    list; see _units), and a plain Python `kernel` that buckets the rows by
    kernel (counting sort, numba) and runs each kernel that has rows (see the
    module docstring for the measurements).  A group kernel also folds
    `evt.type` tests for its own types only."""
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
    conds = {int(r.id): cond for r, cond in bound_rules}
    table, lists = _groups(rules)
    units = _units(lists)
    # kernel of each group; groups without rules go to bucket len(units): no kernel
    unit_of = np.full(len(lists), len(units), np.int32)
    for u, groups in enumerate(units):
        unit_of[groups] = u
    helpers = []
    kernels = []                   # (unit, its groups, [(rule id, body)], nrt)
    for u, groups in enumerate(units):
        # the event types this kernel sees: fold evt.type tests to them
        gtypes = None if 0 in groups else frozenset(
            int(t) for t in np.flatnonzero(np.isin(table, groups)))
        branches, used = [], set()
        ids = {int(r.id) for g in groups for r in lists[g]}
        for rule in (r for r in rules if int(r.id) in ids):
            types = rule.evttypes if gtypes is None else gtypes
            cond = fold_evttype(conds[int(rule.id)], types, type_name)
            em.types = types
            em.helpers = []
            body = em.expr(cond)
            helpers += em.helpers
            branches.append((int(rule.id), body))
            text = body + "\n".join("\n".join(h) for h in em.helpers)
            used.update(t for t in _ALLOCATING if t in text)
        kernels.append((u, groups, branches, bool(used)))

    order = np.array([int(r.id) for lst in lists for r in lst] or [0], np.int64)
    starts = np.cumsum([0] + [len(lst) for lst in lists]).astype(np.int64)
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
    utable = em.const(unit_of[table])
    head += [f"F{k} = _FIELDS[{k}].get" for k in sorted(em.fields)]
    head += em.const_lines
    head.append("")
    lines = list(head)
    for h in helpers:
        lines += h + [""]
    line_rules = []
    for u, groups, branches, nrt in kernels:
        # without reference counting unless a helper allocates (see kernels.py)
        lines += [
            "",
            f"@njit(cache=True, nogil=True, _nrt={nrt!r})",
            f"def kernel_{u}(B, P, C_, rows, lo, hi, out_row, out_rule, m):",
            "    for j in range(lo, hi):",
            "        i = rows[j]",
        ]
        if len(groups) == 1:          # the group, and so its rule list, is known
            g = groups[0]
            lines.append(f"        for k in range({int(starts[g])}, {int(starts[g + 1])}):")
        else:
            lines += [
                "        t = np.int64(B.type[i])",
                f"        g = {grp}[t] if t < {int(table.size)} else 0",
                f"        for k in range({gstart}[g], {gstart}[g + 1]):",
            ]
        lines.append(f"            r = {grules}[k]")
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
        lines += ["            else:", "                hit = False",
                  "            if hit:",
                  "                out_row[m] = i",
                  "                out_rule[m] = r",
                  "                m += 1"]
        if rule_matching == "first":
            lines.append("                break")
        lines.append("    return m")
    names = ", ".join(f"kernel_{u}" for u, _, _, _ in kernels)
    lines += [
        "",
        f"_KERNELS = ({names}{',' if len(kernels) == 1 else ''})",
        "_COLD = [True]",
        "",
        "",
        "def kernel(B, P, C_, out_row, out_rule):",
        "    # rows bucketed by kernel, each kernel on its rows; matches in row",
        "    # order (rule order within a row: lexsort is stable)",
        "    n = int(B.n[0])",
        "    if n == 0 or not _KERNELS:",
        "        return 0",
        "    rows = np.empty(n, np.int64)",
        f"    starts = np.zeros({len(units) + 2}, np.int64)",
        f"    K.group_rows(B.type, n, {utable}, {int(unit_of[0])}, rows, starts)",
        "    m = 0",
        "    parts = 0",
        "    for u in range(len(_KERNELS)):",
        "        lo, hi = starts[u], starts[u + 1]",
        "        if hi > lo or _COLD:      # the first call compiles every kernel",
        "            m1 = _KERNELS[u](B, P, C_, rows, lo, hi, out_row, out_rule, m)",
        "            parts += m1 > m",
        "            m = m1",
        "    _COLD.clear()",
        "    if parts > 1:",
        "        o = np.lexsort((out_row[:m],))",     # stable; no string constant
        "        out_row[:m] = out_row[:m][o]",
        "        out_rule[:m] = out_rule[:m][o]",
        "    return m",
    ]
    return Generated("\n".join(lines) + "\n", line_rules,
                     max(1, max(len(lst) for lst in lists)) if rule_matching == "all" else 1)


def run_kernel(gen: Generated, mod, B, P, C) -> tuple[np.ndarray, np.ndarray]:
    """Run the generated module `mod` (of `gen`) on a batch: (rows, rule ids), parallel
    int64 arrays, rows ascending and rule order within a row."""
    cap = int(B.n[0]) * gen.max_matches_per_row
    out_row = np.empty(cap, np.int64)
    out_rule = np.empty(cap, np.int64)
    m = mod.kernel(B, P, C, out_row, out_rule)
    return out_row[:m].copy(), out_rule[:m].copy()
