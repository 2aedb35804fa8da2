"""sensor.ring.shm_ring (ByteRing, Counters) and sensor.ring.notify (EventFd) across real
forked processes.  Rates are printed (run with -s to see them), never asserted."""
from __future__ import annotations

import collections
import os
import random
import signal
import threading
import time
import traceback

import numpy as np
import pytest

from sensor.ring.notify import EventFd
from sensor.ring.shm_ring import HEADER_SIZE, ByteRing, Counters, record_size

_PATTERN = np.random.default_rng(5).integers(0, 256, 8192, dtype=np.uint8).tobytes()


def rec(seq: int) -> bytes:
    """The record number seq: 1..2000 bytes, starting with seq (little endian, truncated)."""
    size = 1 + (seq * 7919) % 2000
    start = (seq * 131) % 4096
    return (seq.to_bytes(8, "little") + _PATTERN[start:start + size])[:size]


@pytest.fixture
def fork():
    """fork(fn): run fn() in a forked child (exit 0, or 1 on an exception); returns the pid.
    Every child still running at the end of the test is killed; all are reaped."""
    pids = []

    def _fork(fn):
        pid = os.fork()
        if pid == 0:                                    # the child: never returns to pytest
            code = 1
            try:
                fn()
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        pids.append(pid)
        return pid

    yield _fork
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def reap(pid: int, timeout: float = 10.0) -> int:
    """Wait for pid's exit; its exit code (-signal if killed)."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"child {pid} did not exit in {timeout} s")
        time.sleep(0.002)


# ------------------------------------------------------------------------------------------------


def test_producer_child_100k_records_intact_in_order(fork):
    n = 100_000
    ring = ByteRing(256 * 1024, event=True)
    ctr = Counters(2)                    # [0] producer's refusals, [1] records put

    def producer():
        refused = 0
        for seq in range(n):
            r = rec(seq)
            while not ring.put(r):
                refused += 1
                ctr.set(0, refused)
                os.sched_yield()
            ctr.set(1, seq + 1)

    t0 = time.perf_counter()
    pid = fork(producer)
    got = 0
    nbytes = 0
    deadline = time.monotonic() + 15
    while got < n:
        assert time.monotonic() < deadline, f"only {got} records arrived"
        batch = ring.get_all()
        if not batch:
            ring.wait(0.05)
            continue
        for b in batch:
            assert b == rec(got), f"record {got} differs"
            got += 1
            nbytes += len(b)
    dt = time.perf_counter() - t0
    assert reap(pid) == 0
    assert ring.get_all() == [] and ring.pending() == 0
    assert ctr.get(1) == n
    assert ring.dropped == ctr.get(0)            # every refusal counted, none invented
    assert ring.oversized == 0
    print(f"\n  cross-process: {n} records (1..2000 B, {nbytes / 1e6:.1f} MB) in {dt:.2f} s: "
          f"{n / dt:,.0f} rec/s, {nbytes / dt / 1e6:.0f} MB/s; producer refusals (ring full) "
          f"{ctr.get(0)}")


def test_full_ring_refuses_and_counts():
    ring = ByteRing(1024)
    rec100 = bytes(range(100))
    ok = 0
    while ring.put(rec100):
        ok += 1
    assert ok == 1024 // record_size(100)
    refusals = 1
    for _ in range(9):
        assert not ring.put(rec100)
        refusals += 1
    assert ring.dropped == refusals and ring.oversized == 0
    assert ring.pending() == ok * record_size(100)
    assert ring.get_all(limit=3) == [rec100] * 3
    assert ring.put(rec100)                      # room again
    assert ring.get_all() == [rec100] * (ok - 2)
    assert ring.pending() == 0 and ring.dropped == refusals


def test_larger_than_capacity_refused():
    ring = ByteRing(1024)
    assert not ring.put(b"y" * 1021)             # 4 + 1021 > 1024
    assert not ring.put(b"y" * 100_000)
    assert ring.dropped == 2 and ring.oversized == 2
    assert ring.put(b"z" * 1020)                 # exactly the capacity, at offset 0
    assert ring.get_all() == [b"z" * 1020]
    assert ring.put(b"") and ring.get_all() == [b""]      # empty records are records


def test_wrap_matches_a_queue_model():
    """Random sizes, interleaved puts and partial gets: the ring behaves as a bounded queue."""
    rnd = random.Random(7)
    ring = ByteRing(4000)
    model = collections.deque()
    used = 0
    refused = 0
    for step in range(20_000):
        if rnd.random() < 0.6:
            r = rec(step)[: rnd.choice([0, 1, 5, 60, 300, 1500])]
            if ring.put(r):
                model.append(r)
            else:
                refused += 1
        else:
            got = ring.get_all(limit=rnd.choice([None, 1, 2, 5]))
            for g in got:
                assert g == model.popleft()
        used = ring.pending()
        assert 0 <= used <= ring.capacity
        assert (used == 0) == (not model)
    assert ring.get_all() == list(model)
    assert ring.dropped == refused > 0


def test_uncommitted_bytes_are_invisible():
    """What a producer killed mid-put leaves (length and bytes written, head not stored) is
    not seen, and the next put writes over it."""
    ring = ByteRing(4096)
    assert ring.put(b"first")
    assert ring.get_all() == [b"first"]
    off = ring.head % ring.capacity
    ring._len[off >> 2] = 500                               # a half-finished record
    ring._mm[HEADER_SIZE + off + 4:HEADER_SIZE + off + 204] = b"\xee" * 200
    assert ring.pending() == 0 and ring.get_all() == []
    assert ring.put(b"second")
    assert ring.get_all() == [b"second"]


def test_producer_killed_mid_burst_leaves_only_whole_records(fork):
    ring = ByteRing(64 * 1024, event=True)
    rnd = random.Random(3)
    total = 0
    for round_ in range(5):
        def producer():
            seq = 0
            while True:                                     # until SIGKILL
                if ring.put(rec(seq)):
                    seq += 1
                else:
                    os.sched_yield()

        pid = fork(producer)
        seq = 0
        stop = time.monotonic() + rnd.uniform(0.05, 0.25)
        while time.monotonic() < stop:
            got = ring.get_all()
            if not got:
                ring.wait(0.01)     # a spinning consumer can starve the producer on a busy host
            for b in got:
                assert b == rec(seq), f"round {round_}: record {seq} differs"
                seq += 1
        os.kill(pid, signal.SIGKILL)
        assert reap(pid) == -signal.SIGKILL
        for b in ring.get_all():                           # what it committed before dying
            assert b == rec(seq), f"round {round_}: record {seq} differs after the kill"
            seq += 1
        assert seq > 0
        total += seq
        assert ring.pending() == 0
        assert ring.reset() == 0                          # drained: positions already equal
        assert ring.head == ring.tail
    print(f"\n  5 producers killed mid-burst: {total} records read, all whole; "
          f"refusals {ring.dropped}")
    # A replacement producer after reset(): its records arrive from its first one.
    def replacement():
        for s in range(50):
            assert ring.put(rec(s))

    pid = fork(replacement)
    assert reap(pid) == 0
    assert ring.get_all() == [rec(s) for s in range(50)]


def test_reset_discards_and_counts_unconsumed():
    ring = ByteRing(2048)
    for s in range(4):
        assert ring.put(rec(s)[:100])
    dropped = ring.dropped
    assert ring.reset() == 4
    assert ring.dropped == dropped + 4 and ring.pending() == 0 and ring.get_all() == []
    assert ring.put(b"again") and ring.get_all() == [b"again"]


def test_eventfd_wakes_across_fork_and_times_out(fork):
    ev = EventFd()
    ctr = Counters(2)                                  # [0] count the child took, [1] wait ns

    def waiter():
        t = time.perf_counter_ns()
        ctr.set(0, ev.wait(5.0))
        ctr.set(1, time.perf_counter_ns() - t)

    pid = fork(waiter)
    time.sleep(0.1)
    ev.signal(3)
    assert reap(pid) == 0
    assert ctr.get(0) == 3
    assert 0.05e9 < ctr.get(1) < 5e9                   # it slept, then woke on the signal

    t = time.monotonic()
    assert ev.wait(0.05) == 0                          # idle: times out
    assert 0.04 < time.monotonic() - t < 1.0
    assert ev.wait(0) == 0
    ev.signal()
    ev.signal(2)
    assert ev.wait(0) == 3                             # counting, not a semaphore
    ev.close()
    ev.close()
    with pytest.raises(ValueError):
        ev.fileno()


def test_ring_event_wakes_consumer_across_fork(fork):
    ring = ByteRing(8192, event=True)
    rounds = 30
    ctr = Counters(2)                     # [0] round the parent is waiting in, [1] put stamp

    def producer():
        for i in range(rounds):
            while ctr.get(0) != i:
                time.sleep(0.0005)
            time.sleep(0.003)             # let the parent fall asleep in wait()
            ctr.set(1, time.perf_counter_ns())
            assert ring.put(b"wake %d" % i)

    pid = fork(producer)
    lat = []
    for i in range(rounds):
        ctr.set(0, i)
        assert ring.wait(5.0)
        woke = time.perf_counter_ns()
        assert ring.get_all() == [b"wake %d" % i]
        lat.append((woke - ctr.get(1)) / 1e3)
    assert reap(pid) == 0
    # idle: the wait times out and reports nothing pending
    t = time.monotonic()
    assert ring.wait(0.05) is False
    assert time.monotonic() - t >= 0.04
    lat.sort()
    print(f"\n  put -> consumer awake across processes: median {lat[len(lat) // 2]:.0f} us, "
          f"max {lat[-1]:.0f} us")


def test_counters_across_fork(fork):
    c = Counters(4)
    assert c.array.dtype == np.int64 and len(c) == 4

    def child():
        c.set(0, 41)
        c.add(0)
        c.add(1, -5)
        c.set(3, 2**62)
        deadline = time.monotonic() + 5
        while c.get(2) != 7:                           # parent -> child
            if time.monotonic() > deadline:
                raise AssertionError("child never saw the parent's store")
        c.set(2, 8)

    pid = fork(child)
    deadline = time.monotonic() + 5
    while c.get(3) != 2**62:
        assert time.monotonic() < deadline
    c.set(2, 7)
    assert reap(pid) == 0
    assert c.array.tolist() == [42, -5, 8, 2**62]
    assert c.get(0) == 42 and isinstance(c.get(0), int)


def test_rates_printed():
    """Single-process rates of 200-byte records (printed; the brief's goal is > 300k/s)."""
    n = 200_000
    rec200 = bytes(range(200))
    res = {}
    for name, ev in (("warm-up", None), ("no event", None), ("edge wake-up", True)):
        ring = ByteRing(1 << 20, event=ev)
        tput = tget = 0.0
        done = 0
        while done < n:
            t0 = time.perf_counter()
            k = 0
            while ring.put(rec200):
                k += 1
            t1 = time.perf_counter()
            got = ring.get_all()
            t2 = time.perf_counter()
            assert len(got) == k
            tput += t1 - t0
            tget += t2 - t1
            done += k
        res[name] = (done / tput, done / tget)
    ev = EventFd()
    ring = ByteRing(1 << 20)
    t0 = time.perf_counter()
    k = 0
    while ring.put(rec200):
        ev.signal()
        k += 1
    every = k / (time.perf_counter() - t0)
    ev.close()
    print()
    del res["warm-up"]
    for name, (p, g) in res.items():
        print(f"  200-byte records, {name}: put {p:,.0f}/s, get_all {g:,.0f}/s")
    print(f"  put + eventfd signal on every put: {every:,.0f}/s")


def test_put_wait_waits_for_room_and_loses_nothing():
    ring = ByteRing(1024)
    got = []
    stop = threading.Event()

    def consume():
        while not stop.is_set() or ring.pending():
            got.extend(ring.get_all())
            time.sleep(0.001)
    t = threading.Thread(target=consume)
    t.start()
    records = [i.to_bytes(4, "little") * 25 for i in range(2000)]     # 100 bytes each
    for r in records:
        assert ring.put_wait(r)
    stop.set()
    t.join()
    assert got == records and ring.dropped == 0
    assert not ring.put_wait(b"y" * 2000) and ring.oversized == 1     # never fits: refused
