"""The demo's progress is a compact block (a header, one short line per workload), not one
400-character line; a workload whose summary fails does not stop it."""
from __future__ import annotations

from types import SimpleNamespace

from cloud_sync.demo.run import PROGRESS_WIDTH, _progress_line


class _Workload:
    def __init__(self, name, text=None):
        self.name, self.text = name, text

    def summary(self, ctx):
        if self.text is None:
            raise RuntimeError("broken")
        return self.text


def test_progress_block_is_one_short_line_per_workload():
    coordinator = SimpleNamespace(devices=lambda: [{"online": True}, {"online": False}], count_results=lambda: 1234)
    ctx = SimpleNamespace(stack=SimpleNamespace(coordinator=coordinator))
    active = [_Workload("lidar", "x" * 400), _Workload("fl", "3 rounds"), _Workload("edvit")]
    lines = _progress_line(ctx, active, 35.0, 180.0).splitlines()
    assert lines[0] == "[   35/180 s] 1/2 online · 1234 results"
    assert len(lines) == 4 and all(len(line) <= PROGRESS_WIDTH for line in lines)
    assert lines[1].startswith("  lidar") and lines[1].endswith("…")
    assert lines[2] == "  fl         3 rounds" and "summary failed: RuntimeError: broken" in lines[3]
