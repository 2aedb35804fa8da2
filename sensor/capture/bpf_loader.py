"""Load BPF objects with libbpf (libbpf.so.1) through ctypes.

    obj = BpfObject("bpf/build/sensor.bpf.o")
    obj.set_autoload("sys_exit_openat", False)
    obj.set_map_size("events", 64 << 20)
    obj.set_rodata(settings_bytes)
    obj.load()
    obj.attach("sys_exit_execve")
    fd = obj.map_fd("events")
    ...
    obj.close()

Every failure is a `BpfError` whose text says what to do about it.  libbpf's own
messages never reach stderr: they go to the `sensor.capture.bpf_loader` logger at
debug level, and the recent ones are kept so that a rejected program's error can
quote the tail of the verifier log.
"""
from __future__ import annotations

import collections
import ctypes
import errno as _errno
import logging
import os
import platform
from pathlib import Path

log = logging.getLogger(__name__)

BTF_VMLINUX = "/sys/kernel/btf/vmlinux"
CAP_PERFMON, CAP_BPF = 38, 39
BPF_MAP_TYPE_RINGBUF = 27
_PERCPU_MAP_TYPES = {5, 6, 10, 21}      # PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE
VERIFIER_TAIL_LINES = 25
_TRAMPOLINE_SECTIONS = {"fentry", "fexit", "fmod_ret", "lsm", "fentry.s", "fexit.s", "fmod_ret.s",
                        "lsm.s"}


class BpfError(RuntimeError):
    """A BPF operation failed; the message is meant for the user."""


# ---------------------------------------------------------------------------------------------
# libbpf and libc through ctypes

_lib = None
_libc = ctypes.CDLL(None, use_errno=True)
_libc.vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]
_libc.vsnprintf.restype = ctypes.c_int

_P, _I, _U32, _S = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32, ctypes.c_char_p
_SIGNATURES = {
    "libbpf_set_print": (_P, [_P]),
    "libbpf_strerror": (_I, [_I, ctypes.c_char_p, ctypes.c_size_t]),
    "libbpf_num_possible_cpus": (_I, []),
    "bpf_object__open_file": (_P, [_S, _P]),
    "bpf_object__load": (_I, [_P]),
    "bpf_object__close": (None, [_P]),
    "bpf_object__next_program": (_P, [_P, _P]),
    "bpf_object__next_map": (_P, [_P, _P]),
    "bpf_object__find_program_by_name": (_P, [_P, _S]),
    "bpf_object__find_map_by_name": (_P, [_P, _S]),
    "bpf_program__name": (_S, [_P]),
    "bpf_program__section_name": (_S, [_P]),
    "bpf_program__set_autoload": (_I, [_P, ctypes.c_bool]),
    "bpf_program__autoload": (ctypes.c_bool, [_P]),
    "bpf_program__fd": (_I, [_P]),
    "bpf_program__attach": (_P, [_P]),
    "bpf_link__destroy": (_I, [_P]),
    "bpf_map__name": (_S, [_P]),
    "bpf_map__type": (_I, [_P]),
    "bpf_map__fd": (_I, [_P]),
    "bpf_map__key_size": (_U32, [_P]),
    "bpf_map__value_size": (_U32, [_P]),
    "bpf_map__max_entries": (_U32, [_P]),
    "bpf_map__set_max_entries": (_I, [_P, _U32]),
    "bpf_map__set_initial_value": (_I, [_P, _P, ctypes.c_size_t]),
    "bpf_map_update_elem": (_I, [_I, _P, _P, ctypes.c_uint64]),
    "bpf_map_lookup_elem": (_I, [_I, _P, _P]),
    "bpf_map_delete_elem": (_I, [_I, _P]),
    "bpf_map_lookup_batch": (_I, [_I, _P, _P, _P, _P, _P, _P]),
}

# int (*libbpf_print_fn_t)(enum libbpf_print_level level, const char *fmt, va_list ap)
_PRINT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_LEVELS = {0: "warn", 1: "info", 2: "debug"}

# The recent libbpf messages: (sequence number, level, text).  A verifier log arrives as one
# message, so a few hundred messages are plenty.
_recent: collections.deque = collections.deque(maxlen=400)
_msg_seq = 0
_VA_LIST_TAG = 24        # x86_64: struct __va_list_tag { u32 gp, fp; void *overflow, *save; }


def _format(fmt: bytes, ap: int) -> str:
    """vsnprintf(fmt, ap).  On x86_64 a va_list is a pointer to a 24-byte tag that vsnprintf
    consumes; copying the tag is va_copy, so a message longer than the first buffer is
    formatted again from a fresh copy."""
    if platform.machine() != "x86_64" or not ap:
        return fmt.decode(errors="replace")
    tag = ctypes.create_string_buffer(ctypes.string_at(ap, _VA_LIST_TAG), _VA_LIST_TAG)
    size = 1024
    for _ in range(2):
        work = ctypes.create_string_buffer(tag.raw, _VA_LIST_TAG)
        buf = ctypes.create_string_buffer(size)
        n = _libc.vsnprintf(buf, size, fmt, ctypes.addressof(work))
        if n < 0:
            return fmt.decode(errors="replace")
        if n < size:
            return buf.value.decode(errors="replace")
        size = n + 1
    return buf.value.decode(errors="replace")


def _on_libbpf_print(level, fmt, ap):
    global _msg_seq
    try:
        text = _format(fmt or b"", ap)
        _msg_seq += 1
        _recent.append((_msg_seq, level, text))
        for line in text.rstrip("\n").splitlines():
            log.debug("libbpf %s: %s", _LEVELS.get(level, level), line)
    except Exception:       # never raise into C
        pass
    return 0


# Referenced from module globals for the life of the process: libbpf keeps the pointer.
_PRINT_CALLBACK = _PRINT_FN(_on_libbpf_print)


def libbpf():
    """The libbpf CDLL with every signature declared and the print callback installed."""
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libbpf.so.1", use_errno=True)
        except OSError as e:
            raise BpfError(f"cannot load libbpf.so.1 ({e}); install Debian's libbpf1 "
                           "(`make setup` does)") from None
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        lib.libbpf_set_print(ctypes.cast(_PRINT_CALLBACK, ctypes.c_void_p))
        _lib = lib
    return _lib


def _strerror(err: int) -> str:
    err = abs(err)
    buf = ctypes.create_string_buffer(256)
    if libbpf().libbpf_strerror(err, buf, len(buf)) == 0 and buf.value:
        return buf.value.decode(errors="replace")
    return os.strerror(err)


# ---------------------------------------------------------------------------------------------
# Preconditions

def _effective_caps() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def require_live_capture() -> None:
    """Raise BpfError unless this process may load tracing programs on a kernel with BTF."""
    caps = _effective_caps()
    if os.geteuid() != 0 and not (caps >> CAP_BPF & 1 and caps >> CAP_PERFMON & 1):
        raise BpfError("live capture needs root (CAP_BPF and CAP_PERFMON); run the sensor as "
                       "root, or replay a .scap file instead")
    if not os.path.exists(BTF_VMLINUX):
        raise BpfError(f"the kernel has no BTF ({BTF_VMLINUX} is missing): live capture needs a "
                       "kernel built with CONFIG_DEBUG_INFO_BTF=y (5.8 or later; most "
                       "distribution kernels are)")


def _verifier_failure(since: int) -> tuple[str | None, list[str]]:
    """The program named in the last load failure after message `since`, and its log tail."""
    prog, tail = None, []
    for seq, _level, text in _recent:
        if seq <= since:
            continue
        if "-- BEGIN PROG LOAD LOG --" in text:
            prog = _prog_in(text) or prog
            body = text.split("-- BEGIN PROG LOAD LOG --", 1)[1]
            body = body.split("-- END PROG LOAD LOG --", 1)[0]
            tail = [ln for ln in body.splitlines() if ln.strip()][-VERIFIER_TAIL_LINES:]
        elif "BPF program load failed" in text or "failed to load" in text:
            prog = _prog_in(text) or prog
    return prog, tail


def _prog_in(text: str) -> str | None:
    i = text.find("prog '")
    if i < 0:
        return None
    j = text.find("'", i + 6)
    return text[i + 6:j] if j > i else None


def _messages_since(since: int, level_max: int = 0, limit: int = 6) -> list[str]:
    lines = []
    for seq, level, text in _recent:
        if seq > since and level <= level_max:
            # libbpf's RLIMIT_MEMLOCK hint is obsolete since 5.11 (memory cgroup accounting)
            lines.extend(ln for ln in text.splitlines() if ln.strip() and "ulimit -l" not in ln)
    return lines[-limit:]


# ---------------------------------------------------------------------------------------------

class BpfObject:
    """One BPF ELF object: opened at construction, loaded once, closed once."""

    def __init__(self, path):
        self.path = Path(path)
        self._obj = None
        self._links: dict[str, int] = {}
        self._loaded = False
        if not self.path.is_file():
            raise BpfError(f"BPF object {self.path} not found; build it with `make setup`")
        lib = libbpf()
        since = _msg_seq
        obj = lib.bpf_object__open_file(os.fsencode(self.path), None)
        if not obj:
            err = ctypes.get_errno() or _errno.EINVAL
            detail = "; ".join(_messages_since(since))
            raise BpfError(f"cannot open BPF object {self.path}: {_strerror(err)}"
                           + (f" ({detail})" if detail else "")
                           + "; rebuild it with `make setup`")
        self._obj = obj

    # -- context manager ---------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # -- lookups -------------------------------------------------------------------------------
    def _live(self):
        if self._obj is None:
            raise BpfError(f"BPF object {self.path} is closed")
        return libbpf()

    def _prog(self, name: str):
        lib = self._live()
        p = lib.bpf_object__find_program_by_name(self._obj, name.encode())
        if not p:
            raise BpfError(f"no BPF program {name!r} in {self.path.name} (it has: "
                           f"{', '.join(self.program_names())})")
        return p

    def _map(self, name: str):
        lib = self._live()
        m = lib.bpf_object__find_map_by_name(self._obj, name.encode())
        if not m:
            raise BpfError(f"no BPF map {name!r} in {self.path.name} (it has: "
                           f"{', '.join(self.map_names())})")
        return m

    def program_names(self) -> list[str]:
        lib = self._live()
        names, p = [], None
        while True:
            p = lib.bpf_object__next_program(self._obj, p)
            if not p:
                return names
            names.append(lib.bpf_program__name(p).decode())

    def map_names(self) -> list[str]:
        lib = self._live()
        names, m = [], None
        while True:
            m = lib.bpf_object__next_map(self._obj, m)
            if not m:
                return names
            names.append(lib.bpf_map__name(m).decode())

    # -- before load ---------------------------------------------------------------------------
    def _before_load(self, what: str):
        lib = self._live()
        if self._loaded:
            raise BpfError(f"{what}: BPF object {self.path.name} is already loaded")
        return lib

    def set_autoload(self, name: str, on: bool) -> None:
        lib = self._before_load(f"set_autoload({name!r})")
        rc = lib.bpf_program__set_autoload(self._prog(name), bool(on))
        if rc < 0:
            raise BpfError(f"set_autoload({name!r}): {_strerror(rc)}")

    def set_map_size(self, name: str, entries: int) -> None:
        lib = self._before_load(f"set_map_size({name!r})")
        m = self._map(name)
        if lib.bpf_map__type(m) == BPF_MAP_TYPE_RINGBUF:
            page = os.sysconf("SC_PAGE_SIZE")
            if entries < page or entries & (entries - 1):
                raise BpfError(f"ring buffer {name!r} size {entries} must be a power of two "
                               f"of at least the page size ({page})")
        if not 0 < entries < 1 << 32:
            raise BpfError(f"map {name!r}: size {entries} out of range")
        rc = lib.bpf_map__set_max_entries(m, entries)
        if rc < 0:
            raise BpfError(f"set_map_size({name!r}, {entries}): {_strerror(rc)}")

    def _rodata_map(self):
        lib = self._live()
        m = None
        while True:
            m = lib.bpf_object__next_map(self._obj, m)
            if not m:
                raise BpfError(f"BPF object {self.path.name} has no .rodata map (no "
                               "`const volatile` settings)")
            if lib.bpf_map__name(m).decode().endswith(".rodata"):
                return m

    def set_rodata(self, data: bytes) -> None:
        lib = self._before_load("set_rodata")
        m = self._rodata_map()
        want = lib.bpf_map__value_size(m)
        data = bytes(data)
        if len(data) != want:
            raise BpfError(f"settings are {len(data)} bytes but the object's .rodata is {want} "
                           f"bytes: {self.path.name} and the Python side disagree; rebuild "
                           "with `make setup`")
        buf = ctypes.create_string_buffer(data, len(data))
        rc = lib.bpf_map__set_initial_value(m, buf, len(data))
        if rc < 0:
            raise BpfError(f"set_rodata: {_strerror(rc)}")

    # -- load and attach -----------------------------------------------------------------------
    def load(self) -> None:
        lib = self._before_load("load")
        require_live_capture()
        since = _msg_seq
        rc = lib.bpf_object__load(self._obj)
        if rc == 0:
            self._loaded = True
            return
        prog, tail = _verifier_failure(since)
        if tail:
            raise BpfError(f"the kernel verifier rejected BPF program {prog!r} "
                           f"({_strerror(rc)}); last lines of the verifier log:\n"
                           + "\n".join(tail))
        detail = "\n".join(_messages_since(since))
        what = f"BPF program {prog!r}" if prog else f"BPF object {self.path.name}"
        sec = ""
        if prog:
            p = lib.bpf_object__find_program_by_name(self._obj, prog.encode())
            sec = (lib.bpf_program__section_name(p) or b"").decode() if p else ""
            what += f" ({sec})" if sec else ""
        hint = ""
        if -rc in (_errno.EPERM, _errno.EACCES) and sec.split("/")[0] in _TRAMPOLINE_SECTIONS:
            hint = ("; this kernel refuses trampoline programs (fentry/fexit/fmod_ret/LSM) even "
                    "with CAP_BPF and CAP_PERFMON (kernel lockdown, or a virtualised kernel "
                    "that cannot patch its text); use tracepoint programs (tp_btf/raw_tp) here")
        elif -rc in (_errno.EPERM, _errno.EACCES):
            hint = "; live capture needs root (CAP_BPF and CAP_PERFMON)"
        elif -rc in (_errno.EINVAL, _errno.ENOTSUP, _errno.EOPNOTSUPP, _errno.ENOENT,
                     _errno.ESRCH):
            hint = "; the kernel may lack a feature this object needs (BTF, fentry/fexit, ring " \
                   "buffers: 5.8 or later)"
        raise BpfError(f"cannot load {what}: {_strerror(rc)}{hint}"
                       + (f"\nlibbpf said:\n{detail}" if detail else ""))

    def attach(self, name: str) -> None:
        lib = self._live()
        if not self._loaded:
            raise BpfError(f"attach({name!r}): load() the object first")
        if name in self._links:
            raise BpfError(f"BPF program {name!r} is already attached")
        p = self._prog(name)
        if lib.bpf_program__fd(p) < 0:
            raise BpfError(f"BPF program {name!r} was not loaded (autoload is off)")
        since = _msg_seq
        link = lib.bpf_program__attach(p)
        if not link:
            err = ctypes.get_errno() or _errno.EINVAL
            sec = (lib.bpf_program__section_name(p) or b"?").decode()
            detail = "; ".join(_messages_since(since, limit=3))
            raise BpfError(f"cannot attach BPF program {name!r} ({sec}): {_strerror(err)}; "
                           "the kernel may lack the attach point or the feature"
                           + (f" (libbpf: {detail})" if detail else ""))
        self._links[name] = link

    def detach(self, name: str) -> None:
        lib = self._live()
        link = self._links.pop(name, None)
        if link is None:
            raise BpfError(f"BPF program {name!r} is not attached")
        lib.bpf_link__destroy(link)

    def attached(self) -> list[str]:
        return list(self._links)

    # -- maps ----------------------------------------------------------------------------------
    def map_fd(self, name: str) -> int:
        lib = self._live()
        if not self._loaded:
            raise BpfError(f"map_fd({name!r}): load() the object first")
        fd = lib.bpf_map__fd(self._map(name))
        if fd < 0:
            raise BpfError(f"map {name!r} has no descriptor: {_strerror(fd)}")
        return fd

    def _kv(self, name: str, key: bytes):
        lib = self._live()
        m = self._map(name)
        fd = self.map_fd(name)
        ks = lib.bpf_map__key_size(m)
        if len(key) != ks:
            raise BpfError(f"map {name!r}: key is {len(key)} bytes, the map's key is {ks}")
        return lib, m, fd, ctypes.create_string_buffer(bytes(key), ks)

    def _value_layout(self, lib, m) -> tuple[int, int, bool]:
        vs = lib.bpf_map__value_size(m)
        percpu = lib.bpf_map__type(m) in _PERCPU_MAP_TYPES
        ncpu = self.num_possible_cpus() if percpu else 1
        return vs, ncpu, percpu

    def map_update(self, name: str, key: bytes, value: bytes, flags: int = 0) -> None:
        """Set key -> value.  For per-CPU maps `value` is every possible CPU's value, each
        padded to 8 bytes (or one value, copied to every CPU)."""
        lib, m, fd, kbuf = self._kv(name, key)
        vs, ncpu, percpu = self._value_layout(lib, m)
        value = bytes(value)
        if percpu:
            stride = (vs + 7) & ~7
            if len(value) == vs:
                value = value.ljust(stride, b"\0") * ncpu
            elif len(value) != stride * ncpu:
                raise BpfError(f"map {name!r}: per-CPU value is {len(value)} bytes, expected "
                               f"{vs} or {ncpu} x {stride}")
        elif len(value) != vs:
            raise BpfError(f"map {name!r}: value is {len(value)} bytes, the map's value is {vs}")
        vbuf = ctypes.create_string_buffer(value, len(value))
        rc = lib.bpf_map_update_elem(fd, kbuf, vbuf, flags)
        if rc < 0:
            raise BpfError(f"map {name!r}: update failed: {_strerror(rc)}")

    def map_delete(self, name: str, key: bytes) -> None:
        lib, _m, fd, kbuf = self._kv(name, key)
        rc = lib.bpf_map_delete_elem(fd, kbuf)
        if rc < 0:
            raise BpfError(f"map {name!r}: delete failed: {_strerror(rc)}")

    def map_lookup(self, name: str, key: bytes) -> bytes | None:
        """The value for key in a map that is not per-CPU, or None when absent."""
        lib, m, fd, kbuf = self._kv(name, key)
        vs, _ncpu, percpu = self._value_layout(lib, m)
        if percpu:
            raise BpfError(f"map {name!r} is per-CPU: use map_lookup_percpu")
        vbuf = ctypes.create_string_buffer(vs)
        rc = lib.bpf_map_lookup_elem(fd, kbuf, vbuf)
        if rc < 0:
            if -rc == _errno.ENOENT:
                return None
            raise BpfError(f"map {name!r}: lookup failed: {_strerror(rc)}")
        return vbuf.raw

    def map_lookup_percpu(self, name: str, key: bytes) -> list[bytes]:
        """One value per possible CPU (each value_size bytes)."""
        lib, m, fd, kbuf = self._kv(name, key)
        vs, ncpu, percpu = self._value_layout(lib, m)
        if not percpu:
            raise BpfError(f"map {name!r} is not per-CPU")
        stride = (vs + 7) & ~7          # the kernel pads every CPU's value to 8 bytes
        vbuf = ctypes.create_string_buffer(stride * ncpu)
        rc = lib.bpf_map_lookup_elem(fd, kbuf, vbuf)
        if rc < 0:
            raise BpfError(f"map {name!r}: lookup failed: {_strerror(rc)}")
        raw = vbuf.raw
        return [raw[i * stride:i * stride + vs] for i in range(ncpu)]

    def array_percpu_u64(self, name: str):
        """Every entry of a per-CPU array of u64, summed over the CPUs, in one
        batched read (a lookup per key costs a syscall each): int64[max_entries]."""
        import numpy as np
        lib = self._live()
        m = self._map(name)
        vs, ncpu, percpu = self._value_layout(lib, m)
        if not percpu or vs != 8:
            raise BpfError(f"map {name!r} is not a per-CPU map of u64")
        n = lib.bpf_map__max_entries(m)
        keys = np.zeros(n, np.uint32)
        values = np.zeros((n, ncpu), np.uint64)
        count = ctypes.c_uint32(n)
        out_batch = ctypes.c_uint32(0)
        rc = lib.bpf_map_lookup_batch(self.map_fd(name), None, ctypes.byref(out_batch),
                                      keys.ctypes.data, values.ctypes.data,
                                      ctypes.byref(count), None)
        if rc < 0 and -rc != _errno.ENOENT:       # ENOENT: the last batch, here the only one
            raise BpfError(f"map {name!r}: batch lookup failed: {_strerror(rc)}")
        out = np.zeros(n, np.int64)
        got = int(count.value)
        out[keys[:got]] = values[:got].sum(axis=1).astype(np.int64)
        return out

    @staticmethod
    def num_possible_cpus() -> int:
        n = libbpf().libbpf_num_possible_cpus()
        if n <= 0:
            raise BpfError(f"cannot count the possible CPUs: {_strerror(n)}")
        return n

    # -- teardown ------------------------------------------------------------------------------
    def close(self) -> None:
        """Detach every program, then free the object.  Idempotent."""
        if self._obj is None:
            return
        lib = libbpf()
        links, self._links = self._links, {}
        for link in links.values():
            lib.bpf_link__destroy(link)
        obj, self._obj = self._obj, None
        lib.bpf_object__close(obj)
