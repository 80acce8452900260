"""The library of named fleet queries (`ontology/queries/*.rq`) and safe parameter binding.

Each .rq file is plain SPARQL with a header:
    # <description>
    # param: <name> <type> <required|optional|DEFAULT> -- <help>
and one or more `#@values` markers inside WHERE. Parameters are bound by replacing each marker
with a `VALUES (?a ?b) { (… …) }` row of typed RDF terms (UNDEF when an optional one is absent);
user text never becomes query syntax, it only becomes an escaped literal or a minted IRI.
A line ending in `#@if NAME` is kept only when parameter NAME is given (and not false): an
optional filter then becomes a plain triple pattern Oxigraph can use an index for, instead of a
`FILTER(!BOUND(?x) || EXISTS {…})` it must test row by row (40× slower on 10k devices).
A line ending in `#@unless NAME` is kept only when NAME is absent (or false): the other way to
reach the same variable, e.g. an OPTIONAL that a given parameter has already made a lookup.
The FL coordinator and the ED-ViT planner pick devices through `capable_devices` /
`devices_for_model` here, so the choice is a query over the live graph, not a Python filter.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rdflib import Literal
from rdflib.namespace import XSD

from ontology.ns import device_iri, model_iri, site_iri

QUERIES_DIR = Path(__file__).parent / "queries"
MARKER = "#@values"
_PARAM_LINE = re.compile(r"^#\s*param:\s*(\w+)\s+(\w+)\s+(\S+)\s*(?:--\s*(.*))?$")
_IF_LINE = re.compile(r"#@(if|unless)\s+(\w+)\s*$")
_FALSE = Literal(False).n3()
TYPES = ("string", "integer", "double", "boolean", "dateTime", "device", "site", "model")


class QueryParamError(ValueError):
    """A parameter was unknown, missing or of the wrong type; the message says which and why."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    required: bool
    default: str | None
    help: str


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    params: tuple[Param, ...]
    text: str
    path: Path


def _parse(path: Path) -> NamedQuery:
    text = path.read_text()
    description, params = [], []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        found = _PARAM_LINE.match(line)
        if found:
            name, kind, req, help_text = found.groups()
            if kind not in TYPES:
                raise ValueError(f"{path}: parameter {name!r} has unknown type {kind!r} (use {TYPES})")
            params.append(Param(name, kind, req == "required",
                                None if req in ("required", "optional") else req, help_text or ""))
        else:
            description.append(line.lstrip("# ").strip())
    if params and MARKER not in text:
        raise ValueError(f"{path}: has parameters but no {MARKER} marker inside WHERE")
    names = {p.name for p in params}
    for line in text.splitlines():
        found = _IF_LINE.search(line)
        if found and found.group(2) not in names:
            raise ValueError(f"{path}: '#@{found.group(1)} {found.group(2)}' names no declared parameter")
    return NamedQuery(path.stem, " ".join(description), tuple(params), text, path)


@functools.lru_cache(maxsize=1)
def _library() -> dict[str, NamedQuery]:
    return {p.stem: _parse(p) for p in sorted(QUERIES_DIR.glob("*.rq"))}


def list_queries() -> list[NamedQuery]:
    return list(_library().values())


def get_query(name: str) -> NamedQuery:
    try:
        return _library()[name]
    except KeyError:
        raise QueryParamError(f"no canned query named {name!r}; known: {', '.join(_library())}") from None


def sparql_value(param: Param, value: Any) -> str:
    """A parameter value as a SPARQL term (N-Triples syntax), checked against its type."""
    kind = param.type
    try:
        if kind == "integer":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError("not a whole number")
            return Literal(int(value)).n3()
        if kind == "double":
            return Literal(float(value), datatype=XSD.double).n3()
        if kind == "boolean":
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError("use true or false")
                value = value.lower() in ("true", "1", "yes")
            return Literal(bool(value)).n3()
        if kind == "dateTime":
            when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            return Literal(when.astimezone(timezone.utc), datatype=XSD.dateTime).n3()
        if kind in ("device", "site", "model"):
            minted = {"device": device_iri, "site": site_iri, "model": model_iri}[kind](str(value))
            return minted.n3()
        return Literal(str(value)).n3()
    except (TypeError, ValueError) as exc:
        raise QueryParamError(f"parameter {param.name!r} expects a {kind}, got {value!r}: {exc}") from None


def render(name: str, **params: Any) -> str:
    """The query text with parameters bound (see module docstring)."""
    query = get_query(name)
    known = {p.name: p for p in query.params}
    unknown = set(params) - set(known)
    if unknown:
        raise QueryParamError(f"query {name!r} has no parameter(s) {', '.join(sorted(unknown))}; "
                              f"it takes: {', '.join(known) or 'none'}")
    if not known:
        return query.text
    cells, present = [], set()
    for p in query.params:
        value = params.get(p.name)
        if value is None:
            value = p.default
        if value is None and p.required:
            raise QueryParamError(f"query {name!r} needs parameter {p.name!r} ({p.type}): {p.help}")
        term = "UNDEF" if value is None else sparql_value(p, value)
        cells.append(term)
        if value is not None and term != _FALSE:
            present.add(p.name)
    values = f"VALUES ({' '.join('?' + p.name for p in query.params)}) {{ ({' '.join(cells)}) }}"
    lines = [line for line in query.text.splitlines()
             if not (found := _IF_LINE.search(line)) or (found.group(2) in present) == (found.group(1) == "if")]
    return "\n".join(lines).replace(MARKER, values) + "\n"


def run_named(store, name: str, timeout_s: float = 10.0, **params: Any) -> list[dict[str, Any]]:
    """Run a canned query with parameters; rows as dicts of Python values."""
    return store.query(render(name, **params), timeout_s=timeout_s)


def capable_devices(store, min_ram_bytes: int = 0, min_flash_bytes: int = 0, arena_bytes: int = 0,
                    sensor: str | None = None, backend: str | None = None,
                    online_only: bool = True) -> list[str]:
    """Ids of devices with RAM ≥ min_ram_bytes + arena_bytes, storage ≥ min_flash_bytes, the
    sensor kind and backend asked for (and online, unless online_only=False); sorted."""
    rows = run_named(store, "capable_devices", minRam=int(min_ram_bytes), arena=int(arena_bytes),
                     minFlash=int(min_flash_bytes), sensor=sensor, backend=backend,
                     onlineOnly=bool(online_only))
    return [row["device"] for row in rows]


def devices_for_model(store, model_id: str, *, backend: str | None = None, headroom_bytes: int = 0,
                      online_only: bool = True) -> list[str]:
    """Devices that can host a registered model: its file in storage, its arena (+ headroom) in
    RAM, the sensor it requires; backend defaults to tflm for .tflite with an arena, else any."""
    from ontology.ns import ER
    iri = model_iri(model_id).n3()
    rows = store.query(f"""SELECT ?size ?arena ?sensor ?format WHERE {{
        {iri} <{ER.fileSizeBytes}> ?size ; <{ER.modelFormat}> ?format .
        OPTIONAL {{ {iri} <{ER.arenaBytes}> ?arena }} OPTIONAL {{ {iri} <{ER.requiresSensor}> ?sensor }} }}""")
    if not rows:
        raise QueryParamError(f"model {model_id!r} is not in the graph; register it first")
    model = rows[0]
    return capable_devices(store, min_ram_bytes=headroom_bytes, min_flash_bytes=model["size"],
                           arena_bytes=model.get("arena", 0), sensor=model.get("sensor"),
                           backend=backend, online_only=online_only)
