"""Ground fit, ground-plane clustering and the person filter on constructed clouds."""
import numpy as np
import pytest

from edge_runtime.lidar.clustering import cluster_ground_plane
from edge_runtime.lidar.config import GroundConfig
from edge_runtime.lidar.ground import fit_ground_plane


def tilted_floor(rng, n=20000, tilt_deg=5.0, z0=-1.7):
    xy = rng.uniform(-20, 20, size=(n, 2))
    z = z0 + np.tan(np.radians(tilt_deg)) * xy[:, 0] + rng.normal(0, 0.02, n)
    clutter = np.column_stack([rng.uniform(-20, 20, (3000, 2)), rng.uniform(-1, 2, 3000)])
    return np.vstack([np.column_stack([xy, z]), clutter]).astype(np.float32)


def test_ground_plane_recovered_and_deterministic():
    cloud = tilted_floor(np.random.default_rng(1))
    plane = fit_ground_plane(cloud)
    expected = np.array([-np.sin(np.radians(5.0)), 0, np.cos(np.radians(5.0))])
    assert np.degrees(np.arccos(abs(plane.normal @ expected))) < 0.5
    assert abs(plane.ground_z(np.array([[0.0, 0.0]]))[0] + 1.7) < 0.03
    again = fit_ground_plane(cloud)
    np.testing.assert_array_equal(plane.normal, again.normal)
    other_seed = fit_ground_plane(cloud, GroundConfig(seed=5))
    assert np.degrees(np.arccos(abs(other_seed.normal @ plane.normal))) < 0.5


def test_ring_sampled_person_is_one_cluster_and_two_people_two():
    """A spinning LiDAR sees a person as rings 20 cm apart in z: in 3D they are separate,
    on the ground plane they are one footprint."""
    angles = np.linspace(0, np.pi, 40)
    rings = [np.column_stack([0.2 * np.cos(angles), 0.2 * np.sin(angles), np.full(40, z)])
             for z in np.arange(0.2, 1.8, 0.2)]
    person = np.vstack(rings)
    other = person + [2.0, 0.0, 0.0]
    labels = cluster_ground_plane(np.vstack([person, other])[:, :2], cell_m=0.2)
    assert len(np.unique(labels[:len(person)])) == 1
    assert len(np.unique(labels)) == 2
    assert labels[0] != labels[-1]


def test_ground_fit_rejects_too_few_points():
    with pytest.raises(ValueError, match="at least 3"):
        fit_ground_plane(np.zeros((2, 3), np.float32))


def test_two_people_shoulder_to_shoulder_are_split_one_wide_walker_is_not():
    from edge_runtime.lidar.split import split_merged_clusters

    rng = np.random.default_rng(0)

    def body(cx, cy, n=150):
        angle = rng.uniform(0, 2 * np.pi, n)
        radius = 0.22 * np.sqrt(rng.uniform(0, 1, n))
        return np.column_stack([cx + radius * np.cos(angle) * 0.6, cy + radius * np.sin(angle)])

    pair = np.vstack([body(0, 0), body(0, 0.5)])                    # touching on a 0.2 m grid
    labels = cluster_ground_plane(pair, cell_m=0.2)
    assert len(np.unique(labels)) == 1
    longest = np.ptp(pair, axis=0).max(keepdims=True)
    split = split_merged_clusters(pair, labels, longest, min_points=12)
    assert len(np.unique(split)) == 2
    assert len(np.unique(split[:150])) == 1 and split[0] != split[-1]
    # one walker with legs apart and a torso filling the middle stays whole
    walker = np.vstack([body(-0.3, 0, 60), body(0.3, 0, 60), body(0, 0, 200)])
    longest = np.ptp(walker, axis=0).max(keepdims=True)
    same = split_merged_clusters(walker, np.zeros(len(walker), np.int64), longest, min_points=12)
    assert len(np.unique(same)) == 1
