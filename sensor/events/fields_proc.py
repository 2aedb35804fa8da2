"""proc.* fields: the process image of the event's thread, and its ancestors.

A row carries its process slot (B.slot); the slot carries the image's strings
and links: `parent` (proc.pname, proc.aname[N] walk these), `session`
(proc.sname) and `pgroup` (proc.vpgid.name), each -1 when unknown.  An
unknown parent makes every parent field absent; an unknown session or group
leader falls back to the process itself (Falco falls back to the eldest known
ancestor in the same session, the process itself at least).
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from .accessors import ancestor, env_value, span
from .batch import COMM_LEN
from .fields import Arg, FieldTable, FType

MAX_DEPTH = 64       # proc.aname without an index: ancestors 1..MAX_DEPTH
_ANY = f"any=1:{MAX_DEPTH}"

T = FieldTable([
    # (name, type, argument, flags,
    #  description)
    ("proc.name",                              FType.CHARBUF, Arg.NONE,    "",
     "Process name (comm, up to 16 bytes)"),
    ("proc.exe",                               FType.CHARBUF, Arg.NONE,    "",
     "First command line argument (argv[0])"),
    ("proc.exepath",                           FType.CHARBUF, Arg.NONE,    "",
     "Full path of the executable"),
    ("proc.args",                              FType.CHARBUF, Arg.NONE,    "",
     "Command line arguments after argv[0], space separated"),
    ("proc.cmdline",                           FType.CHARBUF, Arg.NONE,    "",
     "proc.name and proc.args"),
    ("proc.cwd",                               FType.CHARBUF, Arg.NONE,    "",
     "Current working directory of the thread"),
    ("proc.env",                               FType.CHARBUF, Arg.OPT_KEY, "",
     "Environment (proc.env), or one variable's value (proc.env[HOME])"),
    ("proc.pid",                               FType.INT64,   Arg.NONE,    "",
     "Process id"),
    ("proc.ppid",                              FType.INT64,   Arg.NONE,    "",
     "Parent process id"),
    ("proc.vpid",                              FType.INT64,   Arg.NONE,    "",
     "Process id in its pid namespace"),
    ("proc.pvpid",                             FType.INT64,   Arg.NONE,    "",
     "Parent process id in its pid namespace"),
    ("proc.sid",                               FType.INT64,   Arg.NONE,    "",
     "Session id"),
    ("proc.vpgid",                             FType.INT64,   Arg.NONE,    "",
     "Process group id in its pid namespace"),
    ("proc.tty",                               FType.UINT32,  Arg.NONE,    "",
     "Controlling terminal (0 for none)"),
    ("proc.pname",                             FType.CHARBUF, Arg.NONE,    "",
     "Parent's proc.name"),
    ("proc.pexe",                              FType.CHARBUF, Arg.NONE,    "",
     "Parent's proc.exe"),
    ("proc.pexepath",                          FType.CHARBUF, Arg.NONE,    "",
     "Parent's proc.exepath"),
    ("proc.pcmdline",                          FType.CHARBUF, Arg.NONE,    "",
     "Parent's proc.cmdline"),
    ("proc.aname",                             FType.CHARBUF, Arg.OPT_INDEX, _ANY,
     "proc.name of ancestor N (0: the process); no index: any ancestor"),
    ("proc.apid",                              FType.INT64,   Arg.OPT_INDEX, _ANY,
     "proc.pid of ancestor N; no index: any ancestor"),
    ("proc.aexe",                              FType.CHARBUF, Arg.OPT_INDEX, _ANY,
     "proc.exe of ancestor N; no index: any ancestor"),
    ("proc.aexepath",                          FType.CHARBUF, Arg.OPT_INDEX, _ANY,
     "proc.exepath of ancestor N; no index: any ancestor"),
    ("proc.acmdline",                          FType.CHARBUF, Arg.OPT_INDEX, _ANY,
     "proc.cmdline of ancestor N; no index: any ancestor"),
    ("proc.sname",                             FType.CHARBUF, Arg.NONE,    "",
     "proc.name of the session leader"),
    ("proc.sid.exe",                           FType.CHARBUF, Arg.NONE,    "",
     "proc.exe of the session leader"),
    ("proc.sid.exepath",                       FType.CHARBUF, Arg.NONE,    "",
     "proc.exepath of the session leader"),
    ("proc.vpgid.name",                        FType.CHARBUF, Arg.NONE,    "",
     "proc.name of the process group leader"),
    ("proc.vpgid.exe",                         FType.CHARBUF, Arg.NONE,    "",
     "proc.exe of the process group leader"),
    ("proc.vpgid.exepath",                     FType.CHARBUF, Arg.NONE,    "",
     "proc.exepath of the process group leader"),
    ("proc.is_sid_leader",                     FType.BOOL,    Arg.NONE,    "",
     "true if the process leads its session (sid == vpid)"),
    ("proc.is_vpgid_leader",                   FType.BOOL,    Arg.NONE,    "",
     "true if the process leads its process group (vpgid == vpid)"),
    ("proc.duration",                          FType.RELTIME, Arg.NONE,    "",
     "Nanoseconds since the process image started"),
    ("proc.ppid.duration",                     FType.RELTIME, Arg.NONE,    "",
     "Nanoseconds since the parent started"),
    ("proc.pid.ts",                            FType.ABSTIME, Arg.NONE,    "",
     "Start of the process image, ns since the epoch"),
    ("proc.ppid.ts",                           FType.ABSTIME, Arg.NONE,    "",
     "Start of the parent, ns since the epoch"),
    ("proc.is_exe_writable",                   FType.BOOL,    Arg.NONE,    "",
     "true if the executable is writable by the user that ran it"),
    ("proc.is_exe_upper_layer",                FType.BOOL,    Arg.NONE,    "",
     "true if the executable is on an overlayfs upper layer"),
    ("proc.is_exe_from_memfd",                 FType.BOOL,    Arg.NONE,    "",
     "true if the executable is a memfd_create file"),
    ("proc.exe_ino",                           FType.INT64,   Arg.NONE,    "",
     "Inode number of the executable"),
    ("proc.exe_ino.ctime",                     FType.ABSTIME, Arg.NONE,    "",
     "Status change time (ctime) of the executable, ns"),
    ("proc.exe_ino.mtime",                     FType.ABSTIME, Arg.NONE,    "",
     "Modification time (mtime) of the executable, ns"),
    ("proc.exe_ino.ctime_duration_proc_start", FType.ABSTIME, Arg.NONE,    "",
     "Nanoseconds between the executable's ctime and the process start"),
])

EXE_FROM_MEMFD, EXE_UPPER_LAYER, EXE_WRITABLE = 1, 2, 4


# --- reading a slot -------------------------------------------------------------

# Helpers take ints and arrays and return ints; bodies return the buffer (accessors.py).

@register_jitable
def comm(lens, s):
    """Span of slot s's proc.name in Procs.comm_bytes (the comm words as bytes)."""
    if s < 0:
        return np.int64(0), np.int64(-1)
    return np.int64(s * COMM_LEN), np.int64(lens[s])


@register_jitable
def leader(links, s):
    """The slot's session / group leader; the slot itself when unknown."""
    if s < 0:
        return np.int64(-1)
    lead = np.int64(links[s])
    return lead if lead >= 0 else np.int64(s)


@register_jitable
def num(col, s):
    if s < 0:
        return np.int64(0), False
    return np.int64(col[s]), True


@register_jitable
def flag(flags, s, bit):
    if s < 0:
        return np.int64(0), False
    return np.int64((flags[s] & bit) != 0), True


@register_jitable
def parent(parents, s):
    return np.int64(parents[s]) if s >= 0 else np.int64(-1)


@register_jitable
def since_start(ts, start_ts, s):
    if s < 0 or start_ts[s] == 0:
        return np.int64(0), False
    return np.int64(ts) - np.int64(start_ts[s]), True


# --- the process --------------------------------------------------------------------

@T.get("proc.name")
def _name(B, P, C, i, arg, key):
    off, ln = comm(P.comm_len, B.slot[i])
    return P.comm_bytes, off, ln


@T.get("proc.exe")
def _exe(B, P, C, i, arg, key):
    off, ln = span(P.exe_off, P.exe_len, B.slot[i])
    return P.arena, off, ln


@T.get("proc.exepath")
def _exepath(B, P, C, i, arg, key):
    off, ln = span(P.exepath_off, P.exepath_len, B.slot[i])
    return P.arena, off, ln


@T.get("proc.args")
def _args(B, P, C, i, arg, key):
    off, ln = span(P.args_off, P.args_len, B.slot[i])
    return P.arena, off, ln


@T.get("proc.cmdline")
def _cmdline(B, P, C, i, arg, key):
    off, ln = span(P.cmdline_off, P.cmdline_len, B.slot[i])
    return P.arena, off, ln


@T.get("proc.cwd")
def _cwd(B, P, C, i, arg, key):
    return B.arena, np.int64(B.cwd_off[i]), np.int64(B.cwd_len[i])


@register_jitable
def env(arena, offs, lens, s, key):
    """Span of the whole environment, or of the value of variable `key`."""
    if s < 0 or lens[s] < 0:
        return np.int64(0), np.int64(-1)
    if key.size == 0:
        return np.int64(offs[s]), np.int64(lens[s])
    return env_value(arena, np.int64(offs[s]), np.int64(lens[s]), key)


@T.get("proc.env")
def _env(B, P, C, i, arg, key):
    off, ln = env(P.arena, P.env_off, P.env_len, np.int64(B.slot[i]), key)
    return P.arena, off, ln


@T.text("proc.env")
def _env_text(B, P, C, i, arg, key):
    buf, off, ln = _env.py_func(B, P, C, i, arg, np.frombuffer(key or b"", np.uint8))
    if ln < 0:
        return None
    return bytes(buf[off:off + ln]).replace(b"\0", b" ").decode("utf-8", "replace")


@T.get("proc.pid")
def _pid(B, P, C, i, arg, key):
    return num(P.pid, B.slot[i])


@T.get("proc.ppid")
def _ppid(B, P, C, i, arg, key):
    return num(P.ppid, B.slot[i])


@T.get("proc.vpid")
def _vpid(B, P, C, i, arg, key):
    return num(P.vpid, B.slot[i])


@T.get("proc.pvpid")
def _pvpid(B, P, C, i, arg, key):
    s = parent(P.parent, B.slot[i])
    return num(P.vpid, s)


@T.get("proc.sid")
def _sid(B, P, C, i, arg, key):
    return num(P.sid, B.slot[i])


@T.get("proc.vpgid")
def _vpgid(B, P, C, i, arg, key):
    return num(P.vpgid, B.slot[i])


@T.get("proc.tty")
def _tty(B, P, C, i, arg, key):
    return num(P.tty, B.slot[i])


# --- parent and ancestors --------------------------------------------------------------

@T.get("proc.pname")
def _pname(B, P, C, i, arg, key):
    s = parent(P.parent, B.slot[i])
    off, ln = comm(P.comm_len, s)
    return P.comm_bytes, off, ln


@T.get("proc.pexe")
def _pexe(B, P, C, i, arg, key):
    s = parent(P.parent, B.slot[i])
    off, ln = span(P.exe_off, P.exe_len, s)
    return P.arena, off, ln


@T.get("proc.pexepath")
def _pexepath(B, P, C, i, arg, key):
    s = parent(P.parent, B.slot[i])
    off, ln = span(P.exepath_off, P.exepath_len, s)
    return P.arena, off, ln


@T.get("proc.pcmdline")
def _pcmdline(B, P, C, i, arg, key):
    s = parent(P.parent, B.slot[i])
    off, ln = span(P.cmdline_off, P.cmdline_len, s)
    return P.arena, off, ln


@T.get("proc.aname")
def _aname(B, P, C, i, arg, key):
    s = ancestor(P.parent, B.slot[i], arg)
    off, ln = comm(P.comm_len, s)
    return P.comm_bytes, off, ln


@T.get("proc.apid")
def _apid(B, P, C, i, arg, key):
    s = ancestor(P.parent, B.slot[i], arg)
    return num(P.pid, s)


@T.get("proc.aexe")
def _aexe(B, P, C, i, arg, key):
    s = ancestor(P.parent, B.slot[i], arg)
    off, ln = span(P.exe_off, P.exe_len, s)
    return P.arena, off, ln


@T.get("proc.aexepath")
def _aexepath(B, P, C, i, arg, key):
    s = ancestor(P.parent, B.slot[i], arg)
    off, ln = span(P.exepath_off, P.exepath_len, s)
    return P.arena, off, ln


@T.get("proc.acmdline")
def _acmdline(B, P, C, i, arg, key):
    s = ancestor(P.parent, B.slot[i], arg)
    off, ln = span(P.cmdline_off, P.cmdline_len, s)
    return P.arena, off, ln


# --- session and process group -----------------------------------------------------------

@T.get("proc.sname")
def _sname(B, P, C, i, arg, key):
    s = leader(P.session, B.slot[i])
    off, ln = comm(P.comm_len, s)
    return P.comm_bytes, off, ln


@T.get("proc.sid.exe")
def _sid_exe(B, P, C, i, arg, key):
    s = leader(P.session, B.slot[i])
    off, ln = span(P.exe_off, P.exe_len, s)
    return P.arena, off, ln


@T.get("proc.sid.exepath")
def _sid_exepath(B, P, C, i, arg, key):
    s = leader(P.session, B.slot[i])
    off, ln = span(P.exepath_off, P.exepath_len, s)
    return P.arena, off, ln


@T.get("proc.vpgid.name")
def _vpgid_name(B, P, C, i, arg, key):
    s = leader(P.pgroup, B.slot[i])
    off, ln = comm(P.comm_len, s)
    return P.comm_bytes, off, ln


@T.get("proc.vpgid.exe")
def _vpgid_exe(B, P, C, i, arg, key):
    s = leader(P.pgroup, B.slot[i])
    off, ln = span(P.exe_off, P.exe_len, s)
    return P.arena, off, ln


@T.get("proc.vpgid.exepath")
def _vpgid_exepath(B, P, C, i, arg, key):
    s = leader(P.pgroup, B.slot[i])
    off, ln = span(P.exepath_off, P.exepath_len, s)
    return P.arena, off, ln


@register_jitable
def same(a, b, s):
    if s < 0:
        return np.int64(0), False
    return np.int64(a[s] == b[s]), True


@T.get("proc.is_sid_leader")
def _is_sid_leader(B, P, C, i, arg, key):
    return same(P.sid, P.vpid, np.int64(B.slot[i]))


@T.get("proc.is_vpgid_leader")
def _is_vpgid_leader(B, P, C, i, arg, key):
    return same(P.vpgid, P.vpid, np.int64(B.slot[i]))


# --- times and the executable ---------------------------------------------------------------

@T.get("proc.duration")
def _duration(B, P, C, i, arg, key):
    return since_start(B.ts[i], P.start_ts, np.int64(B.slot[i]))


@T.get("proc.ppid.duration")
def _ppid_duration(B, P, C, i, arg, key):
    s = parent(P.parent, B.slot[i])
    return since_start(B.ts[i], P.start_ts, s)


@T.get("proc.pid.ts")
def _pid_ts(B, P, C, i, arg, key):
    return num(P.start_ts, B.slot[i])


@T.get("proc.ppid.ts")
def _ppid_ts(B, P, C, i, arg, key):
    s = parent(P.parent, B.slot[i])
    return num(P.start_ts, s)


@T.get("proc.is_exe_writable")
def _is_exe_writable(B, P, C, i, arg, key):
    return flag(P.flags, B.slot[i], EXE_WRITABLE)


@T.get("proc.is_exe_upper_layer")
def _is_exe_upper_layer(B, P, C, i, arg, key):
    return flag(P.flags, B.slot[i], EXE_UPPER_LAYER)


@T.get("proc.is_exe_from_memfd")
def _is_exe_from_memfd(B, P, C, i, arg, key):
    return flag(P.flags, B.slot[i], EXE_FROM_MEMFD)


@T.get("proc.exe_ino")
def _exe_ino(B, P, C, i, arg, key):
    return num(P.exe_ino, B.slot[i])


@T.get("proc.exe_ino.ctime")
def _exe_ino_ctime(B, P, C, i, arg, key):
    return num(P.exe_ino_ctime, B.slot[i])


@T.get("proc.exe_ino.mtime")
def _exe_ino_mtime(B, P, C, i, arg, key):
    return num(P.exe_ino_mtime, B.slot[i])


@register_jitable
def ctime_to_start(ctime, start_ts, s):
    if s < 0 or ctime[s] == 0 or start_ts[s] == 0:
        return np.int64(0), False
    return np.int64(start_ts[s]) - np.int64(ctime[s]), True


@T.get("proc.exe_ino.ctime_duration_proc_start")
def _exe_ctime_to_start(B, P, C, i, arg, key):
    return ctime_to_start(P.exe_ino_ctime, P.start_ts, np.int64(B.slot[i]))


FIELDS = T.fields()
