"""The state engine: the sequencer stage between decoding and routing
(DESIGN.md points 1-3).  Independent of the source: live capture, .scap
replay and the synthetic generator all hand it raw batches.

    eng = StateEngine()
    eng.seed(snapshot)                 # processes, their fds, users, groups
    B = eng.process(B)                 # fills the state columns of every row
    epoch = eng.end_batch()            # the batch just processed is epoch `epoch`
    ...
    eng.release(epoch)                 # every consumer is done with batches <= epoch

Rows come with the raw columns a source fills (CONTRACTS.md, "Capture and
replay"); `process` fills, in row order, slot, vtid, uid, gid, user/group/
login names, capabilities, cwd, the fd columns, and the names of uid/gid
parameters ("<NA>" unknown, "<NONE>" for -1).  It returns the batch, with a
bigger arena if it needed one.  `P` (Procs) and `C` (Containers) are the
current tables; they may be replaced by bigger ones, so read the attributes
each time.

How the work is split (measured: perf/bench_state.py):
  * state_kernel.run, compiled by numba, does every row: thread lookup, fd
    table changes (open, socket, connect, accept, close, dup, pipe ...) and
    writing the columns;
  * it stops at rows Python must handle -- process events (clone, execve,
    procexit), cwd and credential changes, meta events, threads never seen --
    state_events.ProcessEvents applies them and the kernel resumes at that row;
  * uid/gid parameter names are resolved afterwards, for the few rows that
    have such parameters.

Epochs and slots: see slots.py.  A slot retired while filling batch e (its
process exited, or exec replaced its image) is freed by release(e') for any
e' >= e; the Procs arena is compacted only inside release, when it covers
every closed epoch (no consumer can then hold a batch referring to it) and
more than half of the arena is garbage.
"""
from __future__ import annotations

import numpy as np

from sensor.events import evttypes as ET

from . import state_kernel as K
from .containers import ContainerTable
from .model import Snapshot
from .slots import SlotTable
from .state_events import ProcessEvents
from .state_seed import seed as seed_state
from .state_tables import (C_APPLIED, C_FD_LOOKUPS, C_FD_MISSES, C_GEN, C_NFDS, C_NGROUPS,
                           C_NTHREADS, C_ROWS, C_S_N, C_SB_LIVE, C_SB_N, Tables)
from .users import UserDirectory


def _name_params():
    """For each (type, dir) slot: [(parameter index, is_gid)] of uid/gid parameters."""
    out = {}
    for t in ET.TYPES:
        for d in (ET.ENTER, ET.EXIT):
            ps = [(k, p.ptype == "gid") for k, p in enumerate(t.params(d))
                  if p.ptype in ("uid", "gid")]
            if ps:
                out[2 * t.id + d] = ps
    has = np.zeros(2 * len(ET.TYPES), np.bool_)
    has[list(out)] = True
    return out, has


NAME_PARAMS, HAS_NAME_PARAMS = _name_params()


class StateEngine:
    def __init__(self, proc_capacity: int = 1 << 16, thread_capacity: int = 1 << 12,
                 fd_capacity: int = 1 << 14, string_bytes: int = 1 << 20):
        self.tables = Tables(threads=thread_capacity, fds=fd_capacity,
                             string_bytes=string_bytes)
        self.slots = SlotTable(capacity=proc_capacity)
        self.containers = ContainerTable()
        self.users = UserDirectory()
        self.procs = ProcessEvents(self.tables, self.slots, self.users, self.containers)
        self.epoch = 0                     # the epoch (batch) being filled
        self.released = -1
        self._open = False                 # a batch was filled and its epoch not closed yet
        self.batches = 0
        self.slow_rows = 0
        self.arena_growths = 0

    # --- the tables rows point into ------------------------------------------------------

    @property
    def P(self):
        return self.slots.P

    @property
    def C(self):
        return self.containers.C

    # --- input ----------------------------------------------------------------------------

    def seed(self, snap: Snapshot) -> None:
        """Threads (grouped into processes by pid), their fds, users and groups.
        May be called again with late metadata: threads already known are kept."""
        self.procs.epoch = self.epoch
        seed_state(self.procs, snap)

    def process(self, B):
        """Fill the state columns of rows 0..B.n[0]-1, in order; returns B
        (with a bigger arena if it needed one)."""
        T, procs = self.tables, self.procs
        procs.epoch = self.epoch
        self._open = True
        T.ctl[C_GEN] += 1
        if B.n[1] % 8:
            B.n[1] += 8 - B.n[1] % 8
        row = 0
        while True:
            status, row = K.run(B, T.k, row)
            if status == K.DONE:
                break
            if status == K.NEED_ROOM:
                B = self._room(B)
            elif status == K.SLOW:
                self.slow_rows += 1
                procs.handle(B, row)
            else:                            # a thread never seen: make it up
                procs.flush_deferred()
                procs.unknown(int(B.tid[row]))
                T.ctl[C_APPLIED] = row
        procs.flush_deferred()
        B = self._name_params(B)
        self.batches += 1
        return B

    def _room(self, B):
        T = self.tables
        if B.arena.size - B.n[1] < K.ROW_BYTES:
            used = int(B.n[1])
            bigger = np.zeros(max(2 * B.arena.size, used + 2 * K.ROW_BYTES), np.uint8)
            bigger[:used] = B.arena[:used]
            B = B._replace(arena=bigger)
            self.arena_growths += 1
        T.ensure(strings=K.ROW_RECORDS, string_bytes=K.ROW_BYTES, fds=K.ROW_RECORDS)
        return B

    def _name_params(self, B):
        """uid/gid parameters: the name the row's container gives the id."""
        n = int(B.n[0])
        if n == 0:
            return B
        slots = B.type[:n].astype(np.int64) * 2 + B.dir[:n]
        rows = np.nonzero(HAS_NAME_PARAMS[slots])[0]
        if rows.size == 0:
            return B
        placed: dict = {}
        users = self.users
        for i in rows.tolist():
            mask = int(B.arg_mask[i])
            s = int(B.slot[i])
            cid = self._cid_of_slot(s) if s >= 0 else b""
            for k, is_gid in NAME_PARAMS[int(slots[i])]:
                if not (mask >> k) & 1:
                    continue
                text = users.param_text(int(B.arg_int[k, i]), is_gid, cid)
                at = placed.get(text)
                if at is None:
                    B = self._fit(B, len(text))
                    at = placed[text] = _append(B, text)
                B.arg_off[k, i] = at
                B.arg_len[k, i] = len(text)
        return B

    def _fit(self, B, n: int):
        if B.n[1] + n + 8 > B.arena.size:
            used = int(B.n[1])
            bigger = np.zeros(max(2 * B.arena.size, used + n + 8), np.uint8)
            bigger[:used] = B.arena[:used]
            B = B._replace(arena=bigger)
            self.arena_growths += 1
        return B

    def _cid_of_slot(self, s: int) -> bytes:
        row = int(self.P.container[s])
        return self.procs.cid_of_row(row) if row >= 0 else b""

    # --- epochs -----------------------------------------------------------------------------

    def end_batch(self) -> int:
        """Close the current epoch (the batch just processed); returns its number."""
        e = self.epoch
        self.epoch += 1
        self._open = False
        return e

    def release(self, epoch: int) -> None:
        """Every consumer finished the batches of epochs <= epoch: their exited
        processes' slots may be reused."""
        epoch = min(epoch, self.epoch - 1)
        if epoch <= self.released and not self.slots.retired:
            return
        self.released = max(self.released, epoch)
        # Compaction needs that no consumer holds any batch: the release covers
        # every closed epoch and no filled batch awaits its end_batch().
        self.slots.release(epoch, may_compact=epoch == self.epoch - 1 and not self._open)

    # --- counters ----------------------------------------------------------------------------

    @property
    def stats(self) -> dict:
        c = self.tables.ctl
        return {
            "rows": int(c[C_ROWS]),
            "batches": self.batches,
            "threads": int(c[C_NTHREADS]),
            "processes": int(c[C_NGROUPS]),
            "fds": int(c[C_NFDS]),
            "slots_in_use": self.slots.in_use,
            "slots_reclaimed": self.slots.reclaimed,
            "slots_retired_pending": len(self.slots.retired),
            "procs_arena_bytes": int(self.P.n[1]),
            "procs_compactions": self.slots.compactions,
            "unknown_threads": self.procs.unknown_threads,
            "threads_created": self.procs.created_threads,
            "processes_exited": self.procs.exited_processes,
            "slow_rows": self.slow_rows,
            "fd_lookups": int(c[C_FD_LOOKUPS]),
            "fd_lookup_misses": int(c[C_FD_MISSES]),
            "strings": int(c[C_S_N]),
            "string_bytes": int(c[C_SB_N]),
            "string_bytes_live": int(c[C_SB_LIVE]),
            "containers": int(self.C.n[0]),
            "arena_growths": self.arena_growths,
            "epoch": self.epoch,
        }


def _append(B, text: bytes) -> int:
    at = int(B.n[1])
    end = at + len(text)
    B.arena[at:end] = np.frombuffer(text, np.uint8)
    pad = -end % 8
    B.arena[end:end + pad] = 0
    B.n[1] = end + pad
    return at
