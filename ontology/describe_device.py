"""Device profile (+ detected facts) → RDF description and W3C WoT Thing Description (JSON-LD).

The TD is the device's birth certificate: the agent publishes it on registration and the
coordinator turns it back into the same RDF with `graph_from_thing_description`, so the graph
holds exactly what the device said about itself. Both directions share one table of fields.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from ontology.ns import ER, SAREF, SCHEMA, SOSA, TD, new_graph, device_iri, site_iri

TD_CONTEXT = "https://www.w3.org/2022/wot/td/v1.1"
# profile field → (our term, python type). Shared by the RDF builder and the TD writer/reader.
SCALAR_FIELDS: list[tuple[str, str, type]] = [
    ("id", "profileId", str), ("device_class", "deviceClass", str), ("cpu_model", "cpuModel", str),
    ("arch", "architecture", str), ("cores", "cpuCores", int), ("cpu_freq_hz", "cpuFrequencyHz", int),
    ("ram_bytes", "ramBytes", int), ("storage_bytes", "storageBytes", int),
    ("power_class", "powerClass", str), ("peak_gflops", "peakGflops", float),
]


def profile_facts(profile: Any, facts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A plain dict of the profile's fields (Profile object or mapping), detected facts on top."""
    base = profile.to_dict() if hasattr(profile, "to_dict") else dict(profile or {})
    merged = {**base, **dict(facts or {})}
    backends = merged.get("backends") or {}
    if not isinstance(backends, Mapping):
        backends = {"litert": getattr(backends, "litert", False), "tflm": getattr(backends, "tflm", False),
                    "onnxruntime_providers": list(getattr(backends, "onnxruntime_providers", []))}
    merged["backends"] = dict(backends)
    merged["accelerators"] = [a if isinstance(a, Mapping) else vars(a) for a in merged.get("accelerators") or []]
    merged["sensors"] = list(merged.get("sensors") or [])
    return merged


def backend_names(backends: Mapping[str, Any]) -> list[str]:
    names = [name for name in ("litert", "tflm") if backends.get(name)]
    if backends.get("onnxruntime_providers"):
        names.append("onnxruntime")
    return names


def sensor_kind(text: str) -> str:
    """'microphone (MP34DT05 PDM)' → 'microphone', 'imu-9axis (LSM9DS1)' → 'imu'."""
    return re.split(r"[\s(\-_/]", text.strip().lower(), maxsplit=1)[0] or text.strip().lower()


def device_graph(profile: Any, device_id: str, *, facts: Mapping[str, Any] | None = None,
                 site: str | None = None, base_topic: str | None = None) -> Graph:
    """RDF for one device: td:Thing + saref:Device + sosa:Platform with resources and sensors."""
    info = profile_facts(profile, facts)
    graph = new_graph()
    device = device_iri(device_id)
    add = graph.add
    for cls in (TD.Thing, SAREF.Device, SOSA.Platform):
        add((device, RDF.type, cls))
    add((device, ER.deviceId, Literal(device_id)))
    add((device, TD.title, Literal(device_id)))
    if info.get("name"):
        add((device, RDFS.label, Literal(f"{device_id} ({info['name']})")))
    for key, term, kind in SCALAR_FIELDS:
        value = info.get(key)
        if value is not None:
            add((device, ER[term], Literal(kind(value), datatype=XSD.double) if kind is float
                 else Literal(kind(value))))
    for name in backend_names(info["backends"]):
        add((device, ER.supportsBackend, Literal(name)))
    for provider in info["backends"].get("onnxruntime_providers") or []:
        add((device, ER.onnxProvider, Literal(provider)))
    for k, accel in enumerate(info["accelerators"]):
        node = URIRef(f"{device}/accelerator/{k}")
        add((device, ER.hasAccelerator, node))
        add((node, RDF.type, ER.Accelerator))
        add((node, ER.acceleratorKind, Literal(accel.get("kind"))))
        add((node, RDFS.label, Literal(accel.get("name") or accel.get("kind"))))
        if accel.get("tops") is not None:
            add((node, ER.tops, Literal(float(accel["tops"]), datatype=XSD.double)))
    for k, text in enumerate(info["sensors"]):
        node = URIRef(f"{device}/sensor/{k}")
        add((device, SOSA.hosts, node))
        add((node, RDF.type, SOSA.Sensor))
        add((node, SOSA.isHostedBy, device))
        add((node, ER.sensorKind, Literal(sensor_kind(text))))
        add((node, RDFS.label, Literal(text)))
    if site:
        add((device, SCHEMA.location, site_iri(site)))
    if base_topic:
        add((device, ER.baseTopic, Literal(base_topic)))
    return graph


def site_graph(site_id: str, name: str | None = None, parent: str | None = None) -> Graph:
    """A site (schema:Place), optionally inside a larger one (schema:containedInPlace)."""
    graph = new_graph()
    site = site_iri(site_id)
    graph.add((site, RDF.type, SCHEMA.Place))
    graph.add((site, SCHEMA.identifier, Literal(site_id)))
    graph.add((site, SCHEMA.name, Literal(name or site_id)))
    if parent:
        graph.add((site, SCHEMA.containedInPlace, site_iri(parent)))
    return graph


# ------------------------------------------------------------------------- Thing Description
def _form(topic: str, op: str | list[str]) -> dict:
    return {"href": topic, "op": op, "contentType": "application/cbor", "mqv:topic": topic}


def thing_description(profile: Any, device_id: str, base_topic: str | None = None,
                      *, facts: Mapping[str, Any] | None = None, site: str | None = None) -> dict:
    """The device's W3C WoT Thing Description 1.1 (JSON-LD) with its resources as er: terms."""
    info = profile_facts(profile, facts)
    topic = base_topic or f"edge/v1/default/{device_id}"
    td: dict[str, Any] = {
        "@context": [TD_CONTEXT, {"er": str(ER), "saref": str(SAREF), "sosa": str(SOSA),
                                  "schema": str(SCHEMA), "mqv": "http://www.example.org/mqtt-binding#"}],
        "@type": ["saref:Device", "sosa:Platform"],
        "id": str(device_iri(device_id)),
        "title": device_id,
        "description": f"{info.get('name') or info.get('id') or 'device'} running the edge-runtime agent",
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "security": "nosec_sc",
        "er:deviceId": device_id,
        "er:baseTopic": topic,
        "properties": {
            "state": {"type": "object", "readOnly": True, "observable": True,
                      "description": "online/offline (birth and last-will messages)",
                      "forms": [_form(f"{topic}/state", ["readproperty", "observeproperty"])]},
            "health": {"type": "object", "readOnly": True, "observable": True,
                       "description": "periodic health aggregates: CPU, memory, temperature, outbox",
                       "forms": [_form(f"{topic}/health", ["readproperty", "observeproperty"])]},
        },
        "actions": {
            "deploy": {"description": "install a signed model bundle (job order)",
                       "uriVariables": {"job": {"type": "string"}},
                       "forms": [_form(f"{topic}/deploy/{{job}}/order", "invokeaction")]},
            "command": {"description": "run an agent command; the reply (…/reply) carries the correlation id",
                        "uriVariables": {"command": {"type": "string"}},
                        "forms": [_form(f"{topic}/cmd/{{command}}", "invokeaction")]},
        },
        "events": {
            "result": {"description": "workload results, one topic level per task",
                       "forms": [_form(f"{topic}/result/+", "subscribeevent")]},
            "deployState": {"description": "state of each deployment job (queued … healthy / failed)",
                            "forms": [_form(f"{topic}/deploy/+", "subscribeevent")]},
        },
    }
    for key, term, kind in SCALAR_FIELDS:
        if info.get(key) is not None:
            td[f"er:{term}"] = kind(info[key])
    td["er:supportsBackend"] = backend_names(info["backends"])
    td["er:onnxProvider"] = list(info["backends"].get("onnxruntime_providers") or [])
    td["er:hasAccelerator"] = [{"@type": "er:Accelerator", "er:acceleratorKind": a.get("kind"),
                                "title": a.get("name") or a.get("kind"), "er:tops": a.get("tops")}
                               for a in info["accelerators"]]
    td["sosa:hosts"] = [{"@type": "sosa:Sensor", "er:sensorKind": sensor_kind(s), "title": s}
                        for s in info["sensors"]]
    if info.get("name"):
        td["er:boardName"] = info["name"]
    if site:
        td["schema:location"] = site
    return td


def graph_from_thing_description(td: Mapping[str, Any]) -> tuple[str, Graph]:
    """(device id, RDF) from a TD written by `thing_description` (what a device registered with)."""
    device_id = td.get("er:deviceId") or td.get("title")
    if not device_id:
        raise ValueError("thing description has neither 'er:deviceId' nor 'title': cannot name the device")
    info: dict[str, Any] = {key: td[f"er:{term}"] for key, term, _ in SCALAR_FIELDS if f"er:{term}" in td}
    backends = set(td.get("er:supportsBackend") or [])
    info["backends"] = {"litert": "litert" in backends, "tflm": "tflm" in backends,
                        "onnxruntime_providers": list(td.get("er:onnxProvider") or
                                                      (["CPUExecutionProvider"] if "onnxruntime" in backends else []))}
    info["accelerators"] = [{"kind": a.get("er:acceleratorKind"), "name": a.get("title"), "tops": a.get("er:tops")}
                            for a in td.get("er:hasAccelerator") or []]
    info["sensors"] = [s.get("title") or s.get("er:sensorKind") for s in td.get("sosa:hosts") or []]
    info["name"] = td.get("er:boardName")
    site = td.get("schema:location")
    return str(device_id), device_graph(info, str(device_id), site=site if isinstance(site, str) else None,
                                        base_topic=td.get("er:baseTopic"))
