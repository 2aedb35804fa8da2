"""Output stage benchmark: formatting, the file and stdout sinks, dedup under a flood,
and whether an alert flood slows capture.

    .venv/bin/python perf/bench_outputs.py [--parts 1,2,3,4] [--format-n 100000]
        [--format-rounds 5] [--n 200000] [--rounds 3] [--flood 1000000] [--flood-rounds 2]
        [--copies 50] [--replay-rounds 2]

All in-process figures run on this process's threads only; wall time is
time.perf_counter, CPU time is time.process_time (every thread of this process, so
the sink's thread too).  Each contender is run --rounds times, the order rotating
from round to round so that noise hits each alike; the best round (least wall time)
is reported, with its CPU time.  The garbage collector is frozen over the pre-built
alerts (gc.freeze) so that it does not scan hundreds of MB the sensor would not hold.

1. Formatting (one thread): sensor.outputs.formats.Formatter.text(alert) and
   .json_bytes(alert) (which includes the text, as `output`) on --format-n alerts per
   round, cycling over 20,000 pre-built realistic alerts: four Falco-like rules, each
   output with 8 fields (proc.name, proc.pid, proc.cmdline, fd.name, user.name,
   container.id, evt.type, proc.pname), values drawn at random (make_alerts).

2. Emitted per second: sensor.outputs.dispatch.Outputs (the `emit` callable of the
   output process) with dedup disabled and one sink: file_output (keep_alive true,
   a file in a temp dir) or stdout_output with sys.stdout redirected to /dev/null;
   text and JSON (json_output).  --n alerts (the same 20,000 cycled) are emitted in a
   loop; the time runs from the first emit to close() returning, i.e. every line
   written (the sink's thread runs meanwhile: both threads are in the CPU time).
   outputs_queue.capacity holds all --n alerts, so none may be dropped: checked
   (dropped == 0, sent == N, lines in the file == N).  "emit loop" is the time until
   the last emit returned (the rest is the sink catching up).

3. Dedup under a flood: --flood matches of one rule with the same output fields,
   ts advancing 10 us per match (100k matches/s of event time, 10 s in all, the
   default dedup window), through Outputs with the file sink and JSON lines:
     dedup         dedup enabled (defaults: 10 s window): a handful of lines
     no-dedup      dedup disabled: every match written
     dedup-100keys dedup enabled, 100 distinct keys (proc.pid) round-robin
   Matches/s through emit (until the last emit returned) and end to end (close()
   returned), wall and CPU.  Accounting is checked on the file: the sum over the
   lines of (`repeated` if present, else 1) must equal the number of matches.

4. Does an alert flood slow capture?  The real CLI,
       sensor replay TRACE -r RULES --workers 2 --json --no-progress
         -o stdout_output.enabled=false -o file_output.enabled=true
         -o file_output.filename=TMP/alerts.json
   on ../shared/traces/502Error.scap replicated --copies times (perf/replicate.py,
   temp dir), with rules files written here:
     quiet          one rule that matches nothing (execve of a process that is not there)
     flood          one rule on the trace's 11 most common syscalls (futex, close,
                    epoll_pwait, read, recvfrom, sendto, open, fstat, mmap, munmap,
                    mprotect: 28% of all events, most of the rest being procinfo meta
                    events), output with 4 fields, dedup on (the default)
     flood-nodedup  the same, -o dedup.enabled=false
   The output file is created beforehand with mode 0666 in a 0777 temp dir: the
   output process runs as user nobody and must be able to open it.  Figures per
   contender, best of --replay-rounds (order rotating; one untimed warm-up run per
   rules file on the small trace first: the kernels are cached in ~/.cache/sensor):
   the replay's events/s from its summary line (its time includes the output draining
   at the end), the ratio flood / quiet of events/s, the whole command's wall time,
   matches (the warm-up's alerts on the one-copy trace, too few to fill a ring, times
   --copies), alerts (the summary's figure: delivered to the output stage), lost =
   matches - alerts (workers' alert rings full: the output process behind), the
   summary's "alerts dropped (output behind)" when it prints a Pipeline line (replay
   does not, as of this writing), lines written, and CPU seconds of the capture
   process, the workers and the output process (bench_pipeline.TreeSampler, /proc every
   0.1 s) and of the whole tree (wait4).  Skipped when ../shared is missing.

Prints the figures and writes perf/results/bench_outputs.json.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "perf"))
from benchlib import machine  # noqa: E402
from sensor.compile.rule import Priority  # noqa: E402
from sensor.config import Config  # noqa: E402
from sensor.outputs.alert import Alert  # noqa: E402
from sensor.outputs.dispatch import Outputs  # noqa: E402
from sensor.outputs.formats import Formatter  # noqa: E402

SHARED = ROOT.parent / "shared"
SOURCE = SHARED / "traces" / "502Error.scap"
RESULTS = ROOT / "perf" / "results"
SENSOR = [sys.executable, "-m", "sensor.cli"]
POOL = 20_000                      # distinct alerts pre-built for parts 1 and 2
T0_NS = 1_764_000_000_000_000_000  # an event time in 2025

# --- realistic alerts ---------------------------------------------------------------------

# (rule, priority, tags, text before the fields)
RULES = [
    ("Read sensitive file untrusted", Priority.WARNING,
     ("filesystem", "mitre_credential_access"),
     "Sensitive file opened for reading by non-trusted program"),
    ("Write below etc", Priority.ERROR, ("filesystem", "mitre_persistence"),
     "File below /etc opened for writing"),
    ("Terminal shell in container", Priority.NOTICE, ("container", "shell", "mitre_execution"),
     "A shell was spawned in a container with an attached terminal"),
    ("Unexpected outbound connection", Priority.INFORMATIONAL, ("network",),
     "Outbound connection to an unexpected destination"),
]
COMMS = ["bash", "sh", "python3", "nginx", "java", "node", "cat", "curl", "sshd", "vim",
         "postgres", "redis-server", "tar", "find", "sudo", "apt-get", "git", "wget"]
ARGS = ["-c 'cat /etc/shadow'", "-m http.server 8080", "/etc/passwd", "-xzf backup.tgz",
        "-O - http://10.0.0.7/install.sh", "--config /etc/app/config.yaml", "-i",
        "-u www-data id", "/var/log/syslog | grep -i error", "-e 'import os'"]
PATHS = ["/etc/shadow", "/etc/passwd", "/etc/sudoers", "/etc/hosts", "/etc/ld.so.preload",
         "/root/.ssh/authorized_keys", "/var/run/docker.sock", "/home/alice/.bashrc",
         "10.0.0.12:45872->52.94.236.248:443", "172.17.0.3:51234->8.8.8.8:53",
         "/etc/kubernetes/admin.conf", "/proc/1/environ"]
USERS = ["root", "root", "www-data", "alice", "postgres", "nobody"]
TYPES = ["openat", "open", "execve", "connect", "openat2"]


def make_alerts(n: int, seed: int = 1) -> list[Alert]:
    """n alerts of the RULES, 8 output fields each, values at random, times increasing."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        rule, prio, tags, text = RULES[i % len(RULES)]
        comm = rnd.choice(COMMS)
        fields = {"proc.name": comm,
                  "proc.pid": rnd.randrange(300, 4_000_000),
                  "proc.cmdline": f"{comm} {rnd.choice(ARGS)}",
                  "fd.name": rnd.choice(PATHS),
                  "user.name": rnd.choice(USERS),
                  "container.id": rnd.choice(["host", f"{rnd.getrandbits(48):012x}"]),
                  "evt.type": rnd.choice(TYPES),
                  "proc.pname": rnd.choice(COMMS)}
        output = (f"{text} (user={fields['user.name']} command={fields['proc.cmdline']} "
                  f"pid={fields['proc.pid']} parent={fields['proc.pname']} "
                  f"file={fields['fd.name']} container_id={fields['container.id']} "
                  f"evt_type={fields['evt.type']} program={comm})")
        out.append(Alert(T0_NS + i * 1_000_003, rule, prio, "syscall", tags, output,
                         fields, num=i))
    return out


def flood_alerts(n: int, keys: int, step_ns: int) -> list[Alert]:
    """n matches of one rule, `keys` distinct output field sets round-robin (the
    same objects shared), ts advancing step_ns per match."""
    shapes = []
    for k in range(keys):
        fields = {"proc.name": "nginx", "proc.pid": 4242 + k,
                  "proc.cmdline": "nginx -g daemon off;", "fd.name": "/etc/shadow",
                  "user.name": "www-data", "container.id": "3ad7b26ded6d",
                  "evt.type": "openat", "proc.pname": "nginx"}
        output = (f"Sensitive file opened for reading by non-trusted program (user=www-data "
                  f"command=nginx -g daemon off; pid={4242 + k} parent=nginx file=/etc/shadow "
                  f"container_id=3ad7b26ded6d evt_type=openat program=nginx)")
        shapes.append((output, fields))
    rule, prio, tags, _ = RULES[0]
    return [Alert(T0_NS + i * step_ns, rule, prio, "syscall", tags, *shapes[i % keys], num=i)
            for i in range(n)]


def rotated(names: list, rnd: int) -> list:
    k = rnd % len(names)
    return names[k:] + names[:k]


def best(runs: list) -> dict:
    return min(runs, key=lambda r: r["wall_s"])


# --- 1. formatting ------------------------------------------------------------------------

def part_format(a, pool: list, report: dict) -> None:
    fmt = Formatter(Config())
    todo = [pool[i % len(pool)] for i in range(a.format_n)]
    funcs = {"text": fmt.text, "json_bytes": fmt.json_bytes}
    runs = {k: [] for k in funcs}
    for rnd in range(a.format_rounds):
        for name in rotated(list(funcs), rnd):
            f = funcs[name]
            w0, c0 = time.perf_counter(), time.process_time()
            for alert in todo:
                f(alert)
            runs[name].append({"wall_s": time.perf_counter() - w0,
                               "cpu_s": time.process_time() - c0})
    sample = fmt.json_bytes(pool[0])
    print(f"\n1. formatting, one thread, {a.format_n:,} alerts per round, best of "
          f"{a.format_rounds} (alerts of 8 fields; a JSON line is ~{len(sample)} bytes)")
    print(f"  {'call':22} {'alerts/s wall':>14} {'alerts/CPU-s':>13} {'us/alert':>9}")
    table = {}
    for name, rs in runs.items():
        r = best(rs)
        table[name] = {"alerts_per_s_wall": a.format_n / r["wall_s"],
                       "alerts_per_cpu_s": a.format_n / r["cpu_s"] if r["cpu_s"] else None,
                       "us_per_alert": 1e6 * r["wall_s"] / a.format_n, "runs": rs}
        t = table[name]
        print(f"  Formatter.{name:12} {t['alerts_per_s_wall']:14,.0f} "
              f"{t['alerts_per_cpu_s'] or 0:13,.0f} {t['us_per_alert']:9.2f}")
    report["format"] = {"alerts_per_round": a.format_n, "rounds": a.format_rounds,
                        "json_line_bytes": len(sample), "best": table}


# --- 2. and 3.: the Outputs stage ---------------------------------------------------------

def outputs_config(tmp: Path, sink: str, json_output: bool, dedup: bool,
                   capacity: int) -> Config:
    return Config({
        "json_output": json_output,
        "stdout_output": {"enabled": sink == "stdout"},
        "file_output": {"enabled": sink == "file", "keep_alive": True,
                        "filename": str(tmp / "alerts.out")},
        "dedup": {"enabled": dedup},
        "outputs_queue": {"capacity": capacity},
        # a flood written in full may still be queued at close(): let it drain
        "outputs": {"close_timeout": 120.0},
    })


def run_outputs(cfg: Config, alerts: list, tmp: Path, sink: str) -> dict:
    """Emit every alert, then close(): wall and CPU times, the stage's stats, and
    (file sink) the lines written and sum of (repeated or 1) over them."""
    path = tmp / "alerts.out"
    if path.exists():
        path.unlink()
    out = Outputs(cfg)
    saved = sys.stdout
    if sink == "stdout":
        sys.stdout = open(os.devnull, "w")       # the stdout sink looks it up per write
    try:
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        for alert in alerts:
            out(alert)
        w1, c1 = time.perf_counter(), time.process_time()
        out.close()
        w2, c2 = time.perf_counter(), time.process_time()
    finally:
        if sink == "stdout":
            sys.stdout.close()
            sys.stdout = saved
    st = out.stats()
    s = next(iter(st["sinks"].values()))
    r = {"wall_s": w2 - w0, "cpu_s": c2 - c0, "emit_wall_s": w1 - w0, "emit_cpu_s": c1 - c0,
         "sent": s["sent"], "dropped": s["dropped"], "failed": s["failed"], "dedup": st["dedup"]}
    if sink == "file":
        lines = matches = 0
        with open(path, "rb") as f:
            for line in f:
                lines += 1
                # only a dedup report carries the key (the text says "repeated N times")
                matches += orjson.loads(line).get("repeated", 1) if b'"repeated":' in line else 1
        r.update(lines=lines, matches_in_file=matches)
    return r


def part_emit(a, pool: list, tmp: Path, report: dict) -> None:
    alerts = [pool[i % len(pool)] for i in range(a.n)]
    contenders = {f"{sink}-{kind}": (sink, kind == "json")
                  for sink in ("file", "stdout") for kind in ("text", "json")}
    runs = {k: [] for k in contenders}
    problems = []
    for rnd in range(a.rounds):
        for name in rotated(list(contenders), rnd):
            sink, js = contenders[name]
            r = run_outputs(outputs_config(tmp, sink, js, False, a.n + 1), alerts, tmp, sink)
            runs[name].append(r)
            if r["dropped"] or r["failed"] or r["sent"] != a.n or r.get("lines", a.n) != a.n:
                problems.append(f"{name} round {rnd + 1}: sent {r['sent']}, dropped "
                                f"{r['dropped']}, failed {r['failed']}, lines {r.get('lines')}")
    print(f"\n2. Outputs (dedup off) -> one sink, {a.n:,} alerts, best of {a.rounds}; "
          "first emit to close() returned (both threads)")
    print(f"  {'sink-format':12} {'alerts/s wall':>14} {'alerts/CPU-s':>13} {'wall s':>7} "
          f"{'cpu s':>6} {'emit loop s':>11} {'sent':>8} {'dropped':>7}")
    table = {}
    for name, rs in runs.items():
        r = best(rs)
        table[name] = {"alerts_per_s_wall": a.n / r["wall_s"],
                       "alerts_per_cpu_s": a.n / r["cpu_s"], **r}
        print(f"  {name:12} {a.n / r['wall_s']:14,.0f} {a.n / r['cpu_s']:13,.0f} "
              f"{r['wall_s']:7.2f} {r['cpu_s']:6.2f} {r['emit_wall_s']:11.2f} {r['sent']:8} "
              f"{r['dropped']:7}")
    for p in problems:
        print(f"  PROBLEM: {p}")
    if not problems:
        print(f"  checked: every run sent all {a.n:,} alerts, none dropped or failed; "
              "the file had one line per alert")
    report["emit"] = {"alerts": a.n, "rounds": a.rounds, "best": table, "runs": runs,
                      "problems": problems}


def part_dedup(a, tmp: Path, report: dict) -> None:
    step = 10_000     # 10 us of event time per match: 100k matches/s
    t0 = time.perf_counter()
    same = flood_alerts(a.flood, 1, step)
    keyed = flood_alerts(a.flood, 100, step)
    gc.freeze()
    print(f"\n(flood: {2 * a.flood:,} alerts built in {time.perf_counter() - t0:.1f} s)",
          flush=True)
    contenders = {"dedup": (same, True), "no-dedup": (same, False),
                  "dedup-100keys": (keyed, True)}
    runs = {k: [] for k in contenders}
    problems = []
    for rnd in range(a.flood_rounds):
        for name in rotated(list(contenders), rnd):
            alerts, dedup = contenders[name]
            r = run_outputs(outputs_config(tmp, "file", True, dedup, a.flood + 1), alerts,
                            tmp, "file")
            runs[name].append(r)
            print(f"  round {rnd + 1} {name:14} {r['wall_s']:6.2f} s wall, {r['cpu_s']:6.2f} s "
                  f"cpu, {r['lines']} lines", flush=True)
            if r["matches_in_file"] != a.flood or r["dropped"] or r["failed"]:
                problems.append(f"{name} round {rnd + 1}: {r['matches_in_file']} matches "
                                f"accounted in the file, dropped {r['dropped']}, failed "
                                f"{r['failed']}")
    del same, keyed
    gc.unfreeze()
    span = a.flood * step / 1e9
    print(f"\n3. dedup under a flood: {a.flood:,} matches of one rule, {span:.0f} s of event "
          f"time (10 us apart), file sink, JSON, best of {a.flood_rounds}")
    print(f"  {'case':14} {'emit/s wall':>12} {'emit/CPU-s':>11} {'end-to-end/s':>13} "
          f"{'/CPU-s':>11} {'wall s':>7} {'lines':>8} {'sum(repeated|1)':>16}")
    table = {}
    for name, rs in runs.items():
        r = best(rs)
        row = table[name] = {
            "emit_per_s_wall": a.flood / r["emit_wall_s"],
            "emit_per_cpu_s": a.flood / r["emit_cpu_s"],
            "per_s_wall": a.flood / r["wall_s"], "per_cpu_s": a.flood / r["cpu_s"], **r}
        print(f"  {name:14} {row['emit_per_s_wall']:12,.0f} {row['emit_per_cpu_s']:11,.0f} "
              f"{row['per_s_wall']:13,.0f} {row['per_cpu_s']:11,.0f} {r['wall_s']:7.2f} "
              f"{r['lines']:8} {r['matches_in_file']:16,}")
    ratio = table["dedup"]["per_s_wall"] / table["no-dedup"]["per_s_wall"]
    print(f"  dedup / no-dedup (end to end, wall): {ratio:.2f}x")
    for p in problems:
        print(f"  PROBLEM: {p}")
    if not problems:
        print(f"  checked: in every run the lines account for all {a.flood:,} matches "
              "(first alerts + repeated), none dropped")
    report["dedup"] = {"matches": a.flood, "step_ns": step, "rounds": a.flood_rounds,
                       "best": table, "runs": runs, "dedup_vs_nodedup_wall": ratio,
                       "problems": problems}


# --- 4. replay through the CLI ------------------------------------------------------------

QUIET_RULES = """\
- rule: quiet
  desc: matches nothing (bench_outputs.py)
  condition: evt.type = execve and proc.name = "no-such-process"
  output: "never (proc.name=%proc.name proc.pid=%proc.pid evt.type=%evt.type fd.name=%fd.name)"
  priority: DEBUG
"""
FLOOD_TYPES = "futex, close, epoll_pwait, read, recvfrom, sendto, open, fstat, mmap, munmap, mprotect"
FLOOD_RULES = f"""\
- rule: flood
  desc: matches the trace's most common syscalls (bench_outputs.py)
  condition: evt.type in ({FLOOD_TYPES})
  output: "flood (proc.name=%proc.name proc.pid=%proc.pid evt.type=%evt.type fd.name=%fd.name)"
  priority: DEBUG
"""
SUMMARY = re.compile(r"Events read: (\d+), alerts: (\d+) \(([\d.]+) s, ([\d,]+) events/s\)")
ADROPS = re.compile(r"alerts dropped \(output behind\): (\d+)")
DEDUP = re.compile(r"Dedup: (\d+) matches in (\d+) alerts")


def cpus(roles: dict, tree: float) -> str:
    return "/".join(f"{roles.get(k, {}).get('cpu_s', 0):.1f}"
                    for k in ("capture", "workers", "output")) + f"/{tree:.1f}"


def part_replay(a, tmp: Path, report: dict) -> None:
    if not SOURCE.is_file():
        print(f"\n4. replay: skipped (needs {SOURCE}, the ../shared checkout)")
        report["replay"] = {"skipped": f"{SOURCE} missing"}
        return
    from bench_pipeline import run_timed     # timed command + its process tree sampled
    from replicate import replicate
    t0 = time.perf_counter()
    trace = tmp / f"502Error_x{a.copies}.scap"
    events = replicate(str(SOURCE), str(trace), a.copies)
    print(f"\n(trace: {a.copies} copies of {SOURCE.name}, {events:,} events, replicated in "
          f"{time.perf_counter() - t0:.1f} s)", flush=True)
    # the output process runs as nobody: a world-writable dir and file
    outdir = tmp / "out"
    outdir.mkdir()
    os.chmod(outdir, 0o777)
    alerts_file = outdir / "alerts.json"
    quiet, flood = tmp / "quiet.yaml", tmp / "flood.yaml"
    quiet.write_text(QUIET_RULES)
    flood.write_text(FLOOD_RULES)
    contenders = {"quiet": (quiet, []), "flood": (flood, []),
                  "flood-nodedup": (flood, ["-o", "dedup.enabled=false"])}

    def cmd(path, rules, extra):
        return SENSOR + ["replay", str(path), "-r", str(rules), "--workers", "2", "--json",
                         "--no-progress", "-o", "stdout_output.enabled=false",
                         "-o", "file_output.enabled=true",
                         "-o", f"file_output.filename={alerts_file}"] + extra

    def fresh_file():
        alerts_file.unlink(missing_ok=True)
        alerts_file.touch()
        os.chmod(alerts_file, 0o666)

    # Warm-up: the rules' kernels into the cache.  Its alerts on the small trace (too
    # few to fill an alert ring) times the copies are the matches a run must deliver.
    t0 = time.perf_counter()
    per_copy = {}
    for rules in (quiet, flood):
        fresh_file()
        r = run_timed(cmd(SOURCE, rules, []), tmp / "warm.err")
        m = SUMMARY.search(r["stderr"])
        if r["rc"] != 0 or not m:
            raise SystemExit(f"warm-up failed ({rules.name}):\n{r['stderr'][-2000:]}")
        per_copy[rules] = int(m.group(2))
    print(f"(warm-up, untimed: {time.perf_counter() - t0:.1f} s; matches per copy: "
          f"quiet {per_copy[quiet]}, flood {per_copy[flood]} of {events // a.copies} events)",
          flush=True)

    runs = {k: [] for k in contenders}
    for rnd in range(a.replay_rounds):
        for name in rotated(list(contenders), rnd):
            fresh_file()
            r = run_timed(cmd(trace, *contenders[name]), tmp / f"{name}.err", sample=True)
            err = r.pop("stderr")
            m = SUMMARY.search(err)
            if r["rc"] != 0 or not m:
                raise SystemExit(f"{name} failed (exit {r['rc']}):\n{err[-2000:]}")
            d = ADROPS.search(err)
            dd = DEDUP.search(err)
            with open(alerts_file, "rb") as f:
                lines = sum(1 for _ in f)
            expected = a.copies * per_copy[contenders[name][0]]
            r.update(events=int(m.group(1)), alerts=int(m.group(2)), seconds=float(m.group(3)),
                     events_per_s=float(m.group(4).replace(",", "")), matches=expected,
                     # the summary of replay may not say (no Pipeline line): count them
                     alerts_lost=expected - int(m.group(2)),
                     alerts_dropped=int(d.group(1)) if d else None,
                     dedup_matches=int(dd.group(1)) if dd else None, lines=lines,
                     summary=[ln for ln in err.splitlines()
                              if "Events read" in ln or ln.startswith(("Pipeline", "Output",
                                                                       "Dedup"))],
                     round=rnd)
            if r["events"] != events:
                raise SystemExit(f"{name}: {r['events']} events read, {events} expected")
            runs[name].append(r)
            print(f"  round {rnd + 1} {name:14} {r['wall_s']:6.2f} s wall, replay "
                  f"{r['seconds']:.2f} s = {r['events_per_s'] / 1e6:.2f} M ev/s, alerts "
                  f"{r['alerts']:,} of {expected:,} matches (lost {r['alerts_lost']:,}; "
                  f"summary says {'-' if d is None else r['alerts_dropped']}), lines {lines:,}, "
                  f"other load {r['foreign_cpus']:.2f} CPUs", flush=True)

    print(f"\n4. replay --workers 2 of {events:,} events ({a.copies} copies of "
          f"{SOURCE.name}), JSON to a file, best of {a.replay_rounds}")
    print(f"  {'rules':14} {'M ev/s':>7} {'x quiet':>7} {'replay s':>8} {'wall s':>7} "
          f"{'matches':>8} {'alerts':>8} {'lost':>7} {'summary':>7} {'lines':>8} "
          f"{'cpu s: capture/workers/output/tree':>34}")
    table = {}
    for name, rs in runs.items():
        r = min(rs, key=lambda x: x["seconds"])
        table[name] = {k: r[k] for k in ("events_per_s", "seconds", "wall_s", "cpu_s",
                                          "matches", "alerts", "alerts_lost",
                                          "alerts_dropped", "dedup_matches", "roles",
                                          "lines", "foreign_cpus", "summary")}
    base = table["quiet"]["events_per_s"]
    for name, t in table.items():
        t["vs_quiet"] = t["events_per_s"] / base
        said = "-" if t["alerts_dropped"] is None else f"{t['alerts_dropped']:,}"
        print(f"  {name:14} {t['events_per_s'] / 1e6:7.2f} {t['vs_quiet']:6.2f}x "
              f"{t['seconds']:8.2f} {t['wall_s']:7.2f} {t['matches']:8,} {t['alerts']:8,} "
              f"{t['alerts_lost']:7,} {said:>7} {t['lines']:8,} {cpus(t['roles'], t['cpu_s']):>34}")
    for name in ("flood", "flood-nodedup"):
        t = table[name]
        print(f"  {name}: lost per round " + ", ".join(f"{r['alerts_lost']:,}" for r in runs[name]))
        extra = t["cpu_s"] - table["quiet"]["cpu_s"]
        print(f"  {name}: {1e6 * extra / max(1, t['matches']):.1f} us of CPU per match more "
              f"than quiet (whole tree)")
    print("  matches: what the rule matches (the warm-up's per-copy count x copies)\n"
          "  alerts: delivered to the output stage (the summary's figure); lost = matches -"
          " alerts\n"
          "    (alert rings full: the output process behind)\n"
          "  summary: \"alerts dropped (output behind)\" in the summary, - when it has no"
          " Pipeline line\n"
          "  replay s includes the output draining at the end; cpu s sampled per process,"
          " the tree's from wait4")
    report["replay"] = {"trace": f"{SOURCE.name} x{a.copies}", "events": events,
                        "flood_types": FLOOD_TYPES, "rounds": a.replay_rounds,
                        "best": table, "runs": runs}


# ------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="1,2,3,4", help="which parts to run")
    ap.add_argument("--format-n", type=int, default=100_000, help="alerts per round (part 1)")
    ap.add_argument("--format-rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=200_000, help="alerts per run (part 2)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (part 2)")
    ap.add_argument("--flood", type=int, default=1_000_000, help="matches per run (part 3)")
    ap.add_argument("--flood-rounds", type=int, default=2)
    ap.add_argument("--copies", type=int, default=50, help="trace copies (part 4)")
    ap.add_argument("--replay-rounds", type=int, default=2)
    a = ap.parse_args()
    parts = {int(p) for p in a.parts.split(",") if p.strip()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    mach = machine()
    print(f"machine: {mach['nproc']} CPUs, {mach['cpu_model']}, {mach['mem_gib']} GiB, "
          f"kernel {mach['kernel']}, Python {mach['python']}; load "
          f"{Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": mach,
              "command": " ".join([".venv/bin/python"] + sys.argv),
              "loadavg_start": Path("/proc/loadavg").read_text().split()[:3]}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_outputs_") as tmp:
        tmp = Path(tmp)
        if parts & {1, 2}:
            pool = make_alerts(POOL)
            gc.freeze()
            if 1 in parts:
                part_format(a, pool, report)
            if 2 in parts:
                part_emit(a, pool, tmp, report)
            del pool
            gc.unfreeze()
        if 3 in parts:
            part_dedup(a, tmp, report)
        if 4 in parts:
            part_replay(a, tmp, report)
    report["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    report["seconds"] = time.perf_counter() - t0
    out = RESULTS / "bench_outputs.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{report['seconds']:.0f} s in all; wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
