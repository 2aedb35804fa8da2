"""Raw batches for the state engine's tests: rows as a source leaves them
(num, ts, tid, type, dir, res and parameters only), and reading the filled
rows back as Falco prints their fields.

    rows = RawRows()
    rows.add("openat", "<", 100, res=3, fd=3, dirfd=-100, name="x", flags=1, mode=0)
    B = eng.process(rows.batch())
    assert text(eng, B, 0, "fd.name") == "/home/x"
"""
from __future__ import annotations

import numpy as np

from sensor.events import params as PR
from sensor.capture.model import FdInfo, GroupInfo, ProcInfo, Snapshot, UserInfo
from sensor.events import evttypes as ET
from sensor.events.batch import allocate_batch
from sensor.events.builder import Builder
from sensor.events.fields import field_text, lookup

T0 = 1_700_000_000_000_000_000


class RawRows:
    def __init__(self, start_num: int = 1):
        self.b = Builder()
        self.n = 0
        self.start = start_num

    def add(self, etype: str, d: str, thread: int, /, res: int = 0, **params) -> int:
        """One raw row of thread `thread`; returns its index in the batch."""
        for k, v in list(params.items()):           # binary socket parameters from text
            p = ET.find_param(ET.type_id(etype), 0 if d == ">" else 1, k)
            if p is not None and p.ptype in ("sockaddr", "socktuple") and isinstance(v, str):
                params[k] = PR.encode(p.ptype, v)
        self.b.add_event(etype, dir=d, tid=thread, res=res, params=params,
                         num=self.start + self.n, ts=T0 + 1000 * (self.start + self.n))
        self.n += 1
        return self.n - 1

    def batch(self, arena_bytes: int = 0):
        """The rows as a Batch; its state columns are garbage on purpose (the
        engine must overwrite every one of them)."""
        B, _, _ = self.b.build()
        junk = allocate_batch(max(self.n, 1), max(arena_bytes, B.arena.size))
        junk.arena[:B.arena.size] = B.arena
        for name in ("num", "ts", "type", "code", "dir", "cpu", "tid", "res", "arg_mask"):
            getattr(junk, name)[:self.n] = getattr(B, name)[:self.n]
        for name in ("arg_int", "arg_off", "arg_len"):
            getattr(junk, name)[:, :self.n] = getattr(B, name)[:, :self.n]
        for name in ("slot", "vtid", "uid", "gid", "fd", "fd_cport", "fd_role"):
            getattr(junk, name)[:] = 7
        for name in ("user_name", "cwd", "fd_name", "fd_nameraw", "group_name",
                     "user_loginname"):
            getattr(junk, name + "_len")[:] = 3
        junk.fd_type[:] = ord("X")
        junk.n[0], junk.n[1] = self.n, B.n[1]
        return junk


def text(eng, B, i: int, name: str):
    """The field's text as Falco prints it, None for <NA>."""
    base, _, bracket = name.partition("[")
    f, arg = lookup(base, bracket[:-1]) if bracket else lookup(name)
    key = b""
    a = 0
    if arg is not None:
        a, key = f.resolve_arg(arg)
    return field_text(f, B, eng.P, eng.C, i, a, key)


def row(eng, B, i: int, *names) -> dict:
    return {n: text(eng, B, i, n) for n in names}


def proc(tid, pid=None, ptid=1, comm=b"bash", exe=None, args=(), cwd=b"/", uid=0, gid=0,
         fds=(), **kw) -> ProcInfo:
    return ProcInfo(tid=tid, pid=tid if pid is None else pid, ptid=ptid, comm=comm,
                    exe=comm if exe is None else exe, exepath=kw.pop("exepath", b"/bin/" + comm),
                    args=list(args), cwd=cwd, uid=uid, gid=gid, fds=list(fds), **kw)


def snapshot(*procs, users=(), groups=()) -> Snapshot:
    s = Snapshot()
    for p in procs:
        s.procs[p.tid] = p
    s.users = [UserInfo(u, u, n) if isinstance(u, int) else u for u, n in users]
    s.groups = [GroupInfo(g, n) for g, n in groups]
    return s


def standard_snapshot() -> Snapshot:
    """init(1) -> sshd(700) -> bash(900, cwd /home/alice, uid 1000), with a file,
    a tty and a socket; users root and alice."""
    return snapshot(
        proc(1, ptid=0, comm=b"systemd", exe=b"/sbin/init", sid=1, vpgid=1),
        proc(700, comm=b"sshd", sid=700, vpgid=700,
             fds=[FdInfo(3, "4", sip=0, sport=22, l4proto=6)]),
        proc(900, ptid=700, comm=b"bash", exe=b"-bash", exepath=b"/usr/bin/bash", args=[b"-i"],
             cwd=b"/home/alice", uid=1000, gid=1000, sid=900, vpgid=900, loginuid=1000,
             fds=[FdInfo(0, "f", b"/dev/pts/0"), FdInfo(1, "f", b"/dev/pts/0"),
                  FdInfo(5, "d", b"/etc")]),
        users=[(0, b"root"), (1000, b"alice")], groups=[(0, b"root"), (1000, b"alice")])


def replicate(B, n: int):
    """A batch of n rows repeating B's rows (for throughput runs)."""
    m = int(B.n[0])
    out = allocate_batch(n, max(B.arena.size * 2, 1 << 20))
    reps = -(-n // m)
    for name in ("num", "ts", "type", "code", "dir", "cpu", "tid", "res", "arg_mask"):
        getattr(out, name)[:] = np.tile(getattr(B, name)[:m], reps)[:n]
    for name in ("arg_int", "arg_off", "arg_len"):
        getattr(out, name)[:, :] = np.tile(getattr(B, name)[:, :m], (1, reps))[:, :n]
    out.arena[:B.arena.size] = B.arena
    out.n[0], out.n[1] = n, B.n[1]
    return out
