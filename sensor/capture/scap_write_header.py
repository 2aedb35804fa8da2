"""A Snapshot -> the header blocks of a .scap file, for the .scap writer.

The blocks, in the order libscap writes them: section header, machine info,
interface list (V2), user list (V2), process list (V9), then one fd list (V2)
per process that has open fds.  Every block is

    block_type u32, block_total_length u32, body zero padded to 4 bytes,
    block_total_length u32

and every entry of a V2/V9 list starts with its own length, so a reader skips
what it does not know.  Integers are little endian; IPv4 addresses are the
four address bytes in network order, ports are plain u16.

Process entries end with the fields of libscap before 0.10 (loginuid,
exe_writable, the three capability sets).  0.10 inserted pidns_init_start_ts
and tty before loginuid, which older readers (Debian's sysdig 0.29.3) then
misread; newer readers recognise the short tail by its size.  So tty,
pidns_init_start_ts and the exe_ino / upper-layer / memfd fields are not
written.  Users and groups of containers (container_id set) travel as
useradded/groupadded events, not in the host's user list, so they are left out.
"""
from __future__ import annotations

import struct

from .model import FdInfo, GroupInfo, InterfaceInfo, MachineInfo, ProcInfo, Snapshot, UserInfo

SHB_BLOCK_TYPE = 0x0A0D0D0A
SHB_MAGIC = 0x1A2B3C4D
SHB_MAJOR, SHB_MINOR = 1, 2
MI_BLOCK_TYPE = 0x201
PL_BLOCK_TYPE_V9 = 0x215
FDL_BLOCK_TYPE_V2 = 0x218
IL_BLOCK_TYPE_V2 = 0x219
UL_BLOCK_TYPE_V2 = 0x220

# libscap's limits on the strings of a process entry (longer ones are refused).
MAX_PATH = 1024
MAX_ARGS = 4096
MAX_ENV = 4096
MAX_CGROUPS = 4096
MAX_CREDENTIAL = 255            # user/group names, home, shell
HOSTNAME_LEN = 128

USERBLOCK_USER, USERBLOCK_GROUP = 0, 1
IF_IPV4, IF_IPV6 = 1, 2

# scap fd types by Falco's fd.typechar.  Sockets depend on their addresses (below).
# Types after FILE_V2 (bpf, userfaultfd, io_uring, memfd, pidfd) make sysdig 0.29.3
# refuse the whole file ("wrong fd type"), so they and unknown kinds are written
# as UNSUPPORTED with their name, which every reader accepts.
FD_FILE_V2, FD_DIRECTORY = 16, 2
FD_IPV4_SOCK, FD_IPV6_SOCK, FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK = 3, 4, 5, 6
FD_FIFO, FD_UNIX_SOCK, FD_UNSUPPORTED = 7, 8, 10
_NAMED_FD_TYPES = {
    "d": FD_DIRECTORY, "p": FD_FIFO, "e": 9, "s": 11, "l": 12, "i": 13, "t": 14, "n": 15,
}
# IP protocol numbers (the model) -> SCAP_L4_*.
_L4 = {0: 0, 6: 2, 17: 3, 1: 4, 255: 5}

_U32 = 0xFFFFFFFF


def block(block_type: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    total = 8 + len(body) + 4
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def _s16(b: bytes, limit: int) -> bytes:
    """A string as libscap stores it: u16 length, the bytes, no NUL."""
    b = bytes(b)[:limit]
    return struct.pack("<H", len(b)) + b


def _nul_list(items, limit: int) -> bytes:
    """NUL-terminated items, cut at the last whole item that fits the limit."""
    out = b""
    for it in items:
        nxt = out + bytes(it) + b"\0"
        if len(nxt) > limit:
            break
        out = nxt
    return out


def _entry(body: bytes) -> bytes:
    """A list entry that starts with its own length (the length field included)."""
    return struct.pack("<I", 4 + len(body)) + body


def section_header() -> bytes:
    return block(SHB_BLOCK_TYPE, struct.pack("<IHHq", SHB_MAGIC, SHB_MAJOR, SHB_MINOR, -1))


def machine_info(m: MachineInfo) -> bytes:
    host = bytes(m.hostname)[:HOSTNAME_LEN - 1].ljust(HOSTNAME_LEN, b"\0")
    # num_cpus, memory, max_pid (unknown), hostname, boot_ts, flags, 2 reserved
    return block(MI_BLOCK_TYPE, struct.pack("<IQQ", m.num_cpus, m.memory_bytes, 0) + host
                 + struct.pack("<QQQQ", m.boot_ts, m.flags, 0, 0))


def _interface(i: InterfaceInfo) -> bytes:
    name = bytes(i.name)[:MAX_PATH - 1]
    ty, size = (IF_IPV6, 16) if i.family == 10 else (IF_IPV4, 4)
    addrs = b"".join(int(v).to_bytes(size, "big") for v in (i.addr, i.netmask, i.bcast))
    body = struct.pack("<HH", ty, len(name)) + addrs + struct.pack("<Q", 0) + name
    return struct.pack("<I", len(body)) + body     # this list's length excludes itself


def interface_list(ifaces) -> bytes:
    return block(IL_BLOCK_TYPE_V2, b"".join(_interface(i) for i in ifaces))


def _user(u: UserInfo) -> bytes:
    return _entry(struct.pack("<BII", USERBLOCK_USER, u.uid & _U32, u.gid & _U32)
                  + _s16(u.name, MAX_CREDENTIAL) + _s16(u.home, MAX_CREDENTIAL)
                  + _s16(u.shell, MAX_CREDENTIAL))


def _group(g: GroupInfo) -> bytes:
    return _entry(struct.pack("<BI", USERBLOCK_GROUP, g.gid & _U32) + _s16(g.name, MAX_CREDENTIAL))


def user_list(users, groups) -> bytes:
    body = b"".join(_user(u) for u in users if not u.container_id)
    body += b"".join(_group(g) for g in groups if not g.container_id)
    return block(UL_BLOCK_TYPE_V2, body)


def _process(p: ProcInfo) -> bytes:
    cgroups = [sub + b"=" + path for sub, path in p.cgroups]
    body = (struct.pack("<qqqqq", p.tid, p.pid, p.ptid, p.sid, p.vpgid)
            + _s16(p.comm, MAX_PATH) + _s16(p.exe, MAX_PATH) + _s16(p.exepath, MAX_PATH)
            + _s16(_nul_list(p.args, MAX_ARGS), MAX_ARGS) + _s16(p.cwd, MAX_PATH)
            # fdlimit, flags, uid, gid, vm size/rss/swap (kB), page faults maj/min
            + struct.pack("<qIIIIIIQQ", p.fdlimit, p.flags & _U32, p.uid & _U32,
                          p.gid & _U32, 0, 0, 0, 0, 0)
            + _s16(_nul_list(p.env, MAX_ENV), MAX_ENV)
            + struct.pack("<qq", p.vtid, p.vpid)
            + _s16(_nul_list(cgroups, MAX_CGROUPS), MAX_CGROUPS) + _s16(p.root, MAX_PATH)
            # the pre-0.10 tail (module docstring)
            + struct.pack("<IBQQQ", p.loginuid & _U32, int(p.exe_writable),
                          p.cap_inheritable, p.cap_permitted, p.cap_effective))
    return _entry(body)


def process_list(procs) -> bytes:
    return block(PL_BLOCK_TYPE_V9, b"".join(_process(p) for p in procs))


def _v4(addr: int) -> bytes:
    return (int(addr) & _U32).to_bytes(4, "big")


def _v6(addr: int) -> bytes:
    return int(addr).to_bytes(16, "big")


def _fd(f: FdInfo) -> bytes:
    head = lambda ty: struct.pack("<qQB", f.fd, f.ino, ty)  # noqa: E731
    l4 = _L4.get(f.l4proto, 0)
    tc = f.typechar
    if tc in ("4", "6", "2", "3"):
        v6 = tc in ("6", "3")
        addr = _v6 if v6 else _v4
        client = f.cip if v6 else f.cip & _U32
        listening = tc in ("2", "3") or (f.cport == 0 and client == 0)
        if listening:
            ty = FD_IPV6_SERVSOCK if v6 else FD_IPV4_SERVSOCK
            return _entry(head(ty) + addr(f.sip) + struct.pack("<HB", f.sport, l4))
        ty = FD_IPV6_SOCK if v6 else FD_IPV4_SOCK
        # scap's "source" is the client side (Falco's fd.cip), "destination" the server
        return _entry(head(ty) + addr(f.cip) + addr(f.sip)
                      + struct.pack("<HHB", f.cport, f.sport, l4))
    if tc == "u" and b"userfaultfd" not in f.name:     # 'u' also names userfaultfd
        return _entry(head(FD_UNIX_SOCK) + struct.pack("<QQ", f.source, f.dest)
                      + _s16(f.name, MAX_PATH - 1))
    if tc == "f":
        return _entry(head(FD_FILE_V2) + struct.pack("<I", f.flags & _U32)
                      + _s16(f.name, MAX_PATH - 1) + struct.pack("<I", f.dev & _U32))
    return _entry(head(_NAMED_FD_TYPES.get(tc, FD_UNSUPPORTED)) + _s16(f.name, MAX_PATH - 1))


def fd_list(tid: int, fds) -> bytes:
    return block(FDL_BLOCK_TYPE_V2, struct.pack("<q", tid) + b"".join(_fd(f) for f in fds))


def header_blocks(snapshot: Snapshot) -> bytes:
    """Every block that precedes the events."""
    procs = list(snapshot.procs.values())
    parts = [section_header(), machine_info(snapshot.machine),
             interface_list(snapshot.interfaces), user_list(snapshot.users, snapshot.groups)]
    if procs:
        parts.append(process_list(procs))
        parts += [fd_list(p.tid, p.fds) for p in procs if p.fds]
    return b"".join(parts)
