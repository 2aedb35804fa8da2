"""Property test: the compiled kernel and the reference evaluator agree.

Random conditions (seeded, over every stand-in field kind and operator, with
edge-case string literals) are compiled once into one kernel in "all" mode;
hypothesis then draws random batches, and every (row, rule) decision must be
the same in both evaluators.
"""
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import standin
from sensor.compile import ast as A
from sensor.compile import codegen, modcache, reference
from sensor.compile.bind import bind, ip_value

WORDS = ["", "a", "bash", "BASH", "sh", "/etc", "/etc/shadow", "/usr/lib/x.so", "a*", "*sh",
         "[a-c]*", "?ash", "\\*", "x" * 17, "é", "\"'", "a/b//c", "/"]
NAMES = [w.encode() for w in WORDS if len(w.encode()) <= 16]
STR_FIELDS = ["proc.name", "fd.name", "fd.filename", "proc.cmdline", "proc.exepath",
              "proc.env", "proc.aname", "evt.buffer"]
STR_OPS = ["=", "!=", "<", ">=", "contains", "icontains", "startswith", "endswith", "glob",
           "iglob", "in", "pmatch", "exists"]
NUM_FIELDS = {"user.uid": ["0", "1000", "4294967295"], "evt.res": ["-2", "0", "3"],
              "evt.time": ["0", "18446744073709551615", "5"], "fd.sport": ["22", "80"],
              "fd.connected": ["true", "false"]}
IPS = ["10.1.2.3", "10.0.0.0/8", "::1", "192.168.0.0/16", "0.0.0.0/0"]


def _leaf(rnd):
    kind = rnd.random()
    if kind < 0.6:
        name = rnd.choice(STR_FIELDS)
        arg = {"proc.env": "HOME", "proc.aname": rnd.choice(["1", "2"])}.get(name)
        tr = rnd.choice([(), (), (), ("tolower",), ("basename",), ("toupper",)])
        if name == "evt.buffer":
            tr = ()
        op = rnd.choice(STR_OPS if name != "evt.buffer" else
                        ["=", "contains", "startswith", "endswith", "in", "exists"])
        f = A.FieldRef(name, arg, tr)
        if op == "exists":
            return A.Compare(f, op)
        if op in ("in", "pmatch"):
            return A.Compare(f, op, A.ValueList(tuple(
                A.Literal(w, True) for w in rnd.sample(WORDS, rnd.randint(1, 7)))))
        if rnd.random() < 0.1 and name != "evt.buffer" and op in ("=", "!=", "contains"):
            return A.Compare(f, op, A.FieldValue(A.FieldRef("proc.name")))
        return A.Compare(f, op, A.Literal(rnd.choice(WORDS), True))
    if kind < 0.7:
        return A.Compare(A.FieldRef("container.mounts"), rnd.choice(["in", "intersects"]),
                         A.ValueList(tuple(A.Literal(w, True) for w in rnd.sample(WORDS, 3))))
    if kind < 0.8:
        op = rnd.choice(["=", "!=", "in"])
        vals = rnd.sample(IPS, 2)
        val = A.ValueList(tuple(A.Literal(v) for v in vals)) if op == "in" else A.Literal(vals[0])
        return A.Compare(A.FieldRef("fd.sip"), op, val)
    name = rnd.choice(list(NUM_FIELDS))
    ops = ["=", "!="] if name == "fd.connected" else ["=", "!=", "<", "<=", ">", ">=", "in"]
    op = rnd.choice(ops)
    lits = NUM_FIELDS[name]
    val = (A.ValueList(tuple(A.Literal(x) for x in lits)) if op == "in"
           else A.Literal(rnd.choice(lits)))
    return A.Compare(A.FieldRef(name), op, val)


def _cond(rnd, depth=0):
    r = rnd.random()
    if depth >= 3 or r < 0.4:
        return _leaf(rnd)
    if r < 0.55:
        return A.Not(_cond(rnd, depth + 1))
    kids = tuple(_cond(rnd, depth + 1) for _ in range(rnd.randint(2, 3)))
    return A.And(kids) if r < 0.8 else A.Or(kids)


def _rules(n=40, seed=20240611):
    rnd = random.Random(seed)
    return [standin.rule(k, _cond(rnd), types=None if k % 4 else frozenset({1, 2}))
            for k in range(n)]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    standin.use_test_cache(tmp_path_factory)
    rules = _rules()
    gen = codegen.generate([(r, bind(r.condition, standin)) for r in rules], "all", standin)
    return rules, gen, modcache.load(gen.source)


text = st.sampled_from(NAMES) | st.binary(max_size=24)
maybe = st.none() | text
row = st.fixed_dictionaries({
    "type": st.integers(0, 4), "slot": st.integers(-1, 3), "uid": st.sampled_from([-1, 0, 1000]),
    "res": st.sampled_from([-2, 0, 3]), "ts": st.sampled_from([0, 5, 2**64 - 1]),
    "fd_name": maybe, "buffer": maybe, "fd_family": st.sampled_from([0, 2]),
    "fd_sport": st.sampled_from([22, 80]), "fd_connected": st.integers(0, 1),
    "fd_sip": st.sampled_from([ip_value(a) for a in ("10.1.2.3", "::1", "192.168.3.4")]),
})
proc = st.fixed_dictionaries({
    "name": st.sampled_from(NAMES) | st.binary(max_size=16), "parent": st.integers(-1, 3),
    "exepath": maybe, "cmdline": maybe, "container": st.integers(-1, 0),
    "env": st.none() | st.lists(st.sampled_from([b"HOME=/root", b"HOME=", b"X=1"]), max_size=2),
})
mounts = st.lists(st.sampled_from(NAMES), max_size=3)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=12), procs=st.lists(proc, min_size=4, max_size=4),
       mnt=mounts)
def test_kernel_agrees_with_reference(compiled, rows, procs, mnt):
    rules, gen, mod = compiled
    B, P, C = standin.build(rows, procs, [dict(mounts=mnt)])
    n = int(B.n[0])
    out_row = np.zeros(n * gen.max_matches_per_row, np.int64)
    out_rule = np.zeros_like(out_row)
    m = mod.kernel(B, P, C, out_row, out_rule)
    got = list(zip(out_row[:m].tolist(), out_rule[:m].tolist()))
    assert got == reference.run(rules, B, P, C, "all", standin)
