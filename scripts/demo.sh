#!/usr/bin/env bash
# The main job: install what is needed, then run the end-to-end fleet demo
# (embedded broker, coordinator, graph store, dashboard, simulated devices).
# Extra arguments go to `cloud-sync demo` (try --help).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/cloud-sync" demo "$@"
