"""The pipeline's parts without the kernel: the router, the batch pool, and a
Pipeline of real forked workers and output process on built batches,
compared with evaluation in one process."""
from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

import standin
from sensor.engine import Engine
from sensor.events.batch import allocate_batch
from sensor.workers.inprocess import InProcess
from sensor.workers.pipeline import Pipeline
from sensor.workers.pool import BatchPool
from sensor.workers.router import Router
from test_shards import RULES, batch


class Tables:
    """The state engine as the pipeline sees it: the tables and release()."""

    def __init__(self, P, C):
        self.P, self.C = P, C
        self.released = []

    def release(self, epoch):
        self.released.append(epoch)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    standin.use_test_cache(tmp_path_factory)
    eng = Engine(rule_matching="first")
    eng.load_rules(RULES, "workers.yaml")
    return eng


def test_router_gives_every_row_one_worker_and_splits_a_hot_type():
    B = allocate_batch(1000, 16)
    B.n[0] = 1000
    B.type[:1000] = np.r_[np.full(700, 3), np.full(200, 9), np.full(100, 11)]
    r = Router(4)
    out = np.full(1000, -1, np.int8)
    for _ in range(3):
        r.route(B, out)
    assert set(np.unique(out)) <= {0, 1, 2, 3} and (out >= 0).all()
    hot = np.unique(out[:700])
    assert hot.size >= 2                           # the hot type spans several workers
    assert np.all(np.diff(out[:700]) >= 0)         # in contiguous runs
    assert np.unique(out[700:900]).size == 1       # a light type stays on one worker
    loads = np.bincount(out, minlength=4)
    assert loads.max() <= 400                      # roughly balanced
    assert any("brk" in ws or ws for ws in r.describe())


def test_pool_copies_the_used_rows_and_arena(tmp_path):
    B, P, C = batch(300)
    pool = BatchPool(2, 512)
    shard = np.arange(300, dtype=np.int8) % 3
    pool.copy_in(1, B, shard)
    D = pool.batches[1]
    n = int(B.n[0])
    assert int(D.n[0]) == n and int(D.n[1]) == int(B.n[1])
    for name in B._fields:
        a, b = getattr(B, name), getattr(D, name)
        if name == "n":
            continue
        if name == "arena":
            assert bytes(a[:int(B.n[1])]) == bytes(b[:int(B.n[1])])
        elif a.ndim == 1:
            assert np.array_equal(a[:n], b[:n]), name
        else:
            assert np.array_equal(a[:, :n], b[:, :n]), name
    assert np.array_equal(pool.shards[1][:n], shard)


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


def _emitter(path):
    def emit(alert):
        with open(path, "a") as f:
            f.write(f"{alert.num} {alert.rule} {alert.output}\n")
    return emit


def _post_to_both(engine, pipe_emit, expect, batches: int, workers: int, **pipeline):
    """The same batches (distinct event numbers) through a Pipeline and through one
    process writing to `expect`; returns the closed Pipeline and its tables."""
    _, P, C = batch(400, seed=0)
    tables = Tables(P, C)
    pipe = Pipeline(engine, tables, workers, pipe_emit, slots=2, capacity=512, **pipeline)
    one = InProcess(engine, Tables(P, C), _emitter(expect))
    pipe.start()
    try:
        for e in range(batches):
            B = batch(400, seed=0)[0]
            B.num[:400] = np.arange(1, 401) + 400 * e
            one.submit(B, e)
            assert pipe.post(B, e)
    finally:
        pipe.close()
    return pipe, tables


def test_pipeline_alerts_equal_one_process_and_in_order(engine, tmp_path):
    many, expect = tmp_path / "many.txt", tmp_path / "expect.txt"
    pipe, tables = _post_to_both(engine, _emitter(many), expect, batches=5, workers=3)
    assert _lines(many) == _lines(expect)
    assert len(_lines(many)) > 100
    assert tables.released == list(range(5))
    assert sum(pipe.alerts_by_rule().values()) == len(_lines(many))
    assert pipe.stats.posted == 5 and pipe.stats.lost_batches == 0


def test_a_killed_worker_is_replaced_and_its_batch_counted_lost(engine, tmp_path):
    B, P, C = batch(400)
    out = tmp_path / "out.txt"
    pipe = Pipeline(engine, Tables(P, C), 2, _emitter(out), slots=2, capacity=512)
    pipe.start()
    try:
        workers = [p for p, (k, _) in pipe.child_pids().items() if k == "worker"]
        os.kill(workers[0], signal.SIGSTOP)          # it holds the next batch
        pipe.post(B, 0)
        time.sleep(0.2)
        os.kill(workers[0], signal.SIGKILL)
        for e in range(1, 4):
            pipe.post(B, e)
    finally:
        pipe.close()
    assert pipe.stats.worker_restarts == 1
    assert pipe.stats.lost_batches == 1
    assert len(_lines(out)) > 0


def test_live_posting_drops_whole_batches_when_workers_stall(engine, tmp_path):
    B, P, C = batch(400)
    pipe = Pipeline(engine, Tables(P, C), 2, _emitter(tmp_path / "o.txt"), slots=2,
                    capacity=512)
    pipe.start()
    stalled = [p for p, (k, _) in pipe.child_pids().items() if k == "worker"]
    try:
        for p in stalled:
            os.kill(p, signal.SIGSTOP)
        results = [pipe.post(B, e, block=False) for e in range(6)]
        assert results[:2] == [True, True] and not any(results[2:])
        assert pipe.stats.dropped_batches == 4
        assert pipe.stats.dropped_events == 4 * int(B.n[0])
    finally:
        for p in stalled:
            os.kill(p, signal.SIGCONT)
        pipe.close()


def test_an_oversized_batch_is_evaluated_in_the_capture_process_in_order(engine, tmp_path):
    many, expect = tmp_path / "many.txt", tmp_path / "expect.txt"
    _, P, C = batch(400, seed=0)
    pipe = Pipeline(engine, Tables(P, C), 2, _emitter(many), slots=2, capacity=256)
    one = InProcess(engine, Tables(P, C), _emitter(expect))
    pipe.start()
    try:
        for e, rows in enumerate((200, 400, 200)):     # the 400-row batch does not fit a slot
            B = batch(rows, seed=e)[0]
            B.num[:rows] = np.arange(1, rows + 1) + 1000 * e
            one.submit(B, e)
            assert pipe.post(B, e)
    finally:
        pipe.close()
    assert pipe.stats.oversized_batches == 1
    assert _lines(many) == _lines(expect) and _lines(many)


def test_workers_are_forked_again_when_the_state_tables_grow(engine, tmp_path):
    many, expect = tmp_path / "many.txt", tmp_path / "expect.txt"
    B, P, C = batch(400, seed=0)
    tables = Tables(P, C)
    pipe = Pipeline(engine, tables, 2, _emitter(many), slots=2, capacity=512)
    one = InProcess(engine, Tables(P, C), _emitter(expect))
    pipe.start()
    try:
        before = {p for p, (k, _) in pipe.child_pids().items() if k == "worker"}
        one.submit(B, 0)
        pipe.post(B, 0)
        # the state engine grew its tables: new arrays the forked workers cannot see
        tables.P = P._replace(**{f: getattr(P, f).copy() for f in P._fields})
        one.submit(B, 1)
        pipe.post(B, 1)
        after = {p for p, (k, _) in pipe.child_pids().items() if k == "worker"}
    finally:
        pipe.close()
    assert pipe.stats.reforks == 1 and not before & after
    assert _lines(many) == _lines(expect) and _lines(many)


def _slow_emitter(path):
    """An output that falls behind: 1 ms per alert."""
    write = _emitter(path)

    def emit(alert):
        time.sleep(0.001)
        write(alert)
    return emit


@pytest.mark.parametrize("wait", [True, False])
def test_alerts_wait_for_a_slow_output_in_replay_and_are_counted_live(engine, tmp_path, wait):
    """Alert rings of 4 KiB and an output at 1 ms per alert: replay's workers wait
    (every alert arrives, in order); live's drop and count what does not fit."""
    many, expect = tmp_path / "many.txt", tmp_path / "expect.txt"
    pipe, _ = _post_to_both(engine, _slow_emitter(many), expect, batches=3, workers=2,
                            alerts_wait=wait, alert_ring_bytes=4096)
    expected = _lines(expect)
    assert len(expected) > 100
    if wait:
        assert _lines(many) == expected and pipe.stats.alerts_dropped == 0
    else:
        assert pipe.stats.alerts_dropped > 0
        assert len(_lines(many)) + pipe.stats.alerts_dropped == len(expected)


def test_workers_default_to_the_cpus_this_process_may_use():
    from sensor.cli import _parser
    from sensor.cli_capture import _workers
    from sensor.workers.procs import default_workers
    assert default_workers() == len(os.sched_getaffinity(0))
    assert _parser().parse_args(["replay", "t.scap"]).workers is None
    assert _workers(None) == default_workers() and _workers(3) == 3 and _workers(0) == 1


def test_the_capture_title_lasts_while_the_pipeline_runs(engine, tmp_path):
    """The process that runs a pipeline is `sensor: capture` only meanwhile: an
    in-process caller (a test runner, an embedding program) gets its name back."""
    import setproctitle
    before = setproctitle.getproctitle()
    _, P, C = batch(400, seed=0)
    pipe = Pipeline(engine, Tables(P, C), 2, _emitter(tmp_path / "o.txt"), slots=2,
                    capacity=512)
    pipe.start()
    try:
        assert setproctitle.getproctitle() == "sensor: capture"
    finally:
        pipe.close()
    assert setproctitle.getproctitle() == before
