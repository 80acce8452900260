"""Brokers by URL: mqtts:// with a CA and client certificates, and user:password logins."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from cloud_sync.mosquitto import MosquittoProcess
from edge_runtime.waiting import wait_until

pki_module = pytest.importorskip("cloud_sync.security.pki")
passwords = pytest.importorskip("cloud_sync.security.passwords")
# Started as root, Mosquitto drops to the 'mosquitto' user, which cannot read files in a
# 0700 pytest tmp dir; 'user root' keeps it as root (ignored when tests run unprivileged).
STAY = "user root\n"


def test_mqtts_with_ca_and_client_certificates(tmp_path, make_coordinator, make_agent):
    pki = pki_module.FleetPki(tmp_path / "pki")
    pki.ensure_ca()
    pki.issue_server(["127.0.0.1"])
    urls = {}
    for name in ("coordinator", "tls-1"):
        pair = pki.issue_client(name)
        urls[name] = f"mqtts://127.0.0.1:{{port}}?ca={pki.ca.cert}&cert={pair.cert}&key={pair.key}"
    (tmp_path / "tls-broker").mkdir()
    broker = MosquittoProcess(workdir=tmp_path / "tls-broker",
                              extra_conf=STAY + pki.mosquitto_tls_conf(require_certificate=True)).start()
    try:
        coord = make_coordinator(urls["coordinator"].format(port=broker.port))
        assert coord.wait_ready(10), coord.link.last_error
        make_agent(urls["tls-1"].format(port=broker.port), "tls-1", tasks=[
            {"kind": "echo", "name": "echo", "interval_s": 0.05, "params": {"limit": 5}}])
        wait_until(lambda: coord.count_results("tls-1") == 5, 15, what="results over TLS")
        assert coord.command("tls-1", "ping", timeout=10).ok
    finally:
        broker.stop()


def test_user_password_login_and_refusal(tmp_path, make_coordinator, make_agent):
    password_file = passwords.PasswordFile(tmp_path / "passwd")
    password_file.set("coord", "c0ord:pw")
    password_file.set("pw-1", "s3cret/@")
    password_file.save()
    (tmp_path / "pw-broker").mkdir()
    broker = MosquittoProcess(workdir=tmp_path / "pw-broker", allow_anonymous=False,
                              extra_conf=f"{STAY}password_file {password_file.path}").start()
    try:
        url = lambda user, pw: f"mqtt://{quote(user)}:{quote(pw, safe='')}@127.0.0.1:{broker.port}"  # noqa: E731
        coord = make_coordinator(url("coord", "c0ord:pw"))
        assert coord.wait_ready(10), coord.link.last_error
        make_agent(url("pw-1", "s3cret/@"), "pw-1", tasks=[
            {"kind": "echo", "name": "echo", "interval_s": 0.05, "params": {"limit": 3}}])
        wait_until(lambda: coord.count_results("pw-1") == 3, 15, what="results with a password login")
        intruder = make_agent(url("pw-1", "wrong"), "pw-2")
        wait_until(lambda: intruder.link.last_error, 10, what="the refused login reported")
        assert not intruder.link.connected.is_set()
        assert "refused" in intruder.link.last_error and "wrong" not in intruder.link.last_error
    finally:
        broker.stop()
