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
    first, last = None, None
    for item in open_scap(src).batches():
        if isinstance(item, Snapshot) or not item.n[0]:
            continue
        ts = item.ts[:int(item.n[0])]
        ts = ts[ts > 0]                    # some meta events carry no time
        if not ts.size:
            continue
        first = int(ts.min()) if first is None else min(first, int(ts.min()))
        last = int(ts.max()) if last is None else max(last, int(ts.max()))
    if first is None:
        raise SystemExit(f"{src}: no events to replicate")
    span = last - first + 1000
    reader = open_scap(src)
    written = 0
    with ScapWriter(dst, reader.snapshot, compress=compress) as w:
        for k in range(copies):
            for item in open_scap(src).batches():
                if isinstance(item, Snapshot):
                    continue
                n = int(item.n[0])
                ts = item.ts[:n]
                ts[ts > 0] += np.uint64(span * k)
                w.write_rows(item)
                written += n
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
