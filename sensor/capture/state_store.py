"""Primitive operations on the state tables (state_tables.py): the string
store, the fd hash and fd records, thread-group fd lists.

They are `register_jitable`: the row kernel compiles them in, and the Python
handlers of rare events call the same functions as plain Python (slower, and
those events are rare).  The njit wrappers at the end serve Python callers
that touch many records at once (fork copying an fd table, exit freeing one).

Callers make room first (Tables.ensure, or the kernel's per-row reserve
check): nothing here grows an array.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import register_jitable

from .state_tables import (C_FD_FREE, C_FD_N, C_FDH_USED, C_NFDS, C_S_FREE, C_S_N, C_SB_LIVE,
                           C_SB_N, EMPTY, F_FREE, F_NAME_SID, F_NEXT, F_NUM, F_PREV,
                           F_RAW_SID, F_TG, G_FD_HEAD, G_NFDS, NFD, S_BOFF, S_GEN, S_LEN,
                           S_OFF, S_REF, TOMB)

# --- strings ---------------------------------------------------------------------------------


@register_jitable
def str_commit(SE, ctl, off, ln):
    """A string entry for ln bytes already written at SB[off:]; refcount 1."""
    sid = ctl[C_S_FREE]
    if sid >= 0:
        ctl[C_S_FREE] = SE[sid, S_OFF]
    else:
        sid = ctl[C_S_N]
        ctl[C_S_N] = sid + 1
    SE[sid, S_OFF] = off
    SE[sid, S_LEN] = ln
    SE[sid, S_REF] = 1
    SE[sid, S_GEN] = -1
    SE[sid, S_BOFF] = 0
    ctl[C_SB_LIVE] += ln
    return sid


@register_jitable
def str_new(SB, SE, ctl, src, off, ln):
    """Copy src[off:off+ln] into the store; returns the new string id."""
    at = ctl[C_SB_N]
    for k in range(ln):
        SB[at + k] = src[off + k]
    ctl[C_SB_N] = at + ln
    return str_commit(SE, ctl, at, ln)


@register_jitable
def str_incref(SE, sid):
    if sid >= 0:
        SE[sid, S_REF] += 1


@register_jitable
def str_decref(SE, ctl, sid):
    if sid < 0:
        return
    r = SE[sid, S_REF] - 1
    SE[sid, S_REF] = r
    if r == 0:
        ctl[C_SB_LIVE] -= SE[sid, S_LEN]
        SE[sid, S_OFF] = ctl[C_S_FREE]
        SE[sid, S_GEN] = -1
        ctl[C_S_FREE] = sid


@register_jitable
def str_equal(SB, SE, a, b):
    if a == b:
        return True
    if a < 0 or b < 0 or SE[a, S_LEN] != SE[b, S_LEN]:
        return False
    oa, ob = SE[a, S_OFF], SE[b, S_OFF]
    for k in range(SE[a, S_LEN]):
        if SB[oa + k] != SB[ob + k]:
            return False
    return True


@register_jitable
def arena_put(arena, bn, src, off, ln):
    """Append ln bytes of src at the arena's fill mark bn[1], 8-byte aligned and
    zero padded; returns the offset."""
    at = bn[1]
    for k in range(ln):
        arena[at + k] = src[off + k]
    end = at + ln
    pad = (8 - end % 8) % 8
    for k in range(pad):
        arena[end + k] = 0
    bn[1] = end + pad
    return at


@register_jitable
def arena_seal(arena, bn, at, ln):
    """Close a string written in place at the fill mark: pad it and advance."""
    end = at + ln
    pad = (8 - end % 8) % 8
    for k in range(pad):
        arena[end + k] = 0
    bn[1] = end + pad


@register_jitable
def put_sid(arena, bn, SB, SE, sid, gen):
    """(offset, length) of string sid in the batch arena, copying it the first
    time it is used in this batch (generation gen); (0, -1) for no string."""
    if sid < 0:
        return np.int64(0), np.int64(-1)
    ln = SE[sid, S_LEN]
    if SE[sid, S_GEN] == gen:
        return SE[sid, S_BOFF], ln
    at = arena_put(arena, bn, SB, SE[sid, S_OFF], ln)
    SE[sid, S_GEN] = gen
    SE[sid, S_BOFF] = at
    return at, ln


# --- the fd hash -------------------------------------------------------------------------------


@register_jitable
def fd_key(tg, fd):
    return (np.int64(tg) << np.int64(32)) | (np.int64(fd) & np.int64(0xFFFFFFFF))


@register_jitable
def fd_hash(key):
    x = np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)
    x = x ^ (x >> np.uint64(29))
    return np.int64(x & np.uint64(0x7FFFFFFFFFFFFFFF))


@register_jitable
def fd_find(FDK, FDV, tg, fd):
    """The fd record of (group, fd), or -1."""
    if tg < 0:
        return -1
    key = fd_key(tg, fd)
    mask = FDK.size - 1
    h = fd_hash(key) & mask
    while True:
        k = FDK[h]
        if k == key:
            return np.int64(FDV[h])
        if k == EMPTY:
            return -1
        h = (h + 1) & mask


@register_jitable
def _hash_put(FDK, FDV, ctl, key, rec):
    mask = FDK.size - 1
    h = fd_hash(key) & mask
    while FDK[h] >= 0:
        h = (h + 1) & mask
    if FDK[h] == EMPTY:
        ctl[C_FDH_USED] += 1
    FDK[h] = key
    FDV[h] = rec


@register_jitable
def _hash_del(FDK, FDV, key):
    mask = FDK.size - 1
    h = fd_hash(key) & mask
    while True:
        k = FDK[h]
        if k == key:
            FDK[h] = TOMB
            FDV[h] = -1
            return
        if k == EMPTY:
            return
        h = (h + 1) & mask


# --- fd records -----------------------------------------------------------------------------------


@register_jitable
def fd_alloc(FD, ctl):
    rec = ctl[C_FD_FREE]
    if rec >= 0:
        ctl[C_FD_FREE] = FD[rec, F_NEXT]
    else:
        rec = ctl[C_FD_N]
        ctl[C_FD_N] = rec + 1
    for c in range(NFD):
        FD[rec, c] = 0
    FD[rec, F_NAME_SID] = -1
    FD[rec, F_RAW_SID] = -1
    FD[rec, F_NEXT] = -1
    FD[rec, F_PREV] = -1
    return rec


@register_jitable
def fd_unlink_free(FD, TG, SE, ctl, rec):
    """Take a record out of its group's list and free it (names released)."""
    tg = FD[rec, F_TG]
    nxt, prv = FD[rec, F_NEXT], FD[rec, F_PREV]
    if prv >= 0:
        FD[prv, F_NEXT] = nxt
    else:
        TG[tg, G_FD_HEAD] = nxt
    if nxt >= 0:
        FD[nxt, F_PREV] = prv
    TG[tg, G_NFDS] -= 1
    ctl[C_NFDS] -= 1
    str_decref(SE, ctl, FD[rec, F_NAME_SID])
    str_decref(SE, ctl, FD[rec, F_RAW_SID])
    FD[rec, F_NAME_SID] = -1
    FD[rec, F_RAW_SID] = -1
    FD[rec, F_FREE] = 1
    FD[rec, F_NEXT] = ctl[C_FD_FREE]
    ctl[C_FD_FREE] = rec


@register_jitable
def fd_remove(FD, TG, FDK, FDV, SE, ctl, tg, fd):
    """Close fd of group tg, if the table has it."""
    rec = fd_find(FDK, FDV, tg, fd)
    if rec < 0:
        return
    _hash_del(FDK, FDV, fd_key(tg, fd))
    fd_unlink_free(FD, TG, SE, ctl, rec)


@register_jitable
def fd_add(FD, TG, FDK, FDV, SE, ctl, tg, fd):
    """A fresh record for fd in group tg (replacing any previous one), linked
    and hashed; the caller fills its fields."""
    fd_remove(FD, TG, FDK, FDV, SE, ctl, tg, fd)
    rec = fd_alloc(FD, ctl)
    FD[rec, F_TG] = tg
    FD[rec, F_NUM] = fd
    head = TG[tg, G_FD_HEAD]
    FD[rec, F_NEXT] = head
    if head >= 0:
        FD[head, F_PREV] = rec
    TG[tg, G_FD_HEAD] = rec
    TG[tg, G_NFDS] += 1
    ctl[C_NFDS] += 1
    _hash_put(FDK, FDV, ctl, fd_key(tg, fd), rec)
    return rec


@register_jitable
def fd_copy_fields(FD, SE, src, dst):
    """dst takes src's description (type, names, addresses); names shared by refcount."""
    for c in range(NFD):
        if c != F_TG and c != F_NUM and c != F_NEXT and c != F_PREV and c != F_FREE:
            FD[dst, c] = FD[src, c]
    FD[dst, F_NAME_SID] = FD[src, F_NAME_SID]
    FD[dst, F_RAW_SID] = FD[src, F_RAW_SID]
    str_incref(SE, FD[dst, F_NAME_SID])
    str_incref(SE, FD[dst, F_RAW_SID])


@register_jitable
def tg_copy_fds(FD, TG, FDK, FDV, SE, ctl, src, dst):
    """Every fd of group src duplicated into group dst (fork)."""
    rec = TG[src, G_FD_HEAD]
    while rec >= 0:
        new = fd_add(FD, TG, FDK, FDV, SE, ctl, dst, FD[rec, F_NUM])
        fd_copy_fields(FD, SE, rec, new)
        rec = FD[rec, F_NEXT]


@register_jitable
def tg_free_fds(FD, TG, FDK, FDV, SE, ctl, tg):
    """Close every fd of group tg (the process exited)."""
    rec = TG[tg, G_FD_HEAD]
    while rec >= 0:
        nxt = FD[rec, F_NEXT]
        _hash_del(FDK, FDV, fd_key(tg, FD[rec, F_NUM]))
        fd_unlink_free(FD, TG, SE, ctl, rec)
        rec = nxt


# --- compiled entry points for Python callers ----------------------------------------------------

@njit(cache=True)
def copy_fds(K, src, dst):
    tg_copy_fds(K.FD, K.TG, K.FDK, K.FDV, K.SE, K.ctl, src, dst)


@njit(cache=True)
def free_fds(K, tg):
    tg_free_fds(K.FD, K.TG, K.FDK, K.FDV, K.SE, K.ctl, tg)


@njit(cache=True)
def find_fd(K, tg, fd):
    return fd_find(K.FDK, K.FDV, tg, fd)


@njit(cache=True)
def add_fd(K, tg, fd):
    return fd_add(K.FD, K.TG, K.FDK, K.FDV, K.SE, K.ctl, tg, fd)


@njit(cache=True)
def count_fds(K, tg):
    n = 0
    rec = K.TG[tg, G_FD_HEAD]
    while rec >= 0:
        n += 1
        rec = K.FD[rec, F_NEXT]
    return n
