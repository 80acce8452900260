#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian/Ubuntu machine; safe to run again.
#  - Debian packages (mosquitto broker, libusb for open3d, espeak-ng/sox for speech data,
#    chromium for the dashboard test) when run as root; otherwise prints the apt-get line.
#  - a virtual environment in .venv (Debian and Pi OS Bookworm refuse system-wide pip)
#    with the project and its extras at the versions of requirements/dev.lock (the lock CI
#    tests; `bash scripts/lock.sh` regenerates it); reinstalled only when either file changes.
#  - for extras [all] (dev and CI, never a device), the TFLite exporter from
#    requirements/export-nodeps.txt, --no-deps beside the lock (it cannot join the lock: see
#    that file); EDGE_RUNTIME_EXPORT=0 skips it (~0.9 GB; the export tests then skip).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EDGE_RUNTIME_VENV:-$ROOT/.venv}"
EXTRAS="${EDGE_RUNTIME_EXTRAS:-all}"
APT_PACKAGES="python3-venv python3-dev mosquitto mosquitto-clients postgresql libusb-1.0-0 libgomp1 espeak-ng sox chromium"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

missing=""
if command -v dpkg >/dev/null 2>&1; then
  for pkg in $APT_PACKAGES; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
  done
fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages:$missing"
    apt-get update -q >/dev/null || say "apt-get update failed; trying the install anyway"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
  else
    say "missing Debian packages:$missing"
    say "install them with: sudo apt-get install$missing   (tests needing them will skip or fail)"
  fi
fi

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "Python >= 3.11 is needed; found $("$PYTHON" --version 2>&1)"; exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.edge-runtime-installed"
LOCK="$ROOT/requirements/dev.lock"
want="$(cat "$ROOT/pyproject.toml" "$LOCK" | sha256sum | cut -d' ' -f1) $EXTRAS"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing the project with extras [$EXTRAS] pinned by requirements/dev.lock (first time: a few minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  if [ "$EXTRAS" = all ]; then       # the lock is [all]: install it as it is, then the project
    "$VENV/bin/python" -m pip install -q -r "$LOCK"
    "$VENV/bin/python" -m pip install -q --no-deps -e "$ROOT"
  else
    "$VENV/bin/python" -m pip install -q -c "$LOCK" -e "$ROOT[$EXTRAS]"
  fi
  echo "$want" > "$stamp"
fi
EXPORT_PINS="$ROOT/requirements/export-nodeps.txt"
if [ "$EXTRAS" = all ] && [ "${EDGE_RUNTIME_EXPORT:-1}" != 0 ] && [ -f "$EXPORT_PINS" ]; then
  export_stamp="$VENV/.edge-runtime-export-installed"
  want_export="$(sha256sum < "$EXPORT_PINS" | cut -d' ' -f1)"
  if [ ! -f "$export_stamp" ] || [ "$(cat "$export_stamp")" != "$want_export" ]; then
    say "installing the TFLite exporter pinned by requirements/export-nodeps.txt (--no-deps, hashes checked)"
    "$VENV/bin/python" -m pip install -q --no-deps --require-hashes -r "$EXPORT_PINS"
    echo "$want_export" > "$export_stamp"
  fi
fi
