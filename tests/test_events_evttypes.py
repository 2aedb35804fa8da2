"""The event-type table: layouts, ids, parameter indexes, driver codes, and that
every event type the rulesets name exists."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from sensor.events import batch, evttypes as ET, ppm_table

SHARED = Path(__file__).parents[1] / ".." / "shared"
RULE_FILES = sorted((SHARED / "rulesets").glob("*/*.yaml"))
# Valid conformance rule files (invalid_* ones test load errors on purpose).
CONFORMANCE_RULES = sorted(f for f in (SHARED / "conformance" / "falco" / "rules").rglob("*.yaml")
                           if not f.name.startswith("invalid_"))
needs_shared = pytest.mark.skipif(not RULE_FILES, reason=f"no rulesets under {SHARED}")


def _names(tid, d):
    return [p.name for p in ET.params(tid, d)]


def test_modern_layouts():
    openat = ET.type_id("openat")
    assert _names(openat, ET.EXIT) == ["fd", "dirfd", "name", "flags", "mode", "dev", "ino"]
    assert _names(openat, ET.ENTER) == ["dirfd", "name", "flags", "mode"]
    execve = ET.type_id("execve")
    assert _names(execve, ET.EXIT)[:7] == ["res", "exe", "args", "tid", "pid", "ptid", "cwd"]
    assert "filename" in _names(execve, ET.EXIT)       # the enter parameter, appended
    # exit events carry every argument (one event per syscall, at exit)
    assert _names(ET.type_id("ptrace"), ET.EXIT) == ["res", "addr", "data", "request", "pid"]
    assert _names(ET.type_id("close"), ET.EXIT) == ["res", "fd"]
    flags = ET.find_param(openat, ET.EXIT, "flags")
    assert (flags.ptype, flags.table, flags.storage) == ("flags32", "file_flags", "num")
    assert ET.find_param(openat, ET.EXIT, "name").storage == "bytes"


def test_meta_events_are_enter_only():
    for name in ("procexit", "container", "switch", "signaldeliver"):
        t = ET.event_type(ET.type_id(name))
        assert t.enter and not t.exit, name
        assert t.source != "syscall"


def test_generic_syscalls_have_their_own_types():
    tid = ET.type_id("madvise")
    assert tid is not None and ET.type_name(tid) == "madvise"
    assert _names(tid, ET.ENTER) == ["ID", "nativeID"]
    assert ET.type_for_syscall(ET.syscall_code("madvise")) == tid
    assert ET.type_for_syscall(ET.syscall_code("openat")) == ET.type_id("openat")
    assert ppm_table.SYSCALL_NAMES[139] == "madvise" and ppm_table.SYSCALL_NAMES[442] == "mseal"


def test_ids_are_dense_unique_and_round_trip():
    ids = ET.all_type_ids()
    assert ids == frozenset(range(len(ET.TYPES)))
    names = [ET.type_name(t) for t in sorted(ids)]
    assert len(set(names)) == len(names)
    assert all(ET.type_id(n) == t for t, n in enumerate(names))
    assert ET.type_id("no_such_event") is None
    assert max(ids) < np.iinfo(batch.BATCH_COLUMNS[2][1]).max     # fits Batch.type


def test_param_index_arrays_agree_with_layouts():
    assert ET.MAX_PARAMS == batch.MAX_PARAMS
    for t in ET.TYPES:
        for d in (ET.ENTER, ET.EXIT):
            slot = t.id * 2 + d
            ps = t.params(d)
            assert ET.NPARAMS[slot] == len(ps)
            for k, p in enumerate(ps):
                nid = ET.param_name_id(p.name)
                if ET.param_index(t.id, d, p.name) == k:
                    assert ET.PARAM_INDEX[nid, slot] == k
                store = ET.PARAM_STORAGE[slot, k]
                assert (store == ET.STORE_BYTES) == (p.storage == "bytes")
                assert (store == ET.STORE_NAME) == (p.ptype in ("uid", "gid"))
    assert ET.param_name_id("no_such_param") is None


def test_has_res_follows_the_exit_return_value():
    assert ET.HAS_RES[ET.type_id("openat")] and ET.HAS_RES[ET.type_id("execve")]
    assert not ET.HAS_RES[ET.type_id("procexit")]


def test_driver_codes_decode_old_and_new_layouts():
    old = ET.ppm_layout(103)                       # PPME_SYSCALL_OPENAT_X, old version
    assert old.old and ET.type_name(old.type_id) == "openat" and old.dir == ET.EXIT
    assert [p.name for p in old.params] == ["fd"]
    new = ET.ppm_layout(307)                       # PPME_SYSCALL_OPENAT_2_X
    assert not new.old and list(new.params) == ET.params(ET.type_id("openat"), ET.EXIT)
    assert ET.type_name(ET.ppm_layout(27).type_id) == "accept"
    assert ET.ppm_layout(17) is None               # PPME_PROCEXIT_X: unused
    # an old layout maps by name into today's: execve 8 had no env / filename
    old_exec = ET.ppm_layout(13)
    mapped = ET.ppm_param_map(13)
    assert [p.name for p in old_exec.params][:3] == ["res", "exe", "args"]
    assert mapped[:3] == (0, 1, 2) and -1 not in mapped
    assert ET.ppm_param_map(307) == tuple(range(7))
    codes = sorted(ET.PPM_LAYOUTS)
    assert codes[0] == 0 and codes[-1] == 425
    for code, lay in ET.PPM_LAYOUTS.items():
        assert lay.dir == code % 2


def test_type_names_table_for_numba():
    for t in ET.TYPES[:50]:
        off, n = ET.TYPE_NAME_OFF[t.id], ET.TYPE_NAME_LEN[t.id]
        assert off % 8 == 0
        assert bytes(ET.TYPE_NAMES[off:off + n]).decode() == t.name
        assert ET.TYPE_NAMES[off + n] == 0


def _evt_type_values(files):
    """Every event type named in `evt.type <op> ...` of the files' conditions."""
    items, lists = [], {}
    for f in files:
        try:
            docs = yaml.safe_load(f.read_text()) or []
        except yaml.YAMLError:
            continue
        for it in docs if isinstance(docs, list) else []:
            if isinstance(it, dict):
                items.append(it)
                if "list" in it:
                    lists[it["list"]] = it.get("items") or []
    out = set()
    rx = re.compile(r"evt\.type\s*(?:=|==|!=|\bin\b)\s*(\([^)]*\)|[\w]+)")
    for it in items:
        cond = it.get("condition")
        for m in rx.finditer(cond if isinstance(cond, str) else ""):
            for word in re.split(r"[\s,()]+", m.group(1)):
                if word:
                    out.update(lists.get(word, [word]))
    return out


@needs_shared
def test_every_rules_event_type_exists():
    values = _evt_type_values(RULE_FILES)
    assert {"execve", "openat2", "ptrace", "container", "bpf", "userfaultfd"} <= values
    missing = sorted(v for v in values if ET.type_id(v) is None)
    assert not missing, missing


@needs_shared
def test_every_conformance_event_type_exists():
    values = _evt_type_values(CONFORMANCE_RULES)
    assert {"madvise", "access"} <= values
    missing = sorted(v for v in values if ET.type_id(v) is None)
    assert not missing, missing
