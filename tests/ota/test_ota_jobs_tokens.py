"""Pure pieces: job state merging on the cloud side, HTTP write tokens, the credentials CLI."""
from __future__ import annotations

import pytest

from cloud_sync.cli import main
from cloud_sync.ota.jobs import advance, summarize
from cloud_sync.security.passwords import PasswordFile
from cloud_sync.security.tokens import TokenError, TokenStore


def test_a_late_replayed_report_never_moves_a_device_back():
    healthy = {"state": "healthy", "phase": "healthy"}
    assert advance(healthy, {"state": "downloading", "phase": "downloading"}) is healthy
    gate = {"state": "activating", "phase": "health_gate"}
    assert advance({"phase": "verifying"}, gate) is gate
    assert advance(gate, {"phase": "verifying"}) is gate


def test_job_summary_is_running_until_every_device_is_terminal():
    job = {"job": "j", "targets": ["a", "b"], "created": 0}
    running = summarize(job, {"a": {"phase": "healthy"}})
    assert running["state"] == "running" and running["devices"]["b"]["phase"] == "ordered"
    assert summarize(job, {"a": {"phase": "healthy"}, "b": {"phase": "rolled_back"}})["state"] == "partial"
    assert summarize(job, {"a": {"phase": "rejected"}, "b": {"phase": "failed"}})["state"] == "failed"
    assert summarize(job, {"a": {"phase": "healthy"}, "b": {"phase": "healthy"}})["counts"] == {"healthy": 2}


def test_write_token_required_and_checked(tmp_path):
    tokens = TokenStore(tmp_path / "tokens.json")
    token = tokens.issue("ops")
    assert token not in (tmp_path / "tokens.json").read_text()        # only the digest is stored
    assert tokens.require({"Authorization": f"Bearer {token}"}) == "ops"
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": token}):
        with pytest.raises(TokenError):
            tokens.require(headers)
    assert tokens.revoke("ops") and tokens.check(token) is None


def test_credentials_cli_writes_broker_files(tmp_path, capsys):
    data = str(tmp_path / "var")
    assert main(["credentials", "add", "pi-01", "--data", data, "--cert"]) == 0
    assert main(["credentials", "add", "coordinator", "--role", "coordinator", "--data", data]) == 0
    assert main(["credentials", "list", "--data", data]) == 0
    listing = capsys.readouterr().out
    assert "pi-01" in listing and "cert" in listing
    assert main(["credentials", "add", "a/b", "--data", data]) == 2
    assert "invalid device id" in capsys.readouterr().err
    passwd = PasswordFile(tmp_path / "var" / "security" / "passwd")
    assert set(passwd.entries) == {"pi-01", "coordinator"}
    assert (tmp_path / "var" / "security" / "pki" / "clients" / "pi-01.crt").exists()
