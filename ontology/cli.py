"""`cloud-sync query`: ask the fleet graph in SPARQL, by hand or by canned query name."""
from __future__ import annotations

import argparse
import sys

DEFAULT_STORE = "./var/graph"

EPILOG = """\
examples:
  cloud-sync query --list
  cloud-sync query --data ./var --name site_status        (the coordinator's --data folder)
  cloud-sync query --name capable_devices --param sensor=microphone --param arena=30000
  cloud-sync query --name devices_offline_since --param since=2026-01-04T12:00:00Z --param site=eu
  cloud-sync query 'SELECT ?d ?ram WHERE { ?d er:ramBytes ?ram } LIMIT 5'
  cloud-sync query --file my-query.rq --format csv > out.csv
  cloud-sync query --endpoint http://coordinator:8080/sparql --name site_status
  cloud-sync query --store ./var/graph --serve 127.0.0.1:7878      # standalone /sparql endpoint

Prefixes er: td: sosa: ssn: saref: mls: schema: dct: rdf: rdfs: xsd: are predeclared when a
query declares none. Directory stores are opened read-only, so this works while the
coordinator runs. See docs/ontology.md for the vocabulary and each canned query.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "query", help="SPARQL over the fleet graph (canned or your own)",
        description="Run SPARQL against the fleet graph: a query text, a .rq file or a named canned query.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sparql", nargs="?", help="the query text")
    p.add_argument("--file", "-f", help="read the query from this .rq file")
    p.add_argument("--list", action="store_true", help="list the canned queries and their parameters")
    p.add_argument("--name", "-n", help="run this canned query (see --list)")
    p.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter of the canned query (repeatable)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--data", default=None, metavar="DIR",
                       help="coordinator data folder, as for devices/results/cmd (its graph/ is the store)")
    where.add_argument("--store", default=None, help=f"graph store directory or SPARQL URL (default {DEFAULT_STORE})")
    where.add_argument("--endpoint", help="SPARQL 1.1 endpoint URL (e.g. the coordinator's /sparql)")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format")
    p.add_argument("--timeout", type=float, default=30.0, help="query time limit in seconds (default 30)")
    p.add_argument("--serve", metavar="HOST:PORT", help="serve the store at http://HOST:PORT/sparql instead")
    p.add_argument("--update-token", help="with --serve: bearer token that allows SPARQL updates")
    p.set_defaults(handler=run_query_command)


def _print_list() -> int:
    from ontology.queries import list_queries
    for q in list_queries():
        print(f"{q.name}\n    {q.description}")
        for param in q.params:
            need = "required" if param.required else (f"default {param.default}" if param.default else "optional")
            print(f"    --param {param.name}=<{param.type}>  ({need}) {param.help}")
    return 0


def _open_store(args):
    from pathlib import Path

    from edge_runtime.clitools import CliError
    from ontology.store import GraphStore, StoreUnavailable

    location = args.endpoint or args.store or (str(Path(args.data) / "graph") if args.data else DEFAULT_STORE)
    is_url = str(location).startswith(("http://", "https://"))
    if not is_url and not args.serve and not (Path(location) / "CURRENT").exists():
        raise CliError(f"no graph store in {location!r}: start the coordinator (its --data dir holds graph/), "
                       f"pass --data DIR (the coordinator's), --store DIR, or --endpoint URL")
    try:
        return GraphStore.open(location, read_only=not is_url and not args.serve)
    except StoreUnavailable as exc:
        raise CliError(str(exc)) from None


def _query_text(args) -> tuple[str, int]:
    """(SPARQL, lines added in front) from the argument, --file or --name."""
    from pathlib import Path

    from edge_runtime.clitools import CliError
    from ontology.ns import PREFIXES
    from ontology.queries import QueryParamError, render

    if args.name:
        params = {}
        for item in args.param:
            key, sep, value = item.partition("=")
            if not sep:
                raise CliError(f"--param {item!r}: write KEY=VALUE")
            params[key.strip()] = value
        try:
            return render(args.name, **params), 0
        except QueryParamError as exc:
            raise CliError(str(exc)) from None
    if args.param:
        raise CliError("--param only goes with --name (a canned query)")
    if args.file:
        try:
            text = Path(args.file).read_text()
        except OSError as exc:
            raise CliError(f"cannot read query file {args.file!r}: {exc.strerror}") from None
    elif args.sparql:
        text = args.sparql
    else:
        raise CliError("give a query: 'SPARQL TEXT', --file FILE, --name NAME or --list")
    if "prefix" not in text.lower():
        return " ".join(f"PREFIX {p}: <{iri}>" for p, iri in PREFIXES.items()) + "\n" + text, 1
    return text, 0


def run_query_command(args) -> int:
    from edge_runtime.clitools import CliError
    from ontology.results import table
    from ontology.store import QueryTimeout, SparqlSyntaxError, StoreUnavailable

    if args.list:
        return _print_list()
    store = _open_store(args)
    if args.serve:
        from ontology.endpoint import serve
        host, _, port = args.serve.rpartition(":")
        serve(store, host or "127.0.0.1", int(port), update_token=args.update_token, timeout_s=args.timeout)
        return 0
    sparql, shift = _query_text(args)
    try:
        result = store.query_result(sparql, timeout_s=args.timeout)
    except SparqlSyntaxError as exc:
        where = f" at line {exc.line - shift}, column {exc.column}" if exc.line else ""
        raise CliError(f"SPARQL syntax error{where}: {exc.message}") from None
    except (QueryTimeout, StoreUnavailable) as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    out = sys.stdout
    if result.form == "graph":
        out.write(result.to_ntriples().decode())
    elif args.format == "json":
        out.write(result.to_sparql_json().decode() + "\n")
    elif args.format == "csv":
        out.write(result.to_csv().decode())
    elif result.form == "ask":
        print("true" if result.boolean else "false")
    else:
        rows = [["" if t is None else t.value for t in row] for row in result.rows]
        print(table(result.variables, rows))
        print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return 0
