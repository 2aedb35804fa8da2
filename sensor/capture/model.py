"""What a capture knows besides its events: the machine, the processes and their
open files when it started, users, groups and network interfaces.

A .scap file stores these in its header blocks (the reader fills a Snapshot
from them and the writer writes one back); live capture fills the same Snapshot
from a /proc scan.  The state engine seeds its tables from it.  Plain data, no
behaviour: every source and consumer agrees on these names.

Strings are bytes, as the kernel gave them (no decoding guesses).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class MachineInfo:
    num_cpus: int = 0
    memory_bytes: int = 0
    max_event_size: int = 0
    page_size: int = 0
    hostname: bytes = b""
    boot_ts: int = 0                  # ns since the epoch, 0 unknown
    kernel_release: bytes = b""       # "" when the file does not say
    flags: int = 0


@dataclass
class FdInfo:
    """One open file descriptor of a process.

    typechar is Falco's fd.typechar: f (file) d (directory) 4 (ipv4) 6 (ipv6)
    u (unix) p (pipe) e (eventfd) s (signalfd) l (eventpoll) i (inotify)
    t (timerfd) n (netlink) b (bpf) r (userfaultfd) o (other/unknown).
    For files `name` is the path; for sockets the addresses are 128-bit ints
    (IPv4 as IPv4-mapped IPv6, ::ffff:a.b.c.d) and `name` is left empty for the
    state engine to render (Falco's "cip:cport->sip:sport"); unix sockets carry
    their path in `name`."""
    fd: int
    typechar: str = "o"
    name: bytes = b""
    flags: int = 0                    # open flags, PPM_O_* encoding
    ino: int = 0
    dev: int = 0
    l4proto: int = 0                  # 6 tcp, 17 udp, 1 icmp, 255 raw, 0 unknown
    cip: int = 0
    sip: int = 0
    cport: int = 0
    sport: int = 0
    source: int = 0                   # unix socket: kernel pointers of the two ends
    dest: int = 0


@dataclass
class ProcInfo:
    """One thread as a process-list block (or /proc) describes it."""
    tid: int
    pid: int                          # thread group id
    ptid: int = -1                    # parent thread id
    sid: int = 0
    vpgid: int = 0
    comm: bytes = b""
    exe: bytes = b""                  # argv[0] as executed
    exepath: bytes = b""              # full path of the executable
    args: list = field(default_factory=list)      # list[bytes], argv[1:]
    env: list = field(default_factory=list)       # list[bytes] "K=V"
    cwd: bytes = b""
    fdlimit: int = 0
    flags: int = 0                    # PPM_CL_* thread flags
    uid: int = -1
    gid: int = -1
    vtid: int = -1
    vpid: int = -1
    cgroups: list = field(default_factory=list)   # list[(subsystem bytes, path bytes)]
    root: bytes = b""
    loginuid: int = -1
    tty: int = 0
    pgid: int = -1
    clone_ts: int = 0                 # ns since the epoch, 0 unknown
    exe_writable: bool = False
    exe_upper_layer: bool = False
    exe_from_memfd: bool = False
    exe_ino: int = 0
    exe_ino_ctime: int = 0
    exe_ino_mtime: int = 0
    cap_inheritable: int = 0
    cap_permitted: int = 0
    cap_effective: int = 0
    fds: list = field(default_factory=list)       # list[FdInfo]


@dataclass
class UserInfo:
    uid: int
    gid: int
    name: bytes
    home: bytes = b""
    shell: bytes = b""
    container_id: bytes = b""         # "" for the host


@dataclass
class GroupInfo:
    gid: int
    name: bytes
    container_id: bytes = b""


@dataclass
class InterfaceInfo:
    name: bytes
    family: int                       # 2 AF_INET, 10 AF_INET6
    addr: int                         # as an int (v4: 32 bits, v6: 128 bits)
    netmask: int = 0
    bcast: int = 0


@dataclass
class Snapshot:
    machine: MachineInfo = field(default_factory=MachineInfo)
    procs: dict = field(default_factory=dict)       # tid -> ProcInfo (file order)
    users: list = field(default_factory=list)       # list[UserInfo]
    groups: list = field(default_factory=list)      # list[GroupInfo]
    interfaces: list = field(default_factory=list)  # list[InterfaceInfo]
