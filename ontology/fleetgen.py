"""A generated, seeded fleet for tests and the SPARQL benchmark, built with the real describers.

The Python lists (`Fleet.devices`, `.deployments`, …) are the ground truth the tests compute
expected query rows from; the triples come from ontology.describe_* (the same code the
coordinator uses), so a query that passes here passes on a live fleet.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from rdflib import Graph

from ontology import describe_events as ev
from ontology.describe_device import backend_names, device_graph, profile_facts, sensor_kind, site_graph
from ontology.describe_model import model_graph
from ontology.model_facts import ModelFacts, TensorFacts
from ontology.ns import site_iri

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
REGIONS = {"eu": ["eu-oslo", "eu-berlin", "eu-lisbon"], "us": ["us-austin", "us-denver"], "asia": ["asia-tokyo"]}
# task → [(version, file size, arena, required sensor)]
MODEL_FAMILIES = {
    "kws": [(1, 76_752, 12_864, "microphone"), (2, 47_616, 24_432, "microphone"), (3, 52_000, 22_000, "microphone")],
    "person": [(1, 236_072, 90_000, "camera"), (2, 542_400, 140_144, "camera")],
    "sine": [(1, 2_472, 1_504, None)],
    "anomaly": [(1, 4_736, 1_952, "imu"), (2, 252_848, 115_664, "imu")],
}
DEPLOY_STATES = ["healthy"] * 6 + ["failed", "rolled_back", "downloading", "queued"]
METRICS = ("loss", "accuracy", "latency_ms")


@dataclass
class GenDevice:
    id: str
    profile_id: str
    site: str
    online: bool
    last_seen: datetime
    temperature_c: float
    ram_bytes: int
    storage_bytes: int
    sensors: list[str]
    backends: list[str]


@dataclass
class GenModel:
    id: str
    task: str
    version: int
    file_size_bytes: int
    arena_bytes: int
    sensor: str | None


@dataclass
class GenDeployment:
    id: str
    device: str
    model: str
    state: str
    changed: datetime


@dataclass
class GenObservation:
    run: str
    round: int
    device: str
    metric: str
    value: float


@dataclass
class Fleet:
    devices: list[GenDevice] = field(default_factory=list)
    models: list[GenModel] = field(default_factory=list)
    deployments: list[GenDeployment] = field(default_factory=list)
    observations: list[GenObservation] = field(default_factory=list)
    profiles: dict = field(default_factory=dict)

    def site_parent(self) -> dict[str, str]:
        return {site: region for region, sites in REGIONS.items() for site in sites}

    def graphs(self) -> Iterator[Graph]:
        """Every description, one graph each (sites, models, devices with state, deployments, FL)."""
        for region, sites in REGIONS.items():
            yield site_graph(region, region.upper())
            for site in sites:
                yield site_graph(site, site, parent=region)
        for m in self.models:
            facts = ModelFacts(path=Path(f"{m.id}.tflite"), format="tflite", file_size_bytes=m.file_size_bytes,
                               sha256=f"{abs(hash(m.id)):064x}"[-64:], ops=["CONV_2D", "FULLY_CONNECTED", "SOFTMAX"],
                               operator_count=12, parameter_count=m.file_size_bytes // 2, quantization="int8",
                               inputs=[TensorFacts("input", 0, (1, 49, 10), "int8", 0.1, -128)],
                               outputs=[TensorFacts("output", 0, (1, 4), "int8", 1 / 256, -128)],
                               arena_bytes=m.arena_bytes, tflm_compatible=True)
            yield model_graph(facts, m.id, task=m.task, version=m.version, requires_sensor=m.sensor)
        for d in self.devices:
            graph = device_graph(self.profiles[d.profile_id], d.id, site=d.site)
            graph += ev.status_graph(d.id, d.online, d.last_seen, d.last_seen)
            graph += ev.health_graph(d.id, d.last_seen, d.temperature_c, 40.0, d.ram_bytes // 3)
            graph += ev.result_summary_graph(d.id, "kws", 100, d.last_seen, 12.5)
            yield graph
        for dep in self.deployments:
            yield ev.deployment_graph(dep.id, dep.model, dep.device, dep.state, dep.changed)
        rounds = sorted({(o.run, o.round) for o in self.observations})
        for run, number in rounds:
            yield ev.fl_round_graph(run, number, "fedavg")
        by_participant: dict[tuple, dict] = {}
        for o in self.observations:
            by_participant.setdefault((o.run, o.round, o.device), {})[o.metric] = o.value
        site_of = {d.id: d.site for d in self.devices}
        for (run, number, device), metrics in by_participant.items():
            yield ev.fl_participation_graph(run, number, device, metrics, EPOCH, place=site_iri(site_of[device]))

    def ntriples(self) -> str:
        """All triples as N-Triples (written term by term: rdflib's serializer is 10× slower here)."""
        return "".join(f"{s.n3()} {p.n3()} {o.n3()} .\n" for g in self.graphs() for s, p, o in g)


def load_fleet(store, ntriples: str) -> None:
    """Add a generated fleet's triples to `store` and build the materialised views over them,
    as a FleetGraph starting on that store would (ontology.rollups)."""
    from ontology import rollups
    store.load_ntriples(ntriples)
    rollups.rebuild(store)


def generate_fleet(n_devices: int, seed: int = 7, fl_rounds: int = 3, fl_fraction: float = 0.3) -> Fleet:
    from device_profiles import list_profiles, load_profile

    rng = random.Random(seed)
    fleet = Fleet()
    profile_ids = sorted(list_profiles())
    fleet.profiles = {pid: load_profile(pid) for pid in profile_ids}
    sites = [s for sites in REGIONS.values() for s in sites]
    for task, versions in MODEL_FAMILIES.items():
        for version, size, arena, sensor in versions:
            fleet.models.append(GenModel(f"{task}-v{version}", task, version, size, arena, sensor))
    for k in range(n_devices):
        pid = profile_ids[k % len(profile_ids)]
        info = profile_facts(fleet.profiles[pid])
        device = GenDevice(
            id=f"dev-{k:05d}", profile_id=pid, site=rng.choice(sites), online=rng.random() < 0.7,
            last_seen=EPOCH + timedelta(minutes=rng.randrange(0, 10 * 24 * 60)),
            temperature_c=round(rng.uniform(30.0, 95.0), 1), ram_bytes=int(info["ram_bytes"]),
            storage_bytes=int(info["storage_bytes"]), sensors=[sensor_kind(s) for s in info["sensors"]],
            backends=backend_names(info["backends"]))
        fleet.devices.append(device)
        for j in range(rng.randint(1, 3)):
            model = rng.choice(fleet.models)
            fleet.deployments.append(GenDeployment(
                f"{device.id}-d{j}", device.id, model.id, rng.choice(DEPLOY_STATES),
                device.last_seen - timedelta(hours=rng.randint(1, 48))))
    for number in range(1, fl_rounds + 1):
        for device in fleet.devices:
            if rng.random() < fl_fraction:
                for metric in METRICS:
                    fleet.observations.append(GenObservation("fl-test", number, device.id, metric,
                                                             round(rng.uniform(0.0, 100.0), 3)))
    return fleet
