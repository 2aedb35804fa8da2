"""`sensor replay` end to end: the real CLI on real traces (../shared), in a subprocess
where exit codes and streams matter, in-process where only the alerts do."""
from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared"
FALCO = SHARED / "conformance" / "falco"
CAT_WRITE = FALCO / "trace_files" / "cat_write.scap"
SINGLE_RULE = FALCO / "rules" / "single_rule.yaml"
TAGGED = FALCO / "rules" / "tagged_rules.yaml"

pytestmark = pytest.mark.skipif(not CAT_WRITE.is_file(),
                                reason="needs Falco's traces and rules in ../shared")

OWN_RULES = """
- rule: cat opens
  desc: any open by cat
  condition: evt.type in (open, openat) and evt.dir=< and proc.name=cat
  output: "cat opened %fd.name (pid=%proc.pid parent=%proc.pname user=%user.name)"
  priority: NOTICE
  tags: [files]
- rule: cat reads
  desc: reads by cat
  condition: evt.type=read and evt.dir=< and proc.name=cat
  output: "cat read from %fd.name"
  priority: ERROR
  tags: [io]
"""


def sensor(*args, check_rc=None):
    p = subprocess.run([sys.executable, "-m", "sensor.cli", *map(str, args)], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    if check_rc is not None:
        assert p.returncode == check_rc, p.stderr
    return p


@pytest.fixture(scope="module")
def own_rules(tmp_path_factory):
    f = tmp_path_factory.mktemp("rules") / "own.yaml"
    f.write_text(OWN_RULES)
    return f


def test_text_alerts(own_rules):
    p = sensor("replay", CAT_WRITE, "-r", own_rules, check_rc=0)
    lines = p.stdout.splitlines()
    opens = [ln for ln in lines if "Notice cat opened" in ln]
    reads = [ln for ln in lines if "Error cat read from" in ln]
    assert len(opens) == 4 and len(reads) == 2          # as sysdig shows the trace
    assert any("cat opened /dev/null (pid=20072 parent=bash" in ln for ln in opens)
    assert any("cat read from /lib/x86_64-linux-gnu/libc.so.6" in ln for ln in reads)
    assert "Events read:" in p.stderr and "cat opens:" in p.stderr


def test_json_alerts(own_rules):
    p = sensor("replay", CAT_WRITE, "-r", own_rules, "--json", check_rc=0)
    docs = [json.loads(ln) for ln in p.stdout.splitlines()]
    assert docs
    for d in docs:
        assert {"time", "rule", "priority", "source", "output", "output_fields",
                "tags"} <= set(d)
    opened = [d for d in docs if d["rule"] == "cat opens"]
    assert opened[0]["tags"] == ["files"]
    f = opened[0]["output_fields"]
    assert set(f) == {"fd.name", "proc.pid", "proc.pname", "user.name"}
    assert isinstance(f["proc.pid"], int) and f["proc.pid"] > 0


def test_falco_flags(own_rules):
    all_rules = sensor("-e", CAT_WRITE, "-r", own_rules, "--json", check_rc=0)
    rules = {json.loads(ln)["rule"] for ln in all_rules.stdout.splitlines()}
    assert rules == {"cat opens", "cat reads"}
    for flags, expected in ((["-D", "reads"], {"cat opens"}),
                            (["-t", "io"], {"cat reads"}),
                            (["-T", "io"], {"cat opens"}),
                            (["-o", "priority=error"], {"cat reads"})):
        p = sensor("replay", CAT_WRITE, "-r", own_rules, "--json", *flags, check_rc=0)
        got = {json.loads(ln)["rule"] for ln in p.stdout.splitlines()}
        assert got == expected, flags
    p = sensor("replay", CAT_WRITE, "-r", own_rules, "-D", "x", "-t", "io")
    assert p.returncode == 1 and "You can not specify both" in p.stderr


def test_rule_matching_all(tmp_path):
    rules = tmp_path / "two.yaml"
    rules.write_text(OWN_RULES.replace("cat reads", "also cat opens").replace(
        "evt.type=read", "evt.type in (open, openat)"))
    first = sensor("replay", CAT_WRITE, "-r", rules, "--json", check_rc=0)
    every = sensor("replay", CAT_WRITE, "-r", rules, "--json", "-o", "rule_matching=all",
                   check_rc=0)
    n_first, n_all = len(first.stdout.splitlines()), len(every.stdout.splitlines())
    assert n_first > 0 and n_all == 2 * n_first


def test_truncated_trace_reports_offset_after_earlier_alerts(own_rules, tmp_path):
    data = gzip.decompress(CAT_WRITE.read_bytes())
    cut = tmp_path / "cut.scap"
    cut.write_bytes(data[:int(len(data) * 0.9)])
    whole = sensor("replay", CAT_WRITE, "-r", own_rules, check_rc=0)
    p = sensor("replay", cut, "-r", own_rules)
    assert p.returncode == 1
    assert "offset" in p.stderr and str(cut) in p.stderr
    assert 0 < len(p.stdout.splitlines()) <= len(whole.stdout.splitlines())


def test_bad_inputs_are_clear(own_rules, tmp_path):
    p = sensor("replay", tmp_path / "missing.scap", "-r", own_rules)
    assert p.returncode == 1 and "missing.scap" in p.stderr
    junk = tmp_path / "junk.scap"
    junk.write_bytes(b"this is not a capture file at all" * 10)
    p = sensor("replay", junk, "-r", own_rules)
    assert p.returncode == 1 and "offset" in p.stderr
    p = sensor("replay", CAT_WRITE)
    assert p.returncode == 2 and "no rules" in p.stderr
    p = sensor("replay", CAT_WRITE, "-r", own_rules, "-o", "json_output=maybe")
    assert p.returncode == 2 and "json_output" in p.stderr


@pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig is not installed")
def test_write_filtered_capture_reads_in_sysdig(own_rules, tmp_path):
    out = tmp_path / "cat.scap"
    p = sensor("replay", CAT_WRITE, "proc.name=cat", "-r", own_rules, "--write", out,
               check_rc=0)
    assert "Events written:" in p.stderr
    fmt = "%evt.num %proc.name %evt.type %evt.dir"
    got = subprocess.run(["sysdig", "-r", str(out), "-p", fmt], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    want = subprocess.run(["sysdig", "-r", str(CAT_WRITE), "-p", fmt, "proc.name=cat"],
                          capture_output=True, text=True, check=True).stdout.splitlines()
    assert got and all(ln.split()[1] == "cat" for ln in got)
    # evt.num restarts in the smaller file; the rest of each line agrees.
    assert [ln.split(None, 1)[1] for ln in got] == [ln.split(None, 1)[1] for ln in want]


def test_progress_bar_only_on_a_terminal():
    from sensor.replay import Progress
    master, slave = os.openpty()
    with open(slave, "w") as tty:
        bar = Progress(tty, delay=0.0)
        bar.update(0.5, 1000)
        bar.close()
    text = os.read(master, 4096).decode()
    os.close(master)
    assert "50.0%" in text and "1,000 events" in text
    r, w = os.pipe()
    with open(w, "w") as pipe:
        bar = Progress(pipe, delay=0.0)
        bar.update(0.5, 1000)
        bar.close()
    assert os.read(r, 4096) == b""
    os.close(r)


def test_reader_reports_progress_through_a_big_file(tmp_path):
    """The progress bar's source: the share of the file read, rising to 1."""
    sys.path.insert(0, str(ROOT / "perf"))
    from replicate import replicate
    from sensor.capture.model import Snapshot
    from sensor.capture.scap_reader import open_scap
    big = tmp_path / "big.scap"
    replicate(str(SHARED / "traces" / "502Error.scap"), str(big), 6)   # ~8 MB: 2+ chunks
    reader = open_scap(str(big))
    seen = [reader.progress()]
    for item in reader.batches(4096):
        if not isinstance(item, Snapshot):
            seen.append(reader.progress())
    assert seen == sorted(seen)
    assert any(0 < f < 1 for f in seen) and seen[-1] == 1.0


def test_sinks_append_output_and_dedup_from_the_configuration(own_rules, tmp_path):
    """-c and -o set the sinks: the file gets exactly the lines stdout gets, with
    append_output's text and fields; dedup folds the repeated reads."""
    conf = tmp_path / "sensor.yaml"
    out_file = tmp_path / "alerts.json"
    conf.write_text(f"""
json_output: true
file_output: {{enabled: true, filename: "{out_file}"}}
append_output:
  - match: {{tags: [io]}}
    extra_output: "(fd %fd.num)"
    extra_fields: [proc.pid, {{origin: "replay of %proc.name"}}]
""")
    p = sensor("replay", CAT_WRITE, "-r", own_rules, "-c", conf, "-o",
               "dedup.fields=[proc.name]", check_rc=0)
    got = [json.loads(x) for x in p.stdout.splitlines()]
    assert [json.loads(x) for x in out_file.read_text().splitlines()] == got
    reads = [a for a in got if a["rule"] == "cat reads"]
    assert reads and all(a["output"].split(": ", 1)[1].startswith("Error cat read from ")
                         and "(fd " in a["output"] for a in reads)
    assert all(a["output_fields"]["origin"] == "replay of cat"
               and isinstance(a["output_fields"]["proc.pid"], int) for a in reads)
    opens = [a for a in got if a["rule"] == "cat opens"]
    assert opens and not any("origin" in a["output_fields"] for a in opens)
    # Every match is accounted for: the summary's count equals firsts + repeats.
    for rule, alerts in (("cat reads", reads), ("cat opens", opens)):
        n = int(next(x for x in p.stderr.splitlines() if f"{rule}:" in x).split()[-1])
        assert sum(a.get("repeated") or 1 for a in alerts) == n and len(alerts) == 2
    assert "Output file:" in p.stderr and "Dedup:" in p.stderr


def test_bad_append_output_is_an_error(own_rules, tmp_path):
    conf = tmp_path / "sensor.yaml"
    conf.write_text("append_output:\n  - extra_output: '%no.such.field'\n")
    p = sensor("replay", CAT_WRITE, "-r", own_rules, "-c", conf)
    assert p.returncode == 1 and "append_output[0].extra_output" in p.stderr
