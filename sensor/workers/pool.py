"""The pool of batches the capture process shares with the workers.

A fixed number of batches in anonymous shared memory, made before the
workers are forked.  The capture process copies each enriched batch into a
free slot (its used rows and arena bytes only), with one shard number per
row saying which worker evaluates it; the workers read the slot in place.
A slot is free again once every worker has finished its batch (pipeline.py
keeps the sequence numbers).
"""
from __future__ import annotations

import numpy as np

from ..events.batch import Batch, allocate_batch, zeros

ARENA_BYTES_PER_ROW = 256


class BatchPool:
    def __init__(self, slots: int, capacity: int, arena_bytes: int = 0):
        self.capacity = capacity
        arena_bytes = arena_bytes or capacity * ARENA_BYTES_PER_ROW
        self.batches = [allocate_batch(capacity, arena_bytes, shared=True) for _ in range(slots)]
        self.shards = [zeros(capacity, np.int8, shared=True) for _ in range(slots)]

    def __len__(self) -> int:
        return len(self.batches)

    def fits(self, B: Batch) -> bool:
        return int(B.n[0]) <= self.capacity and int(B.n[1]) <= self.batches[0].arena.shape[0]

    def copy_in(self, slot: int, B: Batch, shard_of_row: np.ndarray) -> None:
        """Copy B's used rows and arena bytes, and the rows' shards, into slot."""
        dst = self.batches[slot]
        n, used = int(B.n[0]), int(B.n[1])
        for name in Batch._fields:
            if name in ("arena", "n"):
                continue
            src, out = getattr(B, name), getattr(dst, name)
            if src.ndim == 1:
                out[:n] = src[:n]
            else:
                out[:, :n] = src[:, :n]
        dst.arena[:used] = B.arena[:used]
        self.shards[slot][:n] = shard_of_row[:n]
        dst.n[1] = used
        dst.n[0] = n
