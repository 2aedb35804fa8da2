"""Generated modules on disk, named by content hash, so numba can cache them.

numba's `cache=True` does not work for code made by exec(), and loading a
cached function fails when its module is not in sys.modules.  So the
generated source is written to <cache dir>/sensor_rules_<sha256 prefix>.py,
registered in sys.modules under that name, and imported from the file.  numba
keeps its cache (__pycache__/*.nbi, *.nbc) next to the file; a second process
that generates the same source finds the compiled code there.

Cache dir: $SENSOR_CACHE_DIR, else $XDG_CACHE_HOME/sensor, else ~/.cache/sensor.

Compiling on several cores: numba compiles one function at a time, on one
core.  A generated module's entry calls `compile_kernels` before its first
run: the kernels numba's cache does not hold yet are compiled by a pool of
worker processes (fresh interpreters, one per usable core; not
multiprocessing, which would run the caller's main script again in each),
each loading the module from its file and compiling kernels, one at a time as
they finish, for the argument types of the first batch, which fills numba's
cache; the calling process then loads them from there.
Measured on falco-0.31.1 (this 2-core VM): see perf/RESULTS.md.
$SENSOR_COMPILE_WORKERS sets the number of workers (0 or 1: compile in the
calling process).  Anything failing in the pool just leaves the kernels to the
calling process, which compiles them itself (and so raises any error).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import select
import subprocess
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
    return _import(name, path)


def _import(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod


# ---------------------------------------------------------------- compiling in parallel

PARALLEL_MIN_SIZE = 150     # less code than this (codegen's size) compiles in a few s


def compile_kernels(module: str, kernels, sizes, args) -> None:
    """Compile the kernels of generated module `module` for `args` (one argument
    tuple per kernel), those numba's cache lacks on several cores when that
    pays (see the module docstring); sizes: codegen's size of each kernel."""
    import numba
    sigs = [tuple(numba.typeof(a) for a in a_args) for a_args in args]
    todo = [u for u, (k, sig) in enumerate(zip(kernels, sigs)) if not _in_numba_cache(k, sig)]
    workers = min(_workers(), len(todo))
    if workers > 1 and sum(sizes[u] for u in todo) >= PARALLEL_MIN_SIZE:
        todo.sort(key=lambda u: -sizes[u])             # largest first: a fair finish
        _compile_in_pool(sys.modules[module].__file__, module,
                         [(u, pickle.dumps(sigs[u])) for u in todo], workers)
    for k, sig in zip(kernels, sigs):
        k.compile(sig)                                 # from numba's cache, or here


def _workers() -> int:
    env = os.environ.get("SENSOR_COMPILE_WORKERS", "").strip()
    if env.isdigit():
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _in_numba_cache(dispatcher, sig) -> bool:
    """Does numba's disk cache hold `dispatcher` compiled for `sig`?  Reads the
    cache index as numba's Cache.load_overload would (numba internals, so any
    surprise answers False: the pool then finds it cached and does nothing)."""
    try:
        cache = dispatcher._cache
        key = cache._index_key(sig, dispatcher.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except Exception:
        return False


def _compile_in_pool(path: str, module: str, jobs, workers: int) -> None:
    """Run `jobs` [(kernel index, pickled signature)] on `workers` processes, the
    next job to whichever finishes first."""
    setup = json.dumps({"path": path, "module": module, "sys_path": sys.path})
    procs, finished = [], False
    try:
        for _ in range(workers):
            proc = subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    text=True)
            procs.append(proc)
            proc.stdin.write(setup + "\n")
        _dispatch(procs, list(jobs))
        finished = True
    except (OSError, ValueError):
        pass                    # the caller compiles what is missing
    finally:
        for proc in procs:
            if not finished:    # a broken pipe, or the caller interrupted
                proc.kill()
            try:
                proc.stdin.close()
            except OSError:
                pass
            proc.wait()


def _dispatch(procs, jobs) -> None:
    idle, busy = list(procs), {}
    while jobs or busy:
        while jobs and idle:
            proc = idle.pop()
            index, sig = jobs.pop(0)
            proc.stdin.write(f"{index} {sig.hex()}\n")
            proc.stdin.flush()
            busy[proc.stdout] = proc
        if not busy:            # every worker died: leave the rest to the caller
            return
        for out in select.select(list(busy), [], [])[0]:
            proc = busy.pop(out)
            if out.readline():  # one line per job done; nothing: it died
                idle.append(proc)


# A worker: the first line of its input says which module and sys.path; each
# next line is a job "<kernel index> <pickled signature, hex>", answered by a
# line when done (compiled, or failed: the caller then compiles it itself).
_WORKER = """
import json, sys
setup = json.loads(sys.stdin.readline())
sys.path[:] = setup["sys_path"]
from sensor.compile.modcache import _worker
_worker(setup["path"], setup["module"])
"""


def _worker(path: str, module: str) -> None:
    # loaded under its own name: its column view classes are named after it,
    # and so are the types in the signatures
    mod = _import(module, Path(path))
    for line in sys.stdin:
        index, sig = line.split()
        try:
            mod._KERNELS[int(index)].compile(pickle.loads(bytes.fromhex(sig)))
        except Exception:
            pass
        print(index, flush=True)
