"""set_properties overwrites exactly the (subject, predicate) pairs it is given, in one update.

The live writer sends it thousands of pairs at once as a plain list of triples; the old values
of those pairs go (in one DELETE joined on a VALUES list), every other triple stays.
"""
from __future__ import annotations

from rdflib import Literal, URIRef

from ontology.store import GraphStore

EX = "https://example.org/"


def _values(store, subject: str, predicate: str) -> list[str]:
    rows = store.query(f"SELECT ?o WHERE {{ <{EX}{subject}> <{EX}{predicate}> ?o }}")
    return sorted(str(row["o"]) for row in rows)


def test_only_the_given_pairs_are_overwritten_and_awkward_literals_survive(tmp_path):
    store = GraphStore.open(tmp_path / "g")
    subjects = [URIRef(f"{EX}dev{i}") for i in range(300)]
    a, b, c = (URIRef(EX + name) for name in "abc")
    store.set_properties([(s, p, Literal(f"{i}-{p[-1]}")) for i, s in enumerate(subjects) for p in (a, b, c)])
    store.set_properties([(s, b, Literal(i * 10)) for i, s in enumerate(subjects[:200])]
                         + [(subjects[0], c, Literal('quote " newline \n cr \r tab \t'))])
    assert _values(store, "dev5", "b") == ["50"], "the old value of a given pair must go"
    assert _values(store, "dev5", "a") == ["5-a"] and _values(store, "dev5", "c") == ["5-c"]
    assert _values(store, "dev250", "b") == ["250-b"], "pairs not given stay as they were"
    assert _values(store, "dev0", "c") == ['quote " newline \n cr \r tab \t']
    count = store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")[0]["n"]
    assert int(count) == 900
    store.set_properties([])                       # nothing to write is not an error
    store.close()
