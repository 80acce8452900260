"""The demo's workloads, in start order (one module each)."""
from __future__ import annotations

from cloud_sync.demo.workloads import Workload


def all_workloads() -> list[Workload]:
    from cloud_sync.demo.das import DasTraffic
    from cloud_sync.demo.edvit import EdvitSplitInference
    from cloud_sync.demo.learning import FederatedRounds, OnlinePresence
    from cloud_sync.demo.lidar import LidarWalkway
    from cloud_sync.demo.mcu import McuModel
    from cloud_sync.demo.ota import SignedRollout
    return [McuModel(), DasTraffic(), LidarWalkway(), OnlinePresence(), FederatedRounds(),
            EdvitSplitInference(), SignedRollout()]
