"""Socket fd records for the row kernel: taking a connection's or a datagram's
tuple into an fd, guessing its role, completing a tuple whose local address is
unspecified from the machine's interfaces, and naming it.

Facts from libsinsp (parsers.cpp update_fd / set_*_addresses_and_ports,
ifinfo.cpp infer_ipv4_address / update_fd):
  * a datagram's tuple fills a socket that has none yet (or is not tcp): its
    source always, its destination only where the fd has none;
  * an unspecified end is completed with the interface that has the other
    end's address, else one on its subnet, else the first non-loopback one;
  * a process that has bound the port is the server side, else the client;
    names put the client first.
Every function takes arrays (never the Batch tuple: see state_kernel).
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from . import sockets as SK
from .state_store import str_commit, str_decref, str_equal
from .state_tables import (C_SB_N, F_CIP_HI, F_CIP_LO, F_CPORT, F_FAMILY, F_L4, F_NAME_SID,
                           F_SERVER, F_SIP_HI, F_SIP_LO, F_SPORT, F_TYPE, F_UDST, F_USRC,
                           G_PORT0, NPORTS)

MAX_NAME = 4096
CH_V4, CH_V6, CH_UNIX = ord("4"), ord("6"), ord("u")


@register_jitable
def new_name(SB, SE, ctl, at, ln):
    """Commit ln bytes written at the store's fill mark as a string."""
    ctl[C_SB_N] = at + ln
    return str_commit(SE, ctl, at, ln)


@register_jitable
def set_name(FD, SB, SE, ctl, rec, sid):
    """Give fd rec the name sid (taking its reference); 1 if the name changed."""
    old = FD[rec, F_NAME_SID]
    changed = 0 if str_equal(SB, SE, old, sid) else 1
    str_decref(SE, ctl, old)
    FD[rec, F_NAME_SID] = sid
    return changed


@register_jitable
def family_of(ch):
    if ch == CH_V4:
        return SK.AF_INET
    if ch == CH_V6:
        return SK.AF_INET6
    if ch == CH_UNIX:
        return SK.AF_UNIX
    return 0


@register_jitable
def bound_to(TG, tg, port):
    for k in range(NPORTS):
        if TG[tg, G_PORT0 + k] == port and port != 0:
            return True
    return False


@register_jitable
def remember_port(TG, tg, port):
    for k in range(NPORTS):
        if TG[tg, G_PORT0 + k] == port:
            return
    for k in range(NPORTS):
        if TG[tg, G_PORT0 + k] == 0:
            TG[tg, G_PORT0 + k] = port
            return
    TG[tg, G_PORT0 + NPORTS - 1] = port


@register_jitable
def swap_ends(FD, rec):
    for a, b in ((F_CIP_HI, F_SIP_HI), (F_CIP_LO, F_SIP_LO), (F_CPORT, F_SPORT)):
        v = FD[rec, a]
        FD[rec, a] = FD[rec, b]
        FD[rec, b] = v


@register_jitable
def conn_name(FD, SB, SE, ctl, rec):
    """A fresh string with the connected socket's name (client end first)."""
    at = ctl[C_SB_N]
    end = SK.put_conn_name(SB, at, FD[rec, F_L4],
                           np.uint64(FD[rec, F_CIP_HI]), np.uint64(FD[rec, F_CIP_LO]),
                           FD[rec, F_CPORT],
                           np.uint64(FD[rec, F_SIP_HI]), np.uint64(FD[rec, F_SIP_LO]),
                           FD[rec, F_SPORT])
    return new_name(SB, SE, ctl, at, end - at)


@register_jitable
def set_ends(FD, rec, chi, clo, cport, shi, slo, sport):
    FD[rec, F_CIP_HI] = np.int64(chi)
    FD[rec, F_CIP_LO] = np.int64(clo)
    FD[rec, F_CPORT] = cport
    FD[rec, F_SIP_HI] = np.int64(shi)
    FD[rec, F_SIP_LO] = np.int64(slo)
    FD[rec, F_SPORT] = sport


@register_jitable
def ip_char(chi, clo, shi, slo):
    return CH_V4 if SK.is_v4(chi, clo) and SK.is_v4(shi, slo) else CH_V6


@register_jitable
def addr_is_zero(hi, lo):
    return hi == 0 and (lo == 0 or lo == np.int64(0xFFFF) << np.int64(32))


@register_jitable
def tuple_update(FD, rec, buf, off, ln):
    """libsinsp's update_fd: take a datagram's tuple into the fd (its source
    always, its destination where the fd has none yet); returns (updated, family)."""
    fam, chi, clo, cport, shi, slo, sport, usrc, udst, poff = SK.tuple_parse(buf, off, ln)
    if fam == SK.AF_INET or fam == SK.AF_INET6:
        ch = CH_V4 if fam == SK.AF_INET else ip_char(chi, clo, shi, slo)
        same = (FD[rec, F_TYPE] == ch
                and ((FD[rec, F_CIP_LO] == np.int64(clo) and FD[rec, F_CIP_HI] == np.int64(chi)
                      and FD[rec, F_CPORT] == cport and FD[rec, F_SIP_LO] == np.int64(slo)
                      and FD[rec, F_SIP_HI] == np.int64(shi) and FD[rec, F_SPORT] == sport)
                     or (FD[rec, F_CIP_LO] == np.int64(slo)
                         and FD[rec, F_CIP_HI] == np.int64(shi)
                         and FD[rec, F_CPORT] == sport and FD[rec, F_SIP_LO] == np.int64(clo)
                         and FD[rec, F_SIP_HI] == np.int64(chi) and FD[rec, F_SPORT] == cport)))
        if same:
            return False, fam
        if FD[rec, F_SERVER] != 0:
            # a listening socket's address is its own end, not a destination
            set_ends(FD, rec, np.uint64(0), np.uint64(0), 0, np.uint64(0), np.uint64(0), 0)
        FD[rec, F_TYPE] = ch
        FD[rec, F_FAMILY] = family_of(ch)
        FD[rec, F_SERVER] = 0
        # the source always; the destination only where still unspecified
        FD[rec, F_CIP_HI] = np.int64(chi)
        FD[rec, F_CIP_LO] = np.int64(clo)
        FD[rec, F_CPORT] = cport
        if addr_is_zero(FD[rec, F_SIP_HI], FD[rec, F_SIP_LO]):
            FD[rec, F_SIP_HI] = np.int64(shi)
            FD[rec, F_SIP_LO] = np.int64(slo)
        if FD[rec, F_SPORT] == 0:
            FD[rec, F_SPORT] = sport
        if FD[rec, F_L4] == SK.L4_UNKNOWN:
            FD[rec, F_L4] = SK.L4_UDP
        return True, fam
    if fam == SK.AF_UNIX:
        FD[rec, F_TYPE] = CH_UNIX
        FD[rec, F_FAMILY] = SK.AF_UNIX
        FD[rec, F_USRC] = np.int64(usrc)
        FD[rec, F_UDST] = np.int64(udst)
        return True, fam
    return False, 0


LOOPBACK4 = 0x7F000001


@register_jitable
def infer_v4(IF4, dst):
    """The local address a datagram to dst left from: an interface with that
    address, else one on its subnet, else the first non-loopback one."""
    for k in range(IF4.shape[0]):
        if IF4[k, 0] == dst:
            return IF4[k, 0]
    for k in range(IF4.shape[0]):
        if (IF4[k, 0] & IF4[k, 1]) == (dst & IF4[k, 1]):
            return IF4[k, 0]
    for k in range(IF4.shape[0]):
        if IF4[k, 0] != LOOPBACK4:
            return IF4[k, 0]
    return np.int64(0)


@register_jitable
def infer_v6(IF6, hi, lo):
    for k in range(IF6.shape[0]):
        if IF6[k, 0] == hi and IF6[k, 1] == lo:
            return IF6[k, 0], IF6[k, 1]
    for k in range(IF6.shape[0]):
        if IF6[k, 0] == hi:                       # same /64
            return IF6[k, 0], IF6[k, 1]
    for k in range(IF6.shape[0]):
        if not (IF6[k, 0] == 0 and IF6[k, 1] == 1):
            return IF6[k, 0], IF6[k, 1]
    return np.int64(0), np.int64(0)


@register_jitable
def complete_tuple(FD, rec, IF4, IF6):
    """libsinsp's interface patch of a datagram tuple with an unspecified end:
    the missing address is inferred from the machine's interfaces."""
    v4 = FD[rec, F_TYPE] == CH_V4
    if v4:
        mapped = np.int64(0xFFFF) << np.int64(32)
        c = FD[rec, F_CIP_LO] & np.int64(0xFFFFFFFF)
        s = FD[rec, F_SIP_LO] & np.int64(0xFFFFFFFF)
        if c != 0 and s != 0:
            return
        if c == 0:
            new = infer_v4(IF4, s)
            if new == s and FD[rec, F_CPORT] == FD[rec, F_SPORT]:
                return
            FD[rec, F_CIP_HI] = 0
            FD[rec, F_CIP_LO] = mapped | new
        else:
            new = infer_v4(IF4, c)
            if new == c and FD[rec, F_CPORT] == FD[rec, F_SPORT]:
                return
            FD[rec, F_SIP_HI] = 0
            FD[rec, F_SIP_LO] = mapped | new
        return
    c0 = FD[rec, F_CIP_HI] == 0 and FD[rec, F_CIP_LO] == 0
    s0 = FD[rec, F_SIP_HI] == 0 and FD[rec, F_SIP_LO] == 0
    if not c0 and not s0:
        return
    if c0:
        hi, lo = infer_v6(IF6, FD[rec, F_SIP_HI], FD[rec, F_SIP_LO])
        if hi == FD[rec, F_SIP_HI] and lo == FD[rec, F_SIP_LO] \
                and FD[rec, F_CPORT] == FD[rec, F_SPORT]:
            return
        FD[rec, F_CIP_HI] = hi
        FD[rec, F_CIP_LO] = lo
    else:
        hi, lo = infer_v6(IF6, FD[rec, F_CIP_HI], FD[rec, F_CIP_LO])
        if hi == FD[rec, F_CIP_HI] and lo == FD[rec, F_CIP_LO] \
                and FD[rec, F_CPORT] == FD[rec, F_SPORT]:
            return
        FD[rec, F_SIP_HI] = hi
        FD[rec, F_SIP_LO] = lo


@register_jitable
def unix_tuple_name(SB, SE, ctl, usrc, udst, buf, poff, end):
    at = ctl[C_SB_N]
    plen = min(SK.cstr_len(buf, poff, end), MAX_NAME)
    e = SK.put_unix_tuple(SB, at, usrc, udst, buf, poff, plen)
    return new_name(SB, SE, ctl, at, e - at)
