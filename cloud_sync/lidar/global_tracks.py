"""From segments to global trajectories, as the cloud sees them: segments arrive when their
track ends, the linker advances once a second; then per-frame global tracks and scores.
"""
from __future__ import annotations


from cloud_sync.lidar.linking import GlobalLinker, LinkerConfig, bundled_pair_model
from edge_runtime.lidar.evaluation import FrameTruth, link_scores, mot_metrics
from edge_runtime.lidar.segment import TrackSegment


_BUNDLED = object()


def link_online(segments: list[TrackSegment], config: LinkerConfig | None = None,
                step_s: float = 1.0, pair_model=_BUNDLED) -> GlobalLinker:
    """Feed segments in arrival (end-time) order, advancing the linker every ``step_s``
    (``pair_model``: the bundled cross-sensor model unless another, or ``None``, is given)."""
    model = bundled_pair_model() if pair_model is _BUNDLED else pair_model
    linker = GlobalLinker(config or LinkerConfig(), pair_model=model)
    ordered = sorted(segments, key=lambda s: s.t_end)
    if not ordered:
        return linker
    clock = ordered[0].t_end
    for segment in ordered:
        while clock + step_s <= segment.t_end:
            clock += step_s
            linker.advance(clock)
        linker.add(segment)
    linker.finish()
    return linker


def global_frames(linker: GlobalLinker, times: list[float]) -> list[dict]:
    """Per frame: ``{frame, t, tracks: [{id, x, y, sensor}]}`` in world coordinates."""
    lookup = {round(t, 3): i for i, t in enumerate(times)}
    frames = [{"frame": i, "t": round(t, 3), "tracks": []} for i, t in enumerate(times)]
    for key, gid in sorted(linker.global_id.items(), key=lambda kv: kv[1]):
        segment = linker.segments[key]
        for t, (x, y) in zip(segment.times, segment.xy):
            index = lookup.get(round(float(t), 3))
            if index is not None:
                frames[index]["tracks"].append({"id": gid, "x": round(float(x), 3), "y": round(float(y), 3),
                                                "sensor": segment.sensor_id})
    return frames


def evaluate_run(run, linker: GlobalLinker) -> dict:
    """Per-sensor MOTA/IDF1, cross-sensor link scores and global MOTA/IDF1 of a simulated run,
    leaving out the background-learning frames at the start."""
    skip = run.warmup_frames
    report = {"sensors": {s: mot_metrics(truth[skip:]) for s, truth in run.truth.items()}}
    report.update(evaluate_global(linker, run.times, run.world_truth, skip))
    return report


def evaluate_global(linker: GlobalLinker, times: list[float], world_truth: list[FrameTruth],
                    skip: int = 0) -> dict:
    frames = global_frames(linker, times)[skip:]
    world_truth = world_truth[skip:]
    scored = [FrameTruth(truth.people, truth.ignored, {tr["id"]: (tr["x"], tr["y"]) for tr in frame["tracks"]})
              for frame, truth in zip(frames, world_truth)]
    segments = list(linker.segments.values())
    linkable = [seg for seg in segments if len(seg.times) >= linker.config.min_frames]
    # "links": over the segments the linker links (≥ min_frames); "links_all_segments" also
    # counts the chains through the too-short fragments it leaves alone.
    return {"links": link_scores(linker.links, linkable),
            "links_all_segments": link_scores(linker.links, segments),
            "global": mot_metrics(scored)}
