"""The device's W3C WoT Thing Description (its birth certificate), as plain JSON.

The agent writes it and the coordinator turns it into RDF (``ontology.describe_device``):
the device needs neither rdflib nor the vocabulary files for that (rdflib alone cost an idle
agent 17 MB). The namespace IRIs and the profile-field table live here because both sides
read them; ``ontology.ns`` builds its rdflib namespaces from the same strings.
"""
from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import quote

TD_CONTEXT = "https://www.w3.org/2022/wot/td/v1.1"
NAMESPACES: dict[str, str] = {
    "er": "https://w3id.org/edge-runtime/ns#",
    "id": "https://w3id.org/edge-runtime/id/",
    "td": "https://www.w3.org/2019/wot/td#",
    "sosa": "http://www.w3.org/ns/sosa/",
    "ssn": "http://www.w3.org/ns/ssn/",
    "saref": "https://saref.etsi.org/core/",
    "mls": "http://www.w3.org/ns/mls#",
    "schema": "https://schema.org/",
    "dct": "http://purl.org/dc/terms/",
}
MQTT_BINDING = "http://www.example.org/mqtt-binding#"
# profile field → (our term, python type). Shared by the TD writer and the cloud's TD reader.
SCALAR_FIELDS: list[tuple[str, str, type]] = [
    ("id", "profileId", str), ("device_class", "deviceClass", str), ("cpu_model", "cpuModel", str),
    ("arch", "architecture", str), ("cores", "cpuCores", int), ("cpu_freq_hz", "cpuFrequencyHz", int),
    ("ram_bytes", "ramBytes", int), ("storage_bytes", "storageBytes", int),
    ("power_class", "powerClass", str), ("peak_gflops", "peakGflops", float),
]


def mint_iri(kind: str, local_id: str) -> str:
    """``https://w3id.org/edge-runtime/id/<kind>/<quoted id>``: the one shape of our IRIs."""
    if not local_id or not str(local_id).strip():
        raise ValueError(f"empty {kind} id: give a non-empty identifier")
    return f"{NAMESPACES['id']}{kind}/{quote(str(local_id), safe='-._~')}"


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


def _form(topic: str, op: str | list[str]) -> dict:
    return {"href": topic, "op": op, "contentType": "application/cbor", "mqv:topic": topic}


def thing_description(profile: Any, device_id: str, base_topic: str | None = None,
                      *, facts: Mapping[str, Any] | None = None, site: str | None = None) -> dict:
    """The device's WoT Thing Description 1.1 (JSON-LD) with its resources as er: terms.
    ``profile`` may be None (a device without a profile still registers, with fewer facts)."""
    info = profile_facts(profile, facts)
    topic = base_topic or f"edge/v1/default/{device_id}"
    ns = NAMESPACES
    td: dict[str, Any] = {
        "@context": [TD_CONTEXT, {"er": ns["er"], "saref": ns["saref"], "sosa": ns["sosa"],
                                  "schema": ns["schema"], "mqv": MQTT_BINDING}],
        "@type": ["saref:Device", "sosa:Platform"],
        "id": mint_iri("device", device_id),
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
