"""The state engine's numeric tables: threads, thread groups (processes), file
descriptors and a string store, as numpy arrays that both the per-row numba
kernel (state_kernel.py) and the Python handlers of rare events
(state_procs.py) read and write.

Layout.  Each table is one int64 2-D array, a record per row and one column
per field (row-major, so a record is contiguous); u64 values (capabilities,
addresses) are kept as their int64 bit pattern.  Free records are chained
through a column and reused.  Column numbers are module constants (T_*, G_*,
F_*, S_*) shared by both sides.

  TH   threads          tid -> record through TIDMAP (a direct array indexed
                        by tid: Linux tids are < 2**22)
  TG   thread groups    the process: fd table, cwd, its current image slot
  FD   fds              keyed (group, fd) in an open-addressing hash (FDK/FDV);
                        each group also chains its fds (F_NEXT/F_PREV) so a
                        fork can copy them and an exit free them
  SE   string entries   (offset, length, refcount, batch generation, batch
                        offset) into the byte store SB; the last two let a
                        string be copied into a batch arena once per batch

Growth never happens inside the kernel: it checks room at the start of each
row and returns a status asking for more (see state_kernel.NEED_*), and
`Tables.grow` replaces the arrays.  Everything here is plain data; behaviour
lives in the kernel and the handlers.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

# --- thread records -------------------------------------------------------------------
(T_TID, T_PID, T_PTID, T_TG, T_SLOT, T_VTID, T_UID, T_GID, T_CAPE, T_CAPP, T_CAPI,
 T_USER_SID, T_GROUP_SID, T_LOGIN_SID, T_FLAGS, T_CLONE_TS, T_LOGINUID,
 T_E_TYPE, T_E_FD, T_E0, T_E1, T_E2, T_E3, T_E_BLOB, T_NEXT, T_LIVE) = range(26)
NTH = 26

# --- thread-group (process) records ---------------------------------------------------------
(G_PID, G_SLOT, G_CWD_SID, G_NTHREADS, G_CONTAINER, G_FD_HEAD, G_NFDS, G_NEXT, G_LIVE,
 G_PORT0, G_PORT1, G_PORT2, G_PORT3) = range(13)
NTG = 13
NPORTS = 4                 # bound ports remembered per process (guessing a socket's role)

# --- fd records -------------------------------------------------------------------------------
(F_TG, F_NUM, F_TYPE, F_L4, F_FAMILY, F_ROLE, F_CONN, F_FLAGS, F_CIP_HI, F_CIP_LO,
 F_SIP_HI, F_SIP_LO, F_CPORT, F_SPORT, F_NAME_SID, F_RAW_SID, F_INO, F_DEV, F_USRC, F_UDST,
 F_NEXT, F_PREV, F_SERVER, F_FREE) = range(24)
NFD = 24

# --- string entries -----------------------------------------------------------------------------
S_OFF, S_LEN, S_REF, S_GEN, S_BOFF = range(5)
NSE = 5
PINNED = 1 << 40           # refcount of strings that are never freed (user names, "<NA>")

# --- control scalars (one int64 array) --------------------------------------------------------
(C_GEN, C_TH_FREE, C_TH_N, C_TG_FREE, C_TG_N, C_FD_FREE, C_FD_N, C_FDH_USED, C_S_FREE,
 C_S_N, C_SB_N, C_SB_LIVE, C_APPLIED, C_KILL_TH, C_ROWS, C_FD_LOOKUPS, C_FD_MISSES,
 C_STATUS, C_NFDS, C_NTHREADS, C_NGROUPS, C_FILLED) = range(22)
NCTL = 24

EMPTY, TOMB = -1, -2        # FD hash key markers

# What the kernel receives: every array of the state, in one tuple.  IF4/IF6 are
# the machine's interface addresses (IPv4: address, netmask; IPv6: hi, lo words),
# used to complete datagram tuples as libsinsp does.
Kernel = namedtuple("Kernel", "TH TG FD FDK FDV TIDMAP SB SE ctl IF4 IF6")


def _records(cap: int, ncols: int) -> np.ndarray:
    return np.zeros((cap, ncols), np.int64)


class Tables:
    """Owner of the arrays; `k` is the tuple handed to the kernel (rebuilt on growth)."""

    def __init__(self, threads: int = 1 << 12, groups: int = 1 << 11, fds: int = 1 << 14,
                 strings: int = 1 << 14, string_bytes: int = 1 << 20, max_tid: int = 1 << 16):
        self.TH = _records(threads, NTH)
        self.TG = _records(groups, NTG)
        self.FD = _records(fds, NFD)
        hcap = 1
        while hcap < 2 * fds:
            hcap *= 2
        self.FDK = np.full(hcap, EMPTY, np.int64)
        self.FDV = np.full(hcap, -1, np.int32)
        self.TIDMAP = np.full(max_tid + 1, -1, np.int32)
        self.SB = np.zeros(string_bytes, np.uint8)
        self.SE = _records(strings, NSE)
        self.ctl = np.zeros(NCTL, np.int64)
        for head in (C_TH_FREE, C_TG_FREE, C_FD_FREE, C_S_FREE):
            self.ctl[head] = -1
        self.ctl[C_APPLIED] = -1
        self.ctl[C_KILL_TH] = -1
        self.ctl[C_FILLED] = -1
        self.IF4 = np.zeros((0, 2), np.int64)
        self.IF6 = np.zeros((0, 2), np.int64)
        self._kernel()

    def _kernel(self):
        self.k = Kernel(self.TH, self.TG, self.FD, self.FDK, self.FDV, self.TIDMAP,
                        self.SB, self.SE, self.ctl, self.IF4, self.IF6)

    def set_interfaces(self, v4: list, v6: list) -> None:
        """v4: [(address, netmask)] as 32-bit ints; v6: [128-bit address]."""
        self.IF4 = np.array(v4, np.int64).reshape(-1, 2)
        words = [((a >> 64) - (1 << 64) if a >> 127 else a >> 64,
                  (a & (2**64 - 1)) - (1 << 64) if (a >> 63) & 1 else a & (2**64 - 1))
                 for a in v6]
        self.IF6 = np.array(words, np.int64).reshape(-1, 2)
        self._kernel()

    # --- growth (between kernel calls) ------------------------------------------------------

    @staticmethod
    def _bigger(a: np.ndarray, rows: int, fill=0) -> np.ndarray:
        out = np.full((rows,) + a.shape[1:], fill, a.dtype)
        out[:a.shape[0]] = a
        return out

    def ensure(self, threads: int = 0, groups: int = 0, fds: int = 0, strings: int = 0,
               string_bytes: int = 0, tid: int = -1) -> None:
        """Make room for that many more records/bytes (and for tid in TIDMAP)."""
        c = self.ctl
        grew = False
        if c[C_TH_N] + threads > self.TH.shape[0]:
            self.TH = self._bigger(self.TH, max(2 * self.TH.shape[0], int(c[C_TH_N]) + threads))
            grew = True
        if c[C_TG_N] + groups > self.TG.shape[0]:
            self.TG = self._bigger(self.TG, max(2 * self.TG.shape[0], int(c[C_TG_N]) + groups))
            grew = True
        if c[C_FD_N] + fds > self.FD.shape[0]:
            self.FD = self._bigger(self.FD, max(2 * self.FD.shape[0], int(c[C_FD_N]) + fds))
            grew = True
        if (c[C_FDH_USED] + fds) * 2 > self.FDK.size:
            self._rehash(max(2 * self.FDK.size, 4 * int(c[C_FDH_USED] + fds)))
            grew = True
        if c[C_S_N] + strings > self.SE.shape[0]:
            self.SE = self._bigger(self.SE, max(2 * self.SE.shape[0], int(c[C_S_N]) + strings))
            grew = True
        if c[C_SB_N] + string_bytes > self.SB.size:
            need = int(c[C_SB_N]) + string_bytes
            if c[C_SB_LIVE] * 2 < c[C_SB_N]:
                self.compact_strings()
            if c[C_SB_N] + string_bytes > self.SB.size:
                self.SB = self._bigger(self.SB, max(2 * self.SB.size, need))
            grew = True
        if tid >= self.TIDMAP.size:
            self.TIDMAP = self._bigger(self.TIDMAP, max(2 * self.TIDMAP.size, tid + 1), -1)
            grew = True
        if grew:
            self._kernel()

    def _rehash(self, size: int) -> None:
        """A bigger fd hash without tombstones."""
        cap = 1
        while cap < size:
            cap *= 2
        keys = np.full(cap, EMPTY, np.int64)
        vals = np.full(cap, -1, np.int32)
        live = self.FDK >= 0
        _insert_all(keys, vals, self.FDK[live], self.FDV[live])
        self.FDK, self.FDV = keys, vals
        self.ctl[C_FDH_USED] = int(live.sum())

    def compact_strings(self) -> None:
        """Rewrite the live strings contiguously (the store is private to the
        engine: batches hold copies, so this is safe at any time between rows)."""
        c = self.ctl
        n = int(c[C_S_N])
        live = np.nonzero(self.SE[:n, S_REF] > 0)[0]
        new = np.zeros(max(self.SB.size, 1), np.uint8)
        pos = 0
        for s in live.tolist():
            off, ln = int(self.SE[s, S_OFF]), int(self.SE[s, S_LEN])
            new[pos:pos + ln] = self.SB[off:off + ln]
            self.SE[s, S_OFF] = pos
            pos += ln
        self.SB = new
        c[C_SB_N] = pos
        c[C_SB_LIVE] = pos
        self._kernel()


def _insert_all(keys, vals, ks, vs):
    mask = keys.size - 1
    for k, v in zip(ks.tolist(), vs.tolist()):
        h = _hash(k) & mask
        while keys[h] != EMPTY:
            h = (h + 1) & mask
        keys[h] = k
        vals[h] = v


def _hash(k: int) -> int:
    """The same mix as state_kernel.fd_hash (Python ints, 64-bit wrap)."""
    x = (k * 0x9E3779B97F4A7C15) & (2**64 - 1)
    return (x ^ (x >> 29)) & (2**63 - 1)
