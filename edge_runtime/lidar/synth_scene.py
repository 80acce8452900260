"""Synthetic multi-LiDAR walkway scenes rendered with open3d's ``RaycastingScene``.

A covered walkway (floor, ceiling, walls, pillars) watched by several LiDARs whose
views do not overlap (blind zones between them), with people of varied shape walking
both ways. Every returned point carries the id of the person it hit (0 = background),
and the ground truth gives every person's world position per frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from edge_runtime.lidar.sensors import SensorSpec
from edge_runtime.lidar.synth_people import BodyMesh, Walker, random_walkers


@dataclass
class WalkwaySpec:
    length_m: float = 60.0
    half_width_m: float = 4.0
    ceiling_m: float = 3.6
    pillar_spacing_m: float = 10.0
    pillar_radius_m: float = 0.25


@dataclass
class SceneSpec:
    walkway: WalkwaySpec = field(default_factory=WalkwaySpec)
    sensors: list[SensorSpec] = field(default_factory=list)
    people: int = 20
    duration_s: float = 60.0
    frame_rate_hz: float = 10.0
    seed: int = 0
    crowd: str = "uniform"     # "varied": synth_variety's bodies and walking patterns

    @property
    def n_frames(self) -> int:
        return int(round(self.duration_s * self.frame_rate_hz))


def default_sensors(n: int, walkway: WalkwaySpec, beams: int = 32, azimuth_steps: int = 1024,
                    max_range_m: float = 8.0) -> list[SensorSpec]:
    """``n`` wall-mounted sensors evenly along the walkway, alternating sides."""
    sensors = []
    for i in range(n):
        side = -1 if i % 2 == 0 else 1
        sensors.append(SensorSpec(f"s{i}", x=walkway.length_m * (i + 0.5) / n,
                                  y=side * (walkway.half_width_m - 0.3), z=3.0, yaw_deg=0.0,
                                  beams=beams, azimuth_steps=azimuth_steps, max_range_m=max_range_m))
    return sensors


def walkway_spec(people: int = 20, duration_s: float = 60.0, sensors: int = 3, seed: int = 0,
                 beams: int = 32, azimuth_steps: int = 1024, frame_rate_hz: float = 10.0) -> SceneSpec:
    walkway = WalkwaySpec()
    return SceneSpec(walkway, default_sensors(sensors, walkway, beams, azimuth_steps), people,
                     duration_s, frame_rate_hz, seed)


def _static_meshes(walkway: WalkwaySpec) -> list[tuple[np.ndarray, np.ndarray]]:
    import open3d as o3d

    margin, w, h = 12.0, walkway.half_width_m, walkway.ceiling_m
    L = walkway.length_m

    def box(x0, y0, z0, sx, sy, sz):
        mesh = o3d.geometry.TriangleMesh.create_box(sx, sy, sz)
        return np.asarray(mesh.vertices) + [x0, y0, z0], np.asarray(mesh.triangles)

    meshes = [box(-margin, -w - 0.2, -0.2, L + 2 * margin, 2 * w + 0.4, 0.2),   # floor
              box(-margin, -w - 0.2, h, L + 2 * margin, 2 * w + 0.4, 0.2),       # ceiling
              box(-margin, -w - 0.2, 0, L + 2 * margin, 0.2, h),                # walls
              box(-margin, w, 0, L + 2 * margin, 0.2, h)]
    for x in np.arange(walkway.pillar_spacing_m / 2, L, walkway.pillar_spacing_m):
        for y in (-w + 0.6, w - 0.6):
            mesh = o3d.geometry.TriangleMesh.create_cylinder(walkway.pillar_radius_m, h, resolution=12)
            meshes.append((np.asarray(mesh.vertices) + [x, y, h / 2], np.asarray(mesh.triangles)))
    return meshes


@dataclass
class SensorFrame:
    points: np.ndarray   # (N, 3) float32, sensor frame
    labels: np.ndarray   # (N,) int16, person id or 0


@dataclass
class SceneFrame:
    index: int
    t: float
    sensors: dict[str, SensorFrame]
    truth: dict[int, tuple[float, float]]   # person id -> world (x, y) of people inside the walkway


class WalkwaySimulator:
    """Renders the frames of a ``SceneSpec``; deterministic for a given seed."""

    def __init__(self, spec: SceneSpec):
        if not spec.sensors:
            raise ValueError("a scene needs at least one sensor")
        self.spec = spec
        rng = np.random.default_rng(spec.seed)
        if spec.crowd == "varied":
            from edge_runtime.lidar.synth_variety import varied_walkers

            self.walkers: list[Walker] = varied_walkers(spec.people, spec.walkway, spec.duration_s, rng)
        else:
            self.walkers = random_walkers(spec.people, spec.walkway.length_m,
                                          spec.walkway.half_width_m, spec.duration_s, rng)
        self.bodies = {w.person_id: BodyMesh(w.shape) for w in self.walkers}
        self.static = _static_meshes(spec.walkway)
        self.rays = {s.sensor_id: s.ray_directions() for s in spec.sensors}
        self.noise_rng = np.random.default_rng(spec.seed + 1)

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[SceneFrame]:
        stop = self.spec.n_frames if stop is None else stop
        for index in range(start, stop):
            yield self.render(index)

    def visible_people(self, t: float) -> dict[int, np.ndarray]:
        length = self.spec.walkway.length_m
        present = {}
        for walker in self.walkers:
            xy = walker.position(t)
            if -0.5 <= xy[0] <= length + 0.5:
                present[walker.person_id] = xy
        return present

    def render(self, index: int) -> SceneFrame:
        import open3d as o3d

        t = index / self.spec.frame_rate_hz
        scene = o3d.t.geometry.RaycastingScene()
        geometry_to_person = {}
        for vertices, triangles in self.static:
            scene.add_triangles(o3d.core.Tensor(vertices.astype(np.float32)),
                                o3d.core.Tensor(triangles.astype(np.uint32)))
        present = self.visible_people(t)
        for walker in self.walkers:
            if walker.person_id not in present:
                continue
            phase = 2 * np.pi * walker.step_frequency_hz() * (t - walker.t_start) / 2 + walker.gait_phase
            swing = 0.35 * np.sin(phase) if walker.moving(t) else 0.0
            heading = walker.heading(t)
            vertices, triangles = self.bodies[walker.person_id].pose(present[walker.person_id], heading, swing)
            gid = scene.add_triangles(o3d.core.Tensor(vertices), o3d.core.Tensor(triangles))
            geometry_to_person[gid] = walker.person_id
        lookup = np.zeros(len(self.static) + len(geometry_to_person) + 1, dtype=np.int16)
        for gid, pid in geometry_to_person.items():
            lookup[gid] = pid
        frames = {s.sensor_id: self._cast(scene, s, lookup) for s in self.spec.sensors}
        truth = {pid: (float(xy[0]), float(xy[1])) for pid, xy in present.items()}
        return SceneFrame(index, t, frames, truth)

    def _cast(self, scene, sensor: SensorSpec, lookup: np.ndarray) -> SensorFrame:
        import open3d as o3d

        directions = self.rays[sensor.sensor_id]
        world_dirs = directions @ sensor.rotation().T
        rays = np.hstack([np.broadcast_to(sensor.origin, world_dirs.shape), world_dirs]).astype(np.float32)
        result = scene.cast_rays(o3d.core.Tensor(rays))
        distance = result["t_hit"].numpy()
        geometry = result["geometry_ids"].numpy()
        hit = np.isfinite(distance) & (distance <= sensor.max_range_m)
        hit &= self.noise_rng.random(len(distance)) >= sensor.dropout
        distance = distance[hit] + self.noise_rng.normal(0, sensor.range_noise_m, int(hit.sum()))
        points = directions[hit] * distance[:, None]
        labels = lookup[np.minimum(geometry[hit], len(lookup) - 1)]
        return SensorFrame(points.astype(np.float32), labels.astype(np.int16))
