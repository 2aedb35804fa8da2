"""Process slots: the Procs table rows point into (DESIGN.md point 2).

One slot per process image (a new one at each exec), plus, for threads whose
name (comm) differs from their process's, a variant slot with that name: rows
carry a slot, and proc.name must be the thread's own name as in Falco.

Strings live in the Procs arena, appended at P.n[1] (8-byte aligned, zero
padded).  A forked child's slot shares its parent's strings (same offsets):
nothing is copied until something differs.

Epoch reclamation.  A slot is retired in the epoch (batch) where its process
exited or its image was replaced; `release(epoch)` -- every consumer is done
with batches <= epoch -- frees the slots retired up to then, and they are
reused.  Links of live slots (parent, session, pgroup) that pointed to a freed
slot are cleared at that moment, so a consumer never follows a link into a
recycled slot.

Compaction.  The arena only grows; when more than half of it is garbage,
`release` rewrites the live strings into a new arena -- but only when the
release covers every closed epoch and no batch is being filled, i.e. when no
consumer can hold an offset into the old one (the caller says so).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sensor.events.batch import COMM_LEN, PROC_COLUMNS, allocate_procs, arena_append, zeros

STR_COLS = [name for name, dtype, _ in PROC_COLUMNS if dtype == "str"]
NUM_COLS = [name for name, dtype, _ in PROC_COLUMNS if dtype != "str" and name != "comm"]
LINKS = ("parent", "session", "pgroup")


@dataclass
class Image:
    """What a slot describes, as Python values (strings are bytes, None = absent)."""
    pid: int = -1
    vpid: int = -1
    ppid: int = -1
    parent: int = -1
    sid: int = 0
    session: int = -1
    vpgid: int = 0
    pgroup: int = -1
    comm: bytes = b""
    exe: bytes | None = None
    exepath: bytes | None = None
    args: list = field(default_factory=list)        # argv[1:], list[bytes]
    env: list | None = None                          # list[bytes] "K=V"
    cwd: bytes | None = None
    tty: int = 0
    loginuid: int = -1
    start_ts: int = 0
    exe_ino: int = 0
    exe_ino_ctime: int = 0
    exe_ino_mtime: int = 0
    flags: int = 0
    container: int = -1

    def cmdline(self) -> bytes:
        """Falco's proc.cmdline: the name, then each argument after a space."""
        return self.comm + b"".join(b" " + a for a in self.args)


class SlotTable:
    def __init__(self, capacity: int = 1 << 12, arena_bytes: int = 1 << 20):
        # Shared memory, so forked workers read the slots the sequencer writes.
        self.P = allocate_procs(capacity, arena_bytes, shared=True)
        self.P.arena[:8] = 0
        self.P.n[1] = 8                 # offset 0 stays unused (a zeroed sentinel)
        self.free: list[int] = []
        self.retired: list[tuple[int, int]] = []          # (epoch, slot)
        self.live = np.zeros(capacity, np.bool_)
        self.images: dict[int, Image] = {}      # slot -> its description (live and retired)
        self.in_use = 0
        self.reclaimed = 0
        self.compactions = 0
        self._compacted_at = 0

    # --- storage -------------------------------------------------------------------------

    def _grow_rows(self) -> None:
        old = self.P
        cap = 2 * old.pid.size
        new = allocate_procs(cap, 8, shared=True)
        cols = new._asdict()
        for name, arr in old._asdict().items():
            if name in ("arena", "n", "comm_bytes"):
                continue
            cols[name][:arr.shape[0]] = arr
        new.n[:] = old.n
        self.P = new._replace(arena=old.arena)
        self.live = np.concatenate([self.live, np.zeros(cap - self.live.size, np.bool_)])

    def _put(self, value: bytes | None) -> tuple[int, int]:
        self.P, off, ln = arena_append(self.P, value, shared=True)
        return off, ln

    def _alloc(self) -> int:
        if self.free:
            s = self.free.pop()
        else:
            s = int(self.P.n[0])
            if s >= self.P.pid.size:
                self._grow_rows()
            self.P.n[0] = s + 1
        self.live[s] = True
        self.in_use += 1
        return s

    # --- making slots -----------------------------------------------------------------------

    def new(self, img: Image) -> int:
        """A slot describing img."""
        s = self._alloc()
        self.images[s] = img
        P = self.P
        for name in ("pid", "vpid", "ppid", "parent", "sid", "session", "vpgid", "pgroup",
                     "tty", "loginuid", "start_ts", "exe_ino", "exe_ino_ctime",
                     "exe_ino_mtime", "flags", "container"):
            getattr(P, name)[s] = getattr(img, name)
        self.set_comm(s, img.comm, cmdline=img.cmdline())
        env = None if img.env is None else b"\0".join(img.env)
        for name, value in (("exe", img.exe), ("exepath", img.exepath),
                            ("args", b" ".join(img.args)), ("env", env), ("cwd", img.cwd)):
            off, ln = self._put(value)
            getattr(self.P, name + "_off")[s] = off
            getattr(self.P, name + "_len")[s] = ln
        return s

    def copy(self, src: int, **changes) -> int:
        """A slot like src (sharing its strings) with some numeric columns changed."""
        s = self._alloc()
        self.images[s] = replace(self.images[src], **changes)
        P = self.P
        for name in NUM_COLS + [c + "_off" for c in STR_COLS] + [c + "_len" for c in STR_COLS]:
            col = getattr(P, name)
            col[s] = col[src]
        P.comm[s] = P.comm[src]
        for name, value in changes.items():
            getattr(P, name)[s] = value
        return s

    def set_comm(self, s: int, comm: bytes, cmdline: bytes | None = None) -> None:
        comm = comm[:COMM_LEN]
        if s in self.images:
            self.images[s].comm = comm
        self.P.comm[s] = np.frombuffer(comm.ljust(COMM_LEN, b"\0"), np.uint64)
        self.P.comm_len[s] = len(comm)
        if cmdline is not None:
            off, ln = self._put(cmdline)
            self.P.cmdline_off[s] = off
            self.P.cmdline_len[s] = ln

    def set_string(self, s: int, name: str, value: bytes | None) -> None:
        off, ln = self._put(value)
        getattr(self.P, name + "_off")[s] = off
        getattr(self.P, name + "_len")[s] = ln

    # --- reading back (Python) ----------------------------------------------------------------

    def comm(self, s: int) -> bytes:
        return bytes(self.P.comm_bytes[s * COMM_LEN:s * COMM_LEN + int(self.P.comm_len[s])])

    def string(self, s: int, name: str) -> bytes | None:
        ln = int(getattr(self.P, name + "_len")[s])
        if ln < 0:
            return None
        off = int(getattr(self.P, name + "_off")[s])
        return bytes(self.P.arena[off:off + ln])

    def image(self, s: int) -> Image:
        return self.images[s]

    # --- epochs ---------------------------------------------------------------------------------

    def retire(self, s: int, epoch: int) -> None:
        if s >= 0 and self.live[s]:
            self.live[s] = False
            self.retired.append((epoch, s))

    def release(self, epoch: int, may_compact: bool) -> int:
        """Free the slots retired in epochs <= epoch; returns how many."""
        keep, freed = [], []
        for e, s in self.retired:
            if e <= epoch:
                freed.append(s)
            else:
                keep.append((e, s))
        self.retired = keep
        if freed:
            n = int(self.P.n[0])
            dead = np.zeros(n, np.bool_)
            dead[freed] = True
            for link in LINKS:
                col = getattr(self.P, link)[:n]
                hit = (col >= 0) & dead[np.clip(col, 0, n - 1)] & self.live[:n]
                col[hit] = -1
            self.free.extend(freed)
            for s in freed:
                self.images.pop(s, None)
            self.in_use -= len(freed)
            self.reclaimed += len(freed)
        if may_compact:
            self.maybe_compact()
        return len(freed)

    def maybe_compact(self) -> bool:
        """Rewrite live strings into a fresh arena when over half is garbage."""
        used = int(self.P.n[1])
        if used < max(1 << 16, 2 * self._compacted_at):
            return False
        live = self._live_spans()
        live_bytes = sum(ln + (-ln % 8) for _, ln in live)
        if live_bytes * 2 > used:
            self._compacted_at = used // 2
            return False
        self._compact(live)
        return True

    def _live_spans(self) -> set:
        n = int(self.P.n[0])
        alive = np.nonzero(self.live[:n] | self._retired_mask(n))[0]
        spans = set()
        for name in STR_COLS:
            offs = getattr(self.P, name + "_off")[alive]
            lens = getattr(self.P, name + "_len")[alive]
            spans.update(zip(offs[lens >= 0].tolist(), lens[lens >= 0].tolist()))
        return spans

    def _retired_mask(self, n: int) -> np.ndarray:
        m = np.zeros(n, np.bool_)
        for _, s in self.retired:
            m[s] = True
        return m

    def _compact(self, spans: set) -> None:
        old = self.P.arena
        new = zeros(old.size, np.uint8, shared=True)
        moved = {}
        pos = 8
        for off, ln in sorted(spans):
            moved[(off, ln)] = pos
            new[pos:pos + ln] = old[off:off + ln]
            pos += ln + (-ln % 8)
        n = int(self.P.n[0])
        for name in STR_COLS:
            offs = getattr(self.P, name + "_off")
            lens = getattr(self.P, name + "_len")
            for s in range(n):
                if lens[s] >= 0:
                    offs[s] = moved.get((int(offs[s]), int(lens[s])), 0)
        self.P = self.P._replace(arena=new)
        self.P.n[1] = pos
        self._compacted_at = pos
        self.compactions += 1
