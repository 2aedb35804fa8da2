"""Write batches as a .scap capture file that sysdig and Falco read.

    with ScapWriter("out.scap", snapshot) as w:     # header: machine, procs+fds,
        for B in batches:                           # users, groups, interfaces
            w.write_rows(B)                         # one event block per row
    w.events_written

The header blocks come from the Snapshot (scap_write_header.py); each row of a
Batch becomes one event block (scap_write_events.py), encoded by a compiled
kernel: live capture and `sensor replay --write` write millions of events.
The target is the newest format Debian's sysdig 0.29.3 reads (V2 blocks with
nparams); those two modules say where that costs something (the process
entries' tail, fd kinds newer than 0.29.3, events too long for 16-bit lengths).
Rows keep their driver code, so events of codes newer than 0.29.3's table
(accept4, dup2...) are written, and 0.29.3 skips them as libscap does.

compress=True writes gzip, which libscap reads transparently.  The default
level favours speed (a capture is written once, while it happens).
"""
from __future__ import annotations

import gzip
from os import PathLike
from typing import Optional, Union

import numpy as np

from .model import Snapshot
from .scap_write_events import encode_event_blocks
from .scap_write_header import header_blocks

# Rows encoded per kernel call: bounds the temporary buffer (~100 B per event).
CHUNK_ROWS = 1 << 16


class ScapWriter:
    """A .scap file being written: the header at once, then events as they come."""

    def __init__(self, path: Union[str, PathLike], snapshot: Snapshot, compress: bool = False,
                 compresslevel: int = 1):
        self.path = path
        self.events_written = 0
        self._scratch: Optional[np.ndarray] = None
        raw = open(path, "wb")
        try:
            self._out = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=compresslevel,
                                      mtime=0) if compress else raw
            self._raw = raw
            self._out.write(header_blocks(snapshot))
        except BaseException:
            raw.close()
            raise

    def write_rows(self, B, rows: Optional[np.ndarray] = None) -> None:
        """Write rows of B (default every row in use, B.n[0]) in the given order;
        `rows` is an array of row indexes (or a boolean mask over the rows).
        Each row is written as its B.code: rows built without one need
        scap_write_events.fill_codes(B) first (code 0 is the generic event)."""
        n = int(B.n[0])
        if rows is None:
            rows = np.arange(n, dtype=np.int64)
        else:
            rows = np.asarray(rows)
            if rows.dtype == np.bool_:           # a mask over the rows in use
                rows = np.flatnonzero(rows[:n])
            rows = rows.astype(np.int64, copy=False)
        if rows.ndim != 1:
            raise ValueError("rows must be a 1-D array of row indexes")
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise IndexError(f"row index out of range for a batch of {n} rows")
        for start in range(0, rows.size, CHUNK_ROWS):
            chunk = rows[start:start + CHUNK_ROWS]
            blocks = encode_event_blocks(B, chunk, scratch=self._scratch)
            if blocks.base is None:             # a new, bigger buffer: keep it for next time
                self._scratch = blocks
            self._out.write(memoryview(blocks))
            self.events_written += chunk.size

    def close(self) -> None:
        if self._out is None:
            return
        try:
            self._out.close()
        finally:
            self._raw.close()
            self._out = None

    def __enter__(self) -> "ScapWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
