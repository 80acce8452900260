"""LiDAR tracking in the demo: a generated walkway watched by several non-overlapping
sensors (one per device). Devices publish tracks and finished track segments (features and
embeddings, never points); the cloud links segments across sensors into global ids once a
second, as a coordinator-side fusion step, and the dashboard draws the top view."""
from __future__ import annotations

import time

from cloud_sync.demo.workloads import DemoContext, Workload


class LidarWalkway(Workload):
    name, role = "lidar", "lidar"
    needs = ("open3d", "edge_runtime.lidar.task", "cloud_sync.lidar.linking")
    tick_every_s = 1.0
    PEOPLE, SCENE_S, BEAMS, AZIMUTH_STEPS = 10, 30.0, 32, 512
    FRAME_INTERVAL_S = 0.2          # 10 Hz frames replayed at half speed: a minute of demo

    def setup(self, ctx: DemoContext) -> None:
        from cloud_sync.lidar.linking import GlobalLinker, LinkerConfig
        from cloud_sync.lidar.sensor_health import SensorHealthBook
        from edge_runtime.lidar.scene_format import SceneWriter
        from edge_runtime.lidar.synth_scene import WalkwaySimulator, walkway_spec

        spec = walkway_spec(self.PEOPLE, self.SCENE_S, len(ctx.with_role(self.role)), ctx.seed,
                            self.BEAMS, self.AZIMUTH_STEPS)
        self.scene_dir = ctx.workdir / "lidar-scene"
        simulator = WalkwaySimulator(spec)
        people = [{"person_id": w.person_id, **w.shape.to_dict()} for w in simulator.walkers]
        writer = SceneWriter(self.scene_dir, spec.sensors, spec.frame_rate_hz, people)
        for frame in simulator.frames():
            writer.write(frame.index, frame.t, frame.sensors, frame.truth)
        writer.close()
        self.sensors = [{"id": s.sensor_id, "x": s.x, "y": s.y, "range_m": s.max_range_m} for s in spec.sensors]
        walkway = spec.walkway
        self.bounds = {"xmin": -2.0, "xmax": walkway.length_m + 2.0,
                       "ymin": -walkway.half_width_m - 1.0, "ymax": walkway.half_width_m + 1.0}
        self.linker = GlobalLinker(LinkerConfig())
        self.seen: dict[str, float] = {}        # message id -> device ts, inside the look-back
        self.live: dict[str, list[dict]] = {}
        self.health = SensorHealthBook()        # newest ok/degraded/blind (and why) per sensor
        self.since = time.time() - 60
        ctx.say(f"lidar scene        {self.scene_dir} ({spec.n_frames} frames × {len(spec.sensors)} sensors, "
                f"{self.PEOPLE} people)")

    def tasks_for(self, device, index, ctx):
        return [{"kind": "lidar", "name": self.name, "interval_s": self.FRAME_INTERVAL_S,
                 "params": {"scene": str(self.scene_dir), "sensor": self.sensors[index]["id"],
                            "frames_per_step": 1, "loop": True}}]     # the scene replays for the whole run

    def tick(self, ctx: DemoContext) -> None:
        """Fuse: new segments into the cross-sensor linker; publish global tracks."""
        from edge_runtime.lidar.segment import TrackSegment

        newest = None
        for result in ctx.stack.coordinator.results(task=self.name, since=self.since, limit=100_000):
            if result["msg_id"] in self.seen:
                continue
            self.seen[result["msg_id"]] = result["ts"]
            body = result["body"]
            self.health.add(result["device_id"], body, result["ts"])
            if body.get("type") == "segment":
                segment = TrackSegment.from_record(body)
                self.linker.add(segment)
                newest = max(newest or segment.t_end, segment.t_end)
            elif body.get("type") == "tracks":
                self.live[body["sensor"]] = body["tracks"]
                newest = max(newest or body["t"], body["t"])
        self.since = time.time() - 30
        # Only ids that the next look-back can return again need remembering (bounded memory).
        self.seen = {msg_id: ts for msg_id, ts in self.seen.items() if ts >= self.since}
        if newest is not None:
            self.linker.advance(newest)
        tracks = [{"id": gid, "points": self.linker.segments[key].xy[::3].round(2).tolist()}
                  for key, gid in self.linker.global_id.items()]
        live = [{"id": f"{sensor}:{t['id']}", "points": [[t["x"], t["y"]]]}
                for sensor, items in self.live.items() for t in items]
        ctx.stack.activity.record("lidar", {"tracks": tracks + live, "sensors": self.sensors,
                                            "bounds": self.bounds, "links": len(self.linker.links),
                                            "health": self.health.rows()})

    def summary(self, ctx: DemoContext) -> str:
        return (f"{self.stored(ctx)} records, {len(self.linker.segments)} track segments, "
                f"{len(self.linker.links)} cross-sensor links, "
                f"{len(set(self.linker.global_id.values()))} global ids")
