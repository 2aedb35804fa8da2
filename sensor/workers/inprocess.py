"""Evaluation in the capture process itself (`--workers 1`): the same
interface as the Pipeline, without processes."""
from __future__ import annotations

from collections import Counter

import numpy as np

from ..events.batch import allocate_batch
from ..outputs.alert import AlertRenderer


class InProcess:
    def __init__(self, engine, state, emit):
        self.engine, self.state, self.emit = engine, state, emit
        self.renderer = AlertRenderer()
        self.by_rule: Counter = Counter()

    def start(self) -> None:
        pass

    def submit(self, B, epoch, block: bool = True) -> bool:
        P, C = self.state.P, self.state.C
        for alert in self.renderer.alerts(self.engine.evaluate(B, P, C), B, P, C):
            self.by_rule[alert.rule] += 1
            self.emit(alert)
        self.state.release(epoch)
        return True

    def emit_internal(self, alert) -> None:
        """An alert the sensor itself raises (drop monitoring): not a rule's, so
        not in the per-rule counts (Falco does not list it either)."""
        self.emit(alert)

    def replace(self, engine, emit) -> None:
        """New rules (and output settings) from here on; the old outputs deliver
        what they hold and close."""
        old, self.engine, self.emit = self.emit, engine, emit
        if old is not emit:
            _close(old)

    def reopen_outputs(self) -> None:
        reopen = getattr(self.emit, "reopen", None)
        if reopen is not None:
            reopen()

    def poll(self) -> None:
        pass

    def close(self) -> None:
        _close(self.emit)

    def lag(self) -> list:
        return []

    def busy_seconds(self) -> list:
        return []

    def alerts_by_rule(self) -> dict:
        return dict(self.by_rule)


def warm_up(engine, state) -> None:
    """Compile the rules' kernels now, in this process: numba compiles them for
    the argument types of their first batch, which would otherwise be a live
    one (while the ring fills) or, in forked workers, compiled again in each,
    as an unprivileged user that cannot write the cache.  Both calls: a whole
    batch and a worker's shard of it."""
    B = allocate_batch(1, 64)
    B.n[0] = 1                     # one empty row: the kernels run, nothing matches
    engine.evaluate(B, state.P, state.C)
    engine.evaluate(B, state.P, state.C, shard=(np.zeros(1, np.int8), 0))
    engine.reset_stats()


def _close(emit) -> None:
    close = getattr(emit, "close", None)
    if close is not None:
        close()
