"""Event blocks -> Batch columns: the compiled loop of the .scap reader.

`decode_events` walks consecutive event blocks in an uncompressed byte buffer
and writes one row per event straight into the batch's column arrays.  It
returns to Python (scap_reader.py) with a status when it meets a block that is
not an event, needs more bytes, fills the batch or its arena, or finds the file
corrupt; the returned position is then the start of that block, so nothing is
half-written.  Arrays are passed one by one, not as the Batch namedtuple:
numba compiles big namedtuples slowly.

How each driver event code maps to our rows is precomputed here as small
tables (`Tables`), passed as arguments rather than read as globals so that the
on-disk numba cache never keeps stale tables when ppm_table.py changes.
Generic "syscall" events (codes 0/1) take their type from their ID parameter;
their rows in the tables come after the codes' rows, two per PPM_SC code.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ..events import evttypes as ET
from ..events import ppm_table
from . import scap_format as F

# Statuses returned by decode_events.
ST_OTHER_BLOCK = 0      # a non-event block starts at pos
ST_NEED_MORE = 1        # the block at pos is not complete in the buffer
ST_BATCH_FULL = 2       # every row of the batch is used
ST_ARENA_FULL = 3       # the event at pos needs stats[STAT_ARENA_NEED] more arena bytes
ST_BAD_LENGTH = 4       # faults: the block at pos is corrupt
ST_BAD_TRAILER = 5
ST_BAD_EVENT_LENGTH = 6
ST_BAD_PARAMS = 7

FAULTS = {
    ST_BAD_LENGTH: "bad block length",
    ST_BAD_TRAILER: "block length at the block end does not match its header",
    ST_BAD_EVENT_LENGTH: "event length does not fit its block",
    ST_BAD_PARAMS: "event parameter lengths run past the event",
}

# stats[] slots
STAT_UNKNOWN_EVENTS = 0
STAT_ARENA_NEED = 1

# How a file parameter is stored.
K_SKIP, K_NUM, K_BYTES, K_STR, K_DYN = 0, 1, 2, 3, 4
MAX_FILE_PARAMS = 32
GENERIC_CODES = (0, 1)
# Non-large event blocks are at most 64 KiB after their header (libs refuses more).
MAX_SMALL_BLOCK = 65536 + F.BLOCK_HEADER.size
_STRING_TYPES = frozenset({"charbuf", "fspath", "fsrelpath"})


class Tables(NamedTuple):
    """Per driver code (index = code) and per table row (codes, then generic
    syscalls at ncodes + sc * 2 + dir)."""
    code_known: np.ndarray      # uint8[ncodes]
    code_ndrv: np.ndarray       # int32[ncodes]: the driver's parameter count (V1 blocks)
    code_row: np.ndarray        # int32[ncodes]: the code's table row
    row_type: np.ndarray        # uint16[rows]
    row_dir: np.ndarray         # uint8[rows]
    row_res: np.ndarray         # uint8[rows]: exit whose first parameter is numeric
    pmap: np.ndarray            # int8[rows, MAX_FILE_PARAMS]: our index, -1 dropped
    pkind: np.ndarray           # uint8[rows, MAX_FILE_PARAMS]: K_*
    pbits: np.ndarray           # uint8[rows, MAX_FILE_PARAMS]: width of numbers
    psigned: np.ndarray         # uint8[rows, MAX_FILE_PARAMS]


def _kind(file_param, our_param) -> int:
    if our_param.storage != file_param.storage:
        return K_SKIP
    if our_param.storage == "bytes":
        return K_STR if file_param.ptype in _STRING_TYPES else K_BYTES
    return K_DYN if file_param.ptype == "dyn" else K_NUM


def _driver_counts(ncodes: int) -> np.ndarray:
    counts = np.zeros(ncodes, np.int32)
    for code, _, _, _, ent, ext in ppm_table.EVENTS:
        for c, spec in ((code, ent), (code + 1, ext)):
            spec = ppm_table.SHARED[spec[1:]] if spec.startswith("@") else spec
            counts[c] = len(ET.parse_params(spec))
    return counts


def build_tables() -> Tables:
    ncodes = max(ET.PPM_LAYOUTS) + 2
    nsc = len(ppm_table.SYSCALL_NAMES)
    rows = ncodes + 2 * nsc
    t = Tables(np.zeros(ncodes, np.uint8), _driver_counts(ncodes), np.zeros(ncodes, np.int32),
               np.zeros(rows, np.uint16), np.zeros(rows, np.uint8), np.zeros(rows, np.uint8),
               np.full((rows, MAX_FILE_PARAMS), -1, np.int8),
               np.zeros((rows, MAX_FILE_PARAMS), np.uint8),
               np.full((rows, MAX_FILE_PARAMS), 64, np.uint8),
               np.zeros((rows, MAX_FILE_PARAMS), np.uint8))

    def fill(row, type_id, dir_, file_params, index_of):
        ours = ET.params(type_id, dir_)
        t.row_type[row], t.row_dir[row] = type_id, dir_
        for j, fp in enumerate(file_params[:MAX_FILE_PARAMS]):
            k = index_of(j, fp)
            if k < 0:
                continue
            op = ours[k]
            kind = _kind(fp, op)
            if kind == K_SKIP:
                continue
            t.pmap[row, j], t.pkind[row, j] = k, kind
            t.pbits[row, j], t.psigned[row, j] = op.width, op.signed
        t.row_res[row] = (dir_ == ET.EXIT and t.pmap[row, 0] >= 0
                          and t.pkind[row, 0] in (K_NUM, K_DYN))

    for code, lay in ET.PPM_LAYOUTS.items():
        t.code_known[code] = 1
        t.code_row[code] = code
        pmap = ET.ppm_param_map(code)
        fill(code, lay.type_id, lay.dir, lay.params, lambda j, fp: pmap[j])
    generic = ET.event_type(ET.type_id("syscall"))
    for sc in range(nsc):
        tid = ET.type_for_syscall(sc)
        for d in (ET.ENTER, ET.EXIT):
            fill(ncodes + 2 * sc + d, tid, d, generic.params(d),
                 lambda j, fp: ET.param_index(tid, d, fp.name))
    for a in t:
        a.flags.writeable = False
    return t


TABLES = build_tables()


# --- the compiled loop ----------------------------------------------------------------

@njit(inline="always")
def _u16(buf, p):
    return np.uint64(buf[p]) | (np.uint64(buf[p + 1]) << np.uint64(8))


@njit(inline="always")
def _u32(buf, p):
    return _u16(buf, p) | (_u16(buf, p + 2) << np.uint64(16))


@njit(inline="always")
def _u64(buf, p):
    return _u32(buf, p) | (_u32(buf, p + 4) << np.uint64(32))


@njit(inline="always")
def _number(buf, p, size, bits, signed):
    """The little-endian number of `size` bytes at p, cut to `bits` and sign
    extended if `signed`; ok False when size is not 1, 2, 4 or 8."""
    if size == 8:
        v = _u64(buf, p)
    elif size == 4:
        v = _u32(buf, p)
    elif size == 2:
        v = _u16(buf, p)
    elif size == 1:
        v = np.uint64(buf[p])
    else:
        return np.int64(0), False
    width = min(size * 8, np.int64(bits))
    if width < 64:
        v &= (np.uint64(1) << np.uint64(width)) - np.uint64(1)
        if signed and (v >> np.uint64(width - 1)) & np.uint64(1):
            return np.int64(v) - (np.int64(1) << np.int64(width)), True
    return np.int64(v), True


@njit(inline="always")
def _block_shape(btype):
    """(is event block, has flags, has nparams, large lengths)."""
    if btype == 0x204 or btype == 0x8010ABCD:
        return True, False, False, False
    if btype == 0x216:
        return True, False, True, False
    if btype == 0x221:
        return True, False, True, True
    if btype == 0x208:
        return True, True, False, False
    if btype == 0x217:
        return True, True, True, False
    if btype == 0x222:
        return True, True, True, True
    return False, False, False, False


@njit(cache=True)
def decode_events(buf, pos, end, evnum,
                  code_known, code_ndrv, code_row, row_type, row_dir, row_res,
                  pmap, pkind, pbits, psigned,
                  num, ts, cpu, tid, etype, edir, code, res,
                  arg_int, arg_off, arg_len, arg_mask, arena, n, stats):
    """Decode event blocks from buf[pos:end] into rows n[0].. of the columns.
    Returns (status, pos, evnum): pos is where decoding stopped (a block start),
    evnum the number of events seen so far in the file."""
    cap = num.shape[0]
    ncodes = code_known.shape[0]
    nsc_rows = row_type.shape[0] - ncodes
    row = n[0]
    apos = n[1]
    asize = arena.shape[0]
    status = ST_NEED_MORE
    while True:
        if row >= cap:
            status = ST_BATCH_FULL
            break
        if end - pos < 8:
            status = ST_NEED_MORE
            break
        btype = _u32(buf, pos)
        blen = np.int64(_u32(buf, pos + 4))
        is_event, has_flags, v2, large = _block_shape(btype)
        if not is_event:
            status = ST_OTHER_BLOCK
            break
        prefix = 6 if has_flags else 2
        hdr = 26 if v2 else 22
        if blen < 8 + prefix + hdr + 4 or (not large and blen > MAX_SMALL_BLOCK):
            status = ST_BAD_LENGTH
            break
        if blen > end - pos:
            status = ST_NEED_MORE
            break
        if np.int64(_u32(buf, pos + blen - 4)) != blen:
            status = ST_BAD_TRAILER
            break

        ev = pos + 8 + prefix
        elen = np.int64(_u32(buf, ev + 16))
        ecode = np.int64(_u16(buf, ev + 20))
        if not v2 and (ecode == 280 or ecode == 286):
            elen -= 3                   # the V1 length quirk of these two meta events
        if elen < hdr or prefix + elen > blen - 12:
            status = ST_BAD_EVENT_LENGTH
            break
        known = ecode < ncodes and code_known[ecode] == 1
        lsz = 4 if large else 2
        lens0 = ev + hdr
        eend = ev + elen
        if v2:
            nparams = np.int64(_u32(buf, ev + 22))
            if nparams > (elen - hdr) // lsz:
                status = ST_BAD_PARAMS
                break
            total = lens0 + nparams * lsz
            for j in range(nparams):
                total += np.int64(_u32(buf, lens0 + 4 * j) if large else _u16(buf, lens0 + 2 * j))
            if total > eend:
                status = ST_BAD_PARAMS
                break
        elif known:
            # V1 headers lack nparams: the largest count whose lengths end exactly
            # at the event's end, starting from the driver's count (as libs does)
            nparams = np.int64(-1)
            for k in range(code_ndrv[ecode], -1, -1):
                vals = lens0 + 2 * k
                if vals > eend:
                    continue
                total = vals
                for j in range(k):
                    total += np.int64(_u16(buf, lens0 + 2 * j))
                if total == eend:
                    nparams = np.int64(k)
                    break
            if nparams < 0:
                status = ST_BAD_PARAMS
                break
        else:
            nparams = np.int64(0)

        if not known:                    # a code our table lacks: it still takes a number
            stats[STAT_UNKNOWN_EVENTS] += 1
            evnum += 1
            pos += blen
            continue

        r = np.int64(code_row[ecode])
        vals = lens0 + nparams * lsz
        if ecode == 0 or ecode == 1:     # generic syscall: the type comes from its ID
            if nparams >= 1 and (_u32(buf, lens0) if large else _u16(buf, lens0)) == 2:
                sc = np.int64(_u16(buf, vals))
                if sc * 2 + 1 < nsc_rows:
                    r = ncodes + sc * 2 + ecode

        # arena room for this event's byte parameters (8-aligned, plus a spare word):
        # the event's length bounds it; count exactly only when that bound is too big
        if apos + elen + 8 * nparams + 8 > asize:
            need = np.int64(8)
            for j in range(min(nparams, MAX_FILE_PARAMS)):
                ln = np.int64(_u32(buf, lens0 + 4 * j) if large else _u16(buf, lens0 + 2 * j))
                if pmap[r, j] >= 0 and (pkind[r, j] == K_BYTES or pkind[r, j] == K_STR):
                    need += (ln + 7) & ~np.int64(7)
            if apos + need > asize:
                stats[STAT_ARENA_NEED] = apos + need
                status = ST_ARENA_FULL
                break

        evnum += 1
        num[row] = evnum
        ts[row] = _u64(buf, ev)
        tid[row] = np.int64(_u64(buf, ev + 8))
        cpu[row] = _u16(buf, pos + 8)
        code[row] = ecode
        etype[row] = row_type[r]
        edir[row] = row_dir[r]
        mask = np.uint64(0)
        p = vals
        for j in range(nparams):
            ln = np.int64(_u32(buf, lens0 + 4 * j) if large else _u16(buf, lens0 + 2 * j))
            if j < MAX_FILE_PARAMS:
                k = np.int64(pmap[r, j])
                kind = pkind[r, j]
                if k >= 0:
                    if kind == K_NUM or kind == K_DYN:
                        skip = 1 if kind == K_DYN else 0
                        v, ok = _number(buf, p + skip, ln - skip, pbits[r, j], psigned[r, j] == 1)
                        if ok:
                            arg_int[k, row] = v
                            mask |= np.uint64(1) << np.uint64(k)
                    else:
                        m = ln
                        if kind == K_STR and m > 0 and buf[p + m - 1] == 0:
                            m -= 1       # strings drop the driver's trailing NUL
                        arena[apos:apos + m] = buf[p:p + m]
                        padded = (m + 7) & ~np.int64(7)
                        arena[apos + m:apos + padded] = 0
                        arg_off[k, row] = apos
                        arg_len[k, row] = m
                        apos += padded
                        mask |= np.uint64(1) << np.uint64(k)
            p += ln
        arg_mask[row] = mask
        k0 = np.int64(pmap[r, 0])
        if row_res[r] == 1 and nparams > 0 and (mask >> np.uint64(k0)) & np.uint64(1):
            res[row] = arg_int[k0, row]
        else:
            res[row] = 0
        row += 1
        pos += blen
    n[0] = row
    n[1] = apos
    return status, pos, evnum


def run(buf, pos, end, evnum, B, stats, tables: Tables = TABLES):
    """decode_events on a Batch: (status, pos, evnum)."""
    return decode_events(buf, pos, end, evnum, *tables,
                         B.num, B.ts, B.cpu, B.tid, B.type, B.dir, B.code, B.res,
                         B.arg_int, B.arg_off, B.arg_len, B.arg_mask, B.arena, B.n, stats)
