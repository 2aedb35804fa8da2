"""The rare events the row kernel hands to Python (state_kernel.SLOW): process
creation and replacement, exits, cwd and credential changes, container and
user meta events.  ProcessEvents extends state_procs.Processes with one
handler per event type (on_<type>).

Semantics follow libsinsp's parsers (sysdig 0.29 generation, with the later
fixes noted):

  * a thread belongs to a thread group (its process: pid), which owns the fd
    table and the cwd; rows carry the thread's slot (slots.py);
  * clone/fork/vfork/clone3 exits: whichever side arrives first makes the
    child (the parent side does not when the caller lives in a pid namespace
    or for vfork, where the child's own events come first).  A new process
    copies the caller's fds and cwd and gets a slot copied from the caller's
    image with its own pid, parent link and start time; a new thread joins the
    caller's process;
  * execve/execveat exits (res 0): a new slot for the new image (exe, args,
    comm, env, tty, loginuid, cgroups, caps, exe inode ... from the event);
    exepath from the event, else from the enter's filename resolved against
    the cwd, else kept (as Falco keeps the one copied at clone);
  * procexit: the thread goes once its row is filled; the process exits with
    its last thread: fds closed, slots retired for the epoch;
  * a thread first seen in an event is made up as Falco does (comm and exe
    "<NA>", pid = tid, ppid -1, no user), except for events Falco never makes
    threads for (scheduler switches, clone exits, procexit, meta events);
  * chdir/fchdir, setuid/setgid/setresuid/setresgid, capset, setsid change the
    thread or its process; container and user/group meta events fill the
    Containers table and the user directory.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from sensor.events import evttypes as ET

from . import cgroups as CG
from . import paths
from .slots import Image
from .state_procs import NA, Processes
from .state_store import copy_fds, find_fd
from .state_tables import (C_APPLIED, C_FILLED, C_KILL_TH, F_NAME_SID, G_CWD_SID, G_SLOT, T_GID,
                           S_REF, T_CAPE, T_CAPI, T_CAPP, T_CLONE_TS, T_E0, T_E_BLOB, T_E_FD,
                           T_E_TYPE, T_FLAGS, T_LOGINUID, T_PID, T_PTID, T_SLOT, T_TG, T_UID,
                           T_VTID)
from .users import NONE_ID

CLONE_NEWPID, CLONE_PARENT, CLONE_THREAD, CLONE_VFORK = 64, 256, 8192, 134217728
CLONE_INVERTED = 65536
CHILD_IN_PIDNS = 1 << 29
STALE_NS = 2_000_000_000             # a thread older than this at its clone is a leftover
MAX_CWD = 4096
# execve_flags -> Procs.flags bits (fields_proc: memfd 1, upper layer 2, writable 4)
EXE_FLAG_BITS = ((1, 4), (2, 2), (4, 1))

TID = {t.name: t.id for t in ET.TYPES}


class Row:
    """Named access to one batch row's parameters (Python speed: rare events only)."""
    __slots__ = ("B", "i", "type", "dir", "mask", "_names")
    _INDEX: dict = {}

    def __init__(self, B, i: int):
        self.B, self.i = B, i
        self.type, self.dir = int(B.type[i]), int(B.dir[i])
        self.mask = int(B.arg_mask[i])
        key = (self.type, self.dir)
        names = Row._INDEX.get(key)
        if names is None:
            names = {p.name: k for k, p in reversed(list(enumerate(ET.params(*key))))}
            Row._INDEX[key] = names
        self._names = names

    @property
    def tid(self) -> int:
        return int(self.B.tid[self.i])

    @property
    def res(self) -> int:
        return int(self.B.res[self.i])

    @property
    def ts(self) -> int:
        return int(self.B.ts[self.i])

    def _k(self, name: str) -> int:
        k = self._names.get(name, -1)
        return k if k >= 0 and (self.mask >> k) & 1 else -1

    def has(self, name: str) -> bool:
        return self._k(name) >= 0

    def num(self, name: str, default=None):
        k = self._k(name)
        return default if k < 0 else int(self.B.arg_int[k, self.i])

    def bytes(self, name: str, default=None):
        k = self._k(name)
        if k < 0 or self.B.arg_len[k, self.i] < 0:
            return default
        off, ln = int(self.B.arg_off[k, self.i]), int(self.B.arg_len[k, self.i])
        return bytes(self.B.arena[off:off + ln])


def split_nul(raw: Optional[bytes]) -> list:
    """A NUL-separated list (args, env) as libsinsp splits it: one item per
    C string, the final terminator optional."""
    if not raw:
        return []
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    return raw.split(b"\0")


class ProcessEvents(Processes):
    """Processes, plus what the SLOW events do to them."""

    def handle(self, B, i: int) -> None:
        """Apply row i's event (a SLOW row); the kernel fills the row after."""
        self.flush_deferred()
        r = Row(B, i)
        fn = self._handlers.get(r.type)
        if fn is None:
            fn = self._handlers[r.type] = getattr(self, "on_" + ET.type_name(r.type), _ignore)
        fn(r)
        self.T.ctl[C_APPLIED] = i

    # processes

    def on_clone(self, r: Row) -> None:
        res = r.res
        if res < 0:
            return
        flags = r.num("flags", 0)
        if res == 0:
            self._clone_child(r, flags)
        else:
            self._clone_parent(r, res, flags)

    on_fork = on_vfork = on_clone3 = on_clone

    def _event_image(self, r: Row):
        exe = r.bytes("exe", b"")
        comm = r.bytes("comm") or exe
        args = split_nul(r.bytes("args"))
        cg = r.bytes("cgroups")
        cid = None
        if cg is not None:
            cid = self._cgroup_ids.get(cg, False)
            if cid is False:
                if len(self._cgroup_ids) > 4096:
                    self._cgroup_ids.clear()
                cid = self._cgroup_ids[cg] = CG.container_id(p for _, p in CG.parse_param(cg))
        return comm[:16], exe, args, cg is not None, cid

    def _clone_child(self, r: Row, flags: int) -> None:
        """clone() returned 0: the child's side.  The caller's side usually made
        the child already (outside pid namespaces); otherwise make it here."""
        T = self.T
        tid = r.tid
        vtid = r.num("vtid", tid)
        t = self.thread(tid)
        if t >= 0:
            cts = int(T.TH[t, T_CLONE_TS])
            if not cts or r.ts - cts < STALE_NS:
                if vtid != tid:                  # the caller could not know these
                    T.TH[t, T_VTID] = vtid
                return
            self.remove_thread(t)                # a leftover whose exit we missed
        pid = r.num("pid", tid)
        creator = pid if flags & CLONE_THREAD else r.num("ptid", -1)
        self._make_child(r, tid, creator, flags | CLONE_INVERTED, in_container=vtid != tid)

    def _clone_parent(self, r: Row, child: int, flags: int) -> None:
        """clone() returned the child's tid: the caller's side."""
        self.ensure_thread(r.tid)           # the caller exists from here on
        tid = r.tid
        if (flags & (CHILD_IN_PIDNS | CLONE_NEWPID | CLONE_PARENT)
                or r.num("vtid", tid) != tid):
            return                   # in a pid namespace: only the child knows its tid
        if flags & CLONE_VFORK or r.type == TID["vfork"]:
            return                   # the child runs first and makes itself
        ct = self.thread(child)
        if ct >= 0:
            if int(self.T.TH[ct, T_FLAGS]) & CLONE_INVERTED:
                return
            self.remove_thread(ct)
        self._make_child(r, child, tid, flags, in_container=False)

    def _make_child(self, r: Row, child: int, creator: int, flags: int,
                    in_container: bool) -> None:
        """The new thread `child`, made from the thread that created it (the
        caller, or for a thread seen first from its own side the main thread):
        a thread joins the creator's process, a process gets a copy of its
        image, fds and cwd.  As in libsinsp, the child's parent is its creator
        (so a thread's proc.pname is its own process's name), and a creator
        made up from nothing takes the event's name and arguments."""
        T = self.T
        TH = T.TH
        ct = self.thread(creator)
        if ct < 0:
            ct = self.fake_thread(creator)       # libsinsp's lookup makes it up
            self.unknown_threads += 1
        comm, exe, args, has_cg, cid = self._event_image(r)
        valid = not self.made_up(ct)
        if not valid:
            self._name_made_up(ct, comm, exe, args)
        cg = int(TH[ct, T_TG])
        cslot = int(TH[ct, T_SLOT])
        uid, gid = r.num("uid", NONE_ID), r.num("gid", NONE_ID)
        caps = tuple(int(np.uint64(TH[ct, c])) for c in (T_CAPE, T_CAPP, T_CAPI)) \
            if valid else (0, 0, 0)
        loginuid = int(TH[ct, T_LOGINUID]) if valid else 0
        if flags & CLONE_THREAD:
            pid = int(TH[ct, T_PID])
            g = cg
            slot = self.thread_slot(g, comm, exe, args, parent=cslot)
            vpid = r.num("vpid", -1) if in_container else pid
        else:
            pid = child
            vpid = r.num("vpid", -1) if in_container else pid
            numbers = dict(pid=pid, vpid=vpid, ppid=creator, parent=cslot, start_ts=r.ts)
            if has_cg:
                numbers["container"] = self.C.row_for(cid)
            slot = self.derive_slot(cslot, comm=comm, exe=exe, args=args, **numbers)
            if not valid:
                self.S.set_string(slot, "exepath", b"")
                self.S.image(slot).exepath = b""
            cwd = int(T.TG[cg, G_CWD_SID]) if valid else self.empty_sid
            T.SE[cwd, S_REF] += 1
            g = self.new_group(pid, slot, cwd)
            if valid:
                copy_fds(T.k, cg, g)
        vtid = r.num("vtid", -1) if in_container else child
        self.new_thread(child, g, slot, pid=pid, ptid=creator, vtid=vtid, uid=uid, gid=gid,
                        caps=caps, loginuid=loginuid, flags=flags, clone_ts=r.ts)

    def _name_made_up(self, t: int, comm, exe, args) -> None:
        """A made-up thread that clones learns its name and arguments from the
        event (libsinsp propagates them to it)."""
        g = int(self.T.TH[t, T_TG])
        main = int(self.T.TG[g, G_SLOT])
        if self.S.image(main).comm != NA:
            return
        self.replace_image(g, self.derive_slot(main, comm=comm, exe=exe, args=args))

    def on_execve(self, r: Row) -> None:
        t = self.ensure_thread(r.tid)
        if r.res < 0:
            return
        T, S = self.T, self.S
        TH = T.TH
        g = int(TH[t, T_TG])
        old = S.image(int(T.TG[g, G_SLOT]))
        comm, exe, args, has_cg, cid = self._event_image(r)
        parent, ppid = old.parent, old.ppid
        if int(TH[t, T_PTID]) == -1 and r.has("ptid"):
            # a made-up thread at least learns its parent here
            ppid = r.num("ptid")
            TH[t, T_PTID] = ppid
            parent = self.slot_of_tid(ppid)
        env = split_nul(r.bytes("env")) if r.has("env") else old.env
        flags = old.flags
        if r.has("flags"):
            f = r.num("flags")
            flags = sum(bit for mask, bit in EXE_FLAG_BITS if f & mask)
        container = self.C.row_for(cid) if has_cg else old.container
        cwd = self.str_bytes(int(T.TG[g, G_CWD_SID]))
        img = Image(pid=r.num("pid", old.pid), vpid=old.vpid, ppid=ppid,
                    parent=parent, sid=old.sid, vpgid=r.num("pgid", old.vpgid),
                    comm=comm, exe=exe, exepath=self._exepath(r, t, g, old.exepath),
                    args=args, env=env, cwd=cwd, tty=r.num("tty", old.tty),
                    loginuid=r.num("loginuid", old.loginuid), start_ts=old.start_ts,
                    exe_ino=r.num("exe_ino", old.exe_ino),
                    exe_ino_ctime=r.num("exe_ino_ctime", old.exe_ino_ctime),
                    exe_ino_mtime=r.num("exe_ino_mtime", old.exe_ino_mtime), flags=flags,
                    container=container)
        self.replace_image(g, self.image_slot(img))
        if r.has("cap_effective"):
            for col, name in ((T_CAPE, "cap_effective"), (T_CAPP, "cap_permitted"),
                              (T_CAPI, "cap_inheritable")):
                TH[t, col] = np.int64(np.uint64(r.num(name) & (2**64 - 1)))
        if r.has("loginuid"):
            self.set_loginuid(t, r.num("loginuid"))
        self.set_ids(t, r.num("uid"), r.num("gid"))
        if container != old.container:
            self.set_ids(t, int(TH[t, T_UID]), int(TH[t, T_GID]))

    on_execveat = on_execve

    def _exepath(self, r: Row, t: int, g: int, previous: Optional[bytes]) -> Optional[bytes]:
        trusted = r.bytes("trusted_exepath")
        if trusted:
            return trusted
        TH = self.T.TH
        last = int(TH[t, T_E_TYPE])
        blob = self.str_bytes(int(TH[t, T_E_BLOB]))
        if blob is None or last not in (TID["execve"], TID["execveat"]):
            return previous
        if blob == NA:
            return NA
        cwd = self.str_bytes(int(self.T.TG[g, G_CWD_SID])) or b""
        if last == TID["execve"]:
            return paths.join(cwd, blob)
        dirfd, flags = int(TH[t, T_E0 + 1]), int(TH[t, T_E0])
        if blob.startswith(b"/"):
            return paths.join(b"", blob)
        if dirfd == paths.AT_FDCWD:
            base = cwd
        else:
            rec = int(find_fd(self.T.k, g, dirfd))
            if rec < 0:
                return NA
            base = paths.as_dir(self.str_bytes(int(self.T.FD[rec, F_NAME_SID])) or b"")
        if flags & 1 and not blob:                      # AT_EMPTY_PATH: dirfd is the file
            return paths.join(b"", base)
        return paths.join(base, blob)

    def on_procexit(self, r: Row) -> None:
        t = self.thread(r.tid)
        if t < 0:
            return
        self.T.ctl[C_KILL_TH] = t               # after its row is filled
        self.leave_group(t)

    # working directory

    def _set_cwd(self, g: int, target: bytes) -> None:
        T = self.T
        old = int(T.TG[g, G_CWD_SID])
        cwd = paths.new_cwd(self.str_bytes(old) or b"", target)[:MAX_CWD]
        T.TG[g, G_CWD_SID] = self.new_str(cwd)
        self.deferred_sids.append(old)

    def on_chdir(self, r: Row) -> None:
        t = self.ensure_thread(r.tid)
        path = r.bytes("path")
        if r.res >= 0 and path is not None:
            self._set_cwd(int(self.T.TH[t, T_TG]), path)

    def on_fchdir(self, r: Row) -> None:
        t = self.ensure_thread(r.tid)
        if r.res < 0:
            return
        TH = self.T.TH
        fd = r.num("fd")
        if fd is None and int(TH[t, T_E_TYPE]) == r.type:
            fd = int(TH[t, T_E_FD])
        g = int(TH[t, T_TG])
        rec = int(find_fd(self.T.k, g, fd)) if fd is not None else -1
        if rec >= 0:
            name = self.str_bytes(int(self.T.FD[rec, F_NAME_SID]))
            if name is not None:
                self._set_cwd(g, name)

    # credentials

    def _enter_num(self, r: Row, t: int, name: str, slot: int):
        v = r.num(name)
        if v is None and int(self.T.TH[t, T_E_TYPE]) == r.type:
            v = int(self.T.TH[t, T_E0 + slot])
        return v

    def on_setuid(self, r: Row) -> None:
        t = self.ensure_thread(r.tid)
        uid = self._enter_num(r, t, "uid", 0)
        if r.res == 0 and uid is not None:
            self.set_ids(t, uid=uid)

    def on_setgid(self, r: Row) -> None:
        t = self.ensure_thread(r.tid)
        gid = self._enter_num(r, t, "gid", 0)
        if r.res == 0 and gid is not None:
            self.set_ids(t, gid=gid)

    def on_setresuid(self, r: Row) -> None:
        t = self.ensure_thread(r.tid)
        euid = self._enter_num(r, t, "euid", 1)
        if r.res == 0 and euid is not None and euid & NONE_ID != NONE_ID:
            self.set_ids(t, uid=euid)

    def on_setresgid(self, r: Row) -> None:
        t = self.ensure_thread(r.tid)
        egid = self._enter_num(r, t, "egid", 1)
        if r.res == 0 and egid is not None and egid & NONE_ID != NONE_ID:
            self.set_ids(t, gid=egid)

    def on_capset(self, r: Row) -> None:
        t = self.ensure_thread(r.tid)
        if r.res < 0 or not r.has("cap_effective"):
            return
        TH = self.T.TH
        for col, name in ((T_CAPE, "cap_effective"), (T_CAPP, "cap_permitted"),
                          (T_CAPI, "cap_inheritable")):
            TH[t, col] = np.int64(np.uint64(r.num(name, 0) & (2**64 - 1)))

    def on_setsid(self, r: Row) -> None:
        """The process leads a new session: a copy of its slot with that sid."""
        t = self.ensure_thread(r.tid)
        if r.res < 0:
            return
        g = int(self.T.TH[t, T_TG])
        src = int(self.T.TG[g, G_SLOT])
        new = self.S.copy(src, sid=r.res)
        self.S.P.session[new] = new
        self.S.image(new).session = new
        self.replace_image(g, new)

    # meta events

    def on_container(self, r: Row) -> None:
        raw = r.bytes("json")
        row = self.C.apply_json(raw) if raw else None
        B, i = r.B, r.i
        if row is None:
            fill_no_thread(B, i)
        else:
            slot = self.pseudo.get(row)
            if slot is None:
                cid = self.cid_of_row(row)
                name = b"container:" + cid
                slot = self.pseudo[row] = self.S.new(Image(
                    pid=-1, vpid=-2, ppid=0, sid=-1, vpgid=-1, comm=name, exe=b"",
                    exepath=b"", cwd=b"", loginuid=0, container=row))
            # libsinsp shows the event with a made-up thread: tid -1, uid 0, cwd ""
            fill_no_thread(B, i)
            B.slot[i] = slot
            B.vtid[i] = -2
            B.uid[i] = B.gid[i] = 0
            for col, text in (("user_name", self.U.user(0)), ("group_name", self.U.group(0)),
                              ("user_loginname", self.U.user(0)), ("cwd", b"")):
                if text is not None:
                    getattr(B, col + "_off")[i] = put_row_text(B, text)
                    getattr(B, col + "_len")[i] = len(text)
        self.T.ctl[C_FILLED] = i

    def on_useradded(self, r: Row) -> None:
        self.U.add_user(r.num("uid", 0), r.bytes("name", b""), r.bytes("container_id", b""))
        self._meta_row(r)

    def on_userdeleted(self, r: Row) -> None:
        self.U.remove_user(r.num("uid", 0), r.bytes("container_id", b""))
        self._meta_row(r)

    def on_groupadded(self, r: Row) -> None:
        self.U.add_group(r.num("gid", 0), r.bytes("name", b""), r.bytes("container_id", b""))
        self._meta_row(r)

    def on_groupdeleted(self, r: Row) -> None:
        self.U.remove_group(r.num("gid", 0), r.bytes("container_id", b""))
        self._meta_row(r)

    def _meta_row(self, r: Row) -> None:
        self.refresh_names()
        fill_no_thread(r.B, r.i)
        self.T.ctl[C_FILLED] = r.i


def _ignore(r: Row) -> None:
    pass


def fill_no_thread(B, i: int) -> None:
    """A row with no thread and no fd (Python side of state_kernel's defaults)."""
    B.slot[i] = -1
    B.vtid[i] = -1
    B.uid[i] = -1
    B.gid[i] = -1
    B.cap_effective[i] = B.cap_permitted[i] = B.cap_inheritable[i] = 0
    for name in ("user_name", "group_name", "user_loginname", "cwd", "fd_name", "fd_nameraw"):
        getattr(B, name + "_len")[i] = -1
    B.fd[i] = -1
    for name in ("fd_type", "fd_l4proto", "fd_family", "fd_cip_hi", "fd_cip_lo", "fd_sip_hi",
                 "fd_sip_lo", "fd_cport", "fd_sport", "fd_role", "fd_connected",
                 "fd_name_changed"):
        getattr(B, name)[i] = 0


def put_row_text(B, text: bytes) -> int:
    """Append text to the batch arena (the kernel left a row's worth of room)."""
    at = int(B.n[1])
    end = at + len(text)
    B.arena[at:end] = np.frombuffer(text, np.uint8)
    B.arena[end:end + (-end % 8)] = 0
    B.n[1] = end + (-end % 8)
    return at
