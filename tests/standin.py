"""A small stand-in field registry and batch builder for the evaluator tests.

It follows the contract of sensor/events/fields.py (lookup, all_fields,
accessors `get(B, P, C, i, arg, key)`) over the real batch layout, with
fields chosen to exercise every accessor kind: words of proc.name, unaligned
substrings (fd.filename), keys (proc.env[X]), indexes (proc.aname[N]),
list-valued (container.mounts), bytes (evt.buffer), IPs, u64 values.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from sensor.events.batch import allocate_batch, allocate_containers, allocate_procs
from sensor.events.fields import Arg, Field, FType

_EMPTY = np.zeros(8, np.uint8)


@njit(inline="always")
def _str(buf, off, ln):
    return buf, np.int64(off), np.int64(ln)


@njit(inline="always")
def g_type(B, P, C, i, arg, key):
    return np.int64(B.type[i]), True


@njit(inline="always")
def g_res(B, P, C, i, arg, key):
    return np.int64(B.res[i]), True


@njit(inline="always")
def g_ts(B, P, C, i, arg, key):
    return np.int64(B.ts[i]), True


@njit(inline="always")
def g_uid(B, P, C, i, arg, key):
    return np.int64(B.uid[i]), B.uid[i] >= 0


@njit(inline="always")
def g_sport(B, P, C, i, arg, key):
    return np.int64(B.fd_sport[i]), B.fd_family[i] == 2 or B.fd_family[i] == 10


@njit(inline="always")
def g_connected(B, P, C, i, arg, key):
    return np.int64(B.fd_connected[i]), B.fd_family[i] != 0


@njit(inline="always")
def g_sip(B, P, C, i, arg, key):
    return B.fd_sip_hi[i], B.fd_sip_lo[i], B.fd_family[i] == 2 or B.fd_family[i] == 10


@njit(inline="always")
def g_fd_name(B, P, C, i, arg, key):
    return _str(B.arena, B.fd_name_off[i], B.fd_name_len[i])


@njit(inline="always")
def g_fd_filename(B, P, C, i, arg, key):
    off = np.int64(B.fd_name_off[i])
    ln = np.int64(B.fd_name_len[i])
    if ln < 0:
        return _str(B.arena, 0, -1)
    k = ln
    while k > 0 and B.arena[off + k - 1] != 47:
        k -= 1
    return _str(B.arena, off + k, ln - k)


@njit(inline="always")
def g_buffer(B, P, C, i, arg, key):
    return _str(B.arena, B.arg_off[0, i], B.arg_len[0, i])


@njit(inline="always")
def _comm(P, slot):
    if slot < 0:
        return P.arena, np.int64(0), np.int64(-1)
    return P.comm[slot].view(np.uint8), np.int64(0), np.int64(P.comm_len[slot])


@njit(inline="always")
def g_proc_name(B, P, C, i, arg, key):
    b, o, n = _comm(P, B.slot[i])
    return _str(b, o, n)


@njit(inline="always")
def g_aname(B, P, C, i, arg, key):
    slot = B.slot[i]
    for _ in range(arg):
        if slot < 0:
            break
        slot = P.parent[slot]
    b, o, n = _comm(P, slot)
    return _str(b, o, n)


@njit(inline="always")
def g_exepath(B, P, C, i, arg, key):
    s = B.slot[i]
    if s < 0:
        return _str(P.arena, 0, -1)
    return _str(P.arena, P.exepath_off[s], P.exepath_len[s])


@njit(inline="always")
def g_cmdline(B, P, C, i, arg, key):
    s = B.slot[i]
    if s < 0:
        return _str(P.arena, 0, -1)
    return _str(P.arena, P.cmdline_off[s], P.cmdline_len[s])


@njit(inline="always")
def g_env(B, P, C, i, arg, key):
    s = B.slot[i]
    if s < 0:
        return _str(P.arena, 0, -1)
    off = np.int64(P.env_off[s])
    ln = np.int64(P.env_len[s])
    a = 0
    while a < ln:
        b = a
        while b < ln and P.arena[off + b] != 0:
            b += 1
        k = key.size
        if b - a > k and P.arena[off + a + k] == 61:
            same = True
            for j in range(k):
                if P.arena[off + a + j] != key[j]:
                    same = False
                    break
            if same:
                return _str(P.arena, off + a + k + 1, b - a - k - 1)
        a = b + 1
    return _str(P.arena, 0, -1)


@njit(inline="always")
def g_mounts(B, P, C, i, arg, key):
    s = B.slot[i]
    if s < 0 or P.container[s] < 0:
        return _str(C.arena, 0, -1)
    c = P.container[s]
    return _str(C.arena, C.mounts_off[c], C.mounts_len[c])


def _index(text):
    if not text.isdigit():
        raise ValueError(f"'{text}' is not an index")
    return int(text), b""


def _key(text):
    return 0, text.encode()


FIELDS = [
    Field("evt.type", FType.UINT16, "", g_type),
    Field("evt.res", FType.INT64, "", g_res),
    Field("evt.time", FType.ABSTIME, "", g_ts),
    Field("user.uid", FType.UINT32, "", g_uid),
    Field("fd.sport", FType.PORT, "", g_sport),
    Field("fd.connected", FType.BOOL, "", g_connected),
    Field("fd.sip", FType.IPADDR, "", g_sip),
    Field("fd.name", FType.CHARBUF, "", g_fd_name),
    Field("fd.filename", FType.CHARBUF, "", g_fd_filename),
    Field("evt.buffer", FType.BYTEBUF, "", g_buffer),
    Field("proc.name", FType.CHARBUF, "", g_proc_name),
    Field("proc.aname", FType.CHARBUF, "", g_aname, arg=Arg.OPT_INDEX, resolve_arg=_index),
    Field("proc.exepath", FType.CHARBUF, "", g_exepath),
    Field("proc.cmdline", FType.CHARBUF, "", g_cmdline),
    Field("proc.env", FType.CHARBUF, "", g_env, arg=Arg.KEY, resolve_arg=_key),
    Field("container.mounts", FType.LIST, "", g_mounts),
]
_BY_NAME = {f.name: f for f in FIELDS}


def all_fields():
    return FIELDS


def lookup(name, arg):
    f = _BY_NAME.get(name)
    return None if f is None else (f, arg)


def use_test_cache(tmp_path_factory):
    """Point the generated-module cache at one directory per test session."""
    import os
    os.environ["SENSOR_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "sensor-cache")


def rule(k, cond, types=None, name=None):
    from sensor.compile.rule import OutputFormat, Priority, Rule
    return Rule(k, name or f"r{k}", cond, OutputFormat("", []), Priority.NOTICE,
                evttypes=types)


# ---------------------------------------------------------------- building batches

def _put(arena, pos, data: bytes):
    arena[pos:pos + len(data)] = np.frombuffer(data, np.uint8)
    return pos, pos + (len(data) + 7) // 8 * 8


def build(rows, procs, containers=()):
    """rows: dicts (type, res, ts, uid, fd_name, fd_family, fd_sip, fd_sport,
    fd_connected, buffer, slot); procs: dicts (name, parent, exepath, cmdline,
    env (list of bytes), container); containers: dicts (mounts: list of bytes).
    A string value None leaves the column absent."""
    B = allocate_batch(max(len(rows), 1), 64 + sum(
        len(r.get("fd_name") or b"") + len(r.get("buffer") or b"") + 16 for r in rows))
    P = allocate_procs(max(len(procs), 1), 64 + sum(
        len(p.get("exepath") or b"") + len(p.get("cmdline") or b"")
        + len(b"\0".join(p.get("env") or [])) + 24 for p in procs))
    C = allocate_containers(max(len(containers), 1), 64 + sum(
        len(b"\0".join(c.get("mounts") or [])) + 8 for c in containers))
    pos = 0
    for i, r in enumerate(rows):
        B.type[i] = r.get("type", 0)
        B.res[i] = r.get("res", 0)
        B.ts[i] = r.get("ts", 0)
        B.uid[i] = r.get("uid", -1)
        B.slot[i] = r.get("slot", -1)
        B.fd_family[i] = r.get("fd_family", 0)
        B.fd_sport[i] = r.get("fd_sport", 0)
        B.fd_connected[i] = r.get("fd_connected", 0)
        B.fd_sip_hi[i], B.fd_sip_lo[i] = r.get("fd_sip", (0, 0))
        if r.get("fd_name") is not None:
            B.fd_name_off[i], pos = _put(B.arena, pos, r["fd_name"])
            B.fd_name_len[i] = len(r["fd_name"])
        if r.get("buffer") is not None:
            B.arg_off[0, i], pos = _put(B.arena, pos, r["buffer"])
            B.arg_len[0, i] = len(r["buffer"])
    B.n[0] = len(rows)
    pos = 0
    for s, p in enumerate(procs):
        name = p.get("name", b"")[:16]
        P.comm[s] = np.frombuffer(name.ljust(16, b"\0"), np.uint64)
        P.comm_len[s] = len(name)
        P.parent[s] = p.get("parent", -1)
        P.container[s] = p.get("container", -1)
        for col in ("exepath", "cmdline", "env"):
            v = p.get(col)
            if col == "env" and v is not None:
                v = b"\0".join(v)
            if v is not None:
                getattr(P, col + "_off")[s], pos = _put(P.arena, pos, v)
                getattr(P, col + "_len")[s] = len(v)
    P.n[0] = len(procs)
    pos = 0
    for c, cont in enumerate(containers):
        if cont.get("mounts") is not None:
            v = b"\0".join(cont["mounts"])
            C.mounts_off[c], pos = _put(C.arena, pos, v)
            C.mounts_len[c] = len(v)
    C.n[0] = len(containers)
    return B, P, C
