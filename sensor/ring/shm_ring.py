"""Shared-memory plumbing between the sensor's forked processes (docs/CONTRACTS.md, "The
pipeline (issue 5)"; DESIGN.md point 6).

Everything here lives in anonymous MAP_SHARED memory made before fork: the processes that share
it are the creator's forked children, and nothing is named (no /dev/shm entry, no resource
tracker, nothing that can outlive the sensor).

ByteRing: one producer, one consumer, records of bytes
------------------------------------------------------
Layout of the mapping (u64 words in the 128-byte header; the data area follows)::

    0    head       producer position: bytes ever committed (only the producer writes it)
    8    dropped    records refused because the ring was full or the record too big (producer)
    16   oversized  the part of `dropped` that could never fit (4 + len > capacity)
    24   capacity   the data area's size (constant)
    64   tail       consumer position: bytes ever consumed (only the consumer writes it);
                    on its own cache line, so producer and consumer do not share one for writes
    128  data       `capacity` bytes

Positions only grow (2**64 bytes never wrap); position % capacity is the offset in the data area,
and head - tail is the number of bytes committed but not yet consumed.  A record is a u32 length
and the bytes, padded to 8 bytes, and never wraps: when it does not fit before the end of the
data area, the producer writes the length 0xFFFFFFFF there (the wrap marker: "continue at offset
0") and the padding to the end counts as used space until the consumer passes it.  Every record
starts 8-byte aligned, so at least 8 bytes remain at any offset and the marker always fits.

Commit order.  `put` writes the length and the bytes, then stores the new head, last.  The
consumer loads head, then reads the records below it, then stores the new tail, once.  This is
enough without explicit fences because:

* x86-64 is TSO: stores become visible to other CPUs in program order, loads are not reordered
  with other loads, and a load is not reordered with a later store.  So a consumer that sees the
  new head sees the record's bytes; and a producer that sees a new tail sees the consumer's reads
  of the space it frees done.  (On a weakly ordered CPU, e.g. arm64, head and tail would need
  release stores / acquire loads; this module assumes x86-64.)
* Each step is a separate CPython call into C (a memoryview item store, an mmap slice store), so
  the C compiler cannot reorder or merge the data stores with the head store across them.
* head and tail are read and written through a memoryview cast to 'Q' over 8-byte aligned
  offsets: CPython packs the item with a fixed-size 8-byte memcpy, i.e. one aligned mov, which
  is atomic on x86-64: the other process sees the old position or the new one, never a torn mix.
  (A numpy view would do the same store but costs more and returns np.uint64, whose arithmetic
  with Python ints is a trap; `header` is a numpy view for inspection.)

Hence a producer killed at any instant (SIGKILL mid-put) leaves no partial record visible: the
head it had not stored yet still points before the half-written bytes, which the next producer
overwrites.  A consumer killed mid-`get_all` has not stored tail, so its successor reads the
same records again (at-least-once for the consumer, never torn).

`put` never blocks: with no room it returns False and counts the record in `dropped`.  A record
of 4 + len > capacity can never fit and is counted in `oversized` as well; one above about half
the capacity may have to wait for the consumer to pass the end of the area (the padding).

Wake-ups (optional `event`, an EventFd): `put` signals when the record it committed is the only
one in the ring (tail equals the head it started from), i.e. on the empty to non-empty edge,
which is when the consumer may be asleep.  Measured here (200-byte records, one core): put
~3 M/s, get_all ~4-6 M records/s; os.eventfd_write costs ~0.4-0.7 us, so signalling every put
cut the producer to ~0.9 M/s, for nothing while the consumer is busy draining.  The consumer side is `wait(timeout)`: return at once if
anything is pending, else sleep on the eventfd.  The edge check (producer: store head, load
tail; consumer: store tail, load head) has the classic store-buffer window in which both sides
can read the old value (x86 may let a load pass an earlier store, and CPython offers no fence),
so a wake-up can in rare cases be missed: consumers therefore always wait with a bounded
timeout, which caps the extra latency of that case.

Counters: shared int64 progress counters
----------------------------------------
Each counter has a single writer (a worker's last finished batch sequence, the capture process's
posted sequence), so plain aligned 8-byte stores are enough: atomic on x86-64 (no tearing), seen
by readers in the order written (TSO), and each is one C call under CPython, so neither the
compiler nor the interpreter splits or delays it.  `add` is a read-modify-write and is therefore
only for the counter's single writer; it is not an atomic fetch-add.
"""
from __future__ import annotations

import mmap
import time

import numpy as np

from sensor.ring.notify import EventFd

HEADER_SIZE = 128
_HEAD, _DROPPED, _OVERSIZED, _CAPACITY = 0, 1, 2, 3     # u64 word indices, producer's line
_TAIL = 8                                                # u64 word index, consumer's line
WRAP = 0xFFFFFFFF                                        # length meaning "continue at offset 0"
MAX_CAPACITY = (1 << 31) - 8


def _shared_mmap(size: int) -> mmap.mmap:
    """Anonymous shared memory, zero filled, inherited by forked children."""
    return mmap.mmap(-1, size, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)


def record_size(n: int) -> int:
    """Bytes a record of n payload bytes takes in the ring (u32 length, padded to 8)."""
    return (n + 11) & -8


class ByteRing:
    """A single-producer single-consumer ring of byte records in anonymous shared memory.

    Create it before fork; then exactly one process calls `put` and exactly one (another, or
    the same) calls `get_all`.  capacity is rounded up to a multiple of 8.  `event`: an EventFd
    to signal when the ring becomes non-empty, or True to make one, or None.
    """

    __slots__ = ("capacity", "event", "header", "_mm", "_hdr", "_len")

    def __init__(self, capacity: int, event: EventFd | bool | None = None):
        cap = (int(capacity) + 7) & -8
        if not 16 <= cap <= MAX_CAPACITY:
            raise ValueError(f"ByteRing capacity must be 16..{MAX_CAPACITY} bytes, not {capacity}")
        self._mm = _shared_mmap(HEADER_SIZE + cap)
        view = memoryview(self._mm)
        self._hdr = view[:HEADER_SIZE].cast("Q")
        self._len = view[HEADER_SIZE:].cast("I")           # u32 at byte offset 4*i
        self.header = np.frombuffer(self._mm, np.uint64, count=HEADER_SIZE // 8)
        self.capacity = cap
        self._hdr[_CAPACITY] = cap
        self.event = EventFd() if event is True else (event or None)

    # -- producer --------------------------------------------------------------------------------

    def put(self, data) -> bool:
        """Append one record (bytes-like, contiguous bytes).  False, counted in `dropped`, when
        there is no room now (or ever: `oversized`).  Never blocks."""
        size = (len(data) + 11) & -8
        return True if self._append(data, size) else self._refuse(size)

    def put_wait(self, data, pause: float = 0.0005) -> bool:
        """Append one record, waiting for the consumer to make room; False (counted)
        only for a record larger than the ring."""
        size = (len(data) + 11) & -8
        if size > self.capacity:
            return self._refuse(size)
        while not self._append(data, size):
            time.sleep(pause)
        return True

    def _append(self, data, size: int) -> bool:
        hdr = self._hdr
        n = len(data)
        cap = self.capacity
        head = hdr[_HEAD]
        off = head % cap
        end = cap - off
        if size <= end:
            if head + size - hdr[_TAIL] > cap:
                return False
            pos = head
        else:                                   # does not fit before the end: wrap to 0
            if head + end + size - hdr[_TAIL] > cap:
                return False
            self._len[off >> 2] = WRAP
            pos = head + end
            off = 0
        self._len[off >> 2] = n
        start = HEADER_SIZE + off + 4
        self._mm[start:start + n] = data
        hdr[_HEAD] = pos + size                 # the commit: one aligned 8-byte store, last
        if self.event is not None and hdr[_TAIL] == head:
            self.event.signal()
        return True

    def _refuse(self, size: int) -> bool:
        hdr = self._hdr
        hdr[_DROPPED] += 1
        if size > self.capacity:
            hdr[_OVERSIZED] += 1
        return False

    # -- consumer --------------------------------------------------------------------------------

    def get_all(self, limit: int | None = None) -> list[bytes]:
        """Take every committed record (at most `limit`), oldest first; tail advances once."""
        hdr = self._hdr
        tail = hdr[_TAIL]
        head = hdr[_HEAD]
        if tail == head:
            return []
        cap = self.capacity
        lens = self._len
        mm = self._mm
        out = []
        append = out.append
        left = -1 if limit is None else int(limit)
        if left == 0:
            return out
        while tail < head:
            off = tail % cap
            n = lens[off >> 2]
            if n == WRAP:
                tail += cap - off
                continue
            start = HEADER_SIZE + off + 4
            append(mm[start:start + n])
            tail += (n + 11) & -8
            left -= 1
            if left == 0:
                break
        if tail > head:
            raise RuntimeError(f"ByteRing corrupt: record runs past head ({tail} > {head})")
        hdr[_TAIL] = tail
        return out

    def pending(self) -> int:
        """Bytes committed and not yet consumed (record headers and padding included); 0 when
        the ring is empty."""
        hdr = self._hdr
        return hdr[_HEAD] - hdr[_TAIL]

    def wait(self, timeout_s: float | None) -> bool:
        """Consumer: True at once if anything is pending, else sleep on the event up to
        timeout_s and report whether something is pending now.  Use a bounded timeout (see the
        module doc: a wake-up can rarely be missed)."""
        if self.pending():
            return True
        if self.event is None:
            raise ValueError("ByteRing.wait needs an event (ByteRing(capacity, event=True))")
        self.event.wait(timeout_s)
        return self.pending() != 0

    # -- supervisor ------------------------------------------------------------------------------

    def reset(self) -> int:
        """After the producer died (and before its replacement puts): set tail to head, so the
        positions are equal and the ring empty.  Returns how many committed records were still
        unconsumed and are thus discarded (counted in `dropped`); 0 in the intended use, when
        the consumer has drained the ring, in which case this stores the value tail already has
        and cannot disturb a consumer running concurrently.  A record the dead producer was
        writing was never committed (head was not advanced) and needs no cleaning: the next
        producer writes over it."""
        hdr = self._hdr
        lost = 0
        tail, head = hdr[_TAIL], hdr[_HEAD]
        cap = self.capacity
        while tail < head:                      # count what is discarded
            off = tail % cap
            n = self._len[off >> 2]
            if n == WRAP:
                tail += cap - off
            else:
                tail += (n + 11) & -8
                lost += 1
        hdr[_TAIL] = head
        hdr[_DROPPED] += lost
        return lost

    # -- statistics ------------------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        return self._hdr[_DROPPED]

    @property
    def oversized(self) -> int:
        return self._hdr[_OVERSIZED]

    @property
    def head(self) -> int:
        return self._hdr[_HEAD]

    @property
    def tail(self) -> int:
        return self._hdr[_TAIL]

    def __repr__(self):
        return (f"ByteRing(capacity={self.capacity}, pending={self.pending()}, "
                f"dropped={self.dropped})")


class Counters:
    """n shared int64 counters (progress sequence numbers), each with a single writer.

    `array` is the numpy view (for numba code or bulk reads such as array.min()); get/set/add
    go through a memoryview, which is faster from Python and returns plain ints."""

    __slots__ = ("n", "array", "_mm", "_q")

    def __init__(self, n: int):
        n = int(n)
        if n < 1:
            raise ValueError("Counters needs n >= 1")
        self.n = n
        self._mm = _shared_mmap(8 * n)
        self._q = memoryview(self._mm).cast("q")
        self.array = np.frombuffer(self._mm, np.int64, count=n)

    def get(self, i: int) -> int:
        return self._q[i]

    def set(self, i: int, v: int) -> None:
        self._q[i] = v

    def add(self, i: int, v: int = 1) -> int:
        """counter[i] += v by its single writer (not atomic); returns the new value."""
        q = self._q
        v = q[i] + v
        q[i] = v
        return v

    def __len__(self):
        return self.n

    def __repr__(self):
        return f"Counters({self.array.tolist()})"
