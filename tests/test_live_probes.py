"""The probes as a whole (sensor/capture/probes.py): exclusion of processes in
the kernel, and the drops map (root, real kernel)."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from live_harness import decode_ring, live_ready
from sensor.capture import bpf_abi as A
from sensor.capture.bpf_loader import BpfError
from sensor.capture.probes import Probes
from sensor.ring.bpf_ring import BpfRing

pytestmark = pytest.mark.skipif(bool(live_ready()), reason=live_ready() or "ok")


def _my_opens(probes: Probes, ring: BpfRing, path: str) -> int:
    ring.drain(np.zeros(ring.pending() + 65536, np.uint8), 0)      # forget what came before
    for _ in range(5):
        os.close(os.open(path, os.O_RDONLY))
    me = threading.get_native_id()
    return sum(1 for e in decode_ring(ring) if e.name == "openat" and e.tid == me)


def test_excluded_process_is_not_captured_until_included(tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    probes = Probes.open(["openat"], ring_bytes=1 << 20, exclude_self=False)
    ring = BpfRing(probes.ring_fd, probes.ring_size)
    try:
        probes.attach()
        assert _my_opens(probes, ring, str(path)) == 5
        probes.exclude(os.getpid())
        assert _my_opens(probes, ring, str(path)) == 0
        probes.include(os.getpid())
        assert _my_opens(probes, ring, str(path)) == 5
    finally:
        ring.close()
        probes.close()


def test_exclusion_sets_fill_up_with_a_clear_error():
    probes = Probes.open(["close"], ring_bytes=1 << 16, exclude_self=False)
    try:
        base = 4_000_001 & ~(A.EXCLUDED_SETS - 1)      # tgids no process has, one slot
        for k in range(A.EXCLUDED_WAYS):
            probes.exclude(base + k * A.EXCLUDED_SETS)
        probes.exclude(base)                          # already there: fine
        with pytest.raises(BpfError, match="share its slot"):
            probes.exclude(base + A.EXCLUDED_WAYS * A.EXCLUDED_SETS)
        probes.include(base)
        probes.exclude(base + A.EXCLUDED_WAYS * A.EXCLUDED_SETS)
    finally:
        probes.close()


def test_drops_are_counted_by_event_code(tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    probes = Probes.open(["openat"], ring_bytes=4096, exclude_self=False)
    try:
        probes.attach()
        for _ in range(2000):                          # nobody drains: the ring fills
            os.close(os.open(path, os.O_RDONLY))
        drops = probes.drops()
        assert drops[A.event_code("openat")] > 1000
        assert drops[A.CODE_BAD_BUILD] == 0
    finally:
        probes.close()
