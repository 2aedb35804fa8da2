"""file_output: alert lines appended to a file, as Falco does.

keep_alive false (Falco's default) opens, appends and closes the file for each
batch, so a rotated file is left alone at once; keep_alive true keeps it open
and relies on request_reopen() (SIGUSR1) after a rotation.
"""
from __future__ import annotations

import os

from .sink import Sink, SinkError

FILE_MODE = 0o640


class FileSink(Sink):
    kind = "file"

    def __init__(self, section: dict, **common):
        super().__init__("file", **common)
        self.filename = str(section.get("filename") or "")
        if not self.filename:
            raise ValueError("file_output.filename: empty")
        self.keep_alive = bool(section.get("keep_alive", False))
        self._fd = None          # the open file, kept between batches with keep_alive

    def prepare(self) -> None:
        """Open the file now, while the process may still be root; call before
        the first offer().  Without keep_alive this only checks that the file
        can be opened for appending."""
        fd = self._open_file()
        if self.keep_alive:
            self._fd = fd
        else:
            os.close(fd)

    def _open_file(self) -> int:
        return os.open(self.filename, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                       FILE_MODE)

    def open(self) -> None:
        # A file kept from prepare() is used as is.
        if self.keep_alive and self._fd is None:
            self._fd = self._open_file()

    def write(self, items: list) -> None:
        data = ("\n".join(r.line for r in items) + "\n").encode("utf-8", "replace")
        fd = self._fd if self.keep_alive else self._open_file()
        done = 0
        try:
            while done < len(data):
                done += os.write(fd, data[done:])
        except OSError as e:
            # Lines written in full count as delivered; only the rest is retried.
            raise SinkError(f"{self.filename}: {e.strerror}",
                            delivered=data.count(b"\n", 0, done)) from None
        finally:
            if not self.keep_alive:
                os.close(fd)

    def close(self, timeout: float = 5.0) -> None:
        super().close(timeout)
        self.close_transport()      # a file from prepare() that no batch used

    def close_transport(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:
                pass
