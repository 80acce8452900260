"""The fleet simulator against a real coordinator: faults on, every result stored exactly once."""
from __future__ import annotations

import time

from cloud_sync.simulate.fleet import FleetOptions, FleetSimulator, SimulatorThread


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _answered(coordinator, sim, command: str, check) -> bool:
    for device in sim.simulator.devices[:20]:
        if device.online:
            try:
                return check(coordinator.command(device.spec.device_id, command, timeout=3))
            except TimeoutError:
                continue
    return False


def test_simulated_fleet_with_outage_and_churn_is_stored_exactly_once(mosquitto, coordinator, stored_ids):
    options = FleetOptions(devices=150, duration_s=6, heartbeat_s=1.0, result_every_s=0.5,
                           outage_fraction=0.3, outage_at_s=3.0, outage_s=2.0,
                           churn_per_hour=400, power_cut_per_hour=200, connect_rate=300, seed=3)
    sim = SimulatorThread(FleetSimulator(mosquitto.url, options)).start()
    assert _wait(lambda: sum(d["online"] for d in coordinator.devices()) >= 100, 20)
    # commands reach a virtual device and come back with its answer (a device may be in the
    # middle of a drawn reconnect: a clean-session device misses commands sent meanwhile)
    assert _answered(coordinator, sim, "ping", lambda r: r.ok and r.body["pong"])
    assert _answered(coordinator, sim, "no-such-command", lambda r: not r.ok and "unknown" in r.error)
    report = sim.stop_and_join(120, stop=False)
    assert coordinator.flush(30)

    totals = report.totals
    assert totals["unacked"] == 0 and totals["results"] > 1000
    assert totals["wills"] >= 40            # the outage (45 devices) and the power cuts happened
    assert totals["historical"] > 0
    expected = {msg_id for _, msg_id in report.expected_result_ids()}
    assert len(expected) == totals["results"]
    stored = stored_ids(coordinator)
    assert set(stored) == expected            # 0 lost, nothing foreign
    assert max(stored.values()) == 1          # 0 duplicated
    historical = coordinator.store.query("SELECT COUNT(*) FROM results WHERE historical = 1")[0][0]
    assert historical > 0                     # outage backlog replayed as historical
    devices = {d["device_id"]: d for d in coordinator.devices()}
    assert len(devices) == options.devices
    assert all(d["td"] and d["td"]["er:deviceId"] == name for name, d in devices.items())
    # a clean stop publishes 'offline' (retained) for every device
    assert _wait(lambda: not any(d["online"] for d in coordinator.devices()), 15)


def test_options_are_range_checked():
    import pytest
    with pytest.raises(ValueError, match="devices=0"):
        FleetOptions(devices=0).check()
    with pytest.raises(ValueError, match="heartbeat_s"):
        FleetOptions(heartbeat_s=0).check()
    with pytest.raises(ValueError, match="mqtt://"):
        FleetSimulator("mqtts://127.0.0.1:8883")


def test_a_simulated_heartbeat_is_the_envelope_encode_would_write_and_passes_validation():
    """The heartbeat is written as JSON text directly (speed); it must equal what the protocol's
    encoder gives for the same message, and pass the coordinator's validation."""
    import random as random_module

    from cloud_sync.protocol import TopicTree, decode, encode
    from cloud_sync.protocol.validate import parse_message
    from cloud_sync.simulate.device import VirtualDevice
    from cloud_sync.simulate.specs import draw_specs

    sent = []

    class Capture:                      # stands in for the MQTT connection: keeps what is sent
        connected = True

        def publish(self, topic, payload, retain=False):
            sent.append((topic, payload))
            return True

    options = FleetOptions(devices=3, seed=5)
    topics = TopicTree(options.root, options.fleet)
    spec = draw_specs(options, topics)[2]
    device = VirtualDevice(spec, "127.0.0.1", 1, topics, 0xABCDEF, random_module.Random(1))
    device.client = Capture()
    device.heartbeat()
    device.last_sync = 1_767_225_600.25
    device.outbox[1] = None
    device.heartbeat()
    assert [t for t, _ in sent] == [topics.device(spec.device_id, "health")] * 2
    for _, payload in sent:
        message = parse_message("health", payload, spec.device_id)
        assert encode(message) == payload, "not byte-identical to the protocol encoder"
    second = decode(sent[1][1])
    assert second["seq"] == 2 and second["body"]["outbox"] == {"backlog": 1, "dropped": 0,
                                                               "last_sync": 1_767_225_600.25}
    assert decode(sent[0][1])["body"]["outbox"]["last_sync"] is None
