"""The `sensor` command: rules validate / list, fields, Falco's short flags, exit codes, JSON."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sensor import cli

ROOT = Path(__file__).parents[1]
RULESETS = ROOT / ".." / "shared" / "rulesets"
STABLE = RULESETS / "falco-rules-5.0.0" / "falco_rules.yaml"

GOOD = """
- list: cats
  items: [cat]
- rule: open_from_cat
  desc: cat opens a file
  condition: evt.type in (open, openat) and proc.name in (cats)
  output: "cat opened %fd.name"
  priority: WARNING
  tags: [fs, demo]
- rule: anything_by_cat
  desc: no event type
  condition: proc.name = cat
  output: "cat did %evt.type"
  priority: INFO
  enabled: false
"""

BAD = """
- rule: broken
  desc: d
  condition: evt.type=execve foo
  output: out
  priority: INFO
"""


@pytest.fixture
def good(tmp_path):
    p = tmp_path / "good.yaml"
    p.write_text(GOOD)
    return str(p)


@pytest.fixture
def bad(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(BAD)
    return str(p)


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_ok_exits_0_and_reports_warnings(capsys, good):
    code, out, _ = run(capsys, "rules", "validate", "-r", good)
    assert code == 0
    assert "LOAD_NO_EVTTYPE (rule 'anything_by_cat')" in out
    assert out.rstrip().endswith("Ok: 2 rule(s), with 1 warning(s)")


def test_validate_error_exits_1_with_position(capsys, bad):
    code, out, _ = run(capsys, "rules", "validate", "-r", bad)
    assert code == 1
    assert f"{bad}:4:30: LOAD_ERR_COMPILE_CONDITION (rule 'broken'): unexpected token after " \
           "'execve', expecting 'or', 'and'" in out
    assert out.rstrip().endswith("Invalid: 1 error(s), 0 warning(s)")


def test_validate_runs_the_engines_own_checks(capsys, tmp_path):
    """What the kernel compiler rejects is reported by validate, with its position:
    a file that validates is a file the engine loads."""
    p = tmp_path / "regex.yaml"
    p.write_text("- rule: by regex\n  desc: d\n  condition: >\n    evt.type = open\n"
                 "    and fd.name regex \"^/etc/.*\"\n  output: o\n  priority: INFO\n")
    code, out, _ = run(capsys, "rules", "validate", "-r", str(p))
    assert code == 1
    assert (f"{p}:5:9: LOAD_ERR_COMPILE_CONDITION (rule 'by regex'): "
            "the 'regex' operator is not supported by the compiler") in out
    assert '        and fd.name regex "^/etc/.*"' in out


def test_validate_json(capsys, good, bad):
    code, out, _ = run(capsys, "rules", "validate", "-r", good, "-r", bad, "--json")
    doc = json.loads(out)
    assert code == 1 and doc["successful"] is False and doc["files"] == [good, bad]
    err = doc["errors"][0]
    assert {k: err[k] for k in ("code", "item_type", "item_name", "file", "line", "column")} == \
        {"code": "LOAD_ERR_COMPILE_CONDITION", "item_type": "rule", "item_name": "broken",
         "file": bad, "line": 4, "column": 30}
    assert err["snippet"] == "  condition: evt.type=execve foo"


def test_falco_short_validate_flag(capsys, good, bad):
    assert run(capsys, "-V", good)[0] == 0
    assert run(capsys, "-V", good, "-V", bad)[0] == 1


def test_list_json_shape(capsys, good):
    code, out, _ = run(capsys, "rules", "list", "-r", good, "--json")
    assert code == 0
    rules = json.loads(out)
    assert isinstance(rules, list) and len(rules) == 2
    first, second = rules
    assert {k: first[k] for k in ("name", "priority", "enabled", "tags", "source", "event_types")} == \
        {"name": "open_from_cat", "priority": "Warning", "enabled": True, "tags": ["demo", "fs"],
         "source": "syscall", "event_types": ["open", "openat"]}
    assert second["event_types"] == "all" and second["enabled"] is False


def test_list_text_and_falco_flags(capsys, good):
    code, out, _ = run(capsys, "rules", "list", "-r", good)
    assert code == 0 and "open_from_cat  [Warning]" in out and "event types: open,openat" in out
    code, out2, _ = run(capsys, "-r", good, "-L")
    assert code == 0 and out2 == out


def test_list_of_invalid_rules_exits_1(capsys, bad):
    code, out, err = run(capsys, "rules", "list", "-r", bad, "--json")
    assert code == 1 and out == "" and "LOAD_ERR_COMPILE_CONDITION" in err


def test_fields(capsys):
    code, out, _ = run(capsys, "fields", "--json")
    assert code == 0
    rows = json.loads(out)
    names = {r["name"] for r in rows}
    assert {"evt.type", "proc.name", "fd.name"} <= names
    assert set(rows[0]) == {"name", "type", "arg", "desc"}
    code, text, _ = run(capsys, "--list")
    assert code == 0 and "proc.name" in text


@pytest.mark.skipif(os.geteuid() != 0, reason="live capture needs root")
@pytest.mark.parametrize("argv", [[], ["run"]])
def test_live_run_rejects_a_bad_ring_size(capsys, bad, argv):
    code, out, err = run(capsys, *argv, "-r", bad, "-M", "1")
    assert code == 1 and out == "" and "LOAD_ERR_COMPILE_CONDITION" in err
    good = Path(__file__).parent / "rules" / "live_rules.yaml"
    code, out, err = run(capsys, *argv, "-r", str(good), "-M", "1",
                         "-o", "capture.ring_bytes=1000")
    assert code == 2 and out == "" and "power of two" in err


def test_replay_without_a_trace_says_so(capsys):
    code, out, err = run(capsys, "replay")
    assert code == 2 and out == "" and "which trace?" in err


def test_help_tells_the_truth(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0
    assert "live capture" in out and "rules" in out and "fields" in out
    assert "replay of .scap traces" in out and "-M SECONDS" in out


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["rules", "validate"])          # -r is required
    assert info.value.code == 2


@pytest.mark.skipif(not STABLE.is_file(), reason="../shared/rulesets not present")
def test_stable_ruleset_through_the_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sensor.cli", "rules", "list", "-r", str(STABLE),
                           "--json"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    rules = json.loads(proc.stdout)
    enabled = [r for r in rules if r["enabled"]]
    assert len(enabled) == 25
    assert all(r["event_types"] != "all" for r in enabled)
    proc = subprocess.run([sys.executable, "-m", "sensor.cli", "-V", str(STABLE)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("Ok: 25 rule(s)")


WARNINGS_CASE = ROOT / ".." / "shared" / "conformance" / "falco"


@pytest.mark.skipif(not (WARNINGS_CASE / "falco_tests.yaml").is_file(),
                    reason="../shared/conformance not present")
def test_list_reproduces_falcos_expected_event_types():
    """`sensor rules list --json` on falco_rules_warnings.yaml gives, for every rule,
    the event types Falco's own test (test_warnings, rules_events) expects."""
    from conformance import load_cases
    case = next(c for c in load_cases() if c.name == "test_warnings")
    expected = {name: types for item in case.spec["rules_events"] for name, types in item.items()}
    proc = subprocess.run([sys.executable, "-m", "sensor.cli", "rules", "list", "--json", "-r",
                           str(WARNINGS_CASE / case.spec["validate_rules_file"])],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    listed = {r["name"]: r["event_types"] for r in json.loads(proc.stdout)}
    assert len(expected) == 31
    for name, types in expected.items():
        want = "all" if types == ["all"] else sorted(types)
        assert listed[name] == want, name
