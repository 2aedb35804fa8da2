"""The Containers table: a row per container id seen in a process's cgroups,
completed by the container metadata events of a capture.

Falco (sysdig 0.29 generation) learns a container's name, image and mounts
from a "container" event whose parameter is JSON:

    {"container": {"id": "9dbcbd0c435f", "name": "epic_cray", "image": "nginx:latest",
                   "imagerepo": "nginx", "imagetag": "latest", "privileged": true,
                   "created_time": 1620000000, "Mounts": [{"Source": "/x",
                   "Destination": "/y", ...}], ...}}

Until then only container.id is known (the other fields print <NA>).
Rows are never removed: the table is small and rows are cheap.

Live capture learns the same metadata from the runtime's API instead
(container_engines.py: apply_info); `on_new(id, row)`, when set, hears of each
row made.  The table's arrays are anonymous shared memory (MAP_SHARED), so
processes forked from the capture process (the pipeline's workers, which render
alerts) see metadata written after the fork; a grown table is a new mapping,
which the pipeline notices (Pipeline._table_ids) and forks its workers again.
"""
from __future__ import annotations

import json
from typing import Callable, Optional

import numpy as np

from sensor.events.batch import allocate_containers, arena_append


class ContainerTable:
    def __init__(self, capacity: int = 256, arena_bytes: int = 1 << 16, shared: bool = True):
        self.shared = shared
        self.C = allocate_containers(capacity, arena_bytes, shared=shared)
        self.C.n[1] = 8                        # "host" occupies the first 8 bytes
        self.rows: dict[bytes, int] = {}
        self.on_new: Optional[Callable[[bytes, int], None]] = None

    def _put(self, value: Optional[bytes]) -> tuple[int, int]:
        self.C, off, ln = arena_append(self.C, value, shared=self.shared)
        return off, ln

    def _set(self, row: int, name: str, value: Optional[bytes]) -> None:
        """Set a string column.  The same value again writes nothing; a value
        that fits where the old one was (the same metadata seen again, as each
        container event repeats it) is written in place, its length last: the
        arena only grows with new information."""
        offs, lens = getattr(self.C, name + "_off"), getattr(self.C, name + "_len")
        old = int(lens[row])
        if value is not None and old == len(value):
            off = int(offs[row])
            if bytes(self.C.arena[off:off + old]) == value:
                return
        room = (old + 7) & ~7                  # strings are 8-byte aligned, zero padded
        if value is not None and old >= 0 and len(value) <= room:
            off = int(offs[row])
            self.C.arena[off:off + len(value)] = np.frombuffer(value, np.uint8)
            self.C.arena[off + len(value):off + room] = 0
            lens[row] = len(value)
            return
        off, ln = self._put(value)
        offs[row] = off
        lens[row] = ln

    def row_for(self, cid: Optional[bytes]) -> int:
        """The row of container cid (created with only its id), -1 for the host."""
        if not cid:
            return -1
        row = self.rows.get(cid)
        if row is not None:
            return row
        row = int(self.C.n[0])
        if row >= self.C.privileged.size:
            self._grow()
        self.C.n[0] = row + 1
        self.rows[cid] = row
        self._set(row, "id", cid)
        for name in ("name", "image", "image_repository", "image_tag", "mounts",
                     "mount_sources"):
            getattr(self.C, name + "_len")[row] = -1
        self.C.privileged[row] = -1
        self.C.start_ts[row] = 0
        if self.on_new is not None:
            self.on_new(cid, row)
        return row

    def _grow(self) -> None:
        old = self.C
        new = allocate_containers(2 * old.privileged.size, 8, shared=self.shared)
        cols = new._asdict()
        for name, arr in old._asdict().items():
            if name not in ("arena", "n"):
                cols[name][:arr.size] = arr
        self.C = new._replace(arena=old.arena, n=old.n)

    def apply_json(self, raw: bytes) -> Optional[int]:
        """Take a container event's JSON; returns the row it described, or None."""
        try:
            info = json.loads(raw.decode("utf-8", "replace")).get("container", {})
        except (ValueError, AttributeError):
            return None
        cid = str(info.get("id", "")).encode()[:12]
        if not cid:
            return None
        row = self.row_for(cid)

        def text(key):
            v = info.get(key)
            return None if v is None else str(v).encode()

        self._set(row, "name", text("name"))
        image = text("image")
        self._set(row, "image", image)
        repo, tag = text("imagerepo"), text("imagetag")
        if image and repo is None:
            r, sep, t = image.rpartition(b":")
            repo, tag = (r, t) if sep and b"/" not in t else (image, None)
        self._set(row, "image_repository", repo)
        self._set(row, "image_tag", tag)
        priv = info.get("privileged")
        self.C.privileged[row] = -1 if priv is None else int(bool(priv))
        created = info.get("created_time")
        if isinstance(created, (int, float)) and created > 0:
            self.C.start_ts[row] = int(created) * 1_000_000_000
        mounts = info.get("Mounts") or []
        if mounts:
            self._set(row, "mounts", b"\0".join(
                str(m.get("Destination", "")).encode() for m in mounts))
            self._set(row, "mount_sources", b"\0".join(
                str(m.get("Source", "")).encode() for m in mounts))
        return row

    def apply_info(self, cid: bytes, info) -> Optional[int]:
        """Metadata from a runtime's API (container_engines.ContainerInfo) for
        container cid (12 characters); returns its row, None if it has none."""
        row = self.rows.get(cid[:12])
        if row is None:
            return None

        def enc(v):
            return None if v is None else str(v).encode()

        self._set(row, "name", enc(info.name))
        self._set(row, "image", enc(info.image))
        self._set(row, "image_repository", enc(info.repository))
        self._set(row, "image_tag", enc(info.tag))
        self.C.privileged[row] = -1 if info.privileged is None else int(bool(info.privileged))
        if info.created_s > 0:
            self.C.start_ts[row] = int(info.created_s) * 1_000_000_000
        if info.mounts:
            self._set(row, "mounts", b"\0".join(enc(d) for _, d in info.mounts))
            self._set(row, "mount_sources", b"\0".join(enc(s) for s, _ in info.mounts))
        return row
