"""program_output: alert lines written to the stdin of a shell command, as Falco does.

keep_alive false (Falco's default) runs the program once per alert: start it,
write the line, close its stdin, wait for it.  keep_alive true runs it once and
writes every line to the same stdin; if it has exited, the write fails and the
base class starts it again.  The program's stdout and stderr are the sensor's.

Writes go through a non-blocking pipe with a deadline, so a program that stops
reading cannot hold the sink's thread forever.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import time

from .sink import Sink, SinkError


class ProgramSink(Sink):
    kind = "program"
    timeout = 10.0      # seconds for one write, or for a one-shot program to finish
    exit_wait = 2.0     # seconds a long-lived program gets to exit once its stdin is closed

    def __init__(self, section: dict, **common):
        super().__init__("program", **common)
        self.program = str(section.get("program") or "").strip()
        if not self.program:
            raise ValueError("program_output.program: empty")
        self.keep_alive = bool(section.get("keep_alive", False))
        self._proc = None       # the long-lived program (keep_alive)

    def _spawn(self) -> subprocess.Popen:
        # Its own session, so that a kill reaches the commands the shell started too.
        proc = subprocess.Popen(["/bin/sh", "-c", self.program], stdin=subprocess.PIPE,
                                close_fds=True, start_new_session=True, bufsize=0)
        os.set_blocking(proc.stdin.fileno(), False)
        return proc

    def open(self) -> None:
        if self.keep_alive and self._proc is None:
            self._proc = self._spawn()

    def write(self, items: list) -> None:
        if self.keep_alive:
            self._write_long_lived(items)
        else:
            for i, r in enumerate(items):
                self._run_once(r, i)

    def _write_long_lived(self, items: list) -> None:
        proc = self._proc
        for i, r in enumerate(items):
            if proc.poll() is not None:
                raise SinkError(f"program exited with status {proc.returncode}", delivered=i)
            try:
                _write_all(proc.stdin.fileno(), _encode(r.line), self.timeout)
            except OSError as e:     # BrokenPipe: it exited meanwhile
                raise SinkError(f"program: {e.strerror or e}", delivered=i) from None

    def _run_once(self, r, index: int) -> None:
        deadline = time.monotonic() + self.timeout
        proc = self._spawn()
        try:
            _write_all(proc.stdin.fileno(), _encode(r.line), self.timeout)
        except BrokenPipeError:
            pass        # the program chose not to read its input: it still ran
        except OSError as e:
            _kill(proc)
            raise SinkError(f"program: {e.strerror or e}", delivered=index) from None
        finally:
            proc.stdin.close()
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill(proc)
            raise SinkError(f"program still running after {self.timeout:g} s; killed",
                            delivered=index) from None

    def close_transport(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(self.exit_wait)
        except subprocess.TimeoutExpired:
            _kill(proc)


def _encode(line: str) -> bytes:
    return (line + "\n").encode("utf-8", "replace")


def _write_all(fd: int, data: bytes, timeout: float) -> None:
    """Write all of data to a non-blocking fd, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    view = memoryview(data)
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    while view:
        try:
            view = view[os.write(fd, view):]
            continue
        except BlockingIOError:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"program did not read its input within {timeout:g} s")
        poller.poll(left * 1000)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()
