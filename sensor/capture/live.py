"""Live capture as a source of batches, like the .scap reader:

    live = LiveCapture(probes)
    live.snapshot                        # the /proc scan, taken once attached
    for B in live.batches(stop=...):     # events in ring order
        ...

Each ring record is a .scap event block (docs/CONTRACTS.md), so one numba
sweep copies the ring's records into a staging buffer and the .scap decoder
turns them into batch columns: no per-event Python anywhere.  The probes are
attached before /proc is scanned, so a process that starts during the scan is
seen by one or the other (or both: the state engine keeps the first).
"""
from __future__ import annotations

import os
import time
from typing import Callable, Iterator

import numpy as np

from ..events.batch import allocate_batch, grow_arena
from ..ring.bpf_ring import BpfRing
from . import bpf_abi as A
from . import scap_decode as D
from .model import Snapshot
from .probes import Probes
from .proc_scan import scan_proc

STAGING_BYTES = 8 << 20          # one sweep of the ring at most (whole records)
ARENA_BYTES_PER_ROW = 128        # live rows carry paths; the arena grows on demand
POLL_S = 0.05                    # the probes wake us only past a byte threshold


class LiveCapture:
    def __init__(self, probes: Probes):
        self.probes = probes
        self.ring = BpfRing(probes.ring_fd, probes.ring_size)
        self.staging = np.zeros(max(STAGING_BYTES, 2 * A.MAX_EVENT), np.uint8)
        self.sweep_bytes = probes.wakeup_bytes
        self.counts = RecordCounts()
        probes.attach()
        self.snapshot: Snapshot = scan_proc(exclude_tgids={os.getpid()})

    def batches(self, capacity: int = 65536, stop: Callable[[], bool] = lambda: False,
                poll_s: float = POLL_S) -> Iterator:
        """Batches until stop() is true; then what the ring still holds.

        The ring is swept every poll_s, or at once when more than sweep_bytes
        wait (the probes wake us then): a busy machine gets big batches, a quiet
        one its alerts within poll_s, and neither a sweep per trickle of events
        (each batch has a fixed cost in Python)."""
        stats = np.zeros(2, np.int64)
        last = time.monotonic()
        while True:
            stopping = stop()
            pending = self.ring.pending()
            if not stopping and pending < self.sweep_bytes:
                left = last + poll_s - time.monotonic()
                if left > 0:
                    if pending:
                        time.sleep(min(left, 0.005))
                    else:
                        self.ring.wait(left)
                    continue
            last = time.monotonic()
            end = self.ring.drain(self.staging, 0)
            if end:
                yield from decode_records(self.staging, end, capacity, self.counts, stats)
            if stopping and not self.ring.pending():
                return

    def close(self) -> None:
        self.ring.close()
        self.probes.close()


class RecordCounts:
    """Events decoded so far (their numbering goes on across sweeps) and
    records that could not be decoded."""

    def __init__(self):
        self.events = 0
        self.bad = 0


def decode_records(buf, end: int, capacity: int, counts: RecordCounts, stats) -> Iterator:
    """Batches of the ring records (scap event blocks) in buf[:end].  A record
    our own probes built wrong is counted, and the rest of the sweep dropped:
    its records cannot be delimited safely."""
    B = _new_batch(capacity)
    pos = 0
    while pos < end:
        status, pos, counts.events = D.run(buf, pos, end, counts.events, B, stats)
        pos = int(pos)
        if status == D.ST_BATCH_FULL:
            yield B
            B = _new_batch(capacity)
        elif status == D.ST_ARENA_FULL:
            B = grow_arena(B, int(stats[D.STAT_ARENA_NEED]))
        elif status != D.ST_NEED_MORE or pos < end:
            counts.bad += 1
            break
    if B.n[0]:
        yield B


def _new_batch(capacity: int):
    return allocate_batch(capacity, capacity * ARENA_BYTES_PER_ROW)
