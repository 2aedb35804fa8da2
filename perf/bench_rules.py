"""Rules engine benchmark: compile time (cold and cached) and events/s on one core.

    .venv/bin/python perf/bench_rules.py [--rows 65536] [--rounds 20] [--rules FILE]
                                         [--workers N]
    .venv/bin/python perf/bench_rules.py --sizes 10,50,100,200 [--cpu 0] [--rows] [--rounds]

Loads Falco's stable rules (falco-rules-5.0.0), compiles the kernels in a
child process with empty numba and sensor caches (cold; on every core unless
--workers says how many processes, 1: the child alone, see
sensor/compile/modcache.py), then again in a second child that finds both
caches (cached), and in that child evaluates
synthetic batches of realistic rows (exec, open, connect, ... with real
process names and paths), in two event-type mixes (MIXES below).  Prints the figures and writes
perf/results/bench_rules.json.

--sizes N1,N2,...: events/s of one worker (one process pinned to one core, --cpu) by
rule-set size.  The rules, in this order: Falco 5.0.0's stable rules (25), then its
incubating (31) and sandbox (18 of 30 enabled) rules, loaded together as Falco loads them
(the later files use the stable file's macros and lists): 74 real enabled rules.  Beyond
that, generated rules: copy k (k = 1, 2, ...) of the real rule number (k - 1) mod 74 in
that order, named "<name> (bench variant k)", with the original's fully expanded condition
(macros, lists and exceptions spliced in, printed by sensor/compile/printer.py) plus one
more exception, `and not proc.name in (bench-variant-k)`: a distinct rule that costs what
the original costs, plus a cheap test (Falco users' local copies of rules look like this).
Size N keeps the first N enabled rules of that list (Engine.enable_rules: all disabled,
then those N enabled), so every size contains the smaller ones.  Each size is compiled in
one child process (rule_matching=first) with the caches the environment gives
(SENSOR_CACHE_DIR / NUMBA_CACHE_DIR, else ~/.cache/sensor and numba's default): cold the
first time, cached after; compile time is reported as found.  The same synthetic batches
(both MIXES, --rows rows, built once) are evaluated best of --rounds per size, the child
pinned to --cpu; ratios are to the smallest size, same run.  Writes
perf/results/bench_rules_sizes.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RULES = ROOT.parent / "shared" / "rulesets" / "falco-rules-5.0.0" / "falco_rules.yaml"
FALCO_5 = ROOT.parent / "shared" / "rulesets" / "falco-rules-5.0.0"
SIZE_FILES = [FALCO_5 / "falco_rules.yaml", FALCO_5 / "falco-incubating_rules.yaml",
              FALCO_5 / "falco-sandbox_rules.yaml"]

COMMS = ["bash", "sh", "sshd", "nginx", "python3", "java", "node", "cat", "ls", "curl",
         "systemd", "containerd", "dockerd", "kubelet", "postgres", "redis-server", "cron",
         "grep", "find", "tar", "sudo", "apt-get", "git", "make", "gcc", "vim", "nc", "wget"]
PATHS = ["/etc/passwd", "/etc/shadow", "/etc/hosts", "/etc/ld.so.cache", "/usr/lib/x86_64-linux-gnu/libc.so.6",
         "/proc/self/status", "/proc/1/cgroup", "/tmp/tmp.XyZ123", "/var/log/syslog",
         "/home/alice/.bashrc", "/root/.ssh/authorized_keys", "/dev/null", "/sys/fs/cgroup/cpu.max",
         "/var/lib/docker/overlay2/abc/merged/app.py", "/usr/bin/python3", "/bin/ls",
         "/etc/sudoers", "/var/run/docker.sock", "/usr/share/zoneinfo/UTC", "/opt/app/config.yaml"]
IPS = ["10.0.0.12", "172.17.0.3", "192.168.1.20", "8.8.8.8", "127.0.0.1", "52.94.236.248"]


# Event-type mixes (weights).  "exec-heavy": the default, a busy host where opens,
# execs and connects (what the rules watch) are most of the rows.  "quiet": mostly
# syscalls no stable rule watches (read/write/close/...), opens at a realistic
# share, execs rare -- closer to a server at steady state.
MIXES = {
    "exec-heavy": {"openat": 40, "execve": 8, "connect": 8, "read": 15, "write": 10,
                   "close": 10, "clone": 3, "accept": 2, "unlink": 2, "setuid": 1,
                   "socket": 1},
    "quiet": {"read": 35, "write": 25, "close": 15, "openat": 15, "accept": 3,
              "clone": 2, "connect": 2, "socket": 1, "unlink": 1, "execve": 1},
}


def build_batch(rows: int, seed: int = 1, mix: str = "exec-heavy"):
    from sensor.events.builder import Builder
    rnd = random.Random(seed)
    b = Builder()
    cont = [b.add_container(id=f"{k:012x}", name=f"c{k}", image=f"registry/app{k}:1.{k}")
            for k in range(4)]
    slots = []
    for k in range(200):
        comm = rnd.choice(COMMS)
        parent = rnd.choice(slots) if slots else -1
        slots.append(b.add_proc(pid=1000 + k, comm=comm, exe=f"/usr/bin/{comm}",
                                args=["-c", f"arg{k}"], parent=parent,
                                container=rnd.choice(cont + [-1, -1, -1]),
                                env={"HOME": "/root", "PATH": "/usr/bin"}))
    kinds = [k for k, w in MIXES[mix].items() for _ in range(w)]
    for _ in range(rows):
        kind = rnd.choice(kinds)
        slot = rnd.choice(slots)
        uid = rnd.choice([0, 0, 1000, 33])
        if kind == "openat":
            path = rnd.choice(PATHS)
            flags = rnd.choice(["O_RDONLY|O_CLOEXEC", "O_RDONLY", "O_WRONLY|O_CREAT|O_TRUNC",
                                "O_RDWR"])
            b.add_event("openat", slot=slot, res=3, fd=3, fd_type="f", fd_name=path, uid=uid,
                        params={"flags": flags, "name": path})
        elif kind == "connect":
            b.add_event("connect", slot=slot, res=0, fd=4, fd_type="4", uid=uid,
                        fd_family=2, fd_l4proto=6, fd_cip="10.0.0.5", fd_sip=rnd.choice(IPS),
                        fd_cport=40000, fd_sport=rnd.choice([80, 443, 22, 4444]),
                        fd_role="client", fd_connected=1)
        elif kind == "unlink":
            b.add_event("unlink", slot=slot, res=0, uid=uid,
                        params={"path": rnd.choice(PATHS)})
        else:
            b.add_event(kind, slot=slot, res=0, uid=uid)
    return b.build()


def child(args) -> dict:
    """Runs in a fresh process: load, compile, and optionally evaluate."""
    from sensor.engine import Engine
    out = {}
    t0 = time.perf_counter()
    eng = Engine(rule_matching="first")
    eng.load_rules_file(args.rules)
    out["load_s"] = time.perf_counter() - t0
    out["rules"] = len(eng.rules)
    small = build_batch(16, seed=2)
    t0 = time.perf_counter()
    eng.evaluate(*small)
    out["compile_s"] = time.perf_counter() - t0
    out["kernels"] = len(getattr(eng.compile(), "_KERNELS", ()))
    if args.evaluate:
        for mix in MIXES:
            B, P, C = build_batch(args.rows, mix=mix)
            eng.reset_stats()
            times, ktimes, matches = time_batch(eng, B, P, C, args.rounds, args.rows)
            res = dict(matches_per_batch=matches, evaluate_best_s=min(times),
                       kernel_best_s=min(ktimes), events_per_s=args.rows / min(times),
                       kernel_events_per_s=args.rows / min(ktimes),
                       by_rule=eng.stats()["by_rule"])
            if mix == "exec-heavy":         # the headline figures, as before
                out.update(res)
            else:
                out[mix] = res
        out.update(rows=args.rows, rounds=args.rounds)
    return out


def time_batch(eng, B, P, C, rounds: int, rows: int):
    """Seconds of each round of engine.evaluate and of the bare kernel on one batch,
    and the matches of the last round."""
    import numpy as np
    times, matches = [], 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        matches = len(eng.evaluate(B, P, C))
        times.append(time.perf_counter() - t0)
    kernel = eng.compile().kernel
    ro, ru = np.empty(rows, np.int64), np.empty(rows, np.int64)
    ktimes = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        kernel(B, P, C, ro, ru)
        ktimes.append(time.perf_counter() - t0)
    return times, ktimes, matches


def variants_yaml(real, count: int) -> str:
    """`count` generated rules from the real ones (see the module docstring, --sizes)."""
    import yaml
    from sensor.compile.printer import format_expr
    docs = []
    for k in range(1, count + 1):
        r = real[(k - 1) % len(real)]
        docs.append({"rule": f"{r.name} (bench variant {k})",
                     "desc": f"perf/bench_rules.py: a copy of '{r.name}' with one more exception",
                     "condition": f"({format_expr(r.condition)}) and not proc.name in "
                                  f"(bench-variant-{k})",
                     "output": r.output.text, "priority": r.priority.label(),
                     "tags": list(r.tags)})
    return yaml.safe_dump(docs, sort_keys=False, width=1 << 20)


def sizes_child(args) -> dict:
    """Runs in a fresh process: every size compiled (or loaded from the cache) and
    evaluated on one core."""
    from sensor.engine import Engine
    sizes = sorted(int(x) for x in args.sizes.split(","))
    t0 = time.perf_counter()
    eng = Engine(rule_matching="first")
    files = [f for f in SIZE_FILES if f.is_file()]
    for f in files:
        eng.load_rules_file(str(f))
    real = [r for r in eng.rules if r.enabled]
    extra = max(0, sizes[-1] - len(real))
    if extra:
        eng.load_rules(variants_yaml(real, extra), name="bench_rules_variants.yaml")
    order = [r for r in eng.rules if r.enabled]
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    batches = {mix: build_batch(args.rows, mix=mix) for mix in MIXES}
    small = build_batch(16, seed=2)
    build_s = time.perf_counter() - t0
    everything = re.compile("")
    out = {"files": [str(f) for f in files], "real_enabled_rules": len(real),
           "generated_rules": extra, "load_s": load_s, "build_batches_s": build_s,
           "sizes": {}}
    cpus = os.sched_getaffinity(0)
    for n in sizes:
        if n > len(order):
            out["sizes"][n] = {"error": f"only {len(order)} rules"}
            continue
        names = [r.name for r in order[:n]]
        eng.enable_rules(everything, enabled=False)
        eng.enable_rules(re.compile("^(?:" + "|".join(map(re.escape, names)) + ")$"))
        active = [r for r in eng.rules if r.enabled]
        assert [r.name for r in active] == names, "rule selection went wrong"
        t0 = time.perf_counter()
        eng.evaluate(*small)
        row = {"rules": n, "real": min(n, len(real)),
               "compile_s": time.perf_counter() - t0,
               "kernels": len(getattr(eng.compile(), "_KERNELS", ())),
               "event_types": len(eng.event_types() or ())}
        os.sched_setaffinity(0, {args.cpu})
        try:
            for mix, (B, P, C) in batches.items():
                times, ktimes, matches = time_batch(eng, B, P, C, args.rounds, args.rows)
                row[mix] = {"events_per_s": args.rows / min(times),
                            "median_events_per_s": args.rows / sorted(times)[len(times) // 2],
                            "kernel_events_per_s": args.rows / min(ktimes),
                            "matches_per_batch": matches}
        finally:
            os.sched_setaffinity(0, cpus)
        out["sizes"][n] = row
    return out


def sizes_main(args) -> None:
    missing = [str(f) for f in SIZE_FILES if not f.is_file()]
    out = ROOT / "perf" / "results" / "bench_rules_sizes.json"
    doc = {"date": time.strftime("%Y-%m-%d %H:%M"),
           "command": " ".join([".venv/bin/python"] + sys.argv)}
    sys.path.insert(0, str(ROOT / "perf"))
    from benchlib import machine
    doc["machine"] = machine()
    if SIZE_FILES[0] in map(Path, missing):
        doc["rule_eval_events_per_s"] = f"not measured: {SIZE_FILES[0]} not found"
        print(doc["rule_eval_events_per_s"])
        out.write_text(json.dumps(doc, indent=2) + "\n")
        return
    t_start = time.perf_counter()
    cmd = [sys.executable, __file__, "--child", "--sizes", args.sizes, "--rows", str(args.rows),
           "--rounds", str(args.rounds), "--cpu", str(args.cpu)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if args.workers is not None:
        env["SENSOR_COMPILE_WORKERS"] = str(args.workers)
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(ROOT))
    if res.returncode != 0:
        raise SystemExit(f"bench_rules --sizes: the child failed:\n{res.stderr[-3000:]}")
    r = json.loads(res.stdout.strip().splitlines()[-1])
    elapsed = time.perf_counter() - t_start
    sizes = r["sizes"]
    ok = [k for k, v in sizes.items() if "error" not in v]
    base = ok[0] if ok else None
    how = (f"one process pinned to CPU {args.cpu} (a worker's share: one core), "
           f"Engine(rule_matching='first').evaluate on synthetic batches of {args.rows} rows "
           f"(perf/bench_rules.py MIXES, the same batches for every size), best of "
           f"{args.rounds}; rule sets: the first N enabled rules of Falco 5.0.0 stable + "
           f"incubating + sandbox ({r['real_enabled_rules']} real), then "
           f"{r['generated_rules']} generated copies of them with one more exception each "
           "(see the docstring); ratio: to the smallest size, same run")
    fig: dict = {"how": how}
    for mix in MIXES:
        key = mix.replace("-", "_")
        fig[key] = {k: (round(sizes[k][mix]["events_per_s"]) if k in ok else sizes[k]["error"])
                    for k in sizes}
        if base:
            fig[key + "_ratio_to_" + base] = {
                k: round(sizes[k][mix]["events_per_s"] / sizes[base][mix]["events_per_s"], 3)
                for k in ok}
    doc.update(rule_eval_events_per_s=fig, files=r["files"],
               real_enabled_rules=r["real_enabled_rules"], generated_rules=r["generated_rules"],
               load_s=round(r["load_s"], 2), build_batches_s=round(r["build_batches_s"], 2),
               rows_per_batch=args.rows, rounds=args.rounds, cpu=args.cpu,
               compile_workers=args.workers, by_size=sizes, elapsed_s=round(elapsed, 1))
    print(f"rules: {r['real_enabled_rules']} real enabled rules (Falco 5.0.0 stable, incubating, "
          f"sandbox) + {r['generated_rules']} generated; load {r['load_s']:.1f} s, "
          f"batches built in {r['build_batches_s']:.1f} s")
    print(f"{'rules':>5} {'real':>4} {'kernels':>7} {'compile s':>9}  "
          + "  ".join(f"{m + ' M ev/s':>17} {'x':>5}" for m in MIXES))
    for k in sizes:
        v = sizes[k]
        if "error" in v:
            print(f"{k:>5}  {v['error']}")
            continue
        cols = []
        for mix in MIXES:
            e = v[mix]["events_per_s"]
            cols.append(f"{e / 1e6:17.2f} {e / sizes[base][mix]['events_per_s']:5.2f}")
        print(f"{k:>5} {v['real']:>4} {v['kernels']:>7} {v['compile_s']:9.2f}  " + "  ".join(cols))
    print(f"(one core, CPU {args.cpu}; {args.rows} rows per batch, best of {args.rounds}; "
          f"x: vs {base} rules; compile: cold or cached, as the cache was)  {elapsed:.0f} s")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    # the same figures, flat, added to bench_rules.json (its other figures kept) for
    # perf/bench_all.py: sizes[N]["events_per_s"] (exec-heavy mix) and "sizes_how"
    main_json = out.parent / "bench_rules.json"
    try:
        merged = json.loads(main_json.read_text())
    except (OSError, ValueError):
        merged = {}
    flat = {}
    for k in ok:
        v = sizes[k]
        flat[k] = {"events_per_s": round(v["exec-heavy"]["events_per_s"]),
                   "quiet_events_per_s": round(v["quiet"]["events_per_s"]),
                   "ratio_to_smallest": round(v["exec-heavy"]["events_per_s"]
                                              / sizes[base]["exec-heavy"]["events_per_s"], 3),
                   "quiet_ratio_to_smallest": round(v["quiet"]["events_per_s"]
                                                    / sizes[base]["quiet"]["events_per_s"], 3),
                   "real_rules": v["real"], "kernels": v["kernels"],
                   "compile_s": round(v["compile_s"], 2)}
    merged.update(sizes=flat, sizes_how=how + " (events_per_s: the exec-heavy mix)",
                  sizes_date=doc["date"], sizes_command=doc["command"])
    main_json.write_text(json.dumps(merged, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)} and the 'sizes' of {main_json.relative_to(ROOT)}")


def run_child(args, env, evaluate: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", "--rules", str(args.rules),
           "--rows", str(args.rows), "--rounds", str(args.rounds)]
    if evaluate:
        cmd.append("--evaluate")
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True,
                         cwd=str(ROOT))
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", default=str(DEFAULT_RULES))
    ap.add_argument("--rows", type=int, default=65536)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--workers", type=int, default=None,
                    help="processes compiling kernels cold (default: one per core)")
    ap.add_argument("--sizes", default=None,
                    help="events/s of one worker by rule-set size, e.g. 10,50,100,200 "
                         "(see the docstring); writes perf/results/bench_rules_sizes.json")
    ap.add_argument("--cpu", type=int, default=0, help="--sizes: the CPU the evaluation runs on")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--evaluate", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(sizes_child(args) if args.sizes else child(args)))
        return
    if args.sizes:
        sizes_main(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, SENSOR_CACHE_DIR=os.path.join(tmp, "sensor"),
                   NUMBA_CACHE_DIR=os.path.join(tmp, "numba"), PYTHONPATH=str(ROOT))
        if args.workers is not None:
            env["SENSOR_COMPILE_WORKERS"] = str(args.workers)
        cold = run_child(args, env, evaluate=False)
        warm = run_child(args, env, evaluate=True)
    result = {
        "rules_file": str(args.rules), "rules": cold["rules"],
        "load_s": round(warm["load_s"], 3),
        "compile_cold_s": round(cold["compile_s"], 3),
        "compile_workers": args.workers, "kernels": cold["kernels"],
        "compile_cached_s": round(warm["compile_s"], 3),
        "rows_per_batch": warm["rows"], "matches_per_batch": warm["matches_per_batch"],
        "events_per_s": round(warm["events_per_s"]),
        "kernel_events_per_s": round(warm["kernel_events_per_s"]),
        "matches_by_rule": warm["by_rule"],
        "quiet_mix": {"events_per_s": round(warm["quiet"]["events_per_s"]),
                      "kernel_events_per_s": round(warm["quiet"]["kernel_events_per_s"]),
                      "matches_per_batch": warm["quiet"]["matches_per_batch"]},
    }
    print(f"rules: {result['rules']} from {args.rules}")
    print(f"load (parse, expand, bind, generate): {result['load_s']:.2f} s")
    workers = "one per core" if args.workers is None else args.workers
    print(f"compile cold: {result['compile_cold_s']:.2f} s   cached: {result['compile_cached_s']:.2f} s"
          f"   ({result['kernels']} kernels, workers: {workers})")
    print(f"evaluate: {result['events_per_s'] / 1e6:.1f} M events/s "
          f"(kernel alone {result['kernel_events_per_s'] / 1e6:.1f} M/s), "
          f"{result['rows_per_batch']} rows/batch, {result['matches_per_batch']} matches/batch "
          f"(exec-heavy mix)")
    q = result["quiet_mix"]
    print(f"evaluate: {q['events_per_s'] / 1e6:.1f} M events/s "
          f"(kernel alone {q['kernel_events_per_s'] / 1e6:.1f} M/s), "
          f"{q['matches_per_batch']} matches/batch (quiet mix: mostly unwatched syscalls)")
    out = ROOT / "perf" / "results" / "bench_rules.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
