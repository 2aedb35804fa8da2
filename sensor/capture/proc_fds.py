"""Open files of the processes found by the /proc scan (proc_scan.py), with
the encodings libscap's scan gives them (userspace/libscap/linux/scap_fds.c):

  * files: the link text as name, open flags from fdinfo as PPM_O_* (its
    open_flags_to_scap, bit tests and all), ino from stat, dev from the
    fd's mount (mnt_id -> mountinfo's major:minor, makedev'ed);
  * directories, pipes (name "pipe:[ino]"), memfds (name "/memfd:x");
  * anonymous inodes by their link text, name empty;
  * sockets by inode, looked up in one sock_diag dump per family and network
    namespace: the local end first (cip/cport), the remote second; a socket
    with no remote address is a listener/unconnected one (sip/sport only, as
    scap's server entries); IPv4 addresses IPv4-mapped.  Unix sockets carry
    the path they are bound to ('@name' for abstract ones).  Sockets
    sock_diag does not know are netlink ('n') when sockfs names their
    protocol NETLINK, else 'o' (raw, packet ...).

Everything here tolerates processes and fds vanishing under it.
"""
from __future__ import annotations

import ctypes
import os
import socket
import stat
import struct
import threading

from .model import FdInfo

# PPM_O_* (the driver's flag bits), in libscap's open_flags_to_scap order.
PPM_O_RDONLY, PPM_O_WRONLY, PPM_O_RDWR = 1, 2, 3
_PPM_O_BITS = (
    (os.O_CREAT, 4), (getattr(os, "O_TMPFILE", 0o20200000), 8192), (os.O_APPEND, 8),
    (os.O_DSYNC, 16), (os.O_EXCL, 32), (os.O_NONBLOCK, 64), (os.O_SYNC, 128),
    (os.O_TRUNC, 256), (os.O_DIRECT, 512), (os.O_DIRECTORY, 1024),
    (getattr(os, "O_LARGEFILE", 0), 2048), (os.O_CLOEXEC, 4096),
)


def open_flags_to_ppm(flags: int) -> int:
    """Kernel open flags (fdinfo's octal 'flags:') -> PPM_O_*, with libscap's
    libc constants: a flag counts when any of its bits is set (O_SYNC includes
    O_DSYNC's bit, O_TMPFILE O_DIRECTORY's), and O_LARGEFILE is 0 on 64-bit
    libcs, so the bit the kernel always sets there never shows."""
    acc = flags & os.O_ACCMODE
    res = PPM_O_WRONLY if acc == os.O_WRONLY else PPM_O_RDWR if acc == os.O_RDWR else PPM_O_RDONLY
    for bit, ppm in _PPM_O_BITS:
        if flags & bit:
            res |= ppm
    return res


_ANON = {b"[eventfd]": "e", b"[signalfd]": "s", b"[eventpoll]": "l", b"inotify": "i",
         b"[timerfd]": "t", b"[io_uring]": "r", b"[userfaultfd]": "u", b"[pidfd]": "P"}


class FdScanner:
    """Reads the fd tables of main threads; `finish()` then fills in the
    sockets found, with one sock_diag dump per family and network namespace."""

    def __init__(self, proc_root: bytes):
        self.proc = proc_root
        self.mount_dev: dict[int, int] = {}       # mount ids are global: one map for all
        self.pending: dict[bytes, list] = {}      # netns -> [(pid, [(fd path, FdInfo)])]

    def scan(self, pid: int) -> list:
        d = b"%s/%d/" % (self.proc, pid)
        try:
            names = os.listdir(d + b"fd")
        except OSError:
            return []
        out, socks = [], []
        for name in names:
            try:
                f = self._fd(d, int(name), name, socks)
            except (OSError, ValueError):          # closed meanwhile
                continue
            out.append(f)
        if socks:
            try:
                ns = os.readlink(d + b"ns/net")
            except OSError:
                ns = b""
            self.pending.setdefault(ns, []).append((pid, socks))
        out.sort(key=lambda f: f.fd)
        return out

    def _fd(self, d: bytes, fd: int, name: bytes, socks: list) -> FdInfo:
        path = d + b"fd/" + name
        link = os.readlink(path)
        if link.startswith(b"socket:["):
            f = FdInfo(fd, "o", ino=int(link[8:-1]))
            socks.append((path, f))
            return f
        if link.startswith(b"pipe:["):
            return FdInfo(fd, "p", link, ino=int(link[6:-1]))
        st = os.stat(path)
        if link.startswith(b"anon_inode:"):
            tag = link[11:]
            # "bpf-map", "bpf-prog", "bpf_link" ... (libscap looks for "[bpf")
            ch = "b" if tag.startswith((b"[bpf", b"bpf")) else _ANON.get(tag, "o")
            return FdInfo(fd, ch, ino=st.st_ino)
        if link.startswith(b"pidfd:"):
            return FdInfo(fd, "P", ino=st.st_ino)
        if link.startswith(b"/memfd:"):
            return FdInfo(fd, "m", link, ino=st.st_ino)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            return FdInfo(fd, "d", link, ino=st.st_ino)
        if stat.S_ISFIFO(mode):
            return FdInfo(fd, "p", link, ino=st.st_ino)
        if stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            flags, dev = self._fdinfo(d, name, st)
            return FdInfo(fd, "f", link, flags=flags, ino=st.st_ino, dev=dev)
        return FdInfo(fd, "o", ino=st.st_ino)

    def _fdinfo(self, d: bytes, name: bytes, st) -> tuple[int, int]:
        """(PPM open flags, device of the fd's mount)."""
        flags, mnt = 0, -1
        with open(d + b"fdinfo/" + name, "rb", buffering=0) as fh:
            text = fh.read(4096)
        for line in text.split(b"\n", 3)[:3]:
            if line.startswith(b"flags:"):
                flags = open_flags_to_ppm(int(line[6:], 8))
            elif line.startswith(b"mnt_id:"):
                mnt = int(line[7:])
        dev = self.mount_dev.get(mnt)
        if dev is None:
            self._read_mounts(d)
            # the driver reports the superblock's device, as mountinfo does;
            # st_dev is the fallback (it differs on btrfs subvolumes)
            dev = self.mount_dev.get(mnt, st.st_dev & 0xFFFFFFFF)
        return flags, dev

    def _read_mounts(self, d: bytes) -> None:
        try:
            with open(d + b"mountinfo", "rb") as fh:
                for line in fh:
                    mid, _, majmin = line.split(b" ", 3)[:3]
                    ma, _, mi = majmin.partition(b":")
                    self.mount_dev[int(mid)] = os.makedev(int(ma), int(mi)) & 0xFFFFFFFF
        except (OSError, ValueError):
            pass

    # --- sockets -------------------------------------------------------------------------

    def finish(self) -> None:
        """Resolve the sockets of every process scanned, namespace by namespace."""
        try:
            own = os.readlink(b"%s/self/ns/net" % self.proc)
        except OSError:
            own = b""
        for ns, procs in self.pending.items():
            known = {}
            for pid, _ in procs:                   # any live member of the namespace
                try:
                    ours = ns in (own, b"")
                    known = dump_sockets(None if ours else b"%s/%d/ns/net" % (self.proc, pid))
                    break
                except OSError:
                    continue
            for _, socks in procs:
                for path, f in socks:
                    desc = known.get(f.ino)
                    if desc is not None:
                        _fill(f, desc)
                    elif _protocol(path) == b"NETLINK":
                        f.typechar = "n"
        self.pending.clear()


def _fill(f: FdInfo, desc: tuple) -> None:
    ch, l4, lip, lport, rip, rport, name = desc
    f.typechar, f.l4proto, f.name = ch, l4, name
    if ch == "u":
        return
    if rip == 0:                               # scap's server entry: the local end only
        f.sip, f.sport = lip, lport
    else:
        f.cip, f.cport, f.sip, f.sport = lip, lport, rip, rport


def _protocol(fd_path: bytes) -> bytes:
    """A socket's protocol name as sockfs tells it ("NETLINK", "PACKET", "RAW"
    ...): unlike /proc/net/netlink, it also knows unbound netlink sockets."""
    try:
        return os.getxattr(fd_path, "system.sockprotoname").rstrip(b"\0")
    except OSError:
        return b""


# --- sock_diag ---------------------------------------------------------------------------
# Plain netlink (linux/sock_diag.h, inet_diag.h, unix_diag.h): a few structs,
# parsed with struct; no per-message objects, and abstract unix names survive.

NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY = 4, 20
NLM_F_REQUEST, NLM_F_DUMP = 1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
_NLH = struct.Struct("=IHHII")
_INET_REQ = struct.Struct("=BBBxI48x")         # family, protocol, ext, states, sockid
_UNIX_REQ = struct.Struct("=BBxxIIIQ")         # family, protocol, states, ino, show, cookie
_INET_MSG = struct.Struct("=BBBB2s2s16s16sIQIIIII")
_UNIX_MSG = struct.Struct("=BBBBIQ")
_NLA = struct.Struct("=HH")
UDIAG_SHOW_NAME, UNIX_DIAG_NAME = 1, 0
SS_ALL = 0xFFFFFFFF
_MAPPED = 0xFFFF << 32


def dump_sockets(netns_path) -> dict:
    """inode -> (typechar, l4proto, local ip, local port, remote ip, remote
    port, unix name) for the TCP, UDP and unix sockets of a network namespace
    (None: ours).  Another namespace's dump runs on a thread that joins it
    first (setns affects only the calling thread)."""
    if netns_path is None:
        return _dump_all()
    box: list = []

    def run():
        try:
            with open(netns_path, "rb") as ns:
                if _libc().setns(ns.fileno(), 0x40000000) != 0:       # CLONE_NEWNET
                    raise OSError(ctypes.get_errno(), "setns")
            box.append(_dump_all())
        except OSError as e:
            box.append(e)
    t = threading.Thread(target=run, name="netns-sockets")
    t.start()
    t.join()
    if isinstance(box[0], OSError):
        raise box[0]
    return box[0]


_LIBC = []


def _libc():
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def _dump_all() -> dict:
    out: dict = {}
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                       NETLINK_SOCK_DIAG) as s:
        for fam, proto in ((socket.AF_INET, 6), (socket.AF_INET, 17),
                           (socket.AF_INET6, 6), (socket.AF_INET6, 17)):
            _inet(s, fam, proto, out)
        _unix(s, out)
    return out


def _messages(s, body: bytes):
    """Send one dump request; yield each reply's payload until the dump ends.
    A refused dump (e.g. udp_diag not loaded) yields nothing."""
    s.send(_NLH.pack(_NLH.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP,
                     1, 0) + body)
    while True:
        data = s.recv(1 << 17)
        off = 0
        while off + _NLH.size <= len(data):
            ln, typ = _NLH.unpack_from(data, off)[:2]
            if typ in (NLMSG_DONE, NLMSG_ERROR) or ln < _NLH.size:
                return
            yield data, off + _NLH.size, off + ln
            off += (ln + 3) & ~3
        if not data:
            return


def _inet(s, fam: int, proto: int, out: dict) -> None:
    v4 = fam == socket.AF_INET
    ch = "4" if v4 else "6"
    for data, at, _ in _messages(s, _INET_REQ.pack(fam, proto, 0, SS_ALL)):
        _, _, _, _, sport, dport, src, dst, _, _, _, _, _, _, ino = \
            _INET_MSG.unpack_from(data, at)
        if not ino:                            # TIME_WAIT and the like: no fd holds them
            continue
        if v4:
            lip, rip = int.from_bytes(src[:4], "big"), int.from_bytes(dst[:4], "big")
            lip, rip = _MAPPED | lip, (_MAPPED | rip) if rip else 0
        else:
            lip, rip = int.from_bytes(src, "big"), int.from_bytes(dst, "big")
        out[ino] = (ch, proto, lip, int.from_bytes(sport, "big"), rip,
                    int.from_bytes(dport, "big"), b"")


def _unix(s, out: dict) -> None:
    for data, at, end in _messages(s, _UNIX_REQ.pack(socket.AF_UNIX, 0, SS_ALL, 0,
                                                      UDIAG_SHOW_NAME, 0)):
        ino = _UNIX_MSG.unpack_from(data, at)[4]
        name = b""
        a = at + _UNIX_MSG.size
        while a + _NLA.size <= end:
            ln, typ = _NLA.unpack_from(data, a)
            if ln < _NLA.size:
                break
            if typ & 0x3FFF == UNIX_DIAG_NAME:
                raw = data[a + _NLA.size:a + ln]
                # /proc/net/unix's spelling: abstract names start with '@'
                name = b"@" + raw[1:] if raw[:1] == b"\0" else raw.split(b"\0", 1)[0]
            a += (ln + 3) & ~3
        out[ino] = ("u", 0, 0, 0, 0, 0, name)
