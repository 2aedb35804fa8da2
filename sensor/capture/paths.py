"""Path resolution as Falco's fd.name shows it: a relative name joined to a base
directory (the cwd, or an *at call's dirfd), then normalized.

The rules (libsinsp's concatenate_paths: std::filesystem's lexically_normal
in current versions; sysdig 0.29's own normalizer agrees on every real name
but mangles a few odd ones such as "a./b" or "..."):

  * an absolute name ignores the base;
  * a relative name is appended to the base as given (the base is trusted:
    it is a cwd or an fd name the engine made itself);
  * name components: "" and "." vanish, ".." goes up one directory (never
    above the root), other components are kept;
  * a trailing '/' is dropped (as the kernel does), except for "/" itself;
  * control bytes become '.' (bytes >= 0x80 are kept: UTF-8 names).

`join_into` is numba-compilable (it writes into a caller's buffer and returns
the length), `join` is the Python convenience over it.
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

SLASH = 47
DOT = 46
AT_FDCWD = -100          # the driver's PPM_AT_FDCWD


@register_jitable
def _printable(c):
    return c if 0x20 <= c < 0x7F or c >= 0x80 else DOT


@register_jitable
def join_into(dst, dpos, base, boff, blen, name, noff, nlen):
    """Write the resolved path of `name` (relative to `base` unless absolute)
    into dst at dpos; return its length.  dst needs blen + nlen + 2 bytes.

    Component by component: "" and "." vanish, ".." removes the last
    component written (never the leading '/'), others are appended after a
    '/'.  The base is copied as given."""
    t = dpos
    if nlen > 0 and name[noff] != SLASH:
        for k in range(blen):
            dst[t + k] = base[boff + k]
        t += blen
    elif nlen > 0:
        dst[t] = SLASH
        t += 1
    p = noff
    end = noff + nlen
    while p < end:
        q = p
        while q < end and name[q] != SLASH:
            q += 1
        ln = q - p
        if ln == 0 or (ln == 1 and name[p] == DOT):
            pass
        elif ln == 2 and name[p] == DOT and name[p + 1] == DOT:
            # up one directory: back to the '/' before the last component
            if t > dpos + 1 and dst[t - 1] == SLASH:
                t -= 1
            while t > dpos + 1 and dst[t - 1] != SLASH:
                t -= 1
        else:
            if t > dpos and dst[t - 1] != SLASH:
                dst[t] = SLASH
                t += 1
            for k in range(ln):
                dst[t + k] = _printable(name[p + k])
            t += ln
        p = q + 1
    if t > dpos + 1 and dst[t - 1] == SLASH:
        t -= 1
    return t - dpos


def join(base: bytes, name: bytes) -> bytes:
    """Python form of join_into: join(b"/home/u/", b"../x") == b"/home/x"."""
    dst = np.zeros(len(base) + len(name) + 2, np.uint8)
    b = np.frombuffer(base, np.uint8) if base else np.zeros(1, np.uint8)
    n = np.frombuffer(name, np.uint8) if name else np.zeros(1, np.uint8)
    ln = join_into(dst, 0, b, 0, len(base), n, 0, len(name))
    return bytes(dst[:ln])


def as_dir(path: bytes) -> bytes:
    """A directory as Falco keeps a cwd: with one trailing '/'."""
    return path if path.endswith(b"/") else path + b"/"


def new_cwd(cwd: bytes, target: bytes) -> bytes:
    """The cwd after chdir(target) from cwd (Falco's update of a thread's cwd)."""
    return as_dir(join(cwd, target))
