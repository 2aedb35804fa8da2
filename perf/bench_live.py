"""Live sensor figures (issue 8): start-up time, memory of the process tree, alert latency.

    .venv/bin/python perf/bench_live.py [--only start,rss,latency] [--no-falco]
        [--latency-seconds 10] [--idle-seconds 3] [--rate 100000] [--interval-ms 10]

Must run as root (live capture).  Every sensor below is `.venv/bin/python -m sensor.cli run
...` started from the repository root; "ready" is the arrival, on the bench's pipe, of
the sensor's stderr line containing "Capture ready" (printed once the rules are compiled
and the probes attached).  A sensor is stopped with SIGINT as soon as its figure is taken.

start_cold_s / start_warm_s
    Time from launching `sensor run -r rules/ --workers 2 -M 5` to "Capture ready".  Cold:
    SENSOR_CACHE_DIR (the generated rule modules, sensor/compile/modcache.py) and
    NUMBA_CACHE_DIR (numba's cache: the sensor's own compiled functions and the rule
    kernels) point at a fresh empty temp dir, so everything numba compiles is compiled;
    warm: a second launch with the same dirs.  The OS page cache is warm both times.
    The same for Falco's stable rules (../shared/rulesets/falco-rules-5.0.0/
    falco_rules.yaml, 25 rules) with dirs of their own, when ../shared exists.  Ratio:
    cold / warm, from the same run.

rss_total_mb
    `sensor run -r rules/ --workers N` (N = 1 and 8, warm caches): ~3 s after "Capture
    ready", Rss and Pss of every process of the tree (the capture process and its
    descendants: output process, workers), from /proc/PID/smaps_rollup, summed.  Pss
    shares each page among the processes mapping it (forked workers share most of the
    capture's pages), so the Pss sum is the tree's real footprint; the Rss sum counts
    shared pages once per process.  MB here are MiB.  Ratio: 8 workers / 1 worker.

alert_latency_p99_ms
    A sensor with a rules file written by the bench (one rule: opens of files under a
    fresh temp dir's markers/ subdir, output with %evt.rawtime), `--workers 2 --json
    -o dedup.enabled=false`, stdout to a pipe the bench reads in a thread (time.time_ns()
    at each line's arrival).  perf/loadgen/rate.c (gcc -O2) offers background openat+close
    of a non-matching file at --rate calls/s (100k: 100k events/s) for the loaded phase.
    The bench opens (O_CREAT) a new marker file every --interval-ms (10 ms), recording
    time.time_ns() right before each open: first --idle-seconds with no background load
    (the baseline), then --latency-seconds with it.  Latency = arrival - evt.rawtime (the
    kernel's timestamp of the open's exit, ns since the epoch); cross-checked against the
    bench's own pre-open timestamp (arrival - pre-open, and rawtime - pre-open, which
    should be a few us).  Reports p50/p90/p99/max per phase, how many markers arrived (a
    missing one is reported), and the ratio loaded / idle.  The alerts go through the
    pipeline: capture (ring, decode, state) -> a worker (rules) -> the output process,
    which writes and flushes each batch to stdout.

Prints the figures and writes perf/results/bench_live.json (machine, command, and for
each figure how it was measured, or why it could not be).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "perf"))
from benchlib import machine, tracing_links  # noqa: E402
from bench_pipeline import foreign_busy, loadavg, parse_summary  # noqa: E402

RESULTS = ROOT / "perf" / "results"
RATE_C = ROOT / "perf" / "loadgen" / "rate.c"
DEFAULT_RULES = ROOT / "rules"
FALCO_STABLE = ROOT.parent / "shared" / "rulesets" / "falco-rules-5.0.0" / "falco_rules.yaml"
VENV_PY = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PY) if VENV_PY.exists() else sys.executable
READY = "Capture ready"

LATENCY_RULE = """\
- rule: Bench live latency marker
  desc: opens of perf/bench_live.py's marker files (one new file every few ms)
  condition: evt.type in (open, openat, openat2) and fd.name startswith "{prefix}"
  output: "bench marker open (file=%fd.name rawtime=%evt.rawtime)"
  priority: WARNING
"""


# ---------------------------------------------------------------------------------------------
# one sensor

class Sensor:
    """`sensor run` with its stderr (and, with stdout_lines, its stdout) read by threads that
    stamp each line's arrival."""

    def __init__(self, args: list[str], env: dict | None = None, stdout_lines: bool = False):
        self.cmd = [PYTHON, "-m", "sensor.cli", "run"] + args
        self.err: list[tuple[float, str]] = []          # (time.monotonic(), line)
        self.out: list[tuple[int, bytes]] = []          # (time.time_ns(), line)
        self.ready = threading.Event()
        self.ready_at = None
        self.links_before = tracing_links()
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE if stdout_lines else subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        self.threads = [threading.Thread(target=self._read_err, daemon=True)]
        if stdout_lines:
            self.threads.append(threading.Thread(target=self._read_out, daemon=True))
        for t in self.threads:
            t.start()

    def _read_err(self) -> None:
        for raw in self.p.stderr:
            now = time.monotonic()
            line = raw.decode(errors="replace")
            self.err.append((now, line))
            if READY in line and self.ready_at is None:
                self.ready_at = now
                self.ready.set()
        self.ready.set()                                # EOF: wake a waiter

    def _read_out(self) -> None:
        for raw in self.p.stdout:
            self.out.append((time.time_ns(), raw))

    def wait_ready(self, timeout: float) -> float:
        """Seconds from launch to the ready line; raises if it never came."""
        self.ready.wait(timeout)
        if self.ready_at is None:
            self.stop()
            raise RuntimeError(f"no '{READY}' line within {timeout:.0f} s (exit "
                               f"{self.p.returncode}):\n{self.stderr()[-3000:]}")
        return self.ready_at - self.t0

    def pids(self) -> list[int]:
        """The capture process and all its descendants."""
        out, todo = [], [self.p.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            try:
                for tid in os.listdir(f"/proc/{pid}/task"):
                    kids = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
                    todo.extend(int(k) for k in kids)
            except OSError:
                continue
        return out

    def stop(self, timeout: float = 90.0) -> int:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        for t in self.threads:
            t.join(10)
        return self.p.returncode

    def stderr(self) -> str:
        return "".join(line for _, line in self.err)


def cache_env(d: Path) -> dict:
    return dict(os.environ, SENSOR_CACHE_DIR=str(d / "sensor"), NUMBA_CACHE_DIR=str(d / "numba"))


# ---------------------------------------------------------------------------------------------
# start-up

def bench_start(rulesets: dict, tmp: Path, report: dict) -> dict:
    """Cold and warm start per rule set; returns {name: cache dir} (warm afterwards)."""
    caches = {}
    out = {}
    for name, rules in rulesets.items():
        d = Path(tempfile.mkdtemp(prefix=f"cache_{name}.", dir=tmp))
        caches[name] = d
        row = {"rules": [str(r) for r in rules]}
        for phase in ("cold", "warm"):
            busy = foreign_busy()
            args = sum((["-r", str(r)] for r in rules), []) + ["--workers", "2", "-M", "5"]
            s = Sensor(args, env=cache_env(d))
            try:
                took = s.wait_ready(900)
            finally:
                rc = s.stop()
            row[f"{phase}_s"] = round(took, 2)
            row[f"{phase}_other_load_cpus"] = round(busy, 2)
            row[f"{phase}_foreign_tracing_links"] = s.links_before
            row[f"{phase}_exit"] = rc
            print(f"  start {name:15} {phase}: {took:6.2f} s to '{READY}' (other load "
                  f"{busy:.2f} CPUs before)", flush=True)
        row["cold_over_warm"] = round(row["cold_s"] / row["warm_s"], 2)
        out[name] = row
    how = ("time from launching `.venv/bin/python -m sensor.cli run -r RULES --workers 2 -M 5` "
           f"to the arrival of its stderr line containing '{READY}'; cold: SENSOR_CACHE_DIR "
           "and NUMBA_CACHE_DIR in a fresh empty temp dir (every numba function compiled: "
           "the sensor's own and the rule kernels), warm: a second launch with the same "
           "dirs; one launch each; OS page cache warm")
    rows = {"default_rules": out.get("rules"), "falco_stable": out.get("falco_stable")}
    report["start_cold_s"] = {k: (v["cold_s"] if v else None) for k, v in rows.items()}
    report["start_warm_s"] = {k: (v["warm_s"] if v else None) for k, v in rows.items()}
    ratio = {k: v["cold_over_warm"] for k, v in rows.items() if v}
    report["start_cold_s"].update(cold_over_warm=ratio, how=how)
    report["start_warm_s"].update(cold_over_warm=ratio, how=how)
    report["start"] = {"how": how, "by_rules": out}
    if "falco_stable" not in out:
        why = f"not measured: {FALCO_STABLE} not found (no ../shared checkout)"
        report["start_cold_s"]["falco_stable"] = why
        report["start_warm_s"]["falco_stable"] = why
    return caches


def warm_cache(tmp: Path) -> Path:
    """A cache dir with rules/ compiled (one untimed launch)."""
    d = Path(tempfile.mkdtemp(prefix="cache_rules.", dir=tmp))
    s = Sensor(["-r", str(DEFAULT_RULES), "--workers", "2", "-M", "5"], env=cache_env(d))
    try:
        s.wait_ready(900)
    finally:
        s.stop()
    return d


# ---------------------------------------------------------------------------------------------
# memory

def smaps_rollup(pid: int) -> dict | None:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace").strip()
    except OSError:
        return None
    kb = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] in ("Rss:", "Pss:", "Shared_Clean:", "Shared_Dirty:",
                                     "Private_Clean:", "Private_Dirty:"):
            kb[f[0][:-1].lower()] = int(f[1])
    return {"pid": pid, "title": title[:120], **kb}


def bench_rss(cache: Path, workers: list[int], idle_s: float, report: dict) -> None:
    out = {}
    for w in workers:
        s = Sensor(["-r", str(DEFAULT_RULES), "--workers", str(w), "-M", "60"],
                   env=cache_env(cache))
        try:
            ready = s.wait_ready(300)
            time.sleep(idle_s)
            procs = [r for r in (smaps_rollup(p) for p in s.pids()) if r]
        finally:
            s.stop()
        rss = sum(p.get("rss", 0) for p in procs) / 1024
        pss = sum(p.get("pss", 0) for p in procs) / 1024
        out[w] = {"rss_mb": round(rss, 1), "pss_mb": round(pss, 1), "processes": len(procs),
                  "ready_s": round(ready, 2), "by_process": procs}
        print(f"  memory --workers {w}: {len(procs)} processes, Rss sum {rss:.0f} MB, "
              f"Pss sum {pss:.0f} MB", flush=True)
    how = (f"`sensor run -r rules/ --workers N` with warm caches, {idle_s:.0f} s after "
           f"'{READY}' (idle but for the machine's own syscalls): Rss and Pss from "
           "/proc/PID/smaps_rollup of the capture process and every descendant (output "
           "process, workers), summed; MB = MiB.  Pss divides shared pages among the "
           "processes mapping them: the tree's footprint.  Rss counts a page shared by k "
           "processes k times")
    fig = {f"workers_{w}": {"pss_mb": v["pss_mb"], "rss_mb": v["rss_mb"],
                            "processes": v["processes"]} for w, v in out.items()}
    if len(workers) >= 2:
        lo, hi = workers[0], workers[-1]
        fig[f"pss_ratio_{hi}_over_{lo}"] = round(out[hi]["pss_mb"] / out[lo]["pss_mb"], 2)
        fig[f"rss_ratio_{hi}_over_{lo}"] = round(out[hi]["rss_mb"] / out[lo]["rss_mb"], 2)
    fig["how"] = how
    report["rss_total_mb"] = fig
    report["rss"] = {"how": how, "by_workers": out}


# ---------------------------------------------------------------------------------------------
# alert latency

def percentiles(xs: list[float]) -> dict:
    if not xs:
        return {}
    import numpy as np
    a = np.asarray(xs, float)
    return {"n": len(xs), "p50": round(float(np.percentile(a, 50)), 3),
            "p90": round(float(np.percentile(a, 90)), 3),
            "p99": round(float(np.percentile(a, 99)), 3),
            "max": round(float(a.max()), 3), "min": round(float(a.min()), 3)}


def bench_latency(a, tmp: Path, cache: Path, report: dict) -> None:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if not gcc:
        why = "not measured: no C compiler for perf/loadgen/rate.c"
        report["alert_latency_p99_ms"] = why
        print(f"  latency: {why}")
        return
    rate_bin = tmp / "rate"
    subprocess.run([gcc, "-O2", "-o", str(rate_bin), str(RATE_C)], check=True)
    work = Path(tempfile.mkdtemp(prefix="bench_live.", dir="/tmp"))
    try:
        _latency(a, work, rate_bin, cache, report)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _latency(a, work: Path, rate_bin: Path, cache: Path, report: dict) -> None:
    markers = work / "markers"
    markers.mkdir()
    background = work / "background"          # not under markers/: matches no rule
    background.write_text("x\n")
    prefix = f"{markers}/"
    rules = work / "latency_rules.yaml"
    rules.write_text(LATENCY_RULE.format(prefix=prefix))
    interval = a.interval_ms / 1000
    s = Sensor(["-r", str(rules), "--workers", "2", "--json", "-o", "dedup.enabled=false",
                "-M", str(int(a.idle_seconds + a.latency_seconds + 60))],
               env=cache_env(cache), stdout_lines=True)
    pre: dict[str, int] = {}                 # marker path -> time.time_ns() before the open
    post: dict[str, int] = {}
    phase_of: dict[str, str] = {}
    gen = None
    gen_out = ""
    try:
        s.wait_ready(600)
        time.sleep(0.5)

        def open_markers(phase: str, seconds: float) -> None:
            n = int(round(seconds / interval))
            t0 = time.monotonic()
            for i in range(n):
                due = t0 + i * interval
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                path = f"{prefix}{phase}-{i:05d}"
                phase_of[path] = phase
                pre[path] = time.time_ns()
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                post[path] = time.time_ns()
                os.close(fd)

        open_markers("idle", a.idle_seconds)
        gen = subprocess.Popen([str(rate_bin), str(background), str(a.rate),
                                str(a.latency_seconds + 1.5)], stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        open_markers("loaded", a.latency_seconds)
        gen_out, _ = gen.communicate(timeout=60)
        # the stragglers: until every marker's alert came, at most 10 s
        end = time.monotonic() + 10
        while time.monotonic() < end and len(_arrivals(s, prefix)) < len(pre):
            time.sleep(0.1)
    finally:
        if gen is not None and gen.poll() is None:
            gen.kill()
            gen.wait()
        rc = s.stop()
    summary = parse_summary(s.stderr())
    arrivals = _arrivals(s, prefix)
    f = gen_out.split()
    achieved = float(f[1]) if len(f) >= 2 else None

    phases = {}
    for phase in ("idle", "loaded"):
        names = [p for p in pre if phase_of[p] == phase]
        got = [p for p in names if p in arrivals]
        lat_k = [(arrivals[p][0] - arrivals[p][1]) / 1e6 for p in got]      # arrival - rawtime
        lat_u = [(arrivals[p][0] - pre[p]) / 1e6 for p in got]              # arrival - pre-open
        skew = [(arrivals[p][1] - pre[p]) / 1e3 for p in got]               # rawtime - pre, us
        after = [(post[p] - arrivals[p][1]) / 1e3 for p in got]             # post - rawtime, us
        phases[phase] = {
            "markers": len(names), "arrived": len(got), "missing": len(names) - len(got),
            "missing_examples": [p for p in names if p not in arrivals][:5],
            "latency_ms": percentiles(lat_k),
            "latency_from_pre_open_ms": percentiles(lat_u),
            "rawtime_minus_pre_open_us": percentiles(skew),
            "post_open_minus_rawtime_us": percentiles(after),
            # when the worst one was opened, s into the phase: one stall of the pipeline
            # shows as a ramp of markers that arrive together, the first of them the worst
            "max_at_s": (round(max(range(len(names)), key=lambda i: (
                arrivals[names[i]][0] - arrivals[names[i]][1]) if names[i] in arrivals
                else -1) * interval, 2) if got else None),
            # per marker in opening order: arrival - rawtime, ms (None: never arrived)
            "series_ms": [round((arrivals[p][0] - arrivals[p][1]) / 1e6, 2) if p in arrivals
                          else None for p in names]}
    loaded, idle = phases["loaded"], phases["idle"]
    how = (f"one rule (opens under a temp dir's markers/), `sensor run --workers 2 --json -o "
           f"dedup.enabled=false`, stdout read by a thread of the bench; a new marker file "
           f"opened (O_CREAT) every {a.interval_ms:g} ms, {a.latency_seconds:g} s while "
           f"perf/loadgen/rate.c offers {a.rate:,} calls/s of openat+close of another file "
           f"(achieved {achieved or 0:,.0f}); latency = arrival of the alert line "
           f"(time.time_ns()) - the alert's evt.rawtime (the kernel's ns since the epoch at "
           f"the open's exit); baseline: the same for {a.idle_seconds:g} s of markers with "
           f"no background load, same sensor, same run")
    fig: dict = {}
    if loaded["latency_ms"]:
        fig.update(p99_ms=loaded["latency_ms"]["p99"], p50_ms=loaded["latency_ms"]["p50"],
                   max_ms=loaded["latency_ms"]["max"],
                   markers=loaded["markers"], arrived=loaded["arrived"],
                   missing=loaded["missing"], offered_calls_per_s=a.rate,
                   achieved_calls_per_s=achieved)
        if idle["latency_ms"]:
            fig["idle_p99_ms"] = idle["latency_ms"]["p99"]
            fig["p99_ratio_loaded_over_idle"] = round(
                loaded["latency_ms"]["p99"] / idle["latency_ms"]["p99"], 2)
        if loaded["missing"] or idle["missing"]:
            fig["warning"] = (f"{loaded['missing'] + idle['missing']} marker alerts never "
                              "arrived: the percentiles are over those that did")
        fig["how"] = how
        report["alert_latency_p99_ms"] = fig
    else:
        report["alert_latency_p99_ms"] = ("not measured: no marker alert arrived under load "
                                          "(see bench_live.json: latency)")
    report["latency"] = {"how": how, "phases": phases, "sensor_exit": rc,
                         "sensor_summary": summary, "generator_output": gen_out.strip(),
                         "sensor_stderr_tail": s.stderr().splitlines()[-40:],
                         "foreign_tracing_links": s.links_before,
                         "other_lines": sum(1 for _, ln in s.out if prefix.encode() not in ln)}
    for phase in ("idle", "loaded"):
        ph = phases[phase]
        lk, lu, sk = ph["latency_ms"], ph["latency_from_pre_open_ms"], \
            ph["rawtime_minus_pre_open_us"]
        if not lk:
            print(f"  latency {phase}: no marker alert arrived ({ph['markers']} opened)")
            continue
        print(f"  latency {phase:6}: {ph['arrived']}/{ph['markers']} markers arrived; "
              f"arrival - rawtime p50 {lk['p50']:.2f} / p90 {lk['p90']:.2f} / p99 "
              f"{lk['p99']:.2f} / max {lk['max']:.2f} ms; from pre-open p99 {lu['p99']:.2f} ms; "
              f"rawtime - pre-open median {sk['p50']:.1f} us (min {sk['min']:.1f}, max "
              f"{sk['max']:.1f})", flush=True)
    print(f"  background: offered {a.rate:,} calls/s, achieved {achieved or 0:,.0f}; sensor: "
          f"{summary.get('events', '?')} events, kernel drops {summary.get('kernel_drops', '?')},"
          f" pipeline dropped {summary.get('pipeline_dropped_events', 0)} events", flush=True)


def _arrivals(s: Sensor, prefix: str) -> dict:
    """Marker path -> (arrival ns, evt.rawtime ns) from the JSON lines read so far."""
    out = {}
    key = prefix.encode()
    for t, line in list(s.out):
        if key not in line:
            continue
        try:
            doc = json.loads(line)
            fields = doc["output_fields"]
            out[fields["fd.name"]] = (t, int(fields["evt.rawtime"]))
        except (ValueError, KeyError, TypeError):
            continue
    return out


# ---------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="start,rss,latency",
                    help="which figures: start, rss, latency (comma-separated)")
    ap.add_argument("--no-falco", action="store_true",
                    help="start-up with rules/ only (not Falco's stable rules)")
    ap.add_argument("--rss-workers", default="1,8")
    ap.add_argument("--rss-idle", type=float, default=3.0,
                    help="seconds after ready before reading the memory")
    ap.add_argument("--latency-seconds", type=float, default=10.0)
    ap.add_argument("--idle-seconds", type=float, default=3.0,
                    help="markers with no background load first (the baseline)")
    ap.add_argument("--rate", type=int, default=100_000,
                    help="background openat+close calls/s during the latency run")
    ap.add_argument("--interval-ms", type=float, default=10.0, help="between marker opens")
    a = ap.parse_args()
    only = {x.strip() for x in a.only.split(",") if x.strip()}
    report: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(),
                    "command": " ".join([".venv/bin/python"] + sys.argv),
                    "loadavg_start": loadavg()}
    if os.geteuid() != 0:
        why = "not measured: needs root (live capture)"
        for k in ("start_cold_s", "start_warm_s", "rss_total_mb", "alert_latency_p99_ms"):
            report[k] = why
        print(f"bench_live: {why}")
        _write(report)
        return 0
    m = report["machine"]
    print(f"machine: {m['nproc']} CPUs, {m['cpu_model']}, kernel {m['kernel']}; load "
          f"{loadavg()}; sensor: {PYTHON} -m sensor.cli", flush=True)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_live_") as tmpname:
        tmp = Path(tmpname)
        cache = None
        if "start" in only:
            rulesets = {"rules": [DEFAULT_RULES]}
            if not a.no_falco and FALCO_STABLE.is_file():
                rulesets["falco_stable"] = [FALCO_STABLE]
            t0 = time.perf_counter()
            caches = bench_start(rulesets, tmp, report)
            report["start"]["bench_s"] = round(time.perf_counter() - t0, 1)
            if a.no_falco:
                why = "not measured: --no-falco"
                report["start_cold_s"]["falco_stable"] = why
                report["start_warm_s"]["falco_stable"] = why
            cache = caches["rules"]
        if cache is None and only & {"rss", "latency"}:
            cache = warm_cache(tmp)
        if "rss" in only:
            t0 = time.perf_counter()
            bench_rss(cache, [int(x) for x in a.rss_workers.split(",")], a.rss_idle, report)
            report["rss"]["bench_s"] = round(time.perf_counter() - t0, 1)
        if "latency" in only:
            t0 = time.perf_counter()
            bench_latency(a, tmp, cache, report)
            if "latency" in report:
                report["latency"]["bench_s"] = round(time.perf_counter() - t0, 1)
    for k, part in (("start_cold_s", "start"), ("start_warm_s", "start"),
                    ("rss_total_mb", "rss"), ("alert_latency_p99_ms", "latency")):
        report.setdefault(k, f"not measured: --only {a.only} leaves out {part}")
    report["loadavg_end"] = loadavg()
    report["elapsed_s"] = round(time.perf_counter() - t_start, 1)
    print(f"whole bench {report['elapsed_s']:.0f} s")
    _write(report)
    return 0


def _write(report: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "bench_live.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
