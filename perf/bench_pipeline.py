"""Pipeline benchmark (issue 5): `sensor replay --workers N` against `sysdig -r`, and live capacity.

    .venv/bin/python perf/bench_pipeline.py [--copies 800] [--rounds 2] [--workers 1,2,4,8]
        [--trivial 8] [--rules FILE] [--live [--quick] [--live-workers 1,2,4] [--generators N]]
    .venv/bin/python perf/bench_pipeline.py --plot-only     # redraw the plot from the JSON

Replay (the default): ../shared/traces/502Error.scap replicated --copies times
(perf/replicate.py, into a temp dir), then per round, contenders in an order
that rotates from round to round so that noise hits each alike:

  sysdig            `sysdig -r TRACE > /dev/null` (parse, state, print every event)
  sensor-wN         `sensor replay TRACE -r RULES --workers N` (falco-0.31.1 rules), N = 1, 2, 4, 8
                    (1: evaluated in the capture process; N > 1: the pipeline)
  trivial-wN        the same with a one-rule file whose kernel sees only execve rows
                    (--trivial, default 8): what the capture process does with workers
                    that have almost nothing to evaluate (decode + state + route + copy
                    into the pool + hand-offs), the pipeline's ceiling; trivial-w1 is
                    decode + state in one process

Figures: whole-command wall time (start, rules loaded from the warm cache, replay,
exit), events / wall time (the ratio to sysdig uses these, as both are whole commands),
and the replay's own events/s from the summary line on stderr (without start-up).
Best of --rounds, per contender.  A shared VM: before each run the bench waits (up to
--quiet-wait s in all) until other processes use under 0.25 CPU, and records the other
processes' load during each run (machine busy time from /proc/stat minus the run's own).
While a sensor runs, a sampler thread reads every 0.1 s the CPU time and run-queue wait
(/proc/PID/task/*/schedstat) of the capture process and of its children (the workers and
the output process, told apart by their titles); the whole tree's CPU time comes from
wait4.  One untimed run per rules file
(on the small source trace, --workers 1 and 2) warms the rules' and numba's caches.

Capture stages (in-process, the first --stage-events events of the trace, batches of
the pipeline's 16384 rows): decode; + state; + route; + copy into a shared pool slot:
the capture process's work per event, with no other process on the CPU.

Live (--live, root): perf/loadgen/rate.c (gcc -O2, temp dir) makes openat+close
calls at an offered rate (calls/s, nanosleep pacing; --generators processes, one per
CPU by default, each pinned, sharing the rate) while `sensor run -r rules/
--workers N -M 30` (8 with --quick) captures; the generator runs from "Capture ready"
to one second before the deadline.  Per worker count, the rate doubles from
--live-start until a trial has drops (kernel drops or pipeline drops, from the
summary) and is then bisected --live-steps times; the highest rate with zero drops is
reported.  When the generators cannot reach the offered rate (achieved < 90%), the
search stops there: the sensor kept up with all the load this machine could offer.

Prints the figures and writes perf/results/bench_pipeline.json, and
perf/results/bench_pipeline.png (replay, and live when measured) if matplotlib is
importable (`make setup` installs it).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "perf"))
from benchlib import machine, tracing_links  # noqa: E402
SHARED = ROOT.parent / "shared"
SOURCE = SHARED / "traces" / "502Error.scap"
DEFAULT_RULES = SHARED / "rulesets" / "falco-0.31.1" / "falco_rules.yaml"
LIVE_RULES = ROOT / "rules"
RESULTS = ROOT / "perf" / "results"
RATE_C = ROOT / "perf" / "loadgen" / "rate.c"
SENSOR = [sys.executable, "-m", "sensor.cli"]
SAMPLE_S = 0.1

TRIVIAL_RULES = """\
- rule: trivial
  desc: a rule that matches nothing, on execve rows only (bench_pipeline.py)
  condition: evt.type = execve and proc.name = "no-such-process-bench"
  output: "never (proc.name=%proc.name)"
  priority: DEBUG
"""

SUMMARY = re.compile(r"Events (?:read|captured): (\d+), alerts: (\d+) \(([\d.]+) s, ([\d,]+) events/s\)")
KDROPS = re.compile(r"Kernel drops: (\d+)")
PDROPS = re.compile(r"Pipeline: (\d+) batches, dropped (\d+) \((\d+) events\)")


# ---------------------------------------------------------------------------------------------
# the machine

def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def sysdig_version(sysdig: str) -> str:
    try:
        out = subprocess.run([sysdig, "--version"], capture_output=True, text=True).stdout
        return out.strip().split()[-1]
    except (OSError, IndexError):
        return "?"


# ---------------------------------------------------------------------------------------------
# one command, timed, its process tree sampled

def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _schedstat(pid: int) -> tuple[int, int]:
    """(ns on CPU, ns runnable but waiting for a CPU), summed over the process's threads."""
    run = wait = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0, 0
    for tid in tids:
        f = _read(f"/proc/{pid}/task/{tid}/schedstat").split()
        if len(f) >= 2:
            run += int(f[0])
            wait += int(f[1])
    return run, wait


class TreeSampler(threading.Thread):
    """Every SAMPLE_S: CPU and run-queue wait of a process and of its direct children.
    The last reading of each process is kept (a process's last SAMPLE_S is lost)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.last: dict[int, tuple[str, int, int]] = {}
        self.halt = threading.Event()
        self.fork_mark = None       # (time, capture's run ns, wait ns) when children first seen
        self.end_mark = None        # the same at the last sample with children

    def run(self) -> None:
        while not self.halt.is_set():
            kids = _read(f"/proc/{self.pid}/task/{self.pid}/children").split()
            for p in [self.pid] + [int(k) for k in kids]:
                title = _read(f"/proc/{p}/cmdline").replace("\0", " ").strip()
                run, wait = _schedstat(p)
                if run:
                    self.last[p] = (title, run, wait)
            if kids and self.pid in self.last:
                mark = (time.monotonic(),) + self.last[self.pid][1:]
                self.fork_mark = self.fork_mark or mark
                self.end_mark = mark
            self.halt.wait(SAMPLE_S)

    def roles(self) -> dict:
        """Seconds of CPU and of run-queue wait per role: capture, workers, output."""
        out = {}
        for p, (title, run, wait) in self.last.items():
            # a child sampled before it set its title still shows the parent's: a worker
            # (the output process is forked first, workers are forked again when the state
            # engine's tables grow)
            role = ("capture" if p == self.pid else "output" if "output" in title
                    else "workers")
            r = out.setdefault(role, {"cpu_s": 0.0, "runqueue_wait_s": 0.0, "processes": 0})
            r["cpu_s"] += run / 1e9
            r["runqueue_wait_s"] += wait / 1e9
            r["processes"] += 1
        if self.fork_mark and self.end_mark and self.end_mark[0] > self.fork_mark[0]:
            # the capture process while the pipeline ran (start-up and rule loading left out)
            (t0, r0, w0), (t1, r1, w1) = self.fork_mark, self.end_mark
            out["capture"].update(pipeline_s=t1 - t0, pipeline_cpu_s=(r1 - r0) / 1e9,
                                  pipeline_busy=(r1 - r0) / 1e9 / (t1 - t0),
                                  pipeline_runqueue_wait=(w1 - w0) / 1e9 / (t1 - t0))
        return out


CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (not idle, not iowait) since boot."""
    f = [int(x) for x in _read("/proc/stat").splitlines()[0].split()[1:]]
    return (sum(f[:8]) - f[3] - f[4]) / CLK_TCK


def foreign_busy(interval: float = 0.5) -> float:
    """CPUs' worth of load on the machine over `interval` (this process idle meanwhile)."""
    b0 = machine_busy_s()
    time.sleep(interval)
    return (machine_busy_s() - b0) / interval


class Quiet:
    """Before each timed run, wait (up to max_s in all) until other processes use less
    than `limit` CPUs: a shared VM, where another session's tests can take both CPUs."""

    def __init__(self, max_s: float, limit: float = 0.25):
        self.max_s, self.limit = max_s, limit
        self.waited_s = 0.0

    def wait(self) -> float:
        busy = foreign_busy()
        warned = False
        while busy > self.limit and self.waited_s < self.max_s:
            if not warned:
                print(f"    other processes use {busy:.2f} CPUs: waiting (up to "
                      f"{self.max_s - self.waited_s:.0f} s more in all)", flush=True)
                warned = True
            t0 = time.monotonic()
            busy = foreign_busy(2.0)
            self.waited_s += time.monotonic() - t0
        return busy


def run_timed(cmd: list[str], err_path: Path, sample: bool = False, on_start=None) -> dict:
    """Run cmd (stdout to /dev/null, stderr to err_path): wall seconds, the tree's CPU
    seconds (wait4), exit code, stderr text, and with sample=True the sampled roles."""
    with open(err_path, "wb") as err:
        b0 = machine_busy_s()
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT)
        sampler = None
        if sample:
            sampler = TreeSampler(p.pid)
            sampler.start()
        if on_start is not None:
            on_start(p)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        busy = machine_busy_s() - b0
        p.returncode = os.waitstatus_to_exitcode(status)
    cpu = ru.ru_utime + ru.ru_stime
    # other processes' CPU meanwhile (this bench's sampler and generators included)
    res = {"wall_s": wall, "cpu_s": cpu, "rc": p.returncode,
           "foreign_cpus": max(0.0, busy - cpu) / wall,
           "stderr": err_path.read_text(errors="replace")}
    if sampler is not None:
        sampler.halt.set()
        sampler.join()
        res["roles"] = sampler.roles()
    return res


def parse_summary(text: str) -> dict:
    out = {}
    m = None
    for m in SUMMARY.finditer(text):
        pass
    if m:
        out.update(events=int(m.group(1)), alerts=int(m.group(2)), seconds=float(m.group(3)),
                   events_per_s=float(m.group(4).replace(",", "")))
    k = KDROPS.search(text)
    if k:
        out["kernel_drops"] = int(k.group(1))
    d = PDROPS.search(text)
    if d:
        out.update(pipeline_batches=int(d.group(1)), pipeline_dropped_batches=int(d.group(2)),
                   pipeline_dropped_events=int(d.group(3)))
    return out


# ---------------------------------------------------------------------------------------------
# replay

def capture_stages(trace: Path, limit: int) -> dict:
    """Events/s in-process over the trace's first `limit` events, batches of the
    pipeline's capacity: decode; + state; + route (2 workers); + copy into a pool slot."""
    import numpy as np
    from sensor.capture.model import Snapshot
    from sensor.capture.scap_reader import open_scap
    from sensor.capture.state import StateEngine
    from sensor.workers.pool import BatchPool
    from sensor.workers.router import Router
    cap = 16384
    pool = BatchPool(8, cap)
    out = {}
    for name in ("decode", "decode", "state", "route", "copy"):      # the first decode warms up
        router = Router(2)
        shard = np.zeros(cap, np.int8)
        reader = open_scap(str(trace))
        state = StateEngine()
        state.seed(reader.snapshot)
        events = s = 0
        t0 = time.perf_counter()
        for item in reader.batches(cap):
            if isinstance(item, Snapshot):
                if name != "decode":
                    state.seed(item)
                continue
            events += int(item.n[0])
            if name != "decode":
                B = state.process(item)
                if name in ("route", "copy"):
                    router.route(B, shard)
                if name == "copy" and pool.fits(B):
                    pool.copy_in(s % len(pool), B, shard)
                    s += 1
                state.release(state.end_batch())
            if events >= limit:
                break
        reader.close()
        out[name] = events / (time.perf_counter() - t0)
    return out


def bench_replay(a, tmp: Path, report: dict) -> None:
    trace = tmp / f"502Error_x{a.copies}.scap"
    t0 = time.perf_counter()
    from replicate import replicate
    events = replicate(str(SOURCE), str(trace), a.copies)
    print(f"trace: {a.copies} copies of {SOURCE.name}: {events:,} events, "
          f"{trace.stat().st_size / 1e6:.0f} MB (replicated in {time.perf_counter() - t0:.1f} s)",
          flush=True)
    trivial = tmp / "trivial_rules.yaml"
    trivial.write_text(TRIVIAL_RULES)

    def replay_cmd(rules, w):
        return SENSOR + ["replay", str(trace), "-r", str(rules), "--no-progress",
                         "--workers", str(w)]

    # warm the caches: rules, kernels, the pipeline's numba functions
    t0 = time.perf_counter()
    for rules in (a.rules, trivial):
        for w in (1, 2):
            r = run_timed(SENSOR + ["replay", str(SOURCE), "-r", str(rules), "--no-progress",
                                    "--workers", str(w)], tmp / "warm.err")
            if r["rc"] != 0:
                raise SystemExit(f"warm-up failed ({rules}, --workers {w}):\n{r['stderr'][-2000:]}")
    print(f"warm-up (untimed): {time.perf_counter() - t0:.1f} s", flush=True)

    contenders: dict[str, list[str]] = {}
    sysdig = shutil.which("sysdig")
    if sysdig:
        contenders["sysdig"] = [sysdig, "-r", str(trace)]
    else:
        print("sysdig not found: no ratio")
    for w in a.workers:
        contenders[f"sensor-w{w}"] = replay_cmd(a.rules, w)
    for w in a.trivial:
        contenders[f"trivial-w{w}"] = replay_cmd(trivial, w)

    quiet = Quiet(a.quiet_wait)
    runs: dict[str, list[dict]] = {k: [] for k in contenders}
    names = list(contenders)
    for rnd in range(a.rounds):
        order = names[rnd % len(names):] + names[:rnd % len(names)]
        for name in order:
            is_sensor = name != "sysdig"
            before = quiet.wait()
            r = run_timed(contenders[name], tmp / f"{name}.err", sample=is_sensor)
            if r["rc"] != 0:
                raise SystemExit(f"{name} failed (exit {r['rc']}):\n{r['stderr'][-2000:]}")
            if is_sensor:
                r.update(parse_summary(r["stderr"]))
                if r.get("events") != events:
                    raise SystemExit(f"{name}: {r.get('events')} events read, {events} expected")
            del r["stderr"]
            r["round"] = rnd
            r["foreign_cpus_before"] = before
            runs[name].append(r)
            extra = (f", replay {r['seconds']:.2f} s = {r['events_per_s'] / 1e6:.2f} M ev/s"
                     if is_sensor else "")
            print(f"  round {rnd + 1} {name:11} {r['wall_s']:6.2f} s wall "
                  f"{events / r['wall_s'] / 1e6:5.2f} M ev/s{extra}, cpu {r['cpu_s']:.1f} s, "
                  f"other load {r['foreign_cpus']:.2f} CPUs", flush=True)

    best = {k: min(v, key=lambda r: r["wall_s"]) for k, v in runs.items()}
    table = {}
    for name, r in best.items():
        row = {"wall_s": r["wall_s"], "events_per_s_wall": events / r["wall_s"],
               "cpu_s": r["cpu_s"], "foreign_cpus": r["foreign_cpus"]}
        if name != "sysdig":
            row["events_per_s_summary"] = max(x["events_per_s"] for x in runs[name])
            row["replay_s"] = r["seconds"]
            row["roles"] = r.get("roles", {})
        table[name] = row
    if "sysdig" in table:
        base = table["sysdig"]["events_per_s_wall"]
        for name, row in table.items():
            row["vs_sysdig_wall"] = row["events_per_s_wall"] / base
            if "events_per_s_summary" in row:
                row["vs_sysdig_summary"] = row["events_per_s_summary"] / base

    print(f"\nreplay, best of {a.rounds} ({events:,} events; M events/s; x = vs sysdig -r, "
          "whole commands):")
    print(f"  {'contender':11} {'wall s':>7} {'M ev/s':>7} {'x':>6} {'summary':>8} {'x':>6} "
          f"{'cpu s':>6} {'other':>5}  capture cpu/runqueue wait, workers cpu (processes seen), "
          "output cpu (s)")
    print("  (other: CPUs' worth of other processes' load during the run; capture busy: the"
          " capture process's CPU time over the time its children ran; waits: runnable, no CPU"
          " free; *: other load over 0.25 CPU, a noisy figure)")
    for name, row in table.items():
        roles = row.get("roles", {})
        cap = roles.get("capture", {})
        wk = roles.get("workers", {})
        outp = roles.get("output", {})
        rs = (f"  {cap.get('cpu_s', 0):.1f}/{cap.get('runqueue_wait_s', 0):.1f}, "
              f"{wk.get('cpu_s', 0):.1f} ({wk.get('processes', 0)} procs), "
              f"{outp.get('cpu_s', 0):.1f}") if roles else ""
        if "pipeline_busy" in cap:
            rs += (f"; capture busy {100 * cap['pipeline_busy']:.0f}%, waits for a CPU "
                   f"{100 * cap['pipeline_runqueue_wait']:.0f}%")
        summ = (f"{row['events_per_s_summary'] / 1e6:8.2f} {row.get('vs_sysdig_summary', 0):5.2f}x"
                if "events_per_s_summary" in row else f"{'-':>8} {'-':>6}")
        print(f"  {name:11} {row['wall_s']:7.2f} {row['events_per_s_wall'] / 1e6:7.2f} "
              f"{row.get('vs_sysdig_wall', 0):5.2f}x {summ} {row['cpu_s']:6.1f} "
              f"{row['foreign_cpus']:5.2f}{'*' if row['foreign_cpus'] > 0.25 else ' '}{rs}")

    stages = {}
    if a.stage_events:
        stages = capture_stages(trace, a.stage_events)
        print(f"\ncapture stages in-process (first {a.stage_events:,} events, 16384-row batches):")
        prev = None
        for name in ("decode", "state", "route", "copy"):
            r = stages[name]
            add = f"  (+{1e9 / r - 1e9 / prev:.0f} ns/event)" if prev else ""
            print(f"  {name:7} {r / 1e6:6.2f} M ev/s  {1e9 / r:5.0f} ns/event{add}")
            prev = r
    report["replay"] = {"trace": f"{SOURCE.name} x{a.copies}", "events": events,
                        "bytes": trace.stat().st_size, "rules": str(a.rules),
                        "sysdig": sysdig_version(sysdig) if sysdig else None,
                        "command": report["command"],
                        "rounds": a.rounds, "best": table, "runs": runs,
                        "quiet_waited_s": quiet.waited_s,
                        "capture_stages_events_per_s": stages,
                        "stage_events": a.stage_events}


def plot(report: dict, path: Path) -> str | None:
    """Replay events/s against workers, with sysdig's line, and (when measured) the
    live zero-drop rate per worker count; None, or why it was skipped."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return f"matplotlib is not importable ({e})"
    live = (report.get("live") or {}).get("by_workers") or {}
    fig, axes = plt.subplots(1, 2 if live else 1, figsize=(11 if live else 6.4, 4.2),
                             squeeze=False)
    _plot_replay(axes[0][0], report)
    if live:
        _plot_live(axes[0][1], live, report["live"].get("duration_s"))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def _plot_replay(ax, report: dict) -> None:
    best = report["replay"]["best"]
    ws = sorted(int(k[len("sensor-w"):]) for k in best if k.startswith("sensor-w"))
    ax.plot(ws, [best[f"sensor-w{w}"]["events_per_s_wall"] / 1e6 for w in ws], "o-",
            label="sensor replay, whole command")
    ax.plot(ws, [best[f"sensor-w{w}"]["events_per_s_summary"] / 1e6 for w in ws], "s--",
            label="sensor replay, summary (no start-up)")
    if "trivial-w8" in best:
        ax.axhline(best["trivial-w8"]["events_per_s_summary"] / 1e6, color="gray", ls=":",
                   label="capture ceiling (8 workers, trivial rule)")
    if "sysdig" in best:
        s = best["sysdig"]["events_per_s_wall"] / 1e6
        ax.axhline(s, color="red", label="sysdig -r")
        ax.axhline(2 * s, color="red", ls="--", label="2x sysdig -r (aim, --workers 2)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ws, [str(w) for w in ws])
    ax.set_xlabel("--workers")
    ax.set_ylabel("M events/s")
    ax.set_ylim(bottom=0)
    ax.set_title(f"replay: {report['replay']['trace']}, {report['machine']['nproc']} vCPUs",
                 fontsize=9)
    ax.legend(fontsize=8)


def _plot_live(ax, live: dict, duration) -> None:
    ws = sorted(live, key=int)
    rates = [live[w]["max_rate_no_drops"] / 1e3 for w in ws]
    bars = ax.bar([str(w) for w in ws], rates, color="tab:green")
    for bar, w in zip(bars, ws):
        if live[w].get("generator_bound"):
            ax.annotate("generator limit", (bar.get_x() + bar.get_width() / 2,
                                            bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
    ax.axhline(1000, color="red", ls="--", label="aim: 1M events/s")
    ax.set_xlabel("--workers")
    ax.set_ylabel("k syscalls/s offered (openat, close), zero drops")
    ax.set_title(f"live: highest offered rate with no drop over {duration:.0f} s", fontsize=9)
    ax.legend(fontsize=8)


# ---------------------------------------------------------------------------------------------
# live

class Killed(Exception):
    pass


def live_trial(rate_bin: Path, target: Path, tmp: Path, workers: int, rate: int,
               duration: float, generators: int) -> dict:
    """`sensor run` for `duration` s with the generators at `rate` calls/s in all."""
    err = tmp / "live.err"
    gens: list = []
    state = {"ready": False}

    def on_start(p):
        end = time.monotonic() + 60
        while time.monotonic() < end and p.poll() is None:
            if "Capture ready" in err.read_text(errors="replace"):
                state["ready"] = True
                break
            time.sleep(0.05)
        if not state["ready"]:
            return
        for g in range(generators):
            cmd = [str(rate_bin), str(target), str(rate / generators), str(duration - 1)]
            if generators > 1:
                cmd += ["-c", str(g % os.cpu_count())]
            gens.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))

    cmd = SENSOR + ["run", "-r", str(LIVE_RULES), "--workers", str(workers), "-M", str(duration)]
    links = tracing_links()
    r = run_timed(cmd, err, sample=True, on_start=on_start)
    achieved = 0.0
    calls = 0
    for g in gens:
        out, _ = g.communicate()
        f = out.split()
        if len(f) >= 3:
            achieved += float(f[1])
            calls += int(f[2])
    r.update(parse_summary(r["stderr"]))
    if r["rc"] < 0:                     # killed from outside (a shared machine)
        raise Killed(f"sensor run killed by signal {-r['rc']}")
    if r["rc"] != 0 or not state["ready"] or "events" not in r:
        raise SystemExit(f"sensor run failed (exit {r['rc']}):\n{r['stderr'][-2000:]}")
    del r["stderr"]
    r.update(workers=workers, offered=rate, achieved=achieved, generator_calls=calls,
             foreign_links_before=links,
             drops=r.get("kernel_drops", 0) + r.get("pipeline_dropped_events", 0))
    return r


def bench_live(a, tmp: Path, report: dict) -> None:
    if os.geteuid() != 0:
        print("live: skipped (needs root)")
        report["live"] = {"skipped": "needs root"}
        return
    gcc = shutil.which("gcc") or shutil.which("cc")
    if not gcc:
        print("live: skipped (no C compiler for perf/loadgen/rate.c)")
        report["live"] = {"skipped": "no C compiler"}
        return
    rate_bin = tmp / "rate"
    subprocess.run([gcc, "-O2", "-o", str(rate_bin), str(RATE_C)], check=True)
    target = tmp / "target"
    target.write_text("x\n")
    duration = 8.0 if a.quick else 30.0
    # warm the default rules' cache (untimed)
    run_timed(SENSOR + ["replay", str(SOURCE), "-r", str(LIVE_RULES), "--no-progress"],
              tmp / "warm.err")
    print(f"\nlive: sensor run -r rules/ -M {duration:.0f}, {a.generators} generator(s) "
          f"of openat+close (perf/loadgen/rate.c)", flush=True)
    results = {}
    killed = 0
    quiet = Quiet(a.quiet_wait)
    for w in a.live_workers:
        trials = []
        good, bad = None, None
        rate = a.live_start
        bound = False
        steps = 0
        while True:
            before = quiet.wait()
            for attempt in range(3):
                try:
                    t = live_trial(rate_bin, target, tmp, w, rate, duration, a.generators)
                    break
                except Killed as e:
                    print(f"    {e}: trial run again", flush=True)
                    killed += 1
            else:
                raise SystemExit("sensor run killed three times: giving up")
            t["foreign_cpus_before"] = before
            trials.append(t)
            cap = t.get("roles", {}).get("capture", {})
            print(f"  workers {w}: offered {rate / 1e3:7.0f} k calls/s, achieved "
                  f"{t['achieved'] / 1e3:6.0f} k ({t['generator_calls']:,} calls), captured "
                  f"{t['events']:,} events, kernel drops {t.get('kernel_drops', 0)}, pipeline drops "
                  f"{t.get('pipeline_dropped_events', 0)}; capture cpu "
                  f"{cap.get('cpu_s', 0):.1f} s, tree cpu {t['cpu_s']:.1f} s, other load "
                  f"{t['foreign_cpus']:.2f} CPUs (generators included)", flush=True)
            if t["drops"]:
                bad = rate
            elif t["achieved"] < 0.9 * rate:
                good = max(good or 0, int(t["achieved"]))
                bound = True
                break
            else:
                good = rate
            if bad is None:
                rate *= 2
                continue
            if good is None:
                if rate <= 1000:
                    break
                rate //= 2
                continue
            if steps >= a.live_steps or bad / good < 1.1:
                break
            steps += 1
            rate = (good + bad) // 2
        results[w] = {"max_rate_no_drops": good, "first_rate_with_drops": bad,
                      "generator_bound": bound, "trials": trials}
        note = " (generator-bound: the sensor kept up with all the load offered)" if bound else ""
        print(f"  workers {w}: highest offered rate with zero drops: "
              f"{(good or 0) / 1e3:.0f} k calls/s{note}", flush=True)
    report["live"] = {"command": report["command"], "duration_s": duration,
                      "generators": a.generators, "quiet_waited_s": quiet.waited_s,
                      "trials_killed_from_outside": killed,
                      "rules": str(LIVE_RULES), "by_workers": results}


# ---------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=800)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--rules", default=str(DEFAULT_RULES))
    ap.add_argument("--workers", default="1,2,4,8", help="worker counts for replay")
    ap.add_argument("--trivial", default="8",
                    help="worker counts for the trivial-rules runs ('' for none; 1 adds "
                         "decode + state in one process)")
    ap.add_argument("--stage-events", type=int, default=2_000_000,
                    help="events for the in-process capture stages (0: skip)")
    ap.add_argument("--no-replay", action="store_true")
    ap.add_argument("--quiet-wait", type=float, default=120.0,
                    help="seconds in all to wait for other processes' load to go (shared VM)")
    ap.add_argument("--live", action="store_true", help="also live capacity (root)")
    ap.add_argument("--quick", action="store_true", help="live trials of 8 s, not 30")
    ap.add_argument("--live-workers", default="1,2,4")
    ap.add_argument("--live-start", type=int, default=200_000, help="first offered calls/s")
    ap.add_argument("--live-steps", type=int, default=2, help="bisection steps after drops")
    ap.add_argument("--plot-only", action="store_true",
                    help="redraw the plot from perf/results/bench_pipeline.json, run nothing")
    ap.add_argument("--generators", type=int, default=os.cpu_count() or 1,
                    help="generator processes, one pinned per CPU (default: one per CPU); "
                         "the offered rate is split between them")
    a = ap.parse_args()
    if a.plot_only:
        png = RESULTS / "bench_pipeline.png"
        why = plot(json.loads((RESULTS / "bench_pipeline.json").read_text()), png)
        print(f"plot skipped: {why}" if why else f"plot: {png.relative_to(ROOT)}")
        return 1 if why else 0
    a.workers = [int(x) for x in a.workers.split(",")]
    a.live_workers = [int(x) for x in a.live_workers.split(",")]
    a.trivial = [int(x) for x in a.trivial.split(",") if x.strip()]
    if not SOURCE.is_file():
        print(f"skipped: needs {SOURCE} (the ../shared checkout with traces and rulesets)")
        return 0
    if not a.no_replay and not Path(a.rules).is_file():
        print(f"skipped: needs the rules file {a.rules}")
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    mach = machine()
    print(f"machine: {mach['nproc']} CPUs, {mach['cpu_model']}, {mach['mem_gib']} GiB, "
          f"kernel {mach['kernel']}, Python {mach['python']}, numba {mach['numba']}; "
          f"load {loadavg()}", flush=True)
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": mach,
              "command": " ".join([".venv/bin/python"] + sys.argv),
              "loadavg_start": loadavg()}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as tmp:
        if not a.no_replay:
            bench_replay(a, Path(tmp), report)
        if a.live:
            bench_live(a, Path(tmp), report)
    report["loadavg_end"] = loadavg()
    report["seconds"] = time.perf_counter() - t0
    out = RESULTS / "bench_pipeline.json"
    if a.no_replay and out.is_file():      # --live alone keeps the replay figures
        old = json.loads(out.read_text())
        for k in ("replay", "plot", "loadavg_start", "loadavg_end"):
            if k in old and k not in report:
                report[k] = old[k]
    if "replay" in report:
        png = RESULTS / "bench_pipeline.png"
        why = plot(report, png)
        if why:
            print(f"plot skipped: {why}")
            report["plot"] = f"skipped: {why}"
        else:
            print(f"plot: {png.relative_to(ROOT)}")
            report["plot"] = str(png.relative_to(ROOT))
    out.write_text(json.dumps(report, indent=2))
    print(f"{time.perf_counter() - t0:.0f} s in all; wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
