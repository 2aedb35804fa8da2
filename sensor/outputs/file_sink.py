"""file_output: alert lines appended to a file, as Falco does.

keep_alive false (Falco's default) opens, appends and closes the file for each
batch, so a rotated file is left alone at once; keep_alive true keeps it open
and relies on request_reopen() (SIGUSR1) after a rotation.

The output process drops root after start, and may then be unable to open a
file in a root-only directory.  So prepare() opens the file while the process
is still root and keeps that descriptor as a fallback: whenever opening by name
is refused (EACCES, EPERM), the lines go to the descriptor held since start
(logged once).  Rotation in such a directory then needs copytruncate, or a
directory the pipeline's user may write to.
"""
from __future__ import annotations

import errno
import logging
import os

from .sink import Sink, SinkError

FILE_MODE = 0o640
log = logging.getLogger("sensor.outputs")


class FileSink(Sink):
    kind = "file"

    def __init__(self, section: dict, **common):
        super().__init__("file", **common)
        self.filename = str(section.get("filename") or "")
        if not self.filename:
            raise ValueError("file_output.filename: empty")
        self.keep_alive = bool(section.get("keep_alive", False))
        self._fd = None          # the file opened by name (kept between batches: keep_alive)
        self._held = None        # the file opened by prepare(), with the start's privileges
        self._refused = False    # opening by name was refused: the held file until a reopen

    def prepare(self) -> None:
        """Open the file now, while the process may still be root (ValueError,
        naming the key, when it cannot be opened at all)."""
        if self._held is None:
            try:
                self._held = self._open_by_name()
            except OSError as e:
                raise ValueError(f"file_output.filename: cannot open {self.filename}: "
                                 f"{e.strerror}") from None

    def open(self) -> None:
        if self.keep_alive and self._fd is None:
            self._fd = self._open_or_held()

    def write(self, items: list) -> None:
        data = ("\n".join(r.line for r in items) + "\n").encode("utf-8", "replace")
        fd = self._fd if self.keep_alive else self._open_or_held()
        done = 0
        try:
            while done < len(data):
                done += os.write(fd, data[done:])
        except OSError as e:
            # Lines written in full count as delivered; only the rest is retried.
            raise SinkError(f"{self.filename}: {e.strerror}",
                            delivered=data.count(b"\n", 0, done)) from None
        finally:
            if not self.keep_alive and fd != self._held:
                os.close(fd)

    def close(self, timeout: float = 5.0) -> None:
        super().close(timeout)
        self.close_transport()
        if self._held is not None:
            fd, self._held = self._held, None
            os.close(fd)

    def close_transport(self) -> None:
        self._refused = False    # a reopen (rotation) tries the name again
        fd, self._fd = self._fd, None
        if fd is not None and fd != self._held:
            try:
                os.close(fd)
            except OSError:
                pass

    def _open_by_name(self) -> int:
        return os.open(self.filename, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                       FILE_MODE)

    def _open_or_held(self) -> int:
        if self._refused:
            return self._held
        try:
            return self._open_by_name()
        except OSError as e:
            if self._held is None or e.errno not in (errno.EACCES, errno.EPERM):
                raise
            self._refused = True
            log.warning("file output: cannot open %s as this user (%s); writing to "
                        "the file opened at start", self.filename, e.strerror)
            return self._held
