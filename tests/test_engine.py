"""The embeddable Engine, with the real loader, field registry and batch builder."""
import re

import numpy as np
import pytest

import standin
from sensor.compile.errors import RulesError
from sensor.compile.reference import run as reference_run
from sensor.engine import Engine, Matches
from sensor.events.builder import Builder

RULES = """
- list: shell_binaries
  items: [bash, sh, zsh]
- macro: spawned_process
  condition: evt.type = execve and evt.dir = <
- rule: Shell spawned
  desc: a shell was started
  condition: spawned_process and proc.name in (shell_binaries)
  output: shell %proc.name
  priority: WARNING
  tags: [shell, mitre_execution]
- rule: Read shadow
  desc: someone reads /etc/shadow
  condition: evt.type in (open, openat) and fd.name = /etc/shadow
  output: read %fd.name
  priority: ERROR
  tags: [filesystem]
- rule: Any exec
  desc: every exec
  condition: spawned_process
  output: exec %proc.name
  priority: DEBUG
  tags: [noisy]
"""


def batch():
    b = Builder()
    sh = b.add_proc(pid=10, comm="bash", exe="/bin/bash")
    cat = b.add_proc(pid=11, comm="cat", exe="/bin/cat", parent=sh)
    b.add_event("execve", slot=sh)                                   # row 0
    b.add_event("openat", slot=cat, fd_name="/etc/shadow", fd=3)     # row 1
    b.add_event("execve", slot=cat)                                  # row 2
    b.add_event("openat", slot=cat, fd_name="/etc/passwd", fd=3)     # row 3
    return b.build()


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    standin.use_test_cache(tmp_path_factory)
    eng = Engine()
    eng.load_rules(RULES, "inline.yaml")
    return eng


def ids(eng, names):
    by = {r.name: r.id for r in eng.rules}
    return [by[n] for n in names]


def test_evaluate_first(engine):
    m = engine.evaluate(*batch())
    assert isinstance(m, Matches)
    assert m.pairs() == list(zip([0, 1, 2], ids(engine, ["Shell spawned", "Read shadow",
                                                           "Any exec"])))
    assert [r.name for r in m.rules()] == ["Shell spawned", "Read shadow", "Any exec"]


def test_evaluate_accepts_a_bundle(engine):
    assert engine.evaluate(batch()).pairs() == engine.evaluate(*batch()).pairs()


def test_agrees_with_reference(engine):
    B, P, C = batch()
    assert engine.evaluate(B, P, C).pairs() == reference_run(engine.rules, B, P, C, "first")


def test_rule_matching_all(tmp_path_factory):
    eng = Engine(rule_matching="all")
    eng.load_rules(RULES, "inline.yaml")
    got = eng.evaluate(*batch()).pairs()
    want = [(0, i) for i in ids(eng, ["Shell spawned", "Any exec"])] + \
        [(1, ids(eng, ["Read shadow"])[0]), (2, ids(eng, ["Any exec"])[0])]
    assert got == want
    with pytest.raises(ValueError):
        Engine(rule_matching="every")


def test_enable_rules_and_stats(tmp_path_factory):
    eng = Engine()
    eng.load_rules(RULES, "inline.yaml")
    assert eng.enable_rules(tag="noisy", enabled=False) == 1
    assert eng.evaluate(*batch()).pairs() == list(zip([0, 1], ids(eng, ["Shell spawned",
                                                                       "Read shadow"])))
    assert eng.enable_rules("shadow", enabled=False) == 1        # substring of the name
    assert eng.enable_rules(re.compile(r"^Any"), enabled=True) == 1
    eng.reset_stats()
    eng.evaluate(*batch())
    st = eng.stats()
    assert st["events"] == 4 and st["matches"] == 2
    assert st["by_rule"] == {"Shell spawned": 1, "Any exec": 1}
    assert st["by_priority"] == {"Warning": 1, "Debug": 1}


def test_describe_rule(engine):
    d = engine.describe_rule("Shell spawned")
    assert d["name"] == "Shell spawned" and d["priority"] == "Warning"
    assert d["condition"] == "spawned_process and proc.name in (shell_binaries)"
    assert d["tags"] == ["mitre_execution", "shell"] or set(d["tags"]) == {"shell", "mitre_execution"}
    assert d["event_types"] == ["execve"] and d["enabled"] is True
    assert d["source"] == "syscall" and d["output"] == "shell %proc.name"
    assert [x["name"] for x in engine.describe_rule()] == ["Shell spawned", "Read shadow",
                                                           "Any exec"]
    with pytest.raises(KeyError):
        engine.describe_rule("nope")


def test_generated_source_is_viewable_and_mapped(engine):
    src = engine.generated_source()
    assert "def kernel(" in src
    lines = [ln.strip() for ln in src.splitlines()]
    line = lines.index("# rule %d" % ids(engine, ["Read shadow"])[0]) + 2
    assert engine.rule_for_line(line).name == "Read shadow"


def test_evt_type_tests_fold_away(engine):
    # the kernel dispatches on the event type, so `evt.type in (...)` costs nothing
    src = engine.generated_source()
    rid = ids(engine, ["Read shadow"])[0]
    body = src[src.index("# rule %d" % rid):]
    body = body[:body.index("# rule", 10) if "# rule" in body[10:] else body.index("else:")]
    assert body.count("K.") == 1                  # only the fd.name test is left


def test_bad_literal_is_a_load_error_with_position():
    eng = Engine()
    bad = RULES + """
- rule: Bad port
  desc: x
  condition: evt.type = connect and fd.sport = http
  output: x
  priority: NOTICE
"""
    with pytest.raises(RulesError) as e:
        eng.load_rules(bad, "bad.yaml")
    msg = e.value.errors[0]
    assert msg.code == "LOAD_ERR_COMPILE_CONDITION" and msg.item_name == "Bad port"
    assert "'http' is not a number" in msg.message
    assert msg.file == "bad.yaml" and msg.line > 0
    assert msg.snippet == "  condition: evt.type = connect and fd.sport = http"
    assert msg.snippet[msg.column - 1:] == "http"          # the caret under the literal
    assert eng.rules == []                        # a failed load changes nothing


def test_compile_error_quotes_the_text_that_was_loaded(tmp_path):
    """The snippet is the line as the loader read it: after the file is edited, a
    new load quotes the new text, not a cached copy of the old one."""
    path = tmp_path / "r.yaml"
    for cond in ("evt.type = open and fd.name regex x", "evt.type = openat and fd.name regex y"):
        path.write_text(f"- rule: R\n  desc: d\n  condition: {cond}\n"
                        "  output: o\n  priority: INFO\n")
        with pytest.raises(RulesError) as e:
            Engine().load_rules_file(str(path))
        msg = e.value.errors[0]
        assert (msg.file, msg.line) == (str(path), 3)
        assert msg.snippet == f"  condition: {cond}"


def test_later_sources_append(tmp_path):
    eng = Engine()
    eng.load_rules(RULES, "a.yaml")
    eng.load_rules("""
- list: shell_binaries
  items: [cat]
  append: true
""", "b.yaml")
    got = eng.evaluate(*batch()).pairs()
    assert got[-1] == (2, ids(eng, ["Shell spawned"])[0])      # cat is a shell now


def test_load_rules_file_and_directory(tmp_path):
    (tmp_path / "a.yaml").write_text(RULES)
    eng = Engine()
    eng.load_rules_file(str(tmp_path / "a.yaml"))
    assert len(eng.rules) == 3
    eng2 = Engine()
    eng2.load_rules_file(str(tmp_path))
    assert [r.name for r in eng2.rules] == [r.name for r in eng.rules]


def test_empty_engine_evaluates_nothing():
    eng = Engine()
    m = eng.evaluate(*batch())
    assert len(m) == 0 and eng.stats()["events"] == 4


def test_hostile_strings_through_yaml():
    text = r"""
- rule: Hostile
  desc: x
  condition: evt.type = execve and proc.cmdline = '"); os.system("x'
  output: x
  priority: NOTICE
- rule: Hostile2
  desc: x
  condition: evt.type = execve and proc.cmdline in ("__import__('os')", "a\\b", "x'y")
  output: x
  priority: NOTICE
"""
    eng = Engine(rule_matching="all")
    eng.load_rules(text, "hostile.yaml")
    b = Builder()
    cmds = ['"); os.system("x', "__import__('os')", '"); os.system("', "x'y"]
    for k, c in enumerate(cmds):
        s = b.add_proc(pid=k + 1, comm="p", cmdline=c)
        b.add_event("execve", slot=s)
    B, P, C = b.build()
    got = eng.evaluate(B, P, C).pairs()
    assert got == reference_run(eng.rules, B, P, C, "all")
    assert got == [(0, 0), (1, 1), (3, 1)]
    assert "os.system" not in eng.generated_source()
