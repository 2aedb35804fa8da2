"""What the state engine does with each event type, as arrays indexed by type id
(the kernel reads them as frozen constants).

Facts from the driver's event table (EF_USES_FD / EF_CREATES_FD /
EF_DESTROYS_FD flags, as the sysdig 0.29 generation has them) and from
libsinsp's parsers:

  USES_FD       the event acts on an existing fd: the enter event names it
                (usually parameter "fd"), the exit reuses it
  FD_EVENT      by (type, dir): fd fields exist for the event (uses, creates or
                destroys one); other events show no fd at all
  NULL_CHAR     fd.typechar when the event's fd is unknown (Falco guesses it
                from the event type: 'f' for the open family, '4' for socket...)
  EXIT_ACTION   what an exit event changes (A_* below); SLOW ones are handled
                by Python (state_procs.py), the rest inside the kernel
  STASH_*       enter parameters kept per thread for the matching exit, which
                in older captures lacks them (openat's name, connect's address,
                sendto's tuple, execve's filename, socket's domain ...)
  PIDX          index of a named parameter in each (type, dir) layout
"""
from __future__ import annotations

import numpy as np

from sensor.events import evttypes as ET

# Exit actions.
(A_NONE, A_OPEN, A_SOCKET, A_BIND, A_CONNECT, A_ACCEPT, A_RECV, A_SEND, A_CLOSE, A_DUP,
 A_FCNTL, A_PIPE, A_NEWFD, A_SOCKETPAIR, A_MEMFD, A_SLOW) = range(16)

# Named parameters the engine reads (columns of PIDX).
PARAMS = ("fd", "name", "flags", "mode", "dirfd", "dev", "ino", "path", "domain", "type",
          "proto", "addr", "tuple", "fd1", "fd2", "source", "peer", "oldfd", "newfd", "cmd",
          "out_fd", "fd_in", "fdin", "fdout", "filename", "pathname", "res_or_fd")
P = {name: k for k, name in enumerate(PARAMS)}

USES_FD_TYPES = {
    "close": "fd", "read": "fd", "write": "fd", "bind": "fd", "connect": "fd", "listen": "fd",
    "send": "fd", "sendto": "fd", "recv": "fd", "recvfrom": "fd", "shutdown": "fd",
    "setsockopt": "fd", "getsockopt": "fd", "sendmsg": "fd", "recvmsg": "fd", "fstat": "fd",
    "fstat64": "fd", "lseek": "fd", "llseek": "fd", "ioctl": "fd", "fchdir": "fd",
    "pread": "fd", "pwrite": "fd", "readv": "fd", "writev": "fd", "preadv": "fd",
    "pwritev": "fd", "dup": "fd", "dup2": "fd", "dup3": "fd", "fcntl": "fd", "splice": "fd_in",
    "sendfile": "out_fd", "getdents": "fd", "getdents64": "fd", "setns": "fd", "flock": "fd",
    "copy_file_range": "fdin", "io_uring_enter": "fd", "io_uring_register": "fd",
}
# Events whose enter direction is not an fd event (the driver flags only the exit).
EXIT_ONLY_FD = {"setsockopt", "getsockopt"}
# The exit's own fd parameter when it differs from the enter's.
EXIT_FD_PARAM = {"copy_file_range": "fdout"}

# Events that create fds: exit action and fd.typechar of the new fd.
CREATES = {
    "open": (A_OPEN, "f"), "creat": (A_OPEN, "f"), "openat": (A_OPEN, "f"),
    "openat2": (A_OPEN, "f"), "open_by_handle_at": (A_OPEN, "f"),
    "socket": (A_SOCKET, "o"), "accept": (A_ACCEPT, "4"), "accept4": (A_ACCEPT, "4"),
    "socketpair": (A_SOCKETPAIR, "u"), "pipe": (A_PIPE, "p"), "pipe2": (A_PIPE, "p"),
    "eventfd": (A_NEWFD, "e"), "eventfd2": (A_NEWFD, "e"), "signalfd": (A_NEWFD, "s"),
    "signalfd4": (A_NEWFD, "s"), "timerfd_create": (A_NEWFD, "t"),
    "inotify_init": (A_NEWFD, "i"), "inotify_init1": (A_NEWFD, "i"), "bpf": (A_NEWFD, "b"),
    "userfaultfd": (A_NEWFD, "u"), "io_uring_setup": (A_NEWFD, "r"),
    "epoll_create": (A_NEWFD, "l"), "epoll_create1": (A_NEWFD, "l"),
    "pidfd_open": (A_NEWFD, "P"), "pidfd_getfd": (A_NEWFD, "o"),
    "memfd_create": (A_MEMFD, "m"),
    "dup": (A_DUP, ""), "dup2": (A_DUP, ""), "dup3": (A_DUP, ""),
}
# fd.typechar Falco guesses for an event whose fd it does not know (by the
# event's enter code: only the original, first-generation calls are listed).
NULL_CHARS = {"open": "f", "openat": "f", "openat2": "f", "creat": "f", "socket": "4",
              "accept": "4", "accept4": "4", "pipe": "p", "eventfd": "e", "signalfd": "s",
              "timerfd_create": "t", "inotify_init": "i"}
OTHER_EXITS = {"bind": A_BIND, "connect": A_CONNECT, "recvfrom": A_RECV, "recvmsg": A_RECV,
               "sendto": A_SEND, "sendmsg": A_SEND, "close": A_CLOSE, "fcntl": A_FCNTL}
# Exits Python handles: processes, cwd, credentials.
SLOW_EXITS = {"clone", "fork", "vfork", "clone3", "execve", "execveat", "chdir", "fchdir",
              "setuid", "setgid", "setresuid", "setresgid", "capset", "setsid"}
# Events with an enter direction only that Python handles.
SLOW_ENTERS = {"procexit", "container", "useradded", "userdeleted", "groupadded",
               "groupdeleted"}
# Events for which Falco never makes up a thread when the tid is unknown.
NO_THREAD = {"switch", "procexit", "clone", "fork", "vfork", "clone3", "container",
             "useradded", "userdeleted", "groupadded", "groupdeleted", "drop", "procinfo",
             "scapevent", "cpu_hotplug", "k8s", "mesos", "notification", "infra",
             "pluginevent", "asyncevent", "tracer"}

# Events libsinsp does not count as the thread's last enter event (EF_SKIPPARSERESET
# and the scheduler switch): they must not break an enter/exit pair around them.
KEEP_PAIRING = {"switch", "drop", "scapevent", "procinfo", "cpu_hotplug", "k8s", "mesos",
                "notification", "infra", "page_fault", "container", "useradded",
                "userdeleted", "groupadded", "groupdeleted", "pluginevent", "asyncevent"}

# Enter parameters stashed per thread: numbers into T_E0..T_E3, one byte parameter.
STASH = {
    "open": (("flags", "mode"), "name"),
    "creat": (("mode",), "name"),
    "openat": (("flags", "mode", "dirfd"), "name"),
    "openat2": (("flags", "mode", "dirfd"), "name"),
    "socket": (("domain", "type", "proto"), None),
    "socketpair": (("domain", "type", "proto"), None),
    "connect": ((), "addr"),
    "sendto": ((), "tuple"),
    "sendmsg": ((), "tuple"),
    "fcntl": (("cmd",), None),
    "execve": ((), "filename"),
    "execveat": (("flags", "dirfd"), "pathname"),
    "setuid": (("uid",), None),
    "setgid": (("gid",), None),
    "setresuid": (("ruid", "euid", "suid"), None),
    "setresgid": (("rgid", "egid", "sgid"), None),
}
STASH_NAMES = tuple(sorted({n for nums, _ in STASH.values() for n in nums}))


def _build():
    n = len(ET.TYPES)
    pidx = np.full((2 * n, len(PARAMS)), -1, np.int8)
    uses_fd = np.zeros(n, np.uint8)
    fd_event = np.zeros(2 * n, np.uint8)          # by slot: type * 2 + dir
    enter_fd = np.full(n, -1, np.int8)
    exit_fd = np.full(n, -1, np.int8)
    null_char = np.full(n, ord("o"), np.uint8)
    new_char = np.full(n, ord("o"), np.uint8)
    exit_action = np.zeros(n, np.uint8)
    slow_enter = np.zeros(n, np.uint8)
    no_thread = np.zeros(n, np.uint8)
    keep_pairing = np.zeros(n, np.uint8)
    stash_num = np.full((n, 4), -1, np.int8)
    exit_num = np.full((n, 4), -1, np.int8)
    stash_blob = np.full(n, -1, np.int8)
    exit_blob = np.full(n, -1, np.int8)
    for t in ET.TYPES:
        for d in (ET.ENTER, ET.EXIT):
            for k, p in enumerate(t.params(d)):
                if p.name in P and pidx[2 * t.id + d, P[p.name]] < 0:
                    pidx[2 * t.id + d, P[p.name]] = k
        name = t.name
        if name in USES_FD_TYPES:
            uses_fd[t.id] = 1
            fd_event[2 * t.id + 1] = 1
            fd_event[2 * t.id] = name not in EXIT_ONLY_FD
            enter_fd[t.id] = ET.param_index(t.id, ET.ENTER, USES_FD_TYPES[name])
            exit_fd[t.id] = ET.param_index(t.id, ET.EXIT,
                                           EXIT_FD_PARAM.get(name, USES_FD_TYPES[name]))
        if name in CREATES:
            fd_event[2 * t.id:2 * t.id + 2] = 1
            action, char = CREATES[name]
            exit_action[t.id] = action
            if char:
                new_char[t.id] = ord(char)
        if name in NULL_CHARS:
            null_char[t.id] = ord(NULL_CHARS[name])
        if name in OTHER_EXITS:
            exit_action[t.id] = OTHER_EXITS[name]
        if name in SLOW_EXITS:
            exit_action[t.id] = A_SLOW
        if name in SLOW_ENTERS:
            slow_enter[t.id] = 1
        if name in NO_THREAD:
            no_thread[t.id] = 1
        if name in KEEP_PAIRING:
            keep_pairing[t.id] = 1
        if name in STASH:
            nums, blob = STASH[name]
            for j, pn in enumerate(nums):
                stash_num[t.id, j] = ET.param_index(t.id, ET.ENTER, pn)
                exit_num[t.id, j] = ET.param_index(t.id, ET.EXIT, pn)
            if blob:
                stash_blob[t.id] = ET.param_index(t.id, ET.ENTER, blob)
                exit_blob[t.id] = ET.param_index(t.id, ET.EXIT, blob)
    out = dict(PIDX=pidx, USES_FD=uses_fd, FD_EVENT=fd_event, ENTER_FD=enter_fd,
               EXIT_FD=exit_fd, NULL_CHAR=null_char, NEW_CHAR=new_char,
               EXIT_ACTION=exit_action, SLOW_ENTER=slow_enter, NO_THREAD=no_thread,
               KEEP_PAIRING=keep_pairing,
               STASH_NUM=stash_num, EXIT_NUM=exit_num, STASH_BLOB=stash_blob,
               EXIT_BLOB=exit_blob)
    for a in out.values():
        a.flags.writeable = False
    return out


_T = _build()
PIDX = _T["PIDX"]
USES_FD = _T["USES_FD"]
FD_EVENT = _T["FD_EVENT"]
ENTER_FD = _T["ENTER_FD"]
EXIT_FD = _T["EXIT_FD"]
NULL_CHAR = _T["NULL_CHAR"]
NEW_CHAR = _T["NEW_CHAR"]
EXIT_ACTION = _T["EXIT_ACTION"]
SLOW_ENTER = _T["SLOW_ENTER"]
NO_THREAD = _T["NO_THREAD"]
KEEP_PAIRING = _T["KEEP_PAIRING"]
STASH_NUM = _T["STASH_NUM"]
EXIT_NUM = _T["EXIT_NUM"]
STASH_BLOB = _T["STASH_BLOB"]
EXIT_BLOB = _T["EXIT_BLOB"]

TYPE_ID = {t.name: t.id for t in ET.TYPES}


def is_slow_row(etype: int, edir: int) -> bool:
    return bool(SLOW_ENTER[etype]) if edir == ET.ENTER else EXIT_ACTION[etype] == A_SLOW


def stash_index(etype: int, pname: str) -> int:
    """Which T_E* slot (0..3) holds enter parameter pname for this type, -1 if none."""
    nums, _ = STASH.get(ET.type_name(etype), ((), None))
    return nums.index(pname) if pname in nums else -1
