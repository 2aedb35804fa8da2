"""evt.* fields: the event itself (type, direction, time, result, parameters)."""
from __future__ import annotations

import socket
import time

import numpy as np
from numba.extending import register_jitable

from . import evttypes as ET
from .accessors import pack_names, span
from .evtargs import (arg_num, arg_span, evt_arg_plan, evt_arg_text,  # noqa: F401
                      evt_args_text, evt_rawarg_text, get_arg_num, get_arg_str, param_k,
                      resolve_param)
from .fields import Arg, FieldTable, FType
from .flags import table as flag_table

T = FieldTable([
    # (name, type, argument, flags,
    #  description)
    ("evt.num",            FType.UINT64,  Arg.NONE, "",
     "Event number, in the order of its source"),
    ("evt.time",           FType.ABSTIME, Arg.NONE, "",
     "Event timestamp; prints as local time HH:MM:SS.nnnnnnnnn"),
    ("evt.time.s",         FType.ABSTIME, Arg.NONE, "",
     "Event timestamp; prints as HH:MM:SS"),
    ("evt.time.iso8601",   FType.ABSTIME, Arg.NONE, "",
     "Event timestamp; prints as ISO 8601 UTC with nanoseconds"),
    ("evt.datetime",       FType.ABSTIME, Arg.NONE, "",
     "Event timestamp; prints as local YYYY-MM-DD HH:MM:SS.nnnnnnnnn"),
    ("evt.datetime.s",     FType.ABSTIME, Arg.NONE, "",
     "Event timestamp; prints as local YYYY-MM-DD HH:MM:SS"),
    ("evt.rawtime",        FType.ABSTIME, Arg.NONE, "",
     "Event timestamp in nanoseconds since the epoch"),
    ("evt.rawtime.s",      FType.ABSTIME, Arg.NONE, "",
     "Integer part of the timestamp in seconds"),
    ("evt.rawtime.ns",     FType.ABSTIME, Arg.NONE, "",
     "Fractional part of the timestamp in nanoseconds"),
    ("evt.type",           FType.CHARBUF, Arg.NONE, "",
     "Event type name (open, execve, madvise...)"),
    ("evt.dir",            FType.CHARBUF, Arg.NONE, "",
     "Direction: '>' enter, '<' exit"),
    ("evt.cpu",            FType.INT32,   Arg.NONE, "",
     "CPU the event was captured on"),
    ("evt.category",       FType.CHARBUF, Arg.NONE, "",
     "Category: file, net, ipc, process, memory... (I/O events: by fd type)"),
    ("evt.source",         FType.CHARBUF, Arg.NONE, "",
     "Event source: syscall"),
    ("evt.hostname",       FType.CHARBUF, Arg.NONE, "output_only",
     "Host name of the machine (outputs only)"),
    ("evt.res",            FType.CHARBUF, Arg.NONE, "",
     "Result as text: SUCCESS, or the error name (ENOENT...); exit events only"),
    ("evt.rawres",         FType.INT64,   Arg.NONE, "",
     "Result as a number; exit events only"),
    ("evt.failed",         FType.BOOL,    Arg.NONE, "",
     "true if the event returned an error"),
    ("evt.args",           FType.CHARBUF, Arg.NONE, "output_only",
     "All parameters as name=value text (outputs only)"),
    ("evt.info",           FType.CHARBUF, Arg.NONE, "output_only",
     "Event details as text: the parameters (outputs only)"),
    ("evt.arg",            FType.CHARBUF, Arg.NAME, "params",
     "A parameter as text, by name (evt.arg.flags) or index (evt.arg[0])"),
    ("evt.rawarg",         FType.INT64,   Arg.NAME, "params",
     "A numeric parameter's raw value, by name or index"),
    ("evt.buffer",         FType.BYTEBUF, Arg.NONE, "",
     "The data buffer of I/O events (read, write, sendto...)"),
    ("evt.buflen",         FType.UINT64,  Arg.NONE, "",
     "Length of the data buffer of I/O events"),
    ("evt.is_io",          FType.BOOL,    Arg.NONE, "",
     "true for events that read or write (file, socket, pipe...)"),
    ("evt.is_io_read",     FType.BOOL,    Arg.NONE, "",
     "true for I/O events that read"),
    ("evt.is_io_write",    FType.BOOL,    Arg.NONE, "",
     "true for I/O events that write"),
    ("evt.is_wait",        FType.BOOL,    Arg.NONE, "",
     "true for events that wait (poll, select, epoll_wait...)"),
    ("evt.is_open_read",   FType.BOOL,    Arg.NONE, "",
     "true for open exits opening the file for reading"),
    ("evt.is_open_write",  FType.BOOL,    Arg.NONE, "",
     "true for open exits opening the file for writing"),
    ("evt.is_open_exec",   FType.BOOL,    Arg.NONE, "",
     "true for open exits creating a file with execute permission"),
    ("evt.is_open_create", FType.BOOL,    Arg.NONE, "",
     "true for open exits that created the file"),
])

EXIT = ET.EXIT
HAS_RES = ET.HAS_RES
TYPE_NAMES, TYPE_NAME_OFF, TYPE_NAME_LEN = ET.TYPE_NAMES, ET.TYPE_NAME_OFF, ET.TYPE_NAME_LEN
DIRS = pack_names([">", "<"])
SOURCES = pack_names(["syscall"])

# evt.res: 0 "SUCCESS", then -res -> the errno name (or the number).
_ERRNO_LIMIT = 4096
_ERRNO = {-v: n for n, v in flag_table("errno").entries}
RES_TEXT = pack_names(["SUCCESS"] + [_ERRNO.get(e, str(-e)) for e in range(1, _ERRNO_LIMIT)])

# evt.category: the type's category, or for I/O events the fd's.
CATEGORIES = ("unknown", "other", "file", "net", "ipc", "memory", "process", "sleep", "system",
              "signal", "user", "time", "processing", "wait", "scheduler", "internal")
CAT_NAMES = pack_names(CATEGORIES)
_IO = {"io_read": 1, "io_write": 2, "io_other": 3}
TYPE_CAT = np.array([CATEGORIES.index(t.category) if t.category in CATEGORIES else -1
                     for t in ET.TYPES], np.int64)
TYPE_IO = np.array([_IO.get(t.category, 0) for t in ET.TYPES], np.int64)
TYPE_WAIT = np.array([t.category == "wait" for t in ET.TYPES], np.uint8)
_FD_CAT = {"file": "fd", "net": "46", "ipc": "pues i"}
FD_CAT = np.zeros(256, np.int64)           # fd typechar -> category ("unknown" if none)
for _cat, _chars in _FD_CAT.items():
    for _c in _chars.replace(" ", ""):
        FD_CAT[ord(_c)] = CATEGORIES.index(_cat)
for _c in "lt nbrmPoX".replace(" ", ""):
    FD_CAT[ord(_c)] = CATEGORIES.index("other")

# The open family and the parameters evt.is_open_* read.
OPEN_TYPE = np.zeros(len(ET.TYPES), np.uint8)
for _n in ("open", "openat", "openat2", "open_by_handle_at"):
    OPEN_TYPE[ET.type_id(_n)] = 1
FLAGS_ID = ET.param_name_id("flags")
MODE_ID = ET.param_name_id("mode")
DATA_ID = ET.param_name_id("data")
O_RDONLY, O_WRONLY, O_CREAT, O_TMPFILE, O_F_CREATED = 1, 2, 4, 1 << 13, 1 << 14
EXEC_BITS = 0o111
READ, WRITE, EXEC, CREATE = 0, 1, 2, 3          # which evt.is_open_* test
for _a in (TYPE_CAT, TYPE_IO, TYPE_WAIT, FD_CAT, OPEN_TYPE):
    _a.flags.writeable = False


# --- accessors ----------------------------------------------------------------

@T.get("evt.num")
def _num(B, P, C, i, arg, key):
    return np.int64(B.num[i]), True


@T.get("evt.time", "evt.time.s", "evt.time.iso8601", "evt.datetime", "evt.datetime.s",
       "evt.rawtime")
def _time(B, P, C, i, arg, key):
    return np.int64(B.ts[i]), True


@T.get("evt.rawtime.s")
def _time_s(B, P, C, i, arg, key):
    return np.int64(B.ts[i] // 1000000000), True


@T.get("evt.rawtime.ns")
def _time_ns(B, P, C, i, arg, key):
    return np.int64(B.ts[i] % 1000000000), True


@T.get("evt.type")
def _type(B, P, C, i, arg, key):
    off, ln = span(TYPE_NAME_OFF, TYPE_NAME_LEN, np.int64(B.type[i]))
    return TYPE_NAMES, off, ln


@T.get("evt.dir")
def _dir(B, P, C, i, arg, key):
    off, ln = span(DIRS[1], DIRS[2], np.int64(B.dir[i]))
    return DIRS[0], off, ln


@T.get("evt.cpu")
def _cpu(B, P, C, i, arg, key):
    return np.int64(B.cpu[i]), True


# Helpers take ints and arrays and return ints; bodies return the buffer (accessors.py).

@register_jitable
def category(etype, fd_type):
    c = TYPE_CAT[etype]
    if TYPE_IO[etype] != 0:
        c = FD_CAT[fd_type]
    return span(CAT_NAMES[1], CAT_NAMES[2], c)


@T.get("evt.category")
def _category(B, P, C, i, arg, key):
    off, ln = category(np.int64(B.type[i]), np.int64(B.fd_type[i]))
    return CAT_NAMES[0], off, ln


@T.get("evt.source")
def _source(B, P, C, i, arg, key):
    return SOURCES[0], np.int64(SOURCES[1][0]), np.int64(SOURCES[2][0])


@register_jitable
def has_res(etype, edir):
    return edir == EXIT and HAS_RES[etype] != 0


@register_jitable
def res_text(etype, edir, res):
    if not has_res(etype, edir) or -res >= _ERRNO_LIMIT:
        return np.int64(0), np.int64(-1)
    return span(RES_TEXT[1], RES_TEXT[2], -res if res < 0 else 0)


@T.get("evt.res")
def _res(B, P, C, i, arg, key):
    off, ln = res_text(B.type[i], B.dir[i], np.int64(B.res[i]))
    return RES_TEXT[0], off, ln


@T.get("evt.rawres")
def _rawres(B, P, C, i, arg, key):
    return np.int64(B.res[i]), has_res(B.type[i], B.dir[i])


@T.get("evt.failed")
def _failed(B, P, C, i, arg, key):
    return np.int64(has_res(B.type[i], B.dir[i]) and B.res[i] < 0), True


T.use("evt.arg", get_arg_str)
T.use("evt.rawarg", get_arg_num)
T.resolver("evt.arg")(resolve_param("evt.arg"))
T.resolver("evt.rawarg")(resolve_param("evt.rawarg"))
T.text("evt.arg")(evt_arg_text)
T.text("evt.rawarg")(evt_rawarg_text)


@T.get("evt.buffer")
def _buffer(B, P, C, i, arg, key):
    slot, k = param_k(B.type[i], B.dir[i], B.arg_mask[i], DATA_ID)
    off, ln = arg_span(slot, k, B.arg_off, B.arg_len, i)
    return B.arena, off, ln


@register_jitable
def arg_len(slot, k, lens, i):
    if k < 0 or lens[k, i] < 0:
        return np.int64(0), False
    return np.int64(lens[k, i]), True


@T.get("evt.buflen")
def _buflen(B, P, C, i, arg, key):
    slot, k = param_k(B.type[i], B.dir[i], B.arg_mask[i], DATA_ID)
    return arg_len(slot, k, B.arg_len, i)


@T.get("evt.is_io")
def _is_io(B, P, C, i, arg, key):
    return np.int64(TYPE_IO[B.type[i]] != 0), True


@T.get("evt.is_io_read")
def _is_io_read(B, P, C, i, arg, key):
    return np.int64(TYPE_IO[B.type[i]] == 1), True


@T.get("evt.is_io_write")
def _is_io_write(B, P, C, i, arg, key):
    return np.int64(TYPE_IO[B.type[i]] == 2), True


@T.get("evt.is_wait")
def _is_wait(B, P, C, i, arg, key):
    return np.int64(TYPE_WAIT[B.type[i]]), True


@register_jitable
def open_param(etype, edir, mask, arg_int, i, name_id):
    """(value, present) of an open exit's parameter; not present for other events."""
    if OPEN_TYPE[etype] == 0 or edir != EXIT:
        return np.int64(0), False
    slot, k = param_k(etype, edir, mask, name_id)
    return arg_num(slot, k, arg_int, i)


@register_jitable
def open_test(etype, edir, mask, arg_int, i, test):
    """evt.is_open_<test> (READ, WRITE, EXEC, CREATE) as (0/1, True)."""
    f, ok = open_param(etype, edir, mask, arg_int, i, FLAGS_ID)
    if not ok:
        return np.int64(0), True
    if test == READ:
        hit = (f & O_RDONLY) != 0
    elif test == WRITE:
        hit = (f & O_WRONLY) != 0
    elif test == CREATE:
        hit = (f & O_F_CREATED) != 0
    else:
        m, mok = open_param(etype, edir, mask, arg_int, i, MODE_ID)
        hit = mok and (f & (O_CREAT | O_TMPFILE)) != 0 and (m & EXEC_BITS) != 0
    return np.int64(hit), True


@T.get("evt.is_open_read")
def _is_open_read(B, P, C, i, arg, key):
    return open_test(B.type[i], B.dir[i], B.arg_mask[i], B.arg_int, i, READ)


@T.get("evt.is_open_write")
def _is_open_write(B, P, C, i, arg, key):
    return open_test(B.type[i], B.dir[i], B.arg_mask[i], B.arg_int, i, WRITE)


@T.get("evt.is_open_exec")
def _is_open_exec(B, P, C, i, arg, key):
    return open_test(B.type[i], B.dir[i], B.arg_mask[i], B.arg_int, i, EXEC)


@T.get("evt.is_open_create")
def _is_open_create(B, P, C, i, arg, key):
    return open_test(B.type[i], B.dir[i], B.arg_mask[i], B.arg_int, i, CREATE)


# --- texts ------------------------------------------------------------------------

def _clock(ns: int, utc=False):
    s, frac = divmod(int(ns), 1_000_000_000)
    return (time.gmtime if utc else time.localtime)(s), frac


@T.text("evt.time")
def _t_time(B, P, C, i, arg, key):
    t, ns = _clock(B.ts[i])
    return time.strftime("%H:%M:%S", t) + f".{ns:09d}"


@T.text("evt.time.s")
def _t_time_s(B, P, C, i, arg, key):
    return time.strftime("%H:%M:%S", _clock(B.ts[i])[0])


@T.text("evt.time.iso8601")
def _t_iso(B, P, C, i, arg, key):
    t, ns = _clock(B.ts[i], utc=True)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{ns:09d}Z"


@T.text("evt.datetime")
def _t_datetime(B, P, C, i, arg, key):
    t, ns = _clock(B.ts[i])
    return time.strftime("%Y-%m-%d %H:%M:%S", t) + f".{ns:09d}"


@T.text("evt.datetime.s")
def _t_datetime_s(B, P, C, i, arg, key):
    return time.strftime("%Y-%m-%d %H:%M:%S", _clock(B.ts[i])[0])


@T.text("evt.hostname")
def _t_hostname(B, P, C, i, arg, key):
    return socket.gethostname()


T.text("evt.args", "evt.info")(evt_args_text)

FIELDS = T.fields()
