"""The coordinator's entry points tune the garbage collector (cloud_sync.coordinator.gc_tuning):
young-generation passes become rare and what existed at start is frozen out of the walks."""
from __future__ import annotations

import gc

from cloud_sync.coordinator.gc_tuning import GEN0_THRESHOLD, tune_gc_for_ingest


def test_tuning_freezes_the_start_and_raises_the_threshold():
    before = gc.get_threshold()
    try:
        assert tune_gc_for_ingest() == before
        assert gc.get_threshold()[0] == GEN0_THRESHOLD > before[0]
        assert gc.get_freeze_count() > 1000          # modules, vocabularies, ... of this process
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
