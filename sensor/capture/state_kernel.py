"""The per-row pass of the state engine, compiled by numba.

`run(B, K, start)` walks rows start..B.n[0]-1 in order.  For each row it finds
the thread (TIDMAP), applies what the event changes in the fd tables (open,
socket, connect, accept, close, dup, pipe ... see state_types.A_*), keeps the
enter parameters an exit will need, and writes the row's state columns: slot,
vtid, uid, gid, user/group/login names, capabilities, cwd and the fd columns.
Strings go into the batch arena once per batch (state_store.put_sid).

It stops and returns (status, row) when Python must act before that row:

  NEED_ROOM   the arena, the string store or the fd tables may be too small
              for the row: grow them and call again from the same row
  SLOW        an event Python handles (clone, execve, procexit, chdir, setuid,
              container ...): apply it, set ctl[C_APPLIED] = row, call again;
              the kernel then only fills the row (or skips it: C_FILLED)
  UNKNOWN     a thread seen for the first time: make it, set
              ctl[C_APPLIED] = row, call again
  DONE        every row is filled (row = B.n[0])

Falco semantics kept here (libsinsp parsers, sysdig 0.29 generation):
  * an enter event records the fd it uses; the exit reuses it (older exits
    carry no fd), only when the exit matches the last enter of the thread;
    scheduler switches and meta events in between do not count;
  * an event's fd fields come from the thread's fd table after the event is
    parsed, except that close is shown with the fd still there;
  * an fd event whose fd is unknown shows fd.typechar guessed from the event
    (state_types.NULL_CHAR) and fd.name "" on exit, absent on enter; failed
    open/connect/accept exits show the name from their parameters.

Speed: the loop unpacks the batch columns once and every helper takes arrays.
Handing numba the Batch namedtuple itself costs about a microsecond per call,
and so does `inline="always"` on helpers taking many arrays (reference
counting on every call); plain calls of array-only helpers cost nothing
(measured, see perf/bench_state.py).

numba's cache=True keys the compiled kernel on this file only: after editing
a helper module (state_fdops, state_net, state_store ...), touch this file or
clear __pycache__, or an old kernel is loaded.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import register_jitable

from sensor.events import evttypes as ET

from . import sockets as SK
from .state_fdops import (ROLE_NONE, ROLE_SERVER, do_accept, do_bind, do_connect, do_datagram,
                          do_newfd, do_open, do_pipe, do_socket, do_socketpair,
                          tuple_row_name)
from .state_rowargs import has, pbytes, pnum, xnum
from .state_store import fd_add, fd_copy_fields, fd_find, fd_remove, put_sid, str_decref, str_new
from .state_tables import (C_APPLIED, C_FD_LOOKUPS, C_FD_MISSES, C_FD_N, C_FDH_USED,
                           C_FILLED, C_GEN, C_KILL_TH, C_NTHREADS, C_ROWS, C_S_N, C_SB_N,
                           C_TH_FREE, F_CIP_HI, F_CIP_LO, F_CONN, F_CPORT, F_FAMILY, F_L4,
                           F_NAME_SID, F_NUM, F_RAW_SID, F_ROLE, F_SERVER, F_SIP_HI, F_SIP_LO,
                           F_SPORT, F_TYPE, G_CWD_SID, T_CAPE, T_CAPI, T_CAPP, T_E0, T_E_BLOB,
                           T_E_FD, T_E_TYPE, T_GID, T_GROUP_SID, T_LIVE, T_LOGIN_SID, T_NEXT,
                           T_SLOT, T_TG, T_TID, T_UID, T_USER_SID, T_VTID)
from .state_types import (A_ACCEPT, A_BIND, A_CLOSE, A_CONNECT, A_DUP, A_FCNTL, A_MEMFD,
                          A_NEWFD, A_OPEN, A_PIPE, A_RECV, A_SEND, A_SLOW, A_SOCKET,
                          A_SOCKETPAIR, ENTER_FD, EXIT_ACTION, EXIT_FD, FD_EVENT, KEEP_PAIRING,
                          NO_THREAD, NULL_CHAR, P, SLOW_ENTER, STASH_BLOB, STASH_NUM, TYPE_ID,
                          USES_FD)

DONE, NEED_ROOM, SLOW, UNKNOWN = 0, 1, 2, 3

# Room a row may need (bytes): names are capped at MAX_NAME, so a resolved
# path is at most two of them; a row writes at most a few such strings.
MAX_NAME = 4096
ROW_BYTES = 8 * MAX_NAME
ROW_RECORDS = 8

F_DUPFD, F_DUPFD_CLOEXEC = 1, 26
EINPROGRESS = 115
CH_V4, CH_V6 = ord("4"), ord("6")
EXECVE = TYPE_ID["execve"]
EXECVEAT = TYPE_ID["execveat"]
P_TUPLE, P_OLDFD = P["tuple"], P["oldfd"]


# --- the row loop ---------------------------------------------------------------------------------

@njit(cache=True)
def run(B, K, start):
    TH, TG, FD, FDK, FDV, TIDMAP, SB, SE, ctl, IF4, IF6 = K
    arena, bn = B.arena, B.n
    arg_int, arg_off, arg_len = B.arg_int, B.arg_off, B.arg_len
    types, dirs, tids, ress, masks = B.type, B.dir, B.tid, B.res, B.arg_mask
    # the columns this stage writes
    o_slot, o_vtid, o_uid, o_gid = B.slot, B.vtid, B.uid, B.gid
    o_cape, o_capp, o_capi = B.cap_effective, B.cap_permitted, B.cap_inheritable
    o_un_off, o_un_len = B.user_name_off, B.user_name_len
    o_gn_off, o_gn_len = B.group_name_off, B.group_name_len
    o_ln_off, o_ln_len = B.user_loginname_off, B.user_loginname_len
    o_cwd_off, o_cwd_len = B.cwd_off, B.cwd_len
    o_fd, o_fdt = B.fd, B.fd_type
    o_fn_off, o_fn_len = B.fd_name_off, B.fd_name_len
    o_fr_off, o_fr_len = B.fd_nameraw_off, B.fd_nameraw_len
    o_l4, o_fam, o_role, o_conn, o_chg = (B.fd_l4proto, B.fd_family, B.fd_role,
                                          B.fd_connected, B.fd_name_changed)
    o_cih, o_cil, o_sih, o_sil = B.fd_cip_hi, B.fd_cip_lo, B.fd_sip_hi, B.fd_sip_lo
    o_cp, o_sp = B.fd_cport, B.fd_sport
    gen = ctl[C_GEN]
    nrows = bn[0]
    for i in range(start, nrows):
        # Room for the worst this row can need; growth is Python's job.
        if (arena.size - bn[1] < ROW_BYTES or SB.size - ctl[C_SB_N] < ROW_BYTES
                or ctl[C_S_N] + ROW_RECORDS > SE.shape[0]
                or ctl[C_FD_N] + ROW_RECORDS > FD.shape[0]
                or (ctl[C_FDH_USED] + ROW_RECORDS) * 2 > FDK.size):
            return NEED_ROOM, i
        et = np.int64(types[i])
        d = np.int64(dirs[i])
        slot = 2 * et + d
        mask = np.int64(masks[i])
        applied = ctl[C_APPLIED] == i
        slow = SLOW_ENTER[et] != 0 if d == ET.ENTER else EXIT_ACTION[et] == A_SLOW
        if slow and not applied:
            return SLOW, i
        tid = tids[i]
        t = np.int64(TIDMAP[tid]) if 0 <= tid < TIDMAP.size else np.int64(-1)
        if t < 0 and not applied and NO_THREAD[et] == 0:
            return UNKNOWN, i
        ctl[C_APPLIED] = -1
        ctl[C_ROWS] += 1
        if ctl[C_FILLED] == i:            # Python wrote this row itself
            ctl[C_FILLED] = -1
            continue

        if t < 0:                         # no thread: nothing to show
            fill_thread_none(o_slot, o_vtid, o_uid, o_gid, o_cape, o_capp, o_capi, o_un_len,
                             o_gn_len, o_ln_len, o_cwd_len, i)
            fill_fd_absent(o_fd, o_fdt, o_fn_len, o_fr_len, o_l4, o_fam, o_cih, o_cil, o_sih,
                           o_sil, o_cp, o_sp, o_role, o_conn, o_chg, i, -1, 0, -1)
            continue

        row_fd = np.int64(-1)
        rec = np.int64(-1)
        name_at, name_len = np.int64(0), np.int64(-1)     # a row-only name (failed calls)
        changed = 0
        close_after = False
        tg = TH[t, T_TG]
        if d == ET.ENTER and KEEP_PAIRING[et] != 0:
            pass                          # a switch between enter and exit changes nothing
        elif d == ET.ENTER:
            # Remember what the exit will need (libsinsp keeps the enter event).
            TH[t, T_E_TYPE] = et
            k = np.int64(ENTER_FD[et])
            if USES_FD[et] != 0 and has(mask, k):
                row_fd = arg_int[k, i]
            TH[t, T_E_FD] = row_fd
            for j in range(4):
                k = np.int64(STASH_NUM[et, j])
                if has(mask, k):
                    TH[t, T_E0 + j] = arg_int[k, i]
            kb = np.int64(STASH_BLOB[et])
            if kb >= 0:
                str_decref(SE, ctl, TH[t, T_E_BLOB])
                TH[t, T_E_BLOB] = -1
                if has(mask, kb) and arg_len[kb, i] >= 0:
                    TH[t, T_E_BLOB] = str_new(SB, SE, ctl, arena, np.int64(arg_off[kb, i]),
                                              min(np.int64(arg_len[kb, i]), MAX_NAME))
            if row_fd >= 0:
                rec = fd_find(FDK, FDV, tg, row_fd)
        else:
            lt = TH[t, T_E_TYPE]
            valid = lt == et or (et == EXECVE and lt == EXECVEAT)
            res = ress[i]
            if USES_FD[et] != 0:
                k = np.int64(EXIT_FD[et])
                if has(mask, k):
                    row_fd = arg_int[k, i]
                elif valid:
                    row_fd = TH[t, T_E_FD]
                if row_fd >= 0:
                    rec = fd_find(FDK, FDV, tg, row_fd)
                    ctl[C_FD_LOOKUPS] += 1
                    if rec < 0:
                        ctl[C_FD_MISSES] += 1
            action = EXIT_ACTION[et]
            if action == A_OPEN:
                rec, changed, row_fd, name_at, name_len = do_open(
                    arg_int, arg_off, arg_len, arena, bn, TH, TG, FD, FDK, FDV, SB, SE, ctl,
                    i, t, tg, et, slot, mask, valid, res)
            elif action == A_SOCKET:
                if res >= 0:
                    rec = do_socket(arg_int, TH, TG, FD, FDK, FDV, SE, ctl,
                                    i, t, tg, et, mask, valid, res)
                    row_fd, changed = res, 1
            elif action == A_BIND:
                if rec >= 0 and res >= 0:
                    changed = do_bind(arg_off, arg_len, arena, TG, FD, SB, SE, ctl,
                                      i, tg, rec, slot, mask)
            elif action == A_CONNECT:
                if rec >= 0 and (res >= 0 or res == -EINPROGRESS):
                    changed = do_connect(arg_off, arg_len, arena, FD, SB, SE, ctl,
                                         i, rec, slot, mask)
                else:
                    # Falco shows a failed (or untracked) connect by its tuple
                    o, ln = pbytes(arg_off, arg_len, mask, slot, P_TUPLE, i)
                    name_at, name_len = tuple_row_name(arena, bn, o, ln)
            elif action == A_ACCEPT:
                if res >= 0:
                    rec = do_accept(arg_off, arg_len, arena, TG, FD, FDK, FDV, SB, SE, ctl,
                                    i, tg, slot, mask, res)
                    row_fd, changed = res, 1
                if rec < 0:
                    o, ln = pbytes(arg_off, arg_len, mask, slot, P_TUPLE, i)
                    name_at, name_len = tuple_row_name(arena, bn, o, ln)
            elif action == A_RECV or action == A_SEND:
                if rec >= 0 and res >= 0:
                    changed = do_datagram(arg_off, arg_len, arena, TH, TG, FD, SB, SE, ctl,
                                          IF4, IF6, i, t, tg, rec, et, slot, mask, valid,
                                          action == A_RECV)
            elif action == A_CLOSE:
                close_after = res >= 0 and rec >= 0
            elif action == A_DUP or action == A_FCNTL:
                src = row_fd
                v, ok = pnum(arg_int, mask, slot, P_OLDFD, i)
                if ok:
                    src = v
                dup = action == A_DUP
                if not dup:
                    cmd, ok = xnum(arg_int, mask, TH, t, valid, et, 0, i)
                    dup = ok and (cmd == F_DUPFD or cmd == F_DUPFD_CLOEXEC)
                if dup and res >= 0 and src >= 0 and res != src:
                    srec = fd_find(FDK, FDV, tg, src)
                    if srec >= 0:
                        rec = fd_add(FD, TG, FDK, FDV, SE, ctl, tg, res)
                        fd_copy_fields(FD, SE, srec, rec)
                        row_fd, changed = res, 1
            elif action == A_PIPE:
                if res >= 0:
                    rec, row_fd = do_pipe(arg_int, TG, FD, FDK, FDV, SE, ctl,
                                          i, tg, slot, mask)
            elif action == A_NEWFD or action == A_MEMFD:
                if res >= 0:
                    rec = do_newfd(arg_off, arg_len, arena, TG, FD, FDK, FDV, SB, SE, ctl,
                                   i, tg, et, slot, mask, res, action == A_MEMFD)
                    row_fd, changed = res, 1
            elif action == A_SOCKETPAIR:
                if res >= 0:
                    rec, row_fd = do_socketpair(arg_int, TG, FD, FDK, FDV, SE, ctl,
                                                i, tg, slot, mask)
            # The exit consumed the enter: a second exit must not reuse it.
            TH[t, T_E_TYPE] = -1

        fill_thread(TH, TG, SB, SE, arena, bn, o_slot, o_vtid, o_uid, o_gid, o_cape, o_capp,
                    o_capi, o_un_off, o_un_len, o_gn_off, o_gn_len, o_ln_off, o_ln_len,
                    o_cwd_off, o_cwd_len, i, t, tg, gen)
        if FD_EVENT[slot] == 0:
            fill_fd_absent(o_fd, o_fdt, o_fn_len, o_fr_len, o_l4, o_fam, o_cih, o_cil, o_sih,
                           o_sil, o_cp, o_sp, o_role, o_conn, o_chg, i, -1, 0, -1)
        elif rec >= 0:
            # the fd as the table describes it (a row-only name wins: failed connect)
            o_fd[i] = FD[rec, F_NUM]
            o_fdt[i] = FD[rec, F_TYPE]
            if name_len < 0:
                name_at, name_len = put_sid(arena, bn, SB, SE, FD[rec, F_NAME_SID], gen)
            o_fn_off[i] = name_at
            o_fn_len[i] = name_len
            o, ln = put_sid(arena, bn, SB, SE, FD[rec, F_RAW_SID], gen)
            o_fr_off[i] = o
            o_fr_len[i] = ln
            role = ROLE_SERVER if FD[rec, F_SERVER] != 0 else FD[rec, F_ROLE]
            fill_fd_net(o_l4, o_fam, o_cih, o_cil, o_sih, o_sil, o_cp, o_sp, o_role, o_conn,
                        o_chg, i, row_l4(FD, rec), FD[rec, F_FAMILY], FD[rec, F_CIP_HI],
                        FD[rec, F_CIP_LO], FD[rec, F_SIP_HI], FD[rec, F_SIP_LO],
                        FD[rec, F_CPORT], FD[rec, F_SPORT], role, FD[rec, F_CONN], changed)
        else:
            # an fd event whose fd the table does not know: the type Falco guesses,
            # the name from the parameters, else "" on exit and absent on enter
            if name_len < 0 and d == ET.EXIT:
                name_at, name_len = np.int64(0), np.int64(0)
            fill_fd_absent(o_fd, o_fdt, o_fn_len, o_fr_len, o_l4, o_fam, o_cih, o_cil, o_sih,
                           o_sil, o_cp, o_sp, o_role, o_conn, o_chg, i, row_fd, NULL_CHAR[et],
                           name_len)
            o_fn_off[i] = name_at
        if close_after:
            fd_remove(FD, TG, FDK, FDV, SE, ctl, tg, row_fd)
        if ctl[C_KILL_TH] == t:
            kill_thread(TH, TIDMAP, SE, ctl, t)
    return DONE, nrows


# --- writing the row ------------------------------------------------------------------------------

@register_jitable
def fill_thread(TH, TG, SB, SE, arena, bn, o_slot, o_vtid, o_uid, o_gid, o_cape, o_capp,
                o_capi, o_un_off, o_un_len, o_gn_off, o_gn_len, o_ln_off, o_ln_len, o_cwd_off,
                o_cwd_len, i, t, tg, gen):
    """The thread's columns: its slot, ids, capabilities, names and cwd."""
    o_slot[i] = TH[t, T_SLOT]
    o_vtid[i] = TH[t, T_VTID]
    o_uid[i] = TH[t, T_UID]
    o_gid[i] = TH[t, T_GID]
    o_cape[i] = np.uint64(TH[t, T_CAPE])
    o_capp[i] = np.uint64(TH[t, T_CAPP])
    o_capi[i] = np.uint64(TH[t, T_CAPI])
    o, ln = put_sid(arena, bn, SB, SE, TH[t, T_USER_SID], gen)
    o_un_off[i] = o
    o_un_len[i] = ln
    o, ln = put_sid(arena, bn, SB, SE, TH[t, T_GROUP_SID], gen)
    o_gn_off[i] = o
    o_gn_len[i] = ln
    o, ln = put_sid(arena, bn, SB, SE, TH[t, T_LOGIN_SID], gen)
    o_ln_off[i] = o
    o_ln_len[i] = ln
    o, ln = put_sid(arena, bn, SB, SE, TG[tg, G_CWD_SID], gen)
    o_cwd_off[i] = o
    o_cwd_len[i] = ln


@register_jitable
def fill_thread_none(o_slot, o_vtid, o_uid, o_gid, o_cape, o_capp, o_capi, o_un_len,
                     o_gn_len, o_ln_len, o_cwd_len, i):
    o_slot[i] = -1
    o_vtid[i] = -1
    o_uid[i] = -1
    o_gid[i] = -1
    o_cape[i] = 0
    o_capp[i] = 0
    o_capi[i] = 0
    o_un_len[i] = -1
    o_gn_len[i] = -1
    o_ln_len[i] = -1
    o_cwd_len[i] = -1


@register_jitable
def fill_fd_net(o_l4, o_fam, o_cih, o_cil, o_sih, o_sil, o_cp, o_sp, o_role, o_conn, o_chg,
                i, l4, fam, cih, cil, sih, sil, cp, sp, role, conn, chg):
    o_l4[i] = l4
    o_fam[i] = fam
    o_cih[i] = np.uint64(cih)
    o_cil[i] = np.uint64(cil)
    o_sih[i] = np.uint64(sih)
    o_sil[i] = np.uint64(sil)
    o_cp[i] = cp
    o_sp[i] = sp
    o_role[i] = role
    o_conn[i] = conn
    o_chg[i] = chg


@register_jitable
def fill_fd_absent(o_fd, o_fdt, o_fn_len, o_fr_len, o_l4, o_fam, o_cih, o_cil, o_sih, o_sil,
                   o_cp, o_sp, o_role, o_conn, o_chg, i, fd, typechar, name_len):
    """No fd description: fd number and type character only (0 / -1: none)."""
    o_fd[i] = fd
    o_fdt[i] = typechar
    o_fn_len[i] = name_len
    o_fr_len[i] = -1
    fill_fd_net(o_l4, o_fam, o_cih, o_cil, o_sih, o_sil, o_cp, o_sp, o_role, o_conn, o_chg,
                i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


@register_jitable
def row_l4(FD, rec):
    """libsinsp reports no l4 protocol for an IP socket with no role yet (not
    connected, not bound), except raw ones."""
    l4 = FD[rec, F_L4]
    if (FD[rec, F_ROLE] == ROLE_NONE and FD[rec, F_SERVER] == 0 and l4 != SK.L4_RAW
            and (FD[rec, F_TYPE] == CH_V4 or FD[rec, F_TYPE] == CH_V6)):
        return 0
    return l4


@register_jitable
def kill_thread(TH, TIDMAP, SE, ctl, t):
    """Forget thread t (Python already settled its process): after its
    procexit row is filled."""
    tid = TH[t, T_TID]
    if 0 <= tid < TIDMAP.size and TIDMAP[tid] == t:
        TIDMAP[tid] = -1
    str_decref(SE, ctl, TH[t, T_E_BLOB])
    TH[t, T_E_BLOB] = -1
    TH[t, T_LIVE] = 0
    TH[t, T_NEXT] = ctl[C_TH_FREE]
    ctl[C_TH_FREE] = t
    ctl[C_NTHREADS] -= 1
    ctl[C_KILL_TH] = -1
