"""Small helpers the field accessors share, and the rules they follow.

Helpers are `register_jitable`: plain Python functions that numba compiles when
a jitted accessor calls them, so an accessor's `.py_func` (the reference
evaluator's path) runs them as ordinary Python.  Two measured rules keep the
compiled kernels fast to build and to run:

  * helpers take ints and arrays, never the B/P/C tuples: numba types a call
    carrying those big tuples slowly, and every kernel inlines the accessors;
  * helpers return ints -- a string as its span (off, len), len < 0 absent --
    and the accessor body returns the buffer itself: a helper returning an
    array costs reference counting on every row (~15x slower).

Constant strings (type names, "ipv4", "SUCCESS"...) are packed into frozen
uint8 arrays by `pack_names`, 8-byte aligned and zero padded like the arenas.
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from .evttypes import pack_names  # noqa: F401  (re-exported for the field modules)

SLASH = 47       # '/'
EQUALS = 61      # '='
NUL = 0


@register_jitable
def span(offs, lens, r):
    """(off, len) of row r of a string column (or of a pack_names() table); absent
    when r is out of range or the entry is absent."""
    if r < 0 or r >= offs.size or lens[r] < 0:
        return np.int64(0), np.int64(-1)
    return np.int64(offs[r]), np.int64(lens[r])


@register_jitable
def ancestor(parent, slot, n):
    """The process slot `n` generations above `slot` (0: itself); -1 if unknown."""
    s = np.int64(slot)
    for _ in range(n):
        if s < 0:
            return np.int64(-1)
        s = np.int64(parent[s])
    return s


@register_jitable
def last_slash(buf, off, ln):
    """Position (relative to off) of the last '/' in the string, -1 if none."""
    k = ln - 1
    while k >= 0:
        if buf[off + k] == SLASH:
            return k
        k -= 1
    return np.int64(-1)


@register_jitable
def item_end(buf, off, ln, a):
    """End (relative) of the NUL-separated item starting at relative position a."""
    b = a
    while b < ln and buf[off + b] != NUL:
        b += 1
    return b


@register_jitable
def list_item(buf, off, ln, idx):
    """(off, len) of item `idx` of a NUL-separated list; len -1 if there is none."""
    a = np.int64(0)
    k = 0
    while a <= ln and ln > 0:
        b = item_end(buf, off, ln, a)
        if k == idx:
            return np.int64(off + a), np.int64(b - a)
        k += 1
        a = b + 1
    return np.int64(0), np.int64(-1)


@register_jitable
def env_value(buf, off, ln, key):
    """(off, len) of the value of KEY in a NUL-separated KEY=VALUE list; len -1 if unset."""
    a = np.int64(0)
    n = key.size
    while a < ln:
        b = item_end(buf, off, ln, a)
        if b - a > n and buf[off + a + n] == EQUALS:
            same = True
            for j in range(n):
                if buf[off + a + j] != key[j]:
                    same = False
                    break
            if same:
                return np.int64(off + a + n + 1), np.int64(b - a - n - 1)
        a = b + 1
    return np.int64(0), np.int64(-1)


@register_jitable
def glob_match(buf, off, ln, pat):
    """Shell-style match of the string against `pat` ('*' any run, '?' one byte)."""
    s = np.int64(0)
    p = np.int64(0)
    star_p = np.int64(-1)
    star_s = np.int64(0)
    while s < ln:
        if p < pat.size and (pat[p] == 63 or pat[p] == buf[off + s]):     # '?'
            s += 1
            p += 1
        elif p < pat.size and pat[p] == 42:                               # '*'
            star_p = p
            star_s = s
            p += 1
        elif star_p >= 0:
            p = star_p + 1
            star_s += 1
            s = star_s
        else:
            return False
    while p < pat.size and pat[p] == 42:
        p += 1
    return p == pat.size


@register_jitable
def list_find_glob(buf, off, ln, pat):
    """Index of the first NUL-separated item matching glob `pat`, -1 if none."""
    a = np.int64(0)
    k = np.int64(0)
    while a < ln:
        b = item_end(buf, off, ln, a)
        if glob_match(buf, off + a, b - a, pat):
            return k
        k += 1
        a = b + 1
    return np.int64(-1)


@register_jitable
def parse_index(key):
    """A decimal index given as key bytes, -1 if key is not all digits."""
    if key.size == 0:
        return np.int64(-1)
    v = np.int64(0)
    for j in range(key.size):
        c = key[j]
        if c < 48 or c > 57:
            return np.int64(-1)
        v = v * 10 + (c - 48)
    return v
