"""The BPF ring buffer drain (sensor/ring/bpf_ring.py) against a real kernel ring.

The producer is tests/bpf/ring_producer.bpf.c, compiled here with clang: one record per
getppid() of this process (u32 seq | u32 len | byte i = (seq + i) & 0xff), sizes 8..135.
Needs root, clang and a kernel with BTF; skipped otherwise.
"""
from __future__ import annotations

import struct
import threading
import time

import numpy as np
import pytest

from bpf_producer import (drain_all, drops, expected_record, needs_producer, open_producer,
                          ref_drain, split_records, trigger)

pytestmark = needs_producer


def test_records_complete_in_order_and_sizes_vary(bpf_objects):
    from sensor.ring.bpf_ring import BpfRing
    n = 3000
    with open_producer(bpf_objects["producer"], 1 << 20) as obj:
        ring = BpfRing(obj.map_fd("events"), 1 << 20)
        trigger(n)
        assert ring.pending() > 0
        reference = ref_drain(ring)                 # peek: nothing consumed
        out = np.zeros(1 << 20, np.uint8)
        end = ring.drain(out, 0)
        assert out[:end].tobytes() == reference    # byte for byte
        assert ring.pending() == 0
        assert ring.drain(out, 0) == 0
        recs = split_records(out[:end].tobytes())
        assert drops(obj) == 0
        ring.close()
    assert len(recs) == n
    first = struct.unpack_from("<I", recs[0])[0]
    for k, rec in enumerate(recs):
        assert rec == expected_record(first + k)
    sizes = {len(r) for r in recs}
    assert min(sizes) == 8 and max(sizes) == 135
    assert any(s % 8 for s in sizes) and any(s % 8 == 0 for s in sizes)


def test_drain_wraps_around_the_ring(bpf_objects):
    """Many times the ring's size in a few rounds: records that straddle the end of the data
    area come out whole (the data is mapped twice)."""
    from sensor.ring.bpf_ring import BpfRing
    size = 16384
    got = []
    with open_producer(bpf_objects["producer"], size) as obj:
        ring = BpfRing(obj.map_fd("events"), size)
        for _ in range(40):
            trigger(100)                            # ~7.5 kB of records per round
            got += split_records(drain_all(ring))
        assert drops(obj) == 0
        ring.close()
    assert len(got) == 4000
    first = struct.unpack_from("<I", got[0])[0]
    assert all(r == expected_record(first + k) for k, r in enumerate(got))


def test_full_ring_counts_every_drop(bpf_objects):
    from sensor.ring.bpf_ring import BpfRing
    n = 2000
    with open_producer(bpf_objects["producer"], 4096) as obj:
        ring = BpfRing(obj.map_fd("events"), 4096)
        trigger(n)                                  # no draining: the ring fills up
        recs = split_records(drain_all(ring))
        dropped = drops(obj)
        ring.close()
    assert 0 < len(recs) < n
    assert dropped == n - len(recs)                 # nothing lost silently
    # in order and whole; once the ring is full, a later, smaller record may still fit
    seqs = [struct.unpack_from("<I", r)[0] for r in recs]
    assert seqs == sorted(set(seqs))
    assert all(r == expected_record(s) for s, r in zip(seqs, recs))


def test_partial_drain_continues(bpf_objects):
    from sensor.ring.bpf_ring import BpfRing
    with open_producer(bpf_objects["producer"], 1 << 20) as obj:
        ring = BpfRing(obj.map_fd("events"), 1 << 20)
        trigger(500)
        reference = ref_drain(ring)
        out = np.full(1000, 0xAA, np.uint8)
        chunks, calls = [], 0
        while True:
            end = ring.drain(out, 10)               # out[:10] is left alone
            assert (out[:10] == 0xAA).all()
            if end == 10:
                break
            assert end <= 1000
            chunk = out[10:end].tobytes()
            split_records(chunk)                    # whole records only
            chunks.append(chunk)
            calls += 1
        assert ring.pending() == 0
        ring.close()
    assert calls > 10
    assert b"".join(chunks) == reference


def test_record_larger_than_out_is_an_error(bpf_objects):
    from sensor.ring.bpf_ring import BpfRing
    with open_producer(bpf_objects["producer"], 1 << 16) as obj:
        ring = BpfRing(obj.map_fd("events"), 1 << 16)
        trigger(50)
        out = np.zeros(16, np.uint8)
        # every record here is 8..135 bytes: drain until one does not fit in 16
        with pytest.raises(ValueError, match="does not fit"):
            for _ in range(60):
                ring.drain(out, 0)
        ring.close()


def test_wait(bpf_objects):
    from sensor.ring.bpf_ring import BpfRing
    with open_producer(bpf_objects["producer"], 1 << 16) as obj:   # NO_WAKEUP only
        ring = BpfRing(obj.map_fd("events"), 1 << 16)
        t0 = time.monotonic()
        assert ring.wait(0.05) is False
        assert time.monotonic() - t0 >= 0.04
        trigger(1)
        assert ring.wait(0) is True                 # data is there, no wake-up needed
        drain_all(ring)
        assert ring.wait(0.01) is False
        ring.close()

    # wake_bytes = 0: the second record finds data waiting and forces a wake-up
    with open_producer(bpf_objects["producer"], 1 << 16, wake_bytes=0) as obj:
        ring = BpfRing(obj.map_fd("events"), 1 << 16)
        timer = threading.Timer(0.2, trigger, args=(3,))
        t0 = time.monotonic()
        timer.start()
        try:
            assert ring.wait(10) is True
        finally:
            timer.join()
        assert 0.15 < time.monotonic() - t0 < 5
        ring.close()


def test_ring_close_is_idempotent(bpf_objects):
    from sensor.ring.bpf_ring import BpfRing
    with open_producer(bpf_objects["producer"], 1 << 16) as obj:
        ring = BpfRing(obj.map_fd("events"), 1 << 16)
        trigger(5)
        drain_all(ring)
        ring.close()
        ring.close()
        with pytest.raises(ValueError):
            ring.drain(np.zeros(64, np.uint8), 0)


def test_ring_size_checked():
    from sensor.ring.bpf_ring import BpfRing
    with pytest.raises(ValueError, match="power of two"):
        BpfRing(-1, 5000)
