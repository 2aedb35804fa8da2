"""Engine.evaluate(..., shard=(shard_of_row, w)): a pipeline worker evaluates only
its rows, with every rule, and the workers' matches together are exactly those
of evaluating the whole batch (docs/CONTRACTS.md, "The pipeline (issue 5)")."""
import random

import numpy as np
import pytest

import standin
from sensor.compile.reference import run as reference_run
from sensor.engine import Engine
from sensor.events.builder import Builder

# typed rules on several event-type lists (execve; open/openat; openat/connect),
# untyped rules (no evt.type), exceptions, and rules overlapping on the same rows
RULES = """
- list: shell_binaries
  items: [bash, sh]
- macro: spawned_process
  condition: evt.type = execve and evt.dir = <
- rule: Shell spawned
  desc: a shell was started
  condition: spawned_process and proc.name in (shell_binaries)
  output: shell %proc.name
  priority: WARNING
  exceptions:
    - name: from_sshd
      fields: proc.pname
      values: [sshd]
- rule: Any exec
  desc: every exec
  condition: spawned_process
  output: exec %proc.name
  priority: DEBUG
- rule: Read etc
  desc: a file under /etc opened
  condition: evt.type in (open, openat) and fd.name startswith /etc
  output: read %fd.name
  priority: ERROR
  exceptions:
    - name: cat_passwd
      fields: [proc.name, fd.name]
      comps: [=, =]
      values:
        - [cat, /etc/passwd]
- rule: Open or connect
  desc: opens and connects by anyone but init
  condition: evt.type in (openat, connect) and proc.name != init
  output: oc %proc.name
  priority: NOTICE
- rule: Netcat anything
  desc: any event of nc
  condition: proc.name = nc
  output: nc %evt.type
  priority: WARNING
  tags: [untyped]
- rule: Shell anything
  desc: any event of a shell, except under sshd
  condition: proc.name in (shell_binaries)
  output: shell event %evt.type
  priority: NOTICE
  tags: [untyped]
  exceptions:
    - name: from_sshd
      fields: proc.pname
      values: [sshd]
"""

TYPES = ["execve", "openat", "open", "connect", "close", "read"]
FILES = ["/etc/passwd", "/etc/shadow", "/tmp/x", "/var/log/syslog", None]


def batch(nrows=400, seed=7):
    rng = random.Random(seed)
    b = Builder()
    init = b.add_proc(pid=1, comm="init", exe="/sbin/init")
    sshd = b.add_proc(pid=5, comm="sshd", exe="/usr/sbin/sshd", parent=init)
    procs = [init, sshd]
    for pid, comm in enumerate(["bash", "sh", "cat", "nc", "python"], start=10):
        for parent in (init, sshd):
            procs.append(b.add_proc(pid=pid + 10 * parent, comm=comm, exe=f"/bin/{comm}",
                                    parent=parent))
    for _ in range(nrows):
        t = rng.choice(TYPES)
        slot = rng.choice(procs)
        name = rng.choice(FILES)
        if t in ("openat", "open", "close", "read") and name is not None:
            b.add_event(t, slot=slot, fd=3, fd_type="f", fd_name=name)
        else:
            b.add_event(t, slot=slot)
    return b.build()


@pytest.fixture(scope="module")
def rows():
    return batch()


@pytest.fixture(scope="module", params=["first", "all"])
def engine(request, tmp_path_factory):
    standin.use_test_cache(tmp_path_factory)
    eng = Engine(rule_matching=request.param)
    eng.load_rules(RULES, "shards.yaml")
    return eng


def merged(eng, B, P, C, of_row, workers):
    """The workers' matches together, merged by row (stable: rule order kept)."""
    pairs = []
    for w in workers:
        m = eng.evaluate(B, P, C, shard=(of_row, w))
        assert np.all(np.diff(m.rows) >= 0)
        assert np.all(of_row[m.rows] == w)
        pairs += m.pairs()
    pairs.sort(key=lambda p: p[0])
    return pairs


def test_rows_exercise_every_rule(engine, rows):
    B, P, C = rows
    whole = engine.evaluate(B, P, C).pairs()
    assert whole == reference_run(engine.rules, B, P, C, engine.rule_matching)
    assert {r for _, r in whole} == {r.id for r in engine.rules}
    per_row = np.bincount([row for row, _ in whole])
    if engine.rule_matching == "all":
        assert per_row.max() >= 3          # overlapping rules, typed and untyped


@pytest.mark.parametrize("k", [1, 2, 3, 8])
def test_union_of_shards_is_the_whole(engine, rows, k):
    B, P, C = rows
    n = int(B.n[0])
    whole = engine.evaluate(B, P, C).pairs()
    rng = np.random.default_rng(k)
    for trial in range(3):
        # one entry per row at least: a shared pool's array may be longer than the batch
        of_row = rng.integers(0, k, n + 5 * trial).astype(np.int8)
        assert merged(engine, B, P, C, of_row, range(k)) == whole
    # by event type, a hot type split over two shards by row
    types = np.asarray(B.type[:n]).astype(np.int64)
    of_row = (types % k).astype(np.int8)
    hot = np.flatnonzero(types == types[0])
    of_row[hot[::2]] = (k - 1) if k > 1 else 0
    assert merged(engine, B, P, C, of_row, range(k)) == whole


def test_unassigned_rows_are_evaluated_by_none(engine, rows):
    B, P, C = rows
    n = int(B.n[0])
    whole = engine.evaluate(B, P, C).pairs()
    rng = np.random.default_rng(99)
    of_row = rng.integers(-1, 3, n).astype(np.int8)        # -1: no worker
    want = [p for p in whole if of_row[p[0]] != -1]
    assert len(want) < len(whole)
    assert merged(engine, B, P, C, of_row, range(3)) == want
    assert engine.evaluate(B, P, C, shard=(np.full(n, -1, np.int8), 0)).pairs() == []
    assert engine.evaluate(B, P, C, shard=(np.zeros(n, np.int8), 0)).pairs() == whole


def test_shard_none_is_unchanged_and_stats_count_own_rows(engine, rows):
    B, P, C = rows
    n = int(B.n[0])
    whole = engine.evaluate(B, P, C).pairs()
    assert engine.evaluate(B, P, C, shard=None).pairs() == whole
    of_row = (np.arange(n) % 2).astype(np.int8)
    engine.reset_stats()
    engine.evaluate(B, P, C, shard=(of_row, 1))
    assert engine.stats()["events"] == n // 2
    with pytest.raises(ValueError):
        engine.evaluate(B, P, C, shard=(of_row[:n - 1], 0))


@pytest.mark.parametrize("keep", ["typed", "untyped"])
def test_only_typed_or_only_untyped_rules(rows, keep, tmp_path_factory):
    """The entry's two other shapes: no kernels of untyped rules, or only those."""
    standin.use_test_cache(tmp_path_factory)
    B, P, C = rows
    n = int(B.n[0])
    for mode in ("first", "all"):
        eng = Engine(rule_matching=mode)
        eng.load_rules(RULES, "shards.yaml")
        if keep == "typed":
            eng.enable_rules(tag="untyped", enabled=False)
        else:
            eng.enable_rules(enabled=False)
            eng.enable_rules(tag="untyped", enabled=True)
        whole = eng.evaluate(B, P, C).pairs()
        assert whole
        of_row = np.random.default_rng(3).integers(-1, 3, n).astype(np.int8)
        want = [p for p in whole if of_row[p[0]] != -1]
        assert merged(eng, B, P, C, of_row, range(3)) == want
