"""Reading a raw row's parameters in the row kernel (numba): a named parameter
of the row's layout (state_types.PIDX), and the parameters an exit shares
with its enter -- the exit's own when present (newer captures, live), else
the value the thread kept from its enter event (state_types.STASH_*).
Helpers take arrays only (see state_kernel)."""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from .state_tables import S_LEN, S_OFF, T_E0, T_E_BLOB
from .state_types import EXIT_BLOB, EXIT_NUM, PIDX, STASH_BLOB, STASH_NUM


@register_jitable
def has(mask, k):
    return k >= 0 and ((mask >> k) & 1) != 0


@register_jitable
def pnum(arg_int, mask, slot, p, i):
    """(value, present) of named parameter p in the row's layout."""
    k = np.int64(PIDX[slot, p])
    if has(mask, k):
        return arg_int[k, i], True
    return np.int64(0), False


@register_jitable
def pbytes(arg_off, arg_len, mask, slot, p, i):
    """(offset, length) in the arena of named byte parameter p; length -1 if absent."""
    k = np.int64(PIDX[slot, p])
    if has(mask, k) and arg_len[k, i] >= 0:
        return np.int64(arg_off[k, i]), np.int64(arg_len[k, i])
    return np.int64(0), np.int64(-1)


@register_jitable
def xnum(arg_int, mask, TH, t, valid, et, j, i):
    """Stashed enter number j of the type: the exit's own parameter when present,
    else the value kept from the matching enter event."""
    k = np.int64(EXIT_NUM[et, j])
    if has(mask, k):
        return arg_int[k, i], True
    if valid and STASH_NUM[et, j] >= 0:
        return TH[t, T_E0 + j], True
    return np.int64(0), False


@register_jitable
def xblob(arg_off, arg_len, mask, TH, SE, t, valid, et, i):
    """The type's stashed byte parameter: (where, off, len) with where 0 = batch
    arena, 1 = string store, -1 = absent."""
    k = np.int64(EXIT_BLOB[et])
    if has(mask, k) and arg_len[k, i] >= 0:
        return 0, np.int64(arg_off[k, i]), np.int64(arg_len[k, i])
    if valid and STASH_BLOB[et] >= 0:
        sid = TH[t, T_E_BLOB]
        if sid >= 0:
            return 1, SE[sid, S_OFF], SE[sid, S_LEN]
    return -1, np.int64(0), np.int64(-1)
