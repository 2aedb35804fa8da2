"""Threads, processes and their images, as Python sees the state tables: making
and removing thread and process records, their slots (one per process image,
variants for threads whose own name, exe, arguments or parent differ), the
names rows show for ids, and the threads libsinsp makes up for unknown tids.

The events that change them are state_events.py; seeding from a Snapshot is
state_seed.py.  Facts about Falco's behaviour are noted where they are used.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .slots import Image, SlotTable
from .state_store import free_fds, str_commit, str_decref
from .state_tables import (C_NGROUPS, C_NTHREADS, C_SB_N, C_TG_FREE, C_TG_N, C_TH_FREE,
                           C_TH_N, G_CONTAINER, G_CWD_SID, G_FD_HEAD, G_LIVE, G_NEXT,
                           G_NTHREADS, G_PID, G_SLOT, PINNED, S_LEN, S_OFF, S_REF, T_CAPE,
                           T_CAPI, T_CAPP, T_CLONE_TS, T_E_BLOB, T_E_FD, T_E_TYPE, T_FLAGS,
                           T_GID, T_GROUP_SID, T_LIVE, T_LOGIN_SID, T_LOGINUID, T_NEXT, T_PID,
                           T_PTID, T_SLOT, T_TG, T_TID, T_UID, T_USER_SID, T_VTID, Tables)
from .users import NONE_ID, UserDirectory

NA = b"<NA>"


class Processes:
    def __init__(self, tables: Tables, slots: SlotTable, users: UserDirectory, containers):
        self.T = tables
        self.S = slots
        self.U = users
        self.C = containers
        self.epoch = 0
        self.group_of_pid: dict[int, int] = {}
        self.members: dict[int, set] = {}          # group -> its live thread records
        self.variants: dict[int, dict] = {}        # group -> {comm: slot}
        self.pseudo: dict[int, int] = {}           # container row -> "container:<id>" slot
        self.deferred_sids: list[int] = []         # released after the current row
        self.deferred_groups: list[int] = []
        self._user_sids: dict = {}
        self.empty_sid = self.pin(b"")             # state_kernel.EMPTY_SID
        assert self.empty_sid == 0
        self._handlers: dict = {}
        self._cgroup_ids: dict = {}
        self.unknown_threads = 0
        self.created_threads = 0
        self.exited_processes = 0

    # --- strings --------------------------------------------------------------------------

    def new_str(self, b: bytes) -> int:
        T = self.T
        T.ensure(strings=1, string_bytes=len(b))
        at = int(T.ctl[C_SB_N])
        T.SB[at:at + len(b)] = np.frombuffer(b, np.uint8)
        T.ctl[C_SB_N] = at + len(b)
        return int(str_commit(T.SE, T.ctl, at, len(b)))

    def pin(self, b: bytes) -> int:
        sid = self.new_str(b)
        self.T.SE[sid, S_REF] = PINNED
        return sid

    def str_bytes(self, sid: int) -> Optional[bytes]:
        if sid < 0:
            return None
        off, ln = int(self.T.SE[sid, S_OFF]), int(self.T.SE[sid, S_LEN])
        return bytes(self.T.SB[off:off + ln])

    def decref(self, sid: int) -> None:
        str_decref(self.T.SE, self.T.ctl, sid)

    def name_sid(self, name: Optional[bytes]) -> int:
        """A pinned string for a user/group name (cached), -1 for None."""
        if name is None:
            return -1
        sid = self._user_sids.get(name)
        if sid is None:
            sid = self._user_sids[name] = self.pin(name)
        return sid

    # --- lookups ---------------------------------------------------------------------------------

    def thread(self, tid: int) -> int:
        m = self.T.TIDMAP
        return int(m[tid]) if 0 <= tid < m.size else -1

    def cid_of_group(self, g: int) -> bytes:
        row = int(self.T.TG[g, G_CONTAINER])
        if row < 0:
            return b""
        C = self.C.C
        off, ln = int(C.id_off[row]), int(C.id_len[row])
        return bytes(C.arena[off:off + ln])

    def cid_of_row(self, row: int) -> bytes:
        C = self.C.C
        off, ln = int(C.id_off[row]), int(C.id_len[row])
        return bytes(C.arena[off:off + ln])

    def set_ids(self, t: int, uid: Optional[int] = None, gid: Optional[int] = None) -> None:
        """Set a thread's uid/gid and the names rows show for them."""
        TH = self.T.TH
        cid = self.cid_of_group(int(TH[t, T_TG]))
        # ids are unsigned 32-bit, as Falco prints them (4294967295 for "none")
        if uid is not None:
            uid &= NONE_ID
            TH[t, T_UID] = uid
            TH[t, T_USER_SID] = self.name_sid(self.U.user(uid, cid))
        if gid is not None:
            gid &= NONE_ID
            TH[t, T_GID] = gid
            TH[t, T_GROUP_SID] = self.name_sid(self.U.group(gid, cid))

    def set_loginuid(self, t: int, loginuid: int) -> None:
        TH = self.T.TH
        loginuid = -1 if loginuid & NONE_ID == NONE_ID else loginuid & NONE_ID
        TH[t, T_LOGINUID] = loginuid
        cid = self.cid_of_group(int(TH[t, T_TG]))
        TH[t, T_LOGIN_SID] = self.name_sid(self.U.user(loginuid, cid))

    def refresh_names(self) -> None:
        """Resolve every live thread's names again (users or groups changed)."""
        TH = self.T.TH
        for ts in self.members.values():
            for t in ts:
                self.set_ids(t, int(TH[t, T_UID]), int(TH[t, T_GID]))
                self.set_loginuid(t, int(TH[t, T_LOGINUID]))

    # --- records ----------------------------------------------------------------------------------

    def new_group(self, pid: int, slot: int, cwd_sid: int) -> int:
        """A process: takes the reference on cwd_sid."""
        T = self.T
        T.ensure(groups=1)
        c = T.ctl
        g = int(c[C_TG_FREE])
        if g >= 0:
            c[C_TG_FREE] = T.TG[g, G_NEXT]
        else:
            g = int(c[C_TG_N])
            c[C_TG_N] = g + 1
        T.TG[g, :] = 0
        T.TG[g, G_PID] = pid
        T.TG[g, G_SLOT] = slot
        T.TG[g, G_CWD_SID] = cwd_sid
        T.TG[g, G_FD_HEAD] = -1
        T.TG[g, G_LIVE] = 1
        T.TG[g, G_CONTAINER] = self.S.P.container[slot]
        old = self.group_of_pid.get(pid)
        if old is not None and old != g:
            self.group_exit(old)
        self.group_of_pid[pid] = g
        self.members[g] = set()
        c[C_NGROUPS] += 1
        return g

    def new_thread(self, tid: int, g: int, slot: int, *, pid: int, ptid: int, vtid: int,
                   uid: int, gid: int, caps=(0, 0, 0), loginuid: int = -1, flags: int = 0,
                   clone_ts: int = 0) -> int:
        T = self.T
        T.ensure(threads=1, tid=tid)
        old = self.thread(tid)
        if old >= 0:
            self.remove_thread(old)
        c = T.ctl
        t = int(c[C_TH_FREE])
        if t >= 0:
            c[C_TH_FREE] = T.TH[t, T_NEXT]
        else:
            t = int(c[C_TH_N])
            c[C_TH_N] = t + 1
        TH = T.TH
        TH[t, :] = 0
        TH[t, T_TID], TH[t, T_PID], TH[t, T_PTID], TH[t, T_TG] = tid, pid, ptid, g
        TH[t, T_SLOT], TH[t, T_VTID] = slot, vtid
        TH[t, T_CAPE], TH[t, T_CAPP], TH[t, T_CAPI] = (np.int64(np.uint64(v & (2**64 - 1)))
                                                       for v in caps)
        TH[t, T_FLAGS], TH[t, T_CLONE_TS] = flags, clone_ts
        TH[t, T_E_TYPE], TH[t, T_E_BLOB], TH[t, T_E_FD] = -1, -1, -1
        TH[t, T_LIVE] = 1
        T.TIDMAP[tid] = t
        self.members[g].add(t)
        T.TG[g, G_NTHREADS] += 1
        self.set_ids(t, uid, gid)
        self.set_loginuid(t, loginuid)
        c[C_NTHREADS] += 1
        self.created_threads += 1
        return t

    def remove_thread(self, t: int) -> None:
        """Forget a thread now (a leftover replaced by a new one with its tid)."""
        T = self.T
        TH = T.TH
        tid = int(TH[t, T_TID])
        if 0 <= tid < T.TIDMAP.size and T.TIDMAP[tid] == t:
            T.TIDMAP[tid] = -1
        self.leave_group(t)
        self.decref(int(TH[t, T_E_BLOB]))
        TH[t, T_E_BLOB] = -1
        TH[t, T_LIVE] = 0
        TH[t, T_NEXT] = T.ctl[C_TH_FREE]
        T.ctl[C_TH_FREE] = t
        T.ctl[C_NTHREADS] -= 1

    def leave_group(self, t: int) -> None:
        g = int(self.T.TH[t, T_TG])
        m = self.members.get(g)
        if m is None or t not in m:
            return
        m.discard(t)
        self.T.TG[g, G_NTHREADS] -= 1
        if not m:
            self.group_exit(g)

    def group_exit(self, g: int) -> None:
        """The process is gone: fds closed, its slots retired for this epoch."""
        T = self.T
        if not T.TG[g, G_LIVE]:
            return
        T.TG[g, G_LIVE] = 0
        free_fds(T.k, g)
        self.S.retire(int(T.TG[g, G_SLOT]), self.epoch)
        for s in self.variants.pop(g, {}).values():
            self.S.retire(s, self.epoch)
        pid = int(T.TG[g, G_PID])
        if self.group_of_pid.get(pid) == g:
            del self.group_of_pid[pid]
        self.members.pop(g, None)
        # the cwd and the record may still be read by the current row
        self.deferred_sids.append(int(T.TG[g, G_CWD_SID]))
        self.deferred_groups.append(g)
        T.ctl[C_NGROUPS] -= 1
        self.exited_processes += 1

    def flush_deferred(self) -> None:
        T = self.T
        for sid in self.deferred_sids:
            self.decref(sid)
        self.deferred_sids.clear()
        for g in self.deferred_groups:
            T.TG[g, G_CWD_SID] = -1
            T.TG[g, G_NEXT] = T.ctl[C_TG_FREE]
            T.ctl[C_TG_FREE] = g
        self.deferred_groups.clear()

    # --- slots --------------------------------------------------------------------------------

    def slot_of_tid(self, tid: int) -> int:
        t = self.thread(tid)
        return int(self.T.TH[t, T_SLOT]) if t >= 0 else -1

    def leaders(self, img: Image) -> None:
        """Session and process-group leader slots of a new image: the live
        process leading it, else the eldest ancestor in the same session/group."""
        for attr, link in (("sid", "session"), ("vpgid", "pgroup")):
            want = getattr(img, attr)
            lead = self.slot_of_tid(want) if want > 0 else -1
            if lead < 0:
                P = self.S.P
                s, seen = img.parent, 0
                col = P.sid if attr == "sid" else P.vpgid
                while s >= 0 and col[s] == want and seen < 64:
                    lead, s, seen = s, int(P.parent[s]), seen + 1
            setattr(img, link, lead)

    def image_slot(self, img: Image) -> int:
        self.leaders(img)
        return self.S.new(img)

    def thread_slot(self, g: int, comm: Optional[bytes], exe: Optional[bytes] = None,
                    args: Optional[list] = None, parent: Optional[int] = None) -> int:
        """The slot a thread of group g carries: the process's, unless the thread's
        own name, exe or arguments differ (Falco keeps them per thread), then a
        variant slot of the process image with those."""
        main = int(self.T.TG[g, G_SLOT])
        img = self.S.image(main)
        comm = (comm or img.comm)[:16]
        exe = img.exe if exe is None else exe
        args = img.args if args is None else list(args)
        parent = img.parent if parent is None else parent
        if comm == img.comm and exe == img.exe and args == img.args and parent == img.parent:
            return main
        key = (comm, exe, tuple(args), parent)
        v = self.variants.setdefault(g, {})
        s = v.get(key)
        if s is None:
            s = v[key] = self.derive_slot(main, comm=comm, exe=exe, args=args, parent=parent)
        return s

    def derive_slot(self, src: int, *, comm: Optional[bytes], exe: Optional[bytes],
                    args: Optional[list], **numbers) -> int:
        """A slot like src with new numbers (pid, parent ...) and, when they
        differ, its own comm/exe/args."""
        s = self.S.copy(src, **numbers)
        img = self.S.image(s)
        if args is not None and args != img.args:
            img.args = list(args)
            self.S.set_string(s, "args", b" ".join(args))
            self.S.set_comm(s, img.comm, cmdline=img.cmdline())
        if comm and comm[:16] != img.comm:
            self.S.set_comm(s, comm, cmdline=comm[:16] + b"".join(b" " + a for a in img.args))
        if exe is not None and exe != img.exe:
            img.exe = exe
            self.S.set_string(s, "exe", exe)
        return s

    def replace_image(self, g: int, new: int) -> None:
        """Group g now runs slot `new`: threads move to it, the old slots retire,
        children's parent links follow (Falco finds the parent by tid, so it
        shows the parent's new image)."""
        T, S = self.T, self.S
        old = [int(T.TG[g, G_SLOT])] + list(self.variants.pop(g, {}).values())
        T.TG[g, G_SLOT] = new
        T.TG[g, G_CONTAINER] = S.P.container[new]
        for t in self.members.get(g, ()):
            T.TH[t, T_SLOT] = new
        n = int(S.P.n[0])
        for s in old:
            S.retire(s, self.epoch)
            for link in ("parent", "session", "pgroup"):
                col = getattr(S.P, link)[:n]
                col[(col == s) & S.live[:n]] = new

    # --- made-up threads -------------------------------------------------------------------------

    def unknown(self, tid: int) -> int:
        """A thread Falco had never heard of: pid = tid, name <NA>, no user."""
        self.unknown_threads += 1
        return self.fake_thread(tid)

    def fake_thread(self, tid: int) -> int:
        """libsinsp's entry for a thread it cannot look up: pid = tid, no parent,
        name and exe "<NA>", ids 4294967295, vtid/vpid/sid/vpgid -1."""
        g = self.group_of_pid.get(tid)
        if g is None:
            img = Image(pid=tid, vpid=-1, ppid=-1, sid=-1, vpgid=-1, comm=NA, exe=NA,
                        exepath=b"", args=[], cwd=b"")
            slot = self.image_slot(img)
            g = self.new_group(tid, slot, self.empty_sid)
            self.T.SE[self.empty_sid, S_REF] += 1
        slot = int(self.T.TG[g, G_SLOT])
        return self.new_thread(tid, g, slot, pid=tid, ptid=-1, vtid=-1, uid=NONE_ID,
                               gid=NONE_ID)

    def made_up(self, t: int) -> bool:
        """libsinsp's test for an entry it made up: no name, no user."""
        TH = self.T.TH
        return int(TH[t, T_UID]) == NONE_ID and self.S.comm(int(TH[t, T_SLOT])) == NA

    def ensure_thread(self, tid: int) -> int:
        t = self.thread(tid)
        return t if t >= 0 else self.fake_thread(tid)
