"""Replay benchmark: events/s of `sensor replay` against `sysdig -r`, same file, same run.

    .venv/bin/python perf/bench_replay.py [--copies 150] [--rules FILE] [--rounds 3]

Replicates ../shared/traces/502Error.scap (about 22k events) into a trace of
several million events (perf/replicate.py), then times, alternating rounds so
that noise hits every contender alike:

  sysdig-print    `sysdig -r TRACE > /dev/null` (parses, tracks state, prints every event)
  sysdig-filter   `sysdig -r TRACE evt.num=0` (parses and tracks state, prints nothing)
  sensor          `sensor replay TRACE -r RULES` (falco-0.31.1 rules; alerts to /dev/null)
  sensor-stages   in-process: decode only; decode + state; decode + state + rules

The sensor's rules are compiled once before timing (numba cache warm), as a
long-running sensor would have them.  Prints the figures and writes
perf/results/bench_replay.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
SOURCE = SHARED / "traces" / "502Error.scap"
DEFAULT_RULES = SHARED / "rulesets" / "falco-0.31.1" / "falco_rules.yaml"
RESULTS = ROOT / "perf" / "results"
SENSOR = [sys.executable, "-m", "sensor.cli"]


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   cwd=ROOT)
    return time.perf_counter() - t0


def count_events(trace: Path) -> int:
    from sensor.capture.model import Snapshot
    from sensor.capture.scap_reader import open_scap
    return sum(int(b.n[0]) for b in open_scap(str(trace)).batches()
               if not isinstance(b, Snapshot))


def stages(trace: Path, rules: Path) -> dict:
    """Seconds for decode only, decode + state, decode + state + rules (in-process)."""
    from sensor.capture.model import Snapshot
    from sensor.capture.scap_reader import open_scap
    from sensor.capture.state import StateEngine
    from sensor.engine import Engine
    from sensor.outputs.alert import AlertRenderer
    eng = Engine()
    eng.load_rules_file(str(rules))
    eng.compile()
    out = {}
    for name in ("decode", "state", "rules"):
        t0 = time.perf_counter()
        reader = open_scap(str(trace))
        state = StateEngine()
        state.seed(reader.snapshot)
        render = AlertRenderer()
        for item in reader.batches():
            if isinstance(item, Snapshot) or name == "decode":
                continue
            B = state.process(item)
            if name == "rules":
                render.alerts(eng.evaluate(B, state.P, state.C), B, state.P, state.C)
            state.release(state.end_batch())
        out[name] = time.perf_counter() - t0
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=150)
    ap.add_argument("--rules", default=str(DEFAULT_RULES))
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if not SOURCE.is_file():
        print(f"needs {SOURCE} (../shared)")
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    trace = RESULTS / f"502Error_x{a.copies}.scap"
    if not trace.is_file():
        from replicate import replicate
        replicate(str(SOURCE), str(trace), a.copies)
    events = count_events(trace)
    print(f"trace: {trace.name}, {events:,} events, {trace.stat().st_size / 1e6:.0f} MB")

    sensor_cmd = SENSOR + ["replay", str(trace), "-r", a.rules, "--no-progress"]
    subprocess.run(SENSOR + ["replay", str(SOURCE), "-r", a.rules, "--no-progress"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=ROOT)
    contenders = {"sensor": sensor_cmd}
    sysdig = shutil.which("sysdig")
    if sysdig:
        contenders["sysdig-print"] = [sysdig, "-r", str(trace)]
        contenders["sysdig-filter"] = [sysdig, "-r", str(trace), "evt.num=0"]
    best: dict[str, float] = {}
    for _ in range(a.rounds):
        for name, cmd in contenders.items():
            best[name] = min(best.get(name, float("inf")), timed(cmd))
    st = stages(trace, Path(a.rules))

    rates = {k: events / v for k, v in best.items()}
    rates.update({f"sensor-{k}": events / v for k, v in st.items()})
    for name, r in rates.items():
        print(f"{name:16} {r / 1e6:7.2f} M events/s")
    ratios = {}
    for base in ("sysdig-print", "sysdig-filter"):
        if base in rates:
            ratios[f"sensor/{base}"] = rates["sensor"] / rates[base]
            print(f"sensor / {base}: {ratios[f'sensor/{base}']:.2f}x")
    doc = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.node(),
           "cpus": os.cpu_count(), "trace": trace.name, "events": events,
           "rules": a.rules, "seconds_best_of": a.rounds, "events_per_s": rates,
           "ratios": ratios, "command": " ".join(sys.argv)}
    (RESULTS / "bench_replay.json").write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
