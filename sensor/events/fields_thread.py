"""thread.* fields: the thread that produced the event.

Capability sets are numbers in the row and print as names (Falco's
"CAP_CHOWN CAP_KILL ..."); `flags=capabilities` lets a condition such as
`thread.cap_effective contains CAP_SYS_ADMIN` compile to a bit test
(fields.flag_render).
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from .fields import Arg, FieldTable, FType

T = FieldTable([
    # (name, type, argument, flags,
    #  description)
    ("thread.tid",             FType.INT64,   Arg.NONE, "",
     "Thread id"),
    ("thread.vtid",            FType.INT64,   Arg.NONE, "",
     "Thread id in its pid namespace"),
    ("thread.ismain",          FType.BOOL,    Arg.NONE, "",
     "true for the main thread of its process (tid == pid)"),
    ("thread.cap_effective",   FType.FLAGS64, Arg.NONE, "flags=capabilities",
     "Effective capabilities (prints as CAP_* names)"),
    ("thread.cap_permitted",   FType.FLAGS64, Arg.NONE, "flags=capabilities",
     "Permitted capabilities (prints as CAP_* names)"),
    ("thread.cap_inheritable", FType.FLAGS64, Arg.NONE, "flags=capabilities",
     "Inheritable capabilities (prints as CAP_* names)"),
])


@T.get("thread.tid")
def _tid(B, P, C, i, arg, key):
    return np.int64(B.tid[i]), True


@T.get("thread.vtid")
def _vtid(B, P, C, i, arg, key):
    return np.int64(B.vtid[i]), B.vtid[i] >= 0


@register_jitable
def is_main(pids, s, tid):
    if s < 0:
        return np.int64(0), False
    return np.int64(pids[s] == tid), True


@T.get("thread.ismain")
def _ismain(B, P, C, i, arg, key):
    return is_main(P.pid, np.int64(B.slot[i]), np.int64(B.tid[i]))


@T.get("thread.cap_effective")
def _cap_effective(B, P, C, i, arg, key):
    return np.int64(B.cap_effective[i]), True


@T.get("thread.cap_permitted")
def _cap_permitted(B, P, C, i, arg, key):
    return np.int64(B.cap_permitted[i]), True


@T.get("thread.cap_inheritable")
def _cap_inheritable(B, P, C, i, arg, key):
    return np.int64(B.cap_inheritable[i]), True


FIELDS = T.fields()
