"""`cloud-sync fl run` in simulation: files written, resume, clear errors."""
from __future__ import annotations

import json
import subprocess
import sys

from cloud_sync.cli import main


def test_fl_run_writes_rounds_summary_plot_and_resumes(tmp_path, capsys):
    args = ["fl", "run", "--strategy", "tinymetafed", "--task", "sine", "--devices", "5", "--rounds", "4",
            "--data", str(tmp_path), "--no-progress", "--set", "local_steps=4", "--param", "n_eval_tasks=5"]
    assert main(args) == 0
    run = tmp_path / "fl" / "sine-tinymetafed"
    rounds = [json.loads(line) for line in (run / "rounds.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rounds] == [0, 1, 2, 3]
    assert all(0 < r["bytes_up"] < 2000 for r in rounds)  # int8 top-10% of 4,353 values
    summary = json.loads((run / "summary.json").read_text())
    assert summary["client_updates"] == 4 and "mse" in summary["final"]
    assert (run / "learning_curve.png").stat().st_size > 1000
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["round"] == 3
    assert main([*args[:9], "6", *args[10:]]) == 0  # 6 rounds: resumes after round 3
    rounds = [json.loads(line) for line in (run / "rounds.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rounds] == [0, 1, 2, 3, 4, 5]


def test_fl_run_reports_bad_input_without_traceback(tmp_path):
    out = subprocess.run([sys.executable, "-m", "cloud_sync.cli", "fl", "run", "--strategy", "fedsgd",
                          "--task", "sine", "--devices", "2", "--rounds", "1", "--data", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "unknown --strategy 'fedsgd'" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run([sys.executable, "-m", "cloud_sync.cli", "fl", "run", "--strategy", "fedavg",
                          "--task", "sine", "--devices", "2", "--rounds", "1", "--data", str(tmp_path),
                          "--set", "warp=9"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "warp" in out.stderr


def test_rounds_are_recorded_in_the_fleet_graph(tmp_path):
    pytest = __import__("pytest")
    live = pytest.importorskip("ontology.live")
    from cloud_sync.fl import make_strategy
    from cloud_sync.fl.session import FederatedSession
    from ontology.queries import run_named
    from ontology.store import GraphStore

    store = GraphStore.open(None)
    session = FederatedSession("sine", {"n_devices": 3, "n_eval_tasks": 3},
                               make_strategy("tinyreptile", rounds=3, local_steps=4))
    session.run(rounds=3, n_devices=3, data_dir=tmp_path, progress=False, eval_every=1,
                fleet_graph=live.FleetGraph(store))
    rows = run_named(store, "fl_round_metrics", run="sine-tinyreptile", metric="mse")
    assert [int(r["roundNumber"]) for r in rows] == [0, 1, 2]
    assert all(int(r["participants"]) == 1 and float(r["mean"]) > 0 for r in rows)
