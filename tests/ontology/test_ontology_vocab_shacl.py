"""The vocabulary documents every term, the shapes and queries use only declared terms with the
right prefixes, and SHACL refuses bad descriptions with readable messages."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS

from device_profiles import list_profiles, load_profile
from ontology.describe_device import device_graph
from ontology.describe_events import deployment_graph
from ontology.model_facts import ModelFacts
from ontology.describe_model import model_graph
from ontology.ns import ER, PREFIXES, device_iri, model_iri
from ontology.queries import QUERIES_DIR
from ontology.shacl import SHAPES_DIR, DescriptionRejected, check, validate

VOCAB = Path(__file__).resolve().parents[2] / "ontology" / "vocab" / "edge-runtime.ttl"


@pytest.fixture(scope="module")
def vocab() -> Graph:
    return Graph().parse(VOCAB, format="turtle")


def _declared(vocab) -> set[str]:
    return {str(s) for s in vocab.subjects() if str(s).startswith(str(ER))}


def test_every_term_has_label_and_comment(vocab):
    terms = _declared(vocab)
    assert len(terms) > 60
    missing = [t for t in terms if vocab.value(URIRef(t), RDFS.label) is None
               or vocab.value(URIRef(t), RDFS.comment) is None]
    assert missing == []
    assert (URIRef("https://w3id.org/edge-runtime/ns"), RDF.type, OWL.Ontology) in vocab


def test_shapes_queries_and_data_use_only_declared_terms(vocab, fleet_ntriples):
    declared = _declared(vocab)
    used = set(re.findall(r"<(https://w3id\.org/edge-runtime/ns#\w+)>", fleet_ntriples))
    for path in list(SHAPES_DIR.glob("*.ttl")) + list(QUERIES_DIR.glob("*.rq")):
        used |= {str(ER) + local for local in re.findall(r"\ber:(\w+)", path.read_text())}
    used -= {str(ER) + s for s in ("DeviceShape", "SensorShape", "AcceleratorShape", "ModelShape",
                                   "TensorShape", "DeploymentShape")}
    assert used and sorted(used - declared) == []


def test_query_prefixes_match_the_data():
    """SeLoC-ML's failure: a prefix IRI in a query that differs from the data's."""
    for path in QUERIES_DIR.glob("*.rq"):
        for prefix, iri in re.findall(r"PREFIX\s+(\w+):\s*<([^>]+)>", path.read_text()):
            assert PREFIXES.get(prefix) == iri, f"{path.name}: PREFIX {prefix}: <{iri}>"


def test_real_profiles_conform():
    for pid in list_profiles():
        assert validate(device_graph(load_profile(pid), f"x-{pid}", site="lab")) == [], pid


def test_device_without_ram_is_rejected_with_readable_message():
    info = load_profile("arduino-nano-33-ble-sense").to_dict()
    info.pop("ram_bytes")
    with pytest.raises(DescriptionRejected) as caught:
        check(device_graph(info, "nano-7"))
    (violation,) = caught.value.violations
    assert violation.focus == f"<{device_iri('nano-7')}>"
    assert violation.path == "er:ramBytes"
    assert "needs its RAM size" in violation.message
    assert "nano-7" in str(caught.value) and "er:ramBytes" in str(caught.value)


def _facts(size: int) -> ModelFacts:
    return ModelFacts(path=Path("m.tflite"), format="tflite", file_size_bytes=size, sha256="0" * 64,
                      ops=["FULLY_CONNECTED"], operator_count=1, parameter_count=10, quantization="int8")


def test_model_with_negative_size_is_rejected_with_readable_message():
    assert validate(model_graph(_facts(100), "ok-model")) == []
    with pytest.raises(DescriptionRejected) as caught:
        check(model_graph(_facts(-5), "bad-model"))
    (violation,) = caught.value.violations
    assert violation.focus == f"<{model_iri('bad-model')}>" and violation.path == "er:fileSizeBytes"
    assert "positive whole number of bytes" in violation.message and violation.value == "-5"


def test_deployment_shape():
    good = deployment_graph("d1", "kws-v1", "pi-01", "healthy", "2026-01-01T00:00:00Z")
    assert validate(good) == []
    bad = Graph()
    for s, p, o in good:
        if p not in (ER.stateChanged,):
            bad.add((s, p, o))
    bad.add((next(iter(bad.subjects(RDF.type, None))), ER.stateChanged, Literal("soon")))
    problems = validate(bad)
    assert [v.path for v in problems] == ["er:stateChanged"]
    assert "xsd:dateTime" in problems[0].message
    with pytest.raises(ValueError, match="unknown deployment state 'exploded'"):
        deployment_graph("d1", "kws-v1", "pi-01", "exploded", 0)
