"""The libbpf loader (sensor/capture/bpf_loader.py) against a real kernel: the errors a user
sees, maps, attach and detach.  Needs root, clang and BTF (see test_bpf_ring.py)."""
from __future__ import annotations

import logging
import os
import struct

import numpy as np
import pytest

from sensor.capture import bpf_loader
from sensor.capture.bpf_loader import BpfError, BpfObject, require_live_capture
from bpf_producer import drain_all, drops, needs_producer, open_producer, producer_rodata, trigger

pytestmark = needs_producer


def test_missing_object(tmp_path):
    with pytest.raises(BpfError, match=r"not found; build it with `make setup`"):
        BpfObject(tmp_path / "nope.bpf.o")


def test_not_an_elf_object(tmp_path):
    junk = tmp_path / "junk.bpf.o"
    junk.write_bytes(b"not an ELF file")
    with pytest.raises(BpfError, match="cannot open BPF object"):
        BpfObject(junk)


def test_names(bpf_objects):
    with BpfObject(bpf_objects["producer"]) as obj:
        assert obj.program_names() == ["on_getppid"]
        assert {"events", "drops"} <= set(obj.map_names())
        assert any(m.endswith(".rodata") for m in obj.map_names())
        with pytest.raises(BpfError, match="no BPF program 'nope'.*on_getppid"):
            obj.set_autoload("nope", False)


def test_rodata_size_mismatch(bpf_objects):
    with BpfObject(bpf_objects["producer"]) as obj:
        with pytest.raises(BpfError, match=r"settings are 15 bytes but the object's \.rodata "
                                           r"is 16 bytes"):
            obj.set_rodata(bytes(15))
        obj.set_rodata(producer_rodata())           # the right size is accepted


def test_ring_size_must_be_a_power_of_two(bpf_objects):
    with BpfObject(bpf_objects["producer"]) as obj:
        with pytest.raises(BpfError, match="power of two"):
            obj.set_map_size("events", 5000)
        with pytest.raises(BpfError, match="no BPF map 'nope'"):
            obj.set_map_size("nope", 4096)


def test_verifier_rejection_names_program_and_quotes_log(bpf_objects, capfd):
    obj = BpfObject(bpf_objects["bad"])
    with pytest.raises(BpfError) as ei:
        obj.load()
    obj.close()
    msg = str(ei.value)
    assert "'bad_deref'" in msg and "verifier" in msg
    assert "invalid mem access 'map_value_or_null'" in msg
    assert len(msg.splitlines()) <= bpf_loader.VERIFIER_TAIL_LINES + 1
    out, err = capfd.readouterr()
    assert "libbpf" not in err and "libbpf" not in out    # nothing printed raw


def test_libbpf_messages_go_to_logging(bpf_objects, caplog):
    caplog.set_level(logging.DEBUG, logger="sensor.capture.bpf_loader")
    with BpfObject(bpf_objects["producer"]):
        pass
    assert any("libbpf" in r.getMessage() and "on_getppid" in r.getMessage()
               for r in caplog.records)


def test_lifecycle_errors(bpf_objects):
    obj = BpfObject(bpf_objects["producer"])
    with pytest.raises(BpfError, match="load"):
        obj.map_fd("events")
    obj.set_rodata(producer_rodata())
    obj.set_autoload("on_getppid", False)
    obj.load()
    with pytest.raises(BpfError, match="was not loaded"):
        obj.attach("on_getppid")
    with pytest.raises(BpfError, match="already loaded"):
        obj.load()
    with pytest.raises(BpfError, match="already loaded"):
        obj.set_map_size("events", 8192)
    obj.close()
    obj.close()
    for call in (lambda: obj.map_fd("events"), obj.program_names, obj.load,
                 lambda: obj.attach("on_getppid")):
        with pytest.raises(BpfError, match="closed"):
            call()


def test_maps(bpf_objects):
    with open_producer(bpf_objects["producer"], 4096) as obj:
        ncpu = obj.num_possible_cpus()
        key = bytes(4)
        assert obj.map_lookup_percpu("drops", key) == [bytes(8)] * ncpu
        obj.map_update("drops", key, struct.pack("<Q", 7))        # one value: every CPU
        assert obj.map_lookup_percpu("drops", key) == [struct.pack("<Q", 7)] * ncpu
        per_cpu = b"".join(struct.pack("<Q", i) for i in range(ncpu))
        obj.map_update("drops", key, per_cpu)
        assert obj.map_lookup_percpu("drops", key) == [struct.pack("<Q", i) for i in range(ncpu)]
        assert drops(obj) == sum(range(ncpu))
        with pytest.raises(BpfError, match="key is 2 bytes"):
            obj.map_update("drops", bytes(2), bytes(8))
        with pytest.raises(BpfError, match="delete failed"):
            obj.map_delete("drops", key)                            # arrays cannot delete
        with pytest.raises(BpfError, match="not per-CPU"):
            obj.map_lookup_percpu(next(m for m in obj.map_names() if m.endswith(".bss")), key)
        bss = next(m for m in obj.map_names() if m.endswith(".bss"))
        obj.map_update(bss, key, struct.pack("<I", 1000))          # the producer's seq
        assert obj.map_lookup(bss, key) == struct.pack("<I", 1000)


def test_close_detaches(bpf_objects):
    from sensor.ring.bpf_ring import BpfRing
    obj = open_producer(bpf_objects["producer"], 1 << 16)
    ring = BpfRing(obj.map_fd("events"), 1 << 16)   # the mapping keeps the map alive
    trigger(10)
    assert len(drain_all(ring)) > 0
    assert obj.attached() == ["on_getppid"]
    obj.close()
    obj.close()
    trigger(10)
    assert ring.pending() == 0                      # the program is gone
    ring.close()


def test_detach(bpf_objects):
    from sensor.ring.bpf_ring import BpfRing
    with open_producer(bpf_objects["producer"], 1 << 16) as obj:
        ring = BpfRing(obj.map_fd("events"), 1 << 16)
        obj.detach("on_getppid")
        trigger(10)
        assert ring.pending() == 0
        obj.attach("on_getppid")
        trigger(10)
        assert ring.pending() > 0
        ring.close()


def test_require_live_capture_as_root_and_without_btf(monkeypatch):
    require_live_capture()
    monkeypatch.setattr(bpf_loader, "BTF_VMLINUX", "/nonexistent/vmlinux")
    with pytest.raises(BpfError, match="the kernel has no BTF"):
        require_live_capture()


def test_not_root_message():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                    # child: drop to nobody, then check
        try:
            os.close(r)
            os.setgid(65534)
            os.setuid(65534)
            try:
                require_live_capture()
                msg = "no error"
            except BpfError as e:
                msg = str(e)
            os.write(w, msg.encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        msg = f.read().decode()
    os.waitpid(pid, 0)
    assert "live capture needs root (CAP_BPF and CAP_PERFMON)" in msg


def test_no_rodata_change_after_load(bpf_objects):
    with open_producer(bpf_objects["producer"], 4096) as obj:
        with pytest.raises(BpfError, match="already loaded"):
            obj.set_rodata(producer_rodata())
        assert np.int64(obj.map_fd("events")) >= 0
