"""Every canned query against a generated fleet, rows compared with what the fleet's own Python
lists say (the ground truth the triples were generated from)."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from statistics import mean

import pytest

from ontology.fleetgen import REGIONS
from ontology.queries import (QueryParamError, capable_devices, devices_for_model, list_queries, render,
                              run_named)

SINCE = datetime(2026, 1, 4, 12, 0, tzinfo=timezone.utc)


def _site_and_region(fleet, device):
    return {device.site, fleet.site_parent()[device.site]}


def test_library_lists_every_query_with_description():
    names = {q.name for q in list_queries()}
    assert {"devices_offline_since", "deployments_behind_latest", "capable_devices", "fl_round_metrics",
            "fl_metric_by_region", "failed_deployments_hot", "device_everything", "site_status",
            "latest_models"} <= names
    assert all(q.description for q in list_queries())


def test_devices_offline_since_per_site(fleet_store, small_fleet):
    rows = run_named(fleet_store, "devices_offline_since", since=SINCE.isoformat())
    expected = sorted((d.site, d.id) for d in small_fleet.devices if not d.online and d.last_seen < SINCE)
    assert expected and [(r["siteId"], r["device"]) for r in rows] == expected
    # a region parameter covers every site inside it
    rows = run_named(fleet_store, "devices_offline_since", since=SINCE, site="eu")
    assert sorted(r["device"] for r in rows) == sorted(
        d.id for d in small_fleet.devices if not d.online and d.last_seen < SINCE and d.site in REGIONS["eu"])


def test_deployments_behind_latest(fleet_store, small_fleet):
    models = {m.id: m for m in small_fleet.models}
    latest = defaultdict(int)
    for m in small_fleet.models:
        latest[m.task] = max(latest[m.task], m.version)
    expected = sorted((d.device, d.id) for d in small_fleet.deployments
                      if d.state == "healthy" and models[d.model].version < latest[models[d.model].task])
    rows = run_named(fleet_store, "deployments_behind_latest")
    assert expected and sorted((r["device"], r["deployment"]) for r in rows) == expected
    latest_id = {m.task: m.id for m in small_fleet.models if m.version == latest[m.task]}
    assert all(r["latestModel"] == latest_id[r["modelTask"]] and models[r["model"]].task == r["modelTask"]
               for r in rows)
    kws_only = run_named(fleet_store, "deployments_behind_latest", task="kws")
    assert kws_only and {r["modelTask"] for r in kws_only} == {"kws"}


@pytest.mark.parametrize("ram,arena,flash,sensor,backend,online", [
    (0, 0, 0, None, None, True),
    (200 * 1024, 24_432, 47_616, "microphone", "tflm", True),
    (1 << 30, 0, 0, None, "onnxruntime", False),
    (0, 0, 0, "camera", None, True),
])
def test_capable_devices(fleet_store, small_fleet, ram, arena, flash, sensor, backend, online):
    expected = sorted(d.id for d in small_fleet.devices
                      if d.ram_bytes >= ram + arena and d.storage_bytes >= flash
                      and (sensor is None or sensor in d.sensors) and (backend is None or backend in d.backends)
                      and (d.online or not online))
    got = capable_devices(fleet_store, min_ram_bytes=ram, min_flash_bytes=flash, arena_bytes=arena,
                          sensor=sensor, backend=backend, online_only=online)
    assert got == expected
    if sensor != "camera":
        assert got  # the generated fleet has hosts for these


def test_devices_for_model_reads_the_model_needs(fleet_store, small_fleet):
    kws = next(m for m in small_fleet.models if m.id == "kws-v2")
    expected = sorted(d.id for d in small_fleet.devices if d.online and d.ram_bytes >= kws.arena_bytes
                      and d.storage_bytes >= kws.file_size_bytes and "microphone" in d.sensors)
    assert devices_for_model(fleet_store, "kws-v2") == expected and expected
    with pytest.raises(QueryParamError, match="not in the graph"):
        devices_for_model(fleet_store, "no-such-model")


def test_fl_round_metrics(fleet_store, small_fleet):
    groups = defaultdict(list)
    for o in small_fleet.observations:
        groups[(o.run, o.round, o.metric)].append((o.device, o.value))
    rows = run_named(fleet_store, "fl_round_metrics")
    assert [(r["runId"], r["roundNumber"], r["metricName"]) for r in rows] == sorted(groups)
    for r in rows:
        values = groups[(r["runId"], r["roundNumber"], r["metricName"])]
        assert r["participants"] == len({d for d, _ in values})
        assert r["mean"] == pytest.approx(mean(v for _, v in values))
    round2 = run_named(fleet_store, "fl_round_metrics", round=2, metric="loss")
    assert [(r["roundNumber"], r["metricName"]) for r in round2] == [(2, "loss")]


def test_fl_metric_by_region(fleet_store, small_fleet):
    devices = {d.id: d for d in small_fleet.devices}
    per_region = defaultdict(list)
    for o in small_fleet.observations:
        if o.round == 1 and o.metric == "latency_ms":
            for place in _site_and_region(small_fleet, devices[o.device]):
                per_region[place].append(o.value)
    rows = run_named(fleet_store, "fl_metric_by_region", round=1)
    assert [r["region"] for r in rows] == sorted(per_region)
    for r in rows:
        assert r["mean"] == pytest.approx(mean(per_region[r["region"]]))


def test_failed_deployments_hot(fleet_store, small_fleet):
    devices = {d.id: d for d in small_fleet.devices}
    expected = sorted(((-devices[d.device].temperature_c, d.device, d.id) for d in small_fleet.deployments
                       if d.state == "failed" and devices[d.device].temperature_c >= 80.0))
    rows = run_named(fleet_store, "failed_deployments_hot", minTemp=80)
    assert expected and [(-r["temperature"], r["device"], r["deployment"]) for r in rows] == expected


def test_device_everything(fleet_store, small_fleet):
    device = small_fleet.devices[5]
    rows = run_named(fleet_store, "device_everything", device=device.id)
    subjects = {r["subject"] for r in rows}
    own = [r for r in rows if r["subject"].endswith(f"/device/{device.id}")]
    assert {"https://w3id.org/edge-runtime/ns#ramBytes", "https://w3id.org/edge-runtime/ns#online"} <= \
        {r["property"] for r in own}
    assert any(r["value"] == device.ram_bytes for r in own)
    deployments = {d.id for d in small_fleet.deployments if d.device == device.id}
    assert {s.rsplit("/", 1)[-1] for s in subjects if "/deployment/" in s} == deployments
    assert any("/sensor/" in s for s in subjects) == bool(device.sensors)
    assert run_named(fleet_store, "device_everything", device="nobody") == []


def test_site_status_and_latest_models(fleet_store, small_fleet):
    counts = defaultdict(lambda: [0, 0])
    for d in small_fleet.devices:
        counts[d.site][0 if d.online else 1] += 1
    rows = run_named(fleet_store, "site_status")
    assert {r["siteId"]: [r["online"], r["offline"]] for r in rows} == dict(counts)
    latest = run_named(fleet_store, "latest_models")
    assert [(r["modelTask"], r["version"]) for r in latest] == [("anomaly", 2), ("kws", 3), ("person", 2), ("sine", 1)]


def test_parameters_are_bound_safely(fleet_store):
    hostile = 'eu" } ; DROP ALL ; SELECT * WHERE { "'
    sparql = render("devices_offline_since", since="2026-01-04T00:00:00", site=hostile)
    assert "DROP ALL" not in sparql.split("VALUES")[0]
    assert run_named(fleet_store, "deployments_behind_latest", task=hostile) == []
    assert fleet_store.triple_count() > 1000  # nothing was dropped
    with pytest.raises(QueryParamError, match="expects a dateTime"):
        render("devices_offline_since", since="yesterday")
    with pytest.raises(QueryParamError, match="has no parameter"):
        render("capable_devices", minRAM=1)
    with pytest.raises(QueryParamError, match="needs parameter 'since'"):
        render("devices_offline_since")


def test_if_and_unless_lines_follow_the_parameter():
    """`#@if site` lines only with a site, `#@unless site` lines only without one."""
    with_site = render("devices_offline_since", since="2026-01-04T00:00:00", site="eu")
    without = render("devices_offline_since", since="2026-01-04T00:00:00")
    walk_down = "?place schema:containedInPlace* ?site"
    device_keyed = "OPTIONAL { ?d schema:location ?place OPTIONAL"
    assert walk_down in with_site and device_keyed not in with_site
    assert walk_down not in without and device_keyed in without
