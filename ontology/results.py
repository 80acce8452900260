"""Backend-neutral SPARQL results: terms, rows, and their SPARQL 1.1 JSON / CSV forms.

Why a type of our own: the store may be local Oxigraph or a remote endpoint; the endpoint, CLI and
queries module must not care which, so both backends hand back these plain values.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, NamedTuple

XSD = "http://www.w3.org/2001/XMLSchema#"
JSON_TYPE = "application/sparql-results+json"
CSV_TYPE = "text/csv; charset=utf-8"
NT_TYPE = "application/n-triples"
_INTEGER_TYPES = {XSD + t for t in ("integer", "int", "long", "short", "byte", "nonNegativeInteger",
                                    "positiveInteger", "unsignedInt", "unsignedLong", "negativeInteger",
                                    "nonPositiveInteger", "unsignedShort", "unsignedByte")}
_FLOAT_TYPES = {XSD + t for t in ("double", "float", "decimal")}


class Term(NamedTuple):
    """One RDF term: kind is 'uri', 'literal' or 'bnode' (SPARQL JSON's own names).

    A NamedTuple, not a dataclass: a 10k-row result builds tens of thousands of these.
    """
    kind: str
    value: str
    datatype: str | None = None
    lang: str | None = None

    def to_python(self) -> Any:
        """IRIs and strings as str, numbers as int/float, booleans as bool (dates stay ISO text)."""
        if self.kind != "literal" or self.datatype is None:
            return self.value
        if self.datatype in _INTEGER_TYPES:
            return int(self.value)
        if self.datatype in _FLOAT_TYPES:
            return float(self.value)
        if self.datatype == XSD + "boolean":
            return self.value in ("true", "1")
        return self.value

    def to_json(self) -> dict:
        if self.kind == "literal":
            out = {"type": "literal", "value": self.value}
            if self.lang:
                out["xml:lang"] = self.lang
            elif self.datatype and self.datatype != XSD + "string":
                out["datatype"] = self.datatype
            return out
        return {"type": self.kind, "value": self.value}

    def to_ntriples(self) -> str:
        if self.kind == "uri":
            return f"<{self.value}>"
        if self.kind == "bnode":
            return f"_:{self.value}"
        text = json.dumps(self.value, ensure_ascii=False)
        if self.lang:
            return f"{text}@{self.lang}"
        if self.datatype and self.datatype != XSD + "string":
            return f"{text}^^<{self.datatype}>"
        return text

    @classmethod
    def from_json(cls, obj: dict) -> "Term":
        kind = obj["type"]
        if kind == "typed-literal":  # SPARQL 1.0 JSON, still sent by some servers
            kind = "literal"
        return cls(kind, obj["value"], obj.get("datatype"), obj.get("xml:lang"))


@dataclass
class QueryResult:
    """SELECT → variables + rows; ASK → boolean; CONSTRUCT/DESCRIBE → triples."""
    form: str  # 'select' | 'ask' | 'graph'
    variables: list[str] = field(default_factory=list)
    rows: list[tuple[Term | None, ...]] = field(default_factory=list)
    boolean: bool | None = None
    triples: list[tuple[Term, Term, Term]] = field(default_factory=list)

    def dicts(self) -> list[dict[str, Any]]:
        """Rows as {variable: python value}; unbound variables are left out."""
        return [{v: t.to_python() for v, t in zip(self.variables, row) if t is not None}
                for row in self.rows]

    def to_sparql_json(self) -> bytes:
        if self.form == "ask":
            doc: dict = {"head": {}, "boolean": bool(self.boolean)}
        else:
            doc = {"head": {"vars": self.variables}, "results": {"bindings": [
                {v: t.to_json() for v, t in zip(self.variables, row) if t is not None}
                for row in self.rows]}}
        return json.dumps(doc, ensure_ascii=False).encode()

    def to_csv(self) -> bytes:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        if self.form == "ask":
            writer.writerow(["boolean"])
            writer.writerow(["true" if self.boolean else "false"])
        else:
            writer.writerow(self.variables)
            for row in self.rows:
                writer.writerow(["" if t is None else (f"_:{t.value}" if t.kind == "bnode" else t.value)
                                 for t in row])
        return buf.getvalue().encode()

    def to_document(self, fmt: str = "json") -> tuple[str, bytes]:
        """(content type, bytes) as a SPARQL client gets it: graphs as N-Triples, else JSON or CSV."""
        if self.form == "graph":
            return NT_TYPE, self.to_ntriples()
        if fmt == "csv":
            return CSV_TYPE, self.to_csv()
        return JSON_TYPE, self.to_sparql_json()

    def to_ntriples(self) -> bytes:
        return "".join(f"{s.to_ntriples()} {p.to_ntriples()} {o.to_ntriples()} .\n"
                       for s, p, o in self.triples).encode()

    @classmethod
    def from_sparql_json(cls, doc: dict) -> "QueryResult":
        if "boolean" in doc:
            return cls("ask", boolean=bool(doc["boolean"]))
        variables = list(doc.get("head", {}).get("vars", []))
        rows = [tuple(Term.from_json(b[v]) if v in b else None for v in variables)
                for b in doc.get("results", {}).get("bindings", [])]
        return cls("select", variables=variables, rows=rows)


def table(variables: Iterable[str], rows: list[list[str]]) -> str:
    """A plain fixed-width text table for the CLI."""
    variables = list(variables)
    widths = [max([len(v)] + [len(r[i]) for r in rows]) for i, v in enumerate(variables)]
    line = "  ".join(v.ljust(w) for v, w in zip(variables, widths))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join([line, sep, *body])
