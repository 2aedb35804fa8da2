"""Capturing what a test does, for the probe tests (root, real kernel).

    events = capture(["openat"], lambda: open("/etc/hostname").close())
    mine = [e for e in events if e.tid == threading.get_native_id()]
    e.name, e.code, e.tid, e.res, e.args["name"], e.text("flags")

Only the programs of the named syscalls are loaded (plus the process-exit
tracepoint).  The test process is not
excluded: its own syscalls are the point.  Events are decoded by the same
.scap decoder as live capture, without the state engine: `.args` holds the
parameters as the probes wrote them (numbers, bytes; strings without NUL),
`.text(name)` as Falco's evt.arg prints them (uid/gid names are not resolved).
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import pytest

from sensor.capture.live import RecordCounts, decode_records
from sensor.capture.probes import Probes, object_path
from sensor.events import evttypes as ET
from sensor.events.evtargs import param_text
from sensor.ring.bpf_ring import BpfRing

ROOT = os.geteuid() == 0


def live_ready() -> str:
    """Why live capture cannot run here ("" when it can)."""
    if not ROOT:
        return "live capture needs root"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "the kernel has no BTF"
    if not object_path().is_file():
        return f"{object_path()} is not built (make setup)"
    return ""


needs_live = pytest.mark.skipif(bool(live_ready()), reason=live_ready() or "ok")


@dataclass
class Event:
    name: str
    code: int
    tid: int
    res: int
    ts: int
    args: dict = field(default_factory=dict)
    _texts: dict = field(default_factory=dict, repr=False)

    def text(self, param: str):
        return self._texts.get(param)


def capture(syscalls: Iterable[str], action: Callable[[], object], *,
            ring_bytes: int = 8 << 20) -> list[Event]:
    probes = Probes.open(list(syscalls), ring_bytes=ring_bytes, exclude_self=False)
    try:
        ring = BpfRing(probes.ring_fd, probes.ring_size)
        try:
            probes.attach()
            action()
            probes.obj.close()          # detach: nothing more arrives
            return decode_ring(ring)
        finally:
            ring.close()
    finally:
        probes.close()


def decode_ring(ring: BpfRing) -> list[Event]:
    staging = np.zeros(ring.pending() + 65536, np.uint8)
    end = ring.drain(staging, 0)
    return decode_blocks(staging, end)


def decode_blocks(buf: np.ndarray, end: int) -> list[Event]:
    counts = RecordCounts()
    events = [_event(B, i) for B in decode_records(buf, end, max(16, end // 32), counts,
                                                    np.zeros(2, np.int64))
              for i in range(int(B.n[0]))]
    assert counts.bad == 0, "a record the decoder could not read"
    return events


def _event(B, i: int) -> Event:
    t, d = int(B.type[i]), int(B.dir[i])
    ev = Event(ET.type_name(t), int(B.code[i]), int(B.tid[i]), int(B.res[i]), int(B.ts[i]))
    mask = int(B.arg_mask[i])
    for k, p in enumerate(ET.params(t, d)):
        if not (mask >> k) & 1:
            continue
        if p.storage == "bytes":
            off, ln = int(B.arg_off[k, i]), int(B.arg_len[k, i])
            ev.args[p.name] = bytes(B.arena[off:off + max(ln, 0)])
        else:
            ev.args[p.name] = int(B.arg_int[k, i])
        try:
            ev._texts[p.name] = param_text(B, i, p, k)
        except Exception:               # uid names need the state engine
            ev._texts[p.name] = None
    return ev


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
