"""container.id from a process's cgroups, as Falco's container engines match them.

A runc-based runtime puts a container's processes in a cgroup whose last path
element carries the 64-hex-digit container id, between a runtime-specific
prefix and suffix (libsinsp's container_engine/runc matching, plus podman's
cgroupfs layout, which Falco's podman engine does not know):

    /docker/<id>                        docker, cgroupfs driver
    /system.slice/docker-<id>.scope     docker, systemd driver
    /kubepods/.../pod<uid>/<id>         containerd / cri-o, cgroupfs
    .../cri-containerd-<id>.scope       containerd, systemd
    .../crio-<id>.scope, /crio-<id>     cri-o
    ...:cri-containerd:<id>             containerd without SystemdCgroup
    .../libpod-<id>.scope[/container]   podman, systemd (v2: processes in "container")
    /libpod_parent/libpod-<id>          podman, cgroupfs (cgroup v1 or v2)

The paths are the same in every hierarchy a runtime uses (cgroup v1
controllers, the v2 tree), so any entry of the cgroups list may name the
container; the probes send the cpu and memory controllers' (docs/LIVE.md).
Falco reports the first 12 hex digits.  Host processes have no id (None).
Rootless podman (user.slice/.../podman-<pid>.scope) is not recognised.
"""
from __future__ import annotations

from typing import Iterable, Optional

ID_LEN = 64
SHORT_LEN = 12
_HEX = frozenset(b"0123456789abcdef")

# (prefix, suffix): the id is what lies between the last prefix and the suffix.
LAYOUTS = (
    (b"/", b""),
    (b"/docker-", b".scope"),
    (b"/crio-", b""),
    (b"/cri-containerd-", b".scope"),
    (b"/crio-", b".scope"),
    (b":cri-containerd:", b""),
    (b"/libpod-", b".scope"),
    (b"/libpod-", b""),
)


def _match(path: bytes, prefix: bytes, suffix: bytes) -> Optional[bytes]:
    start = path.rfind(prefix)
    if start < 0:
        return None
    start += len(prefix)
    end = len(path) if not suffix else path.rfind(suffix)
    if end < 0 or end - start != ID_LEN:
        return None
    cid = path[start:end]
    if not set(cid) <= _HEX:
        return None
    return cid[:SHORT_LEN]


def container_id(cgroup_paths: Iterable[bytes]) -> Optional[bytes]:
    """The 12-character container id the cgroup paths name, or None (host)."""
    for path in cgroup_paths:
        for prefix, suffix in LAYOUTS:
            cid = _match(path, prefix, suffix)
            if cid is not None:
                return cid
    return None


def parse_param(raw: bytes) -> list:
    """The cgroups event parameter ("cpuset=/docker/..\\0cpu=/..\\0") as
    [(subsystem, path)]."""
    out = []
    for item in raw.split(b"\0"):
        if item:
            sub, _, path = item.partition(b"=")
            out.append((sub, path))
    return out
