"""The alert path of a command after the rules: deduplication, formatting once,
then every enabled sink, each with its own queue.

An Outputs object is the `emit` callable: the capture process calls it with
--workers 1, the output process otherwise.  Its counters live in shared memory,
so the capture process reports what the output process delivered, across
restarts of the output process.  Threads (each sink's, and the ticker that ends
dedup windows when no alert comes) start in the process that emits first.
"""
from __future__ import annotations

import importlib
import os
import threading
import time

from ..ring.shm_ring import Counters
from . import dedup as dedup_mod
from .formats import Formatter
from .sink import COUNTER_NAMES, Rendered

# (config section, module, class): the order of delivery and of the summary.
SINKS = (("stdout_output", "stdout_sink", "StdoutSink"),
         ("file_output", "file_sink", "FileSink"),
         ("syslog_output", "syslog_sink", "SyslogSink"),
         ("program_output", "program_sink", "ProgramSink"),
         ("http_output", "http_sink", "HttpSink"),
         ("nats_output", "nats_sink", "NatsSink"))
DEFAULT_CAPACITY = 10000
# Dedup figures after the sinks' counters: matches admitted, copies suppressed,
# alerts emitted (firsts and reports).
_MATCHES, _SUPPRESSED, _EMITTED = range(3)
TICK_S = 0.25


class Outputs:
    def __init__(self, cfg, counters: Counters = None):
        self.formatter = Formatter(cfg)
        self.json = self.formatter.json
        self.dedup = dedup_mod.from_config(cfg)
        capacity = int(cfg.get("outputs_queue.capacity") or 0) or DEFAULT_CAPACITY
        attempts = int(cfg.get("outputs.attempts", 5))
        self.close_timeout = float(cfg.get("outputs.close_timeout", 5.0))
        enabled = [s for s in SINKS if cfg.get(f"{s[0]}.enabled")]
        size = len(enabled) * len(COUNTER_NAMES) + 3
        reuse = counters is not None and counters.n == size
        self.counters = counters if reuse else Counters(size)
        self._dedup_base = len(enabled) * len(COUNTER_NAMES)
        self.sinks = []
        for i, (section, module, cls) in enumerate(enabled):
            sink_cls = getattr(importlib.import_module(f"{__package__}.{module}"), cls)
            self.sinks.append(sink_cls(cfg.get(section) or {}, capacity=capacity,
                                       attempts=attempts, counters=self.counters,
                                       base=i * len(COUNTER_NAMES)))
        self._lock = threading.Lock()
        self._pid = None
        self._last_ts = 0              # the newest alert's time, and when it came
        self._last_mono = 0.0
        self._closed = False

    # --- the emitting side ----------------------------------------------------
    def __call__(self, alert) -> None:
        with self._lock:
            self._started()
            self._last_ts, self._last_mono = alert.ts, time.monotonic()
            if self.dedup is None:
                self._send(alert)
                return
            b, suppressed = self._dedup_base, self.dedup.suppressed
            self.counters.add(b + _MATCHES)
            for a in self.dedup.admit(alert):
                self._send(a)
            if self.dedup.suppressed != suppressed:
                self.counters.add(b + _SUPPRESSED)

    def prepare(self) -> None:
        """Open what must be opened with the privileges of the start (files), before
        a process drops them; raises OSError when a sink cannot be set up."""
        for sink in self.sinks:
            prepare = getattr(sink, "prepare", None)
            if prepare is not None:
                prepare()

    def reopen(self) -> None:
        """SIGUSR1: files (and every other transport) opened again."""
        for sink in self.sinks:
            sink.request_reopen()

    def close(self) -> None:
        """End the dedup windows, then let every sink deliver what it holds (all
        at once, for at most outputs.close_timeout)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self.dedup is not None and self._pid == os.getpid():
                for a in self.dedup.flush():
                    self._send(a)
        for sink in self.sinks:
            sink.begin_close(self.close_timeout)
        for sink in self.sinks:
            sink.close(self.close_timeout)

    # --- figures ----------------------------------------------------------------
    def stats(self) -> dict:
        c, b = self.counters, self._dedup_base
        return {"sinks": {s.name: s.stats() for s in self.sinks},
                "dedup": None if self.dedup is None else {
                    "matches": c.get(b + _MATCHES), "suppressed": c.get(b + _SUPPRESSED),
                    "emitted": c.get(b + _EMITTED)}}

    def summary(self) -> list:
        """Lines for the end-of-run summary."""
        st = self.stats()
        lines = []
        for name, s in st["sinks"].items():
            lost = s["dropped"] + s["failed"]
            lines.append(f"Output {name}: {s['sent']} sent" + (
                f", {lost} lost ({s['dropped']} with the queue full, {s['failed']} "
                f"undelivered after retries)" if lost else "") + (
                f", {s['retries']} retries" if s["retries"] else ""))
        d = st["dedup"]
        if d is not None and d["suppressed"]:
            lines.append(f"Dedup: {d['matches']} matches in {d['emitted']} alerts "
                         f"({d['suppressed']} repeats folded)")
        return lines

    # --- internals ----------------------------------------------------------------
    def _started(self) -> None:
        if self._pid == os.getpid():
            return
        if self._pid is not None:            # forked after the parent emitted
            for sink in self.sinks:
                sink.after_fork()
        self._pid = os.getpid()
        if self.dedup is not None:
            threading.Thread(target=self._tick, name="dedup-ticker", daemon=True).start()

    def _send(self, alert) -> None:
        if self.dedup is not None:
            self.counters.add(self._dedup_base + _EMITTED)
        if not self.sinks:
            return
        if self.json:
            doc = self.formatter.json_bytes(alert)
            item = Rendered(alert, doc.decode(), self.formatter, doc)
        else:
            item = Rendered(alert, self.formatter.text(alert), self.formatter)
        for sink in self.sinks:
            sink.offer(item)

    def _tick(self) -> None:
        """Windows end with time, not only with the next alert: the event clock is
        the newest alert's time plus the wall time since it came."""
        while not self._closed:
            time.sleep(TICK_S)
            with self._lock:
                if self._closed or not self.dedup.pending():
                    continue
                now = self._last_ts + int((time.monotonic() - self._last_mono) * 1e9)
                for a in self.dedup.expire(now):
                    self._send(a)
