"""Files written into a device bundle. Placeholders: ``@DEVICE_ID@``, ``@PROFILE@``, ``@ARCH@``,
``@PYTHON@`` are filled when the bundle is built; ``@PREFIX@`` when ``install.sh`` runs."""
from __future__ import annotations

SYSTEMD_UNIT = """\
# edge-runtime agent for @DEVICE_ID@ (@PROFILE@). Installed by install.sh.
[Unit]
Description=edge-runtime agent (@DEVICE_ID@)
Wants=network-online.target
After=network-online.target time-sync.target
StartLimitIntervalSec=600
StartLimitBurst=10

[Service]
# The launcher says READY=1 once the agent runs and pings WATCHDOG=1 only while the agent
# answers its own health check; a hung agent is killed and restarted by systemd.
Type=notify
NotifyAccess=main
WatchdogSec=60
ExecStart=@PREFIX@/venv/bin/python -m edge_runtime.bundle.service --config @PREFIX@/etc/agent.yaml
Restart=on-failure
RestartSec=5
TimeoutStartSec=180
TimeoutStopSec=30
User=edge-runtime
Group=edge-runtime
Environment=PYTHONUNBUFFERED=1
# Hardening: the agent writes only its state folder.
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ReadWritePaths=@PREFIX@/state

[Install]
WantedBy=multi-user.target
"""

INSTALL_SH = r"""#!/usr/bin/env bash
# Install the edge-runtime agent for @DEVICE_ID@ (@PROFILE@, linux/@ARCH@, Python @PYTHON@).
#
#   sudo ./install.sh                         venv in /opt/edge-runtime, systemd service enabled
#   sudo ./install.sh --system-site-packages  reuse apt's python3-numpy/scipy (Pi OS)
#   ./install.sh --prefix ~/edge --no-systemd no root: files only, start by hand
#   ./install.sh --offline                    no PyPI: dependencies from ./wheels or already present
#
# Pi OS Bookworm / Debian 12 refuse system-wide pip (PEP 668), hence the venv.
set -euo pipefail
BUNDLE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX=/opt/edge-runtime
PYTHON=python3
VENV_OPTS=""
OFFLINE=0
SYSTEMD=1
SERVICE_USER=edge-runtime
say() { printf '[edge-runtime install] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --python) PYTHON="$2"; shift 2 ;;
    --system-site-packages) VENV_OPTS="--system-site-packages"; shift ;;
    --offline) OFFLINE=1; shift ;;
    --no-systemd) SYSTEMD=0; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

machine="$(uname -m)"
[ "$machine" = "@ARCH@" ] || die "this bundle is for @ARCH@, this machine is $machine; build one with 'edge-runtime bundle --arch $machine'"
have="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" || die "$PYTHON not found"
[ "$have" = "@PYTHON@" ] || die "this bundle pins wheels for Python @PYTHON@, $PYTHON is $have; use --python python@PYTHON@ or rebuild with --python $have"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || die "Python's venv module is missing: apt-get install python3-venv"
if [ "$SYSTEMD" = 1 ] && [ "$(id -u)" != 0 ]; then die "run as root to create the service user and unit, or pass --no-systemd"; fi

say "creating venv $PREFIX/venv"
mkdir -p "$PREFIX"
"$PYTHON" -m venv $VENV_OPTS "$PREFIX/venv"
PIP=("$PREFIX/venv/bin/python" -m pip --disable-pip-version-check)
if [ "$OFFLINE" = 1 ]; then SOURCE=(--no-index --find-links "$BUNDLE/wheels"); else SOURCE=(); fi
say "installing pinned dependencies (requirements.txt)"
"${PIP[@]}" install -q "${SOURCE[@]}" -r "$BUNDLE/requirements.txt"
if [ -f "$BUNDLE/requirements-jetson-gpu.txt" ] && [ "$OFFLINE" = 0 ]; then
  say "trying NVIDIA's onnxruntime-gpu for Jetson (TensorRT/CUDA providers)"
  if "${PIP[@]}" install -q -r "$BUNDLE/requirements-jetson-gpu.txt"; then
    "${PIP[@]}" uninstall -q -y onnxruntime || true
  else
    say "warning: no onnxruntime-gpu wheel for this JetPack/Python; keeping the CPU provider"
  fi
fi
say "installing edge-runtime from the bundle"
"${PIP[@]}" install -q --no-index --no-deps --force-reinstall "$BUNDLE"/wheels/edge_runtime-*.whl

mkdir -p "$PREFIX/etc/trusted_keys" "$PREFIX/state"
sed "s#@PREFIX@#$PREFIX#g" "$BUNDLE/agent.yaml" > "$PREFIX/etc/agent.yaml"
cp "$BUNDLE/trusted_keys/"*.pem "$PREFIX/etc/trusted_keys/"
if [ -d "$BUNDLE/credentials" ]; then cp -r "$BUNDLE/credentials" "$PREFIX/etc/"; fi
if [ -d "$BUNDLE/models" ]; then mkdir -p "$PREFIX/models" && cp "$BUNDLE/models/"* "$PREFIX/models/"; fi
chmod 600 "$PREFIX/etc/agent.yaml"

if [ "$SYSTEMD" = 1 ]; then
  id "$SERVICE_USER" >/dev/null 2>&1 || useradd --system --home-dir "$PREFIX/state" --shell /usr/sbin/nologin "$SERVICE_USER"
  for group in video render gpio i2c spi dialout audio plugdev; do
    getent group "$group" >/dev/null && usermod -aG "$group" "$SERVICE_USER"
  done
  chown -R "$SERVICE_USER:$SERVICE_USER" "$PREFIX/state"
  chown -R "root:$SERVICE_USER" "$PREFIX/etc"
  chmod 640 "$PREFIX/etc/agent.yaml"
  chmod -R g+rX "$PREFIX/etc"
  sed "s#@PREFIX@#$PREFIX#g" "$BUNDLE/edge-runtime.service" > /etc/systemd/system/edge-runtime.service
  systemctl daemon-reload
  systemctl enable --now edge-runtime.service
  say "service started: journalctl -u edge-runtime -f"
else
  say "installed; start with: $PREFIX/venv/bin/python -m edge_runtime.bundle.service --config $PREFIX/etc/agent.yaml"
fi
"""

DOCKERFILE_L4T = """\
# edge-runtime agent for @DEVICE_ID@ on NVIDIA Jetson (L4T / JetPack 6).
#   docker build -t edge-runtime-@DEVICE_ID@ .
#   docker run -d --runtime nvidia --restart on-failure -v edge-state:/opt/edge-runtime/state \\
#       edge-runtime-@DEVICE_ID@
# JetPack 6 (Ubuntu 22.04) ships Python 3.10, which the device side supports (its own lock).
# onnxruntime-gpu comes from NVIDIA's Jetson index when it has a wheel for this Python,
# else the CPU provider is used; the task status reports the provider actually in use.
ARG L4T_IMAGE=nvcr.io/nvidia/l4t-jetpack:r36.4.0
FROM ${L4T_IMAGE}
RUN apt-get update \\
 && apt-get install -y --no-install-recommends python@PYTHON@ python@PYTHON@-venv ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
COPY . /bundle
RUN bash /bundle/install.sh --prefix /opt/edge-runtime --python python@PYTHON@ --no-systemd
RUN useradd --system --home-dir /opt/edge-runtime/state edge-runtime \\
 && chown -R edge-runtime /opt/edge-runtime/state
USER edge-runtime
CMD ["/opt/edge-runtime/venv/bin/python", "-m", "edge_runtime.bundle.service", \\
     "--config", "/opt/edge-runtime/etc/agent.yaml"]
"""

README = """\
# edge-runtime bundle for @DEVICE_ID@ (@PROFILE@)

Target: linux/@ARCH@, CPython @PYTHON@. Copy this folder to the device and run
`sudo ./install.sh` (see `./install.sh --help`). Contents:

- `agent.yaml`: agent config with the broker URL and this device's credentials (secret!)
- `credentials/`: CA certificate (and client certificate) for TLS to the broker
- `trusted_keys/fleet_public.pem`: the key OTA model manifests must be signed with
- `requirements.txt`: pinned binary wheels for this architecture and Python
- `wheels/`: edge-runtime itself (add dependency wheels here for `--offline` installs)
- `edge-runtime.service`: systemd unit (watchdog via sd_notify, unprivileged user)
@EXTRA@
Notes:
@NOTES@
"""
