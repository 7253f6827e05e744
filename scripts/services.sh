#!/usr/bin/env bash
# Start a test service by hand: scripts/services.sh minio [--nodes 4] | postgres | cluster
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
exec .venv/bin/python -m tests.support.services "$@"
