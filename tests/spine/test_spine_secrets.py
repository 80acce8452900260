"""Secrets stay secret: no token on stdout, 0600 files, a broker config that refuses
anonymous clients with absolute paths, constant-time token checks."""
from __future__ import annotations

import hmac
import os
import stat
import subprocess
import sys
from pathlib import Path

from cloud_sync.security.credentials import CredentialStore
from cloud_sync.security.tokens import TokenStore
from edge_runtime.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_broker_files_are_0600_refuse_anonymous_and_use_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = CredentialStore(Path("var"))          # a relative --data, as the issue found
    store.add("pi-01")
    store.add("coord", role="coordinator")
    conf = store.conf_path.read_text().splitlines()
    assert "allow_anonymous false" in conf
    paths = [line.split(" ", 1)[1] for line in conf if line.startswith(("password_file", "acl_file"))]
    assert len(paths) == 2 and all(Path(p).is_absolute() and Path(p).exists() for p in paths)
    for path in (store.conf_path, store.passwd_path, store.acl_path,
                 store.secret_path("pi-01"), store.secret_path("coord", "coordinator")):
        assert _mode(path) == 0o600, path
    token = store.tokens.issue("ops")
    assert _mode(store.tokens.path) == 0o600
    assert store.tokens.revoke("ops") and _mode(store.tokens.path) == 0o600
    assert store.tokens.check(token) is None


def test_token_checks_are_constant_time(tmp_path, monkeypatch):
    tokens = TokenStore(tmp_path / "t.json")
    token = tokens.issue("ops")
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    assert tokens.require({"Authorization": f"Bearer {token}"}) == "ops"
    assert calls, "the token check did not go through hmac.compare_digest"


def test_coordinator_prints_the_token_file_not_the_token(tmp_path, mosquitto):
    data = tmp_path / "var"
    out = tmp_path / "stdout"
    with open(out, "wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "cloud_sync.cli", "coordinator", "--broker",
                                 mosquitto.url, "--data", str(data), "--http-port", "0"],
                                cwd=REPO, stdout=sink, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        token_file = data / "security" / "http_write_token"
        wait_until(lambda: "mode 0600" in out.read_text(), 60, what="the coordinator's start lines")
        text = out.read_text()
        token = token_file.read_text().strip()
        assert len(token) >= 32 and token not in text
        assert str(token_file.absolute()) in text
        assert _mode(token_file) == 0o600
        assert TokenStore(data / "security" / "http_tokens.json").check(token) == "coordinator"
    finally:
        proc.terminate()
        proc.wait(20)
