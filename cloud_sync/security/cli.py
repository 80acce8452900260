"""`cloud-sync credentials ...` and `cloud-sync certs ...`: broker users, ACLs, TLS, HTTP tokens."""
from __future__ import annotations

import argparse
from pathlib import Path

from edge_runtime.clitools import CliError

CRED_EPILOG = """\
examples:
  cloud-sync credentials add pi-01                 device user + password, rewrite passwd/acl
  cloud-sync credentials add coordinator --role coordinator
  cloud-sync credentials add pi-01 --cert          also a TLS client certificate (CN = pi-01)
  cloud-sync credentials list
  cloud-sync credentials token ops                 bearer token for HTTP writes (shown once)
  mosquitto -c broker.conf   # with: include the lines of var/security/mosquitto.conf

Files: <data>/security/{passwd,acl,mosquitto.conf,devices/<id>.json,pki/}. A device may
publish only under <root>/v1/<fleet>/<id>/# and read its cmd/#, task/+/request,
config/desired, deploy/#, plus the fleet's fl/+/global and _sys/coordinator/+; the
coordinator role reads and writes the fleet subtree.
"""

CERT_EPILOG = """\
examples:
  cloud-sync certs server --host broker.example.org --host 10.0.0.5
  cloud-sync certs client pi-01
"""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=Path("var"), help="coordinator data folder (default ./var)")
    p.add_argument("--root", default="edge", help="topic root (default edge)")
    p.add_argument("--fleet", default="default", help="fleet name in the topic prefix (default default)")


def _store(args):
    from cloud_sync.protocol.topics import TopicTree
    from cloud_sync.security.credentials import CredentialStore
    return CredentialStore(args.data, TopicTree(args.root, args.fleet))


def _pki(args):
    from cloud_sync.security.pki import FleetPki
    return FleetPki(args.data / "security" / "pki", fleet=args.fleet)


def cmd_add(args) -> int:
    store = _store(args)
    try:
        creds = store.add(args.name, args.role, rotate=args.rotate)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(f"{creds.role} {creds.username}: credentials in {store.secret_path(creds.username, creds.role)}")
    print(f"broker files: {store.passwd_path}, {store.acl_path} (send SIGHUP to a running mosquitto)")
    if args.cert:
        pair = _pki(args).issue_client(creds.username)
        print(f"client certificate: {pair.cert} key: {pair.key}")
    return 0


def cmd_list(args) -> int:
    store = _store(args)
    for role in ("coordinator", "device"):
        for name in store.names(role):
            has_cert = _pki(args).client(name).cert.exists()
            print(f"{role:12s} {name:24s} {'cert' if has_cert else ''}")
    return 0


def cmd_remove(args) -> int:
    if not _store(args).remove(args.name, args.role):
        raise CliError(f"no {args.role} called {args.name!r}; see 'cloud-sync credentials list'")
    return 0


def cmd_token(args) -> int:
    token = _store(args).tokens.issue(args.name)
    print(token)
    return 0


def cmd_cert_server(args) -> int:
    pki = _pki(args)
    pair = pki.issue_server(args.host or ["localhost", "127.0.0.1"])
    print(f"CA: {pki.ca.cert}\nserver certificate: {pair.cert} key: {pair.key}")
    print("broker listener lines:\n" + pki.mosquitto_tls_conf(require_certificate=args.require_client_cert))
    return 0


def cmd_cert_client(args) -> int:
    pair = _pki(args).issue_client(args.name)
    print(f"client certificate: {pair.cert} key: {pair.key}")
    return 0


def register(subparsers) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    cred = subparsers.add_parser("credentials", help="per-device broker credentials, ACLs, HTTP tokens",
                                 description="Create broker users and regenerate Mosquitto's password "
                                             "and ACL files.", epilog=CRED_EPILOG, formatter_class=fmt)
    sub = cred.add_subparsers(dest="credentials_command", metavar="ACTION", required=True)
    p = sub.add_parser("add", help="create credentials for a device (or coordinator)", epilog=CRED_EPILOG,
                       formatter_class=fmt)
    p.add_argument("name", help="device id (also the MQTT user name) or coordinator user")
    p.add_argument("--role", choices=["device", "coordinator"], default="device")
    p.add_argument("--rotate", action="store_true", help="replace an existing password")
    p.add_argument("--cert", action="store_true", help="also issue a TLS client certificate")
    _common(p)
    p.set_defaults(handler=cmd_add)
    p = sub.add_parser("list", help="users and whether they have a certificate")
    _common(p)
    p.set_defaults(handler=cmd_list)
    p = sub.add_parser("remove", help="delete a user and rewrite the broker files")
    p.add_argument("name")
    p.add_argument("--role", choices=["device", "coordinator"], default="device")
    _common(p)
    p.set_defaults(handler=cmd_remove)
    p = sub.add_parser("token", help="issue a bearer token for HTTP writes (printed once)")
    p.add_argument("name", help="who the token is for, e.g. ops or ci")
    _common(p)
    p.set_defaults(handler=cmd_token)

    certs = subparsers.add_parser("certs", help="fleet CA, broker and client TLS certificates",
                                  description="Issue certificates from the fleet CA (created on first use).",
                                  epilog=CERT_EPILOG, formatter_class=fmt)
    sub = certs.add_subparsers(dest="certs_command", metavar="ACTION", required=True)
    p = sub.add_parser("server", help="the broker's certificate")
    p.add_argument("--host", action="append", help="name or IP clients use (repeatable)")
    p.add_argument("--require-client-cert", action="store_true", help="print listener lines that demand client certs")
    _common(p)
    p.set_defaults(handler=cmd_cert_server)
    p = sub.add_parser("client", help="a client certificate (CN = NAME)")
    p.add_argument("name")
    _common(p)
    p.set_defaults(handler=cmd_cert_client)
