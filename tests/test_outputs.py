"""The outputs as a whole (sensor.outputs.dispatch.Outputs): dedup before the sinks,
every sink fed, a dead or stuck sink costing only its own counted losses, counters
seen across a fork, and append_output."""
from __future__ import annotations

import json
import os
import socket
import threading
import time

import orjson
import pytest

from sensor.compile.rule import Priority
from sensor.config import Config
from sensor.engine import Engine
from sensor.outputs.alert import Alert
from sensor.outputs.append import AppendOutputError, apply_append_output
from sensor.outputs.dispatch import Outputs

S = 1_000_000_000


def alert(ts, pid=1, rule="r"):
    return Alert(ts=ts, rule=rule, priority=Priority.WARNING, source="syscall", tags=("t",),
                 output=f"opened (pid={pid})", output_fields={"proc.pid": pid,
                                                               "evt.time": str(ts)}, num=ts)


def file_config(path, **more) -> Config:
    cfg = Config({"stdout_output": {"enabled": False},
                  "file_output": {"enabled": True, "filename": str(path), "keep_alive": True},
                  "json_output": True})
    for k, v in more.items():
        cfg.set_option(f"{k}={v}")
    return cfg


def lines(path) -> list:
    if not path.exists():
        return []
    return [orjson.loads(x) for x in path.read_text().splitlines()]


def test_a_burst_of_identical_matches_gives_two_lines_that_account_for_all(tmp_path):
    out = Outputs(file_config(tmp_path / "a.json"))
    for i in range(1000):
        out(alert(5 * S + i * 1000))
    out.close()
    got = lines(tmp_path / "a.json")
    assert len(got) == 2
    assert "repeated" not in got[0] and got[1]["repeated"] == 999
    assert out.stats()["dedup"] == {"matches": 1000, "suppressed": 999, "emitted": 2}
    assert out.stats()["sinks"]["file"]["sent"] == 2


def test_windows_end_with_time_alone(tmp_path):
    """No alert after the copies: the ticker still ends the window and reports."""
    out = Outputs(file_config(tmp_path / "a.json", **{"dedup.window": "300ms"}))
    for i in range(5):
        out(alert(S + i))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(lines(tmp_path / "a.json")) < 2:
        time.sleep(0.05)
    got = lines(tmp_path / "a.json")
    assert [g.get("repeated") for g in got] == [None, 4]
    out.close()


def test_dedup_off_passes_every_alert(tmp_path):
    out = Outputs(file_config(tmp_path / "a.json", **{"dedup.enabled": "false"}))
    for i in range(50):
        out(alert(S + i))
    out.close()
    assert len(lines(tmp_path / "a.json")) == 50
    assert out.stats()["dedup"] is None


class _StuckHandler(threading.Thread):
    """Accepts connections and never answers: a sink that hangs, not one that fails."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns = []

    def run(self):
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return


def test_a_stuck_sink_costs_only_its_own_counted_losses(tmp_path):
    stuck = _StuckHandler()
    stuck.start()
    cfg = file_config(tmp_path / "a.json", **{
        "dedup.enabled": "false", "http_output.enabled": "true",
        "http_output.url": f"http://127.0.0.1:{stuck.port}/", "http_output.timeout": 30,
        "outputs_queue.capacity": 2000, "outputs.close_timeout": 1})
    out = Outputs(cfg)
    t0 = time.monotonic()
    for i in range(1000):
        out(alert(S + i, pid=i))
    emit_s = time.monotonic() - t0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and out.stats()["sinks"]["file"]["sent"] < 1000:
        time.sleep(0.05)
    # The file got everything while the HTTP sink hangs on its first POST.
    assert len(lines(tmp_path / "a.json")) == 1000
    assert emit_s < 5, f"emitting 1000 alerts took {emit_s:.1f} s with a stuck sink"
    out.close()
    http = out.stats()["sinks"]["http"]
    assert http["sent"] == 0 and http["accepted"] == 1000
    assert http["failed"] + http["in_flight"] == 1000      # counted, not lost silently
    stuck.sock.close()


def test_counters_are_seen_across_a_fork(tmp_path):
    """The output process delivers; the capture process reports its figures."""
    out = Outputs(file_config(tmp_path / "a.json"))
    pid = os.fork()
    if pid == 0:
        try:
            for i in range(10):
                out(alert(S + i, pid=i))
            out.close()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert out.stats()["sinks"]["file"]["sent"] == 10
    assert out.stats()["dedup"]["matches"] == 10
    assert any("Output file: 10 sent" in x for x in out.summary())


def test_counters_carry_over_a_reload_with_the_same_sinks(tmp_path):
    first = Outputs(file_config(tmp_path / "a.json"))
    first(alert(S))
    first.close()
    second = Outputs(file_config(tmp_path / "a.json"), first.counters)
    second(alert(2 * S, pid=2))
    second.close()
    assert second.stats()["sinks"]["file"]["sent"] == 2


def test_bad_sink_settings_are_errors_that_name_the_key(tmp_path):
    with pytest.raises(ValueError, match="file_output.filename"):
        Outputs(Config({"file_output": {"enabled": True, "filename": ""}}))
    with pytest.raises(ValueError, match="dedup.window"):
        Outputs(Config({"dedup": {"window": "soon"}}))


RULES = """
- rule: net thing
  desc: d
  condition: evt.type = connect
  output: "connect by %proc.name"
  priority: WARNING
  tags: [network, mitre]
- rule: file thing
  desc: d
  condition: evt.type = openat
  output: "open of %fd.name"
  priority: NOTICE
  tags: [filesystem]
"""


def _engine():
    e = Engine()
    e.load_rules(RULES)
    return e


def test_append_output_matches_by_tags_rule_and_source():
    e = _engine()
    n = apply_append_output(e, [
        {"match": {"tags": ["network", "mitre"]}, "extra_output": "on cpu %evt.cpu",
         "extra_fields": ["proc.pid", {"home": "${HOME}"}, {"who": "%user.name!"}]},
        {"match": {"rule": "file thing", "source": "syscall"}, "extra_output": "(fd %fd.num)"},
        {"match": {"tags": ["network", "filesystem"]}, "extra_output": "never"},
    ])
    assert n == 2
    net, file_ = (next(r for r in e.rules if r.name == x) for x in ("net thing", "file thing"))
    assert net.output.text == "connect by %proc.name on cpu %evt.cpu"
    assert [name for name, _ in net.extra_fields] == ["proc.pid", "home", "who"]
    assert file_.output.text == "open of %fd.name (fd %fd.num)"
    assert file_.extra_fields == ()


@pytest.mark.parametrize("entries, message", [
    ([{"extra_output": "%no.such.field"}], r"append_output\[0\]\.extra_output: invalid"),
    ([{"extra_fields": [{"a": "%nope"}]}], r"append_output\[0\]\.extra_fields\.a"),
    ([{"match": {"tags": "network"}}], r"append_output\[0\]\.match\.tags"),
    ([{"match": {"priority": "x"}}], r"append_output\[0\]\.match"),
    ([{"extra": 1}], r"append_output\[0\]: unknown key"),
    ({"extra_output": "x"}, "expected a list"),
])
def test_append_output_errors_name_the_entry(entries, message):
    with pytest.raises(AppendOutputError, match=message):
        apply_append_output(_engine(), entries)


def test_json_keys_are_falcos(tmp_path):
    out = Outputs(file_config(tmp_path / "a.json"))
    out(alert(S))
    out.close()
    doc = json.loads((tmp_path / "a.json").read_text())
    assert list(doc) == ["hostname", "output", "priority", "rule", "source", "tags", "time",
                         "output_fields"]
    assert doc["time"] == "1970-01-01T00:00:01.000000000Z"


def test_a_file_that_cannot_be_opened_is_an_error_at_start(tmp_path):
    out = Outputs(Config({"file_output": {"enabled": True,
                                          "filename": str(tmp_path / "no" / "dir.txt")}}))
    with pytest.raises(ValueError, match="file_output.filename: cannot open .*No such file"):
        out.prepare()
