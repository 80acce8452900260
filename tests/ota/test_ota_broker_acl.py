"""Per-device credentials and ACLs, enforced by a real Mosquitto started with the generated files."""
from __future__ import annotations

import pytest

from cloud_sync.security.credentials import CredentialStore
from cloud_sync.security.passwords import PasswordFile, hash_password, verify_password
from cloud_sync.security.pki import FleetPki

PREFIX = "edge/v1/default"


@pytest.fixture
def fleet_creds(tmp_path):
    store = CredentialStore(tmp_path / "data")
    creds = {name: store.add(name) for name in ("dev-a", "dev-b")}
    creds["coordinator"] = store.add("coordinator", role="coordinator")
    return store, creds


def test_password_hash_matches_mosquitto_format():
    encoded = hash_password("s3cret", salt=b"0123456789ab", iterations=101)
    assert encoded.startswith("$7$101$")
    assert verify_password("s3cret", encoded) and not verify_password("other", encoded)


def test_device_cannot_publish_to_or_read_another_device(tmp_path, fleet_creds, mqtt_clients, secured_mosquitto):
    store, creds = fleet_creds
    broker = secured_mosquitto(store.mosquitto_conf())
    try:
        def login(name):
            client = mqtt_clients(broker.port, name, creds[name].password)
            assert client.connect() == 0, f"{name} was refused"
            return client

        cloud, dev_a, dev_b = login("coordinator"), login("dev-a"), login("dev-b")
        cloud.subscribe(f"{PREFIX}/#")
        # A may try to read everything of B; the broker must deliver none of it.
        dev_a.subscribe(f"{PREFIX}/dev-b/cmd/#")
        dev_a.subscribe(f"{PREFIX}/dev-a/cmd/#")
        dev_a.subscribe(f"{PREFIX}/fl/+/global")

        # Writes: A forges B's result and B's command reply, then publishes its own result.
        dev_a.publish(f"{PREFIX}/dev-b/result/model", b"forged")
        dev_a.publish(f"{PREFIX}/dev-b/cmd/reboot/reply", b"forged")
        dev_a.publish(f"{PREFIX}/dev-a/result/model", b"mine")
        cloud.wait_for(f"{PREFIX}/dev-a/result/model")   # ordered after the forged ones
        assert not [t for t in cloud.topics() if "/dev-b/" in t], cloud.topics()

        # Reads: the coordinator commands B, then A; A sees only its own command.
        cloud.publish(f"{PREFIX}/dev-b/cmd/reboot", b"for b")
        cloud.publish(f"{PREFIX}/fl/7/global", b"manifest")
        cloud.publish(f"{PREFIX}/dev-a/cmd/reboot", b"for a")
        dev_a.wait_for(f"{PREFIX}/dev-a/cmd/reboot")
        dev_a.wait_for(f"{PREFIX}/fl/7/global")
        assert f"{PREFIX}/dev-b/cmd/reboot" not in dev_a.topics()
        # B is not starved by the rules: it reads its own command.
        dev_b.subscribe(f"{PREFIX}/dev-b/cmd/#")
        cloud.publish(f"{PREFIX}/dev-b/cmd/reboot", b"for b again")
        assert dev_b.wait_for(f"{PREFIX}/dev-b/cmd/reboot") == b"for b again"
        # A device cannot read another device's results either (only its own commands etc.).
        dev_a.subscribe(f"{PREFIX}/dev-b/result/#")
        dev_b.publish(f"{PREFIX}/dev-b/result/model", b"b result")
        dev_a.publish(f"{PREFIX}/dev-a/cmd/ping/reply", b"barrier")   # A reads its own cmd/#
        dev_a.wait_for(f"{PREFIX}/dev-a/cmd/ping/reply")
        cloud.wait_for(f"{PREFIX}/dev-b/result/model")
        assert f"{PREFIX}/dev-b/result/model" not in dev_a.topics()
    finally:
        broker.stop()


def test_anonymous_and_wrong_password_are_refused(tmp_path, fleet_creds, mqtt_clients, secured_mosquitto):
    store, creds = fleet_creds
    broker = secured_mosquitto(store.mosquitto_conf())
    try:
        assert mqtt_clients(broker.port).connect() not in (0,)
        assert mqtt_clients(broker.port, "dev-a", "wrong").connect() not in (0,)
        assert mqtt_clients(broker.port, "dev-a", creds["dev-b"].password).connect() not in (0,)
        assert mqtt_clients(broker.port, "dev-a", creds["dev-a"].password).connect() == 0
    finally:
        broker.stop()


def test_rotated_password_replaces_the_old_one(tmp_path, fleet_creds):
    store, creds = fleet_creds
    new = store.add("dev-a", rotate=True)
    passwd = PasswordFile(store.passwd_path)
    assert passwd.check("dev-a", new.password) and not passwd.check("dev-a", creds["dev-a"].password)
    assert passwd.check("dev-b", creds["dev-b"].password)
    with pytest.raises(ValueError, match="invalid device id"):
        store.add("dev/+/x")


def test_tls_listener_with_client_certificates_applies_the_same_acl(tmp_path, fleet_creds, mqtt_clients, secured_mosquitto):
    store, _ = fleet_creds
    pki = FleetPki(tmp_path / "data" / "security" / "pki")
    pki.issue_server(["127.0.0.1", "localhost"])
    certs = {name: pki.issue_client(name) for name in ("dev-a", "coordinator")}
    conf = pki.mosquitto_tls_conf(require_certificate=True) + f"acl_file {store.acl_path}\n"
    broker = secured_mosquitto(conf)
    tls = lambda name: {"ca": str(pki.ca.cert), "cert": str(certs[name].cert), "key": str(certs[name].key)}
    try:
        cloud = mqtt_clients(broker.port, tls=tls("coordinator"))
        dev_a = mqtt_clients(broker.port, tls=tls("dev-a"))
        assert cloud.connect() == 0 and dev_a.connect() == 0
        cloud.subscribe(f"{PREFIX}/#")
        dev_a.publish(f"{PREFIX}/dev-b/state", b"forged")
        dev_a.publish(f"{PREFIX}/dev-a/state", b"online")
        assert cloud.wait_for(f"{PREFIX}/dev-a/state") == b"online"
        assert f"{PREFIX}/dev-b/state" not in cloud.topics()
        # Without a client certificate the handshake fails; plain TCP is not spoken at all.
        assert mqtt_clients(broker.port, tls={"ca": str(pki.ca.cert)}).connect() != 0
        assert mqtt_clients(broker.port, "dev-a", "x").connect() != 0
    finally:
        broker.stop()
