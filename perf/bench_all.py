"""`make bench`: the whole benchmarking suite in one command, within 15 minutes on a
2-vCPU machine.

    .venv/bin/python perf/bench_all.py [--only kernel,replay,...] [--skip live]

Runs the benchmarks below one after the other (each as its own process, with the
options that keep it inside its share of the budget), then gathers their JSON
results into perf/results/<date>.json and perf/results/latest.json, draws
perf/results/summary.png, and rewrites the generated table in perf/RESULTS.md and
the headline figures in README.md (between their `bench:` markers).

Every figure with a baseline is a ratio measured in the same run (each bench
alternates baseline and contender); each figure carries how it was measured, and
one that could not be measured here carries why instead of a number.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "perf"))
from benchlib import machine  # noqa: E402

RESULTS = ROOT / "perf" / "results"
PY = sys.executable
SHARED = ROOT.parent / "shared"

# name, command (after the interpreter), time limit in seconds
STEPS = [
    ("kernel", ["perf/bench_kernel.py", "--rounds", "3", "--n-getppid", "1000000",
                "--n-pairs", "150000", "--n-close", "1000000", "--quiet-timeout", "30"], 180),
    # 800 copies (17.9 M events), as in issue 5's runs: fewer would let start-up weigh in.
    ("replay", ["perf/bench_pipeline.py", "--copies", "800", "--rounds", "1",
                "--workers", "1,2,4,8", "--trivial", "", "--quiet-wait", "30"], 300),
    ("live_capacity", ["perf/bench_pipeline.py", "--no-replay", "--live",
                       "--live-workers", "1,2,8", "--live-start", "400000",
                       "--live-steps", "0", "--quiet-wait", "30"], 330),
    # Cold caches (a machine where the rules were never compiled) take ~330 s here.
    ("rules", ["perf/bench_rules.py", "--sizes", "10,50,100,200"], 420),
    ("outputs", ["perf/bench_outputs.py", "--rounds", "2", "--flood-rounds", "1",
                 "--replay-rounds", "1"], 150),
    ("live", ["perf/bench_live.py"], 300),
]
JSON_OF = {"kernel": "bench_kernel.json", "replay": "bench_pipeline.json",
           "live_capacity": "bench_pipeline.json", "rules": "bench_rules.json",
           "outputs": "bench_outputs.json", "live": "bench_live.json"}


def run_step(name: str, argv: list, limit: float, log) -> dict:
    """Run one bench; its exit status, time and the tail of its output."""
    t0 = time.monotonic()
    print(f"== {name}: {' '.join(argv)}", flush=True)
    try:
        p = subprocess.run([PY] + argv, cwd=ROOT, capture_output=True, text=True,
                           timeout=limit)
        out, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out = ((e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes)
               else (e.stdout or ""))
        out, rc = out + f"\n(stopped after its {limit:.0f} s limit)", -1
    seconds = time.monotonic() - t0
    log.write(f"\n===== {name} ({seconds:.0f} s, rc {rc})\n{out}")
    print(f"   {seconds:.0f} s, exit {rc}", flush=True)
    return {"command": " ".join([".venv/bin/python"] + argv), "seconds": round(seconds, 1),
            "rc": rc, "tail": out.strip().splitlines()[-3:]}


def load(name: str):
    path = RESULTS / JSON_OF[name]
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def unmeasured(step: dict, what: str) -> str:
    if step is None:
        return f"not run ({what} skipped by the command line)"
    if step["rc"] == 0:
        return f"not measured: {what} gave no such figure"
    return f"not measured: {what} exited {step['rc']}: {' / '.join(step['tail'])}"


# ------------------------------------------------------------------ the figures

def kernel_figures(k: dict, step) -> dict:
    if not k or step is None or step["rc"] != 0:
        why = unmeasured(step, "bench_kernel.py")
        return {"kernel_ns_uncaptured": why, "kernel_ns_captured": why}
    how = (f"perf/bench_kernel.py, C loop per syscall, probes for the default rules "
           f"detached (baseline) and attached, alternating, best of {k['settings']['rounds']}")
    walls = k["configs_wall"]
    out = {"kernel_ns_uncaptured": {
        "ns": round(walls["getppid"]["best"]["diff"], 1),
        "baseline_ns": walls["getppid"]["best"]["baseline"],
        "ratio": round(walls["getppid"]["best"]["ratio"], 3),
        "how": how + "; getppid, which no probe watches"}}
    cap = {"ns": round(k["figures_best_ns"]["b_per_captured_call"], 1),
           "ratio": round(walls["openclose"]["best"]["ratio"], 3),
           "how": how + "; openat+close of a file, ns added per call (half a pair)"}
    for name in ("connect", "execve"):
        if name in walls:
            cap[f"{name}_ns"] = round(walls[name]["best"]["diff"], 1)
            cap[f"{name}_ratio"] = round(walls[name]["best"]["ratio"], 3)
    out["kernel_ns_captured"] = cap
    return out


def replay_figures(p: dict, step) -> dict:
    r = (p or {}).get("replay")
    if not r or step is None or step["rc"] != 0:
        why = unmeasured(step, "bench_pipeline.py (replay)")
        return {"replay_events_per_s": why, "sysdig_replay_events_per_s": why}
    best = r["best"]
    how = (f"perf/bench_pipeline.py: `sensor replay` of {r['trace']} ({r['events']} events) "
           f"with {Path(r['rules']).parent.name} rules, whole command, same run as sysdig")
    by_w = {k[len("sensor-w"):]: round(v["events_per_s_wall"]) for k, v in best.items()
            if k.startswith("sensor-w")}
    ratio = {w: round(v["vs_sysdig_wall"], 2) for w, v in
             ((k[len("sensor-w"):], v) for k, v in best.items() if k.startswith("sensor-w"))
             if "vs_sysdig_wall" in v}
    out = {"replay_events_per_s": {"by_workers": by_w, "vs_sysdig": ratio, "how": how}}
    out["sysdig_replay_events_per_s"] = (
        {"events_per_s": round(best["sysdig"]["events_per_s_wall"]),
         "how": f"`sysdig -r TRACE > /dev/null` ({r.get('sysdig', '?')}), same trace, same run"}
        if "sysdig" in best else "not measured: sysdig is not installed")
    return out


def live_capacity_figures(p: dict, step) -> dict:
    live = (p or {}).get("live") or {}
    if "by_workers" not in live or step is None or step["rc"] != 0:
        return {"live_zero_drop_rate": live.get("skipped") or
                unmeasured(step, "bench_pipeline.py --live")}
    return {"live_zero_drop_rate": {
        "by_workers": {w: {"events_per_s": v["max_rate_no_drops"],
                           "generator_bound": v["generator_bound"]}
                       for w, v in live["by_workers"].items()},
        "how": (f"perf/bench_pipeline.py --live: perf/loadgen/rate.c openat+close at an "
                f"offered rate for {live['duration_s']:.0f} s per trial, doubling until "
                "drops; generator_bound: the generators could not offer more on this "
                "machine, so the figure is a lower bound")}}


def rules_figures(r: dict, step) -> dict:
    sizes = (r or {}).get("sizes")
    if not sizes or step is None or step["rc"] != 0:
        return {"rule_eval_events_per_s": unmeasured(step, "bench_rules.py --sizes")}
    return {"rule_eval_events_per_s": {
        "by_rules": {str(n): v["events_per_s"] for n, v in sizes.items()},
        "how": r.get("sizes_how", "perf/bench_rules.py --sizes: one core (one worker)")}}


def live_figures(b: dict, step) -> dict:
    keys = ("alert_latency_p99_ms", "rss_total_mb", "start_cold_s", "start_warm_s")
    if not b or step is None or step["rc"] != 0:
        why = unmeasured(step, "bench_live.py")
        return {k: why for k in keys}
    return {k: b.get(k, "not measured: bench_live.py gave no figure") for k in keys}


def outputs_figures(o: dict, step) -> dict:
    if not o or step is None or step["rc"] != 0:
        return {"outputs_alerts_per_s": unmeasured(step, "bench_outputs.py")}
    emit, dedup = o["emit"]["best"], o["dedup"]["best"]
    return {"outputs_alerts_per_s": {
        "text_file": round(emit["file-text"]["alerts_per_s_wall"]),
        "json_file": round(emit["file-json"]["alerts_per_s_wall"]),
        "dedup_flood_matches_per_s": round(dedup["dedup"]["per_s_wall"]),
        "no_dedup_flood_matches_per_s": round(dedup["no-dedup"]["per_s_wall"]),
        "how": "perf/bench_outputs.py: Outputs to a file sink on one core, dedup off; the "
               "flood: 1M identical matches, dedup on and off"}}


# ------------------------------------------------------------------ reports

def plot(latest: dict, path: Path) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return f"skipped: matplotlib is not importable ({e})"
    fig, ax = plt.subplots(2, 2, figsize=(11, 7.5))
    k_u, k_c = latest["kernel_ns_uncaptured"], latest["kernel_ns_captured"]
    if isinstance(k_u, dict) and isinstance(k_c, dict):
        names = ["uncaptured\n(getppid)", "captured\n(openat, close)"]
        vals = [k_u["ns"], k_c["ns"]]
        for extra in ("connect", "execve"):
            if f"{extra}_ns" in k_c:
                names.append(f"captured\n({extra})")
                vals.append(k_c[f"{extra}_ns"])
        ax[0][0].bar(names, vals, color="tab:blue")
        ax[0][0].set_ylabel("ns added per syscall")
        ax[0][0].set_yscale("log")
    ax[0][0].set_title("kernel overhead", fontsize=9)
    rep, sd = latest["replay_events_per_s"], latest["sysdig_replay_events_per_s"]
    if isinstance(rep, dict):
        ws = sorted(rep["by_workers"], key=int)
        ax[0][1].plot(ws, [rep["by_workers"][w] / 1e6 for w in ws], "o-", label="sensor replay")
        if isinstance(sd, dict):
            ax[0][1].axhline(sd["events_per_s"] / 1e6, color="red", label="sysdig -r")
        ax[0][1].set_xlabel("--workers")
        ax[0][1].set_ylabel("M events/s")
        ax[0][1].set_ylim(bottom=0)
        ax[0][1].legend(fontsize=8)
    ax[0][1].set_title("replay", fontsize=9)
    cap = latest["live_zero_drop_rate"]
    if isinstance(cap, dict):
        ws = sorted(cap["by_workers"], key=int)
        ax[1][0].bar(ws, [cap["by_workers"][w]["events_per_s"] / 1e3 for w in ws],
                     color="tab:green")
        ax[1][0].set_xlabel("--workers")
        ax[1][0].set_ylabel("k events/s, zero drops")
    ax[1][0].set_title("live capacity (lower bound when generator-bound)", fontsize=9)
    ev = latest["rule_eval_events_per_s"]
    if isinstance(ev, dict):
        ns = sorted(ev["by_rules"], key=int)
        ax[1][1].plot(ns, [ev["by_rules"][n] / 1e6 for n in ns], "o-", color="tab:purple")
        ax[1][1].set_xlabel("rules loaded")
        ax[1][1].set_ylabel("M events/s, one core")
        ax[1][1].set_ylim(bottom=0)
    ax[1][1].set_title("rule evaluation", fontsize=9)
    fig.suptitle(f"sensor benchmarks, {latest['date']}, {latest['machine']['nproc']} vCPUs "
                 f"{latest['machine']['cpu_model']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path.relative_to(ROOT))


def _fmt(v, unit: str = "") -> str:
    if isinstance(v, str):
        return v if len(v) < 140 else v[:137] + "..."
    if isinstance(v, float):
        v = round(v, 2)
    return f"{v:,}{unit}" if isinstance(v, (int, float)) else str(v)


def table(latest: dict) -> str:
    rows = []
    k = latest["kernel_ns_uncaptured"]
    rows.append(("ns added per uncaptured syscall (getppid)",
                 _fmt(k) if isinstance(k, str) else f"+{k['ns']} ns ({k['ratio']}x)"))
    k = latest["kernel_ns_captured"]
    if isinstance(k, str):
        rows.append(("ns added per captured syscall", _fmt(k)))
    else:
        rows.append(("ns added per captured syscall (openat, close)",
                     f"+{k['ns']} ns ({k['ratio']}x)"))
        for name in ("connect", "execve"):
            if f"{name}_ns" in k:
                rows.append((f"ns added per {name}",
                             f"+{k[name + '_ns']} ns ({k[name + '_ratio']}x)"))
    r, s = latest["replay_events_per_s"], latest["sysdig_replay_events_per_s"]
    if isinstance(r, str):
        rows.append(("replay events/s", _fmt(r)))
    else:
        for w in sorted(r["by_workers"], key=int):
            rows.append((f"replay events/s, --workers {w}",
                         f"{r['by_workers'][w]:,} ({r['vs_sysdig'].get(w, '?')}x sysdig -r)"))
    rows.append(("sysdig -r events/s, same trace", _fmt(s) if isinstance(s, str)
                 else f"{s['events_per_s']:,}"))
    c = latest["live_zero_drop_rate"]
    if isinstance(c, str):
        rows.append(("live events/s with zero drops over 30 s", _fmt(c)))
    else:
        for w in sorted(c["by_workers"], key=int):
            v = c["by_workers"][w]
            rows.append((f"live events/s with zero drops over 30 s, --workers {w}",
                         f"{v['events_per_s']:,}" + (" (at least: generator limit)"
                                                     if v["generator_bound"] else "")))
    e = latest["rule_eval_events_per_s"]
    if isinstance(e, str):
        rows.append(("rule evaluation events/s per worker", _fmt(e)))
    else:
        for n in sorted(e["by_rules"], key=int):
            rows.append((f"rule evaluation events/s per worker, {n} rules",
                         f"{round(e['by_rules'][n]):,}"))
    lat = latest["alert_latency_p99_ms"]
    rows.append(("alert latency p99 at 100k events/s (syscall to alert read)",
                 _fmt(lat) if isinstance(lat, str) else
                 f"{lat['p99_ms']} ms (p50 {lat['p50_ms']} ms; {lat['arrived']} of "
                 f"{lat['markers']} markers)"))
    rss = latest["rss_total_mb"]
    rows.append(("memory of all sensor processes (PSS; RSS)", _fmt(rss) if isinstance(rss, str)
                 else ", ".join(f"--workers {w[len('workers_'):]}: {v['pss_mb']} MB; "
                                f"{v['rss_mb']} MB" for w, v in rss.items()
                                if w.startswith("workers_"))))
    for key, label in (("start_cold_s", "start, cold caches (launch to ready)"),
                       ("start_warm_s", "start, warm caches (launch to ready)")):
        v = latest[key]
        rows.append((label, _fmt(v) if isinstance(v, str) else ", ".join(
            f"{name.replace('_', ' ')}: {x} s" for name, x in v.items()
            if isinstance(x, (int, float)))))
    o = latest["outputs_alerts_per_s"]
    if isinstance(o, dict):
        rows.append(("alerts emitted/s per core (text, JSON)",
                     f"{o['text_file']:,}, {o['json_file']:,}"))
        rows.append(("dedup flood matches/s (on, off)",
                     f"{o['dedup_flood_matches_per_s']:,}, {o['no_dedup_flood_matches_per_s']:,}"))
    lines = ["| figure | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines)


def replace_between(path: Path, start: str, end: str, text: str) -> None:
    body = path.read_text()
    if start in body and end in body:
        head, rest = body.split(start, 1)
        _, tail = rest.split(end, 1)
        body = f"{head}{start}\n{text}\n{end}{tail}"
    else:
        body = body.rstrip("\n") + f"\n\n{start}\n{text}\n{end}\n"
    path.write_text(body)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="comma-separated steps to run (default: all)")
    ap.add_argument("--skip", default="", help="comma-separated steps to leave out")
    ap.add_argument("--no-run", action="store_true",
                    help="run nothing: gather the JSON results already in perf/results/")
    a = ap.parse_args()
    only = {x for x in a.only.split(",") if x}
    skip = {x for x in a.skip.split(",") if x}
    RESULTS.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    steps = {}
    with open(RESULTS / "bench_all.log", "w") as log:
        for name, argv, limit in STEPS:
            if (only and name not in only) or name in skip:
                continue
            steps[name] = ({"command": " ".join(argv), "seconds": 0, "rc": 0, "tail": []}
                           if a.no_run else run_step(name, argv, limit, log))
    date = time.strftime("%Y-%m-%d")
    latest = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(),
              "command": "make bench (.venv/bin/python perf/bench_all.py"
                         + (f" {' '.join(sys.argv[1:])}" if sys.argv[1:] else "") + ")",
              "seconds": round(time.monotonic() - t0), "steps": steps}
    latest.update(kernel_figures(load("kernel"), steps.get("kernel")))
    latest.update(replay_figures(load("replay"), steps.get("replay")))
    latest.update(live_capacity_figures(load("live_capacity"), steps.get("live_capacity")))
    latest.update(rules_figures(load("rules"), steps.get("rules")))
    latest.update(live_figures(load("live"), steps.get("live")))
    latest.update(outputs_figures(load("outputs"), steps.get("outputs")))
    latest["plot"] = plot(latest, RESULTS / "summary.png")
    text = json.dumps(latest, indent=2)
    (RESULTS / f"{date}.json").write_text(text)
    (RESULTS / "latest.json").write_text(text)
    tbl = table(latest)
    header = (f"Machine: {latest['machine']['nproc']} vCPUs {latest['machine']['cpu_model']}, "
              f"{latest['machine'].get('mem_gib', '?')} GiB, kernel "
              f"{latest['machine']['kernel']}; {latest['date']}; command: `make bench` "
              f"({latest['seconds']} s). Figures and how each was measured: "
              "perf/results/latest.json.\n\n")
    replace_between(ROOT / "perf" / "RESULTS.md", "<!-- bench:start -->", "<!-- bench:end -->",
                    header + tbl + "\n\n![summary](results/summary.png)")
    replace_between(ROOT / "README.md", "<!-- bench:start -->", "<!-- bench:end -->",
                    header + tbl + "\n\n![summary](perf/results/summary.png)")
    print(tbl)
    print(f"{latest['seconds']} s in all; wrote perf/results/{date}.json, latest.json, "
          f"{latest['plot']}; updated perf/RESULTS.md and README.md")
    bad = [n for n, s in steps.items() if s["rc"] != 0]
    if bad:
        print(f"steps that failed: {', '.join(bad)} (see perf/results/bench_all.log)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
