"""The BPF ring buffer (BPF_MAP_TYPE_RINGBUF) mmap'ed and drained by a numba loop.

The kernel's layout of a ringbuf map of `size` data bytes (a power of two):

    offset 0          one page, read-write: u64 consumer position (ours to advance)
    offset page       one page, read-only:  u64 producer position (the kernel's)
    offset 2 * page   the data, read-only, mapped twice in a row so that a record that
                      wraps past the end can be read in one piece

A record: u32 len (bit 31 BUSY: reserved but not committed; bit 30 DISCARD), u32 pg_off
(kernel-internal), then len bytes of payload; records start 8-byte aligned, so a record
takes (len + 8) rounded up to 8 bytes.  Positions only grow; position & (size - 1) is the
offset in the data area.

`drain()` copies the payloads of committed records back to back into a uint8 array, with an
acquire load of the producer position and of each record header, and one release store of
the consumer position per sweep (which frees the space for the kernel).  The records must be
self-describing (the sensor's are scap event blocks carrying their own length).
"""
from __future__ import annotations

import gc
import mmap
import select

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

BUSY_BIT = 1 << 31
DISCARD_BIT = 1 << 30
LEN_MASK = DISCARD_BIT - 1
HDR_SIZE = 8
PAGE_SIZE = mmap.PAGESIZE


# ---------------------------------------------------------------------------------------------
# Atomics numba lacks: acquire loads and a release store at a byte offset in a uint8 array;
# and plain unaligned u64 loads and stores for the copy.

def _byte_ptr(context, builder, arrty, arr, off, offty, width):
    ary = context.make_array(arrty)(context, builder, arr)
    off = context.cast(builder, off, offty, types.intp)
    ptr = builder.gep(ary.data, [off])
    return builder.bitcast(ptr, ir.IntType(width).as_pointer())


def _is_u8_array(t):
    return isinstance(t, types.Array) and t.dtype == types.uint8


@intrinsic
def load_acquire_u64(typingctx, arr, off):
    """*(u64 *)&arr[off] with acquire ordering (off must be 8-byte aligned)."""
    if not (_is_u8_array(arr) and isinstance(off, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _byte_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1], 64)
        return builder.load_atomic(ptr, ordering="acquire", align=8)
    return types.uint64(arr, off), codegen


@intrinsic
def load_acquire_u32(typingctx, arr, off):
    """*(u32 *)&arr[off] with acquire ordering (off must be 4-byte aligned)."""
    if not (_is_u8_array(arr) and isinstance(off, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _byte_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1], 32)
        return builder.load_atomic(ptr, ordering="acquire", align=4)
    return types.uint32(arr, off), codegen


@intrinsic
def store_release_u64(typingctx, arr, off, val):
    """*(u64 *)&arr[off] = val with release ordering (off must be 8-byte aligned)."""
    if not (_is_u8_array(arr) and arr.mutable and isinstance(off, types.Integer)
            and isinstance(val, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _byte_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1], 64)
        v = context.cast(builder, args[2], sig.args[2], types.uint64)
        builder.store_atomic(v, ptr, ordering="release", align=8)
        return context.get_dummy_value()
    return types.void(arr, off, val), codegen


@intrinsic
def load_u64(typingctx, arr, off):
    """*(u64 *)&arr[off], plain, any alignment."""
    if not (_is_u8_array(arr) and isinstance(off, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _byte_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1], 64)
        return builder.load(ptr, align=1)
    return types.uint64(arr, off), codegen


@intrinsic
def store_u64(typingctx, arr, off, val):
    """*(u64 *)&arr[off] = val, plain, any alignment."""
    if not (_is_u8_array(arr) and arr.mutable and isinstance(off, types.Integer)
            and val == types.uint64):
        return None

    def codegen(context, builder, sig, args):
        ptr = _byte_ptr(context, builder, sig.args[0], args[0], args[1], sig.args[1], 64)
        builder.store(args[2], ptr, align=1)
        return context.get_dummy_value()
    return types.void(arr, off, val), codegen


@njit(cache=True, nogil=True)
def _drain(cons_page, ro, mask, out, pos):
    """Copy committed payloads into out[pos:]; return (new end, 1 if stopped because the next
    payload did not fit, else 0).  Positions are handled as int64 (2**63 bytes never wrap)."""
    n = out.shape[0]
    cons = np.int64(load_acquire_u64(cons_page, 0))
    full = 0
    while True:
        prod = np.int64(load_acquire_u64(ro, 0))
        start = cons
        stop = False
        while cons < prod:
            off = PAGE_SIZE + (cons & mask)
            hdr = np.int64(load_acquire_u32(ro, off))
            if hdr & BUSY_BIT:
                stop = True
                break
            ln = hdr & LEN_MASK
            if not hdr & DISCARD_BIT:
                if pos + ln > n:
                    full = 1
                    stop = True
                    break
                # copy by 8-byte words, then the tail: 4x faster than a slice copy for
                # records of scap-event size (perf/bench_ring.py)
                src = off + HDR_SIZE
                words = ln & -8
                for i in range(0, words, 8):
                    store_u64(out, pos + i, load_u64(ro, src + i))
                for i in range(words, ln):
                    out[pos + i] = ro[src + i]
                pos += ln
            cons += (ln + HDR_SIZE + 7) & -8
        if cons != start:
            store_release_u64(cons_page, 0, cons)
        if stop or cons == start:
            return pos, full


class BpfRing:
    """A BPF ring buffer map (its fd and its max_entries) mapped for draining.  The fd stays
    owned by the caller (the BpfObject)."""

    def __init__(self, map_fd: int, size: int):
        if size < PAGE_SIZE or size & (size - 1):
            raise ValueError(f"ring size {size} must be a power of two >= the page size")
        self.fd = map_fd
        self.size = size
        self._cons_mm = mmap.mmap(map_fd, PAGE_SIZE, mmap.MAP_SHARED,
                                  mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        try:
            self._ro_mm = mmap.mmap(map_fd, PAGE_SIZE + 2 * size, mmap.MAP_SHARED,
                                    mmap.PROT_READ, offset=PAGE_SIZE)
        except Exception:
            self._cons_mm.close()
            raise
        self._cons = np.frombuffer(self._cons_mm, dtype=np.uint8)     # writable
        self._ro = np.frombuffer(self._ro_mm, dtype=np.uint8)         # read-only
        self._mask = np.int64(size - 1)
        self._epoll = select.epoll()
        self._epoll.register(map_fd, select.EPOLLIN)

    # -- positions (plain reads; for the caller's information) ---------------------------------
    def _positions(self) -> tuple[int, int]:
        if self._ro is None:
            raise ValueError("ring is closed")
        return int(self._cons[:8].view(np.uint64)[0]), int(self._ro[:8].view(np.uint64)[0])

    def pending(self) -> int:
        """Bytes between the consumer and the producer positions (headers included)."""
        cons, prod = self._positions()
        return prod - cons

    # -- drain and wait --------------------------------------------------------------------------
    def drain(self, out: np.ndarray, pos: int = 0) -> int:
        """Copy every committed record's payload back to back into out[pos:], stopping at an
        uncommitted record, at the producer position, or when the next payload does not fit;
        return the new end.  `out` must hold at least the largest record."""
        if self._ro is None:
            raise ValueError("ring is closed")
        if out.dtype != np.uint8 or out.ndim != 1 or not out.flags.c_contiguous:
            raise TypeError("out must be a contiguous 1-D uint8 array")
        if not 0 <= pos <= out.shape[0]:
            raise ValueError(f"pos {pos} outside out[0:{out.shape[0]}]")
        end, full = _drain(self._cons, self._ro, self._mask, out, pos)
        if full and end == 0:
            raise ValueError(f"a record does not fit in out ({out.shape[0]} bytes)")
        return int(end)

    def wait(self, timeout_s: float) -> bool:
        """True as soon as data is waiting (at once if some already is), False on timeout.
        Producers that submit with BPF_RB_NO_WAKEUP wake nobody: poll with a short timeout."""
        if self.pending() > 0:
            return True
        try:
            self._epoll.poll(timeout_s)
        except InterruptedError:
            pass
        return self.pending() > 0

    def close(self) -> None:
        """Unmap the ring (idempotent).  Arrays returned earlier are not kept."""
        if self._ro is None:
            return
        self._cons = self._ro = None
        self._epoll.close()
        for mm in (self._cons_mm, self._ro_mm):
            try:
                mm.close()
            except BufferError:
                # numba's first compilation leaves a reference cycle holding the arguments;
                # collect it and retry.  A view the caller still holds keeps the mapping alive
                # until that view is freed.
                gc.collect()
                try:
                    mm.close()
                except BufferError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
