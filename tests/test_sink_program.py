"""ProgramSink: alert lines piped into real shell commands."""
from __future__ import annotations

import shlex
import time

import pytest

from sensor.compile.rule import Priority
from sensor.config import Config
from sensor.outputs.alert import Alert
from sensor.outputs.formats import Formatter
from sensor.outputs.program_sink import ProgramSink
from sensor.outputs.sink import Rendered

FORMATTER = Formatter(Config())


def rendered(line: str) -> Rendered:
    alert = Alert(ts=1_700_000_000_123_456_789, rule="r", priority=Priority.WARNING,
                  source="syscall", tags=("a",), output="text",
                  output_fields={"proc.name": "cat"}, num=1)
    return Rendered(alert, line, FORMATTER)


def lines_of(path) -> list:
    return path.read_text().splitlines() if path.exists() else []


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.mark.parametrize("keep_alive", [True, False])
def test_lines_arrive_in_order(tmp_path, keep_alive):
    out = tmp_path / "out.txt"
    sink = ProgramSink({"program": f"cat >> {shlex.quote(str(out))}", "keep_alive": keep_alive})
    sent = [f"line {i} 'quoted' $HOME ü" for i in range(20)]
    for line in sent[:10]:
        sink.offer(rendered(line))
    assert wait_for(lambda: sink.stats()["sent"] == 10)
    for line in sent[10:]:                  # a later batch, same process with keep_alive
        sink.offer(rendered(line))
    sink.close(5.0)
    assert lines_of(out) == sent
    assert sink.stats() == {"accepted": 20, "sent": 20, "dropped": 0, "failed": 0,
                            "retries": 0, "in_flight": 0}


def test_program_that_exits_is_restarted(tmp_path):
    """`head -n 1` takes one line and exits; the sink notices and starts it again."""
    out = tmp_path / "out.txt"
    sink = ProgramSink({"program": f"head -n 1 >> {shlex.quote(str(out))}",
                        "keep_alive": True}, backoff=0.01)
    n = 5
    for i in range(n):
        sink.offer(rendered(f"alert {i}"))
        # Let this head write its line and exit before the next alert, so that
        # no alert sits in the pipe of a head that is on its way out.
        wait_for(lambda: len(lines_of(out)) > i, timeout=3.0)
        time.sleep(0.05)
    sink.close(5.0)
    arrived = lines_of(out)
    stats = sink.stats()
    assert arrived == [f"alert {i}" for i in range(n)]
    assert stats["retries"] >= n - 1                    # one restart per later alert
    assert stats["accepted"] == n == stats["sent"] + stats["failed"]


def test_one_shot_program_that_hangs_is_killed(tmp_path):
    sink = ProgramSink({"program": "sleep 30", "keep_alive": False}, attempts=1)
    sink.timeout = 0.2
    start = time.monotonic()
    sink.offer(rendered("x"))
    sink.close(5.0)
    assert time.monotonic() - start < 3.0
    stats = sink.stats()
    assert (stats["sent"], stats["failed"]) == (0, 1)


def test_one_shot_program_that_ignores_its_input(tmp_path):
    mark = tmp_path / "ran"
    sink = ProgramSink({"program": f"echo ran >> {shlex.quote(str(mark))}"})
    for i in range(3):
        sink.offer(rendered(f"x{i}"))
    sink.close(5.0)
    assert lines_of(mark) == ["ran"] * 3
    assert sink.stats()["sent"] == 3


def test_program_that_exits_at_once_keeps_counts_consistent():
    sink = ProgramSink({"program": "exit 3", "keep_alive": True}, attempts=2, backoff=0.01)
    for i in range(3):
        sink.offer(rendered(f"x{i}"))
    sink.close(3.0)
    stats = sink.stats()
    assert stats["accepted"] == 3 == stats["sent"] + stats["failed"]


@pytest.mark.parametrize("section", [{}, {"program": ""}, {"program": "   "}])
def test_bad_config(section):
    with pytest.raises(ValueError, match="program_output.program"):
        ProgramSink(section)
