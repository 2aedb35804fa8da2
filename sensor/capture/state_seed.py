"""Seeding the state from a Snapshot (a .scap header, a /proc scan): users and
groups, interfaces, processes with their threads grouped by pid, parent and
session links, and the fds found open.

Facts from libsinsp's thread table import: a thread's cwd is kept with a
trailing '/'; IPv4 connections found at start list the local end first, and
libsinsp turns one around (client first, this end the server) when its local
port is one the machine listens on (fix_sockets_coming_from_proc), every
other one being a client; listening sockets have no role.
"""
from __future__ import annotations

from . import cgroups as CG
from . import paths
from .model import FdInfo, ProcInfo, Snapshot
from .slots import Image
from .sockets import AF_INET, AF_INET6, AF_UNIX, L4_UNKNOWN
from .state_store import add_fd
from .state_tables import (F_CIP_HI, F_CIP_LO, F_CPORT, F_DEV, F_FAMILY, F_FLAGS, F_INO, F_L4,
                           F_NAME_SID, F_ROLE, F_SERVER, F_SIP_HI, F_SIP_LO, F_SPORT, F_TYPE,
                           F_UDST, F_USRC, G_PORT0, G_SLOT, T_SLOT, T_TG)

MAX_CWD = 4096


def seed(procs, snap: Snapshot) -> None:
    """Add the snapshot's users, groups, interfaces and threads (threads
    already known are kept: a late snapshot only adds)."""
    for u in snap.users:
        procs.U.add_user(u.uid, u.name, u.container_id)
    for gr in snap.groups:
        procs.U.add_group(gr.gid, gr.name, gr.container_id)
    if snap.users or snap.groups:
        user_sids_refresh(procs)
    if snap.interfaces:
        procs.T.set_interfaces(
            [(i.addr, i.netmask) for i in snap.interfaces if i.family == AF_INET],
            [i.addr for i in snap.interfaces if i.family == AF_INET6])
    found = [p for p in snap.procs.values() if procs.thread(p.tid) < 0]
    mains = [p for p in found if p.tid == p.pid]
    others = [p for p in found if p.tid != p.pid]
    made = {}
    for p in mains + others:
        made[p.tid] = seed_thread(procs, p)
    # Parent and leader links, now that every thread exists (variant slots
    # of other threads take their process's links).
    P = procs.S.P
    slots = {int(procs.T.TH[made[p.tid], T_SLOT]): p for p in mains}
    for s, p in slots.items():
        P.parent[s] = procs.slot_of_tid(p.ptid) if p.ptid > 0 else -1
        procs.S.image(s).parent = int(P.parent[s])
    for s in slots:
        img = procs.S.image(s)
        procs.leaders(img)
        P.session[s], P.pgroup[s] = img.session, img.pgroup
    for p in others:
        s = int(procs.T.TH[made[p.tid], T_SLOT])
        main = int(procs.T.TG[int(procs.T.TH[made[p.tid], T_TG]), G_SLOT])
        if s != main:
            for link in ("parent", "session", "pgroup"):
                getattr(P, link)[s] = getattr(P, link)[main]
                setattr(procs.S.image(s), link, int(getattr(P, link)[main]))
    # Listening ports of the whole machine decide which side of a socket found
    # at start is the server (libsinsp's fix_sockets_coming_from_proc).
    ports = {f.sport for p in found for f in p.fds if is_listening(f) and f.typechar == "4"}
    for p in found:
        if p.fds:
            seed_fds(procs, int(procs.T.TH[made[p.tid], T_TG]), p.fds, ports)


def user_sids_refresh(procs) -> None:
    if procs.members:
        procs.refresh_names()


def image_of(procs, p: ProcInfo) -> Image:
    flags = 0
    flags |= 1 if p.exe_from_memfd else 0
    flags |= 2 if p.exe_upper_layer else 0
    flags |= 4 if p.exe_writable else 0
    cid = CG.container_id(path for _, path in p.cgroups)
    return Image(pid=p.pid, vpid=p.vpid if p.vpid >= 0 else p.pid, ppid=p.ptid,
                 sid=p.sid, vpgid=p.vpgid, comm=p.comm[:16] or p.exe,
                 exe=p.exe, exepath=p.exepath, args=list(p.args), env=list(p.env),
                 cwd=p.cwd, tty=p.tty, loginuid=p.loginuid, start_ts=p.clone_ts,
                 exe_ino=p.exe_ino, exe_ino_ctime=p.exe_ino_ctime,
                 exe_ino_mtime=p.exe_ino_mtime, flags=flags,
                 container=procs.C.row_for(cid))


def seed_thread(procs, p: ProcInfo) -> int:
    g = procs.group_of_pid.get(p.pid)
    if g is None:
        slot = procs.S.new(image_of(procs, p))
        cwd = paths.as_dir(paths.join(b"", p.cwd))[:MAX_CWD]
        g = procs.new_group(p.pid, slot, procs.new_str(cwd))
        slot_t = slot
    else:
        slot_t = procs.thread_slot(g, p.comm[:16] or p.exe, p.exe, p.args)
    return procs.new_thread(p.tid, g, slot_t, pid=p.pid, ptid=p.ptid,
                           vtid=p.vtid if p.vtid >= 0 else p.tid, uid=p.uid, gid=p.gid,
                           caps=(p.cap_effective, p.cap_permitted, p.cap_inheritable),
                           loginuid=p.loginuid, flags=p.flags, clone_ts=p.clone_ts)


def seed_fds(procs, g: int, fds: list, ports: set) -> None:
    T = procs.T
    fds = order_proc_sockets(fds, ports)
    for f in fds:
        T.ensure(fds=2, strings=2, string_bytes=2 * len(f.name) + 256)
        rec = int(add_fd(T.k, g, f.fd))
        describe_fd(procs, rec, f, g)


def describe_fd(procs, rec: int, f: FdInfo, g: int) -> None:
    """An fd record from a snapshot's description."""
    FD = procs.T.FD
    ch = ord(f.typechar[:1] or "o")
    FD[rec, F_TYPE] = ch
    FD[rec, F_FLAGS] = f.flags
    FD[rec, F_INO] = f.ino
    FD[rec, F_DEV] = f.dev
    name = f.name
    if f.typechar in ("4", "6"):
        fam = AF_INET if f.typechar == "4" else AF_INET6
        FD[rec, F_FAMILY] = fam
        FD[rec, F_L4] = f.l4proto or L4_UNKNOWN
        cip, sip = _mapped(f.cip, fam), _mapped(f.sip, fam)
        FD[rec, F_CIP_HI], FD[rec, F_CIP_LO] = _words(cip)
        FD[rec, F_SIP_HI], FD[rec, F_SIP_LO] = _words(sip)
        FD[rec, F_CPORT], FD[rec, F_SPORT] = f.cport, f.sport
        if not name:
            name = socket_name(f, cip, sip)
        if is_listening(f):
            FD[rec, F_SERVER] = 1             # its role stays unknown, as in libsinsp
            _remember_port(procs.T.TG, g, f.sport)
        elif f.typechar == "4":
            FD[rec, F_ROLE] = 2 if getattr(f, "_server", False) else 1
    elif f.typechar == "u":
        FD[rec, F_FAMILY] = AF_UNIX
        FD[rec, F_USRC], FD[rec, F_UDST] = _i64(f.source), _i64(f.dest)
    # names read from /proc may carry control bytes (a unix socket's '\n')
    FD[rec, F_NAME_SID] = procs.new_str(bytes(c for c in name[:4096] if c >= 0x20))


# --- sockets found at start --------------------------------------------------------------------


def is_listening(f: FdInfo) -> bool:
    return f.typechar in ("4", "6") and f.cip == 0 and f.cport == 0 and f.sport != 0


def order_proc_sockets(fds: list, ports: set) -> list:
    """libsinsp's fix of sockets found at start (IPv4 only): the scan lists the
    local end first; a connection whose local port is one the machine listens
    on (IPv4) is turned around (client first) and this end is its server,
    every other one is a client."""
    from dataclasses import replace
    out = []
    for f in fds:
        if f.typechar == "4" and not is_listening(f) and not f.name:
            if f.cport in ports:
                f = replace(f, cip=f.sip, cport=f.sport, sip=f.cip, sport=f.cport)
                f._server = True
        out.append(f)
    return out


def _mapped(ip: int, fam: int) -> int:
    return (0xFFFF << 32) | ip if fam == AF_INET and ip >> 32 == 0 else ip


def _i64(v: int) -> int:
    v &= 2**64 - 1
    return v - 2**64 if v >= 2**63 else v


def _words(ip: int) -> tuple[int, int]:
    return _i64(ip >> 64), _i64(ip & (2**64 - 1))


def _remember_port(TG, g: int, port: int) -> None:
    for k in range(4):
        if TG[g, G_PORT0 + k] in (0, port):
            TG[g, G_PORT0 + k] = port
            return


def socket_name(f: FdInfo, cip: int, sip: int) -> bytes:
    """Falco's name of a socket found at start: "cip:cport->sip:sport", or
    "ip:port" for a listening socket."""
    import ipaddress

    def text(ip: int) -> str:
        a = ipaddress.IPv6Address(ip)
        return str(a.ipv4_mapped) if a.ipv4_mapped is not None else str(a)
    if is_listening(f):
        return f"{text(sip)}:{f.sport}".encode()
    return f"{text(cip)}:{f.cport}->{text(sip)}:{f.sport}".encode()
