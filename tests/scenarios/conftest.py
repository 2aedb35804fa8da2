"""The live scenario suite's sensors: one per ruleset for the whole session.

`ruleset_sensor` is parametrized over the rulesets ("sensor": the default
rules in rules/, "falco": Falco's stable rules loaded unchanged), session
scoped, so pytest runs every test of one ruleset (all modules) against one
running sensor, stops it, then starts the next.  The sensor is a child
process with --json (tests/test_live_run.py's Sensor).  With
SENSOR_SCENARIO_DUMP=DIR every alert a sensor saw is written to
DIR/alerts-<ruleset>.jsonl when it stops.
"""
from __future__ import annotations

import json
import os

import pytest
import yaml

from live_harness import live_ready
from scenario_lib import EXTRA_FIELDS, FALCO_STABLE, OUR_RULES
from test_live_run import Sensor

RULES = {"sensor": OUR_RULES, "falco": FALCO_STABLE}


@pytest.fixture(scope="session")
def podman_socket(request):
    """podman's Docker-compatible API on a socket of its own for the session, so
    the sensors name containers (container.name, image); None when no
    container scenario is selected or podman cannot run here."""
    if not any("test_scenarios_containers" in item.nodeid for item in request.session.items):
        return None
    try:
        import podman_env
    except ImportError:
        return None
    if podman_env.podman_ready():
        return None
    service = podman_env.PodmanService(f"/run/sensortest-scenarios-{os.getpid()}.sock")
    path = service.__enter__()
    request.addfinalizer(lambda: service.__exit__(None, None, None))
    return path


@pytest.fixture(scope="session", params=["sensor", "falco"])
def ruleset_sensor(request, tmp_path_factory, podman_socket):
    why = live_ready()
    if why:
        pytest.skip(why)
    name = request.param
    if not RULES[name].exists():
        pytest.skip(f"{RULES[name]} is missing (../shared is not here)")
    cfg = tmp_path_factory.mktemp("sensor-config") / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump({"append_output": [{"extra_fields": EXTRA_FIELDS[name]}]}))
    engines = [] if podman_socket is None else [
        "-o", f"container_engines.podman.socket={podman_socket}",
        "-o", "container_engines.docker.enabled=false"]
    s = Sensor("-r", str(RULES[name]), "-c", str(cfg), "--json", *engines)
    s.ruleset = name
    yield s
    code = s.stop()
    dump = os.environ.get("SENSOR_SCENARIO_DUMP")      # a directory: every alert, for review
    if dump:
        while not s.alerts.empty():
            s.seen.append(s.alerts.get())
        with open(os.path.join(dump, f"alerts-{name}.jsonl"), "w") as out:
            out.writelines(json.dumps(a) + "\n" for a in s.seen)
    assert code == 0, "".join(s.err)
