"""Kernel overhead of the probes: nanoseconds added per syscall, from a C load generator.

    .venv/bin/python perf/bench_kernel.py [--rounds 5] [--n-getppid 2000000]
        [--n-pairs 300000] [--n-close 2000000] [--n-connect 500000] [--n-execve 1000]
        [--prog-stats]

The probe set is the one `sensor` attaches for its default rules (rules/, through
Engine.event_types() and syscalls_for()), loaded once.  perf/loadgen/loop.c (built with
gcc -O2 into a temp dir) runs one syscall in a tight loop between two clock_gettime and
prints ns per call: wall (CLOCK_MONOTONIC) and its own CPU time (CLOCK_THREAD_CPUTIME_ID).
Each round measures every configuration with the probes detached (baseline) and attached,
the two phases alternating in order from round to round; figures are the best of the
rounds (medians are in the JSON).  Single generators are pinned to --cpu (0).  The default
5 rounds take ~1.5 min on the team's 2-vCPU VM (~17 s a round), plus any wait for other
processes' probes to go (below).

  getppid           syscall(getppid), which no probe watches: the machine-wide tax (a)
  getppid-1tp       the same with one program attached (sys_exit_close): the exit
                    tracepoint alone, the entry one stays off
  openclose         openat(existing file) + close, both probed (b)
  closebad          close(-1), EBADF: the close probe does the same work as on a real fd,
                    so openat's share is openclose minus closebad (b)
  openclose-2cpu    two openclose generators at once, on CPU 0 and CPU 1: contention on
                    the one shared ring (c), against openclose (one generator)
  closebad-2cpu     the same with close(-1): small records, no shared file (c)
  closebad-2cpu-excl  two close(-1) generators, the one on CPU 1 excluded (the map the
                    sensor puts itself in): what the CPU 0 one pays without a second
                    writer on the ring, and what an excluded process pays (c)
  connect           connect() of a UDP socket to 127.0.0.1 (succeeds, no packet): one
                    probed syscall with the probe's full work (sockaddr stashed at entry,
                    the socket's tuple read at exit).  ns added per connect.
  execve            fork + execve(/bin/true) + waitpid per iteration: ns added per
                    process started, i.e. every probed syscall of a short process life
                    (clone on both sides, execve, the loader's opens and closes, the
                    process-exit tracepoint).  Its CPU figure is the parent's plus the
                    children's (RUSAGE_CHILDREN); wall is the one to read.

The connect and execve probes must be in the probe set (they are for rules/: the rules
watch connect and execve; otherwise they are added and the JSON says so).  After each
attached run the consumer's records are counted by event code (ring-wide: another process's
events count too) and the JSON holds, per connect and execve configuration, records of each
type per iteration: a connect run shows ~1 connect record per call, an execve run ~1 execve,
clone and procexit record per iteration, which shows the probes capture them.

On this VM the two vCPUs do not both get a full host core when both are busy: with two
generators, wall time per call is up to ~2x the generator's CPU time even with no probes.
For the two-generator configurations the CPU-time figures are the ones to read.

A consumer thread drains the ring the whole time (BpfRing.drain, then a 5 ms wait when
empty) and counts the records of each generator; the drops map is read after every attached
run.  Before each run the bench waits for other processes' tracing programs to be detached
(a shared machine: another sensor would put our baseline on the slow path too).  With
--prog-stats, one more attached run with kernel.bpf_stats_enabled=1 (restored after) gives
the ns spent inside each program.  Must run as root.  Prints the figures and writes
perf/results/bench_kernel.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "perf"))
from benchlib import machine, tracing_links  # noqa: E402
RESULTS = ROOT / "perf" / "results"
LOOP_C = ROOT / "perf" / "loadgen" / "loop.c"
DEFAULT_RULES = ROOT / "rules"
AIMS = {"tax_ns": 5.0, "captured_ns": 150.0}
ONE_TP = "sys_exit_close"        # the single program of getppid-1tp
SETTLE_S = 0.5                   # pause after attaching or detaching

# config -> (loop mode, generator count); single generators run on --cpu, pairs on 0 and 1
CONFIGS = {
    "getppid": ("getppid", 1),
    "getppid-1tp": ("getppid", 1),
    "openclose": ("openclose", 1),
    "closebad": ("closebad", 1),
    "openclose-2cpu": ("openclose", 2),
    "closebad-2cpu": ("closebad", 2),
    "closebad-2cpu-excl": ("closebad", 2),
    "connect": ("connect", 1),
    "execve": ("execve", 1),
}
# probes these configurations need in the probe set
NEEDED_SYSCALLS = ("openat", "close", "connect", "execve", "clone")
# event codes counted per attached run of these configurations (records by type)
TYPED_CONFIGS = ("connect", "execve")


def code_names() -> dict[int, str]:
    """Event code (enter and exit) -> syscall or event name, from the event table."""
    from sensor.events.ppm_table import EVENTS
    out = {}
    for e in EVENTS:
        out[e[0]] = out[e[0] + 1] = e[1]
    return out


# ---------------------------------------------------------------------------------------------
# the consumer: drains the ring concurrently and counts records per thread id

def _count_by_tid(buf, end, counts, codes):
    """Walk the .scap blocks in buf[:end] (u32 type | u32 block length | u16 cpu | u64 ts |
    u64 tid | u32 event length | u16 code ...) and count them by tid and by event code;
    returns the number of records."""
    pos = 0
    n = 0
    while pos + 32 <= end:
        blen = (buf[pos + 4] | (buf[pos + 5] << 8) | (buf[pos + 6] << 16)
                | (buf[pos + 7] << 24))
        tid = (buf[pos + 18] | (buf[pos + 19] << 8) | (buf[pos + 20] << 16)
               | (buf[pos + 21] << 24))
        code = buf[pos + 30] | (buf[pos + 31] << 8)
        if blen < 32:
            break
        if tid < counts.shape[0]:
            counts[tid] += 1
        if code < codes.shape[0]:
            codes[code] += 1
        n += 1
        pos += blen
    return n


class Consumer(threading.Thread):
    """BpfRing.drain in a loop with a short wait when the ring is empty, so that the ring
    never fills; records are counted by thread id."""

    def __init__(self, probes, wait_s: float = 0.005):
        super().__init__(daemon=True)
        from numba import njit
        from sensor.ring.bpf_ring import BpfRing
        self.ring = BpfRing(probes.ring_fd, probes.ring_size)
        self.staging = np.zeros(8 << 20, np.uint8)
        pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
        self.by_tid = np.zeros(pid_max + 1, np.int64)
        self.by_code = np.zeros(1024, np.int64)
        self.records = 0
        self.bytes = 0
        self.wait_s = wait_s
        self._count = njit(nogil=True)(_count_by_tid)
        self._count(self.staging, 0, self.by_tid, self.by_code)  # compile now, not while measuring
        self.ring.drain(self.staging, 0)
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            if not self.ring.pending():
                self.ring.wait(self.wait_s)
                continue
            with self._lock:
                end = self.ring.drain(self.staging, 0)
                self.records += self._count(self.staging, end, self.by_tid, self.by_code)
                self.bytes += end

    def sync(self, timeout_s: float = 10.0) -> None:
        """Return once everything produced so far has been drained and counted."""
        _, target = self.ring._positions()
        t_end = time.monotonic() + timeout_s
        while self.ring._positions()[0] < target and time.monotonic() < t_end:
            time.sleep(0.001)
        with self._lock:
            pass

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.ring.close()


# ---------------------------------------------------------------------------------------------
# running the load generator

def run_loop(loop: Path, mode: str, n: int, cpus: list[int], target: Path,
             on_ready=None) -> list[dict]:
    """Start one generator per CPU in cpus, release them together (after on_ready(pids)),
    return their results in the order of cpus."""
    procs = []
    try:
        for cpu in cpus:
            cmd = [str(loop), mode, str(n), "-c", str(cpu), "-w"]
            if mode == "openclose":
                cmd += ["-p", str(target)]
            procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          text=True))
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError(f"load generator {mode} failed in its warm-up")
        if on_ready is not None:
            on_ready([p.pid for p in procs])
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        out = []
        for p in procs:
            wall, cpu_ns, t0, t1, bad = p.stdout.readline().split()
            if p.wait() != 0 or int(bad):
                raise RuntimeError(f"load generator {mode}: {bad} calls failed")
            out.append({"pid": p.pid, "wall": float(wall), "cpu": float(cpu_ns),
                        "t0": int(t0), "t1": int(t1)})
        return out
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def overlap(res: list[dict]) -> float:
    """Fraction of the longest run during which all generators were running."""
    span = max(r["t1"] - r["t0"] for r in res)
    both = min(r["t1"] for r in res) - max(r["t0"] for r in res)
    return max(0.0, both / span)


# ---------------------------------------------------------------------------------------------
# other BPF programs on the machine (a shared VM: another session's sensor or tests)



def own_prog_ids() -> set[int]:
    """Ids of the BPF programs this process holds (from /proc/self/fdinfo)."""
    ids = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:bpf-prog":
                continue
            for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines():
                if line.startswith("prog_id:"):
                    ids.add(int(line.split()[1]))
        except OSError:
            continue
    return ids


class ForeignProbes:
    """Tracing links of other processes: any syscall tracepoint they attach puts our
    baseline on the slow path too (and their probes would capture our generators)."""

    def __init__(self, own: set[int], timeout_s: float):
        self.own = own
        self.timeout_s = timeout_s
        self.checked = tracing_links() is not None       # bpftool can list them
        self.waited_s = 0.0
        self.redone = 0
        self.dirty = 0                   # runs taken with foreign links present

    def count(self) -> int:
        return tracing_links(self.own) or 0

    def wait_quiet(self) -> bool:
        """Wait until no foreign tracing link is attached (True), or the time allowed ran
        out (False)."""
        t0 = time.monotonic()
        warned = False
        while (n := self.count()):
            if time.monotonic() - t0 > self.timeout_s:
                return False
            if not warned:
                print(f"    other processes have {n} tracing links attached: waiting up to "
                      f"{self.timeout_s:.0f} s for them to go", flush=True)
                warned = True
            time.sleep(0.5)
        self.waited_s += time.monotonic() - t0
        return True


# ---------------------------------------------------------------------------------------------

class Bench:
    def __init__(self, a, probes, consumer, loop: Path, target: Path,
                 foreign: ForeignProbes):
        self.a = a
        self.probes = probes
        self.consumer = consumer
        self.loop = loop
        self.target = target
        self.foreign = foreign
        self.n = {"getppid": a.n_getppid, "openclose": a.n_pairs, "closebad": a.n_close,
                  "connect": a.n_connect, "execve": a.n_execve}
        self.names = code_names()
        # config -> one dict per attached run: event name -> records per iteration (ring-wide)
        self.records_by_type = {c: [] for c in TYPED_CONFIGS}
        # samples[config][state] = one list per round, one result per generator
        self.samples = {c: {"baseline": [], "attached": []} for c in CONFIGS}
        self.drops = {c: 0 for c in CONFIGS}
        self.records_per_iter = {c: [[] for _ in range(CONFIGS[c][1])] for c in CONFIGS}
        self.overlaps = {"baseline": [], "attached": []}
        self.detach_s: list[float] = []

    # -- probe states ------------------------------------------------------------------------
    @staticmethod
    def settle() -> None:
        """After attaching or detaching, the kernel finishes the job in the background for a
        while (the next run's wall time is up to 2x its CPU time): let it."""
        time.sleep(SETTLE_S)

    def attach_all(self) -> None:
        self.probes.attach()
        self.settle()

    def detach_all(self) -> None:
        """Detach every program.  Each tracepoint link takes tens of ms to go (a grace period
        per unregistration): in parallel threads they overlap."""
        t0 = time.perf_counter()
        with ThreadPoolExecutor(16) as ex:
            list(ex.map(self.probes.obj.detach, self.probes.obj.attached()))
        self.detach_s.append(time.perf_counter() - t0)
        self.settle()

    def drops_now(self) -> int:
        return int(self.probes.drops().sum())

    # -- one measurement -----------------------------------------------------------------------
    def measure(self, config: str, state: str) -> None:
        mode, gens = CONFIGS[config]
        cpus = [0, 1] if gens == 2 else [self.a.cpu]
        n = self.n[mode]
        captured = state == "attached" and config != "getppid-1tp"
        excluded: list[int] = []

        def on_ready(pids):
            if config.endswith("-excl") and state == "attached":
                excluded[:] = pids[1:]
                for pid in excluded:
                    self.probes.exclude(pid)

        clean = False
        for _ in range(3):
            quiet = self.foreign.wait_quiet()
            d0 = self.drops_now() if captured else 0
            if captured and config in TYPED_CONFIGS:
                self.consumer.sync()
                codes0 = self.consumer.by_code.copy()
            try:
                res = run_loop(self.loop, mode, n, cpus, self.target, on_ready)
            finally:
                for pid in excluded:
                    self.probes.include(pid)
            clean = quiet and self.foreign.count() == 0
            if clean or not quiet:
                break
            self.foreign.redone += 1          # another process attached probes meanwhile
            if captured:
                self.consumer.sync()
        if not clean:
            self.foreign.dirty += 1
        self.samples[config][state].append(res)
        if gens > 1:
            self.overlaps[state].append(overlap(res))
        if captured:
            self.consumer.sync()
            self.drops[config] += self.drops_now() - d0
            iters = n + n // 16 + 1                                 # the warm-up too
            for i, r in enumerate(res):
                self.records_per_iter[config][i].append(
                    int(self.consumer.by_tid[r["pid"]]) / iters)
            if config in TYPED_CONFIGS:
                diff = self.consumer.by_code - codes0
                by_type: dict[str, float] = {}
                for code in np.nonzero(diff)[0]:
                    name = self.names.get(int(code), f"code {int(code)}")
                    by_type[name] = by_type.get(name, 0) + round(int(diff[code]) / iters, 3)
                self.records_by_type[config].append(by_type)

    def round(self, r: int) -> None:
        phases = ("baseline", "attached") if r % 2 == 0 else ("attached", "baseline")
        for phase in phases:
            if phase == "attached":
                self.attach_all()
                for c in CONFIGS:
                    if c != "getppid-1tp":
                        self.measure(c, "attached")
                self.detach_all()
            else:
                for c in CONFIGS:
                    self.measure(c, "baseline")
                self.probes.obj.attach(ONE_TP)
                self.settle()
                self.measure("getppid-1tp", "attached")
                self.probes.obj.detach(ONE_TP)
                self.settle()

    # -- time inside the BPF programs (kernel.bpf_stats_enabled) ---------------------------
    def prog_stats(self) -> dict:
        """One attached openclose and closebad run with the kernel's per-program run-time
        accounting on: ns per run of each program those syscalls run."""
        from sensor.capture.bpf_loader import libbpf
        lib, obj = libbpf(), self.probes.obj
        fds = {name: lib.bpf_program__fd(obj._prog(name)) for name in self.probes.programs}

        def read() -> dict:
            out = {}
            for name, fd in fds.items():
                kv = dict(line.split(":\t", 1) for line in
                          Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines()
                          if ":\t" in line)
                out[name] = (int(kv.get("run_cnt", 0)), int(kv.get("run_time_ns", 0)))
            return out

        sysctl = Path("/proc/sys/kernel/bpf_stats_enabled")
        old = sysctl.read_text().strip()
        stats = {}
        sysctl.write_text("1")
        try:
            self.attach_all()
            try:
                for mode in ("openclose", "closebad"):
                    n = self.n[mode]
                    self.foreign.wait_quiet()
                    before = read()
                    res = run_loop(self.loop, mode, n, [self.a.cpu], self.target)
                    after = read()
                    progs = {}
                    for name in fds:
                        cnt = after[name][0] - before[name][0]
                        if cnt >= n:
                            progs[name] = {"runs": cnt, "ns_per_run": round(
                                (after[name][1] - before[name][1]) / cnt, 1)}
                    stats[mode] = {"wall_ns": res[0]["wall"], "programs": progs}
            finally:
                self.detach_all()
        finally:
            sysctl.write_text(old)
        return stats

    # -- figures ------------------------------------------------------------------------------
    def summary(self, clock: str) -> dict:
        """Per configuration: per-round ns (mean over its generators, and per generator),
        best-of and median baseline/attached/diff, the median of the per-round differences."""
        out = {}
        for c, (_, gens) in CONFIGS.items():
            def stats(pick):
                base = [pick(rnd) for rnd in self.samples[c]["baseline"]]
                att = [pick(rnd) for rnd in self.samples[c]["attached"]]
                return {"baseline_ns": [round(x, 2) for x in base],
                        "attached_ns": [round(x, 2) for x in att],
                        "best": {"baseline": min(base), "attached": min(att),
                                 "diff": min(att) - min(base), "ratio": min(att) / min(base)},
                        "median": {"baseline": statistics.median(base),
                                   "attached": statistics.median(att),
                                   "diff": statistics.median(att) - statistics.median(base),
                                   "paired_diff": statistics.median(
                                       x - y for x, y in zip(att, base))}}
            s = stats(lambda rnd: statistics.mean(g[clock] for g in rnd))
            if gens > 1:
                s["generators"] = [stats(lambda rnd, i=i: rnd[i][clock]) for i in range(gens)]
            out[c] = s
        return out


def figures(wall: dict, cpu: dict, stat: str) -> dict:
    """The issue's figures (ns).  Single generators: wall clock.  Two generators: CPU time
    (on this VM two busy vCPUs do not both get a full core; wall time says so, not the probes);
    the one-generator figures they are compared with are CPU time too."""
    w = {c: wall[c][stat]["diff"] for c in wall}
    k = {c: cpu[c][stat]["diff"] for c in cpu}
    excl = cpu["closebad-2cpu-excl"]["generators"]
    return {
        "a_tax_getppid": w["getppid"],
        "a_tax_exit_tracepoint_only": w["getppid-1tp"],
        "b_per_captured_call": w["openclose"] / 2,
        "b_openat": w["openclose"] - w["closebad"],
        "b_close": w["closebad"],
        "b_pair": w["openclose"],
        "c_openclose_1gen_per_call_cpu": k["openclose"] / 2,
        "c_openclose_2gen_per_call_cpu": k["openclose-2cpu"] / 2,
        "c_close_1gen_cpu": k["closebad"],
        "c_close_2gen_cpu": k["closebad-2cpu"],
        "c_close_2gen_partner_excluded_cpu": excl[0][stat]["diff"],
        "c_close_excluded_process_cpu": excl[1][stat]["diff"],
        "c_openclose_2gen_per_call_wall": w["openclose-2cpu"] / 2,
        "c_close_2gen_wall": w["closebad-2cpu"],
        "connect": w["connect"],
        "connect_ratio": wall["connect"][stat]["attached"] / wall["connect"][stat]["baseline"],
        "execve": w["execve"],
        "execve_ratio": wall["execve"][stat]["attached"] / wall["execve"][stat]["baseline"],
        "execve_cpu": k["execve"],
    }


def issue8_figures(wall: dict, fig: dict, fig_med: dict, bench: "Bench") -> dict:
    """The issue-8 names for latest.json: ns added per syscall, attached minus detached in
    the same run (best of the rounds), with the ratio attached / baseline and how each was
    measured."""
    how = ("perf/loadgen/loop.c pinned to one CPU, tight loop timed with CLOCK_MONOTONIC; "
           "probes of rules/ detached vs attached, alternating per round in the same run, "
           "consumer draining the ring; best of {} rounds (median in 'median_ns')").format(
               bench.a.rounds)

    def one(config, ns, med, what, per=1):
        b = wall[config]["best"]
        return {"ns": round(ns, 1), "median_ns": round(med, 1),
                "baseline_ns": round(b["baseline"] / per, 1),
                "attached_ns": round(b["attached"] / per, 1),
                "ratio": round(b["attached"] / b["baseline"], 3),
                "what": what, "how": how}
    return {
        "kernel_ns_uncaptured": one(
            "getppid", fig["a_tax_getppid"], fig_med["a_tax_getppid"],
            "getppid, a syscall no probe watches: the tax every syscall on the machine pays"),
        "kernel_ns_captured": {
            "openat_close_per_call": one(
                "openclose", fig["b_per_captured_call"], fig_med["b_per_captured_call"],
                "openat(existing file) + close, per call (the pair / 2)", per=2),
            "connect": one("connect", fig["connect"], fig_med["connect"],
                           "connect() of a UDP socket to 127.0.0.1 (succeeds; full probe work)"),
            "execve": one("execve", fig["execve"], fig_med["execve"],
                          "fork + execve(/bin/true) + waitpid: one short process life, every "
                          "probed syscall in it (clone x2, execve, the loader's opens, exit)"),
        },
    }


def report(bench: Bench, wall: dict, cpu: dict, fig: dict, fig_med: dict, pstats,
           rounds: int, nprogs: int) -> None:
    print(f"\nns per call, best of {rounds} rounds: wall clock [CPU time of the generator]; "
          "openclose is per openat+close pair")
    print(f"{'config':19} {'baseline':>16} {'attached':>16} {'diff':>15} {'ratio':>5} "
          f"{'med. paired':>11} {'rec/iter':>8} {'drops':>5}")

    def row(name, w, k, rpi, drops):
        print(f"{name:19} {w['best']['baseline']:7.1f} [{k['best']['baseline']:6.1f}] "
              f"{w['best']['attached']:7.1f} [{k['best']['attached']:6.1f}] "
              f"{w['best']['diff']:6.1f} [{k['best']['diff']:6.1f}] {w['best']['ratio']:5.2f} "
              f"{w['median']['paired_diff']:11.1f} {rpi:>8} {drops:>5}")

    for c, (_, gens) in CONFIGS.items():
        rpis = [statistics.median(v) for v in bench.records_per_iter[c] if v]
        rpi = "/".join(f"{x:.2f}" for x in rpis) or "-"
        row(c, wall[c], cpu[c], rpi, str(bench.drops[c]) if c != "getppid-1tp" else "-")
        if gens > 1:
            for i in range(gens):
                row(f"  on CPU {i}", wall[c]["generators"][i], cpu[c]["generators"][i], "", "")
    ov = bench.overlaps
    print(f"two-generator runs overlapped at least {min(ov['baseline']):.0%} (baseline) and "
          f"{min(ov['attached']):.0%} (attached) of their time")

    total_drops = sum(bench.drops.values())
    print(f"\n(a) tax on a syscall no probe watches (getppid): +{fig['a_tax_getppid']:.1f} ns "
          f"({wall['getppid']['best']['ratio']:.2f}x); exit tracepoint alone (one program): "
          f"+{fig['a_tax_exit_tracepoint_only']:.1f} ns.  Aim <= {AIMS['tax_ns']:.0f} ns: "
          f"{'met' if fig['a_tax_getppid'] <= AIMS['tax_ns'] else 'NOT met'}.")
    print("    Why: attaching any tp/syscalls program sets SYSCALL_TRACEPOINT work on every "
          "task, so\n    every syscall of every process takes the syscall-tracing slow path "
          "(the sys_enter and\n    sys_exit tracepoints, each testing the syscall's bit and "
          "returning) whether or not it\n    is probed.  The cost comes with enabling the "
          "entry and exit tracepoints (the exit one\n    alone: the 1-program figure), not with "
          "the number of programs.  fentry/fexit on\n    __x64_sys_X would leave unprobed "
          "syscalls alone, but this kernel refuses trampoline\n    programs (EPERM at load), "
          "so no probe set can meet the aim here.")
    print(f"(b) captured syscall (openat + close, consumer draining): "
          f"+{fig['b_per_captured_call']:.0f} ns per call (openat +{fig['b_openat']:.0f}, "
          f"close +{fig['b_close']:.0f}).  Aim <= {AIMS['captured_ns']:.0f} ns: "
          f"{'met' if fig['b_per_captured_call'] <= AIMS['captured_ns'] else 'NOT met'}.  "
          f"Drops: {total_drops}" + ("." if total_drops == 0 else " (NOT zero)."))
    print(f"(c) one shared ring, CPU time added per captured call: openat/close "
          f"+{fig['c_openclose_1gen_per_call_cpu']:.0f} ns with 1 generator, "
          f"+{fig['c_openclose_2gen_per_call_cpu']:.0f} with 2 on 2 CPUs; close(-1) "
          f"+{fig['c_close_1gen_cpu']:.0f} with 1, +{fig['c_close_2gen_cpu']:.0f} with 2, "
          f"+{fig['c_close_2gen_partner_excluded_cpu']:.0f} with 2 when the other one is "
          f"excluded (it pays +{fig['c_close_excluded_process_cpu']:.0f}).")
    print(f"    wall clock with 2 generators: openat/close +"
          f"{fig['c_openclose_2gen_per_call_wall']:.0f} per call, close(-1) "
          f"+{fig['c_close_2gen_wall']:.0f} (includes the VM's vCPU sharing).")
    print(f"medians: (a) +{fig_med['a_tax_getppid']:.1f}, (b) +{fig_med['b_per_captured_call']:.0f}"
          f" (openat +{fig_med['b_openat']:.0f}, close +{fig_med['b_close']:.0f}), (c) close "
          f"+{fig_med['c_close_1gen_cpu']:.0f} / +{fig_med['c_close_2gen_cpu']:.0f} / "
          f"+{fig_med['c_close_2gen_partner_excluded_cpu']:.0f} ns")
    print(f"connect (UDP, succeeds): +{fig['connect']:.0f} ns per call "
          f"({fig['connect_ratio']:.2f}x); execve (fork + execve /bin/true + wait): "
          f"+{fig['execve'] / 1000:.1f} us per process started ({fig['execve_ratio']:.2f}x; "
          f"CPU of parent and children +{fig['execve_cpu'] / 1000:.1f} us)")
    for c in TYPED_CONFIGS:
        runs = bench.records_by_type[c]
        if runs:
            last = runs[-1]
            top = sorted(((k, v) for k, v in last.items() if v >= 0.01),
                         key=lambda kv: -kv[1])[:8]
            print(f"  records per iteration in the last attached {c} run (ring-wide): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in top))
    if pstats:
        print("time inside the BPF programs (bpf_stats_enabled, one more attached run; the "
              "accounting adds a little):")
        for mode, st in pstats.items():
            print(f"  {mode}: " + ", ".join(f"{k} {v['ns_per_run']:.0f} ns"
                                             for k, v in st["programs"].items()))
    if bench.foreign.dirty:
        print(f"WARNING: {bench.foreign.dirty} runs were taken while other processes had "
              "tracing programs attached: their baselines are not clean")
    print(f"detaching the {nprogs} programs took {statistics.median(bench.detach_s):.2f} s "
          "(median, 16 threads)")


def _type_id(syscall: str):
    from sensor.events.evttypes import type_id
    return type_id(syscall)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n-getppid", type=int, default=2_000_000, help="getppid calls per run")
    ap.add_argument("--n-pairs", type=int, default=300_000, help="openat+close pairs per run")
    ap.add_argument("--n-close", type=int, default=2_000_000, help="close(-1) calls per run")
    ap.add_argument("--n-connect", type=int, default=500_000, help="UDP connect calls per run")
    ap.add_argument("--n-execve", type=int, default=1000,
                    help="fork + execve(/bin/true) + waitpid per run")
    ap.add_argument("--rules", default=str(DEFAULT_RULES),
                    help="rules file or directory deciding the probe set (default: rules/)")
    ap.add_argument("--ring-mib", type=int, default=16, help="ring size (the sensor's default)")
    ap.add_argument("--prog-stats", action="store_true",
                    help="after the rounds, one more attached run with kernel.bpf_stats_enabled=1 "
                         "(restored after): ns spent inside each BPF program")
    ap.add_argument("--quiet-timeout", type=float, default=300,
                    help="seconds to wait, before each run, for other processes' tracing "
                         "programs to be detached (then measure anyway, flagged)")
    ap.add_argument("--cpu", type=int, default=0, help="CPU of the single generators")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_kernel: must run as root (loading and attaching BPF programs needs "
              "CAP_BPF and CAP_PERFMON); try: sudo .venv/bin/python perf/bench_kernel.py")
        return 2
    if (os.cpu_count() or 1) < 2:
        print("bench_kernel: needs at least 2 CPUs (the two-generator configurations)")
        return 2
    from sensor.capture.bpf_loader import BpfError
    from sensor.capture.probes import Probes, object_path, syscalls_for
    from sensor.engine import Engine
    if not object_path().is_file():
        print(f"bench_kernel: no probes at {object_path()}: run `make bpf` first")
        return 2

    engine = Engine()
    engine.load_rules_file(a.rules)
    syscalls = syscalls_for(engine.event_types())
    added = [s for s in NEEDED_SYSCALLS if s not in syscalls]
    if added:       # the configurations need them probed: the rules' set plus these
        syscalls = syscalls_for(set(engine.event_types() or ()) | {
            t for s in added if (t := _type_id(s)) is not None})
        print(f"probe set: the rules do not watch {', '.join(added)}: added")
    try:
        probes = Probes.open(syscalls, ring_bytes=a.ring_mib << 20)
    except BpfError as e:
        print(f"bench_kernel: {e}")
        return 2
    mach = machine()
    print(f"machine: {mach['nproc']} CPUs, {mach['cpu_model']}, kernel {mach['kernel']}, "
          f"clocksource {mach['clocksource']}")
    print(f"probe set: {len(syscalls)} syscalls, {len(probes.programs)} programs "
          f"(rules: {a.rules}); ring {a.ring_mib} MiB")
    t_start = time.perf_counter()
    load0 = os.getloadavg()
    consumer = None
    pstats = None
    with tempfile.TemporaryDirectory(prefix="bench_kernel.") as tmp:
        try:
            loop = Path(tmp) / "loop"
            subprocess.run(["gcc", "-O2", "-o", str(loop), str(LOOP_C)], check=True)
            target = Path(tmp) / "target"
            target.write_text("an existing file for openat\n")
            consumer = Consumer(probes)
            consumer.start()
            foreign = ForeignProbes(own_prog_ids(), a.quiet_timeout)
            if not foreign.checked:
                print("warning: no bpftool: cannot check for other processes' probes")
            bench = Bench(a, probes, consumer, loop, target, foreign)
            for r in range(a.rounds):
                bench.round(r)
                print(f"  round {r + 1}/{a.rounds} done ({time.perf_counter() - t_start:.0f} s)",
                      flush=True)
            if a.prog_stats:
                pstats = bench.prog_stats()
        finally:
            if consumer is not None:
                consumer.stop()
            probes.close()
    elapsed = time.perf_counter() - t_start

    wall, cpu = bench.summary("wall"), bench.summary("cpu")
    fig, fig_med = figures(wall, cpu, "best"), figures(wall, cpu, "median")
    issue8 = issue8_figures(wall, fig, fig_med, bench)
    report(bench, wall, cpu, fig, fig_med, pstats, a.rounds, len(probes.programs))
    print(f"whole bench {elapsed:.0f} s")

    doc = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": mach,
           "command": " ".join([".venv/bin/python"] + sys.argv),
           "settings": {"rounds": a.rounds, "n_getppid": a.n_getppid, "n_pairs": a.n_pairs,
                        "n_close": a.n_close, "n_connect": a.n_connect,
                        "n_execve": a.n_execve, "ring_bytes": a.ring_mib << 20, "cpu": a.cpu,
                        "rules": a.rules, "syscalls": syscalls,
                        "syscalls_added_for_configs": added, "programs": probes.programs,
                        "one_tracepoint_program": ONE_TP,
                        "openat_path_len": len(str(target))},
           "aims_ns": AIMS,
           "figures": issue8,
           "figures_best_ns": fig, "figures_median_ns": fig_med,
           "configs_wall": wall, "configs_cpu": cpu,
           "two_generator_overlap": bench.overlaps,
           "records_per_iteration": bench.records_per_iter,
           "records_by_type_per_iteration": bench.records_by_type,
           "drops": bench.drops, "consumer_records": consumer.records,
           "consumer_bytes": consumer.bytes, "bpf_prog_stats": pstats,
           "detach_all_s": [round(x, 2) for x in bench.detach_s],
           "foreign_probes": {"waited_s": round(bench.foreign.waited_s, 1),
                              "runs_redone": bench.foreign.redone,
                              "runs_with_foreign_probes": bench.foreign.dirty,
                              "checked": bench.foreign.checked},
           "loadavg_start": load0, "loadavg_end": os.getloadavg(),
           "elapsed_s": round(elapsed, 1)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_kernel.json").write_text(json.dumps(doc, indent=2))
    print(f"wrote {RESULTS / 'bench_kernel.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
