"""Make a big trace from a small one: its events repeated, times shifted.

    .venv/bin/python perf/replicate.py IN.scap OUT.scap --copies N

The header (machine, processes, fds, users) is written once, then the events
N times; copy k has every timestamp moved by k times the trace's span (plus
one microsecond), so time keeps increasing.  Thread ids stay the same: each
copy replays the same processes, as a host repeating a workload would.  Uses
the sensor's own reader and writer, so `sysdig -r OUT.scap` checks both.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def replicate(src: str, dst: str, copies: int, compress: bool = False) -> int:
    from sensor.capture.model import Snapshot
    from sensor.capture.scap_reader import open_scap
    from sensor.capture.scap_writer import ScapWriter
    reader = open_scap(src)
    batches = [b for b in reader.batches() if not isinstance(b, Snapshot) and b.n[0]]
    # times of each batch's timed rows (some meta events carry none), read once
    timed = [(b, b.ts[:int(b.n[0])] > 0) for b in batches]
    original = [b.ts[:int(b.n[0])][m].copy() for b, m in timed]
    stamps = np.concatenate(original) if original else np.zeros(0, np.uint64)
    if not stamps.size:
        raise SystemExit(f"{src}: no events to replicate")
    span = int(stamps.max()) - int(stamps.min()) + 1000
    written = 0
    with ScapWriter(dst, reader.snapshot, compress=compress) as w:
        for k in range(copies):
            for (b, m), ts in zip(timed, original):
                b.ts[:int(b.n[0])][m] = ts + np.uint64(span * k)
                w.write_rows(b)
                written += int(b.n[0])
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--copies", type=int, default=100)
    ap.add_argument("--gzip", action="store_true")
    a = ap.parse_args()
    n = replicate(a.src, a.dst, a.copies, a.gzip)
    print(f"{a.dst}: {n} events ({a.copies} copies of {a.src})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
