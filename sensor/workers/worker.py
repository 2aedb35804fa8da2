"""A worker: evaluates its rows of each batch the capture process posts.

Stateless: a batch in (a pool slot, read in place), alerts out (its alert
ring), its progress published as the last batch sequence it finished.  The
rules' kernels were compiled by the parent before the fork, so a (re)started
worker is ready at once.
"""
from __future__ import annotations

import time

from ..outputs.alert import AlertRenderer
from . import alerts_wire


def worker_main(w: int, shared, engine, state) -> None:
    pool, ring = shared.pool, shared.rings[w]
    renderer = AlertRenderer()
    go = shared.go[w]
    done = shared.done
    last = shared.progress.get(w)
    while True:
        posted = shared.posted.get(0)
        if last >= posted:
            if shared.closing.get(0):
                return
            go.wait(0.2)
            continue
        s = last + 1
        slot = s % len(pool)
        B = pool.batches[slot]
        shard = pool.shards[slot]
        n = int(B.n[0])
        if n and (shard[:n] == w).any():
            t0 = time.monotonic_ns()
            P, C = state.P, state.C
            matches = engine.evaluate(B, P, C, shard=(shard, w))
            for alert in renderer.alerts(matches, B, P, C):
                shared.put_alert(ring, alerts_wire.encode(alert, s))
            shared.busy_ns.add(w, time.monotonic_ns() - t0)
        shared.progress.set(w, s)
        last = s
        done.signal()
