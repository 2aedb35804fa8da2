"""Metadata blocks of a .scap file -> Snapshot entries (sensor/capture/model.py).

Each parser takes a block's body (the bytes between the block header and its
trailing length) and the layout version of its block type, and returns model
objects.  Layouts are in scap_format.py.  A body too short for what it
announces raises MetaError; the reader turns it into a ScapError at the
block's offset.  Nothing read here is interpreted beyond numbers and bytes.
"""
from __future__ import annotations

import struct

from . import scap_format as F
from .model import FdInfo, GroupInfo, InterfaceInfo, MachineInfo, ProcInfo, UserInfo

_U32_NONE = 0xFFFFFFFF


class MetaError(Exception):
    pass


class _Cursor:
    """Little-endian reads over a block body, refusing to run past its end."""
    __slots__ = ("data", "off", "end")

    def __init__(self, data: bytes, off: int = 0, end: int = None):
        self.data, self.off = data, off
        self.end = len(data) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.off

    def take(self, n: int) -> bytes:
        if n < 0 or self.off + n > self.end:
            raise MetaError(f"entry runs past its block ({n} bytes wanted at {self.off}, "
                            f"{self.end - self.off} left)")
        b = self.data[self.off:self.off + n]
        self.off += n
        return b

    def unpack(self, st: struct.Struct):
        return st.unpack(self.take(st.size))

    def num(self, kind: str) -> int:
        return _NUM[kind].unpack(self.take(_NUM[kind].size))[0]

    def string(self) -> bytes:
        (n,) = _NUM["u16"].unpack(self.take(2))
        return self.take(n)

    def read(self, kind: str):
        return self.string() if kind in ("str", "bytes") else self.num(kind)

    def skip_to(self, pos: int, what: str):
        if pos < self.off:
            raise MetaError(f"{what} entry longer than its declared length")
        if pos > self.end:
            raise MetaError(f"{what} entry length runs past its block")
        self.off = pos


_NUM = {"u8": struct.Struct("<B"), "u16": struct.Struct("<H"), "u32": struct.Struct("<I"),
        "u64": struct.Struct("<Q"), "i64": struct.Struct("<q")}
_SIZE = {k: s.size for k, s in _NUM.items()}


def _entries_left(cur: _Cursor) -> bool:
    # libs reads entries while at least 4 bytes remain; less is block padding
    return cur.remaining >= 4


def _id32(v: int) -> int:
    """uid/gid/loginuid: the driver's (uint32)-1 means none."""
    return -1 if v == _U32_NONE else v


def _nul_list(raw: bytes) -> list:
    """'a\\0b\\0' -> [b'a', b'b'] (argv, environment)."""
    if not raw:
        return []
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    return raw.split(b"\0")


# --- machine ---------------------------------------------------------------------------

def parse_machine(body: bytes) -> MachineInfo:
    if len(body) < F.MACHINE_BODY.size:
        raise MetaError(f"machine info block too short ({len(body)} bytes)")
    ncpu, mem, _max_pid, host, boot_ts, flags, _, _ = F.MACHINE_BODY.unpack_from(body)
    return MachineInfo(num_cpus=ncpu, memory_bytes=mem, hostname=host.split(b"\0", 1)[0],
                       boot_ts=boot_ts, flags=flags)


# --- processes ---------------------------------------------------------------------------

def parse_procs(body: bytes, version: int) -> list:
    cur = _Cursor(body)
    procs = []
    while _entries_left(cur):
        start = cur.off
        sub_len = cur.num("u32") if version >= 9 else 0
        f = {name: cur.read(kind) for name, kind, since in F.PROC_FIELDS if version >= since}
        if sub_len:
            def fits(kind):
                return cur.off - start + _SIZE[kind] <= sub_len
            if sub_len - (cur.off - start) > F.PROC_TAIL_PRE_0_10:
                for name, kind in F.PROC_TAIL_0_10:
                    if fits(kind):
                        f[name] = cur.num(kind)
            for name, kind in F.PROC_TAIL:
                if fits(kind):
                    f[name] = cur.num(kind)
            cur.skip_to(start + sub_len, "process")
        procs.append(_proc(f))
    return procs


def _proc(f: dict) -> ProcInfo:
    p = ProcInfo(tid=f["tid"], pid=f["pid"], ptid=f["ptid"], comm=f["comm"], exe=f["exe"],
                 exepath=f.get("exepath", b""), args=_nul_list(f["args"]),
                 env=_nul_list(f.get("env", b"")), cwd=f["cwd"], fdlimit=f["fdlimit"],
                 flags=f["flags"], uid=_id32(f["uid"]), gid=_id32(f["gid"]),
                 vtid=f.get("vtid", -1), vpid=f.get("vpid", -1),
                 cgroups=[tuple(c.split(b"=", 1)) if b"=" in c else (c, b"")
                          for c in _nul_list(f.get("cgroups", b""))],
                 root=f.get("root", b""))
    for name in ("sid", "vpgid", "tty", "pgid", "cap_inheritable", "cap_permitted",
                 "cap_effective", "exe_ino", "exe_ino_ctime", "exe_ino_mtime"):
        if name in f:
            setattr(p, name, f[name])
    if "loginuid" in f:
        p.loginuid = _id32(f["loginuid"])
    for name in ("exe_writable", "exe_upper_layer", "exe_from_memfd"):
        if name in f:
            setattr(p, name, bool(f[name]))
    return p


# --- file descriptors ------------------------------------------------------------------------

def parse_fds(body: bytes, version: int) -> tuple:
    """(tid, [FdInfo])."""
    cur = _Cursor(body)
    tid = cur.num("i64")
    fds = []
    while _entries_left(cur):
        start = cur.off
        sub_len = cur.num("u32") if version >= 2 else 0
        fds.append(_fd(cur, start, sub_len))
        if sub_len:
            cur.skip_to(start + sub_len, "fd")
    return tid, fds


def _ip4(raw: bytes) -> int:
    return (0xFFFF << 32) | int.from_bytes(raw, "big")


def _fd(cur: _Cursor, start: int, sub_len: int) -> FdInfo:
    fd, ino, ftype = cur.num("i64"), cur.num("u64"), cur.num("u8")
    info = FdInfo(fd=fd, ino=ino, typechar=F.FD_TYPECHAR.get(ftype, "X"))
    if ftype == F.FD_IPV4_SOCK:
        sip, dip, sport, dport, proto = cur.unpack(F.FD_IPV4_TUPLE)
        info.cip, info.sip, info.cport, info.sport = _ip4(sip), _ip4(dip), sport, dport
        info.l4proto = F.L4PROTO.get(proto, 0)
    elif ftype == F.FD_IPV6_SOCK:
        sip, dip, sport, dport, proto = cur.unpack(F.FD_IPV6_TUPLE)
        info.cip, info.sip = int.from_bytes(sip, "big"), int.from_bytes(dip, "big")
        info.cport, info.sport, info.l4proto = sport, dport, F.L4PROTO.get(proto, 0)
    elif ftype == F.FD_IPV4_SERVSOCK:
        ip, port, proto = cur.unpack(F.FD_IPV4_SERVER)
        info.sip, info.sport, info.l4proto = _ip4(ip), port, F.L4PROTO.get(proto, 0)
    elif ftype == F.FD_IPV6_SERVSOCK:
        ip, port, proto = cur.unpack(F.FD_IPV6_SERVER)
        info.sip, info.sport = int.from_bytes(ip, "big"), port
        info.l4proto = F.L4PROTO.get(proto, 0)
    elif ftype == F.FD_UNIX_SOCK:
        info.source, info.dest = cur.unpack(F.FD_UNIX)
        info.name = cur.string()
    elif ftype == F.FD_FILE_V2:
        info.flags = cur.num("u32")
        info.name = cur.string()
        if sub_len and cur.off - start + 4 <= sub_len:
            info.dev = cur.num("u32")
    elif ftype in F.FD_NAMED:
        info.name = cur.string()
    # FD_UNKNOWN and types newer than ours carry nothing more we can read (as in libs)
    return info


# --- interfaces ----------------------------------------------------------------------------------

def parse_interfaces(body: bytes, version: int) -> list:
    cur = _Cursor(body)
    out = []
    while _entries_left(cur):
        size = cur.num("u32") if version >= 2 else 0
        start = cur.off
        itype, namelen = cur.num("u16"), cur.num("u16")
        if itype not in F.IF_ADDRS:
            raise MetaError(f"unknown interface entry type {itype}")
        asize, has_speed = F.IF_ADDRS[itype]
        addr, mask, bcast = (int.from_bytes(cur.take(asize), "big") for _ in range(3))
        if has_speed:
            cur.num("u64")
        name = cur.take(namelen)
        out.append(InterfaceInfo(name=name, family=2 if asize == 4 else 10, addr=addr,
                                 netmask=mask, bcast=bcast))
        if size:
            cur.skip_to(start + size, "interface")
    return out


# --- users and groups ---------------------------------------------------------------------

def parse_users(body: bytes, version: int) -> tuple:
    """([UserInfo], [GroupInfo])."""
    cur = _Cursor(body)
    users, groups = [], []
    while _entries_left(cur):
        start = cur.off
        sub_len = cur.num("u32") if version >= 2 else 0
        if cur.num("u8") == F.USER_KIND:
            uid, gid = cur.num("u32"), cur.num("u32")
            name, home, shell = cur.string(), cur.string(), cur.string()
            users.append(UserInfo(uid=uid, gid=gid, name=name, home=home, shell=shell))
        else:
            gid = cur.num("u32")
            groups.append(GroupInfo(gid=gid, name=cur.string()))
        if sub_len:
            cur.skip_to(start + sub_len, "user")
    return users, groups
