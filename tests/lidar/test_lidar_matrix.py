"""The evaluation matrix benchmark: one short cell by default (both methods on the same frames,
every field the report needs), the whole report matrix when RUN_SLOW=1."""
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))


def test_seeds_are_split_and_cells_cover_the_matrix():
    import lidar_matrix

    every = lidar_matrix.cells()
    assert len(every) == 5 * 3 * 2 * 2
    assert len({c["index"] for c in every}) == len(every)
    assert lidar_matrix.TUNING_BASE + len(every) <= lidar_matrix.REPORT_BASE     # no seed in both sets


def test_one_short_cell_scores_both_methods(tmp_path):
    import lidar_matrix

    cell = next(c for c in lidar_matrix.cells(models=("VLP-16",), heights=(2.2,), tilts=(0.0,), crowds=(20,)))
    result = lidar_matrix.run_cell(cell, "tuning", duration_s=6.0, embedder=None)
    for method in ("ours", "naive"):
        scores = result[method]
        assert 0.0 <= scores["idf1"] <= 1.0 and scores["mota"] <= 1.0
        assert scores["per_sensor"] and scores["static_path_cpu_ms"]["p95"] > 0
        assert scores["recall_by_distance"]
    assert result["ours"]["mota"] > 0.5, result["ours"]           # 16 beams at 2.2 m: people are found
    assert set(result["goals_met"]) >= {"mota", "idf1", "link_f1", "above_peer", "static_p95"}
    summary = lidar_matrix.summarise([result])
    assert summary["cells"] == 1 and "worst_cell" in summary["ours"]["mota"]
    assert json.dumps(result)


@pytest.mark.slow
def test_report_matrix(tmp_path):
    import lidar_matrix

    out = tmp_path / "matrix.json"
    assert lidar_matrix.main(["--split", "report", "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["summary"]["cells"] == 60
    for cell in document["cells"]:
        assert cell["ours"]["mota"] > cell["naive"]["mota"] - 0.05, cell["model"]


def test_replay_on_recorded_detections_reproduces_the_direct_run(tmp_path):
    """lidar_tracker_replay / lidar_matrix_replay rerun tracking onwards on recorded detections:
    with the defaults they must give the direct run's scores, and a report row carries every
    field lidar_report.py reads."""
    import lidar_matrix
    import lidar_matrix_replay
    import lidar_tracker_replay

    from edge_runtime.lidar.config import PipelineConfig

    cell = next(c for c in lidar_matrix.cells(models=("VLP-16",), heights=(2.2,), tilts=(0.0,), crowds=(20,)))
    cached = lidar_tracker_replay.record(cell, 6.0, None, tmp_path)
    assert list(tmp_path.glob("replay_cell04_seed1004_6s.pkl"))          # tuning seed, tuning name
    replayed = lidar_tracker_replay.evaluate(cached, PipelineConfig(), None)
    assert replayed["ours"] == cached["ours_recorded"]
    changed = lidar_tracker_replay.evaluate(cached, PipelineConfig.from_dict({"tracker": {"min_hits": 30}}), None)
    assert changed["ours"] != cached["ours_recorded"]                   # the replay does use the setting
    assert cached["duration_s"] == 6.0
    row = lidar_matrix_replay.report_row(cached, PipelineConfig(), PipelineConfig(), None)
    assert row["ours"]["tracker_before"] == {k: row["ours"][k] for k in lidar_tracker_replay.KEYS}
    for method in ("ours", "naive"):
        assert row[method]["static_path_cpu_ms"]["p95"] > 0 and row[method]["recall_by_distance"]
    assert "hand_set_linker" in row["ours"] and set(row["goals_met"]) >= {"link_f1", "above_peer"}
    assert json.dumps(lidar_matrix.summarise([row]))


def test_report_document_follows_the_committed_results(tmp_path):
    """docs/lidar-matrix.md is generated: its summary, latency note and worst in-run p95 come
    from the result files, so the document cannot drift from them."""
    import lidar_report

    assert lidar_report.main(["--out", str(tmp_path / "matrix.md")]) == 0
    text = (tmp_path / "matrix.md").read_text()
    matrix = json.loads((lidar_report.RESULTS / "lidar_matrix_report.json").read_text())
    latency = json.loads((lidar_report.RESULTS / "lidar_latency.json").read_text())
    assert f"| link_f1 | {matrix['summary']['ours']['link_f1']['mean']:.3f} |" in text
    assert f"worst p95 {latency['worst_p95_cpu_ms']:.1f} ms" in text
    assert text.count("| met |") + text.count("| missed |") == len(latency["cells"])
    assert text == (Path(lidar_report.__file__).resolve().parents[1] / "docs" / "lidar-matrix.md").read_text()


def test_replay_setting_reaches_the_cloud_linker():
    """``linker.KEY=VALUE`` in --set / --baseline-set sets LinkerConfig (``none`` unsets),
    the rest stays the per-sensor config; an unknown linker key is refused."""
    import lidar_matrix_replay

    from edge_runtime.lidar.config import PipelineConfig

    config, linker = lidar_matrix_replay.setting(["linker.late_transit_cap_nll=none", "linker.min_frames=5"])
    assert linker.late_transit_cap_nll is None and linker.min_frames == 5 and isinstance(linker.min_frames, int)
    assert config == PipelineConfig()
    assert lidar_matrix_replay.setting([])[1].late_transit_cap_nll == 2.0
    assert lidar_matrix_replay.setting(["linker.transit_speed=mean"])[1].transit_speed == "mean"
    assert lidar_matrix_replay.setting([])[1].transit_speed == "faster"
    with pytest.raises(ValueError):
        lidar_matrix_replay.setting(["linker.no_such_key=1"])


def test_pair_model_fitter_sees_the_transit_cue_the_linker_uses():
    """A late arrival across sensors: the linker prices its transit at the cap, so the fitter
    must see it as a candidate with that same cue (uncapped it was above the candidate limit)."""
    from types import SimpleNamespace

    import lidar_fit_linker
    import numpy as np

    from cloud_sync.lidar.pair_cues import CUES
    from edge_runtime.lidar.segment import TrackSegment

    def walk(sensor, x0, x1, t0):
        times = np.round(t0 + np.arange(0, (x1 - x0) / 1.2, 0.1), 3)
        xy = np.column_stack([x0 + 1.2 * (times - t0), np.zeros_like(times)])
        segment = TrackSegment(sensor, 1, times, xy, {"height": 1.8}, np.array([1.0, 0.0, 0.0], np.float32))
        segment.truth_id = 7
        return segment

    exit_ = walk("s0", 2, 15, 0.0)
    late = walk("s1", 21, 38, exit_.t_end + 5.0 + 10.0)
    rows, labels = lidar_fit_linker.candidate_pairs(SimpleNamespace(segments=[exit_, late]))
    assert labels.tolist() == [True]
    assert rows[0, CUES.index("transit_nll")] == 2.0
