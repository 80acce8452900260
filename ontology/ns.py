"""Namespaces and IRI minting: the one place that knows what our IRIs look like.

Every module (describers, live graph, queries, tests) builds IRIs through these helpers, so a
canned query and the data it runs on can never disagree on a prefix (the failure that left
SeLoC-ML's shipped queries returning nothing).
"""
from __future__ import annotations


from rdflib import Namespace, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from cloud_sync.protocol.thing import NAMESPACES, mint_iri

# The IRI strings are the device's too (its Thing Description): one table for both sides.
ER, ID, TD, SOSA, SSN, SAREF, MLS, SCHEMA, DCT = (
    Namespace(NAMESPACES[p]) for p in ("er", "id", "td", "sosa", "ssn", "saref", "mls", "schema", "dct"))

PREFIXES: dict[str, str] = {
    "er": str(ER), "td": str(TD), "sosa": str(SOSA), "ssn": str(SSN), "saref": str(SAREF),
    "mls": str(MLS), "schema": str(SCHEMA), "dct": str(DCT),
    "rdf": str(RDF), "rdfs": str(RDFS), "xsd": str(XSD),
}

__all__ = ["ER", "ID", "TD", "SOSA", "SSN", "SAREF", "MLS", "SCHEMA", "DCT", "RDF", "RDFS", "XSD",
           "PREFIXES", "sparql_prologue", "bind_prefixes", "new_graph", "device_iri", "model_iri", "site_iri",
           "deployment_iri", "fl_round_iri", "id_from_iri"]


def sparql_prologue() -> str:
    """PREFIX lines for every namespace above, for queries typed by people."""
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())


def bind_prefixes(graph) -> None:
    for prefix, iri in PREFIXES.items():
        graph.bind(prefix, iri, override=True)


def new_graph(readable: bool = False):
    """An empty rdflib Graph; `readable` binds our prefixes for Turtle a person will read.

    rdflib binds ~30 default prefixes per Graph, which dominated describing a 10k fleet.
    """
    from rdflib import Graph
    graph = Graph(bind_namespaces="none")
    if readable:
        bind_prefixes(graph)
    return graph


class Triples(list):
    """A handful of triples on their way into a batch: a list with Graph's ``add``.

    The live figures (health, status, result summaries) are built per event at fleet rates;
    an rdflib Graph costs a uuid4 and a memory store per instance and ~20–60 µs per ``add``,
    which made the graph listener the coordinator's bottleneck at 10k devices. The batch
    writer builds one Graph per flush from these (``GraphStore.set_properties`` takes both)."""

    def add(self, triple) -> "Triples":
        self.append(triple)
        return self


def _mint(kind: str, local_id: str):
    return URIRef(mint_iri(kind, local_id))


def device_iri(device_id: str):
    return _mint("device", device_id)


def model_iri(model_id: str):
    return _mint("model", model_id)


def site_iri(site_id: str):
    return _mint("site", site_id)


def deployment_iri(deployment_id: str):
    return _mint("deployment", deployment_id)


def fl_round_iri(run_id: str, round_number: int):
    return _mint("fl", f"{run_id}/round/{int(round_number)}".replace("/", "--"))


def id_from_iri(iri: str) -> str:
    """Back from `.../id/device/pi-01` to `pi-01` (the last path segment, unquoted)."""
    from urllib.parse import unquote
    return unquote(str(iri).rstrip("/").rsplit("/", 1)[-1])
