"""One coordinator replica of N: ingest on a shared subscription, store in PostgreSQL, leader lease.

    python -m cloud_sync.coordinator.replica --broker mqtt://b:1883 \\
        --store postgresql://coord@db/fleet --replica-id r2 --share-group ingest --data ./r2

Replicas with the same ``--share-group`` split results, heartbeats and deployment states
between them (``$share/<group>/…``: each message goes to one replica); births, states and
replies reach all of them. They write one PostgreSQL database, idempotently by message id.
Exactly one holds the leader lease (``cloud_sync.coordinator.leader``) and runs the fleet's
timers (heartbeat timeouts, site counts). With ``--graph URL`` they share one fleet graph in a
SPARQL server (``cloud_sync.sparql_server`` starts Oxigraph's), each writing what it hears. A replica killed mid-stream loses nothing as long as it comes back under the same
``--replica-id``: its persistent MQTT session keeps what the broker had handed it but not
yet seen acknowledged (messages are acked only after they are committed), and the broker
delivers that again on reconnect; the store drops the copies that did get committed.

Prints one line per event for supervisors and tests: ``READY <id>``, ``LEADER <id> <unix time>``,
``FOLLOWER <id> <unix time>``, ``STATS <json>`` every ``--stats-s``.
"""
from __future__ import annotations

import argparse
import json
import signal
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--broker", required=True)
    p.add_argument("--store", required=True, help="postgresql:// URL shared by the replicas")
    p.add_argument("--replica-id", required=True)
    p.add_argument("--share-group", default="ingest")
    p.add_argument("--data", type=Path, required=True, help="local dir (runtime file)")
    p.add_argument("--fleet", default="default")
    p.add_argument("--lease-poll", type=float, default=1.0, help="seconds between lease attempts")
    p.add_argument("--offline-after", type=float, help="seconds without traffic before offline")
    p.add_argument("--stats-s", type=float, default=5.0)
    p.add_argument("--graph", metavar="URL",
                   help="SPARQL 1.1 endpoint (query URL) holding the fleet graph all replicas share, e.g. "
                        "an 'oxigraph serve' at http://db:7878/query; without it no fleet graph is kept")
    args = p.parse_args(argv)

    from cloud_sync.coordinator import Coordinator
    from cloud_sync.coordinator.leader import LeaderLease

    args.data.mkdir(parents=True, exist_ok=True)
    coord = Coordinator(args.broker, args.data, fleet=args.fleet, replica_id=args.replica_id,
                        share_group=args.share_group, store=args.store,
                        offline_after_s=args.offline_after)

    def changed(leader: bool) -> None:
        print(f"{'LEADER' if leader else 'FOLLOWER'} {args.replica_id} {time.time():.3f}", flush=True)

    # made now, started once the coordinator is up: until then nobody here is leader
    lease = LeaderLease(args.store, f"fleet-{args.fleet}", poll_s=args.lease_poll, on_change=changed)
    is_leader = lambda: lease.is_leader     # noqa: E731
    coord.liveness_leader = is_leader     # heartbeat timeouts: the leader's job
    fleet_graph = None
    if args.graph:   # attached before start: the retained births arrive at the first connect
        from ontology.live import FleetGraph
        from ontology.store import GraphStore
        fleet_graph = FleetGraph(GraphStore.open(args.graph), writer_id=args.replica_id,
                                 rollups_writer=is_leader).attach(coord)
    coord.start(wait_s=30)
    from cloud_sync.coordinator.gc_tuning import tune_gc_for_ingest
    tune_gc_for_ingest()
    print(f"READY {args.replica_id}", flush=True)
    lease.start()
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    next_stats = time.monotonic() + args.stats_s
    try:
        while not stopping:
            time.sleep(0.1)
            if time.monotonic() >= next_stats:
                next_stats += args.stats_s
                print("STATS " + json.dumps({"replica": args.replica_id, "leader": lease.is_leader,
                                             **coord.stats()}), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        lease.stop()
        coord.stop()
        if fleet_graph is not None:
            fleet_graph.close()      # the last figures and result summaries written
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
