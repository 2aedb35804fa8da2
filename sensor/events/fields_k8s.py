"""k8s.* fields: Kubernetes metadata of the event's container.

No metadata source exists yet (Falco reads these from the container runtime's
pod sandbox labels): every field is registered, so rules load, and reads as
absent -- comparisons are false and outputs print <NA>.  When a source lands,
the values belong in the Containers table and these accessors read them there.
"""
from __future__ import annotations

import numpy as np

from .fields import Arg, FieldTable, FType

T = FieldTable([
    # (name, type, argument, flags,
    #  description)
    ("k8s.ns.name",             FType.CHARBUF, Arg.NONE, "",
     "Kubernetes namespace name (no source yet: absent)"),
    ("k8s.pod.name",            FType.CHARBUF, Arg.NONE, "",
     "Pod name (no source yet: absent)"),
    ("k8s.pod.id",              FType.CHARBUF, Arg.NONE, "",
     "Pod uid (no source yet: absent)"),
    ("k8s.pod.uid",             FType.CHARBUF, Arg.NONE, "",
     "Pod uid (no source yet: absent)"),
    ("k8s.pod.sandbox_id",      FType.CHARBUF, Arg.NONE, "",
     "Pod sandbox id, truncated (no source yet: absent)"),
    ("k8s.pod.full_sandbox_id", FType.CHARBUF, Arg.NONE, "",
     "Pod sandbox id (no source yet: absent)"),
    ("k8s.pod.label",           FType.CHARBUF, Arg.KEY,  "",
     "A pod label's value, k8s.pod.label[app] (no source yet: absent)"),
    ("k8s.pod.labels",          FType.CHARBUF, Arg.NONE, "",
     "Pod labels (no source yet: absent)"),
    ("k8s.pod.ip",              FType.CHARBUF, Arg.NONE, "",
     "Pod IP address (no source yet: absent)"),
    ("k8s.pod.cni.json",        FType.CHARBUF, Arg.NONE, "",
     "Pod CNI result (no source yet: absent)"),
    ("k8s.rc.name",             FType.CHARBUF, Arg.NONE, "",
     "Replication controller name (no source yet: absent)"),
    ("k8s.rs.name",             FType.CHARBUF, Arg.NONE, "",
     "Replica set name (no source yet: absent)"),
    ("k8s.svc.name",            FType.CHARBUF, Arg.NONE, "",
     "Service name (no source yet: absent)"),
    ("k8s.deployment.name",     FType.CHARBUF, Arg.NONE, "",
     "Deployment name (no source yet: absent)"),
])


@T.get(*[row[0] for row in T.rows])
def _absent(B, P, C, i, arg, key):
    return C.arena, np.int64(0), np.int64(-1)


FIELDS = T.fields()
