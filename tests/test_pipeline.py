"""The multiprocess pipeline (sensor/workers/): the same alerts with 1 or N
workers, process titles, a worker killed and restarted, clean exits."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from test_live_run import SENSOR, Sensor, fields, live_ready

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / ".." / "shared" / "traces" / "502Error.scap"
PIPE_RULES = ROOT / "tests" / "rules" / "pipeline_rules.yaml"
LIVE_RULES = ROOT / "tests" / "rules" / "live_rules.yaml"


def replay(workers: int) -> tuple[str, str]:
    out = subprocess.run(SENSOR + ["replay", str(TRACE), "-r", str(PIPE_RULES),
                                   "--workers", str(workers)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stdout, out.stderr


@pytest.mark.skipif(not TRACE.exists(), reason="../shared/traces/502Error.scap is not in "
                    "../shared (the team's material)")
def test_replay_gives_the_same_alerts_in_the_same_order_with_1_2_and_4_workers():
    one, err1 = replay(1)
    assert one.count("\n") > 400
    for n in (2, 4):
        many, err = replay(n)
        assert many == one
        summary = [x for x in err.splitlines() if x.startswith("   ")]
        assert summary == [x for x in err1.splitlines() if x.startswith("   ")]


def _children(pid: int) -> dict[int, str]:
    """pid -> title of the direct children of pid."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                out[int(d)] = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ") \
                    .decode().strip()
        except (OSError, ValueError, IndexError):
            continue
    return out


def _wait_for(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    return pred()


needs_live = pytest.mark.skipif(bool(live_ready()), reason=live_ready() or "ok")


@needs_live
def test_live_workers_titles_restart_and_clean_exit():
    shm_before = set(os.listdir("/dev/shm"))
    s = Sensor("run", "-r", str(ROOT / "rules"), "-r", str(LIVE_RULES), "--json",
               "--workers", "3")
    try:
        kids = _wait_for(lambda: len(_children(s.proc.pid)) == 4 and _children(s.proc.pid))
        titles = sorted(kids.values())
        assert titles == ["sensor: output"] + [f"sensor: worker {i}/3" for i in (1, 2, 3)] \
            or [t.split(" [")[0] for t in titles] == \
            ["sensor: output"] + [f"sensor: worker {i}/3" for i in (1, 2, 3)], titles
        assert Path(f"/proc/{s.proc.pid}/cmdline").read_bytes().startswith(b"sensor: capture")
        for pid in kids:            # least privilege: nobody, no capabilities
            status = Path(f"/proc/{pid}/status").read_text()
            assert "\nUid:\t65534\t65534\t65534\t65534\n" in status, status
            assert "\nCapEff:\t0000000000000000\n" in status
            assert "\nCapPrm:\t0000000000000000\n" in status
        victim = next(p for p, t in kids.items() if t.startswith("sensor: worker 2/3"))
        os.kill(victim, signal.SIGKILL)
        t0 = time.monotonic()
        again = _wait_for(lambda: [p for p, t in _children(s.proc.pid).items()
                                   if t.startswith("sensor: worker 2/3") and p != victim])
        assert again and time.monotonic() - t0 < 1.5, "worker 2 not restarted within a second"
        subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
        a = s.wait_alert(lambda a: a["rule"] == "Read sensitive file untrusted"
                         and fields(a)["proc.cmdline"] == "cat /etc/shadow")
        assert fields(a)["fd.name"] == "/etc/shadow"
    finally:
        code = s.stop(signal.SIGTERM)
    assert code == 0, "".join(s.err)
    err = "".join(s.err)
    assert "restarts: 1 workers, 0 output" in err, err
    assert not _children(s.proc.pid)
    assert set(os.listdir("/dev/shm")) <= shm_before


@needs_live
def test_children_die_with_the_capture_process():
    s = Sensor("run", "-r", str(LIVE_RULES), "--workers", "2")
    kids = _wait_for(lambda: len(_children(s.proc.pid)) == 3 and _children(s.proc.pid))
    assert kids
    os.kill(s.proc.pid, signal.SIGKILL)
    s.proc.wait(10)
    gone = _wait_for(lambda: not any(Path(f"/proc/{p}").exists() for p in kids), timeout=5)
    assert gone, "children outlived the capture process"


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@needs_live
def test_overload_drops_whole_batches_and_memory_stays_bounded(tmp_path):
    """Workers stopped (SIGSTOP) while the machine keeps making syscalls: the
    capture process drops whole batches and counts them, keeps draining the
    kernel ring, stays up, and its memory does not grow with the backlog."""
    s = Sensor("run", "-r", str(LIVE_RULES), "--workers", "2")
    kids = _wait_for(lambda: len(_children(s.proc.pid)) == 3 and _children(s.proc.pid))
    workers = [p for p, t in kids.items() if t.startswith("sensor: worker")]
    f = tmp_path / "f"
    f.write_text("x")
    try:
        for p in workers:
            os.kill(p, signal.SIGSTOP)
        samples = []
        for _ in range(5):
            for _ in range(20000):
                os.close(os.open(f, os.O_RDONLY))
            samples.append(_rss_kb(s.proc.pid))
        assert s.proc.poll() is None
        assert max(samples) - samples[0] < 64 * 1024, samples      # under 64 MiB of growth
    finally:
        for p in workers:
            os.kill(p, signal.SIGCONT)
        code = s.stop()
    assert code == 0, "".join(s.err)
    line = next(x for x in s.err if x.startswith("Pipeline:"))
    dropped = int(line.split("dropped ")[1].split()[0])
    assert dropped > 0, line
