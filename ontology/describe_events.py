"""Fleet events → small RDF graphs: device status and health, deployments, FL participation,
result summaries. Aggregates and links only: raw high-rate data never becomes triples.

The live graph (ontology.live) and the generated benchmark fleet (ontology.fleetgen) both build
their triples here, so tests and benchmarks exercise the same shapes the coordinator writes.
"""
from __future__ import annotations

from datetime import datetime, timezone

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD

from ontology.ns import ER, SOSA, SSN, Triples, new_graph, deployment_iri, device_iri, fl_round_iri, model_iri

# protocol deploy states (cloud_sync.protocol.validate.DEPLOY_STATES) → our individuals
DEPLOY_STATES = {
    "queued": ER.Queued, "downloading": ER.Downloading, "verifying": ER.Verifying,
    "activating": ER.Activating, "healthy": ER.Healthy, "running": ER.Healthy,
    "failed": ER.Failed, "rolled_back": ER.RolledBack, "stopped": ER.Stopped,
}
# predicates that describe the device's live status (replaced, never accumulated)
STATUS_PREDICATES = (ER.online, ER.lastSeen, ER.statusSince)
HEALTH_PREDICATES = (ER.temperatureC, ER.cpuPercent, ER.memoryUsedBytes, ER.healthUpdated)


def utc(when: datetime | float | int | str | None) -> datetime:
    """Any timestamp (epoch seconds, ISO text, datetime, None = now) as an aware UTC datetime."""
    if when is None:
        return datetime.now(timezone.utc).replace(microsecond=0)
    if isinstance(when, (int, float)):
        return datetime.fromtimestamp(when, timezone.utc).replace(microsecond=0)
    if isinstance(when, str):
        when = datetime.fromisoformat(when.replace("Z", "+00:00"))
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _graph() -> Graph:
    return new_graph()


def _figures() -> Triples:
    return Triples()


def _time(when) -> Literal:
    return Literal(utc(when), datatype=XSD.dateTime)


def status_graph(device_id: str, online: bool, last_seen, since=None) -> Triples:
    graph = _figures()
    device = device_iri(device_id)
    graph.add((device, ER.online, Literal(bool(online))))
    graph.add((device, ER.lastSeen, _time(last_seen)))
    graph.add((device, ER.statusSince, _time(since if since is not None else last_seen)))
    return graph


def health_graph(device_id: str, at, temperature_c: float | None = None, cpu_percent: float | None = None,
                 memory_used_bytes: int | None = None) -> Triples:
    graph = _figures()
    device = device_iri(device_id)
    graph.add((device, ER.healthUpdated, _time(at)))
    if temperature_c is not None:
        graph.add((device, ER.temperatureC, Literal(float(temperature_c), datatype=XSD.double)))
    if cpu_percent is not None:
        graph.add((device, ER.cpuPercent, Literal(float(cpu_percent), datatype=XSD.double)))
    if memory_used_bytes is not None:
        graph.add((device, ER.memoryUsedBytes, Literal(int(memory_used_bytes))))
    return graph


def deployment_graph(deployment_id: str, model_id: str, device_id: str, state: str, changed,
                     detail: str | None = None) -> Graph:
    """One deployment (ssn:Deployment); `state` is a protocol deploy state such as 'healthy'."""
    try:
        state_iri = DEPLOY_STATES[state]
    except KeyError:
        raise ValueError(f"unknown deployment state {state!r}; expected one of {', '.join(DEPLOY_STATES)}") from None
    graph = _graph()
    dep = deployment_iri(deployment_id)
    graph.add((dep, RDF.type, SSN.Deployment))
    graph.add((dep, ER.deploymentId, Literal(deployment_id)))
    graph.add((dep, SSN.deployedSystem, model_iri(model_id)))
    graph.add((dep, SSN.deployedOnPlatform, device_iri(device_id)))
    graph.add((dep, ER.platformId, Literal(device_id)))
    graph.add((dep, ER.deploymentState, state_iri))
    graph.add((dep, ER.stateChanged, _time(changed)))
    if detail:
        graph.add((dep, ER.stateDetail, Literal(str(detail)[:500])))
    return graph


def fl_round_graph(run_id: str, round_number: int, strategy: str | None = None) -> Graph:
    graph = _graph()
    node = fl_round_iri(run_id, round_number)
    graph.add((node, RDF.type, ER.FLRound))
    graph.add((node, ER.flRunId, Literal(run_id)))
    graph.add((node, ER.roundNumber, Literal(int(round_number))))
    if strategy:
        graph.add((node, ER.strategy, Literal(strategy)))
    return graph


def observation_iri(run_id: str, round_number: int, device_id: str, metric: str) -> URIRef:
    """One device's value of one metric in one round (a re-sent value replaces it)."""
    return URIRef(f"{fl_round_iri(run_id, round_number)}/obs/{device_iri(device_id).split('/')[-1]}/{metric}")


def fl_participation_graph(run_id: str, round_number: int, device_id: str, metrics: dict[str, float],
                           at=None, place: URIRef | str | None = None) -> Graph:
    """The device trained in the round; one sosa:Observation per numeric metric it reported.

    `place` is the device's location when it reported (er:participantPlace), so regional figures
    of past rounds stay where they were measured when the device moves.
    """
    graph = _graph()
    node = fl_round_iri(run_id, round_number)
    device = device_iri(device_id)
    graph.add((device, ER.participatedIn, node))
    for name, value in sorted(numeric_metrics(metrics).items()):
        obs = observation_iri(run_id, round_number, device_id, name)
        graph.add((obs, RDF.type, SOSA.Observation))
        graph.add((obs, SOSA.hasFeatureOfInterest, node))
        graph.add((obs, ER.participant, device))
        graph.add((obs, ER.metricName, Literal(name)))
        graph.add((obs, SOSA.hasSimpleResult, Literal(float(value), datatype=XSD.double)))
        graph.add((obs, SOSA.resultTime, _time(at)))
        if place is not None:
            graph.add((obs, ER.participantPlace, URIRef(place)))
    return graph


def numeric_metrics(metrics: dict) -> dict[str, float]:
    """The metrics an FL update reports that are numbers (booleans and text are not observations)."""
    return {name: float(value) for name, value in metrics.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


def result_summary_iri(device_id: str, workload: str, writer: str | None = None) -> URIRef:
    """One summary per device and workload; with replicas, one per replica (``writer``)."""
    node = f"{device_iri(device_id)}/results/{device_iri(workload).split('/')[-1]}"
    return URIRef(node if writer is None else f"{node}/by/{device_iri(writer).split('/')[-1]}")


def result_summary_graph(device_id: str, workload: str, count: int, last_at,
                         mean_latency_ms: float | None = None, writer: str | None = None) -> Triples:
    graph = _figures()
    node = result_summary_iri(device_id, workload, writer)
    graph.add((node, RDF.type, ER.ResultSummary))
    graph.add((node, ER.summaryOf, device_iri(device_id)))
    graph.add((node, ER.workload, Literal(workload)))
    graph.add((node, ER.resultCount, Literal(int(count))))
    graph.add((node, ER.lastResultAt, _time(last_at)))
    if mean_latency_ms is not None:
        graph.add((node, ER.meanLatencyMs, Literal(float(mean_latency_ms), datatype=XSD.double)))
    return graph
