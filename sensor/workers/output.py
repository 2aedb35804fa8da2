"""The output process: alerts from every worker's ring, in event order.

Workers finish batches at different times, so the alerts of batch s are held
until every worker has finished s (their progress counters), then emitted
sorted by (batch, event): the same order as a single process.  A worker that
died had its in-flight batch marked finished by the supervisor, so nothing
waits for it forever.

SIGUSR1 reopens the sinks (log rotation); SIGTERM (a reload) ends the loop once
the rings are empty.  Either way the sinks deliver what they hold before exit.
"""
from __future__ import annotations

import signal

from . import alerts_wire


def output_main(shared, emit) -> None:
    stop = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
    reopen = getattr(emit, "reopen", None)
    if reopen is not None:
        signal.signal(signal.SIGUSR1, lambda signum, frame: reopen())
    try:
        _loop(shared, emit, stop)
    finally:
        close = getattr(emit, "close", None)
        if close is not None:
            close()


def _loop(shared, emit, stop) -> None:
    held = []                                   # (seq, num, arrival, alert)
    arrival = 0
    wake = shared.alert_event
    while True:
        # The floor first: a worker publishes its progress after its alerts, so
        # every alert of a batch <= floor is in the rings when they are read next.
        floor = min(shared.progress.array)
        got = False
        for ring in shared.rings:
            for raw in ring.get_all():
                seq, alert = alerts_wire.decode(raw)
                held.append((seq, alert.num, arrival, alert))
                arrival += 1
                got = True
        if held:
            ready = [h for h in held if h[0] <= floor]
            if ready:
                held = [h for h in held if h[0] > floor]
                ready.sort(key=lambda h: h[:3])
                for _, _, _, alert in ready:
                    i = shared.rule_index.get(alert.rule)
                    if i is not None:               # not the sensor's own (drops)
                        shared.alerts_out.add(i)
                    emit(alert)
        quiet = not held and not got and all(r.pending() == 0 for r in shared.rings)
        if quiet and (stop or shared.closing.get(0) == 2):
            return
        if not got:
            wake.wait(0.05)
