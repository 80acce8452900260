"""Time ED-ViT models as one-core devices run them: one process per model, pinned to one core.

Why: a device runs its sub-model alone on its own core, with the engine it really uses
(ONNX Runtime, one thread: ``edge_runtime.edvit.runner.SubmodelRunner``). On a machine
with fewer cores than devices we cannot run them all at once without sharing cores, but
we can give each model its own process, pin it with ``os.sched_setaffinity`` to one
core before the engine starts its threads, and time the models **one at a time**.

The full ViT is a model like the others here, pinned to the same core, so it sees the
same conditions. A shared machine's load drifts by several times within minutes, so
models are measured in rounds: every round times every model once (in a fresh random
order) with the same images; a figure is the median over rounds of each round's median,
and the ratio sub-model / full ViT is also taken per round (paired) so that a busy
moment hits both sides of the ratio alike.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np


def _serve(conn, model_path: str, image_size: int, core: int, threads: int) -> None:
    """Worker process: pin first (ONNX Runtime's threads inherit the mask), then time on request."""
    os.sched_setaffinity(0, {core})
    from edge_runtime.edvit.runner import SubmodelRunner

    runner = SubmodelRunner(model_path, image_size, threads=threads)
    conn.send({"affinity": sorted(os.sched_getaffinity(0)), "backend": runner.backend,
               "provider": runner.provider, "threads": threads})
    while True:
        job = conn.recv()
        if job is None:
            return
        images, repeats = job
        runner.run(images)                              # warm caches and the engine's arena
        samples = []
        for _ in range(repeats):
            cpu = time.process_time()
            wall = runner.run(images)[2]
            samples.append((wall, time.process_time() - cpu))
        conn.send(samples)


class PinnedModel:
    """One exported model in its own process, pinned to ``core``, timed on request."""

    def __init__(self, path: str | Path, image_size: int, core: int, threads: int = 1):
        if core not in os.sched_getaffinity(0):
            raise ValueError(f"core {core} is not available to this process (have "
                             f"{sorted(os.sched_getaffinity(0))})")
        self.path = Path(path)
        context = mp.get_context("spawn")        # no inherited threads or engine state
        self.conn, child = context.Pipe()
        self.proc = context.Process(target=_serve, args=(child, str(self.path), int(image_size), core, threads),
                                    daemon=True)
        self.proc.start()
        child.close()
        if not self.conn.poll(120):
            self.close()
            raise TimeoutError(f"pinned worker for {self.path} did not start within 120 s")
        try:
            self.info = self.conn.recv()
        except EOFError:
            self.close()
            raise RuntimeError(f"pinned worker for {self.path} exited during start-up (exit code "
                               f"{self.proc.exitcode}); its error is printed above") from None

    def time(self, images: np.ndarray, repeats: int) -> np.ndarray:
        """(repeats, 2): wall and process-CPU seconds per call on ``images`` (after a warm-up call).

        CPU time is what the call cost its core; wall time adds what other processes took
        from that core meanwhile. On a device with a core of its own the two agree."""
        self.conn.send((np.ascontiguousarray(images, dtype=np.float32), int(repeats)))
        return np.asarray(self.conn.recv())

    def close(self) -> None:
        if self.proc.is_alive():
            try:
                self.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


def default_core() -> int:
    """The highest-numbered core this process may use (core 0 usually takes more interrupts)."""
    return max(os.sched_getaffinity(0))


def time_pinned(models: dict[str, str | Path], image_size: int, images_by_batch: dict[int, np.ndarray], *,
                rounds: int = 15, repeats: int = 5, core: int | None = None, threads: int = 1,
                reference: str = "full", seed: int = 0,
                progress: Callable[[str], None] | None = None) -> dict:
    """Median seconds per call of every model at every batch, measured in interleaved rounds.

    Returns ``{"core", "threads", "rounds", "repeats", "workers": {name: info},
    "batch<B>": {"median_s": {name: s}, "p95_s": {name: s}, "round_medians_s": {name: [...]}}}``.
    ``reference`` names the model the others are compared with in :func:`paired_ratio`.
    """
    if reference not in models:
        raise ValueError(f"reference model {reference!r} is not among {sorted(models)}")
    core = default_core() if core is None else core
    rng = np.random.default_rng(seed)
    workers = {}
    try:
        for name, path in models.items():
            workers[name] = PinnedModel(path, image_size, core, threads)
        names = list(workers)
        samples = {b: {n: [] for n in names} for b in images_by_batch}
        for r in range(rounds):
            for batch, images in images_by_batch.items():
                for i in rng.permutation(len(names)):
                    samples[batch][names[i]].append(workers[names[i]].time(images, repeats))
            if progress and (r + 1) % max(1, rounds // 5) == 0:
                progress(f"pinned timing: round {r + 1}/{rounds}")
        out = {"core": core, "threads": threads, "rounds": rounds, "repeats": repeats,
               "workers": {n: w.info for n, w in workers.items()}, "reference": reference}
        for batch, by_name in samples.items():
            table = {}
            for clock, column in (("", 0), ("cpu_", 1)):
                medians = {n: [float(np.median(s[:, column])) for s in runs] for n, runs in by_name.items()}
                table[f"{clock}median_s"] = {n: float(np.median(m)) for n, m in medians.items()}
                table[f"{clock}p95_s"] = {n: float(np.percentile(np.concatenate(by_name[n])[:, column], 95))
                                          for n in names}
                table[f"{clock}round_medians_s"] = medians
            out[f"batch{batch}"] = table
        return out
    finally:
        for worker in workers.values():
            worker.close()


def slowest_device(timing: dict, batch: int, hosts: dict[str, list[str]],
                   clock: str = "") -> tuple[str, float, list[float]]:
    """The device with the longest compute at ``batch`` (a device runs its models in turn, so
    its time is the sum of theirs): (device, median seconds, that device's per-round seconds).
    ``clock``: "" for wall time, "cpu_" for CPU time."""
    table = timing[f"batch{batch}"][f"{clock}round_medians_s"]
    per_round = {d: np.sum([table[m] for m in models], axis=0) for d, models in hosts.items()}
    device = max(per_round, key=lambda d: float(np.median(per_round[d])))
    return device, float(np.median(per_round[device])), [float(t) for t in per_round[device]]


def paired_ratio(timing: dict, batch: int, hosts: dict[str, list[str]], clock: str = "") -> dict:
    """Slowest device / reference model, per round (same load on both sides): median and worst."""
    table = timing[f"batch{batch}"][f"{clock}round_medians_s"]
    reference = np.asarray(table[timing["reference"]])
    per_round = np.max([np.sum([table[m] for m in models], axis=0) for models in hosts.values()], axis=0)
    ratios = per_round / reference
    return {"median": float(np.median(ratios)), "worst": float(ratios.max()), "best": float(ratios.min())}
