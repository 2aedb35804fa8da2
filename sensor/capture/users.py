"""User and group names, per container (each container has its own /etc/passwd).

Filled from the snapshot's users and groups and from useradded/userdeleted/
groupadded/groupdeleted meta events.  A container without its own entries
uses the host's (what sysdig shows for container processes).  A name Falco cannot resolve prints
<NA>; an id of -1 (0xffffffff) prints <NONE> where an event parameter holds
it.  Lookups are by (container id, id), the host being the empty container id.
"""
from __future__ import annotations

from typing import Optional

NONE_ID = 0xFFFFFFFF
NA = b"<NA>"
NONE = b"<NONE>"
MAX_NAME = 256


class UserDirectory:
    def __init__(self):
        self.users: dict = {}        # (container id, uid) -> name
        self.groups: dict = {}       # (container id, gid) -> name
        self.version = 0             # bumped at every change (callers cache by it)

    def add_user(self, uid: int, name: bytes, container_id: bytes = b"") -> None:
        self.users[(container_id, uid & NONE_ID)] = name[:MAX_NAME]
        self.version += 1

    def remove_user(self, uid: int, container_id: bytes = b"") -> None:
        self.users.pop((container_id, uid & NONE_ID), None)
        self.version += 1

    def add_group(self, gid: int, name: bytes, container_id: bytes = b"") -> None:
        self.groups[(container_id, gid & NONE_ID)] = name[:MAX_NAME]
        self.version += 1

    def remove_group(self, gid: int, container_id: bytes = b"") -> None:
        self.groups.pop((container_id, gid & NONE_ID), None)
        self.version += 1

    def user(self, uid: int, container_id: bytes = b"") -> Optional[bytes]:
        """The name of uid in the container, else on the host (sysdig resolves a
        container's users from the host list when it has none of its own)."""
        if uid < 0:
            return None
        name = self.users.get((container_id, uid & NONE_ID))
        return name if name is not None or not container_id else self.users.get((b"", uid))

    def group(self, gid: int, container_id: bytes = b"") -> Optional[bytes]:
        if gid < 0:
            return None
        name = self.groups.get((container_id, gid & NONE_ID))
        return name if name is not None or not container_id else self.groups.get((b"", gid))

    def param_text(self, value: int, is_gid: bool, container_id: bytes = b"") -> bytes:
        """How an event parameter of type uid/gid prints: the name, <NONE> for -1,
        <NA> when unknown."""
        v = value & NONE_ID
        if v == NONE_ID:
            return NONE
        name = self.group(v, container_id) if is_gid else self.user(v, container_id)
        return NA if name is None else name
