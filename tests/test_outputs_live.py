"""Outputs of `sensor` live (root, real kernel, --workers 2): a burst of identical
matches folded by dedup with every match accounted for, and the file output
reopened on SIGUSR1 after a rotation."""
from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from live_harness import live_ready
from test_live_run import TEST_RULES, Sensor

pytestmark = pytest.mark.skipif(bool(live_ready()), reason=live_ready() or "ok")
MARKER = "/tmp/sensortest-drop-marker"      # the live rules' "Test marker open"


def _file_alerts(path: Path) -> list:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _wait(pred, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def shared_dir():
    """A directory the output process may create files in after it drops to
    `nobody` (pytest's tmp_path is root-only)."""
    d = Path(tempfile.mkdtemp(prefix="sensortest-outputs-"))
    d.chmod(0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_burst_folded_and_file_reopened_on_sigusr1(shared_dir):
    Path(MARKER).write_text("x")
    tmp_path = shared_dir
    out = tmp_path / "alerts.json"
    s = Sensor("-r", str(TEST_RULES), "--json", "--workers", "2", "-o", "priority=debug",
               "-o", "file_output.enabled=true", "-o", f"file_output.filename={out}",
               "-o", "file_output.keep_alive=true", "-o", "dedup.window=2s")
    try:
        for _ in range(1000):
            os.close(os.open(MARKER, os.O_RDONLY))
        mine = lambda a: a["rule"] == "Test marker open" and \
            a["output_fields"]["proc.pid"] == os.getpid()           # noqa: E731
        # The first at once, then, when the 2 s window ends, one report for the rest.
        assert _wait(lambda: sum(a.get("repeated") or 1
                                 for a in _file_alerts(out) if mine(a)) >= 1000), \
            "".join(s.err)
        burst = [a for a in _file_alerts(out) if mine(a)]
        assert len(burst) == 2 and burst[1]["repeated"] == 999, burst

        # Rotation: the file is renamed, SIGUSR1, and the next alert lands in a new file.
        rotated = tmp_path / "alerts.json.1"
        out.rename(rotated)
        s.proc.send_signal(signal.SIGUSR1)
        assert _wait(lambda: any("SIGUSR1" in x for x in s.err), 5)
        time.sleep(1.0)                           # the sink's thread sees the flag
        os.close(os.open(MARKER, os.O_RDONLY))
        assert _wait(lambda: any(mine(a) for a in _file_alerts(out))), "".join(s.err)
        assert len([a for a in _file_alerts(rotated) if mine(a)]) == 2
    finally:
        assert s.stop() == 0, "".join(s.err)
    err = "".join(s.err)
    assert "Output file:" in err and "lost" not in err.split("Output file:")[1].split("\n")[0]
