"""Build batches by hand, for tests and benchmarks (no capture needed).

    b = Builder()
    c = b.add_container(id="3ad7b26ded6d", name="web", image="nginx:1.25",
                        mounts=[("/var/run/docker.sock", "/var/run/docker.sock")])
    sh = b.add_proc(pid=100, comm="bash", exe="/bin/bash", args=["-i"])
    p = b.add_proc(pid=101, comm="cat", exe="/bin/cat", args=["/etc/shadow"],
                   parent=sh, container=c)
    b.add_event("openat", slot=p, res=3, fd=3, fd_type="f", fd_name="/etc/shadow",
                params={"flags": "O_RDONLY|O_CLOEXEC", "name": "/etc/shadow"})
    B, P, C = b.build()

Strings go into the arenas at 8-byte aligned offsets, zero padded to the next
multiple of 8, as batch.py specifies.  Parameters are placed at their index in
the event's (type, dir) layout (evttypes.py); numeric ones accept flag names
("O_RDONLY|O_CLOEXEC"), byte ones str or bytes, and uid/gid/fd/pid ones a
(number, "resolved text") pair for the name the state engine would resolve
(uid/gid without one get "<NA>", or "<NONE>" for -1, as the engine writes).
When an exit layout starts with its return value (res, fd...) and `params`
does not set it, it takes `res`.
"""
from __future__ import annotations

import ipaddress
from typing import Optional, Union

import numpy as np

from . import evttypes as ET
from .batch import COMM_LEN, allocate_batch, allocate_containers, allocate_procs
from .flags import table as flag_table
from . import params as _params

Text = Union[str, bytes, None]
ROLES = {None: 0, 0: 0, "client": 1, 1: 1, "server": 2, 2: 2}
_V4_MAPPED = 0xFFFF << 32


def _b(v: Text) -> Optional[bytes]:
    if v is None:
        return None
    return v.encode("utf-8", "surrogateescape") if isinstance(v, str) else bytes(v)


def ip128(addr: Union[str, int, None]) -> tuple[int, int]:
    """An address as (hi, lo) u64 words, IPv4 mapped into IPv6."""
    if addr is None:
        return 0, 0
    a = ipaddress.ip_address(addr)
    v = int(a) | _V4_MAPPED if a.version == 4 else int(a)
    return v >> 64, v & (2**64 - 1)


class _Arena:
    def __init__(self):
        self.data = bytearray()

    def put(self, value: Text) -> tuple[int, int]:
        """(offset, length) of the stored string; (0, -1) for None (absent)."""
        b = _b(value)
        if b is None:
            return 0, -1
        off = len(self.data)
        self.data += b + b"\0" * (-len(b) % 8)
        return off, len(b)


def _set_str(cols, row, name, arena, value):
    cols[name + "_off"][row], cols[name + "_len"][row] = arena.put(value)


class Builder:
    def __init__(self):
        self._containers: list[dict] = []
        self._procs: list[dict] = []
        self._events: list[dict] = []

    # -- tables rows point into -------------------------------------------------------

    def add_container(self, id: str, name: Text = None, image: Text = None,
                      image_repository: Text = None, image_tag: Text = None,
                      privileged: Optional[bool] = None, start_ts: int = 0,
                      mounts: list = ()) -> int:
        """A container; returns its row.  mounts: (source, destination) pairs."""
        if image is not None and image_repository is None:
            repo, _, tag = str(image).rpartition(":")
            image_repository, image_tag = (repo, tag) if repo else (image, image_tag)
        self._containers.append(dict(
            id=id, name=name, image=image, image_repository=image_repository,
            image_tag=image_tag, privileged=-1 if privileged is None else int(privileged),
            start_ts=start_ts, mounts=list(mounts)))
        return len(self._containers) - 1

    def add_proc(self, pid: int, comm: str = "", exe: Text = None, exepath: Text = None,
                 args=(), parent: int = -1, ppid: Optional[int] = None,
                 vpid: Optional[int] = None, sid: int = 0, session: int = -1,
                 vpgid: int = 0, pgroup: int = -1, env=None, cwd: Text = None,
                 tty: int = 0, loginuid: int = -1, start_ts: int = 0, exe_ino: int = 0,
                 exe_ino_ctime: int = 0, exe_ino_mtime: int = 0, flags: int = 0,
                 container: int = -1, cmdline: Text = None) -> int:
        """A process image; returns its slot.  proc.cmdline defaults to comm + args."""
        if ppid is None:
            ppid = self._procs[parent]["pid"] if parent >= 0 else 0
        if isinstance(env, dict):
            env = [f"{k}={v}" for k, v in env.items()]
        args = [str(a) for a in args]
        self._procs.append(dict(
            pid=pid, vpid=pid if vpid is None else vpid, ppid=ppid, parent=parent, sid=sid,
            session=session, vpgid=vpgid, pgroup=pgroup, comm=_b(comm)[:COMM_LEN],
            exe=exe, exepath=exe if exepath is None else exepath, args=" ".join(args),
            cmdline=" ".join([comm] + args) if cmdline is None else cmdline,
            env=None if env is None else b"\0".join(_b(e) for e in env), cwd=cwd, tty=tty,
            loginuid=loginuid, start_ts=start_ts, exe_ino=exe_ino,
            exe_ino_ctime=exe_ino_ctime, exe_ino_mtime=exe_ino_mtime, flags=flags,
            container=container))
        return len(self._procs) - 1

    # -- events -------------------------------------------------------------------------

    def add_event(self, type: Union[str, int], dir: Union[str, int] = "<", slot: int = -1,
                  params: Optional[dict] = None, **cols) -> int:
        """One row; returns its index.  `cols` are Batch columns by name (num, ts, tid,
        res, uid, gid, cap_*, fd, fd_type (a character), fd_name, fd_nameraw, cwd,
        user_name, group_name, user_loginname, fd_l4proto, fd_family, fd_cip, fd_sip
        (address strings), fd_cport, fd_sport, fd_role ("client"/"server"),
        fd_connected, fd_name_changed, cpu, vtid)."""
        tid = ET.type_id(type) if isinstance(type, str) else int(type)
        if tid is None:
            raise ValueError(f"unknown event type {type!r}")
        d = {">": ET.ENTER, "<": ET.EXIT}.get(dir, dir)
        self._events.append(dict(type=tid, dir=int(d), slot=slot, params=dict(params or {}),
                                 cols=cols))
        return len(self._events) - 1

    # -- the batch ----------------------------------------------------------------------

    def build(self):
        """(B, P, C) with every row added so far."""
        P, parena = self._build_procs()
        C = self._build_containers()
        B = self._build_batch(P)
        return B, P, C

    def _build_containers(self):
        arena = _Arena()
        arena.put("host")                    # batch.HOST_OFF: host processes' id and name
        n = len(self._containers)
        rows = []
        for c in self._containers:
            srcs = b"\0".join(_b(s) for s, _ in c["mounts"]) if c["mounts"] else None
            dsts = b"\0".join(_b(d) for _, d in c["mounts"]) if c["mounts"] else None
            rows.append((c, srcs, dsts))
        C = allocate_containers(max(n, 1), 8)
        cols = C._asdict()
        for r, (c, srcs, dsts) in enumerate(rows):
            for name in ("id", "name", "image", "image_repository", "image_tag"):
                _set_str(cols, r, name, arena, c[name])
            _set_str(cols, r, "mounts", arena, dsts)
            _set_str(cols, r, "mount_sources", arena, srcs)
            C.privileged[r] = c["privileged"]
            C.start_ts[r] = c["start_ts"]
        return self._with_arena(C, arena, n)

    def _build_procs(self):
        arena = _Arena()
        n = len(self._procs)
        P = allocate_procs(max(n, 1), 8)
        cols = P._asdict()
        for s, p in enumerate(self._procs):
            for name in ("pid", "vpid", "ppid", "parent", "sid", "session", "vpgid", "pgroup",
                         "tty", "loginuid", "start_ts", "exe_ino", "exe_ino_ctime",
                         "exe_ino_mtime", "flags", "container"):
                cols[name][s] = p[name]
            P.comm[s] = np.frombuffer(p["comm"].ljust(COMM_LEN, b"\0"), np.uint64)
            P.comm_len[s] = len(p["comm"])
            for name in ("exe", "exepath", "args", "cmdline", "env", "cwd"):
                _set_str(cols, s, name, arena, p[name])
        return self._with_arena(P, arena, n), arena

    def _build_batch(self, P):
        arena = _Arena()
        n = len(self._events)
        B = allocate_batch(max(n, 1), 8)
        cols = B._asdict()
        for i, e in enumerate(self._events):
            c = dict(e["cols"])
            slot = e["slot"]
            pid = int(P.pid[slot]) if slot >= 0 else -1
            B.type[i], B.dir[i], B.slot[i] = e["type"], e["dir"], slot
            B.num[i] = c.pop("num", i + 1)
            B.ts[i] = c.pop("ts", 1_700_000_000_000_000_000 + i * 1000)
            B.tid[i] = c.pop("tid", pid)
            B.vtid[i] = c.pop("vtid", B.tid[i])
            B.res[i] = c.pop("res", 0)
            B.uid[i] = c.pop("uid", -1)
            B.gid[i] = c.pop("gid", -1)
            B.fd[i] = c.pop("fd", -1)
            fd_type = c.pop("fd_type", None)
            B.fd_type[i] = ord(fd_type) if isinstance(fd_type, str) else (fd_type or 0)
            B.fd_role[i] = ROLES[c.pop("fd_role", None)]
            cip, sip = c.pop("fd_cip", None), c.pop("fd_sip", None)
            B.fd_cip_hi[i], B.fd_cip_lo[i] = ip128(cip)
            B.fd_sip_hi[i], B.fd_sip_lo[i] = ip128(sip)
            family = c.pop("fd_family", None)
            if family is None and (cip or sip):
                family = 10 if ipaddress.ip_address(cip or sip).version == 6 else 2
            B.fd_family[i] = family or 0
            for name in ("cwd", "fd_name", "fd_nameraw", "user_name", "group_name",
                         "user_loginname"):
                _set_str(cols, i, name, arena, c.pop(name, None))
            for name, value in c.items():
                if name not in cols:
                    raise ValueError(f"no Batch column {name!r}")
                cols[name][i] = value
            self._put_params(B, i, e, arena)
        return self._with_arena(B, arena, n)

    def _put_params(self, B, i, e, arena):
        layout = ET.params(e["type"], e["dir"])
        params = dict(e["params"])
        if e["dir"] == ET.EXIT and layout and layout[0].ptype in ("errno", "fd", "pid") \
                and layout[0].name not in params:
            params[layout[0].name] = int(B.res[i])
        mask = 0
        for name, value in params.items():
            k = ET.param_index(e["type"], e["dir"], name)
            if k < 0:
                raise ValueError(f"{ET.type_name(e['type'])} has no parameter {name!r} "
                                 f"in direction {e['dir']}")
            p = layout[k]
            mask |= 1 << k
            if p.storage == "bytes":
                if isinstance(value, str) and p.ptype in _params.BINARY_TYPES:
                    value = _params.encode(p.ptype, value)      # "1.2.3.4:80->..." -> binary
                B.arg_off[k, i], B.arg_len[k, i] = arena.put(value)
                continue
            if isinstance(value, tuple):           # (number, resolved text)
                value, text = value
                B.arg_off[k, i], B.arg_len[k, i] = arena.put(text)
            elif p.ptype in ("uid", "gid"):        # unresolved names, as the engine writes them
                none = int(value) & 0xFFFFFFFF == 0xFFFFFFFF
                B.arg_off[k, i], B.arg_len[k, i] = arena.put("<NONE>" if none else "<NA>")
            if isinstance(value, str):
                if not p.table:
                    raise ValueError(f"parameter {name!r} is a number, not {value!r}")
                value = flag_table(p.table).parse(value)
            B.arg_int[k, i] = int(value)
        B.arg_mask[i] = mask

    @staticmethod
    def _with_arena(table, arena: _Arena, n: int):
        """The table with its arena replaced by the filled one and its row count set."""
        data = np.frombuffer(bytes(arena.data) + b"\0" * 8, np.uint8).copy()
        table.n[0] = n
        table.n[1] = len(arena.data)
        return table._replace(arena=data)


def sample_batch():
    """A small batch exercising most fields: files, sockets (client and server, IPv4
    and IPv6, unix), a process chain in a container, the host, an unknown process,
    failed calls, flags, uid names, meta and generic events.  (B, P, C)."""
    b = Builder()
    web = b.add_container(id="3ad7b26ded6d", name="web", image="nginx:1.25", privileged=True,
                          start_ts=1_600_000_000_000_000_000,
                          mounts=[("/var/run/docker.sock", "/var/run/docker.sock"),
                                  ("/proc", "/host/proc"), ("/data", "/srv/data")])
    init = b.add_proc(pid=1, comm="systemd", exe="/sbin/init", args=["--system"], sid=1,
                      vpgid=1, start_ts=1_500_000_000_000_000_000)
    sshd = b.add_proc(pid=700, comm="sshd", exe="/usr/sbin/sshd", args=["-D"], parent=init,
                      sid=700, vpgid=700, start_ts=1_600_000_000_000_000_000)
    bash = b.add_proc(pid=900, comm="bash", exe="-bash", exepath="/usr/bin/bash", parent=sshd,
                      sid=900, vpgid=900, tty=34816, loginuid=1000, cwd="/home/alice",
                      env={"HOME": "/home/alice", "PATH": "/usr/bin:/bin", "HTTP_PROXY": "x"},
                      start_ts=1_650_000_000_000_000_000, exe_ino=1234,
                      exe_ino_ctime=1_640_000_000_000_000_000,
                      exe_ino_mtime=1_630_000_000_000_000_000)
    cat = b.add_proc(pid=901, comm="cat", exe="cat", exepath="/usr/bin/cat",
                     args=["/etc/shadow"], parent=bash, sid=900, session=bash, vpgid=901,
                     pgroup=-1, loginuid=1000, start_ts=1_700_000_000_000_000_000,
                     container=web, flags=0b011)
    orphan = b.add_proc(pid=5000, comm="a-very-long-process-name", exe="/tmp/x",
                        args=["a b", "c"], flags=0b100)
    root = dict(uid=0, gid=0, user_name="root", group_name="root", user_loginname="alice")
    b.add_event("openat", slot=cat, res=3, fd=3, fd_type="f", fd_name="/etc/shadow",
                fd_nameraw="/etc//shadow", cwd="/home/alice",
                params={"dirfd": -100, "name": "/etc/shadow", "flags": "O_RDONLY|O_CLOEXEC",
                        "mode": 0, "dev": 2049, "ino": 77}, **root)
    b.add_event("openat", slot=cat, res=4, fd=4, fd_type="f", fd_name="/tmp/out",
                params={"dirfd": -100, "name": "out", "flags": "O_WRONLY|O_CREAT|O_TRUNC",
                        "mode": 0o755}, **root)
    b.add_event("openat", slot=bash, res=-2, fd=-1, fd_name="/nope/missing.txt",
                params={"dirfd": -100, "name": "/nope/missing.txt", "flags": "O_RDONLY"},
                uid=1000, gid=1000, user_name="alice", group_name="alice")
    b.add_event("openat", dir=">", slot=bash, params={"dirfd": -100, "name": "x",
                                                      "flags": "O_RDWR", "mode": 0})
    b.add_event("open", slot=bash, res=5, fd=5, fd_type="d", fd_name="/etc/",
                params={"name": "/etc/", "flags": "O_RDONLY|O_DIRECTORY", "mode": 0})
    b.add_event("connect", slot=cat, res=0, fd=6, fd_type="4",
                fd_name="10.0.0.5:41000->1.2.3.4:443", fd_cip="10.0.0.5", fd_sip="1.2.3.4",
                fd_cport=41000, fd_sport=443, fd_role="client", fd_l4proto=6, fd_connected=1,
                params={"tuple": "10.0.0.5:41000->1.2.3.4:443", "fd": 6,
                        "addr": "1.2.3.4:443"}, **root)
    b.add_event("accept4", slot=sshd, res=7, fd=7, fd_type="6",
                fd_name="2001:db8::1:52000->2001:db8::2:22", fd_cip="2001:db8::1",
                fd_sip="2001:db8::2", fd_cport=52000, fd_sport=22, fd_role="server",
                fd_l4proto=6, fd_connected=1, params={"flags": 0, "queuepct": 3}, **root)
    b.add_event("sendto", slot=cat, res=12, fd=8, fd_type="4", fd_name="10.0.0.5:5353->8.8.8.8:53",
                fd_cip="10.0.0.5", fd_sip="8.8.8.8", fd_cport=5353, fd_sport=53,
                fd_role="client", fd_l4proto=17, fd_name_changed=1,
                params={"data": b"\x12\x34query\x00", "fd": 8, "size": 12})
    b.add_event("connect", slot=bash, res=-115, fd=9, fd_type="u", fd_family=1,
                fd_name="/run/docker.sock", params={"fd": 9})
    b.add_event("socket", slot=cat, res=10, fd=10, fd_type="4",
                params={"domain": "AF_PACKET", "type": 3, "proto": 768})
    b.add_event("setuid", slot=bash, res=0, params={"uid": (65534, "nobody")}, **root)
    b.add_event("setuid", slot=bash, res=-1, params={"uid": 4242}, **root)
    b.add_event("ptrace", slot=bash, res=0, params={"request": "PTRACE_ATTACH", "pid": 901,
                                                    "addr": 0, "data": 0})
    b.add_event("chmod", slot=cat, res=0, params={"filename": "/tmp/out", "mode": 0o4755})
    b.add_event("execve", slot=cat, res=0, params={
        "exe": "cat", "args": b"/etc/shadow\0", "tid": 901, "pid": 901, "ptid": 900,
        "cwd": "/home/alice", "flags": "EXE_UPPER_LAYER", "uid": (0, "root"),
        "filename": "/usr/bin/cat"}, cap_effective=(1 << 21) | 1, cap_permitted=2**40 | 5)
    b.add_event("madvise", dir=">", slot=orphan, params={"ID": 139, "nativeID": 28})
    b.add_event("procexit", dir=">", slot=orphan, params={"status": 0, "sig": 9})
    b.add_event("bpf", slot=-1, res=3, params={"fd": 3, "cmd": "BPF_PROG_LOAD"})
    b.add_event("read", slot=orphan, res=4, fd=0, fd_type="p", fd_name="pipe:[1234]",
                params={"data": b"ab\0c", "fd": 0, "size": 100})
    return b.build()
