"""`sensor run`: live capture through the state engine and the rules.

    probes (kernel) -> ring -> decode -> state engine -> engine -> alerts
                                                      -> writer (optional .scap)

The rules are compiled (their kernels too) before anything is attached, so
that `ready` means events are being captured and evaluated as they come.  The probes attached are those the
rules' event types need plus those the state engine needs (probes.py).  The
loop ends when `stop()` says so (a signal, the -M deadline); the ring is then
drained, so nothing the kernel captured before the end is left unread.
Records the kernel could not put in the ring are counted per event type and
reported, never lost silently.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Optional

from .capture import bpf_abi as A
from .capture.container_engines import (ContainerMetadata, EngineSettings, MetadataFetcher,
                                        MetadataGate)
from .capture.live import LiveCapture
from .capture.probes import Probes, syscalls_for
from .capture.state import StateEngine
from .engine import Engine
from .events.ppm_table import EVENTS
from .outputs.alert import Alert
from .replay import RunCounts, count_alerts, make_evaluator
from .workers.inprocess import warm_up


@dataclass
class RunResult(RunCounts):
    kernel_drops: Counter = field(default_factory=Counter)   # event name -> records lost
    bad_records: int = 0
    syscalls: list = field(default_factory=list)
    monitor: object = None           # the syscall_event_drops monitor
    stopped: bool = False            # ended by the monitor's exit action
    containers: object = None        # ContainerMetadata (lookups, times to metadata)


def run_live(engine: Engine, on_alert: Callable[[Alert], None], *,
             stop: Callable[[], bool], on_ready: Callable[[list], None] = lambda s: None,
             write_path: Optional[str] = None, ring_bytes: Optional[int] = None,
             batch_rows: int = 65536, workers: int = 1, drops=None,
             reload: Optional[Callable[[], Optional[tuple]]] = None,
             log: Callable[[str], None] = lambda text: None, user: str = "",
             stats=None, reopen: Optional[Callable[[], bool]] = None,
             containers: Optional[EngineSettings] = None) -> RunResult:
    """Capture until stop() is true.  Raises BpfError (with what to do) when
    the probes cannot be loaded or attached.  With workers > 1 the rules run in
    forked worker processes and on_alert in the output process; the sensor's
    children are excluded from capture like the sensor itself.  `drops`: a
    DropsMonitor factory (alert callback, drops-so-far callback -> monitor) fed
    with the kernel's and the pipeline's drops; its exit action ends the run.
    `reload`: polled between sweeps; returns (engine, on_alert) when new rules
    were loaded and validated (SIGHUP), None otherwise.  `stats`: a Stats,
    given a snapshot of the counters between sweeps.  `reopen`: polled between
    sweeps; true when the outputs should open their files again (SIGUSR1).
    `containers`: the `container_engines` settings (None, or no engine enabled:
    no metadata lookups; container.id only)."""
    result = RunResult()
    state = StateEngine()
    syscalls = syscalls_for(engine.event_types())
    opts = {} if ring_bytes is None else {"ring_bytes": ring_bytes}
    evaluator = make_evaluator(engine, state, workers, on_alert, user)
    if workers > 1:
        batch_rows = evaluator.capacity
    probes = Probes.open(syscalls, **opts)
    if workers > 1:
        evaluator.on_child = lambda pid, alive: (probes.exclude if alive else probes.include)(pid)
    live = None
    writer = None
    meta = _container_metadata(state, containers)
    try:
        live = LiveCapture(probes)
        state.seed(live.snapshot)          # containers running already: looked up first
        evaluator.start()
        if meta is not None:
            meta.start()                   # its threads after the workers' fork
        gate = None
        if meta is not None:
            gate = MetadataGate(meta, lambda B, epoch: evaluator.submit(B, epoch, block=False),
                                getattr(evaluator, "can_post", lambda: True))
        result.containers = meta
        if write_path is not None:
            from .capture.scap_writer import ScapWriter
            writer = ScapWriter(write_path, live.snapshot)
        result.syscalls = list(syscalls)
        monitor = None
        if drops is not None:
            lost = getattr(evaluator, "stats", None)
            monitor = drops(evaluator.emit_internal, lambda: int(probes.drops().sum()) + (
                lost.dropped_events if lost is not None else 0))
        result.monitor = monitor
        t0 = time.monotonic()
        on_ready(result.syscalls)
        attached = set(syscalls)

        def snapshot() -> dict:
            pipe = getattr(evaluator, "stats", None)
            by_rule = evaluator.alerts_by_rule()
            return {"events": result.events, "kernel_drops": int(probes.drops().sum()),
                    "pipeline_dropped_events": pipe.dropped_events if pipe else 0,
                    "pipeline_lost_batches": pipe.lost_batches if pipe else 0,
                    "worker_lag": evaluator.lag(), "worker_busy_s": evaluator.busy_seconds(),
                    "alerts": sum(by_rule.values()), "alerts_by_rule": by_rule,
                    "outputs": _outputs_stats(evaluator.emit)}

        def halt() -> bool:
            if meta is not None:
                meta.apply()
                gate.flush()
            if stats is not None:
                stats.tick(snapshot)
            if reopen is not None and reopen():
                evaluator.reopen_outputs()
            new = reload() if reload is not None else None
            if new is not None:
                engine2, alert2 = new
                warm_up(engine2, state)
                evaluator.replace(engine2, alert2)
                missing = sorted(set(syscalls_for(engine2.event_types())) - attached)
                log(f"Rules reloaded: {len(engine2.rules)} rules"
                    + (f"; not attached until a restart: {', '.join(missing)}" if missing
                       else ""))
            return stop() or (monitor is not None and monitor.exit_requested)

        for B in live.batches(batch_rows, stop=halt):
            if meta is not None:
                meta.apply()
            B = state.process(B)
            if writer is not None:
                writer.write_rows(B)
                result.written += int(B.n[0])
            result.events += int(B.n[0])
            result.batches += 1
            if gate is not None:
                gate.post(B, state.end_batch(), state.P)
            else:
                evaluator.submit(B, state.end_batch(), block=False)
            if monitor is not None:
                monitor.batch(B)
        if gate is not None:
            meta.apply()
            gate.flush(force=True)
        result.stopped = monitor is not None and monitor.exit_requested
        evaluator.close()
        result.seconds = time.monotonic() - t0
        result.bad_records = live.counts.bad
        result.kernel_drops = drops_by_event(probes.drops())
        count_alerts(result, engine, evaluator.alerts_by_rule())
        result.pipeline = getattr(evaluator, "stats", None)
    finally:
        if meta is not None:
            meta.close()
        evaluator.close()
        if writer is not None:
            writer.close()
        if live is not None:
            live.close()
        else:
            probes.close()
    return result


def _container_metadata(state, settings: Optional[EngineSettings]
                        ) -> Optional[ContainerMetadata]:
    """Lookups of container metadata for the state engine's container table
    (None when no engine is enabled)."""
    if settings is None or not settings.engines:
        return None
    return ContainerMetadata(state.containers,
                             MetadataFetcher(settings.engines, ttl=settings.ttl),
                             max_wait=settings.max_wait)


def _outputs_stats(emit) -> dict:
    """Each sink's counters (and dedup's), when the alerts go through Outputs."""
    stats = getattr(emit, "stats", None)
    return stats()["sinks"] if stats is not None else {}


def drops_by_event(drops) -> Counter:
    """The drops map (by event code) as event names -> count."""
    names = {}
    for code, name, *_ in EVENTS:
        names[code] = names[code + 1] = name
    out = Counter()
    for code in drops.nonzero()[0]:
        code = int(code)
        label = "bad record" if code == A.CODE_BAD_BUILD else names.get(code, f"code {code}")
        out[label] += int(drops[code])
    return out
