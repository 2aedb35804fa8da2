"""The processes already running when live capture starts, read from /proc into
a Snapshot (model.py), as libscap's /proc scan fills its thread table
(userspace/libscap/linux/scap_procs.c), so the state engine seeds from a live
host exactly as from a .scap header:

  * one ProcInfo per thread (/proc/PID/task/TID); ptid is the process's PPid;
    uid/gid the effective ids; vtid/vpid the innermost namespace's ids; sid,
    pgid and tty from stat; threads other than the main one carry
    PPM_CL_CLONE_THREAD|PPM_CL_CLONE_FILES and no fds (they share the main
    thread's table); their command line, environment, cwd, root, cgroups and
    executable are the process's;
  * exe is argv[0], args argv[1:], exepath the /proc/PID/exe link, cwd with a
    trailing '/'; kernel threads and zombies (no cmdline, no exe), which
    libscap skips, are kept with their stat/status facts (comm, ids);
  * clone_ts is the start time from stat (boot time + ticks), not libscap's
    ctime of /proc/PID/cmdline, which is when /proc was first looked at;
  * cgroups are (subsystem, path) per v1 controller, and for the v2
    hierarchy each controller under the deepest cgroup that has it enabled
    (libscap's scap_cgroup_resolve_v2);
  * exe_writable as libscap decides it: the owner can chmod, root can write
    unless the filesystem is read-only, others by the mode bits;
    exe_upper_layer is always false (only the driver can tell).

Processes or threads gone before their stat/status are read are left out
silently; one that exits later keeps what was read.  The sensor's own
process is left out by passing it in `exclude_tgids`.
"""
from __future__ import annotations

import os
import resource
import stat
import time

from .model import GroupInfo, InterfaceInfo, MachineInfo, ProcInfo, Snapshot, UserInfo
from .proc_fds import FdScanner

PPM_CL_CLONE_FILES, PPM_CL_CLONE_THREAD = 1, 1 << 13
MAX_ARGS = 1 << 16                   # bytes of cmdline / environ read
_NS_PER_TICK = 10**9 // os.sysconf("SC_CLK_TCK")
_STATUS = frozenset((b"Uid", b"Gid", b"Groups", b"PPid", b"NStgid", b"NSpid", b"NSpgid",
                     b"CapInh", b"CapPrm", b"CapEff"))
# What the threads of a process share with its main thread.
_SHARED = ("exe", "exepath", "args", "env", "cwd", "fdlimit", "cgroups", "root", "loginuid",
           "exe_writable", "exe_from_memfd", "exe_ino", "exe_ino_ctime", "exe_ino_mtime")


def scan_proc(proc_root="/proc", exclude_tgids=()) -> Snapshot:
    """Machine, processes and threads with their fds, users, groups, interfaces."""
    root = os.fsencode(proc_root)
    snap = Snapshot(machine=machine_info())
    boot = snap.machine.boot_ts
    skip = set(exclude_tgids)
    cgroups = Cgroups(root)
    fds = FdScanner(root)
    for name in os.listdir(root):
        if not name.isdigit() or int(name) in skip:
            continue
        pid = int(name)
        main = _process(root, pid, boot, cgroups, fds)
        if main is None:
            continue
        snap.procs[pid] = main
        for t in _threads(root, pid, main, boot):
            snap.procs[t.tid] = t
    fds.finish()
    snap.users, snap.groups = users(), groups()
    snap.interfaces = interfaces()
    return snap


# --- processes and threads --------------------------------------------------------------------

def _read(path: bytes, n: int = 8192) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, n)
    finally:
        os.close(fd)


def _maybe(path: bytes, n: int) -> bytes:
    try:
        return _read(path, n)
    except OSError:                  # a kernel thread's environ: ESRCH (it has no mm)
        return b""


def _link(path: bytes) -> bytes:
    try:
        return os.readlink(path)
    except OSError:                  # kernel threads and zombies have no exe/cwd/root
        return b""


def _nul_list(raw: bytes) -> list:
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    return raw.split(b"\0") if raw else []


def _task(d: bytes, tid: int, pid: int, boot: int):
    """A thread's own facts (stat and status) and its supplementary groups;
    None if it is gone."""
    try:
        st, status = _read(d + b"stat", 4096), _read(d + b"status")
    except OSError:
        return None
    close = st.rfind(b")")
    f = st[close + 2:].split()
    s = {}
    for line in status.split(b"\n"):
        key, _, val = line.partition(b":")
        if key in _STATUS:
            s[key] = val.split()
    if close < 0 or len(f) < 20 or b"Uid" not in s:
        return None
    pgid = int(f[2])
    p = ProcInfo(tid=tid, pid=pid, ptid=int(s[b"PPid"][0]), sid=int(f[3]),
                 vpgid=int(s.get(b"NSpgid", [pgid])[-1]), pgid=pgid,
                 comm=st[st.find(b"(") + 1:close], uid=int(s[b"Uid"][1]), gid=int(s[b"Gid"][1]),
                 vtid=int(s.get(b"NSpid", [tid])[-1]), vpid=int(s.get(b"NStgid", [pid])[-1]),
                 tty=int(f[4]), clone_ts=boot + int(f[19]) * _NS_PER_TICK,
                 flags=0 if tid == pid else PPM_CL_CLONE_THREAD | PPM_CL_CLONE_FILES)
    for key, name in ((b"CapInh", "cap_inheritable"), (b"CapPrm", "cap_permitted"),
                      (b"CapEff", "cap_effective")):
        if key in s:
            setattr(p, name, int(s[key][0], 16))
    return p, [int(g) for g in s.get(b"Groups", ())]


def _process(root: bytes, pid: int, boot: int, cgroups, fds):
    d = b"%s/%d/" % (root, pid)
    got = _task(d, pid, pid, boot)
    if got is None:
        return None
    p, groups = got
    cmdline = _nul_list(_maybe(d + b"cmdline", MAX_ARGS))
    p.env = _nul_list(_maybe(d + b"environ", MAX_ARGS))
    p.exe, p.args = (cmdline[0], cmdline[1:]) if cmdline else (b"", [])
    p.exepath = _link(d + b"exe")
    cwd = _link(d + b"cwd")
    p.cwd = cwd if not cwd or cwd.endswith(b"/") else cwd + b"/"
    p.root = _link(d + b"root")
    p.exe_from_memfd = p.exepath.startswith(b"/memfd:")
    if p.exepath:
        try:
            st = os.stat(d + b"exe")
            p.exe_ino, p.exe_ino_ctime, p.exe_ino_mtime = st.st_ino, st.st_ctime_ns, st.st_mtime_ns
            p.exe_writable = _writable(d + b"exe", st, p.uid, p.gid, groups)
        except OSError:
            pass
    try:
        p.fdlimit = resource.prlimit(pid, resource.RLIMIT_NOFILE)[0]
    except OSError:
        p.fdlimit = -1
    try:
        login = int(_read(d + b"loginuid", 64))
        p.loginuid = -1 if login == 0xFFFFFFFF else login
    except (OSError, ValueError):
        p.loginuid = -1
    p.cgroups = cgroups.of(d)
    p.fds = fds.scan(pid)
    return p


def _threads(root: bytes, pid: int, main: ProcInfo, boot: int):
    d = b"%s/%d/task/" % (root, pid)
    try:
        tids = sorted(int(t) for t in os.listdir(d))
    except OSError:
        return
    for tid in tids:
        if tid == pid:
            continue
        got = _task(d + b"%d/" % tid, tid, pid, boot)
        if got is None:
            continue
        t = got[0]
        for name in _SHARED:
            setattr(t, name, getattr(main, name))
        yield t


def _writable(path: bytes, st, uid: int, gid: int, groups: list) -> bool:
    """libscap's exe_writable: the owner (who can chmod it), else what access(W_OK)
    says for the process's ids (root: unless read-only; others: mode bits)."""
    if st.st_uid == uid:
        return True
    if uid == 0:
        return os.access(path, os.W_OK)
    if st.st_gid == gid or st.st_gid in groups:
        return bool(st.st_mode & stat.S_IWGRP)
    return bool(st.st_mode & stat.S_IWOTH)


class Cgroups:
    """A process's cgroups as libscap lists them (see the module docstring)."""

    def __init__(self, root: bytes):
        self.v2 = None                        # where the v2 hierarchy is mounted
        self.controllers: dict = {}           # v2 cgroup path -> its controllers
        self.resolved: dict = {}              # v2 cgroup path -> [(controller, path)]
        # the host's mounts as init sees them (libscap's way past our own mount
        # namespace), else ours
        base = root + b"/1/root" if os.access(root + b"/1/root/", os.R_OK) else b""
        try:
            with open(root + (b"/1/mountinfo" if base else b"/self/mountinfo"), "rb") as fh:
                for line in fh:
                    fields = line.split()
                    if fields[fields.index(b"-") + 1] == b"cgroup2":
                        self.v2 = base + fields[4]
                        self.controllers.clear()
                        if self._controllers(b"/"):   # libscap stops at one with controllers
                            break
        except (OSError, ValueError, IndexError):
            pass
        self.all = set(self._controllers(b"/")) if self.v2 else set()

    def _controllers(self, path: bytes) -> list:
        got = self.controllers.get(path)
        if got is None:
            try:
                got = _read(self.v2 + path + b"/cgroup.controllers").split()
            except OSError:
                got = []
            self.controllers[path] = got
        return got

    def of(self, d: bytes) -> list:
        try:
            text = _read(d + b"cgroup", 1 << 16)
        except OSError:
            return []
        out = []
        for line in text.splitlines():
            hid, _, rest = line.partition(b":")
            subs, _, path = rest.partition(b":")
            if subs:
                out += [(sub, path) for sub in subs.split(b",")]
            elif hid == b"0" and self.v2:
                out += self._v2(path)
        return out

    def _v2(self, path: bytes) -> list:
        got = self.resolved.get(path)
        if got is None:
            got, found, p = [], set(), path
            while True:
                for c in self._controllers(p):
                    if c not in found:
                        found.add(c)
                        got.append((c, p))
                if p == b"/" or found >= self.all:
                    break
                p = p.rsplit(b"/", 1)[0] or b"/"
            self.resolved[path] = got
        return got


# --- machine, users, groups, interfaces -------------------------------------------------------

def machine_info() -> MachineInfo:
    u = os.uname()
    page = os.sysconf("SC_PAGE_SIZE")
    boot = time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    return MachineInfo(num_cpus=os.sysconf("SC_NPROCESSORS_ONLN"),
                       memory_bytes=os.sysconf("SC_PHYS_PAGES") * page, max_event_size=0,
                       page_size=page, hostname=u.nodename.encode(), boot_ts=boot,
                       kernel_release=u.release.encode())


def _etc(path: str, nfields: int) -> list:
    try:
        with open(path, "rb") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    rows = [line.split(b":") for line in lines if line and not line.startswith(b"#")]
    return [r for r in rows if len(r) >= nfields and r[2].isdigit()]


def users(path: str = "/etc/passwd") -> list:
    return [UserInfo(uid=int(r[2]), gid=int(r[3]) if r[3].isdigit() else 0, name=r[0],
                     home=r[5], shell=r[6]) for r in _etc(path, 7)]


def groups(path: str = "/etc/group") -> list:
    return [GroupInfo(gid=int(r[2]), name=r[0]) for r in _etc(path, 3)]


def interfaces() -> list:
    """IPv4 (address, netmask, broadcast) and IPv6 addresses of every interface,
    as getifaddrs (libscap) lists them."""
    import socket

    from pyroute2 import IPRoute     # imported here: it costs ~0.1 s
    out = []
    try:
        with IPRoute() as ipr:
            msgs = ipr.get_addr()
    except Exception:                # no netlink: no interfaces, like a failed getifaddrs
        return out
    for m in msgs:
        fam, plen = m["family"], m["prefixlen"]
        if fam not in (socket.AF_INET, socket.AF_INET6):
            continue
        addr = m.get_attr("IFA_LOCAL") or m.get_attr("IFA_ADDRESS")
        if addr is None:
            continue
        bits = 32 if fam == socket.AF_INET else 128
        name = m.get_attr("IFA_LABEL")
        if name is None:
            try:
                name = socket.if_indextoname(m["index"])
            except OSError:
                name = ""
        bcast = m.get_attr("IFA_BROADCAST")
        out.append(InterfaceInfo(
            name=name.encode(), family=fam,
            addr=int.from_bytes(socket.inet_pton(fam, addr), "big"),
            netmask=((1 << bits) - 1) ^ ((1 << (bits - plen)) - 1),
            bcast=int.from_bytes(socket.inet_pton(fam, bcast), "big") if bcast else 0))
    return out
