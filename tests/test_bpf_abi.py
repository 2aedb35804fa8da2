"""The probes' header and the Python mirror agree (sensor/capture/bpf_abi.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from sensor.capture import bpf_abi as A
from sensor.capture import scap_format as F
from sensor.capture.probes import STATE_SYSCALLS, object_path, programs_for, syscalls_for
from sensor.events import evttypes as ET

BPF = Path(__file__).resolve().parents[1] / "bpf"


def test_abi_header_numbers_match_python():
    d = A.parse_defines((BPF / "sensor_abi.h").read_text())
    assert d["SENSOR_BLOCK_TYPE"] == A.BLOCK_TYPE
    for name in ("BLOCK_LEN", "CPU", "TS", "TID", "EVENT_LEN", "CODE", "NPARAMS", "LENS"):
        assert d[f"SENSOR_OFF_{name}"] == getattr(A, f"OFF_{name}"), name
    for name in ("EVENT_START", "MAX_EVENT", "MAX_CODES", "MAX_STR", "MAX_ARGS", "STASH_STRS",
                 "EXCLUDED_SETS", "EXCLUDED_WAYS", "DEFAULT_CPUS"):
        assert d[f"SENSOR_{name}"] == getattr(A, name), name


def test_block_layout_is_the_scap_v2_event_block():
    # block type, length, cpu; then the V2 event header the decoder reads
    assert A.BLOCK_TYPE == 0x216
    assert A.OFF_CPU == 8 and A.EVENT_START == 10
    assert A.OFF_LENS - A.EVENT_START == 26        # ts tid len type nparams
    assert F.BLOCK_HEADER.size == 8


def test_event_codes_header_is_generated_from_the_table():
    assert (BPF / "event_codes.h").read_text() == A.header_text(), \
        "bpf/event_codes.h is stale: python -m sensor.capture.bpf_abi > bpf/event_codes.h"


def test_every_code_is_an_exit_of_the_syscall_named():
    for s in A.SYSCALLS:
        lay = ET.ppm_layout(A.event_code(s))
        assert lay.dir == ET.EXIT
        assert ET.type_name(lay.type_id) == s
    assert ET.type_name(ET.ppm_layout(A.event_code(A.PROCEXIT)).type_id) == "procexit"
    assert max(A.event_code(s) for s in A.SYSCALLS) < A.MAX_CODES - 1


def test_state_syscalls_are_always_attached():
    got = syscalls_for(set())
    assert set(STATE_SYSCALLS) <= set(got)
    assert "ptrace" not in got and "symlink" not in got
    assert "symlink" in syscalls_for({ET.type_id("symlink")})
    assert set(syscalls_for(None)) == set(A.SYSCALLS)
    only_execveat = syscalls_for({ET.type_id("execveat")}, state=False)
    assert only_execveat == ["execve", "execveat"]     # its successes leave through execve


@pytest.mark.skipif(not object_path().is_file(), reason="bpf/build/sensor.bpf.o is not built "
                    "(make bpf)")
def test_object_has_a_program_per_syscall_and_the_settings_fit():
    from sensor.capture.bpf_loader import BpfObject
    with BpfObject(object_path()) as obj:
        names = obj.program_names()
        progs = programs_for(names, A.SYSCALLS)
        assert "sched_process_exit" in progs
        assert {f"sys_exit_{s}" for s in A.SYSCALLS} <= set(names)
        obj.set_rodata(A.SETTINGS.pack(0, 0))      # raises unless the sizes agree
        assert {"events", "drops", "excluded", "scratch_map", "stash_map"} <= set(obj.map_names())
