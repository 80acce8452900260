"""Cloud coordinator: idempotent ingest, device registry, commands and task requests."""
from cloud_sync.coordinator.events import EVENT_KINDS, Event
from cloud_sync.coordinator.requests import Reply
from cloud_sync.coordinator.service import Coordinator

__all__ = ["Coordinator", "Event", "EVENT_KINDS", "Reply"]
