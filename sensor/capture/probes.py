"""The kernel side of live capture, from Python: which probes to attach for
the rules at hand, their settings, loading and attaching them, keeping the
sensor's own processes out, and the kernel's drop counters.

    probes = Probes.open(syscalls_for(engine.event_types()))
    probes.attach()          # capture starts here
    probes.ring_fd, probes.ring_size, probes.drops()
    probes.close()           # detached, maps freed

Only the syscalls the rules can match plus those the state engine needs are
attached: every attached syscall tracepoint costs each call of that syscall
machine-wide (and, on this kernel, enabling any of them costs every syscall
a little: see docs/LIVE.md).
"""
from __future__ import annotations

import os
import struct
import time
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from ..events import evttypes as ET
from . import bpf_abi as A
from .bpf_loader import BpfError, BpfObject, require_live_capture

DEFAULT_OBJECT = Path(__file__).resolve().parents[2] / "bpf" / "build" / "sensor.bpf.o"
DEFAULT_RING_BYTES = 16 << 20
DEFAULT_WAKEUP_BYTES = 256 << 10

# What the state engine needs whatever the rules: processes and their images,
# cwd, credentials, sessions, and the fd table (names of files and sockets).
STATE_SYSCALLS = ("clone", "clone3", "fork", "vfork", "execve", "execveat", "chdir", "fchdir",
                  "setuid", "setgid", "setresuid", "setresgid", "setsid", "prctl",
                  "open", "openat", "openat2", "creat", "close", "dup", "dup2", "dup3",
                  "socket", "connect", "accept", "accept4", "bind", "listen", "memfd_create")


def object_path() -> Path:
    return Path(os.environ.get("SENSOR_BPF_OBJECT", DEFAULT_OBJECT))


def syscalls_for(event_types: Optional[Iterable[int]], state: bool = True) -> list[str]:
    """The probed syscalls needed for rules matching these event type ids
    (None: any type) plus, with `state`, those the state engine needs."""
    if event_types is None:
        wanted = set(A.SYSCALLS)
    else:
        names = {ET.type_name(t) for t in event_types}
        wanted = {s for s in A.SYSCALLS if s in names}
    if state:
        wanted.update(STATE_SYSCALLS)
    if "execveat" in wanted:
        wanted.add("execve")    # a successful execveat leaves through execve's exit
    return [s for s in A.SYSCALLS if s in wanted]


def programs_for(obj_programs: Iterable[str], syscalls: Iterable[str]) -> list[str]:
    """Program names for those syscalls: each one's exit, its entry when it has
    one, and the process-exit tracepoint."""
    have = set(obj_programs)
    out = []
    syscalls = list(syscalls)
    for s in syscalls:
        if f"sys_exit_{s}" not in have:
            raise BpfError(f"the probes have no program for {s} (rebuild with `make setup`)")
        out.append(f"sys_exit_{s}")
        if f"sys_enter_{s}" in have:
            out.append(f"sys_enter_{s}")
    out.append("sched_process_exit")
    return out


def boot_to_epoch_ns() -> int:
    """What to add to CLOCK_BOOTTIME (bpf_ktime_get_boot_ns) for ns since the epoch."""
    return time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


class Probes:
    """The loaded and (after attach()) attached probes."""

    def __init__(self, obj: BpfObject, syscalls: list[str], programs: list[str],
                 ring_size: int, wakeup_bytes: int):
        self.obj = obj
        self.syscalls = syscalls
        self.programs = programs
        self.ring_size = ring_size
        self.wakeup_bytes = wakeup_bytes
        self.ring_fd = obj.map_fd("events")

    @classmethod
    def open(cls, syscalls: Iterable[str], *, ring_bytes: int = DEFAULT_RING_BYTES,
             wakeup_bytes: int = DEFAULT_WAKEUP_BYTES, path: Optional[Path] = None,
             exclude_self: bool = True) -> "Probes":
        """Load the probes for `syscalls` (not yet attached).  Raises BpfError
        with what to do when live capture is impossible here."""
        require_live_capture()
        if ring_bytes < 4096 or ring_bytes & (ring_bytes - 1):
            raise BpfError(f"ring size {ring_bytes} must be a power of two of at least 4096")
        syscalls = list(syscalls)
        obj = BpfObject(path or object_path())
        try:
            programs = programs_for(obj.program_names(), syscalls)
            keep = set(programs)
            for name in obj.program_names():
                obj.set_autoload(name, name in keep)
            obj.set_map_size("events", ring_bytes)
            obj.set_map_size("scratch_map", BpfObject.num_possible_cpus())
            wakeup_bytes = min(wakeup_bytes, ring_bytes // 4)
            obj.set_rodata(A.SETTINGS.pack(boot_to_epoch_ns(), wakeup_bytes))
            obj.load()
            probes = cls(obj, syscalls, programs, ring_bytes, wakeup_bytes)
            if exclude_self:
                probes.exclude(os.getpid())
            return probes
        except BaseException:
            obj.close()
            raise

    def attach(self) -> None:
        """Attach every loaded program; on a failure, detach what was attached."""
        try:
            for name in self.programs:
                self.obj.attach(name)
        except BaseException:
            self.close()
            raise

    def exclude(self, tgid: int) -> None:
        """Stop capturing the syscalls of process tgid (the sensor's own)."""
        ways = self._excluded_set(tgid)
        if tgid in ways:
            return
        if 0 not in ways:
            raise BpfError(f"cannot exclude process {tgid}: {A.EXCLUDED_WAYS} excluded "
                           f"processes already share its slot ({ways})")
        ways[ways.index(0)] = tgid
        self._write_set(tgid, ways)

    def include(self, tgid: int) -> None:
        """Capture process tgid again."""
        ways = self._excluded_set(tgid)
        if tgid in ways:
            ways[ways.index(tgid)] = 0
            self._write_set(tgid, ways)

    def _excluded_set(self, tgid: int) -> list:
        raw = self.obj.map_lookup("excluded", self._set_key(tgid))
        return list(struct.unpack(f"<{A.EXCLUDED_WAYS}I", raw))

    def _write_set(self, tgid: int, ways: list) -> None:
        self.obj.map_update("excluded", self._set_key(tgid),
                            struct.pack(f"<{A.EXCLUDED_WAYS}I", *ways))

    @staticmethod
    def _set_key(tgid: int) -> bytes:
        return (tgid & (A.EXCLUDED_SETS - 1)).to_bytes(4, "little")

    def drops(self) -> np.ndarray:
        """Records the ring refused, summed over CPUs, indexed by event code
        (index A.CODE_BAD_BUILD: records a probe built wrong)."""
        return self.obj.array_percpu_u64("drops")

    def close(self) -> None:
        self.obj.close()
