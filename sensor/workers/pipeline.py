"""The capture process's side of the multiprocess pipeline (DESIGN.md 1-6).

    pipe = Pipeline(engine, state, workers=4, emit=print_alert)
    pipe.start()                         # forks 1 output process and the workers
    for B in source:                     # decoded and enriched by the caller
        pipe.post(B, state.end_batch())  # copy into the shared pool, wake the workers
    pipe.close()                         # finish in-flight batches, flush, reap

Batches go by sequence number: batch s lives in pool slot s % slots until
every worker has finished it; only then is the slot reused and the state
engine allowed to recycle the process slots freed in that batch (epoch
reclamation).  When no slot is free, `post` waits (replay) or drops the whole
batch and counts it (live: the kernel ring must keep draining).

Children are supervised here: a worker or the output process that dies is
forked again at the next post or poll (within the poll interval); a dead
worker's batch in flight is counted as lost and marked finished so the
pipeline keeps moving.  Children die with the capture process
(PR_SET_PDEATHSIG).  All shared memory is anonymous: nothing outlives the
processes.
"""
from __future__ import annotations

import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..ring.notify import EventFd
from ..ring.shm_ring import ByteRing, Counters
from .output import output_main
from .pool import BatchPool
from .procs import fork_child, set_title
from .router import Router
from .worker import worker_main

POLL_S = 0.05
ALERT_RING_BYTES = 8 << 20


@dataclass
class Shared:
    """What the capture process, the workers and the output process share."""
    pool: BatchPool
    posted: Counters                 # [0]: sequence of the last batch posted
    progress: Counters               # [w]: last sequence worker w finished
    closing: Counters                # [0]: 1 finish and exit; 2 (output) flush and exit
    rings: list                      # alert ByteRing per worker
    go: list                         # EventFd per worker: a batch was posted
    done: EventFd                    # a worker finished a batch
    alert_event: EventFd             # alerts are waiting (all rings share it)
    alerts_out: Counters             # alerts emitted, per rule index
    busy_ns: Counters                # [w]: time worker w spent evaluating
    rule_index: dict = field(default_factory=dict)
    # Replay: a full alert ring makes the worker wait for the output process
    # (nothing lost, the replay slows down).  Live: the alert is dropped and
    # counted, so that workers keep up with capture.
    alerts_wait: bool = False

    def put_alert(self, ring, data: bytes) -> bool:
        return ring.put_wait(data) if self.alerts_wait else ring.put(data)


@dataclass
class PipelineStats:
    posted: int = 0
    dropped_batches: int = 0         # no free slot (live)
    dropped_events: int = 0
    lost_batches: int = 0            # in flight in a worker that died
    worker_restarts: int = 0
    output_restarts: int = 0
    oversized_batches: int = 0       # did not fit a pool slot: evaluated here
    alerts_dropped: int = 0          # alert rings full: the output process fell behind
    reforks: int = 0                 # workers forked again to see grown state tables


class Pipeline:
    def __init__(self, engine, state, workers: int, emit, *, slots: int = 8,
                 capacity: int = 16384, user: str = "", alerts_wait: bool = False,
                 alert_ring_bytes: int = ALERT_RING_BYTES):
        self.engine, self.state, self.workers, self.emit = engine, state, workers, emit
        self.user = user                             # the children's user (root only)
        self.capacity = capacity
        self.stats = PipelineStats()
        self.router = Router(workers)
        self._shard = np.zeros(capacity, np.int8)
        self._epochs: deque = deque()
        self._seq = 0
        self._pids: dict[int, tuple[str, int]] = {}       # pid -> ("worker", w) / ("output", 0)
        self._tables = None
        self._closed = False
        self._old_title = ""
        self.on_child = lambda pid, alive: None      # e.g. exclude the child from capture
        self._counted: dict = {}                     # alerts by rule of earlier rule sets
        names = [r.name for r in engine.rules]
        event = EventFd()
        self.shared = Shared(
            pool=BatchPool(slots, capacity),
            posted=Counters(1), progress=Counters(workers + 1), closing=Counters(1),
            rings=[ByteRing(alert_ring_bytes, event) for _ in range(workers + 1)],
            go=[EventFd() for _ in range(workers)], done=EventFd(), alert_event=event,
            alerts_out=Counters(len(names) + 1), busy_ns=Counters(workers + 1),
            rule_index={n: i for i, n in enumerate(names)}, alerts_wait=alerts_wait)
        self.rule_names = names

    # -- processes ---------------------------------------------------------------------------
    def start(self) -> None:
        self._old_title = set_title("sensor: capture")
        self._fork_output()
        for w in range(self.workers):
            self._fork_worker(w)
        self._tables = self._table_ids()

    def _fork_worker(self, w: int) -> None:
        types = ",".join(self.router.describe()[w][:4]) if self.router.batches else ""
        pid = fork_child(f"sensor: worker {w + 1}/{self.workers} [{types}]", worker_main,
                         w, self.shared, self.engine, self.state, user=self.user)
        self._pids[pid] = ("worker", w)
        self.on_child(pid, True)

    def _fork_output(self) -> None:
        pid = fork_child("sensor: output", output_main, self.shared, self.emit, user=self.user,
                         prepare=getattr(self.emit, "prepare", None))
        self._pids[pid] = ("output", 0)
        self.on_child(pid, True)

    def child_pids(self) -> dict:
        return dict(self._pids)

    def supervise(self) -> None:
        """Reap children that died and start them again."""
        while self._pids:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            kind, w = self._pids.pop(pid, (None, 0))
            self.on_child(pid, False)
            if self.shared.closing.get(0):
                continue
            if kind == "worker":
                if self.shared.progress.get(w) < self._seq:     # its batch in flight is lost
                    self.shared.progress.add(w, 1)
                    self.stats.lost_batches += 1
                self.stats.worker_restarts += 1
                self._fork_worker(w)
            elif kind == "output":
                self.stats.output_restarts += 1
                self._fork_output()

    # -- batches ----------------------------------------------------------------------------
    def post(self, B, epoch, block: bool = True) -> bool:
        """Hand batch B (enriched) to the workers; False if it was dropped."""
        n = int(B.n[0])
        if n == 0:                  # nothing to evaluate; its epoch waits for the ones before
            self._epochs.append((self._seq, epoch))
            self._release()
            return True
        if self._table_ids() != self._tables:
            self._refork_workers()
        pool = self.shared.pool
        s = self._seq + 1
        while not self._slot_free(s):
            self.supervise()
            if not block:
                self.stats.dropped_batches += 1
                self.stats.dropped_events += n
                self._epochs.append((self._seq, epoch))
                return False
            self.shared.done.wait(POLL_S)
        self.supervise()
        if not pool.fits(B):
            return self._evaluate_here(B, epoch)
        self.router.route(B, self._shard)
        pool.copy_in(s % len(pool), B, self._shard)
        self._publish(s, epoch)
        return True

    def _publish(self, s: int, epoch) -> None:
        self._seq = s
        self.stats.posted += 1
        self.shared.posted.set(0, s)
        self.shared.progress.set(self.workers, s)           # the capture's own ring is current
        for go in self.shared.go:
            go.signal()
        self._epochs.append((s, epoch))
        self._release()

    def _evaluate_here(self, B, epoch) -> bool:
        """A batch bigger than a pool slot: evaluated in this process, its alerts
        through this process's own ring, in order with the rest."""
        from ..outputs.alert import AlertRenderer
        from . import alerts_wire
        self.stats.oversized_batches += 1
        self._drain()
        s = self._seq + 1
        P, C = self.state.P, self.state.C
        ring = self.shared.rings[self.workers]
        for alert in AlertRenderer().alerts(self.engine.evaluate(B, P, C), B, P, C):
            self.shared.put_alert(ring, alerts_wire.encode(alert, s))
        for w in range(self.workers):                       # nothing for the workers
            self.shared.progress.set(w, s)
        self._publish(s, epoch)
        return True

    def can_post(self) -> bool:
        """Whether a batch posted now finds a free pool slot (is not dropped)."""
        return self._slot_free(self._seq + 1)

    def _slot_free(self, s: int) -> bool:
        return self._floor() >= s - len(self.shared.pool)

    def _floor(self) -> int:
        return int(min(self.shared.progress.array[:self.workers])) if self.workers else self._seq

    def _release(self) -> None:
        floor = self._floor()
        while self._epochs and self._epochs[0][0] <= floor:
            self.state.release(self._epochs.popleft()[1])

    def poll(self) -> None:
        """Between batches: supervise and release what the workers finished."""
        self.supervise()
        self._release()

    def _drain(self, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while self._floor() < self._seq and time.monotonic() < end:
            self.supervise()
            self.shared.done.wait(POLL_S)
        self._release()

    # -- new rules -----------------------------------------------------------------------------
    def replace(self, engine, emit) -> None:
        """New rules (SIGHUP): the batches in flight finish with the old ones and
        their alerts are emitted; then workers and output are forked again with
        the new engine (compiled by the caller)."""
        self._drain()
        end = time.monotonic() + 10
        while any(r.pending() for r in self.shared.rings) and time.monotonic() < end:
            time.sleep(0.01)
        # Workers are idle now; the output process gets SIGTERM so that its sinks
        # deliver what they hold before it exits.
        for pid, (kind, _) in list(self._pids.items()):
            os.kill(pid, signal.SIGTERM if kind == "output" else signal.SIGKILL)
        end = time.monotonic() + 30
        for pid in list(self._pids):
            self._reap(pid, end)
        self._counted.update({k: self._counted.get(k, 0) + v
                              for k, v in self._rule_counts().items()})
        self.engine, self.emit = engine, emit
        names = [r.name for r in engine.rules]
        self.rule_names = names
        self.shared.rule_index = {n: i for i, n in enumerate(names)}
        self.shared.alerts_out = Counters(len(names) + 1)
        self._fork_output()
        for w in range(self.workers):
            self._fork_worker(w)

    # -- the state engine's tables ------------------------------------------------------------
    def _table_ids(self) -> tuple:
        """The process and container tables' arrays: new ones mean the state
        engine grew them after the workers were forked (they cannot see them)."""
        P, C = self.state.P, self.state.C
        return tuple(id(a) for a in P) + tuple(id(a) for a in C)

    def _refork_workers(self) -> None:
        """Workers forked again, at a batch boundary, to see grown tables."""
        self.stats.reforks += 1
        self._drain()
        for pid, (kind, _) in list(self._pids.items()):
            if kind == "worker":
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                del self._pids[pid]
                self.on_child(pid, False)
        for w in range(self.workers):
            self._fork_worker(w)
        self._tables = self._table_ids()

    # -- the end -----------------------------------------------------------------------------
    def close(self, timeout: float = 60.0) -> None:
        """Finish the batches in flight, let the output flush, reap everyone."""
        if self._closed:
            return
        self._closed = True
        self._drain(timeout)
        self.shared.closing.set(0, 1)
        for go in self.shared.go:
            go.signal()
        end = time.monotonic() + timeout
        for pid, (kind, _) in list(self._pids.items()):
            if kind == "worker":
                self._reap(pid, end)
        self.shared.closing.set(0, 2)
        self.shared.alert_event.signal()
        for pid in list(self._pids):
            self._reap(pid, end)
        self._release()
        self.stats.alerts_dropped = sum(r.dropped for r in self.shared.rings)
        if self._old_title:
            set_title(self._old_title)

    def _reap(self, pid: int, end: float) -> None:
        while time.monotonic() < end:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done:
                break
            time.sleep(0.01)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        self._pids.pop(pid, None)
        self.on_child(pid, False)

    def reopen_outputs(self) -> None:
        """SIGUSR1 for the output process: its sinks open their files again."""
        for pid, (kind, _) in self._pids.items():
            if kind == "output":
                os.kill(pid, signal.SIGUSR1)

    def emit_internal(self, alert) -> None:
        """An alert the capture process raises itself (drop monitoring), after
        the alerts of the batches posted so far."""
        from . import alerts_wire
        self.shared.put_alert(self.shared.rings[self.workers],
                              alerts_wire.encode(alert, self._seq))

    def submit(self, B, epoch, block: bool = True) -> bool:
        return self.post(B, epoch, block)

    def _rule_counts(self) -> dict:
        counts = self.shared.alerts_out.array
        return {name: int(counts[i]) for i, name in enumerate(self.rule_names) if counts[i]}

    def lag(self) -> list:
        """Per worker, the batches posted that it has not finished."""
        return [self._seq - int(p) for p in self.shared.progress.array[:self.workers]]

    def busy_seconds(self) -> list:
        return [int(b) / 1e9 for b in self.shared.busy_ns.array[:self.workers]]

    def alerts_by_rule(self) -> dict:
        out = dict(self._counted)
        for k, v in self._rule_counts().items():
            out[k] = out.get(k, 0) + v
        return out
