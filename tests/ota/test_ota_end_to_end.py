"""Signed OTA over real MQTT: Mosquitto with per-device passwords and ACLs, a coordinator with
the OTA service and its artifact server, an agent whose ModelTask gets the new model."""
from __future__ import annotations

import json
import os
import time
from typing import Any, NamedTuple
from urllib.parse import quote

import pytest

from cloud_sync.coordinator import Coordinator
from cloud_sync.ota.registry import ModelRegistry
from cloud_sync.ota.service import OtaService
from cloud_sync.security.credentials import CredentialStore
from edge_runtime.agent.runtime import Agent
from edge_runtime.ota.component import KEYS_ENV
from edge_runtime.waiting import wait_until


def _url(port: int, creds) -> str:
    return f"mqtt://{quote(creds.username)}:{quote(creds.password)}@127.0.0.1:{port}"


class Fleet(NamedTuple):
    registry: ModelRegistry
    ota: OtaService
    agent: Agent
    broker: Any
    store: CredentialStore


def agent_config(tmp_path, device_id: str, broker_url: str, model) -> dict:
    return {"device_id": device_id, "broker": broker_url, "state_dir": str(tmp_path / device_id),
            "profile": "generic-x86-64", "heartbeat_s": 1.0,
            "tasks": [{"kind": "model", "name": "kws", "interval_s": 0.1, "params": {"model": str(model)}}]}


@pytest.fixture
def fleet(tmp_path, monkeypatch, onnx_models, secured_mosquitto):
    """Secured broker + coordinator with OTA + agent dev-a serving initial.onnx as task 'kws'
    (credentials for dev-b exist too, for a second, out-of-process agent)."""
    cloud = tmp_path / "cloud"
    store = CredentialStore(cloud)
    device, coordinator_creds = store.add("dev-a"), store.add("coordinator", role="coordinator")
    store.add("dev-b")
    registry = ModelRegistry(cloud)                    # creates the fleet key
    monkeypatch.setenv(KEYS_ENV, str(registry.public_key_path))
    broker = secured_mosquitto(store.mosquitto_conf())
    coordinator = Coordinator(_url(broker.port, coordinator_creds), cloud).start()
    ota = OtaService(coordinator).start()
    initial = onnx_models.make(tmp_path / "initial.onnx", seed=1)
    agent = Agent(agent_config(tmp_path, "dev-a", _url(broker.port, device), initial)).start()
    assert agent.wait_connected(15), "agent could not log in with its own credentials"
    wait_until(lambda: coordinator.device("dev-a"), 15, what="dev-a registered at the coordinator")
    yield Fleet(registry, ota, agent, broker, store)
    agent.stop()
    ota.stop()
    coordinator.stop()


def _serving(agent) -> str:
    return os.path.basename(agent.tasks["kws"].status()["model"])


def test_good_model_goes_healthy_over_mqtt(tmp_path, fleet, onnx_models):
    registry, ota, agent, *_ = fleet
    registry.add(onnx_models.make(tmp_path / "kws.onnx", seed=2), name="kws")
    job = ota.deploy("kws", "dev-a", task="kws",
                     health={"window_s": 2.0, "min_requests": 3, "probe_interval_s": 0.1})
    final = ota.wait(job["job"], 60)
    assert final["state"] == "healthy", final["devices"]
    assert final["devices"]["dev-a"]["phase"] == "healthy"
    assert _serving(agent) == "model.onnx" and "/kws/v1/" in agent.tasks["kws"].status()["model"]


def test_flipped_byte_is_rejected_and_old_model_keeps_serving(tmp_path, fleet, onnx_models):
    registry, ota, agent, *_ = fleet
    manifest = registry.add(onnx_models.make(tmp_path / "kws.onnx", seed=2), name="kws")
    artifact = registry.artifact(manifest)
    data = bytearray(artifact.read_bytes())
    data[-10] ^= 0xFF
    artifact.write_bytes(bytes(data))
    runs_before = agent.tasks["kws"].runs
    job = ota.deploy("kws", ["dev-a"], task="kws")
    final = ota.wait(job["job"], 60)
    assert final["devices"]["dev-a"]["phase"] == "rejected", final["devices"]
    assert "sha256" in final["devices"]["dev-a"]["detail"]
    assert _serving(agent) == "initial.onnx"
    wait_until(lambda: agent.tasks["kws"].runs > runs_before + 3, 10, what="the old model to keep running")


def test_broken_model_is_rolled_back_within_30_s(tmp_path, fleet, onnx_models):
    registry, ota, agent, *_ = fleet
    registry.add(onnx_models.make(tmp_path / "kws.onnx", seed=2, nan=True), name="kws")
    start = time.monotonic()
    job = ota.deploy("kws", ["dev-a"], task="kws")
    final = ota.wait(job["job"], 30)
    assert final["devices"]["dev-a"]["phase"] == "rolled_back", final["devices"]
    assert time.monotonic() - start < 30
    assert _serving(agent) == "initial.onnx"


def test_agent_restart_in_the_middle_of_downloading_resumes(tmp_path, fleet, onnx_models):
    registry, ota, agent, *_ = fleet
    big = onnx_models.make(tmp_path / "kws.onnx", seed=3, hidden=8192)          # ~400 KB
    manifest = registry.add(big, name="kws")
    ota.server.rate_bps = manifest.size / 3                                       # ~3 s download
    job = ota.deploy("kws", ["dev-a"], task="kws",
                     health={"window_s": 1.0, "min_requests": 3, "probe_interval_s": 0.1})
    part = agent.config.state_dir / "components" / "otacomponent" / "ota" / "downloads" / f"{job['job']}.part"
    wait_until(lambda: part.exists() and part.stat().st_size > 0, 15, what="the download to start")
    config = agent.config
    agent.stop()                                                                  # reboot mid-download
    kept = part.stat().st_size
    assert 0 < kept < manifest.size
    assert ota.status(job["job"])["devices"]["dev-a"]["phase"] == "downloading"
    ota.server.rate_bps = None
    restarted = Agent(config).start()
    try:
        final = ota.wait(job["job"], 60)
        assert final["devices"]["dev-a"]["phase"] == "healthy", final["devices"]
        assert any(r == f"bytes={kept}-" for _, r in ota.server.requests), ota.server.requests
        assert "/kws/v1/" in restarted.tasks["kws"].status()["model"]
    finally:
        restarted.stop()


def test_deploy_by_sparql_query_over_the_live_fleet_graph(tmp_path, fleet, onnx_models):
    """Targets chosen by a SPARQL SELECT over the graph the coordinator's events keep current."""
    from ontology.live import FleetGraph
    from ontology.store import GraphStore
    registry, ota, agent, *_ = fleet
    graph = GraphStore.open(None)
    FleetGraph(graph).attach(ota.coordinator)
    query = ("PREFIX er: <https://w3id.org/edge-runtime/ns#> "
             "SELECT ?device WHERE { ?d er:deviceId ?device }")
    ota.graph = graph
    agent.publish("td", agent_td(agent), retain=True)    # re-announce now that the graph listens
    wait_until(lambda: graph.query(query), 15, what="dev-a in the fleet graph")
    registry.add(onnx_models.make(tmp_path / "kws.onnx", seed=2), name="kws")
    job = ota.deploy("kws", query, task="kws", health={"window_s": 1.0, "min_requests": 3, "probe_interval_s": 0.1})
    assert job["targets"] == ["dev-a"] and job["selector"].startswith("sparql")
    assert ota.wait(job["job"], 60)["devices"]["dev-a"]["phase"] == "healthy"


def agent_td(agent):
    from edge_runtime.agent.health import thing_description
    return thing_description(agent.device_id, agent.profile, list(agent.tasks))


def test_cli_deploy_and_deployments_against_a_running_coordinator(tmp_path, fleet, onnx_models, capsys):
    from cloud_sync.cli import main
    registry, ota, agent, *_ = fleet
    data = str(ota.coordinator.data_dir)
    model = onnx_models.make(tmp_path / "kws.onnx", seed=2)
    assert main(["models", "add", str(model), "--name", "kws", "--data", data]) == 0
    assert main(["deploy", "kws", "--to", "dev-a", "--task", "kws", "--window", "1", "--min-requests", "3",
                 "--data", data, "--wait", "60"]) == 0
    out = capsys.readouterr().out
    assert "healthy" in out and "dev-a" in out
    assert main(["deployments", "--data", data, "--json"]) == 0
    jobs = json.loads(capsys.readouterr().out)
    assert jobs[-1]["state"] == "healthy" and jobs[-1]["url"].startswith("http://")


def test_http_deploy_needs_the_write_token(tmp_path, fleet, onnx_models):
    import urllib.error
    import urllib.request

    from cloud_sync.dashboard.live_feed import LiveFeed
    from cloud_sync.dashboard.server import DashboardServer
    from cloud_sync.ota.http_api import mount
    from cloud_sync.security.tokens import TokenError, TokenStore
    registry, ota, agent, *_ = fleet
    registry.add(onnx_models.make(tmp_path / "kws.onnx", seed=2), name="kws")
    tokens = TokenStore(tmp_path / "http_tokens.json")
    secret = tokens.issue("operator")

    def authorise(headers):
        try:
            return bool(tokens.require(headers))
        except TokenError:
            return False
    server = DashboardServer({}, LiveFeed(), authorise=authorise).start()
    mount(server, ota)          # what attach_ota(coordinator, dashboard=server) does
    body = json.dumps({"model": "kws", "to": ["dev-a"], "task": "kws",
                       "health": {"window_s": 1.0, "min_requests": 3, "probe_interval_s": 0.1}}).encode()

    def post(token):
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
        request = urllib.request.Request(server.url + "api/deploy", body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())
    try:
        assert post(None)[0] == 401 and post("wrong")[0] == 401
        assert not ota.deployments.book.list()                      # nothing was ordered
        status, job = post(secret)
        assert status == 201 and job["targets"] == ["dev-a"]
        assert ota.wait(job["job"], 60)["state"] == "healthy"
        with urllib.request.urlopen(server.url + f"api/deployments/{job['job']}", timeout=10) as response:
            assert json.loads(response.read())["devices"]["dev-a"]["phase"] == "healthy"
    finally:
        server.stop()


def test_agent_killed_mid_download_resumes_after_restart(tmp_path, fleet, onnx_models):
    """A real crash (SIGKILL of an agent process), not a graceful stop: the fsynced .part and
    the job journal are all that survive, and they are enough."""
    import subprocess
    import sys
    registry, ota, _, broker, store = fleet
    config = agent_config(tmp_path, "dev-b", _url(broker.port, store.get("dev-b")),
                          onnx_models.make(tmp_path / "initial-b.onnx", seed=1))
    config_file = tmp_path / "dev-b.json"
    config_file.write_text(json.dumps(config))
    log = open(tmp_path / "dev-b.log", "ab")

    def start():
        return subprocess.Popen([sys.executable, "-m", "edge_runtime.cli", "agent", "--config", str(config_file)],
                                stdout=log, stderr=subprocess.STDOUT)
    proc = start()
    try:
        wait_until(lambda: (ota.coordinator.device("dev-b") or {}).get("online"), 30, what="dev-b online")
        manifest = registry.add(onnx_models.make(tmp_path / "kws.onnx", seed=3, hidden=8192), name="kws")
        ota.server.rate_bps = manifest.size / 4
        job = ota.deploy("kws", ["dev-b"], task="kws",
                         health={"window_s": 1.0, "min_requests": 3, "probe_interval_s": 0.1})
        part = tmp_path / "dev-b" / "components" / "otacomponent" / "ota" / "downloads" / f"{job['job']}.part"
        wait_until(lambda: part.exists() and part.stat().st_size > 0, 20, what="the download to start")
        proc.kill()
        proc.wait(10)
        kept = part.stat().st_size
        assert 0 < kept < manifest.size
        ota.server.rate_bps = None
        proc = start()
        final = ota.wait(job["job"], 60)
        assert final["devices"]["dev-b"]["phase"] == "healthy", final["devices"]
        assert any(r == f"bytes={kept}-" for _, r in ota.server.requests), ota.server.requests
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
