"""SIGHUP reloads the rules live: a broken file keeps the old rules running,
a good one takes over (root, real kernel)."""
from __future__ import annotations

import signal
import time

import pytest

from live_harness import live_ready
from test_live_run import Sensor

pytestmark = pytest.mark.skipif(bool(live_ready()), reason=live_ready() or "ok")

RULE = """
- rule: Reload {tag}
  desc: opens of the reload test's file {tag}
  condition: evt.type in (open, openat) and fd.name=/tmp/sensortest-reload-{tag}
  output: reload {tag} opened by %proc.pid
  priority: NOTICE
"""


def _open(tag: str) -> None:
    path = f"/tmp/sensortest-reload-{tag}"
    with open(path, "w") as f:
        f.write(tag)


def _wait_err(s: Sensor, text: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(text in line for line in s.err):
            return
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in stderr:\n" + "".join(s.err))


@pytest.mark.parametrize("workers", [1, 2])
def test_sighup_reloads_rules_and_keeps_the_old_ones_on_error(tmp_path, workers):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE.format(tag="a"))
    s = Sensor("run", "-r", str(rules), "--json", "--workers", str(workers))
    try:
        _open("a")
        s.wait_alert(lambda a: a["rule"] == "Reload a")

        rules.write_text("- rule: Broken\n  condition: evt.type in (\n")
        s.proc.send_signal(signal.SIGHUP)
        _wait_err(s, "keeping the old ones")
        seen = len(s.seen)
        _open("a")
        s.wait_alert(lambda a: a["rule"] == "Reload a" and s.seen.index(a) >= seen)

        rules.write_text(RULE.format(tag="b"))
        s.proc.send_signal(signal.SIGHUP)
        _wait_err(s, "Rules reloaded: 1 rules")
        seen = len(s.seen)
        _open("a")
        _open("b")
        s.wait_alert(lambda a: a["rule"] == "Reload b")
        assert not any(a["rule"] == "Reload a" for a in s.seen[seen:])
    finally:
        assert s.stop() == 0, "".join(s.err)
