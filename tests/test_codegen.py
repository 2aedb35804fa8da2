"""The code generator: compiled kernels agree with the reference; no rule text becomes code.

Every case of this module is a rule of one or two kernels compiled once (module
fixtures): numba compiles per kernel, not per test.
"""
import ast as pyast
import sys

import numpy as np
import pytest

import standin
from sensor.compile import ast as A
from sensor.compile import codegen, modcache, reference
from sensor.compile.bind import ConditionError, bind
from test_reference import BATCH, F, GLOB_CASES, OPERATOR_CASES, PMATCH_CASES, lit, values

HOSTILE = [
    '"); os.system("x',
    "__import__('os').system('true')",
    "a\\b\\\\c",
    "line1\nline2\r\n",
    "'''\"\"\"",
    "tab\there\x00nul",
    "unicodé ☃ \U0001F600",
    "{0}%s{{}}",
    "#",
    "x" * 40,
]


def run_kernel(mod, gen, B, P, C):
    rows, ids = codegen.run_kernel(gen, mod, B, P, C)
    return list(zip(rows.tolist(), ids.tolist()))


def compile_rules(rules, mode):
    gen = codegen.generate([(r, bind(r.condition, standin)) for r in rules], mode, standin)
    return gen, modcache.load(gen.source)


# ---------------------------------------------------------------- operator table

@pytest.fixture(scope="module")
def operators(tmp_path_factory):
    standin.use_test_cache(tmp_path_factory)
    rules = [standin.rule(k, cond) for k, (cond, _) in enumerate(OPERATOR_CASES)]
    return (rules,) + compile_rules(rules, "all")


def test_operator_table(operators):
    rules, gen, mod = operators
    got = run_kernel(mod, gen, *BATCH)
    want = [(row, k) for row in range(3) for k, (_, exp) in enumerate(OPERATOR_CASES) if exp[row]]
    assert got == want
    assert got == reference.run(rules, *BATCH, "all", standin)


# ---------------------------------------------------------------- strings: hostile, glob, pmatch

def _string_rules():
    conds = []
    for h in HOSTILE:
        conds += [A.Compare(F("proc.cmdline"), "=", lit(h)),
                  A.Compare(F("proc.cmdline"), "contains", lit(h)),
                  A.Compare(F("proc.cmdline"), "in", values(h, "a", "b", "c", "d", "e")),
                  A.Compare(F("proc.cmdline"), "startswith", lit(h)),
                  A.Compare(F("proc.cmdline"), "glob", lit(h))]
    for pat, _, fold, _ in GLOB_CASES:
        conds.append(A.Compare(F("proc.cmdline"), "iglob" if fold else "glob",
                               lit(pat.decode())))
    for pats, _, _ in PMATCH_CASES:
        conds.append(A.Compare(F("proc.cmdline"), "pmatch", values(*(p.decode() for p in pats))))
    return [standin.rule(k, c) for k, c in enumerate(conds)]


def _string_batch():
    subjects = []
    for h in HOSTILE:
        b = h.encode()
        subjects += [b, b + b"x", b[:-1], b"<" + b]
    subjects += [s for _, s, _, _ in GLOB_CASES] + [p for _, p, _ in PMATCH_CASES]
    procs = [dict(name=b"p", cmdline=s) for s in subjects]
    return subjects, standin.build([dict(slot=k) for k in range(len(procs))], procs)


@pytest.fixture(scope="module")
def strings(tmp_path_factory):
    standin.use_test_cache(tmp_path_factory)
    rules = _string_rules()
    return (rules,) + compile_rules(rules, "all")


def test_strings_agree_with_reference(strings):
    rules, gen, mod = strings
    _, batch = _string_batch()
    assert run_kernel(mod, gen, *batch) == reference.run(rules, *batch, "all", standin)


def test_hostile_literals_match_exactly_their_text(strings):
    rules, gen, mod = strings
    subjects, batch = _string_batch()
    got = set(run_kernel(mod, gen, *batch))
    for k, h in enumerate(HOSTILE):
        eq_rule = 5 * k
        rows = {row for row, rid in got if rid == eq_rule}
        assert rows == {subjects.index(h.encode())}


def test_generated_source_holds_no_rule_text(strings):
    _, gen, _ = strings
    src = gen.source
    for needle in ("os.system", "__import__", "line1", "unicod", "{0}", "x" * 40):
        assert needle not in src
    tree = pyast.parse(src)
    consts = [n.value for n in pyast.walk(tree) if isinstance(n, pyast.Constant)]
    assert all(isinstance(c, (int, bool)) for c in consts)   # no string or bytes constants


# ---------------------------------------------------------------- dispatch and first match

@pytest.fixture(scope="module")
def dispatch(tmp_path_factory):
    standin.use_test_cache(tmp_path_factory)
    always = A.Compare(F("evt.type"), ">=", lit("0"))
    rules = [standin.rule(0, always, frozenset({2})),
             standin.rule(1, A.Compare(F("proc.name"), "=", lit("bash"))),
             standin.rule(2, always, frozenset({1, 2})),
             standin.rule(3, always)]
    return {mode: (rules,) + compile_rules(rules, mode) for mode in ("first", "all")}


def test_dispatch_first(dispatch):
    rules, gen, mod = dispatch["first"]
    assert run_kernel(mod, gen, *BATCH) == [(0, 1), (1, 0), (2, 3)]


def test_dispatch_all(dispatch):
    rules, gen, mod = dispatch["all"]
    got = run_kernel(mod, gen, *BATCH)
    assert got == [(0, 1), (0, 2), (0, 3), (1, 0), (1, 2), (1, 3), (2, 3)]
    assert got == reference.run(rules, *BATCH, "all", standin)
    assert gen.max_matches_per_row == 4          # type 2: all four rules apply


def test_line_map_names_rules(dispatch):
    # each rule's lines in each kernel that tries it: its test and its match
    rules, gen, _ = dispatch["first"]
    lines = gen.source.splitlines()
    seen = set()
    for first, last, rid in gen.line_rules:
        assert lines[first - 1].strip() == f"# rule {rid}"
        assert gen.rule_at(first + 1) == rid
        body = [ln.strip() for ln in lines[first - 1:last]]
        assert any(ln.startswith("hit = ") for ln in body) and "m += 1" in body
        seen.add(rid)
    assert seen == {r.id for r in rules}


# ---------------------------------------------------------------- kernels of bounded size

def _mixed_rules():
    """Rules with and without event types, interleaved: on BATCH (rows of types 1,
    2, 3) the first match of rows 0 and 2 is a rule without types that comes
    before typed rules matching them too."""
    bash = A.Compare(F("proc.name"), "=", lit("bash"))
    return [standin.rule(0, bash),
            standin.rule(1, A.Compare(F("fd.name"), "contains", lit("")), frozenset({1, 2})),
            standin.rule(2, A.Compare(F("user.uid"), "<", lit("1000")), frozenset({1})),
            standin.rule(3, A.Compare(F("fd.name"), "endswith", lit(".so.6")),
                         frozenset({1, 2})),
            standin.rule(4, A.Not(bash)),
            standin.rule(5, A.Compare(F("evt.type"), ">=", lit("0")), frozenset({2, 3}))]


@pytest.fixture(scope="module")
def chunked(tmp_path_factory):
    standin.use_test_cache(tmp_path_factory)
    rules = _mixed_rules()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(codegen, "_CHUNK_SIZE", 1)          # every rule a kernel of its own
        return {mode: (rules,) + compile_rules(rules, mode) for mode in ("first", "all")}


@pytest.mark.parametrize("mode", ["first", "all"])
def test_rules_split_into_kernels_agree(chunked, mode):
    rules, gen, mod = chunked[mode]
    # groups: type 1 [1, 2, 3], type 2 [1, 3, 5], type 3 [5]; then the untyped 0 and 4
    assert len(mod._KERNELS) == 9 and mod._BUCKETS.count(-1) == 2
    got = run_kernel(mod, gen, *BATCH)
    assert got == reference.run(rules, *BATCH, mode, standin)
    if mode == "first":
        assert got == [(0, 0), (1, 1), (2, 4)]


def test_one_kernel_per_group_by_default(chunked):
    rules, _, _ = chunked["all"]
    gen, mod = compile_rules(rules, "all")
    assert len(mod._KERNELS) == 4                      # three groups, the untyped rules
    assert run_kernel(mod, gen, *BATCH) == reference.run(rules, *BATCH, "all", standin)


def test_kernels_get_only_the_columns_they_read(chunked):
    from sensor.events.batch import Batch
    _, _, mod = chunked["all"]
    for view in mod._VIEWS:
        assert set(view.types[0]._fields) < set(Batch._fields)
    b, p, c = codegen._accessor_columns(standin.g_proc_name)
    assert b == {"slot"} and None in p and c == set()  # P passed on: all its columns


def test_kernels_compile_in_worker_processes(tmp_path_factory, monkeypatch):
    standin.use_test_cache(tmp_path_factory)
    monkeypatch.setenv("SENSOR_COMPILE_WORKERS", "2")
    monkeypatch.setattr(modcache, "PARALLEL_MIN_SIZE", 0)
    monkeypatch.setattr(codegen, "_CHUNK_SIZE", 1)
    rules = _mixed_rules()[:4]                         # a module no other test compiles
    gen, mod = compile_rules(rules, "first")
    assert run_kernel(mod, gen, *BATCH) == reference.run(rules, *BATCH, "first", standin)
    for k in mod._KERNELS:      # the workers compiled them; this process loaded them
        assert sum(k.stats.cache_hits.values()) == 1, k
        assert not sum(k.stats.cache_misses.values()), k


def test_module_named_by_content_and_reused(dispatch):
    _, gen, mod = dispatch["first"]
    name = modcache.module_name(gen.source)
    assert mod.__name__ == name and sys.modules[name] is mod
    assert modcache.load(gen.source) is mod
    assert mod.__file__.endswith(name + ".py")
    assert open(mod.__file__, encoding="utf-8").read() == gen.source


def test_generation_is_deterministic():
    rules = _string_rules()
    a = codegen.generate([(r, bind(r.condition, standin)) for r in rules], "all", standin)
    b = codegen.generate([(r, bind(r.condition, standin)) for r in rules], "all", standin)
    assert a.source == b.source


def test_contains_runs_last_in_and():
    cond = A.And((A.Compare(F("fd.name"), "contains", lit("x")),
                  A.Compare(F("proc.name"), "=", lit("bash"))))
    src = codegen.generate([(standin.rule(0, cond), bind(cond, standin))], "first",
                           standin).source
    body = src[src.index("# rule 0"):]
    assert body.index("K.str_eq") < body.index("K.str_contains")


def test_regex_is_rejected_with_position():
    cond = A.Compare(F("proc.name"), "regex", lit("ba.*"), pos=3)
    with pytest.raises(ConditionError) as e:
        codegen.generate([(standin.rule(0, cond), bind(cond, standin))], "first", standin)
    assert "regex" in str(e.value) and e.value.node.pos == 3


def test_rule_matching_is_validated():
    with pytest.raises(ValueError):
        codegen.generate([], "some", standin)


def test_cache_dir_override(monkeypatch, tmp_path):
    monkeypatch.setenv("SENSOR_CACHE_DIR", str(tmp_path / "c"))
    assert modcache.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SENSOR_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert modcache.cache_dir() == tmp_path / "x" / "sensor"
