"""What every output sink shares: a bounded queue, a delivery thread, retries
with backoff, and counters.

The emitting thread only appends to the sink's queue (`offer`), which never
blocks: when the queue is full the alert is dropped and counted.  The sink's
own thread takes everything queued, delivers it as one batch (`write`), and on
failure closes the transport, waits (0.1 s doubling to 5 s), opens it again and
retries the undelivered rest, up to `attempts` times; then the batch is given up
and counted as failed.  So a slow or dead sink loses only its own alerts, and
every loss is counted.

A subclass provides `open()`, `write(items)` and `close_transport()`.  `write`
delivers every item or raises; an error may carry `delivered`, the number of
leading items that did get through, so that only the rest is retried.
"""
from __future__ import annotations

import codecs
import logging
import threading
import time
from collections import deque

from ..ring.shm_ring import Counters
from .alert import Alert

log = logging.getLogger("sensor.outputs")

# Host names are encoded with the idna codec when a sink connects, which may be
# after the output process dropped root and can no longer read Python's library
# (a Python under /root, say): loaded now.
codecs.lookup("idna")

# Counter slots of one sink (shared memory, so that the capture process can
# report the output process's figures; each has a single writer).
ACCEPTED, SENT, DROPPED, FAILED, RETRIES = range(5)
COUNTER_NAMES = ("accepted", "sent", "dropped", "failed", "retries")


class SinkError(Exception):
    """A delivery failure; `delivered` leading items of the batch got through."""

    def __init__(self, message: str, delivered: int = 0):
        super().__init__(message)
        self.delivered = delivered


class Rendered:
    """One alert as the sinks see it: the line (Falco's text or JSON, as
    json_output says) and, made on first use, the JSON document."""

    __slots__ = ("alert", "line", "_json", "_formatter")

    def __init__(self, alert: Alert, line: str, formatter, json: bytes = None):
        self.alert, self.line, self._formatter, self._json = alert, line, formatter, json

    @property
    def json(self) -> bytes:
        if self._json is None:
            self._json = self._formatter.json_bytes(self.alert)
        return self._json


class Sink:
    kind = "sink"

    def __init__(self, name: str, *, capacity: int = 10000, attempts: int = 5,
                 backoff: float = 0.1, max_backoff: float = 5.0,
                 counters: Counters = None, base: int = 0):
        self.name = name
        self.capacity = max(1, int(capacity))
        self.attempts = max(1, int(attempts))
        self.backoff, self.max_backoff = backoff, max_backoff
        self.counters = counters if counters is not None else Counters(len(COUNTER_NAMES))
        self._base = base
        self._queue: deque = deque()
        self._wake = threading.Event()
        self._thread = None
        self._stopping = False
        self._deadline = None
        self._open = False
        self._reopen = False
        self._failing = False

    # --- subclass hooks -------------------------------------------------------
    def open(self) -> None:
        """Connect or open the transport; raise on failure (it is retried)."""

    def write(self, items: list) -> None:
        raise NotImplementedError

    def close_transport(self) -> None:
        """Release the transport; must not raise."""

    # --- the emitting side ----------------------------------------------------
    def offer(self, item: Rendered) -> bool:
        """Queue an alert for delivery; False (and counted) when the queue is full."""
        if self._thread is None:
            self._start()
        if len(self._queue) >= self.capacity:
            self._count(DROPPED)
            return False
        self._queue.append(item)
        self._count(ACCEPTED)
        self._wake.set()
        return True

    def request_reopen(self) -> None:
        """Close and open the transport again before the next delivery (SIGUSR1).
        Only sets a flag, so a signal handler may call it; the thread sees it
        within half a second."""
        self._reopen = True

    def begin_close(self, timeout: float = 5.0) -> None:
        """Start delivering what is queued, for at most `timeout` seconds (retries
        included); close() then waits.  Lets several sinks drain at once."""
        if self._deadline is None:
            self._deadline = time.monotonic() + timeout
            self._stopping = True
            self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued, for at most `timeout` seconds (or the time given
        to begin_close); what is left then is counted as failed.  A thread still
        stuck in one write past that is left alone: its alerts show as accepted
        but neither sent nor failed (in_flight in stats())."""
        self.begin_close(timeout)
        if self._thread is not None:
            self._thread.join(max(0.0, self._deadline - time.monotonic()) + 1.0)
            if self._thread.is_alive():
                log.warning("%s output: still delivering at exit", self.name)
                return
        left = len(self._queue)
        if left:
            self._queue.clear()
            self._count(FAILED, left)
        if self._open:
            self.close_transport()
            self._open = False

    def after_fork(self) -> None:
        """In a forked child: the parent's thread and transport are not ours."""
        self._thread, self._open = None, False
        self._queue = deque()
        self._wake = threading.Event()

    def stats(self) -> dict:
        st = {n: self.counters.get(self._base + i) for i, n in enumerate(COUNTER_NAMES)}
        st["in_flight"] = st["accepted"] - st["sent"] - st["failed"]
        return st

    def pending(self) -> int:
        return len(self._queue)

    # --- the sink's thread ----------------------------------------------------
    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"sink-{self.name}",
                                        daemon=True)
        self._thread.start()

    def _count(self, slot: int, n: int = 1) -> None:
        self.counters.add(self._base + slot, n)

    def _run(self) -> None:
        q = self._queue
        while True:
            self._wake.wait(0.5)
            self._wake.clear()
            self._reopen_if_asked()
            while q:
                batch = [q.popleft() for _ in range(min(len(q), 4096))]
                self._reopen_if_asked()
                self._deliver(batch)
            if self._stopping and not q:
                return

    def _reopen_if_asked(self) -> None:
        if self._reopen:
            self._reopen = False
            if self._open:
                self.close_transport()
                self._open = False

    def _deliver(self, batch: list) -> None:
        delay = self.backoff
        for attempt in range(self.attempts):
            try:
                if not self._open:
                    self.open()
                    self._open = True
                self.write(batch)
                self._count(SENT, len(batch))
                if self._failing:
                    self._failing = False
                    log.warning("%s output: delivering again", self.name)
                return
            except Exception as e:     # noqa: BLE001 - any transport error is retried
                done = min(getattr(e, "delivered", 0), len(batch))
                if done:
                    self._count(SENT, done)
                    batch = batch[done:]
                if not self._failing:
                    self._failing = True
                    log.warning("%s output: %s (retrying)", self.name, e)
                if self._open:
                    self.close_transport()
                    self._open = False
            if attempt + 1 == self.attempts or self._past_deadline(delay):
                break
            self._count(RETRIES)
            time.sleep(delay)
            delay = min(delay * 2, self.max_backoff)
        self._count(FAILED, len(batch))
        log.warning("%s output: gave up on %d alert(s)", self.name, len(batch))

    def _past_deadline(self, delay: float) -> bool:
        return self._deadline is not None and time.monotonic() + delay > self._deadline
