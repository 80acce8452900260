"""The round loop, identical for simulation and MQTT: select → configure → request → aggregate
→ persist → evaluate. Returns (and persists) one record per round."""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

import numpy as np

from cloud_sync.fl.fleet import Fleet
from cloud_sync.fl.state import RoundStore
from cloud_sync.fl.strategy import Strategy
from edge_runtime.online.network import Network

log = logging.getLogger("cloud_sync.fl")

Evaluate = Callable[[np.ndarray], dict[str, float]]


def shared_mask_for(net: Network, strategy: Strategy) -> np.ndarray:
    """Which entries of θ the server owns (all but the strategy's device-local parameters)."""
    local = strategy.config.local_params
    return ~net.mask_for(local) if local else np.ones(net.n_params, bool)


def run_federated(strategy: Strategy, fleet: Fleet, theta0: np.ndarray, shared_mask: np.ndarray,
                  rounds: int, *, evaluate: Evaluate | None = None, eval_every: int = 1,
                  task_name: str = "fl", deadline_s: float = 60.0, store: RoundStore | None = None,
                  settings: dict[str, Any] | None = None, seed: int = 0, progress: bool = False,
                  on_round: Callable[[dict], None] | None = None) -> tuple[np.ndarray, list[dict]]:
    """Run rounds ``[resume point, rounds)``; returns (θ, history)."""
    settings = {"strategy": strategy.name, "config": strategy.config.to_dict(), **(settings or {})}
    theta, history, first = np.asarray(theta0, np.float32).copy(), [], 0
    if store is not None and (saved := store.load()) is not None:
        state, saved_theta = saved
        if state["settings"].get("strategy") == strategy.name and saved_theta.shape == theta.shape:
            theta, history, first = saved_theta, state["history"], state["last_round"] + 1
            log.info("resuming %s after completed round %d", strategy.name, state["last_round"])
        else:
            log.warning("saved FL state in %s is for another run (%s); starting fresh",
                        store.dir, state["settings"].get("strategy"))
    updates_total = history[-1]["device_updates_total"] if history else 0
    bar = _progress(rounds, first, strategy.name) if progress else None
    for r in range(first, rounds):
        started = time.perf_counter()
        rng = np.random.default_rng([seed, r])
        if hasattr(fleet, "start_round"):  # simulated fleets: who is online / joined by now
            fleet.start_round(r)
        devices = strategy.select_devices(r, fleet.available(), rng)
        body = strategy.configure_round(r, theta, shared_mask)
        replies = fleet.request_many(devices, task_name, body, deadline_s) if devices else {}
        answered = {d: rep for d, rep in replies.items() if rep is not None}
        theta = strategy.aggregate(r, theta, shared_mask, {d: rep.body for d, rep in answered.items()},
                                   selected=devices)
        updates = sum(int(rep.body.get("steps", 0)) for rep in answered.values())
        updates_total += updates
        record = {"round": r, "selected": devices, "answered": sorted(answered),
                  "bytes_down": sum(rep.bytes_out for rep in answered.values()),
                  "bytes_up": sum(rep.bytes_in for rep in answered.values()),
                  "bytes_lost": getattr(fleet, "last_bytes_lost", 0),  # sent to devices that never answered
                  "bytes_secagg": int(strategy.last_overhead_bytes),
                  "device_updates": updates, "device_updates_total": updates_total,
                  "device_train_s": sum(float(rep.body.get("train_s", 0)) for rep in answered.values()),
                  "latency_s": max((rep.latency_s for rep in answered.values()), default=None)}
        if evaluate is not None and (r % eval_every == 0 or r == rounds - 1):
            record["eval"] = evaluate(theta)
        record["wall_s"] = time.perf_counter() - started
        history.append(record)
        if store is not None:
            store.save(r, theta, settings, history)
        if on_round is not None:
            on_round(record)
        if bar is not None:
            bar.update(1)
            if "eval" in record:
                bar.set_postfix({k: round(v, 4) for k, v in list(record["eval"].items())[:1]})
    if bar is not None:
        bar.close()
    return theta, history


def _progress(total: int, done: int, name: str):
    try:
        from tqdm import tqdm
    except ImportError:  # lean install: no bar
        return None
    return tqdm(total=total, initial=done, desc=name, unit="round", leave=False)
