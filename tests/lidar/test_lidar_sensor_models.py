"""Sensor catalogue, floor from the mount or a checked estimate, visibility, and health:
a sensor either finds people or says why it cannot."""
import numpy as np
import pytest

from edge_runtime.lidar.ground_model import GroundModel, mount_plane
from edge_runtime.lidar.sensor_models import MODELS, sensor_spec
from edge_runtime.lidar.sensors import SensorSpec
from edge_runtime.lidar.visibility import beams_on_person, coverage_summary, lowest_visible_height


@pytest.mark.parametrize("name", sorted(MODELS))
def test_catalogue_models_build_and_round_trip(name):
    spec = sensor_spec(name, "s0", height_m=2.2, tilt_deg=10, range_m=8.0)
    assert spec.beams == MODELS[name].beams and spec.model == name
    assert len(spec.ray_directions()) == spec.beams * spec.azimuth_steps
    assert SensorSpec.from_dict(spec.to_dict()) == spec


def test_sensor_config_from_a_model_name_and_bad_values_are_refused():
    spec = SensorSpec.from_dict({"sensor_id": "a", "x": 0, "y": 0, "z": 2.2, "model": "VLP-16"})
    assert spec.beams == 16 and spec.elevation_deg == (-15.0, 15.0)
    with pytest.raises(ValueError, match="unknown LiDAR model"):
        sensor_spec("VLP-17", "s0")
    with pytest.raises(ValueError, match="mount height"):
        sensor_spec("VLP-16", "s0", height_m=50)
    with pytest.raises(ValueError, match="beams"):
        SensorSpec("s", 0, 0, 2, beams=0)


def test_mount_plane_puts_the_world_floor_at_height_zero():
    spec = sensor_spec("OS1-64", "s0", x=3, y=1, height_m=3.5, tilt_deg=10, yaw_deg=40)
    plane = mount_plane(spec)
    floor_world = np.array([[5.0, 2.0, 0.0], [1.0, -3.0, 0.0]])
    floor_sensor = (floor_world - spec.origin) @ spec.rotation()           # inverse of to_world
    np.testing.assert_allclose(plane.height(floor_sensor), 0.0, atol=1e-9)
    np.testing.assert_allclose(plane.height(np.zeros((1, 3))), 3.5)


def test_vlp16_at_2_2_m_has_a_blind_cone_and_sees_heads_beyond_it():
    spec = sensor_spec("VLP-16", "s0", height_m=2.2, range_m=8.0)
    plane = mount_plane(spec)
    near, mid = np.array([[1.0, 0.0]]), np.array([[3.0, 0.0]])
    assert beams_on_person(spec, plane, near)[0] == 0                    # under the mast: nothing
    assert 1.3 < lowest_visible_height(spec, plane, mid)[0] < 1.5        # 3 m out: head and shoulders
    summary = coverage_summary(spec, plane)
    assert summary["floor_visible_from_m"] is None                       # floor beyond the 8 m range
    assert 1.5 < summary["blind_radius_m"] < 3.5 and summary["visible_area_fraction"] > 0.6


def _frames(spec, n, people=6, seed=3):
    from edge_runtime.lidar.synth_scene import SceneSpec, WalkwaySimulator, WalkwaySpec

    simulator = WalkwaySimulator(SceneSpec(WalkwaySpec(length_m=20), [spec], people, n / 10, 10.0, seed))
    return [f.sensors[spec.sensor_id].points for f in simulator.frames()]


def _ground_health(configured, rendered=None) -> dict:
    """Health of a floor estimate for ``configured`` fed 10 frames rendered by ``rendered``."""
    ground = GroundModel(configured)
    for points in _frames(rendered or configured, 10):
        ground.observe(points)
    return ground.health()


def test_nominal_mount_without_floor_in_view_falls_back_and_says_why():
    spec = sensor_spec("VLP-16", "s0", x=10, y=-2, height_m=2.2, range_m=8.0, azimuth_steps=600, pose_known=False)
    health = _ground_health(spec)
    assert health["source"] == "mount_fallback" and not health["plausible"]
    assert "floor is not in view" in health["issues"][0]


def test_nominal_mount_with_floor_in_view_is_estimated_and_checked():
    spec = sensor_spec("OS0-32", "s0", x=10, y=-2, height_m=2.2, range_m=8.0, azimuth_steps=512, pose_known=False)
    health = _ground_health(spec)
    assert health["source"] == "estimated", health
    assert abs(health["estimate"]["height_m"] - 2.2) < 0.05 and health["estimate"]["normal_error_deg"] < 1.0
    wrong = sensor_spec("OS0-32", "s0", x=10, y=-2, height_m=3.2, range_m=8.0, azimuth_steps=512, pose_known=False)
    health = _ground_health(wrong, rendered=spec)    # the data say 2.2 m, the mount says 3.2 m
    assert health["source"] == "mount_fallback"
    assert "the mount says 3.2 m" in health["issues"][0]


def _track_scene(spec, seconds=12.0, people=8, seed=5):
    from edge_runtime.lidar.pipeline import SensorPipeline
    from edge_runtime.lidar.scene_run import run_methods, simulated_frames
    from edge_runtime.lidar.synth_scene import SceneSpec, WalkwaySimulator, WalkwaySpec

    scene = SceneSpec(WalkwaySpec(length_m=20), [spec], people, seconds, 10.0, seed)
    pipelines = {}

    def make(s):
        pipelines[s.sensor_id] = SensorPipeline(s)
        return pipelines[s.sensor_id]
    run = run_methods(simulated_frames(WalkwaySimulator(scene)), [spec], {"ours": make})["ours"]
    return run, pipelines[spec.sensor_id]


def test_16_beams_at_2_2_m_find_people():
    """Issue 18: the shipped pipeline returned 0 tracks, no warning, for this sensor."""
    from edge_runtime.lidar.evaluation import mot_metrics

    spec = sensor_spec("VLP-16", "s0", x=10, y=-1.5, height_m=2.2, range_m=8.0, azimuth_steps=900)
    run, pipeline = _track_scene(spec)
    scores = mot_metrics(run.truth["s0"][run.warmup_frames:])
    assert scores["gt_objects"] > 100
    assert scores["recall"] >= 0.8 and scores["precision"] >= 0.95, scores
    assert pipeline.health()["status"] == "ok", pipeline.health()["issues"]


def test_a_sensor_that_cannot_see_anyone_says_so():
    spec = sensor_spec("VLP-16", "s0", x=10, y=0, height_m=3.5, range_m=2.0, azimuth_steps=600)
    run, pipeline = _track_scene(spec, seconds=4.0)
    assert not any(run.tracks["s0"][-1])
    health = pipeline.health()
    assert health["status"] == "blind"
    assert any("reaches a 1.55 m person anywhere" in issue for issue in health["issues"])
