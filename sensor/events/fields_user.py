"""user.* and group.* fields: who the thread runs as.

Ids travel in the row (B.uid, B.gid) and the login uid in the process slot.
Names are per container (each has its own /etc/passwd), so the state engine
resolves them and writes them in the row: B.user_name, B.group_name,
B.user_loginname (absent when it could not resolve them).
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from .fields import Arg, FieldTable, FType

T = FieldTable([
    # (name, type, argument, flags,
    #  description)
    ("user.uid",       FType.UINT32,  Arg.NONE, "",
     "Effective user id"),
    ("user.name",      FType.CHARBUF, Arg.NONE, "",
     "Effective user name"),
    ("user.loginuid",  FType.INT64,   Arg.NONE, "",
     "Audit login uid (-1 if unset)"),
    ("user.loginname", FType.CHARBUF, Arg.NONE, "",
     "Name of the login uid"),
    ("group.gid",      FType.UINT32,  Arg.NONE, "",
     "Effective group id"),
    ("group.name",     FType.CHARBUF, Arg.NONE, "",
     "Effective group name"),
])


@T.get("user.uid")
def _uid(B, P, C, i, arg, key):
    return np.int64(B.uid[i]), B.uid[i] >= 0


@T.get("user.name")
def _name(B, P, C, i, arg, key):
    return B.arena, np.int64(B.user_name_off[i]), np.int64(B.user_name_len[i])


@register_jitable
def slot_num(col, s):
    if s < 0:
        return np.int64(0), False
    return np.int64(col[s]), True


@T.get("user.loginuid")
def _loginuid(B, P, C, i, arg, key):
    return slot_num(P.loginuid, np.int64(B.slot[i]))


@T.get("user.loginname")
def _loginname(B, P, C, i, arg, key):
    return B.arena, np.int64(B.user_loginname_off[i]), np.int64(B.user_loginname_len[i])


@T.get("group.gid")
def _gid(B, P, C, i, arg, key):
    return np.int64(B.gid[i]), B.gid[i] >= 0


@T.get("group.name")
def _group_name(B, P, C, i, arg, key):
    return B.arena, np.int64(B.group_name_off[i]), np.int64(B.group_name_len[i])


FIELDS = T.fields()
