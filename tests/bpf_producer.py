"""The test producer (tests/bpf/ring_producer.bpf.c) and what the ring and loader
tests share: building it, triggering records, draining and checking them."""
from __future__ import annotations

import os
import platform
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
PRODUCER_SRC = HERE / "bpf" / "ring_producer.bpf.c"
BAD_SRC = HERE / "bpf" / "bad_prog.bpf.c"
NO_WAKE = 1 << 62                     # wake_bytes that never forces a wake-up


def _skip_reason() -> str | None:
    if platform.machine() != "x86_64":
        return "the test producer is written for x86_64 (syscall number, pt_regs layout)"
    if os.geteuid() != 0:
        return "loading BPF programs needs root"
    if not shutil.which("clang"):
        return "clang is needed to build the test BPF programs"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
    return None


SKIP = _skip_reason()
needs_producer = pytest.mark.skipif(SKIP is not None, reason=SKIP or "")


def compile_bpf(src: Path, out_dir: Path) -> Path:
    out = out_dir / (src.name.split(".")[0] + ".bpf.o")
    multiarch = f"/usr/include/{platform.machine()}-linux-gnu"
    cmd = ["clang", "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86", "-I", multiarch,
           "-c", str(src), "-o", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        pytest.fail(f"clang failed on {src.name}:\n{res.stderr}")
    return out


def producer_rodata(tgid: int | None = None, size_mask: int = 127,
                    wake_bytes: int = NO_WAKE) -> bytes:
    """The producer's .rodata: u32 target_tgid, u32 size_mask, u64 wake_bytes."""
    return struct.pack("<IIQ", os.getpid() if tgid is None else tgid, size_mask, wake_bytes)


def open_producer(path: Path, ring_size: int, **rodata):
    from sensor.capture.bpf_loader import BpfObject
    obj = BpfObject(path)
    obj.set_map_size("events", ring_size)
    obj.set_rodata(producer_rodata(**rodata))
    obj.load()
    obj.attach("on_getppid")
    return obj


def trigger(n: int) -> None:
    for _ in range(n):
        os.getppid()


def drops(obj) -> int:
    return sum(int.from_bytes(v, "little") for v in obj.map_lookup_percpu("drops", bytes(4)))


def expected_record(seq: int, size_mask: int = 127) -> bytes:
    ln = 8 + ((seq * 7) & size_mask & 127)
    return struct.pack("<II", seq, ln) + bytes((seq + i) & 0xFF for i in range(8, ln))


def split_records(data: bytes) -> list[bytes]:
    recs, p = [], 0
    while p < len(data):
        ln = struct.unpack_from("<I", data, p + 4)[0]
        assert ln >= 8 and p + ln <= len(data), f"broken record at {p}"
        recs.append(data[p:p + ln])
        p += ln
    return recs


def ref_drain(ring, advance: bool = False) -> bytes:
    """Pure-Python reading of the ring: the payloads of the committed records between the
    consumer and the producer positions, back to back (consumes them only if `advance`)."""
    import mmap as _mmap
    page = _mmap.PAGESIZE
    cons_mm, ro_mm = ring._cons_mm, ring._ro_mm
    cons = struct.unpack_from("<Q", cons_mm, 0)[0]
    prod = struct.unpack_from("<Q", ro_mm, 0)[0]
    out = bytearray()
    while cons < prod:
        off = page + (cons & (ring.size - 1))
        hdr = struct.unpack_from("<I", ro_mm, off)[0]
        if hdr & (1 << 31):
            break
        ln = hdr & ((1 << 30) - 1)
        if not hdr & (1 << 30):
            out += ro_mm[off + 8:off + 8 + ln]
        cons += (ln + 8 + 7) & ~7
    if advance:
        struct.pack_into("<Q", cons_mm, 0, cons)
    return bytes(out)


def drain_all(ring, out_size: int = 1 << 20) -> bytes:
    out = np.zeros(out_size, np.uint8)
    chunks = []
    while True:
        end = ring.drain(out, 0)
        if end == 0:
            return b"".join(chunks)
        chunks.append(out[:end].tobytes())


# ---------------------------------------------------------------------------------------------
