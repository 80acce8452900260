"""Materialised views of the fleet graph: figures that would otherwise join over every device.

Why: pyoxigraph evaluates every join as a hash join over each pattern's whole extent, about 3 µs
per row and join step. Counting 10,000 devices per site or averaging 9,000 FL observations costs
60–120 ms however the SPARQL is written, and so does listing 6,000 outdated deployments through
five joins. The canned fleet queries read these small views instead:

* site status — `er:SiteStatus` per location: `er:devicesOnline`, `er:devicesOffline`;
* FL metric aggregates — `er:MetricAggregate` per (round, place, metric): `er:observationCount`,
  `er:valueSum` (a mean is sum / count, and sums roll up the place hierarchy);
* outdated deployments — `?model er:supersededBy ?latest` on every older version of a task and
  `?deployment er:runsOutdated ?model` on each healthy deployment of such a model.

They are derived data with one source of truth, the raw facts. `rebuild(store)` recomputes all
of them (FleetGraph does so when it starts, which heals a crash between two writes or a
hand-made SPARQL update); `ontology.live.FleetGraph` keeps them current event by event with the
helpers below, under its lock. One writer is assumed: the coordinator that owns the live graph.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import quote

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD

from ontology.ns import ER, ID, SCHEMA, SOSA, Triples, new_graph, sparql_prologue

NO_SITE_STATUS = ID["status/no-site"]


# ---- the view nodes ------------------------------------------------------------------------
def site_status_iri(location: str | None) -> URIRef:
    return URIRef(f"{location}/status") if location else NO_SITE_STATUS


def site_status_graph(location: str | None, online: int, offline: int) -> Triples:
    graph = Triples()
    node = site_status_iri(location)
    graph.add((node, RDF.type, ER.SiteStatus))
    if location:
        graph.add((node, ER.statusOf, URIRef(location)))
    graph.add((node, ER.devicesOnline, Literal(int(online))))
    graph.add((node, ER.devicesOffline, Literal(int(offline))))
    return graph


def metric_aggregate_iri(fl_round: str, place: str | None, metric: str) -> URIRef:
    where = quote(str(place).rstrip("/").rsplit("/", 1)[-1], safe="-._~") if place else "no-site"
    return URIRef(f"{fl_round}/agg/{where}/{quote(metric, safe='-._~')}")


def metric_aggregate_graph(fl_round: str, place: str | None, metric: str, count: int, total: float) -> Graph:
    graph = new_graph()
    node = metric_aggregate_iri(fl_round, place, metric)
    graph.add((node, RDF.type, ER.MetricAggregate))
    graph.add((node, ER.aggregateOf, URIRef(fl_round)))
    if place:
        graph.add((node, ER.aggregatePlace, URIRef(place)))
    graph.add((node, ER.metricName, Literal(metric)))
    graph.add((node, ER.observationCount, Literal(int(count))))
    graph.add((node, ER.valueSum, Literal(float(total), datatype=XSD.double)))
    return graph


# ---- incremental upkeep (called by FleetGraph with its lock held) ---------------------------
def properties_of(store, subjects: list[URIRef], predicates: tuple[URIRef, ...]) -> dict[str, dict[str, Any]]:
    """{subject: {predicate: value}} of a few subjects and predicates in one query (single values).

    A UNION of constant (subject, predicate) patterns: each is an index lookup, where a VALUES
    list would be hash-joined with a scan of every triple.
    """
    branches = [f"{{ {s.n3()} {p.n3()} ?o BIND({s.n3()} AS ?s) BIND({p.n3()} AS ?p) }}"
                for s in dict.fromkeys(subjects) for p in predicates]
    found: dict[str, dict[str, Any]] = defaultdict(dict)
    if branches:
        for row in store.lookup(f"SELECT ?s ?p ?o WHERE {{ {' UNION '.join(branches)} }}"):
            found[row["s"]][row["p"]] = row["o"]
    return found


def device_status(store, device: URIRef) -> tuple[bool | None, str | None]:
    """(online or None if never reported, location IRI or None) of one device."""
    facts = properties_of(store, [device], (ER.online, SCHEMA.location)).get(str(device), {})
    return facts.get(str(ER.online)), facts.get(str(SCHEMA.location))


def site_count_deltas(before: tuple[bool | None, str | None],
                      after: tuple[bool | None, str | None]) -> dict[str | None, list[int]]:
    """location → [online delta, offline delta] of a device's move from `before` to `after`."""
    deltas: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    if before[0] is not None:
        deltas[before[1]][0 if before[0] else 1] -= 1
    if after[0] is not None:
        deltas[after[1]][0 if after[0] else 1] += 1
    return {loc: delta for loc, delta in deltas.items() if delta != [0, 0]}


def site_counts(store) -> dict[str | None, list[int]]:
    """location (None: no site) → [online, offline] as the site-status view holds them now."""
    rows = store.query(f"""{sparql_prologue()} SELECT ?node ?loc ?on ?off WHERE {{
        ?node a er:SiteStatus ; er:devicesOnline ?on ; er:devicesOffline ?off .
        OPTIONAL {{ ?node er:statusOf ?loc }} }}""", timeout_s=120)
    return {row.get("loc"): [int(row["on"]), int(row["off"])] for row in rows}


def device_statuses(store) -> dict[str, tuple[bool | None, str | None]]:
    """device IRI → (online or None, location IRI or None) of every device, in one query."""
    rows = store.query(f"""{sparql_prologue()} SELECT ?d ?online ?loc WHERE {{
        {{ ?d er:online ?online }} UNION {{ ?d schema:location ?loc }} }}""", timeout_s=120)
    found: dict[str, list] = {}
    for row in rows:
        entry = found.setdefault(row["d"], [None, None])
        if row.get("online") is not None:
            entry[0] = bool(row["online"])
        if row.get("loc") is not None:
            entry[1] = row["loc"]
    return {device: (entry[0], entry[1]) for device, entry in found.items()}


def site_status_change(store, before: tuple[bool | None, str | None],
                       after: tuple[bool | None, str | None]) -> Graph:
    """New counts of the site statuses a device's move from `before` to `after` touches.

    Each is (online or None, location or None); the result goes into the same
    `set_properties` update as the device's own new status, so readers never see them apart.
    """
    graph = new_graph()
    if before == after:
        return graph
    deltas = site_count_deltas(before, after)
    touched = list(deltas)
    now = properties_of(store, [site_status_iri(loc) for loc in touched], (ER.devicesOnline, ER.devicesOffline))
    for location in touched:
        counts = now.get(str(site_status_iri(location)), {})
        online = counts.get(str(ER.devicesOnline), 0) + deltas[location][0]
        offline = counts.get(str(ER.devicesOffline), 0) + deltas[location][1]
        graph += site_status_graph(location, max(0, online), max(0, offline))
    return graph


def metric_change(store, fl_round: str, observations: dict[str, URIRef], values: dict[str, float],
                  place: str | None) -> Graph:
    """New totals of the aggregates touched when a participant reports `values` (metric → value).

    `observations` maps each metric to its observation IRI: a re-sent value first leaves the
    aggregate it was counted in (at the place recorded on it), then the new one is added.
    """
    old = properties_of(store, list(observations.values()), (SOSA.hasSimpleResult, ER.participantPlace))
    deltas: dict[tuple[str | None, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for metric, value in values.items():
        previous = old.get(str(observations[metric]), {})
        if str(SOSA.hasSimpleResult) in previous:
            key = (previous.get(str(ER.participantPlace)), metric)
            deltas[key][0] -= 1
            deltas[key][1] -= float(previous[str(SOSA.hasSimpleResult)])
        deltas[(place, metric)][0] += 1
        deltas[(place, metric)][1] += float(value)
    nodes = {key: metric_aggregate_iri(fl_round, *key) for key in deltas}
    now = properties_of(store, list(nodes.values()), (ER.observationCount, ER.valueSum))
    graph = new_graph()
    for (where, metric), (d_count, d_sum) in deltas.items():
        totals = now.get(str(nodes[(where, metric)]), {})
        count = max(0, totals.get(str(ER.observationCount), 0) + int(d_count))
        total = totals.get(str(ER.valueSum), 0.0) + d_sum if count else 0.0
        graph += metric_aggregate_graph(fl_round, where, metric, count, total)
    return graph


def mark_if_outdated(store, deployment: URIRef) -> None:
    """Set er:runsOutdated on one deployment if it is healthy and its model is superseded."""
    dep = deployment.n3()
    store.update(f"""{sparql_prologue()} INSERT {{ {dep} er:runsOutdated ?m }} WHERE {{
        {dep} er:deploymentState er:Healthy ; ssn:deployedSystem ?m . ?m er:supersededBy ?latest }}""")


def refresh_model_versions(store) -> None:
    """Recompute er:supersededBy for every model and er:runsOutdated for every deployment.

    Called when a model is registered (a rare event): thousands of deployments may change at
    once when a new version appears, so the whole view is redone in one update.
    """
    store.update(f"""{sparql_prologue()}
        DELETE WHERE {{ ?m er:supersededBy ?x }} ;
        INSERT {{ ?m er:supersededBy ?lm }} WHERE {{
          {{ SELECT ?task (MAX(?v) AS ?latest) WHERE {{ ?any a mls:Model ; er:task ?task ; er:modelVersion ?v }}
            GROUP BY ?task }}
          ?lm er:task ?task ; er:modelVersion ?latest .
          ?m er:task ?task ; er:modelVersion ?version .
          FILTER(?version < ?latest) }} ;
        DELETE WHERE {{ ?dep er:runsOutdated ?m }} ;
        INSERT {{ ?dep er:runsOutdated ?m }} WHERE {{
          {{ SELECT DISTINCT ?m WHERE {{ ?m er:supersededBy ?lm }} }}
          ?dep ssn:deployedSystem ?m ; er:deploymentState er:Healthy }}""")


# ---- from scratch -------------------------------------------------------------------------
def rebuild(store) -> None:
    """Recompute every view from the raw facts (start-up, after bulk loads, to heal drift)."""
    refresh_model_versions(store)
    _replace_all(store, ER.SiteStatus, _site_status_from_facts(store))
    _replace_all(store, ER.MetricAggregate, _metric_aggregates_from_facts(store))


# The fleet-wide aggregates the views replace (also timed by benchmarks/sparql_bench.py).
SITE_STATUS_FROM_FACTS = f"""{sparql_prologue()}
    SELECT ?loc (SUM(IF(?online, 1, 0)) AS ?on) (SUM(IF(?online, 0, 1)) AS ?off) WHERE {{
      ?d er:online ?online . OPTIONAL {{ ?d schema:location ?loc }} }}
    GROUP BY ?loc"""
METRIC_AGGREGATES_FROM_FACTS = f"""{sparql_prologue()}
    SELECT ?round ?place ?metric (COUNT(?v) AS ?n) (SUM(?v) AS ?sum) WHERE {{
      ?obs sosa:hasFeatureOfInterest ?round ; er:metricName ?metric ; sosa:hasSimpleResult ?v .
      OPTIONAL {{ ?obs er:participantPlace ?place }} }}
    GROUP BY ?round ?place ?metric"""


def _site_status_from_facts(store) -> Graph:
    rows = store.query(SITE_STATUS_FROM_FACTS, timeout_s=120)
    graph = new_graph()
    for row in rows:
        graph += site_status_graph(row.get("loc"), row["on"], row["off"])
    return graph


def _metric_aggregates_from_facts(store) -> Graph:
    rows = store.query(METRIC_AGGREGATES_FROM_FACTS, timeout_s=120)
    graph = new_graph()
    for row in rows:
        graph += metric_aggregate_graph(row["round"], row.get("place"), row["metric"], row["n"], row["sum"])
    return graph


def _replace_all(store, node_class: URIRef, graph: Graph) -> None:
    store.update(f"DELETE WHERE {{ ?node a <{node_class}> ; ?p ?o }}")
    store.add_graph(graph, validate=False)
