"""Which worker evaluates which rows: routing by event type (DESIGN.md point 4).

The router keeps a decaying count of each event type's rows and, at batch
boundaries, assigns types to workers greedily (heaviest type first, to the
least loaded worker).  A type heavier than one worker's fair share is split
over several workers, by contiguous runs of its rows.  Every row is
evaluated by exactly one worker, with every rule, so each row's matches are
the same as in one process.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..events import evttypes as ET

DECAY = 0.5                # weight of the past at each revision
REVISE_EVERY = 8           # batches between revisions


@njit(cache=True)
def _assign_rows(types, n, first, count, out):
    """out[i]: the worker of row i: type t's rows go to workers first[t] ..
    first[t] + count[t] - 1 in contiguous runs, in row order."""
    seen = np.zeros(first.shape[0], np.int64)
    total = np.zeros(first.shape[0], np.int64)
    for i in range(n):
        total[types[i]] += 1
    for i in range(n):
        t = types[i]
        k = count[t]
        if k <= 1:
            out[i] = first[t]
        else:
            out[i] = first[t] + (seen[t] * k) // total[t]
            seen[t] += 1


class Router:
    def __init__(self, workers: int):
        self.workers = workers
        ntypes = max(ET.all_type_ids()) + 1
        self.rate = np.zeros(ntypes, np.float64)
        self.first = np.zeros(ntypes, np.int64)       # default: everything to worker 0
        self.count = np.ones(ntypes, np.int64)
        self.batches = 0
        self._spread_default()

    def _spread_default(self) -> None:
        """Before any rate is known: types round-robin over the workers."""
        self.first[:] = np.arange(self.first.size) % self.workers

    def route(self, B, out: np.ndarray) -> np.ndarray:
        """Fill out[:n] with each row's worker, learning the batch's type counts."""
        n = int(B.n[0])
        types = B.type[:n]
        self.rate *= DECAY
        self.rate += np.bincount(types, minlength=self.rate.size)[:self.rate.size]
        self.batches += 1
        if self.workers > 1 and self.batches % REVISE_EVERY == 1:
            self.revise()
        _assign_rows(types, n, self.first, self.count, out)
        return out

    def revise(self) -> None:
        """Types to workers by observed rates: heaviest first, to the least
        loaded; a type over a worker's share spans ceil(rate / share) workers."""
        total = float(self.rate.sum())
        if total <= 0 or self.workers == 1:
            return
        share = total / self.workers
        load = np.zeros(self.workers)
        for t in np.argsort(-self.rate):
            r = float(self.rate[t])
            if r <= 0:
                break
            k = min(self.workers, max(1, int(np.ceil(r / share - 1e-9))))
            if k == 1:
                w = int(np.argmin(load))
            else:   # k adjacent workers, starting at the least loaded run
                w = min(range(self.workers - k + 1), key=lambda s: load[s:s + k].sum())
            self.first[t], self.count[t] = w, k
            load[w:w + k] += r / k

    def describe(self) -> list[list[str]]:
        """Per worker, the event types it has rows of (busiest first)."""
        out = [[] for _ in range(self.workers)]
        for t in np.argsort(-self.rate):
            if self.rate[t] <= 0:
                break
            for w in range(int(self.first[t]), int(self.first[t] + self.count[t])):
                out[w].append(ET.type_name(int(t)))
        return out
