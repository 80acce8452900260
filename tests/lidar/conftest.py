"""LiDAR test fixtures: one small simulated walkway, run once per session and shared."""
from __future__ import annotations

import pytest

SMALL_SCENE = dict(people=12, duration_s=25.0, sensors=3, seed=7, azimuth_steps=768)


@pytest.fixture(scope="session")
def small_run():
    """(spec, SceneRun) of a 25 s, 3-sensor, 12-person walkway with the bundled embedding."""
    from edge_runtime.lidar.embedding import PersonEmbedder
    from edge_runtime.lidar.scene_run import run_scene, simulated_frames
    from edge_runtime.lidar.synth_scene import WalkwaySimulator, walkway_spec

    spec = walkway_spec(**SMALL_SCENE)
    run = run_scene(simulated_frames(WalkwaySimulator(spec)), spec.sensors, embedder=PersonEmbedder())
    return spec, run


@pytest.fixture(scope="session")
def tiny_scene_folder(tmp_path_factory):
    """A scene folder written by the CLI: 2 sensors, 32 beams × 512 steps, 10 people, 6 s."""
    from edge_runtime.cli import main

    folder = tmp_path_factory.mktemp("lidar") / "scene"
    code = main(["lidar", "simulate", str(folder), "--people", "10", "--duration", "6", "--sensors", "2",
                 "--beams", "32", "--azimuth-steps", "512", "--seed", "1"])
    assert code == 0
    return folder
