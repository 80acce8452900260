"""SHACL validation of descriptions before they enter the fleet graph.

Why here and not in the store: a bad description (a device without a RAM figure, a model with
a negative size) would silently make capability queries wrong, so it is refused at the door with
violations a person can act on: which node, which property, what is wrong.
pyshacl runs without inference (fast: the shapes only need the description's own triples).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.namespace import RDF, SH

from ontology.ns import PREFIXES

SHAPES_DIR = Path(__file__).parent / "shapes"


@dataclass(frozen=True)
class Violation:
    focus: str
    path: str
    message: str
    value: str | None = None
    severity: str = "Violation"

    def __str__(self) -> str:
        where = f"{self.focus}: {self.path}" if self.path else self.focus
        got = f" (got {self.value})" if self.value is not None else ""
        return f"{where}: {self.message}{got}"


class DescriptionRejected(ValueError):
    """A description failed SHACL validation; `.violations` lists what to fix."""

    def __init__(self, violations: list[Violation]):
        self.violations = violations
        lines = "\n  ".join(str(v) for v in violations)
        super().__init__(f"description rejected by SHACL ({len(violations)} problem(s)):\n  {lines}")


def shorten(term) -> str:
    """`https://w3id.org/edge-runtime/ns#ramBytes` → `er:ramBytes`; others as <iri> or literal."""
    text = str(term)
    if isinstance(term, URIRef):
        for prefix, iri in PREFIXES.items():
            if text.startswith(iri) and len(text) > len(iri):
                return f"{prefix}:{text[len(iri):]}"
        return f"<{text}>"
    return repr(text) if term is not None else ""


@functools.lru_cache(maxsize=1)
def shapes_graph() -> Graph:
    graph = Graph()
    for path in sorted(SHAPES_DIR.glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


def validate(data: Graph) -> list[Violation]:
    """All SHACL violations of `data` against our shapes (empty list: it conforms)."""
    import pyshacl

    conforms, report, _ = pyshacl.validate(
        data, shacl_graph=shapes_graph(), inference="none", abort_on_first=False,
        allow_infos=True, allow_warnings=True, advanced=False)
    if conforms:
        return []
    violations = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        path = report.value(result, SH.resultPath)
        value = report.value(result, SH.value)
        messages = sorted(str(m) for m in report.objects(result, SH.resultMessage))
        severity = report.value(result, SH.resultSeverity)
        violations.append(Violation(
            focus=shorten(focus), path=shorten(path) if path is not None else "",
            message="; ".join(messages) or "does not conform",
            value=str(value) if value is not None else None,
            severity=str(severity).rsplit("#", 1)[-1] if severity is not None else "Violation"))
    return sorted(set(violations), key=lambda v: (v.focus, v.path, v.message))


def check(data: Graph) -> None:
    """Raise DescriptionRejected with the violations if `data` does not conform."""
    violations = validate(data)
    if violations:
        raise DescriptionRejected(violations)
