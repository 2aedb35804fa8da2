"""FileSink: lines appended to a real file, across batches, restarts and rotations."""
from __future__ import annotations

import os
import time

import pytest

from sensor.compile.rule import Priority
from sensor.config import Config
from sensor.outputs.alert import Alert
from sensor.outputs.file_sink import FileSink
from sensor.outputs.formats import Formatter
from sensor.outputs.sink import Rendered

FORMATTER = Formatter(Config())


def rendered(line: str, priority=Priority.WARNING) -> Rendered:
    alert = Alert(ts=1_700_000_000_123_456_789, rule="r", priority=priority, source="syscall",
                  tags=("a",), output="text", output_fields={"proc.name": "cat"}, num=1)
    return Rendered(alert, line, FORMATTER)


def lines_of(path) -> list:
    with open(path) as f:
        return f.read().splitlines()


def wait_sent(sink, n: int, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while sink.stats()["sent"] < n:
        assert time.monotonic() < deadline, sink.stats()
        time.sleep(0.005)


@pytest.mark.parametrize("keep_alive", [False, True])
def test_appends_across_batches_and_restarts(tmp_path, keep_alive):
    path = tmp_path / "events.txt"
    path.write_text("existing\n")
    section = {"filename": str(path), "keep_alive": keep_alive}
    sink = FileSink(section)
    for i in range(3):
        sink.offer(rendered(f"a{i}"))
    wait_sent(sink, 3)
    for i in range(3):                      # a second batch
        sink.offer(rendered(f"b{i}"))
    sink.close(2.0)
    again = FileSink(section)               # a restart appends, never truncates
    again.offer(rendered("c0"))
    again.close(2.0)
    assert lines_of(path) == ["existing", "a0", "a1", "a2", "b0", "b1", "b2", "c0"]
    assert sink.stats() == {"accepted": 6, "sent": 6, "dropped": 0, "failed": 0, "retries": 0,
                            "in_flight": 0}
    assert again.stats()["sent"] == 1


def test_creates_the_file_with_restricted_mode(tmp_path):
    path = tmp_path / "new.txt"
    sink = FileSink({"filename": str(path)})
    sink.offer(rendered("x"))
    sink.close(2.0)
    assert lines_of(path) == ["x"]
    assert os.stat(path).st_mode & 0o777 == 0o640 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("keep_alive", [False, True])
def test_reopen_after_rotation(tmp_path, keep_alive):
    path, rotated = tmp_path / "events.txt", tmp_path / "events.txt.1"
    sink = FileSink({"filename": str(path), "keep_alive": keep_alive})
    sink.offer(rendered("old1"))
    sink.offer(rendered("old2"))
    wait_sent(sink, 2)
    os.rename(path, rotated)
    sink.request_reopen()
    sink.offer(rendered("new1"))
    sink.offer(rendered("new2"))
    sink.close(2.0)
    assert lines_of(rotated) == ["old1", "old2"]
    assert lines_of(path) == ["new1", "new2"]


def test_missing_directory_fails_without_hanging(tmp_path):
    path = tmp_path / "no" / "such" / "dir" / "events.txt"
    sink = FileSink({"filename": str(path)}, attempts=2, backoff=0.01)
    start = time.monotonic()
    for i in range(3):
        sink.offer(rendered(f"x{i}"))
    sink.close(2.0)
    assert time.monotonic() - start < 2.0
    stats = sink.stats()
    assert stats["accepted"] == 3 and stats["failed"] == 3 and stats["sent"] == 0
    assert stats["retries"] >= 1
    assert not path.parent.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges in a child")
@pytest.mark.parametrize("keep_alive", [False, True])
def test_prepare_in_root_only_directory(tmp_path, keep_alive):
    """prepare() opens the file while root; after the privilege drop (in a child
    process, so the test runner keeps root) the lines still reach it, through the
    descriptor held since start, with or without keep_alive."""
    root_only = tmp_path / "root_only"
    root_only.mkdir(mode=0o700)
    path = root_only / "events.txt"
    sink = FileSink({"filename": str(path), "keep_alive": keep_alive},
                    attempts=2, backoff=0.01)
    sink.prepare()
    assert path.exists()
    pid = os.fork()
    if pid == 0:                                    # the child: drop root, then emit
        code = 1
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            sink.offer(rendered("after drop"))
            sink.close(2.0)
            s = sink.stats()
            code = 0 if (s["sent"], s["failed"]) == (1, 0) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert lines_of(path) == ["after drop"]
    sink.close(1.0)                                 # releases the prepared file
    assert sink._fd is None and sink._held is None


@pytest.mark.parametrize("section", [{}, {"filename": ""}, {"filename": None}])
def test_bad_config(section):
    with pytest.raises(ValueError, match="file_output.filename"):
        FileSink(section)
