"""A coordinator whose store never commits: it receives, then hangs before the commit.

Run by test_spine_ack_after_commit.py as a child process, which SIGKILLs it there. It
writes how many messages it has received to ``progress`` so the test knows when to kill.
Usage: python stalled_coordinator.py BROKER_URL DATA_DIR PROGRESS_FILE
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from cloud_sync.coordinator import Coordinator
from cloud_sync.coordinator.ingest import IngestWriter


def never_commit(self, batch):
    threading.Event().wait()   # receipt happened; the commit never comes


def main() -> None:
    url, data, progress = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    IngestWriter._write = never_commit
    coord = Coordinator(url, data).start()
    while True:
        progress.write_text(str(coord.received))
        time.sleep(0.05)


if __name__ == "__main__":
    main()
