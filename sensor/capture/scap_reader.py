"""Replay of .scap capture files (sysdig/Falco), gzip-compressed or plain.

    reader = open_scap("trace.scap")
    reader.snapshot                     # machine, processes + fds, users, interfaces
    for item in reader.batches():       # Batch (events in file order), or a Snapshot
        ...                             # for metadata met after the first events

The file is read as a stream in chunks (gzip is inflated incrementally), into
one window buffer that only holds the blocks not yet consumed, so a large trace
never sits in memory whole.  Event blocks are decoded by the compiled loop in
scap_decode.py straight into batch columns; metadata blocks are parsed in
Python (scap_meta.py).  Nothing from the file is ever executed.

A truncated or corrupt file raises ScapError carrying the offset of the faulty
block in the uncompressed stream, after every complete event before it has
been yielded.
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Iterator, Union

import numpy as np

from ..events.batch import allocate_batch, grow_arena
from . import scap_decode as D
from . import scap_format as F
from . import scap_meta as M
from .model import Snapshot

CHUNK = 4 << 20                  # bytes read (and inflated) per refill
ARENA_BYTES_PER_ROW = 32         # first guess of a batch's arena; it grows on demand
_GZIP_MAGIC = b"\x1f\x8b"


class ScapError(Exception):
    """A capture file that cannot be read: `offset` is the byte offset, in the
    uncompressed stream, of the block where reading stopped."""

    def __init__(self, path, offset: int, message: str):
        super().__init__(path, offset, message)
        self.path, self.offset, self.message = str(path), int(offset), message

    def __str__(self):
        return f"{self.path}: offset {self.offset}: {self.message}"


class _Stream:
    """The file's uncompressed bytes, chunk by chunk (gzip detected by its magic;
    concatenated gzip members are read one after the other)."""

    def __init__(self, path: Path):
        self._f = open(path, "rb")
        self._gzip = self._f.peek(2)[:2] == _GZIP_MAGIC
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS) if self._gzip else None
        self._pending = b""
        self.eof = False

    def readinto(self, view: memoryview) -> int:
        """Fill `view` (fewer bytes only at the end of the stream); the byte count."""
        if not self._gzip:                    # plain files: straight into the window
            got = 0
            while got < len(view):
                k = self._f.readinto(view[got:])
                if not k:
                    self.eof = True
                    break
                got += k
            return got
        data = self._read_gzip(len(view))
        view[:len(data)] = data
        return len(data)

    def _read_gzip(self, n: int) -> bytes:
        out = []
        want = n
        while want > 0 and not self.eof:
            if self._z.eof:                   # next gzip member, if any
                rest = self._z.unused_data
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._pending = rest + self._pending
                if not self._pending:
                    self._pending = self._f.read(CHUNK)
                    if not self._pending:
                        self.eof = True
                        break
            if not self._pending:
                self._pending = self._f.read(CHUNK)
                if not self._pending:         # compressed data ends (maybe mid-member)
                    self.eof = True
                    break
            piece = self._z.decompress(self._pending, want)
            self._pending = self._z.unconsumed_tail
            out.append(piece)
            want -= len(piece)
        return b"".join(out)

    def fraction(self) -> float:
        """How much of the file (compressed bytes, for gzip) has been read."""
        if self._f.closed:
            return 1.0
        size = os.fstat(self._f.fileno()).st_size
        return self._f.tell() / size if size else 1.0

    def close(self):
        self._f.close()


class _Window:
    """The unconsumed bytes of the stream: buf[0:end], buf[0] being stream offset
    `base`.  Consumed bytes are dropped by `compact`, so the window only grows
    when a single block is larger than it."""

    def __init__(self, stream: _Stream):
        self.stream = stream
        self.buf = np.zeros(CHUNK * 2, np.uint8)
        self.end = 0
        self.base = 0

    def compact(self, pos: int):
        """Drop buf[:pos]; what was at pos is now at 0."""
        if pos:
            keep = self.end - pos
            self.buf[:keep] = self.buf[pos:self.end]
            self.end = keep
            self.base += pos

    def fill(self, n: int) -> bool:
        """Make buf[0:n] available, reading more of the stream if needed; False if
        the stream ends first.  Corrupt gzip data raises zlib.error."""
        if n > self.buf.shape[0]:
            grown = np.zeros(max(n, 2 * self.buf.shape[0]), np.uint8)
            grown[:self.end] = self.buf[:self.end]
            self.buf = grown
        while self.end < n and not self.stream.eof:
            want = min(max(CHUNK, n - self.end), self.buf.shape[0] - self.end)
            self.end += self.stream.readinto(memoryview(self.buf)[self.end:self.end + want])
        return self.end >= n

    def bytes(self, pos: int, n: int) -> bytes:
        return self.buf[pos:pos + n].tobytes()


class ScapReader:
    """An open capture.  `snapshot` holds what the blocks before the first event
    say; `batches()` yields the events.  Counters: `events_read` (event blocks
    read, i.e. the last evt.num), `unknown_events` (codes our table lacks:
    numbered, then skipped), `skipped_blocks` (block type -> count of blocks of
    unknown types), `orphan_fds` (fd entries of threads no process list names)."""

    def __init__(self, path: Union[str, Path]):
        self.path = str(path)
        self.snapshot = Snapshot()
        self.events_read = 0
        self.unknown_events = 0
        self.skipped_blocks: dict = {}
        self.orphan_fds = 0
        self._procs: dict = {}                     # tid -> ProcInfo, every one seen
        self._stream = _Stream(Path(path))
        self._win = _Window(self._stream)
        self._pos = 0                              # next block, in the window
        try:
            self._read_section_header()
            self._read_header_blocks()
        except BaseException:
            self.close()
            raise

    # -- errors and plumbing -------------------------------------------------------------

    def progress(self) -> float:
        """Fraction of the file read so far (0..1), for progress bars."""
        return self._stream.fraction()

    def _error(self, message: str, pos: int = None) -> ScapError:
        return ScapError(self.path, self._win.base + (self._pos if pos is None else pos), message)

    def close(self):
        self._stream.close()

    def _fill(self, n: int) -> bool:
        """Window.fill, with corrupt compressed data reported at the current block."""
        try:
            return self._win.fill(n)
        except zlib.error as e:
            raise self._error(f"corrupt gzip data: {e}") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _next_block(self):
        """(type, total length, body) of the complete block at self._pos, or None at
        a clean end of the file.  The window is compacted first: the block starts
        at 0 and self._pos is 0."""
        win = self._win
        win.compact(self._pos)
        self._pos = 0
        if not self._whole_block():
            return None
        btype, blen = F.BLOCK_HEADER.unpack_from(win.bytes(0, 8))
        block = win.bytes(0, blen)
        (trailer,) = F.TRAILER.unpack_from(block, blen - 4)
        if trailer != blen:
            raise self._error(f"block length mismatch: header says {blen}, "
                              f"the block end says {trailer}")
        return btype, blen, block[8:blen - 4]

    def _whole_block(self) -> bool:
        """Make the block at 0 (the window compacted) wholly available.  False at a
        clean end of the file; raises if the file ends inside the block."""
        win = self._win
        if not self._fill(8):
            if win.end == 0:
                return False
            raise self._error(f"truncated: {win.end} bytes where a block header needs 8")
        btype, blen = F.BLOCK_HEADER.unpack_from(win.bytes(0, 8))
        if blen < F.BLOCK_OVERHEAD:
            raise self._error(f"bad block length {blen} (block type {btype:#x})")
        if not self._fill(blen):
            raise self._error(f"truncated: block of type {btype:#x} is {blen} bytes, "
                              f"the file ends after {win.end}")
        return True

    # -- the header ------------------------------------------------------------------------

    def _read_section_header(self):
        win = self._win
        if not self._fill(8):
            raise self._error("not a scap file: shorter than a block header", 0)
        btype, blen = F.BLOCK_HEADER.unpack_from(win.bytes(0, 8))
        if btype != F.SECTION_HEADER:
            raise self._error(f"not a scap file: first block type {btype:#x}, "
                              f"expected a section header", 0)
        self._section_block()

    def _section_block(self):
        got = self._next_block()
        if got is None:
            raise self._error("truncated: no section header")
        btype, blen, body = got
        if blen < F.BLOCK_OVERHEAD + F.SECTION_BODY.size:
            raise self._error(f"bad section header length {blen}")
        magic, major, _minor, _ = F.SECTION_BODY.unpack_from(body)
        if magic != F.SECTION_MAGIC:
            raise self._error(f"bad section header magic {magic:#x}")
        if major > F.SECTION_MAJOR:
            raise self._error(f"unsupported scap format version {major}")
        self._pos += blen

    def _read_header_blocks(self):
        """Metadata blocks up to the first event block (or the end of the file)."""
        while True:
            self._win.compact(self._pos)
            self._pos = 0
            if not self._fill(8):
                if self._win.end == 0:
                    return                    # a capture without events
                raise self._error(f"truncated: {self._win.end} bytes where a block "
                                  f"header needs 8")
            btype, _ = F.BLOCK_HEADER.unpack_from(self._win.bytes(0, 8))
            if btype in F.EVENT_BLOCKS:
                return
            self._metadata_block(self.snapshot)

    def _metadata_block(self, snap: Snapshot) -> bool:
        """Parse the non-event block at self._pos into `snap`; True if it added
        anything.  Advances past the block."""
        btype, blen, body = self._next_block()
        try:
            added = self._parse_metadata(btype, body, snap)
        except M.MetaError as e:
            raise self._error(f"corrupt block of type {btype:#x}: {e}") from None
        self._pos += blen
        return added

    def _parse_metadata(self, btype: int, body: bytes, snap: Snapshot) -> bool:
        if btype in F.MACHINE_INFO:
            snap.machine = M.parse_machine(body)
        elif btype in F.PROC_LIST:
            for p in M.parse_procs(body, F.PROC_LIST[btype]):
                snap.procs[p.tid] = p
                self._procs[p.tid] = p
        elif btype in F.FD_LIST:
            tid, fds = M.parse_fds(body, F.FD_LIST[btype])
            return self._attach_fds(snap, tid, fds)
        elif btype in F.IFACE_LIST:
            snap.interfaces.extend(M.parse_interfaces(body, F.IFACE_LIST[btype]))
        elif btype in F.USER_LIST:
            users, groups = M.parse_users(body, F.USER_LIST[btype])
            snap.users.extend(users)
            snap.groups.extend(groups)
        elif btype == F.SECTION_HEADER:
            magic, major, _, _ = F.SECTION_BODY.unpack_from(body.ljust(16, b"\0"))
            if magic != F.SECTION_MAGIC:
                raise M.MetaError(f"bad section header magic {magic:#x}")
            if major > F.SECTION_MAJOR:
                raise M.MetaError(f"unsupported scap format version {major}")
            return False
        else:
            self.skipped_blocks[btype] = self.skipped_blocks.get(btype, 0) + 1
            return False
        return True

    def _attach_fds(self, snap: Snapshot, tid: int, fds: list) -> bool:
        proc = snap.procs.get(tid)
        if proc is None and tid in self._procs:
            # a late fd list for a thread of the header: a copy carrying only the new fds
            old = self._procs[tid]
            proc = type(old)(**{**old.__dict__, "fds": []})
            snap.procs[tid] = proc
        if proc is None:
            self.orphan_fds += len(fds)          # libs drops these as well
            return False
        proc.fds.extend(fds)
        return True

    # -- events ----------------------------------------------------------------------------

    def batches(self, capacity: int = 65536) -> Iterator:
        """Batches of events in file order, with a Snapshot of its new entries
        wherever a metadata block follows events.  On a fault, the events before
        it are yielded first, then ScapError is raised."""
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        stats = np.zeros(2, np.int64)
        B = self._new_batch(capacity)
        try:
            while True:
                try:
                    status, snap = self._decode(B, stats)
                except ScapError:
                    if B.n[0]:
                        yield B
                    raise
                if status == D.ST_NEED_MORE:         # the file ended between blocks
                    break
                if status == D.ST_ARENA_FULL:
                    B = grow_arena(B, int(stats[D.STAT_ARENA_NEED]))
                    continue
                if B.n[0] and (status == D.ST_BATCH_FULL or snap is not None):
                    yield B
                    B = self._new_batch(capacity)
                if snap is not None:
                    yield snap
            if B.n[0]:
                yield B
        finally:
            self.close()

    def _decode(self, B, stats):
        """Decode into B until something needs Python: (status, Snapshot or None).
        Metadata blocks are parsed here, unknown ones skipped; raises ScapError on
        a corrupt or truncated block.  ST_NEED_MORE means a clean end of file."""
        win = self._win
        while True:
            status, pos, evnum = D.run(win.buf, self._pos, win.end, self.events_read, B, stats)
            self._pos = int(pos)
            self.events_read = int(evnum)
            self.unknown_events = int(stats[D.STAT_UNKNOWN_EVENTS])
            if status == D.ST_NEED_MORE:
                if self._refill():
                    continue
                return status, None
            if status == D.ST_OTHER_BLOCK:
                snap = Snapshot()
                if self._metadata_block(snap):
                    return status, snap
                continue
            if status in D.FAULTS:
                raise self._error(f"corrupt event block: {D.FAULTS[status]}")
            return status, None

    def _refill(self) -> bool:
        """Get the whole block at self._pos into the window (at 0).  False at a
        clean end of the file."""
        self._win.compact(self._pos)
        self._pos = 0
        return self._whole_block()

    @staticmethod
    def _new_batch(capacity: int):
        return allocate_batch(capacity, capacity * ARENA_BYTES_PER_ROW)


def open_scap(path: Union[str, Path]) -> ScapReader:
    """Open a .scap file (gzip or plain) and read its header blocks."""
    return ScapReader(path)
