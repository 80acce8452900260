"""Draw what differs between the simulated devices from the seed.

A simulator that gives every device the same board, phase and payload flatters the
coordinator (identical TDs, heartbeats in lock-step). Here each device draws its board
profile (one of the repository's device profiles), site, task, heartbeat phase (in
``fleet``), result interval, payload size and temperature; its Thing Description is the
one the real agent would publish for that board (``ontology.describe_device``).
"""
from __future__ import annotations

import json
import random

from cloud_sync.protocol import TopicTree
from cloud_sync.simulate.device import DeviceSpec

TASKS = ("traffic", "presence", "kws", "vibration", "lidar_tracks")
_ID = "SIMDEVICEIDPLACEHOLDER"
_SITE = "SIMSITEPLACEHOLDER"


def _td_templates(topics: TopicTree) -> list[str]:
    """One TD text per board profile, with placeholders for the device id and site."""
    base = topics.device(_ID, "")[:-1]
    try:
        import device_profiles
        from ontology.describe_device import thing_description
    except ImportError:   # no ontology extra: the agent's minimal TD
        from edge_runtime.agent.health import minimal_thing_description
        td = minimal_thing_description(_ID, None, list(TASKS))
        td["schema:location"] = _SITE
        return [json.dumps(td)]
    templates = []
    for name in device_profiles.list_profiles():
        profile = device_profiles.load_profile(name)
        templates.append(json.dumps(thing_description(profile, _ID, base, site=_SITE)))
    return templates


def draw_specs(options, topics: TopicTree) -> list[DeviceSpec]:
    rng = random.Random(options.seed)
    templates = _td_templates(topics)
    n_sites = options.sites or max(1, options.devices // 100)
    specs = []
    for index in range(options.devices):
        device_id = f"{options.prefix}-{index:05d}"
        site = f"{options.prefix}-site-{rng.randrange(n_sites):03d}"
        td = rng.choice(templates).replace(_ID, device_id).replace(_SITE, site)
        specs.append(DeviceSpec(
            index=index, device_id=device_id, td=td.encode(), site=site, task=rng.choice(TASKS),
            heartbeat_s=options.heartbeat_s,
            result_every_s=options.result_every_s * rng.uniform(1 - options.result_jitter,
                                                                1 + options.result_jitter),
            temperature_c=rng.uniform(30.0, 80.0), payload_floats=rng.randint(1, 32)))
    return specs
