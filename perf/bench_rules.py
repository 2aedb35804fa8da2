"""Rules engine benchmark: compile time (cold and cached) and events/s on one core.

    .venv/bin/python perf/bench_rules.py [--rows 65536] [--rounds 20] [--rules FILE]
                                         [--workers N]

Loads Falco's stable rules (falco-rules-5.0.0), compiles the kernels in a
child process with empty numba and sensor caches (cold; on every core unless
--workers says how many processes, 1: the child alone, see
sensor/compile/modcache.py), then again in a second child that finds both
caches (cached), and in that child evaluates
synthetic batches of realistic rows (exec, open, connect, ... with real
process names and paths), in two event-type mixes (MIXES below).  Prints the figures and writes
perf/results/bench_rules.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RULES = ROOT.parent / "shared" / "rulesets" / "falco-rules-5.0.0" / "falco_rules.yaml"

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
    import numpy as np
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
            times = []
            matches = 0
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                m = eng.evaluate(B, P, C)
                times.append(time.perf_counter() - t0)
                matches = len(m)
            kernel = eng.compile().kernel
            ro = np.empty(args.rows, np.int64)
            ru = np.empty(args.rows, np.int64)
            ktimes = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                kernel(B, P, C, ro, ru)
                ktimes.append(time.perf_counter() - t0)
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
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--evaluate", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(child(args)))
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
