"""`cloud-sync query` end to end on a persistent store written the way the coordinator writes it."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ontology.fleetgen import load_fleet
from ontology.queries import run_named
from ontology.store import GraphStore


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory, fleet_ntriples):
    path = tmp_path_factory.mktemp("var") / "graph"
    store = GraphStore.open(path)
    load_fleet(store, fleet_ntriples)
    expected = run_named(store, "site_status")
    store.close()
    return path, expected


def cli(*args: str) -> subprocess.CompletedProcess:
    """The real console entry point in a child process (what a person types)."""
    return subprocess.run([sys.executable, "-m", "cloud_sync.cli", "query", *args],
                          capture_output=True, text=True, timeout=60)


def cli_here(capsys, *args: str) -> subprocess.CompletedProcess:
    """The same entry point in this process (fast, for the error cases)."""
    from cloud_sync.cli import main
    code = main(["query", *args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def test_named_query_json_and_table(store_dir):
    path, expected = store_dir
    done = cli("--store", str(path), "--name", "site_status", "--format", "json")
    assert done.returncode == 0, done.stderr
    bindings = json.loads(done.stdout)["results"]["bindings"]
    assert [(b["siteId"]["value"], int(b["online"]["value"])) for b in bindings] == \
        [(r["siteId"], r["online"]) for r in expected]
    table = cli("--store", str(path), "--name", "capable_devices", "--param", "sensor=microphone",
                "--param", "arena=20000")
    assert table.returncode == 0 and table.stdout.splitlines()[0].split() == ["device", "ram", "storage"]
    assert table.stdout.rstrip().endswith("rows)")


def test_text_query_with_predeclared_prefixes_csv_and_file(store_dir, tmp_path, capsys):
    path, expected = store_dir
    done = cli("--store", str(path), "--format", "csv",
               "SELECT (COUNT(?d) AS ?n) WHERE { ?d a saref:Device ; er:online true }")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["n", str(sum(r["online"] for r in expected))]
    query_file = tmp_path / "q.rq"
    query_file.write_text("PREFIX er: <https://w3id.org/edge-runtime/ns#>\nASK { ?d er:ramBytes ?r }")
    assert cli_here(capsys, "--store", str(path), "--file", str(query_file)).stdout.strip() == "true"


def test_cli_errors_are_sentences(store_dir, tmp_path, capsys):
    path, _ = store_dir
    bad = cli("--store", str(path), "SELECT ?x WHERE { ?x er:ramBytes }")
    assert bad.returncode == 2 and "SPARQL syntax error at line 1, column" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = cli_here(capsys, "--store", str(tmp_path / "nothing"), "--name", "site_status")
    assert missing.returncode == 2 and "no graph store" in missing.stderr
    param = cli_here(capsys, "--store", str(path), "--name", "devices_offline_since")
    assert param.returncode == 2 and "needs parameter 'since'" in param.stderr
    listed = cli_here(capsys, "--list")
    assert listed.returncode == 0 and "devices_offline_since" in listed.stdout and "--param since=<dateTime>" in listed.stdout


def test_data_folder_like_the_other_commands(store_dir, capsys):
    """`--data DIR` (the coordinator's folder, as devices/results/cmd take it) finds DIR/graph."""
    path, expected = store_dir
    done = cli_here(capsys, "--data", str(path.parent), "--name", "site_status", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["results"]["bindings"]) == len(expected)
    missing = cli_here(capsys, "--data", str(path.parent / "elsewhere"), "--name", "site_status")
    assert missing.returncode == 2 and "--data DIR" in missing.stderr
