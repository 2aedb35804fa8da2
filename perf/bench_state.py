"""Throughput of the state engine (events/s through StateEngine.process) on a
synthetic mix shaped like a busy host, and on the 502Error capture.

The mix (per 1000 events, enter and exit counted apart): file and socket
reads/writes on known fds, waits and memory calls without fds, scheduler
switches, opens resolved against the cwd and closed again, fstat/lseek,
datagrams, path syscalls, socket+connect+close, and one process life (fork,
exec, exit: 5 events, 0.5%).  Rows repeat, so the state stays stationary.

    .venv/bin/python perf/bench_state.py

Prints the figures (events/s through process(), best of a few rounds).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]      # tests/state_rows.py builds the rows

from sensor.capture.model import FdInfo                           # noqa: E402
from sensor.capture.state import StateEngine                      # noqa: E402
from state_rows import RawRows, proc, replicate, snapshot         # noqa: E402

NPROC, NTHREAD = 16, 4


def mix_snapshot():
    procs = []
    for p in range(NPROC):
        pid = 1000 + 10 * p
        fds = [FdInfo(k, "f", b"/var/lib/app%d/data%d.db" % (p, k)) for k in range(3, 10)]
        fds.append(FdInfo(10, "4", cip=0x0A000005, cport=40000 + p, sip=0x0A000009, sport=5432,
                          l4proto=6))
        fds.append(FdInfo(11, "4", sip=0, sport=0, l4proto=17))
        procs.append(proc(pid, comm=b"app%d" % p, args=[b"--serve"], cwd=b"/srv/app%d" % p,
                          uid=1000, gid=1000, fds=fds))
        for t in range(1, NTHREAD):
            procs.append(proc(pid + t, pid=pid, comm=b"app%d" % p, args=[b"--serve"], uid=1000,
                              gid=1000))
    return snapshot(*procs, users=[(0, b"root"), (1000, b"app")],
                    groups=[(0, b"root"), (1000, b"app")])


def mix_block(rows: RawRows, k: int) -> None:
    """About 1000 events of one block (k varies the threads used)."""
    def thread(j):
        p = (k + j) % NPROC
        return 1000 + 10 * p + j % NTHREAD

    def pair(name, tid, enter, exit_):
        rows.add(name, ">", tid, **enter)
        rows.add(name, "<", tid, **exit_)

    for j in range(100):
        pair("read", thread(j), dict(fd=3 + j % 8, size=4096), dict(res=512, data=b"x" * 16))
    for j in range(50):
        pair("write", thread(j), dict(fd=3 + j % 7, size=128), dict(res=128, data=b"y" * 16))
    for j in range(60):
        pair("futex", thread(j), dict(addr=0, op=0, val=0), dict(res=0))
    for j in range(40):
        pair("epoll_wait", thread(j), dict(maxevents=64), dict(res=1))
    for j in range(20):
        pair("nanosleep", thread(j), dict(interval=1000), dict(res=0))
    for j in range(30):
        pair("mmap", thread(j), dict(addr=0, length=4096, prot=3, flags=34, fd=-1, offset=0),
             dict(res=0))
    for j in range(100):
        rows.add("switch", ">", thread(j), next=0)
    for j in range(15):
        t = thread(j)
        pair("openat", t, dict(dirfd=-100, name="conf/../cache/item%d.json" % j, flags=1,
                               mode=0), dict(res=20))
        pair("close", t, dict(fd=20), dict(res=0))
    for j in range(20):
        pair("fstat", thread(j), dict(fd=3 + j % 7), dict(res=0))
    for j in range(15):
        t = thread(j)
        pair("sendto", t, dict(fd=11, size=32, tuple="0.0.0.0:0->10.0.0.53:53"), dict(res=32))
        pair("recvfrom", t, dict(fd=11, size=512),
             dict(res=64, tuple="10.0.0.53:53->10.0.0.5:33000"))
    for j in range(30):
        rows.add("stat", "<", thread(j), res=0, path="/etc/hosts")
    for j in range(4):
        t = thread(j)
        pair("socket", t, dict(domain=2, type=1, proto=0), dict(res=21))
        pair("connect", t, dict(fd=21, addr="10.0.0.9:80"),
             dict(res=0, tuple="10.0.0.5:%d->10.0.0.9:80" % (50000 + j)))
        pair("close", t, dict(fd=21), dict(res=0))
    for j in range(9):
        pair("getpid", thread(j), {}, dict(res=0))
    # one process life: fork, exec, exit
    parent, child = thread(0), 30000 + k
    rows.add("clone", "<", parent, res=child, exe="app", args=b"--serve\0", tid=parent,
             pid=parent, ptid=1, cwd="", fdlimit=1024, comm="app", flags=0, uid=1000,
             gid=1000)
    rows.add("execve", ">", child, filename="/usr/bin/helper")
    rows.add("execve", "<", child, res=0, exe="helper", args=b"-q\0", tid=child, pid=child,
             ptid=parent, cwd="", comm="helper")
    rows.add("read", ">", child, fd=3, size=10)
    rows.add("procexit", ">", child, status=0)


def mix_batch(n=65536, blocks=8):
    rows = RawRows()
    for k in range(blocks):
        mix_block(rows, k)
    return replicate(rows.batch(), n)


def throughput(B, rounds=5):
    eng = StateEngine()
    eng.seed(mix_snapshot())
    base = int(B.n[1])
    eng.process(B)                                 # compile, warm the tables
    eng.release(eng.end_batch())
    best = 0.0
    for _ in range(rounds):
        B.n[1] = base
        t = time.perf_counter()
        B = eng.process(B)
        dt = time.perf_counter() - t
        eng.release(eng.end_batch())
        best = max(best, int(B.n[0]) / dt)
    return best, eng


if __name__ == "__main__":
    rate, eng = throughput(mix_batch())
    st = eng.stats
    assert st["unknown_threads"] == 0, "the mix must only use threads the snapshot knows"
    print(f"synthetic mix: {rate / 1e6:.2f} M events/s "
          f"(python stops per batch: {st['slow_rows'] // max(st['batches'], 1)})")
    pure = RawRows()
    for j in range(512):
        t = 1000 + 10 * (j % NPROC)
        pure.add("read", ">", t, fd=3 + j % 7, size=10)
        pure.add("read", "<", t, res=1)
    rate, _ = throughput(replicate(pure.batch(), 65536))
    print(f"fd I/O only (kernel, no Python stops): {rate / 1e6:.2f} M events/s")
