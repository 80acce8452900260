"""The materialised views (ontology/rollups.py) kept event by event by the live graph must equal
the views rebuilt from the raw facts, and the facts themselves (Python ground truth), after a
random run of registrations, relocations, status flips, FL reports (with re-sends), model
versions and deployment changes."""
from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import pytest

from device_profiles import load_profile
from ontology import rollups
from ontology.describe_device import thing_description
from ontology.live import FleetGraph
from ontology.queries import run_named
from ontology.store import GraphStore

FIXTURES = Path(__file__).resolve().parents[2] / "edge_runtime" / "models" / "fixtures"
T0 = 1_767_225_600.0
SITES = {"north": None, "north-a": "north", "north-b": "north", "south": None}
VIEW_QUERIES = [("site_status", {}), ("fl_round_metrics", {}), ("fl_metric_by_region", {"round": 1}),
                ("fl_metric_by_region", {"round": 2, "metric": "loss"}), ("deployments_behind_latest", {})]


def _views(store) -> dict:
    """Rows of every query that reads a view (sorted: deployments_behind_latest is unordered)."""
    return {f"{name}{sorted(params.items())}": sorted(run_named(store, name, **params), key=lambda r: sorted(r.items()))
            for name, params in VIEW_QUERIES}


def _emit(fleet: FleetGraph, kind: str, device: str, body: dict, ts: float) -> None:
    fleet.on_event(SimpleNamespace(kind=kind, device_id=device, body=body, ts=ts))


@pytest.fixture
def live():
    store = GraphStore.open(None)
    fleet = FleetGraph(store, summary_interval_s=0.0, batch_interval_s=0.0)
    for site, parent in SITES.items():
        fleet.add_site(site, site.title(), parent=parent)
    yield store, fleet
    store.close()


def test_views_kept_by_events_equal_views_rebuilt_from_facts(live):
    store, fleet = live
    rng = random.Random(5)
    truth_site, truth_online = {}, {}
    fl_values: dict[tuple[int, str, str], tuple[str | None, float]] = {}
    profiles = ["raspberry-pi-4b-4gb", "esp32-s3", "jetson-nano"]
    for step in range(160):
        device = f"d{rng.randrange(12)}"
        action = rng.random()
        ts = T0 + step
        if device not in truth_site or action < 0.15:  # register, or re-register elsewhere
            site = rng.choice([*SITES, None])
            _emit(fleet, "td", device, thing_description(load_profile(rng.choice(profiles)), device, site=site), ts)
            truth_site[device] = site
        elif action < 0.55:
            online = rng.random() < 0.6
            _emit(fleet, "state", device, {"online": online}, ts)
            truth_online[device] = online
        else:
            number = rng.choice([1, 2])
            metrics = {"loss": round(rng.uniform(0, 2), 3), "latency_ms": round(rng.uniform(5, 50), 1)}
            fleet.fl_participation("run-a", number, device, metrics, ts)  # repeats are re-sends
            for name, value in metrics.items():
                fl_values[(number, device, name)] = (truth_site[device], value)
    fleet.fl_round("run-a", 1)
    fleet.fl_round("run-a", 2)

    # deployments and model versions: a new version makes healthy old ones outdated at once
    fleet.register_model(FIXTURES / "tiny_mlp.tflite", "mlp-v1", task="demo", version=1)
    for i in range(6):
        fleet.deployment(f"d{i}", {"model": "mlp-v1", "job": f"j{i}", "state": "healthy"}, T0 + 500)
    fleet.register_model(FIXTURES / "tiny_mlp.tflite", "mlp-v2", task="demo", version=2)
    fleet.deployment("d0", {"model": "mlp-v1", "job": "j0", "state": "failed"}, T0 + 600)
    fleet.deployment("d1", {"model": "mlp-v2", "job": "j1", "state": "healthy"}, T0 + 600)
    fleet.deployment("d7", {"model": "mlp-v1", "job": "j7", "state": "healthy"}, T0 + 600)

    kept = _views(store)
    assert fleet.errors == {} and fleet.rejected == []

    # ground truth from what the run did
    counts = defaultdict(lambda: [0, 0])
    for device, online in truth_online.items():
        counts[truth_site[device] or "(no site)"][0 if online else 1] += 1
    assert {r["siteId"]: [r["online"], r["offline"]] for r in kept["site_status[]"]} == dict(counts)
    for r in kept["fl_round_metrics[]"]:
        values = [v for (n, _, m), (_, v) in fl_values.items() if n == r["roundNumber"] and m == r["metricName"]]
        assert r["participants"] == len(values) and r["mean"] == pytest.approx(sum(values) / len(values))
    region_of = {site: {site, parent} - {None} for site, parent in SITES.items()}
    per_region = defaultdict(list)
    for (number, _, metric), (site, value) in fl_values.items():
        if number == 1 and metric == "latency_ms" and site:
            for region in region_of[site]:
                per_region[region].append(value)
    by_region = {r["region"]: r["mean"] for r in kept["fl_metric_by_region[('round', 1)]"]}
    assert by_region == pytest.approx({k: sum(v) / len(v) for k, v in per_region.items()})
    assert [(r["device"], r["deployment"], r["latestModel"]) for r in kept["deployments_behind_latest[]"]] == \
        [(f"d{i}", f"j{i}", "mlp-v2") for i in (2, 3, 4, 5, 7)]

    rollups.rebuild(store)
    rebuilt = _views(store)
    for key, rows in kept.items():  # floats: sums kept by +new −old may differ in the last bits
        assert [_rounded(r) for r in rows] == [_rounded(r) for r in rebuilt[key]], key


def _rounded(row: dict) -> dict:
    return {k: round(v, 9) if isinstance(v, float) else v for k, v in row.items()}


def test_relocated_participant_keeps_past_rounds_where_it_reported(live):
    store, fleet = live
    fleet.fl_round("run-b", 1)
    fleet.fl_round("run-b", 2)
    _emit(fleet, "td", "p1", thing_description(load_profile("esp32-s3"), "p1", site="north-a"), T0)
    fleet.fl_participation("run-b", 1, "p1", {"loss": 1.0}, T0 + 1)
    _emit(fleet, "td", "p1", thing_description(load_profile("esp32-s3"), "p1", site="south"), T0 + 2)
    fleet.fl_participation("run-b", 2, "p1", {"loss": 3.0}, T0 + 3)
    fleet.fl_participation("run-b", 1, "p1", {"loss": 2.0}, T0 + 4)  # re-sent after the move
    round1 = run_named(store, "fl_metric_by_region", round=1, metric="loss")
    round2 = run_named(store, "fl_metric_by_region", round=2, metric="loss")
    assert [(r["region"], r["participants"], r["mean"]) for r in round1] == [("south", 1, 2.0)]
    assert [(r["region"], r["participants"], r["mean"]) for r in round2] == [("south", 1, 3.0)]
    rollups.rebuild(store)
    assert run_named(store, "fl_metric_by_region", round=1, metric="loss") == round1


def test_a_restarted_fleet_graph_heals_views_changed_behind_its_back(live):
    store, fleet = live
    for i in range(3):
        _emit(fleet, "td", f"h{i}", thing_description(load_profile("esp32-s3"), f"h{i}", site="south"), T0)
        _emit(fleet, "state", f"h{i}", {"online": True}, T0 + 1)
    assert run_named(store, "site_status") == [{"siteId": "south", "online": 3, "offline": 0}]
    # a hand-made SPARQL update flips a device without going through the live graph
    store.update('PREFIX er: <https://w3id.org/edge-runtime/ns#> DELETE { ?d er:online true } '
                 'INSERT { ?d er:online false } WHERE { ?d er:deviceId "h0" ; er:online true }')
    assert run_named(store, "site_status")[0]["online"] == 3  # the view does not know yet
    FleetGraph(store, load_vocabulary=False)                  # a coordinator restart
    assert run_named(store, "site_status") == [{"siteId": "south", "online": 2, "offline": 1}]
