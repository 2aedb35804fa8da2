"""Generated modules on disk, named by content hash, so numba can cache them.

numba's `cache=True` does not work for code made by exec(), and loading a
cached function fails when its module is not in sys.modules.  So the
generated source is written to <cache dir>/sensor_rules_<sha256 prefix>.py,
registered in sys.modules under that name, and imported from the file.  numba
keeps its cache (__pycache__/*.nbi, *.nbc) next to the file; a second process
that generates the same source finds the compiled code there.

Cache dir: $SENSOR_CACHE_DIR, else $XDG_CACHE_HOME/sensor, else ~/.cache/sensor.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

PREFIX = "sensor_rules_"


def cache_dir() -> Path:
    env = os.environ.get("SENSOR_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sensor"


def module_name(source: str) -> str:
    return PREFIX + hashlib.sha256(source.encode("utf-8")).hexdigest()[:24]


def load(source: str):
    """Import `source` as a module named by its hash (reused if already imported)."""
    name = module_name(source)
    mod = sys.modules.get(name)
    if mod is not None:
        return mod
    d = cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{name}.py"
    if not path.exists() or path.read_text("utf-8") != source:
        # write then rename: a concurrent reader never sees half a file, and an
        # unchanged file keeps its mtime (numba's cache key) across processes
        fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod
