"""container.* fields: the container of the event's process (Containers row).

A process slot's `container` is its row in C, -1 for the host: the host's
container.id and container.name read "host", its other fields are absent.
Mounts are two parallel NUL-separated lists in the row, destinations
(`mounts`) and sources (`mount_sources`).
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from .accessors import absent, list_find_glob, list_item, name_at, pack_names, parse_index, view
from .fields import Arg, FieldTable, FType

T = FieldTable([
    # name                          type           arg       flags          description
    ("container.id",                FType.CHARBUF, Arg.NONE, "",            "Container id (12 hex characters), 'host' for the host"),
    ("container.name",              FType.CHARBUF, Arg.NONE, "",            "Container name, 'host' for the host"),
    ("container.image",             FType.CHARBUF, Arg.NONE, "",            "Image name with tag"),
    ("container.image.repository",  FType.CHARBUF, Arg.NONE, "",            "Image repository"),
    ("container.image.tag",         FType.CHARBUF, Arg.NONE, "",            "Image tag"),
    ("container.privileged",        FType.BOOL,    Arg.NONE, "",            "true for privileged containers"),
    ("container.start_ts",          FType.ABSTIME, Arg.NONE, "",            "Container start, ns since the epoch"),
    ("container.duration",          FType.RELTIME, Arg.NONE, "",            "Nanoseconds since the container started"),
    ("container.mounts",            FType.LIST,    Arg.NONE, "",            "Mount destinations"),
    ("container.mount.dest",        FType.CHARBUF, Arg.KEY,  "",            "Destination of a mount, by number ([0]) or by source glob ([/var/run/*.sock])"),
    ("container.mount.source",      FType.CHARBUF, Arg.KEY,  "",            "Source of a mount, by number ([0]) or by destination glob ([/etc])"),
    ("container.info",              FType.CHARBUF, Arg.NONE, "output_only", "Container details for outputs (empty: Falco fills it from command-line options)"),
])

HOST = pack_names(["host"])


# Helpers take arrays and ints, never the B/P/C tuples (see fields_proc.py).

@register_jitable
def crow(containers, s):
    """The row's container: >= 0 a Containers row, -1 the host, -2 unknown process."""
    if s < 0:
        return np.int64(-2)
    return np.int64(containers[s])


@register_jitable
def cstr(arena, offs, lens, c):
    if c < 0:
        return absent(arena)
    return view(arena, offs[c], lens[c])


@register_jitable
def host_or(arena, offs, lens, c):
    """A string column, "host" for host processes."""
    if c == -1:
        return name_at(HOST[0], HOST[1], HOST[2], 0)
    return cstr(arena, offs, lens, c)


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


@T.get("container.id")
def _id(B, P, C, i, arg, key):
    return host_or(C.arena, C.id_off, C.id_len, crow(P.container, B.slot[i]))


@T.get("container.name")
def _name(B, P, C, i, arg, key):
    return host_or(C.arena, C.name_off, C.name_len, crow(P.container, B.slot[i]))


@T.get("container.image")
def _image(B, P, C, i, arg, key):
    return cstr(C.arena, C.image_off, C.image_len, crow(P.container, B.slot[i]))


@T.get("container.image.repository")
def _repository(B, P, C, i, arg, key):
    return cstr(C.arena, C.image_repository_off, C.image_repository_len,
                crow(P.container, B.slot[i]))


@T.get("container.image.tag")
def _tag(B, P, C, i, arg, key):
    return cstr(C.arena, C.image_tag_off, C.image_tag_len, crow(P.container, B.slot[i]))


@T.get("container.privileged")
def _privileged(B, P, C, i, arg, key):
    return cnum(C.privileged, crow(P.container, B.slot[i]), -1)


@T.get("container.start_ts")
def _start_ts(B, P, C, i, arg, key):
    return cnum(C.start_ts, crow(P.container, B.slot[i]), 0)


@T.get("container.duration")
def _duration(B, P, C, i, arg, key):
    return since(B.ts[i], C.start_ts, crow(P.container, B.slot[i]))


@T.get("container.mounts")
def _mounts(B, P, C, i, arg, key):
    return cstr(C.arena, C.mounts_off, C.mounts_len, crow(P.container, B.slot[i]))


@register_jitable
def mount_lookup(arena, c, key, want_offs, want_lens, by_offs, by_lens):
    """Item of list `want` at the index given by key (a number) or matching glob key in `by`."""
    if c < 0 or want_lens[c] < 0:
        return absent(arena)
    idx = parse_index(key)
    if idx < 0:
        if by_lens[c] < 0:
            return absent(arena)
        idx = list_find_glob(arena, np.int64(by_offs[c]), np.int64(by_lens[c]), key)
        if idx < 0:
            return absent(arena)
    off, ln = list_item(arena, np.int64(want_offs[c]), np.int64(want_lens[c]), idx)
    return view(arena, off, ln)


@T.get("container.mount.dest")
def _mount_dest(B, P, C, i, arg, key):
    return mount_lookup(C.arena, crow(P.container, B.slot[i]), key, C.mounts_off, C.mounts_len,
                        C.mount_sources_off, C.mount_sources_len)


@T.get("container.mount.source")
def _mount_source(B, P, C, i, arg, key):
    return mount_lookup(C.arena, crow(P.container, B.slot[i]), key, C.mount_sources_off, C.mount_sources_len,
                        C.mounts_off, C.mounts_len)


@T.text("container.info")
def _info(B, P, C, i, arg, key):
    return ""


FIELDS = T.fields()
