"""container.* fields: the container of the event's process (Containers row).

A process slot's `container` is its row in C, -1 for the host: the host's
container.id and container.name read "host" (kept at the start of C.arena, so
an accessor never mixes a constant buffer with the arena -- numba makes that
slow), its other fields are absent.
Mounts are two parallel NUL-separated lists in the row, destinations
(`mounts`) and sources (`mount_sources`).
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from .accessors import list_find_glob, list_item, parse_index, span
from .batch import HOST_LEN, HOST_OFF
from .fields import Arg, FieldTable, FType

T = FieldTable([
    # (name, type, argument, flags,
    #  description)
    ("container.id",               FType.CHARBUF, Arg.NONE, "",
     "Container id (12 hex characters), 'host' for the host"),
    ("container.name",             FType.CHARBUF, Arg.NONE, "",
     "Container name, 'host' for the host"),
    ("container.image",            FType.CHARBUF, Arg.NONE, "",
     "Image name with tag"),
    ("container.image.repository", FType.CHARBUF, Arg.NONE, "",
     "Image repository"),
    ("container.image.tag",        FType.CHARBUF, Arg.NONE, "",
     "Image tag"),
    ("container.privileged",       FType.BOOL,    Arg.NONE, "",
     "true for privileged containers"),
    ("container.start_ts",         FType.ABSTIME, Arg.NONE, "",
     "Container start, ns since the epoch"),
    ("container.duration",         FType.RELTIME, Arg.NONE, "",
     "Nanoseconds since the container started"),
    ("container.mounts",           FType.LIST,    Arg.NONE, "",
     "Mount destinations"),
    ("container.mount.dest",       FType.CHARBUF, Arg.KEY,  "",
     "Destination of a mount, by number ([0]) or by source glob ([/var/run/*.sock])"),
    ("container.mount.source",     FType.CHARBUF, Arg.KEY,  "",
     "Source of a mount, by number ([0]) or by destination glob ([/etc])"),
    ("container.info",             FType.CHARBUF, Arg.NONE, "output_only",
     "Container details for outputs (empty: Falco fills it from command-line options)"),
])

HOST_ROW = -1                # P.container of host processes


# Helpers take ints and arrays and return ints; bodies return the buffer (accessors.py).

@register_jitable
def crow(containers, s):
    """The row's container: >= 0 a Containers row, -1 the host, -2 unknown process."""
    if s < 0:
        return np.int64(-2)
    return np.int64(containers[s])


@register_jitable
def cnum(col, c, unset):
    if c < 0 or col[c] == unset:
        return np.int64(0), False
    return np.int64(col[c]), True


@register_jitable
def since(ts, start_ts, c):
    if c < 0 or start_ts[c] == 0:
        return np.int64(0), False
    return np.int64(ts) - np.int64(start_ts[c]), True


@register_jitable
def host_or(offs, lens, c):
    """Span of a string column; for host processes, the "host" the arena starts with."""
    if c == HOST_ROW:
        return np.int64(HOST_OFF), np.int64(HOST_LEN)
    return span(offs, lens, c)


@T.get("container.id")
def _id(B, P, C, i, arg, key):
    c = crow(P.container, B.slot[i])
    off, ln = host_or(C.id_off, C.id_len, c)
    return C.arena, off, ln


@T.get("container.name")
def _name(B, P, C, i, arg, key):
    c = crow(P.container, B.slot[i])
    off, ln = host_or(C.name_off, C.name_len, c)
    return C.arena, off, ln


@T.get("container.image")
def _image(B, P, C, i, arg, key):
    c = crow(P.container, B.slot[i])
    off, ln = span(C.image_off, C.image_len, c)
    return C.arena, off, ln


@T.get("container.image.repository")
def _repository(B, P, C, i, arg, key):
    c = crow(P.container, B.slot[i])
    off, ln = span(C.image_repository_off, C.image_repository_len, c)
    return C.arena, off, ln


@T.get("container.image.tag")
def _tag(B, P, C, i, arg, key):
    c = crow(P.container, B.slot[i])
    off, ln = span(C.image_tag_off, C.image_tag_len, c)
    return C.arena, off, ln


@T.get("container.privileged")
def _privileged(B, P, C, i, arg, key):
    c = crow(P.container, B.slot[i])
    return cnum(C.privileged, c, -1)


@T.get("container.start_ts")
def _start_ts(B, P, C, i, arg, key):
    c = crow(P.container, B.slot[i])
    return cnum(C.start_ts, c, 0)


@T.get("container.duration")
def _duration(B, P, C, i, arg, key):
    c = crow(P.container, B.slot[i])
    return since(B.ts[i], C.start_ts, c)


@T.get("container.mounts")
def _mounts(B, P, C, i, arg, key):
    c = crow(P.container, B.slot[i])
    off, ln = span(C.mounts_off, C.mounts_len, c)
    return C.arena, off, ln


@register_jitable
def mount_lookup(arena, c, key, want_offs, want_lens, by_offs, by_lens):
    """Span of the item of list `want` at the index given by key (a number), or at
    the index of the first item of list `by` matching glob `key`."""
    if c < 0 or want_lens[c] < 0:
        return np.int64(0), np.int64(-1)
    idx = parse_index(key)
    if idx < 0:
        if by_lens[c] < 0:
            return np.int64(0), np.int64(-1)
        idx = list_find_glob(arena, np.int64(by_offs[c]), np.int64(by_lens[c]), key)
        if idx < 0:
            return np.int64(0), np.int64(-1)
    return list_item(arena, np.int64(want_offs[c]), np.int64(want_lens[c]), idx)


@T.get("container.mount.dest")
def _mount_dest(B, P, C, i, arg, key):
    off, ln = mount_lookup(C.arena, crow(P.container, B.slot[i]), key, C.mounts_off,
                           C.mounts_len, C.mount_sources_off, C.mount_sources_len)
    return C.arena, off, ln


@T.get("container.mount.source")
def _mount_source(B, P, C, i, arg, key):
    off, ln = mount_lookup(C.arena, crow(P.container, B.slot[i]), key, C.mount_sources_off,
                           C.mount_sources_len, C.mounts_off, C.mounts_len)
    return C.arena, off, ln


@T.text("container.info")
def _info(B, P, C, i, arg, key):
    return ""


FIELDS = T.fields()
