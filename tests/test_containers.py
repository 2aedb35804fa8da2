"""The container table keeps its arena bounded when metadata repeats."""
from __future__ import annotations

import json

from sensor.capture.containers import ContainerTable


def _event(name: str) -> bytes:
    return json.dumps({"container": {"id": "9dbcbd0c435f", "name": name,
                                     "image": "nginx:latest", "imagerepo": "nginx",
                                     "imagetag": "latest", "privileged": False}}).encode()


def _text(t: ContainerTable, row: int, name: str) -> bytes:
    off, ln = int(getattr(t.C, name + "_off")[row]), int(getattr(t.C, name + "_len")[row])
    return bytes(t.C.arena[off:off + ln])


def test_repeated_metadata_does_not_grow_the_arena():
    t = ContainerTable()
    row = t.apply_json(_event("epic_cray"))
    used = int(t.C.n[1])
    for _ in range(1000):
        assert t.apply_json(_event("epic_cray")) == row
    assert int(t.C.n[1]) == used
    assert _text(t, row, "name") == b"epic_cray"


def test_changed_metadata_is_stored_whole():
    t = ContainerTable()
    row = t.apply_json(_event("a_long_container_name"))
    t.apply_json(_event("short"))
    assert _text(t, row, "name") == b"short"
    t.apply_json(_event("a_much_longer_container_name_than_before"))
    assert _text(t, row, "name") == b"a_much_longer_container_name_than_before"
    assert _text(t, row, "image") == b"nginx:latest"
