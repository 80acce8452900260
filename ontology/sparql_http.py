"""GraphStore backend for a remote SPARQL 1.1 endpoint (Fuseki, GraphDB, Oxigraph server, ours).

Only the standard protocol is used (query and update by POST), so any conforming server works.
Fuseki/GraphDB/Oxigraph server expose update at a different path than query; pass the query URL
and, if it differs, `update_url`. Our own endpoint takes both at /sparql.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from ontology.results import QueryResult, Term
from ontology.store import QueryTimeout, SparqlSyntaxError, StoreUnavailable

_INSERT_CHUNK = 5000  # triples per INSERT DATA request


class HttpBackend:
    def __init__(self, url: str, update_url: str | None = None, token: str | None = None):
        self.location = url
        self.query_url = url
        self.update_url = update_url or _guess_update_url(url)
        self.token = token

    def _post(self, url: str, body: str, content_type: str, accept: str, timeout_s: float) -> bytes:
        headers = {"Content-Type": content_type, "Accept": accept}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:2000]
            if exc.code == 400:
                raise SparqlSyntaxError.from_parser(detail) from None
            if exc.code in (408, 503, 504):
                raise QueryTimeout(f"{url} answered {exc.code}: {detail}") from None
            raise StoreUnavailable(f"{url} answered HTTP {exc.code}: {detail}") from None
        except TimeoutError:
            raise QueryTimeout(f"{url} did not answer within {timeout_s:g} s") from None
        except urllib.error.URLError as exc:
            raise StoreUnavailable(f"cannot reach the SPARQL endpoint {url}: {exc.reason}. "
                                   f"Is the server running, and is the URL right?") from None

    def query(self, sparql: str, timeout_s: float) -> QueryResult:
        accept = "application/sparql-results+json, application/n-triples;q=0.9"
        raw = self._post(self.query_url, sparql, "application/sparql-query", accept, timeout_s)
        text = raw.decode()
        if text.lstrip().startswith("{"):
            return QueryResult.from_sparql_json(json.loads(text))
        return QueryResult("graph", triples=_parse_ntriples(text))

    def update(self, sparql: str, timeout_s: float = 60.0) -> None:
        self._post(self.update_url, sparql, "application/sparql-update", "*/*", timeout_s)

    def load_ntriples(self, data: str) -> None:
        lines = [line for line in data.splitlines() if line.strip()]
        for start in range(0, len(lines), _INSERT_CHUNK):
            chunk = "\n".join(lines[start:start + _INSERT_CHUNK])
            self.update(f"INSERT DATA {{\n{chunk}\n}}")

    def load_file(self, path, fmt: str) -> None:
        from rdflib import Graph
        self.load_ntriples(Graph().parse(path, format=fmt).serialize(format="nt"))

    def close(self) -> None:
        pass


def _guess_update_url(url: str) -> str:
    """Fuseki (/ds/query) and Oxigraph server (/query) take updates at …/update; ours at /sparql."""
    return url[: -len("/query")] + "/update" if url.endswith("/query") else url


def _parse_ntriples(text: str) -> list[tuple[Term, Term, Term]]:
    from rdflib import BNode, Graph, Literal, URIRef

    def term(node) -> Term:
        if isinstance(node, URIRef):
            return Term("uri", str(node))
        if isinstance(node, BNode):
            return Term("bnode", str(node))
        assert isinstance(node, Literal)
        return Term("literal", str(node), str(node.datatype) if node.datatype else None, node.language)

    return [(term(s), term(p), term(o)) for s, p, o in Graph().parse(data=text, format="nt")]
