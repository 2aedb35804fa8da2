"""The batch: one event per row, one numpy array per column (SoA), plus the
tables rows point into.  DESIGN.md points 2-3.

Three namedtuples travel together into every evaluator:

  Batch       one row per event.  Strings (paths, cwd, args) live in the
              batch's byte `arena` at 8-byte aligned offsets, zero padded to
              the next 8 bytes, so a compiled kernel can compare them as u64
              words.  A string column is a pair <name>_off (u32) / <name>_len
              (i32); len -1 means "absent" (Falco prints <NA>).
  Procs       one slot per process image (a new slot at each exec); a row
              carries its slot in `slot`.  The slot's strings live in the
              Procs `arena`.  `parent` is the slot of the parent image (-1
              unknown), so proc.pname / proc.aname[N] walk slots.
  Containers  one row per container; a process slot carries `container`
              (-1 for the host).

Event parameters are stored per parameter index in 2-D columns shaped
(MAX_PARAMS, capacity): `arg_int[k, i]` for numeric parameters, and
`arg_off[k, i]`/`arg_len[k, i]` for byte parameters (in `arena`).  Which
parameter index holds what is given by the event-type table
(sensor/events/evttypes.py) for the row's (type, dir); bit k of `arg_mask[i]`
says parameter k is present.  uid/gid parameters keep the number in arg_int
and the user/group name the state engine resolved in arg_off/arg_len ("<NA>"
if unknown, "<NONE>" for -1), which is what Falco's evt.arg.uid shows.

The column lists below are the single source of truth: the namedtuple classes,
allocation, and the C header mirror (later, bpf/) derive from them.
"""
from __future__ import annotations

import mmap
from collections import namedtuple

import numpy as np

MAX_PARAMS = 32          # the largest event (execve exit) has fewer than this
COMM_LEN = 16            # the kernel's TASK_COMM_LEN: proc.name is two u64 words

# (column, dtype, meaning).  String columns are declared once as ("name", "str", ...)
# and expand to name_off (u32) and name_len (i32).
BATCH_COLUMNS = [
    ("num", np.uint64, "evt.num: ordinal of the event in its source"),
    ("ts", np.uint64, "evt.time: nanoseconds since the epoch"),
    ("type", np.uint16, "event type id (sensor.events.evttypes)"),
    ("code", np.uint16, "driver event code (PPME_*) the row was read as: the .scap writer's layout"),
    ("dir", np.uint8, "0 enter ('>'), 1 exit ('<')"),
    ("cpu", np.uint16, "CPU the event was captured on"),
    ("tid", np.int64, "thread id (host pid namespace)"),
    ("vtid", np.int64, "thread id in its own pid namespace"),
    ("slot", np.int32, "process slot of the thread's process image (-1 unknown)"),
    ("res", np.int64, "return value of the syscall (exit events); 0 on enter"),
    ("uid", np.int64, "effective uid of the thread at the event (-1 unknown)"),
    ("gid", np.int64, "effective gid of the thread at the event (-1 unknown)"),
    # Names resolved by the state engine (per container: /etc/passwd, /etc/group).
    ("user_name", "str", "user.name of uid"),
    ("group_name", "str", "group.name of gid"),
    ("user_loginname", "str", "user.loginname: name of the process's loginuid"),
    ("cap_effective", np.uint64, "thread capabilities at the event"),
    ("cap_permitted", np.uint64, ""),
    ("cap_inheritable", np.uint64, ""),
    ("cwd", "str", "working directory of the thread"),
    # The file descriptor the event acts on (the result for open/socket/accept,
    # the argument for read/connect/close ...), as the state engine knows it.
    ("fd", np.int64, "fd number (-1: the event has no fd)"),
    ("fd_type", np.uint8, "fd.typechar as its ASCII code: f 4 6 u p s e i t l o b ... (0 none)"),
    ("fd_name", "str", "fd.name: the resolved path or the connection tuple"),
    ("fd_nameraw", "str", "fd.nameraw: the path as the syscall passed it"),
    ("fd_l4proto", np.uint8, "0 unknown, 6 tcp, 17 udp, 1 icmp, 255 raw"),
    ("fd_family", np.uint8, "socket family: AF_INET=2, AF_INET6=10, AF_UNIX=1, 0 none"),
    # IP addresses as 128-bit big-endian values split in two u64 words; IPv4 is
    # IPv4-mapped IPv6 (::ffff:a.b.c.d).
    ("fd_cip_hi", np.uint64, "client address"),
    ("fd_cip_lo", np.uint64, ""),
    ("fd_sip_hi", np.uint64, "server address"),
    ("fd_sip_lo", np.uint64, ""),
    ("fd_cport", np.uint16, "client port"),
    ("fd_sport", np.uint16, "server port"),
    ("fd_role", np.uint8, "0 unknown, 1 this process is the client, 2 the server"),
    ("fd_connected", np.uint8, "1 once connect/accept completed"),
    ("fd_name_changed", np.uint8, "1 if this event changed fd.name (e.g. a udp connect)"),
    ("arg_mask", np.uint32, "bit k set: event parameter k is present (arg_int/arg_off/arg_len)"),
]

PROC_COLUMNS = [
    ("pid", np.int64, "process id (tgid) in the host namespace"),
    ("vpid", np.int64, "pid in its own pid namespace"),
    ("ppid", np.int64, "parent pid"),
    ("parent", np.int32, "slot of the parent's process image (-1 unknown)"),
    ("sid", np.int64, "session id"),
    ("session", np.int32, "slot of the session leader (-1 unknown)"),
    ("vpgid", np.int64, "process group id in its namespace"),
    ("pgroup", np.int32, "slot of the process-group leader (-1 unknown)"),
    ("comm", np.uint64, "proc.name: 16 bytes as two u64 words -> column shape (cap, 2)"),
    ("comm_len", np.uint8, "length of the name in bytes"),
    ("exe", "str", "proc.exe: argv[0] as executed"),
    ("exepath", "str", "proc.exepath: full path of the executable"),
    ("args", "str", "proc.args: arguments joined with spaces"),
    ("cmdline", "str", "proc.cmdline: name and args"),
    ("env", "str", "environment, entries separated by NUL"),
    ("cwd", "str", "working directory at exec (rows carry the current one)"),
    ("tty", np.int64, "controlling terminal device number, 0 none"),
    ("loginuid", np.int64, "audit login uid (-1 unset)"),
    ("start_ts", np.uint64, "start of the process image, ns since the epoch (proc.duration)"),
    ("exe_ino", np.uint64, "inode of the executable"),
    ("exe_ino_ctime", np.uint64, ""),
    ("exe_ino_mtime", np.uint64, ""),
    ("flags", np.uint32, "bit 0: exe from memfd, bit 1: exe on an overlay upper layer, "
                         "bit 2: exe writable by its user"),
    ("container", np.int32, "row in Containers (-1: host)"),
]

# The Containers arena starts with "host" (zero padded to 8 bytes): container.id
# and container.name of host processes (container -1) read it there.
HOST_OFF, HOST_LEN = 0, 4

CONTAINER_COLUMNS = [
    ("id", "str", "container.id: 12 hex characters, 'host' for the host"),
    ("name", "str", ""),
    ("image", "str", "image with tag"),
    ("image_repository", "str", ""),
    ("image_tag", "str", ""),
    ("privileged", np.int8, "1 privileged, 0 not, -1 unknown"),
    ("start_ts", np.uint64, ""),
    ("mounts", "str", "mount destinations separated by NUL"),
    ("mount_sources", "str", "mount sources separated by NUL, in the order of mounts"),
]

# Column shapes other than (capacity,): name -> extra trailing dims.
_WIDE = {"comm": (2,)}


def _expand(columns):
    """Yield (name, dtype, shape_suffix) with str columns split into _off/_len."""
    for name, dtype, _ in columns:
        if dtype == "str":
            yield name + "_off", np.dtype(np.uint32), ()
            yield name + "_len", np.dtype(np.int32), ()
        else:
            yield name, np.dtype(dtype), _WIDE.get(name, ())


def column_names(columns):
    return [n for n, _, _ in _expand(columns)]


_ARG_FIELDS = ["arg_int", "arg_off", "arg_len"]
Batch = namedtuple("Batch", column_names(BATCH_COLUMNS) + _ARG_FIELDS + ["arena", "n"])
# comm_bytes: the `comm` column seen as bytes (capacity * 16 uint8, the same
# memory, not a copy), so an accessor can hand out proc.name as (buf, off, len)
# without reinterpreting u64 words per row (numba's array.view is slow per call).
Procs = namedtuple("Procs", column_names(PROC_COLUMNS) + ["comm_bytes", "arena", "n"])
Containers = namedtuple("Containers", column_names(CONTAINER_COLUMNS) + ["arena", "n"])
Batch.__module__ = Procs.__module__ = Containers.__module__ = __name__


def zeros(shape, dtype, shared: bool = False) -> np.ndarray:
    """np.zeros, or the same in anonymous shared memory (MAP_SHARED): processes
    forked afterwards see every write, and no named segment exists that could
    outlive them (DESIGN.md point 2: process slots are shared, not copied)."""
    if not shared:
        return np.zeros(shape, dtype)
    dt = np.dtype(dtype)
    count = int(np.prod(shape))
    buf = mmap.mmap(-1, max(count * dt.itemsize, 1),
                    flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    return np.frombuffer(buf, dt, count=count).reshape(shape)


def _alloc(columns, capacity, shared=False):
    arrays = {}
    for name, dtype, extra in _expand(columns):
        arrays[name] = zeros((capacity,) + extra, dtype, shared)
        if name.endswith("_len") and dtype == np.int32:
            arrays[name][:] = -1
    return arrays


def allocate_batch(capacity: int, arena_bytes: int, shared: bool = False) -> Batch:
    """A batch with room for `capacity` rows.  Every table's `n` is a 2-element int64
    array: n[0] rows in use, n[1] bytes of the arena in use (writers append there).
    `shared`: in anonymous shared memory, for processes forked afterwards."""
    a = _alloc(BATCH_COLUMNS, capacity, shared)
    a["arg_int"] = zeros((MAX_PARAMS, capacity), np.int64, shared)
    a["arg_off"] = zeros((MAX_PARAMS, capacity), np.uint32, shared)
    a["arg_len"] = zeros((MAX_PARAMS, capacity), np.int32, shared)
    a["arg_len"][:] = -1
    a["arena"] = zeros(arena_bytes, np.uint8, shared)
    a["n"] = zeros(2, np.int64, shared)
    return Batch(**a)


def grow_arena(table, need: int):
    """The table with a bigger arena: a new array holding the bytes so far,
    with room for at least `need` bytes."""
    arena = np.zeros(max(2 * table.arena.shape[0], need + 8), np.uint8)
    used = int(table.n[1])
    arena[:used] = table.arena[:used]
    return table._replace(arena=arena)


def allocate_procs(capacity: int, arena_bytes: int, shared: bool = False) -> Procs:
    """Process slots; `shared`: in anonymous shared memory (see zeros())."""
    a = _alloc(PROC_COLUMNS, capacity, shared)
    a["comm_bytes"] = a["comm"].reshape(-1).view(np.uint8)
    for link in ("parent", "session", "pgroup", "container"):
        a[link][:] = -1
    a["arena"] = zeros(arena_bytes, np.uint8, shared)
    a["n"] = zeros(2, np.int64, shared)
    return Procs(**a)


def allocate_containers(capacity: int, arena_bytes: int, shared: bool = False) -> Containers:
    """Container rows; `shared`: in anonymous shared memory (see zeros())."""
    a = _alloc(CONTAINER_COLUMNS, capacity, shared)
    a["privileged"][:] = -1
    a["arena"] = zeros(max(arena_bytes, 8), np.uint8, shared)
    a["arena"][HOST_OFF:HOST_OFF + HOST_LEN] = np.frombuffer(b"host", np.uint8)
    a["n"] = zeros(2, np.int64, shared)
    return Containers(**a)


def arena_append(table, value, shared: bool = False):
    """Append bytes `value` to a table's arena at n[1] (8-byte aligned, zero padded)
    and advance n[1].  A full arena is replaced by a bigger one, so the table comes
    back: (table, off, len); (table, 0, -1) for None (absent)."""
    if value is None:
        return table, 0, -1
    at = int(table.n[1])
    end = at + len(value)
    padded = end + (-end % 8)
    if padded > table.arena.size:
        bigger = zeros(max(2 * table.arena.size, padded), np.uint8, shared)
        bigger[:at] = table.arena[:at]
        table = table._replace(arena=bigger)
    table.arena[at:end] = np.frombuffer(value, np.uint8)
    table.arena[end:padded] = 0
    table.n[1] = padded
    return table, at, len(value)
