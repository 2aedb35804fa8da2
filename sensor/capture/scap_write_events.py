"""Batch rows -> .scap event blocks, compiled (numba), for the .scap writer.

One row becomes one V2 event block (the event header carries nparams):

    block_type u32, block_total_length u32, cpu u16,
    event header: ts u64, tid u64, len u32, type u16, nparams u32,
    nparams lengths (u16, or u32 for large-payload codes), the parameter values,
    zero padding to 4 bytes, block_total_length u32 again.

All integers are little endian.  `type` is the row's driver code (B.code) and
the parameters follow `evttypes.ppm_layout(code).params`; parameter j comes
from our index `ppm_param_map(code)[j]`.  Values:

  numbers          arg_int in the width of the code's own parameter type;
  charbuf, fspath  the arena bytes plus the trailing NUL the reader dropped;
  other bytes      the arena bytes verbatim (bytebuf, sockaddr, socktuple...);
  dyn              an index byte then 8 value bytes (see _DYN_INDEX).

Parameters after the row's last present one are left out: a capture made by
an older driver has fewer parameters for the same code, and writing them back
as they were is what keeps a replayed file equal to its source.  An absent
parameter before that is written as the driver writes an empty value: zero
for numbers, "\\0" for strings (a zero-length string makes older readers read
into the next parameter), nothing for byte buffers, a zero count for fdlist.
Parameters of old codes that our type table has no place for (accept's flags
in code 248...) are written the same way: their value is lost, their place in
the layout is not.  Rows should carry every parameter their code had when the
driver wrote it: sysdig 0.29.3 crashes on an execve exit cut after comm.

Generic events (codes 0/1, the driver's "syscall" event for system calls it has
no event of its own for) carry the PPM_SC code in their ID parameter.  A row of
a generic-only type (madvise...) keeps ID and nativeID as its parameters; a row
of a named type read from a generic event (mprotect in an older capture) does
not, so ID is written from the row's type and nativeID, which we do not keep,
as 0 -- enter events with both, exit events with ID only, as the driver did.

Large payloads.  In libs the width of the parameter lengths belongs to the
event type, not to the block: the types flagged EF_LARGE_PAYLOAD (container
JSON, plugin and async events) always use 32-bit lengths and the "V2 large"
block; every other type uses 16-bit lengths, whatever block holds it (newer
libs decode them by type; sysdig 0.29.3 reads a syscall event in a large
block as 16-bit lengths too).  Such an event must also fit the 64 KiB buffer
libscap reads ordinary blocks into.  So a syscall event whose parameters do not
fit is cut: its byte parameters from the last one backwards (strings keep their
NUL) -- what the driver's snapshot length does to live events anyway.

The per-code tables are built once from evttypes and passed to the kernels as
arguments (not globals) so that numba's on-disk cache never freezes a stale
table into compiled code.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
from numba import njit

from sensor.events import evttypes as ET

EV_BLOCK_TYPE_V2 = 0x216
EV_BLOCK_TYPE_V2_LARGE = 0x221
EVENT_HEADER_LEN = 26            # ts, tid, len, type, nparams (packed)
MAX_SMALL_PARAM = 0xFFFF
# libscap reads an ordinary event block (after its 8-byte header) into a buffer
# of 64 KiB and refuses longer ones; with the cpu id, padding and trailer this
# bounds the event itself.
READER_BUF_SIZE = 1 << 16
MAX_SMALL_EVENT = READER_BUF_SIZE - 2 - 4
# Driver codes flagged EF_LARGE_PAYLOAD: pluginevent, container (JSON 2), asyncevent.
LARGE_PAYLOAD_CODES = (322, 324, 402)

# Parameter kinds (the kind table).
K_NUM, K_BYTES, K_STRING, K_FDLIST, K_DYN = 0, 1, 2, 3, 4
_STRING_TYPES = frozenset({"charbuf", "fspath", "fsrelpath"})

# PT_DYN parameters: the driver writes an index byte naming the value's type.
# We keep the value as a number, so we write it as the 64-bit variant of each
# family: (index for values >= 0, index for values < 0).
_DYN_INDEX = {
    "setsockopt": (3, 3),    # PPM_SOCKOPT_IDX_UINT64
    "getsockopt": (3, 3),
    "ptrace": (0, 0),        # PPM_PTRACE_IDX_UINT64
    "bpf": (0, 1),           # PPM_BPF_IDX_FD, PPM_BPF_IDX_RES (an error)
}


class CodeTables(NamedTuple):
    """Per driver code c: nparams[c], large[c] (32-bit lengths), and per
    parameter j < nparams[c]: src[c, j] our arg index (-1: we keep nothing for
    it), kind[c, j], width[c, j] (bytes, numbers), dyn_pos/dyn_neg[c, j].
    Per type t: generic_id[t], the ID a generic event of that type is written
    with, or -1 when the row itself holds ID (generic-only types)."""
    generic_id: np.ndarray
    nparams: np.ndarray
    large: np.ndarray
    src: np.ndarray
    kind: np.ndarray
    width: np.ndarray
    dyn_pos: np.ndarray
    dyn_neg: np.ndarray


def _kind(ptype: str) -> int:
    if ptype in _STRING_TYPES:
        return K_STRING
    if ptype == "fdlist":
        return K_FDLIST
    if ptype == "dyn":
        return K_DYN
    return K_BYTES if ptype in ET.BYTE_TYPES else K_NUM


def build_code_tables() -> CodeTables:
    ncodes = max(ET.PPM_LAYOUTS) + 1
    per_param = (ncodes, ET.MAX_PARAMS)
    t = CodeTables(np.full(len(ET.TYPES), -1, np.int32),
                   np.zeros(ncodes, np.int32), np.zeros(ncodes, np.uint8),
                   np.full(per_param, -1, np.int32), np.zeros(per_param, np.uint8),
                   np.zeros(per_param, np.uint8), np.zeros(per_param, np.uint8),
                   np.zeros(per_param, np.uint8))
    t.large[list(LARGE_PAYLOAD_CODES)] = 1
    for et in ET.TYPES:
        sc = ET.syscall_code(et.name)
        if et.syscall is None and et.name != "syscall" and sc is not None:
            t.generic_id[et.id] = sc
    for code, lay in ET.PPM_LAYOUTS.items():
        ours = ET.params(lay.type_id, lay.dir)
        t.nparams[code] = len(lay.params)
        dyn = _DYN_INDEX.get(ET.type_name(lay.type_id), (0, 0))
        for j, (p, k) in enumerate(zip(lay.params, ET.ppm_param_map(code))):
            # A parameter kept under another storage (number vs bytes) in our
            # layout cannot be written back from it: treat it as not kept.
            if k >= 0 and ours[k].storage != p.storage:
                k = -1
            kind = _kind(p.ptype)
            t.src[code, j], t.kind[code, j] = k, kind
            t.width[code, j] = p.width // 8 if kind == K_NUM else 0
            t.dyn_pos[code, j], t.dyn_neg[code, j] = dyn
    return t


CODE_TABLES = build_code_tables()


def newest_code(type_id: int, dir: int) -> int:
    """The newest driver code for our (type, dir): what a live row is written as.
    Generic syscalls (madvise...) are the driver's generic syscall event."""
    codes = ET.event_type(type_id).ppm or ET.event_type(ET.type_id("syscall")).ppm
    return codes[dir]


_CODE_LUT = np.array([[newest_code(t.id, d) for d in (ET.ENTER, ET.EXIT)] for t in ET.TYPES],
                     np.uint16)


def fill_codes(B, rows=None) -> None:
    """Set B.code of `rows` (default all rows in use) from each row's (type, dir)."""
    rows = np.arange(int(B.n[0])) if rows is None else np.asarray(rows, np.int64)
    B.code[rows] = _CODE_LUT[B.type[rows], B.dir[rows]]


# --- the kernels ----------------------------------------------------------------
# _nrt=False: no reference counting.  A helper handed an array otherwise costs an
# incref/decref pair per call (measured: kernels ~10x slower); in exchange the
# kernels cannot allocate, so the caller passes every output array in.

@njit(cache=True, _nrt=False, inline="always")
def _present(s, mask, kind, alen):
    """The parameter kept at our index s is present in the row (mask, its arg_len)."""
    if s < 0 or not (mask >> s) & 1:
        return False
    return kind == K_NUM or kind == K_DYN or alen >= 0


@njit(cache=True, _nrt=False, inline="always")
def _param_len(kind, width, present, alen):
    """Length of the value as written, before any cut."""
    if kind == K_NUM:
        return np.int64(width)
    if kind == K_DYN:
        return np.int64(9)
    if kind == K_STRING:
        return alen + 1 if present else np.int64(1)
    if kind == K_FDLIST:
        return alen if present else np.int64(2)
    return alen if present else np.int64(0)


@njit(cache=True, _nrt=False, inline="always")
def _put(out, o, v, nbytes):
    for k in range(nbytes):
        out[o + k] = (v >> (8 * k)) & 0xFF


@njit(cache=True, _nrt=False, inline="always")
def _named_generic(c, etype, generic_id, r):
    """A generic event (code 0/1) whose row is of a named type: the ID to write, else -1."""
    if c > 1:
        return np.int64(-1)
    return np.int64(generic_id[etype[r]]) if etype[r] < generic_id.size else np.int64(-1)


@njit(cache=True, _nrt=False)
def _plan(rows, code, etype, arg_mask, arg_len, generic_id, nparams_t, large_t, src_t,
          kind_t, width_t, plen, nparams, blocklen):
    """Per selected row i: nparams[i] written, each one's length plen[i, j], and
    the block length blocklen[i]."""
    ncodes = nparams_t.size
    for i in range(rows.size):
        r = rows[i]
        c = np.int64(code[r])
        if _named_generic(c, etype, generic_id, r) >= 0:
            npw = 2 - c                 # enter: ID, nativeID (u16 each); exit: ID
            plen[i, 0] = 2
            plen[i, 1] = 2
            nparams[i] = npw
            blocklen[i] = ((8 + 2 + EVENT_HEADER_LEN + npw * 4 + 3) & ~3) + 4
            continue
        npl = np.int64(nparams_t[c]) if c < ncodes else np.int64(0)
        large = c < ncodes and large_t[c] == 1
        mask = np.int64(arg_mask[r])
        npw = np.int64(0)
        values = np.int64(0)        # lengths of parameters 0..j
        values_w = np.int64(0)      # ... up to the last present one (what is written)
        for j in range(npl):
            s = np.int64(src_t[c, j])
            kind = kind_t[c, j]
            alen = np.int64(arg_len[s, r]) if s >= 0 else np.int64(-1)
            present = _present(s, mask, kind, alen)
            ln = _param_len(kind, width_t[c, j], present, alen)
            if not large and ln > MAX_SMALL_PARAM:
                ln = np.int64(MAX_SMALL_PARAM)
            plen[i, j] = ln
            values += ln
            if present or s < 0:        # a parameter we keep nothing of is written empty
                npw = j + 1
                values_w = values
        lsize = 4 if large else 2
        evlen = EVENT_HEADER_LEN + npw * lsize + values_w
        if not large and evlen > MAX_SMALL_EVENT:
            excess = evlen - MAX_SMALL_EVENT
            j = npw - 1
            while excess > 0 and j >= 0:
                kind = kind_t[c, j]
                if kind == K_BYTES or kind == K_STRING:
                    keep = 1 if kind == K_STRING else 0     # a string keeps its NUL
                    cut = min(excess, np.int64(plen[i, j]) - keep)
                    plen[i, j] -= cut
                    excess -= cut
                    evlen -= cut
                j -= 1
        nparams[i] = npw
        blocklen[i] = ((8 + 2 + evlen + 3) & ~3) + 4     # header, cpu, event, pad, trailer


@njit(cache=True, _nrt=False)
def _fill(out, offsets, rows, plen, nparams, blocklen, ts, tid, cpu, code, etype, arg_mask,
          arg_int, arg_off, arg_len, arena, generic_id, large_t, src_t, kind_t, width_t,
          dyn_pos, dyn_neg):
    ncodes = large_t.size
    for i in range(rows.size):
        r = rows[i]
        o = offsets[i]
        total = blocklen[i]
        npw = np.int64(nparams[i])
        c = np.int64(code[r])
        large = c < ncodes and large_t[c] == 1
        lsize = 4 if large else 2
        mask = np.int64(arg_mask[r])
        _put(out, o, EV_BLOCK_TYPE_V2_LARGE if large else EV_BLOCK_TYPE_V2, 4)
        _put(out, o + 4, total, 4)
        _put(out, o + 8, np.int64(cpu[r]), 2)
        h = o + 10
        _put(out, h, ts[r], 8)
        _put(out, h + 8, tid[r], 8)
        _put(out, h + 20, c, 2)         # h + 16: len, once the values are written
        _put(out, h + 22, npw, 4)
        lens = h + EVENT_HEADER_LEN
        v = lens + npw * lsize
        sc = _named_generic(c, etype, generic_id, r)
        for j in range(npw):
            if sc >= 0:                 # ID, then nativeID unknown
                _put(out, v, sc if j == 0 else np.int64(0), 2)
                _put(out, lens + j * lsize, np.int64(2), lsize)
                v += 2
                continue
            s = np.int64(src_t[c, j])
            kind = kind_t[c, j]
            alen = np.int64(arg_len[s, r]) if s >= 0 else np.int64(-1)
            present = _present(s, mask, kind, alen)
            ln = np.int64(plen[i, j])
            if kind == K_NUM:
                _put(out, v, arg_int[s, r] if present else np.int64(0), ln)
            elif kind == K_DYN:
                x = arg_int[s, r] if present else np.int64(0)
                out[v] = dyn_neg[c, j] if x < 0 else dyn_pos[c, j]
                _put(out, v + 1, x, 8)
            elif present:
                a = np.int64(arg_off[s, r])
                m = ln - 1 if kind == K_STRING else ln
                for k in range(m):
                    out[v + k] = arena[a + k]
                if kind == K_STRING:
                    out[v + m] = 0
            else:
                for k in range(ln):         # "\0" string, zero fdlist count
                    out[v + k] = 0
            _put(out, lens + j * lsize, ln, lsize)
            v += ln
        _put(out, h + 16, v - h, 4)
        end = o + total - 4
        for p in range(v, end):
            out[p] = 0
        _put(out, end, total, 4)


def encode_event_blocks(B, rows: np.ndarray, tables: CodeTables = CODE_TABLES,
                        scratch: Optional[np.ndarray] = None) -> np.ndarray:
    """The event blocks of `rows` of B, in row order, as a uint8 array: the front
    of `scratch` when it is large enough (reusing one buffer spares the page
    faults of fresh memory on every call), else a new array."""
    rows = np.ascontiguousarray(rows, np.int64)
    n = rows.size
    plen = np.empty((n, ET.MAX_PARAMS), np.int32)
    nparams, blocklen = np.empty(n, np.int32), np.empty(n, np.int64)
    _plan(rows, B.code, B.type, B.arg_mask, B.arg_len, tables.generic_id, tables.nparams,
          tables.large, tables.src, tables.kind, tables.width, plen, nparams, blocklen)
    offsets = np.zeros(n, np.int64)
    np.cumsum(blocklen[:-1], out=offsets[1:])
    size = int(blocklen.sum())
    fits = scratch is not None and scratch.size >= size
    out = scratch[:size] if fits else np.empty(size, np.uint8)
    _fill(out, offsets, rows, plen, nparams, blocklen, B.ts.view(np.int64), B.tid, B.cpu,
          B.code, B.type, B.arg_mask, B.arg_int, B.arg_off, B.arg_len, B.arena,
          tables.generic_id, tables.large, tables.src, tables.kind, tables.width,
          tables.dyn_pos, tables.dyn_neg)
    return out
