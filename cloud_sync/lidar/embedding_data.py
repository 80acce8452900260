"""Training data for the person embedding: labelled person clusters from simulated walkways.

Each sample is exactly what the device feeds the model (``features.embedding_input`` of a
person's points in the walking frame), labelled with the person's identity. Identities
come from many simulated scenes (different seeds → different bodies), so the model learns
body shape across viewpoints, ranges, gait phases and partial occlusion — not one scene.
"""
from __future__ import annotations

import numpy as np

from edge_runtime.lidar.features import embedding_input
from edge_runtime.lidar.ground import fit_ground_plane
from edge_runtime.lidar.synth_scene import WalkwaySimulator, walkway_spec

MIN_POINTS = 20


def person_samples(seed: int, people: int, duration_s: float, frame_step: int = 2,
                   progress=None) -> tuple[np.ndarray, np.ndarray]:
    """``(samples (M, P, 3), identity (M,))`` from one simulated scene; identities are
    ``seed * 1000 + person id`` so they stay distinct across scenes."""
    spec = walkway_spec(people=people, duration_s=duration_s, seed=seed)
    simulator = WalkwaySimulator(spec)
    direction = {w.person_id: w.direction for w in simulator.walkers}
    planes = {}
    samples, identity = [], []
    for index in range(0, spec.n_frames, frame_step):
        frame = simulator.render(index)
        for sensor in spec.sensors:
            data = frame.sensors[sensor.sensor_id]
            if sensor.sensor_id not in planes:
                planes[sensor.sensor_id] = fit_ground_plane(data.points)
            height = planes[sensor.sensor_id].height(data.points)
            ids, counts = np.unique(data.labels[data.labels > 0], return_counts=True)
            for pid in ids[counts >= MIN_POINTS]:
                mask = (data.labels == pid) & (height > 0.1)
                if mask.sum() < MIN_POINTS:
                    continue
                xy = data.points[mask, :2]
                local = np.column_stack([xy - xy.mean(axis=0), height[mask]])
                heading = sensor.rotation()[:2, :2].T @ np.array([direction[int(pid)], 0.0])
                samples.append(embedding_input(local, heading))
                identity.append(seed * 1000 + int(pid))
        if progress is not None:
            progress(1)
    return np.stack(samples), np.asarray(identity)
