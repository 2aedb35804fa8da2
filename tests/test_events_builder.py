"""The batch builder: arenas, parameter placement, and the errors it reports."""
from __future__ import annotations

import numpy as np
import pytest

from sensor.events import evttypes as ET
from sensor.events.batch import (HOST_LEN, HOST_OFF, Batch, Containers, Procs,
                                 allocate_containers, allocate_procs)
from sensor.events.builder import Builder, ip128, sample_batch


def _strings(table):
    """(name, off, len) of every string column of a table, as 1-D columns
    (the 2-D parameter columns arg_off/arg_len give one per parameter index)."""
    for name in table._fields:
        if name.endswith("_len") and name[:-4] + "_off" in table._fields:
            off, ln = getattr(table, name[:-4] + "_off"), getattr(table, name)
            if off.ndim == 1:
                yield name[:-4], off, ln
            else:
                yield from ((f"{name[:-4]}[{k}]", off[k], ln[k]) for k in range(off.shape[0]))


@pytest.mark.parametrize("which", [0, 1, 2])
def test_arena_strings_are_aligned_and_zero_padded(which):
    tables = sample_batch()
    t = tables[which]
    assert isinstance(t, (Batch, Procs, Containers)[which])
    n = int(t.n[0])
    checked = 0
    for name, off, ln in _strings(t):
        for r in range(n):
            if ln[r] < 0:
                continue
            o, m = int(off[r]), int(ln[r])
            assert o % 8 == 0, (name, r)
            end = o + m + (-m % 8)
            assert not t.arena[o + m:end].any(), (name, r)      # zero padding
            checked += 1
    assert checked > 3


def test_params_go_to_their_layout_index():
    b = Builder()
    p = b.add_proc(pid=7, comm="x")
    b.add_event("openat", slot=p, res=3, params={"name": "/etc/passwd", "flags": "O_RDONLY"})
    B, P, C = b.build()
    tid = ET.type_id("openat")
    k_fd, k_name, k_flags = (ET.param_index(tid, ET.EXIT, n) for n in ("fd", "name", "flags"))
    assert B.arg_int[k_fd, 0] == 3                     # the exit's return value, from res
    assert B.arg_int[k_flags, 0] == 1
    off, ln = B.arg_off[k_name, 0], B.arg_len[k_name, 0]
    assert bytes(B.arena[off:off + ln]) == b"/etc/passwd"
    assert int(B.arg_mask[0]) == (1 << k_fd) | (1 << k_name) | (1 << k_flags)
    assert B.tid[0] == 7 and B.type[0] == tid and B.dir[0] == ET.EXIT


def test_processes_and_containers():
    b = Builder()
    c = b.add_container(id="abc", image="repo/app:v2", mounts=[("/s", "/d")])
    a = b.add_proc(pid=1, comm="a" * 20, args=["x", "y"])
    p = b.add_proc(pid=2, comm="b", parent=a, container=c, env={"K": "V"})
    B, P, C = b.build()
    assert P.n[0] == 2 and C.n[0] == 1 and B.n[0] == 0
    assert P.comm_len[0] == 16 and bytes(P.comm[0].view(np.uint8)) == b"a" * 16
    assert P.ppid[p] == 1 and P.parent[p] == a and P.container[p] == c
    assert bytes(P.arena[P.cmdline_off[0]:P.cmdline_off[0] + P.cmdline_len[0]]) == \
        b"a" * 20 + b" x y"
    o, n = C.image_repository_off[0], C.image_repository_len[0]
    assert bytes(C.arena[o:o + n]) == b"repo/app"
    assert C.mount_sources_len[0] == 2 and C.privileged[0] == -1
    # the Containers arena starts with "host" (host processes' container.id)
    assert bytes(C.arena[HOST_OFF:HOST_OFF + HOST_LEN]) == b"host"
    empty = allocate_containers(4, 0)
    assert bytes(empty.arena[HOST_OFF:HOST_OFF + HOST_LEN]) == b"host"


def test_comm_bytes_alias_the_comm_words():
    P = allocate_procs(3, 8)
    P.comm[1] = np.frombuffer(b"bash".ljust(16, b"\0"), np.uint64)
    assert bytes(P.comm_bytes[16:20]) == b"bash"      # the same memory, not a copy


def test_ip_words():
    assert ip128("1.2.3.4") == (0, 0xFFFF_0102_0304)
    assert ip128("::1") == (0, 1)
    assert ip128(None) == (0, 0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(type="nosuch"), "unknown event type"),
    (dict(type="openat", params={"bogus": 1}), "no parameter"),
    (dict(type="openat", params={"dev": "x"}), "is a number"),
    (dict(type="openat", no_such_column=1), "no Batch column"),
])
def test_errors(kwargs, message):
    b = Builder()
    with pytest.raises(ValueError, match=message):
        b.add_event(**kwargs)
        b.build()
