"""`cloud-sync fl run --broker` with no fl_client agents online says what the agents need."""
from __future__ import annotations

from cloud_sync.broker import EmbeddedBroker
from cloud_sync.cli import main


def test_timeout_names_the_fl_client_task_and_its_config(tmp_path, capsys):
    broker = EmbeddedBroker().start()
    try:
        code = main(["fl", "run", "--task", "sine", "--strategy", "fedavg", "--broker", broker.url,
                     "--devices", "2", "--rounds", "1", "--wait-online", "1", "--data", str(tmp_path)])
    finally:
        broker.stop()
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("cloud-sync: error:")]
    assert len(lines) == 1 and "fl_client" in lines[0] and "kind: fl_client" in lines[0], err
