"""Dropped events do not leave the fleet graph wrong: once the listeners' queue has drained,
the coordinator sends them the registry's online state and the graph corrects itself.

The drop is made the way it happens under load: a listener is slow (blocked here), the event
queue fills past its limit, and a device's 'offline' is among the events dropped."""
from __future__ import annotations

import threading

from ontology.live import FleetGraph
from ontology.ns import device_iri
from ontology.rollups import device_status
from ontology.store import GraphStore
from edge_runtime.waiting import wait_until


def test_offline_dropped_from_a_full_event_queue_reaches_the_graph(mosquitto, make_coordinator, make_agent):
    coord = make_coordinator(mosquitto.url)
    graph_store = GraphStore.open(None)
    fleet = FleetGraph(graph_store, batch_interval_s=0.0).attach(coord)
    agents = {d: make_agent(mosquitto.url, d) for d in ("rs-1", "rs-2")}
    wait_until(lambda: all(device_status(graph_store, device_iri(d))[0] is True for d in agents), 20,
               what="both devices online in the graph")

    release = threading.Event()
    coord.add_listener(lambda event: release.wait(30))     # the slow listener
    coord.events.max_queue = 5
    agents["rs-2"].submit("echo", [{"n": i} for i in range(40)])
    wait_until(lambda: coord.count_results("rs-2") == 40, 20, what="results stored")
    agents["rs-2"].submit("echo", [{"n": i} for i in range(10)])   # now the queue is full
    wait_until(lambda: coord.events.pending >= coord.events.max_queue, 20, what="a full event queue")
    before = coord.events.dropped
    agents["rs-1"].stop()                                  # its 'offline' is dropped
    wait_until(lambda: coord.device("rs-1")["online"] is False, 20, what="rs-1 offline in the registry")
    dropped = coord.events.dropped
    assert dropped > before
    assert dropped > 0
    assert device_status(graph_store, device_iri("rs-1"))[0] is True     # the graph is wrong now
    release.set()
    coord.events.max_queue = 100_000
    wait_until(lambda: device_status(graph_store, device_iri("rs-1"))[0] is False, 20,
               what="rs-1 offline in the graph after the resync")
    assert device_status(graph_store, device_iri("rs-2"))[0] is True
    assert fleet.resynced >= 1 and coord._drops_resynced >= dropped
