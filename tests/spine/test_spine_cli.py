"""The CLI faces of the spine: devices, results, cmd (in-process, against a real broker)."""
from __future__ import annotations

import json

import pytest

from cloud_sync.cli import main as cloud_main
from edge_runtime.cli import main as edge_main
from edge_runtime.waiting import wait_until


def test_devices_results_and_cmd_commands(mosquitto, make_coordinator, make_agent, capsys):
    coord = make_coordinator(mosquitto.url)
    make_agent(mosquitto.url, "cli-1", tasks=[
        {"kind": "echo", "name": "echo", "interval_s": 0.05, "params": {"limit": 4}}])
    wait_until(lambda: coord.count_results("cli-1") == 4, 15, what="results")
    data = str(coord.data_dir)
    capsys.readouterr()

    assert cloud_main(["devices", "--data", data]) == 0
    table = capsys.readouterr().out
    assert "cli-1" in table and "online" in table

    assert cloud_main(["results", "--data", data, "--device", "cli-1", "--task", "echo"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["body"]["n"] for row in lines] == [1, 2, 3, 4]

    assert cloud_main(["cmd", "cli-1", "ping", "--data", data]) == 0  # broker found via --data
    assert json.loads(capsys.readouterr().out)["result"]["pong"] is True
    assert cloud_main(["cmd", "cli-1", "set_config", "heartbeat_s=2.5", "--broker", mosquitto.url]) == 0
    assert json.loads(capsys.readouterr().out)["result"]["config"]["heartbeat_s"] == 2.5
    assert cloud_main(["cmd", "cli-1", "run_task", '{"task": "echo", "request": {"a": 1}}',
                       "--data", data]) == 0
    assert json.loads(capsys.readouterr().out)["result"] == {"reply": {"echo": {"a": 1}}}


def test_cli_errors_say_what_to_do(tmp_path, capsys):
    assert cloud_main(["devices", "--data", str(tmp_path / "none")]) == 2
    assert "cloud-sync coordinator --data" in capsys.readouterr().err
    assert cloud_main(["cmd", "x", "ping", "--data", str(tmp_path)]) == 2
    assert "--broker" in capsys.readouterr().err
    assert cloud_main(["cmd", "x", "ping", "oops", "--broker", "mqtt://127.0.0.1:1"]) == 2
    assert "key=value" in capsys.readouterr().err
    assert edge_main(["agent", "--device-id", "bad id!"]) == 2
    assert "invalid device id" in capsys.readouterr().err


def test_coordinator_restart_loses_nothing(mosquitto, make_coordinator, make_agent, tmp_path):
    data = tmp_path / "restart-store"
    coord = make_coordinator(mosquitto.url, data)
    agent = make_agent(mosquitto.url, "rs-1", tasks=[
        {"kind": "echo", "name": "echo", "interval_s": 0.02, "params": {"limit": 200}}])
    wait_until(lambda: coord.count_results("rs-1") >= 20, 15, what="first results")
    coord.stop()  # announces 'offline': the agent holds results in its outbox meanwhile
    wait_until(lambda: agent.runners["echo"].task.counter == 200, 30, what="all produced")
    coord = make_coordinator(mosquitto.url, data)
    wait_until(lambda: coord.count_results("rs-1") == 200, 30, what="all 200 stored after restart")
    assert sorted(r["seq"] for r in coord.results(device="rs-1")) == list(range(1, 201))


@pytest.mark.parametrize("argv", [["coordinator", "--help"], ["cmd", "--help"]])
def test_help_has_examples(argv, capsys):
    with pytest.raises(SystemExit):
        cloud_main(argv)
    assert "examples:" in capsys.readouterr().out
