"""Exit events that change a process's fd table, for the row kernel (numba):
open family (names resolved against the cwd or dirfd), socket, bind,
connect, accept, datagrams, pipe, socketpair, and the single-fd creators
(eventfd, signalfd, timerfd, inotify, bpf, userfaultfd, epoll, memfd ...).

Each returns the fd record the row shows (and what changed); facts about
libsinsp's behaviour are in the docstrings.  Helpers take arrays only (see
state_kernel).
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from . import paths
from . import sockets as SK
from .state_net import (bound_to, complete_tuple, conn_name, family_of, ip_char, new_name,
                        remember_port, set_ends, set_name, swap_ends, tuple_update,
                        unix_tuple_name)
from .state_rowargs import pbytes, pnum, xblob, xnum
from .state_store import arena_put, arena_seal, fd_add, fd_find, str_new
from .state_tables import (C_SB_N, F_CONN, F_DEV, F_FAMILY, F_FLAGS, F_INO, F_L4,
                           F_NAME_SID, F_RAW_SID, F_ROLE, F_SERVER, F_SPORT, F_TYPE, F_UDST,
                           F_USRC, G_CWD_SID, S_LEN, S_OFF, S_REF)
from .state_types import NEW_CHAR, P, PIDX

MAX_NAME = 4096
ROLE_NONE, ROLE_CLIENT, ROLE_SERVER = 0, 1, 2
O_DIRECTORY = 1024
CH_FILE, CH_DIR, CH_V4, CH_V6, CH_UNIX, CH_NETLINK, CH_OTHER, CH_PIPE = (
    ord("f"), ord("d"), ord("4"), ord("6"), ord("u"), ord("n"), ord("o"), ord("p"))
P_NAME, P_DIRFD, P_DEV, P_INO, P_PATH = P["name"], P["dirfd"], P["dev"], P["ino"], P["path"]
P_ADDR, P_TUPLE, P_FD1, P_FD2, P_SOURCE, P_PEER = (
    P["addr"], P["tuple"], P["fd1"], P["fd2"], P["source"], P["peer"])
# A pinned empty string (the first string the engine makes): the name of
# sockets, pipes, eventfds ... before they have one.
EMPTY_SID = 0
_UNKNOWN_DIR = np.frombuffer(b"<UNKNOWN>", np.uint8).copy()
_NULL = np.frombuffer(b"NULL", np.uint8).copy()


@register_jitable
def do_open(arg_int, arg_off, arg_len, arena, bn, TH, TG, FD, FDK, FDV, SB, SE, ctl,
            i, t, tg, et, slot, mask, valid, res):
    """open/openat/openat2/creat/open_by_handle_at exit: resolve the name and
    add the fd; a failed call keeps the resolved name for the row only.
    Returns (rec, changed, fd, row name offset, row name length)."""
    where, noff, nlen = xblob(arg_off, arg_len, mask, TH, SE, t, valid, et, i)
    if where < 0:
        o, ln = pbytes(arg_off, arg_len, mask, slot, P_PATH, i)
        if ln >= 0:
            where, noff, nlen = 0, o, ln
    if where < 0:                    # no name anywhere (an old exit without its enter)
        return np.int64(-1), 0, res if res >= 0 else np.int64(-1), np.int64(0), np.int64(-1)
    nlen = min(nlen, MAX_NAME)
    flags, _ = xnum(arg_int, mask, TH, t, valid, et, 0, i)
    dirfd = np.int64(paths.AT_FDCWD)
    if PIDX[slot, P_DIRFD] >= 0:
        v, ok = xnum(arg_int, mask, TH, t, valid, et, 2, i)
        if ok:
            dirfd = v
    # The base directory: the cwd, or dirfd's name for *at calls.
    bsid = np.int64(-1)
    unknown_dir = False
    absolute = nlen > 0 and (arena[noff] if where == 0 else SB[noff]) == paths.SLASH
    if not absolute:
        if dirfd == paths.AT_FDCWD:
            bsid = TG[tg, G_CWD_SID]
        else:
            drec = fd_find(FDK, FDV, tg, dirfd)
            if drec >= 0:
                bsid = FD[drec, F_NAME_SID]
            else:
                unknown_dir = True
    # Write the base into the store's scratch space, then resolve the name after it.
    at = ctl[C_SB_N]
    blen = np.int64(0)
    if unknown_dir:
        for k in range(_UNKNOWN_DIR.size):
            SB[at + k] = _UNKNOWN_DIR[k]
        blen = _UNKNOWN_DIR.size
    elif bsid >= 0:
        bl = min(SE[bsid, S_LEN], MAX_NAME)
        bo = SE[bsid, S_OFF]
        for k in range(bl):
            SB[at + k] = SB[bo + k]
        blen = bl
        if dirfd != paths.AT_FDCWD and (blen == 0 or SB[at + blen - 1] != paths.SLASH):
            SB[at + blen] = paths.SLASH
            blen += 1
    dst = at + blen
    if where == 0:
        flen = paths.join_into(SB, dst, SB, at, blen, arena, noff, nlen)
    else:
        # the name is in the store itself: copy it out of the way first
        tmp = dst + blen + nlen + 2
        for k in range(nlen):
            SB[tmp + k] = SB[noff + k]
        flen = paths.join_into(SB, dst, SB, at, blen, SB, tmp, nlen)
    if res < 0:
        o = arena_put(arena, bn, SB, dst, flen)
        return np.int64(-1), 0, np.int64(-1), o, flen
    # The resolved name becomes a string at `at` (moved down over the base).
    for k in range(flen):
        SB[at + k] = SB[dst + k]
    name_sid = new_name(SB, SE, ctl, at, flen)
    if where == 0:
        raw_sid = str_new(SB, SE, ctl, arena, noff, nlen)
    else:
        raw_sid = str_new(SB, SE, ctl, SB, noff, nlen)
    rec = fd_add(FD, TG, FDK, FDV, SE, ctl, tg, res)
    FD[rec, F_TYPE] = CH_DIR if (flags & O_DIRECTORY) != 0 else CH_FILE
    FD[rec, F_FLAGS] = flags
    FD[rec, F_NAME_SID] = name_sid
    FD[rec, F_RAW_SID] = raw_sid
    v, ok = pnum(arg_int, mask, slot, P_DEV, i)
    FD[rec, F_DEV] = v
    v, ok = pnum(arg_int, mask, slot, P_INO, i)
    FD[rec, F_INO] = v
    return rec, 1, res, np.int64(0), np.int64(-1)


@register_jitable
def do_socket(arg_int, TH, TG, FD, FDK, FDV, SE, ctl, i, t, tg, et, mask, valid, res):
    """socket exit: the new fd's family and l4 protocol from domain/type/proto."""
    domain, _ = xnum(arg_int, mask, TH, t, valid, et, 0, i)
    stype, _ = xnum(arg_int, mask, TH, t, valid, et, 1, i)
    proto, _ = xnum(arg_int, mask, TH, t, valid, et, 2, i)
    rec = fd_add(FD, TG, FDK, FDV, SE, ctl, tg, res)
    ch = CH_OTHER
    if domain == SK.AF_UNIX:
        ch = CH_UNIX
    elif domain == SK.AF_INET or domain == SK.AF_INET6:
        ch = CH_V4 if domain == SK.AF_INET else CH_V6
        FD[rec, F_L4] = SK.l4_of_jit(domain, stype, proto)
    elif domain == SK.AF_NETLINK:
        ch = CH_NETLINK
    FD[rec, F_TYPE] = ch
    FD[rec, F_FAMILY] = family_of(ch)
    FD[rec, F_NAME_SID] = EMPTY_SID
    SE[EMPTY_SID, S_REF] += 1
    return rec


@register_jitable
def do_bind(arg_off, arg_len, arena, TG, FD, SB, SE, ctl, i, tg, rec, slot, mask):
    """A bound IP socket with a port becomes a server socket named ip:port."""
    o, ln = pbytes(arg_off, arg_len, mask, slot, P_ADDR, i)
    if ln < 1:
        return 0
    fam, hi, lo, port, poff = SK.addr_parse(arena, o, ln)
    at = ctl[C_SB_N]
    if fam == SK.AF_INET or fam == SK.AF_INET6:
        if port > 0:
            ch = CH_V4 if SK.is_v4(hi, lo) else CH_V6
            FD[rec, F_TYPE] = ch
            FD[rec, F_FAMILY] = family_of(ch)
            FD[rec, F_SERVER] = 1
            FD[rec, F_ROLE] = ROLE_SERVER
            set_ends(FD, rec, np.uint64(0), np.uint64(0), 0, hi, lo, port)
            remember_port(TG, tg, port)
        if fam == SK.AF_INET:
            e = SK.put_ip4(SB, at, lo)
        else:
            e = SK.put_ip6(SB, at, hi, lo)
        SB[e] = 58
        e = SK.put_dec(SB, e + 1, port)
    elif fam == SK.AF_UNIX:
        plen = min(SK.cstr_len(arena, poff, o + ln), MAX_NAME)
        e = SK.put_printable(SB, at, arena, poff, plen)
    else:
        return 0
    return set_name(FD, SB, SE, ctl, rec, new_name(SB, SE, ctl, at, e - at))


@register_jitable
def do_connect(arg_off, arg_len, arena, FD, SB, SE, ctl, i, rec, slot, mask):
    """connect exit: the socket takes the tuple (client = this end) and its name."""
    FD[rec, F_CONN] = 1
    o, ln = pbytes(arg_off, arg_len, mask, slot, P_TUPLE, i)
    if ln < 1:
        return 0
    fam, chi, clo, cport, shi, slo, sport, usrc, udst, poff = SK.tuple_parse(arena, o, ln)
    if fam == SK.AF_INET or fam == SK.AF_INET6:
        ch = CH_V4 if fam == SK.AF_INET else ip_char(chi, clo, shi, slo)
        FD[rec, F_TYPE] = ch
        FD[rec, F_FAMILY] = family_of(ch)
        FD[rec, F_SERVER] = 0
        set_ends(FD, rec, chi, clo, cport, shi, slo, sport)
        sid = conn_name(FD, SB, SE, ctl, rec)
    elif fam == SK.AF_UNIX:
        if FD[rec, F_TYPE] != CH_UNIX:
            return 0
        FD[rec, F_USRC] = np.int64(usrc)
        FD[rec, F_UDST] = np.int64(udst)
        sid = unix_tuple_name(SB, SE, ctl, usrc, udst, arena, poff, o + ln)
    else:
        return 0
    if FD[rec, F_ROLE] == ROLE_NONE:
        FD[rec, F_ROLE] = ROLE_CLIENT
    return set_name(FD, SB, SE, ctl, rec, sid)


@register_jitable
def do_accept(arg_off, arg_len, arena, TG, FD, FDK, FDV, SB, SE, ctl, i, tg, slot, mask, res):
    """accept exit: a new connected fd, this process the server, named by the tuple."""
    o, ln = pbytes(arg_off, arg_len, mask, slot, P_TUPLE, i)
    if ln < 1:
        return np.int64(-1)
    fam, chi, clo, cport, shi, slo, sport, usrc, udst, poff = SK.tuple_parse(arena, o, ln)
    if fam != SK.AF_INET and fam != SK.AF_INET6 and fam != SK.AF_UNIX:
        return np.int64(-1)
    rec = fd_add(FD, TG, FDK, FDV, SE, ctl, tg, res)
    at = ctl[C_SB_N]
    if fam == SK.AF_UNIX:
        FD[rec, F_TYPE] = CH_UNIX
        FD[rec, F_USRC] = np.int64(usrc)
        FD[rec, F_UDST] = np.int64(udst)
        sid = unix_tuple_name(SB, SE, ctl, usrc, udst, arena, poff, o + ln)
    else:
        FD[rec, F_TYPE] = CH_V4 if fam == SK.AF_INET else ip_char(chi, clo, shi, slo)
        FD[rec, F_L4] = SK.L4_TCP
        set_ends(FD, rec, chi, clo, cport, shi, slo, sport)
        e = SK.put_tuple_text(SB, at, fam, chi, clo, cport, shi, slo, sport)
        sid = new_name(SB, SE, ctl, at, e - at)
    FD[rec, F_FAMILY] = family_of(FD[rec, F_TYPE])
    FD[rec, F_ROLE] = ROLE_SERVER
    FD[rec, F_CONN] = 1
    FD[rec, F_NAME_SID] = sid
    return rec


@register_jitable
def do_datagram(arg_off, arg_len, arena, TH, TG, FD, SB, SE, ctl, IF4, IF6,
                i, t, tg, rec, et, slot, mask, valid, incoming):
    """sendto/sendmsg/recvfrom/recvmsg: a socket without a tuple yet (or not
    tcp) takes the datagram's, as libsinsp's update_fd does."""
    ch = FD[rec, F_TYPE]
    if (ch == CH_V4 or ch == CH_V6) and FD[rec, F_SERVER] == 0:
        FD[rec, F_CONN] = 1
    nsid = FD[rec, F_NAME_SID]
    named = nsid >= 0 and SE[nsid, S_LEN] > 0
    if named and FD[rec, F_L4] == SK.L4_TCP and (ch == CH_V4 or ch == CH_V6):
        return 0
    if incoming:                      # recv*: the tuple is the exit's own
        o, ln = pbytes(arg_off, arg_len, mask, slot, P_TUPLE, i)
        buf = arena
    else:                             # send*: the exit's, or the enter's
        where, o, ln = xblob(arg_off, arg_len, mask, TH, SE, t, valid, et, i)
        if where < 0:
            return 0
        buf = arena if where == 0 else SB
    if ln < 1:
        return 0
    ok, fam = tuple_update(FD, rec, buf, o, ln)
    if not ok:
        return 0
    if fam == SK.AF_UNIX:
        f2, chi, clo, cport, shi, slo, sport, usrc, udst, poff = SK.tuple_parse(buf, o, ln)
        return set_name(FD, SB, SE, ctl, rec,
                        unix_tuple_name(SB, SE, ctl, usrc, udst, buf, poff, o + ln))
    complete_tuple(FD, rec, IF4, IF6)
    if FD[rec, F_ROLE] == ROLE_NONE:
        FD[rec, F_ROLE] = ROLE_SERVER if bound_to(TG, tg, FD[rec, F_SPORT]) else ROLE_CLIENT
    if incoming and FD[rec, F_ROLE] == ROLE_CLIENT:
        swap_ends(FD, rec)
    if not incoming and FD[rec, F_ROLE] == ROLE_SERVER:
        swap_ends(FD, rec)
    return set_name(FD, SB, SE, ctl, rec, conn_name(FD, SB, SE, ctl, rec))


@register_jitable
def do_pipe(arg_int, TG, FD, FDK, FDV, SE, ctl, i, tg, slot, mask):
    """pipe/pipe2 exit: two unnamed pipe fds (the row shows the second, as Falco)."""
    fd1, ok1 = pnum(arg_int, mask, slot, P_FD1, i)
    fd2, ok2 = pnum(arg_int, mask, slot, P_FD2, i)
    ino, _ = pnum(arg_int, mask, slot, P_INO, i)
    rec = np.int64(-1)
    row_fd = np.int64(-1)
    for fd, ok in ((fd1, ok1), (fd2, ok2)):
        if ok and fd >= 0:
            rec = fd_add(FD, TG, FDK, FDV, SE, ctl, tg, fd)
            FD[rec, F_TYPE] = CH_PIPE
            FD[rec, F_INO] = ino
            FD[rec, F_NAME_SID] = EMPTY_SID
            SE[EMPTY_SID, S_REF] += 1
            row_fd = fd
    return rec, row_fd


@register_jitable
def do_newfd(arg_off, arg_len, arena, TG, FD, FDK, FDV, SB, SE, ctl, i, tg, et, slot, mask,
             res, memfd):
    """eventfd, signalfd, timerfd, inotify, bpf, userfaultfd, epoll ... exits: an
    fd of the event's type (memfd_create names it)."""
    rec = fd_add(FD, TG, FDK, FDV, SE, ctl, tg, res)
    FD[rec, F_TYPE] = NEW_CHAR[et]
    FD[rec, F_FAMILY] = family_of(NEW_CHAR[et])
    sid = EMPTY_SID
    if memfd:
        o, ln = pbytes(arg_off, arg_len, mask, slot, P_NAME, i)
        if ln >= 0:
            sid = str_new(SB, SE, ctl, arena, o, min(ln, MAX_NAME))
    if sid == EMPTY_SID:
        SE[sid, S_REF] += 1
    FD[rec, F_NAME_SID] = sid
    return rec


@register_jitable
def do_socketpair(arg_int, TG, FD, FDK, FDV, SE, ctl, i, tg, slot, mask):
    """socketpair exit: two unix fds joined to each other."""
    fd1, ok1 = pnum(arg_int, mask, slot, P_FD1, i)
    fd2, ok2 = pnum(arg_int, mask, slot, P_FD2, i)
    src, _ = pnum(arg_int, mask, slot, P_SOURCE, i)
    peer, _ = pnum(arg_int, mask, slot, P_PEER, i)
    if not (ok1 and ok2) or fd1 == fd2:
        return np.int64(-1), np.int64(-1)
    rec = np.int64(-1)
    for fd in (fd1, fd2):
        rec = fd_add(FD, TG, FDK, FDV, SE, ctl, tg, fd)
        FD[rec, F_TYPE] = CH_UNIX
        FD[rec, F_FAMILY] = SK.AF_UNIX
        FD[rec, F_USRC] = src
        FD[rec, F_UDST] = peer
        FD[rec, F_NAME_SID] = EMPTY_SID
        SE[EMPTY_SID, S_REF] += 1
    return rec, fd2


@register_jitable
def tuple_row_name(arena, bn, o, ln):
    """A failed or untracked connect/accept shows its tuple parameter's text
    (an empty one prints NULL)."""
    at = bn[1]
    if ln < 1:
        for k in range(_NULL.size):
            arena[at + k] = _NULL[k]
        arena_seal(arena, bn, at, _NULL.size)
        return at, np.int64(_NULL.size)
    fam, chi, clo, cport, shi, slo, sport, usrc, udst, poff = SK.tuple_parse(arena, o, ln)
    if fam == SK.AF_INET or fam == SK.AF_INET6:
        e = SK.put_tuple_text(arena, at, fam, chi, clo, cport, shi, slo, sport)
    elif fam == SK.AF_UNIX:
        plen = min(SK.cstr_len(arena, poff, o + ln), MAX_NAME)
        e = SK.put_unix_tuple(arena, at, usrc, udst, arena, poff, plen)
    else:
        return at, np.int64(0)
    arena_seal(arena, bn, at, e - at)
    return at, e - at
