"""`sensor replay`: a .scap trace through the state engine and the rules.

    reader (decode) -> state engine (enrich) -> engine (match) -> alerts
                                              -> writer (optional, filtered copy)

Events are evaluated as recorded, enter and exit (DESIGN.md, Event
semantics).  Each batch is enriched, evaluated, and its matches rendered into
alerts before the state engine may reuse the slots of processes that exited in
it.  A corrupt or truncated trace stops the replay with the reader's error
(file and byte offset) after every event before the fault went through.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Optional

import yaml

from .capture.model import Snapshot
from .capture.scap_reader import ScapError, open_scap
from .capture.state import StateEngine
from .compile.rule import Priority
from .engine import Engine
from .outputs.alert import Alert


class SelectionError(ValueError):
    pass


@dataclass
class RunCounts:
    """What a replay or a live run went through."""
    events: int = 0
    batches: int = 0
    alerts: int = 0
    written: int = 0
    by_rule: Counter = field(default_factory=Counter)
    by_priority: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    pipeline: object = None          # PipelineStats with workers > 1


@dataclass
class ReplayResult(RunCounts):
    error: Optional[ScapError] = None
    stopped: bool = False            # the drop monitor's exit action
    monitor: object = None


def select_rules(engine: Engine, disable=(), tags=(), notags=(),
                 priority: Optional[str] = None) -> None:
    """Falco's rule selection: -D substring and -T tag disable, -t tag keeps only
    the rules with one of the tags; `priority` drops rules below that level."""
    if tags and (disable or notags):
        raise SelectionError("You can not specify both disabled (-D/-T) and enabled (-t) rules")
    for pattern in disable:
        engine.enable_rules(name_pattern=pattern, enabled=False)
    for tag in notags:
        engine.enable_rules(tag=tag, enabled=False)
    if tags:
        engine.enable_rules(enabled=False)
        for tag in tags:
            engine.enable_rules(tag=tag, enabled=True)
    if priority is not None:
        try:
            engine.set_min_priority(Priority.parse(str(priority)))
        except KeyError:
            raise SelectionError(f"unknown priority {priority!r}") from None


def filter_engine(condition: str) -> Engine:
    """An engine holding one rule whose condition is a user's filter expression.
    The text is loaded as rules are, so it never becomes code."""
    doc = [{"rule": "write filter", "desc": "sensor replay --write filter",
            "condition": condition, "output": "filter", "priority": "DEBUG"}]
    eng = Engine()
    eng.load_rules(yaml.safe_dump(doc, sort_keys=False), name="<filter>")
    return eng


class Progress:
    """A one-line progress bar on a terminal, shown once a replay runs over a second."""

    def __init__(self, stream=None, delay: float = 1.0):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.start = time.monotonic()
        self.delay = delay
        self.shown = False

    def update(self, fraction: Optional[float], events: int) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.start
        if elapsed < self.delay:
            return
        rate = events / elapsed if elapsed > 0 else 0.0
        if fraction is None:
            bar = ""
        else:
            done = int(30 * min(max(fraction, 0.0), 1.0))
            bar = f"[{'#' * done}{' ' * (30 - done)}] {100 * fraction:5.1f}% "
        self.stream.write(f"\r{bar}{events:,} events, {rate / 1e6:.2f} M/s")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def replay(path: str, engine: Engine, on_alert: Callable[[Alert], None], *,
           write_path: Optional[str] = None, write_filter: Optional[Engine] = None,
           progress: Optional[Progress] = None, batch_rows: int = 65536,
           workers: int = 1, drops=None, user: str = "") -> ReplayResult:
    """Replay `path` through `engine`, calling on_alert for each alert in event order
    (in the output process with workers > 1).  With write_path, the events (those
    write_filter matches, if given) are written to a new capture.  `drops`: a
    DropsMonitor factory (alert callback -> monitor) for syscall_event_drops; its
    exit action stops the replay (result.stopped).  Raises ScapError only when the
    file cannot be opened at all."""
    t0 = time.monotonic()
    result = ReplayResult()
    reader = open_scap(path)
    state = StateEngine()
    state.seed(reader.snapshot)
    evaluator = make_evaluator(engine, state, workers, on_alert, user, lossless=True)
    monitor = drops(evaluator.emit_internal) if drops is not None else None
    result.monitor = monitor
    if workers > 1:
        batch_rows = evaluator.capacity
    writer = None
    if write_path is not None:
        from .capture.scap_writer import ScapWriter
        writer = ScapWriter(write_path, reader.snapshot)
    evaluator.start()
    try:
        for item in reader.batches(batch_rows):
            if isinstance(item, Snapshot):
                state.seed(item)
                continue
            B = state.process(item)
            if writer is not None:
                result.written += _write(writer, write_filter, B, state.P, state.C)
            result.events += int(B.n[0])
            result.batches += 1
            evaluator.submit(B, state.end_batch())
            if monitor is not None:
                monitor.batch(B)
                if monitor.exit_requested:
                    result.stopped = True
                    break
            if progress is not None:
                progress.update(reader.progress(), result.events)
    except ScapError as e:
        result.error = e
    finally:
        evaluator.close()
        if writer is not None:
            writer.close()
        if progress is not None:
            progress.close()
    count_alerts(result, engine, evaluator.alerts_by_rule())
    result.pipeline = getattr(evaluator, "stats", None)
    result.seconds = time.monotonic() - t0
    return result


def make_evaluator(engine: Engine, state: StateEngine, workers: int, on_alert, user: str = "",
                   lossless: bool = False):
    """Rules evaluated in this process (workers <= 1) or by the multiprocess pipeline,
    whose children run as `user` without capabilities when we are root; `lossless`
    (replay): workers wait for the output process rather than drop alerts."""
    from .workers.inprocess import InProcess, warm_up
    warm_up(engine, state)          # compiled here, once (forked workers inherit it)
    if workers <= 1:
        return InProcess(engine, state, on_alert)
    from .workers.pipeline import Pipeline
    return Pipeline(engine, state, workers, on_alert, user=user, alerts_wait=lossless)


def count_alerts(result, engine: Engine, by_rule: dict) -> None:
    prio = {r.name: r.priority.label() for r in engine.rules}
    for rule, n in by_rule.items():
        result.alerts += n
        result.by_rule[rule] += n
        result.by_priority[prio.get(rule, "Debug")] += n


def _write(writer, write_filter: Optional[Engine], B, P, C) -> int:
    if write_filter is None:
        writer.write_rows(B)
        return int(B.n[0])
    rows = write_filter.evaluate(B, P, C).rows
    if rows.size:
        writer.write_rows(B, rows)
    return int(rows.size)
