"""Device profile (+ detected facts) → RDF description; W3C WoT Thing Description → the same RDF.

The TD is the device's birth certificate: the agent writes it as plain JSON
(`cloud_sync.protocol.thing`, no rdflib on the device) and the coordinator turns it into RDF
with `graph_from_thing_description`, so the graph holds exactly what the device said about
itself. Both directions share one table of fields (`SCALAR_FIELDS`).
"""
from __future__ import annotations

from typing import Any, Mapping

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from cloud_sync.protocol.thing import (SCALAR_FIELDS, backend_names, profile_facts, sensor_kind,
                                       thing_description)
from ontology.ns import ER, SAREF, SCHEMA, SOSA, TD, new_graph, device_iri, site_iri

__all__ = ["device_graph", "site_graph", "graph_from_thing_description", "thing_description",
           "profile_facts", "backend_names", "sensor_kind", "SCALAR_FIELDS"]


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
