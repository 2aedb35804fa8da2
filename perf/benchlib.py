"""What the benchmarks share: the machine they ran on, and the tracing links
other processes hold (their syscall tracepoints would slow our baselines and
capture our load generators)."""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

TRACING_LINKS = {"perf_event", "tracing", "raw_tracepoint", "kprobe_multi", "uprobe_multi"}


def machine() -> dict:
    """CPU, memory, kernel, clock source, CPU-bug mitigations, Python and numba."""
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) // (1024 * 1024)
    cs = Path("/sys/devices/system/clocksource/clocksource0/current_clocksource")
    vuln = Path("/sys/devices/system/cpu/vulnerabilities")
    mitigations = {name: (vuln / name).read_text().strip()
                   for name in ("spectre_v2", "spec_rstack_overflow", "retbleed")
                   if (vuln / name).exists()}
    try:
        import numba
        nb = numba.__version__
    except ImportError:
        nb = "?"
    return {"node": platform.node(), "nproc": os.cpu_count(), "cpu_model": model,
            "mem_gib": mem, "kernel": platform.release(),
            "clocksource": cs.read_text().strip() if cs.exists() else "?",
            "mitigations": mitigations, "python": platform.python_version(), "numba": nb}


def tracing_links(exclude=frozenset()):
    """Tracing links attached by anyone (programs in `exclude` aside); None without
    bpftool or when its output cannot be read."""
    bpftool = shutil.which("bpftool")
    if not bpftool:
        return None
    res = subprocess.run([bpftool, "-j", "link", "show"], capture_output=True, text=True)
    try:
        links = json.loads(res.stdout or "[]")
    except ValueError:
        return None
    return sum(1 for link in links
               if link.get("type") in TRACING_LINKS and link.get("prog_id") not in exclude)
