#!/usr/bin/env bash
# Install what is needed, then run the test suite (slow benchmarks are skipped;
# RUN_SLOW=1 runs them too). Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
