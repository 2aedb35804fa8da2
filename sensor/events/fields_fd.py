"""fd.* fields: the file descriptor the event acts on, as the state engine knew it.

The row carries the fd's type (as Falco's type character), its names, and for
sockets the family, protocol, the client and server address and port, and this
process's role.  Local/remote follow the role: a client's local end is the
client address, a server's is the server address; with no known role the
local/remote and client/server fields are absent (as Falco's are).

Not from rows: host names of addresses (fd.cip.name, ...) are absent until a
DNS source exists; fd.types knows only the event's own fd.
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from .accessors import last_slash, pack_names, span
from .fields import Arg, FieldTable, FType

T = FieldTable([
    # (name, type, argument, flags,
    #  description)
    ("fd.num",          FType.INT64,   Arg.NONE,      "",
     "The fd number"),
    ("fd.type",         FType.CHARBUF, Arg.NONE,      "",
     "fd type: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, eventpoll, "
     "inotify, timerfd, netlink, bpf, io_uring, memfd, pidfd"),
    ("fd.typechar",     FType.CHARBUF, Arg.NONE,      "",
     "fd type as one character: f d 4 6 u p e s l i t n b r m P o"),
    ("fd.name",         FType.CHARBUF, Arg.NONE,      "",
     "Full name: the absolute path, or the connection (1.2.3.4:5->6.7.8.9:80)"),
    ("fd.nameraw",      FType.CHARBUF, Arg.NONE,      "",
     "The name as the system call passed it"),
    ("fd.directory",    FType.CHARBUF, Arg.NONE,      "",
     "For files, the directory of fd.name; for directories, fd.name"),
    ("fd.filename",     FType.CHARBUF, Arg.NONE,      "",
     "For files, the last component of fd.name"),
    ("fd.ip",           FType.IPADDR,  Arg.NONE,      "filter_only any=0:1",
     "Client or server address (conditions only)"),
    ("fd.cip",          FType.IPADDR,  Arg.NONE,      "",
     "Client address"),
    ("fd.sip",          FType.IPADDR,  Arg.NONE,      "",
     "Server address"),
    ("fd.lip",          FType.IPADDR,  Arg.NONE,      "",
     "Local address"),
    ("fd.rip",          FType.IPADDR,  Arg.NONE,      "",
     "Remote address"),
    ("fd.port",         FType.PORT,    Arg.NONE,      "filter_only any=0:1",
     "Client or server port (conditions only)"),
    ("fd.cport",        FType.PORT,    Arg.NONE,      "",
     "Client port"),
    ("fd.sport",        FType.PORT,    Arg.NONE,      "",
     "Server port"),
    ("fd.lport",        FType.PORT,    Arg.NONE,      "",
     "Local port"),
    ("fd.rport",        FType.PORT,    Arg.NONE,      "",
     "Remote port"),
    ("fd.net",          FType.IPNET,   Arg.NONE,      "filter_only any=0:1",
     "Client or server address, compared with a network (conditions only)"),
    ("fd.cnet",         FType.IPNET,   Arg.NONE,      "",
     "Client address, compared with a network"),
    ("fd.snet",         FType.IPNET,   Arg.NONE,      "",
     "Server address, compared with a network"),
    ("fd.lnet",         FType.IPNET,   Arg.NONE,      "",
     "Local address, compared with a network"),
    ("fd.rnet",         FType.IPNET,   Arg.NONE,      "",
     "Remote address, compared with a network"),
    ("fd.l4proto",      FType.CHARBUF, Arg.NONE,      "",
     "IP protocol: tcp, udp, icmp or raw"),
    ("fd.sockfamily",   FType.CHARBUF, Arg.NONE,      "",
     "Socket family: ip or unix"),
    ("fd.is_server",    FType.BOOL,    Arg.NONE,      "",
     "true if this process is the server end of the connection"),
    ("fd.connected",    FType.BOOL,    Arg.NONE,      "",
     "true once the socket is connected"),
    ("fd.name_changed", FType.BOOL,    Arg.NONE,      "",
     "true if the event changed fd.name (e.g. a udp connect)"),
    ("fd.cip.name",     FType.CHARBUF, Arg.NONE,      "",
     "Host name of the client address (no DNS source yet: absent)"),
    ("fd.sip.name",     FType.CHARBUF, Arg.NONE,      "",
     "Host name of the server address (no DNS source yet: absent)"),
    ("fd.lip.name",     FType.CHARBUF, Arg.NONE,      "",
     "Host name of the local address (no DNS source yet: absent)"),
    ("fd.rip.name",     FType.CHARBUF, Arg.NONE,      "",
     "Host name of the remote address (no DNS source yet: absent)"),
    ("fd.types",        FType.LIST,    Arg.OPT_INDEX, "",
     "Types of the process's fds (fd.types[N]: of fd N); only the event's fd is known"),
])

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
ROLE_CLIENT, ROLE_SERVER = 1, 2             # B.fd_role
CLIENT, SERVER, LOCAL, REMOTE = 0, 1, 2, 3     # the ends a field asks for
FILE_CHAR, DIR_CHAR = ord("f"), ord("d")

# Type character -> fd.type, as libsinsp names them ('u' is shared by unix
# sockets and userfaultfd; a row cannot tell them apart, so it reads unix).
_TYPE_NAMES = {"f": "file", "d": "directory", "4": "ipv4", "6": "ipv6", "u": "unix",
               "p": "pipe", "e": "event", "s": "signalfd", "l": "eventpoll", "i": "inotify",
               "t": "timerfd", "n": "netlink", "b": "bpf", "r": "io_uring", "m": "memfd",
               "P": "pidfd"}
FD_TYPES = pack_names([_TYPE_NAMES.get(chr(c)) for c in range(256)])
FD_CHARS = pack_names([chr(c) if c else None for c in range(256)])
L4_NAMES = pack_names([{1: "icmp", 6: "tcp", 17: "udp", 255: "raw"}.get(p) for p in range(256)])
FAMILIES = pack_names([{AF_UNIX: "unix", AF_INET: "ip", AF_INET6: "ip"}.get(f)
                       for f in range(256)])


# --- helpers ---------------------------------------------------------------------
# They take ints and arrays and return ints; bodies return the buffer (accessors.py).

@register_jitable
def is_inet(family):
    return family == AF_INET or family == AF_INET6


@register_jitable
def side(family, role, which):
    """Which end of the connection `which` (CLIENT, SERVER, LOCAL, REMOTE) is:
    CLIENT or SERVER, or -1 when not an IP socket or the role is unknown."""
    if not is_inet(family) or role == 0:
        return -1
    if which == LOCAL:
        return SERVER if role == ROLE_SERVER else CLIENT
    if which == REMOTE:
        return CLIENT if role == ROLE_SERVER else SERVER
    return which


@register_jitable
def pick_ip(s, cip_hi, cip_lo, sip_hi, sip_lo):
    if s == SERVER:
        return sip_hi, sip_lo, True
    return cip_hi, cip_lo, s == CLIENT


@register_jitable
def pick_port(s, cport, sport):
    if s == SERVER:
        return np.int64(sport), True
    return np.int64(cport), s == CLIENT


@register_jitable
def file_like(fd_type, name_len):
    """Files and directories, and fd-less rows that carry a path (a failed open)."""
    return name_len >= 0 and (fd_type == FILE_CHAR or fd_type == DIR_CHAR or fd_type == 0)


# A name without any '/' (not a path: libsinsp answers "/") reads as absent
# here: spans point into the arena only (see accessors.py).

@register_jitable
def dirname(arena, off, ln, fd_type):
    """Span of fd.directory, as libsinsp derives it from the name."""
    if not file_like(fd_type, ln):
        return np.int64(0), np.int64(-1)
    if fd_type == DIR_CHAR:
        return off, ln
    k = last_slash(arena, off, ln)
    if k < 0:
        return np.int64(0), np.int64(-1)
    if k == 0:                           # "/name": the root, the name's own '/'
        return off, np.int64(1)
    if k == ln - 1:                      # a trailing slash: the name itself
        return off, ln
    return off, k


@register_jitable
def basename(arena, off, ln, fd_type):
    """Span of fd.filename: the last component of a file's name."""
    if not file_like(fd_type, ln) or fd_type == DIR_CHAR:
        return np.int64(0), np.int64(-1)
    k = last_slash(arena, off, ln)
    if k < 0:
        return np.int64(0), np.int64(-1)
    if k == ln - 1:
        return off, ln
    return off + k + 1, ln - k - 1


# --- accessors ----------------------------------------------------------------------

@T.get("fd.num")
def _num(B, P, C, i, arg, key):
    return np.int64(B.fd[i]), B.fd[i] >= 0


@T.get("fd.type")
def _type(B, P, C, i, arg, key):
    off, ln = span(FD_TYPES[1], FD_TYPES[2], np.int64(B.fd_type[i]))
    return FD_TYPES[0], off, ln


@T.get("fd.typechar")
def _typechar(B, P, C, i, arg, key):
    off, ln = span(FD_CHARS[1], FD_CHARS[2], np.int64(B.fd_type[i]))
    return FD_CHARS[0], off, ln


@T.get("fd.name")
def _name(B, P, C, i, arg, key):
    return B.arena, np.int64(B.fd_name_off[i]), np.int64(B.fd_name_len[i])


@T.get("fd.nameraw")
def _nameraw(B, P, C, i, arg, key):
    return B.arena, np.int64(B.fd_nameraw_off[i]), np.int64(B.fd_nameraw_len[i])


@T.get("fd.directory")
def _directory(B, P, C, i, arg, key):
    name_off = np.int64(B.fd_name_off[i])
    name_len = np.int64(B.fd_name_len[i])
    off, ln = dirname(B.arena, name_off, name_len, B.fd_type[i])
    return B.arena, off, ln


@T.get("fd.filename")
def _filename(B, P, C, i, arg, key):
    name_off = np.int64(B.fd_name_off[i])
    name_len = np.int64(B.fd_name_len[i])
    off, ln = basename(B.arena, name_off, name_len, B.fd_type[i])
    return B.arena, off, ln


@T.get("fd.ip", "fd.net")
def _ip(B, P, C, i, arg, key):
    s = side(B.fd_family[i], B.fd_role[i], SERVER if arg == 1 else CLIENT)
    return pick_ip(s, B.fd_cip_hi[i], B.fd_cip_lo[i], B.fd_sip_hi[i], B.fd_sip_lo[i])


@T.get("fd.cip", "fd.cnet")
def _cip(B, P, C, i, arg, key):
    s = side(B.fd_family[i], B.fd_role[i], CLIENT)
    return pick_ip(s, B.fd_cip_hi[i], B.fd_cip_lo[i], B.fd_sip_hi[i], B.fd_sip_lo[i])


@T.get("fd.sip", "fd.snet")
def _sip(B, P, C, i, arg, key):
    s = side(B.fd_family[i], B.fd_role[i], SERVER)
    return pick_ip(s, B.fd_cip_hi[i], B.fd_cip_lo[i], B.fd_sip_hi[i], B.fd_sip_lo[i])


@T.get("fd.lip", "fd.lnet")
def _lip(B, P, C, i, arg, key):
    s = side(B.fd_family[i], B.fd_role[i], LOCAL)
    return pick_ip(s, B.fd_cip_hi[i], B.fd_cip_lo[i], B.fd_sip_hi[i], B.fd_sip_lo[i])


@T.get("fd.rip", "fd.rnet")
def _rip(B, P, C, i, arg, key):
    s = side(B.fd_family[i], B.fd_role[i], REMOTE)
    return pick_ip(s, B.fd_cip_hi[i], B.fd_cip_lo[i], B.fd_sip_hi[i], B.fd_sip_lo[i])


@T.get("fd.port")
def _port(B, P, C, i, arg, key):
    s = side(B.fd_family[i], B.fd_role[i], SERVER if arg == 1 else CLIENT)
    return pick_port(s, B.fd_cport[i], B.fd_sport[i])


@T.get("fd.cport")
def _cport(B, P, C, i, arg, key):
    return pick_port(side(B.fd_family[i], B.fd_role[i], CLIENT), B.fd_cport[i], B.fd_sport[i])


@T.get("fd.sport")
def _sport(B, P, C, i, arg, key):
    return pick_port(side(B.fd_family[i], B.fd_role[i], SERVER), B.fd_cport[i], B.fd_sport[i])


@T.get("fd.lport")
def _lport(B, P, C, i, arg, key):
    return pick_port(side(B.fd_family[i], B.fd_role[i], LOCAL), B.fd_cport[i], B.fd_sport[i])


@T.get("fd.rport")
def _rport(B, P, C, i, arg, key):
    return pick_port(side(B.fd_family[i], B.fd_role[i], REMOTE), B.fd_cport[i], B.fd_sport[i])


@T.get("fd.l4proto")
def _l4proto(B, P, C, i, arg, key):
    proto = np.int64(B.fd_l4proto[i]) if is_inet(B.fd_family[i]) else -1
    off, ln = span(L4_NAMES[1], L4_NAMES[2], proto)
    return L4_NAMES[0], off, ln


@T.get("fd.sockfamily")
def _sockfamily(B, P, C, i, arg, key):
    off, ln = span(FAMILIES[1], FAMILIES[2], np.int64(B.fd_family[i]))
    return FAMILIES[0], off, ln


@T.get("fd.is_server")
def _is_server(B, P, C, i, arg, key):
    return np.int64(B.fd_role[i] == ROLE_SERVER), B.fd_family[i] != 0


@T.get("fd.connected")
def _connected(B, P, C, i, arg, key):
    return np.int64(B.fd_connected[i]), B.fd_family[i] != 0


@T.get("fd.name_changed")
def _name_changed(B, P, C, i, arg, key):
    return np.int64(B.fd_name_changed[i]), B.fd[i] >= 0 or B.fd_name_len[i] >= 0


@T.get("fd.cip.name", "fd.sip.name", "fd.lip.name", "fd.rip.name")
def _ip_name(B, P, C, i, arg, key):
    return B.arena, np.int64(0), np.int64(-1)


@T.resolver("fd.types")
def _types_arg(text):
    t = text.strip()
    if not t.isdigit():
        raise ValueError(f"'{text}' is not an fd number for fd.types (e.g. fd.types[0])")
    return int(t) + 1, b""              # 0 stays "no fd number given"


@T.get("fd.types")
def _types(B, P, C, i, arg, key):
    asked_other = arg > 0 and np.int64(B.fd[i]) != arg - 1
    off, ln = span(FD_TYPES[1], FD_TYPES[2], -1 if asked_other else np.int64(B.fd_type[i]))
    return FD_TYPES[0], off, ln


FIELDS = T.fields()
