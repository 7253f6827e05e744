#!/bin/sh
# Docker secrets are files: /run/secrets/CAMVAULT_DATABASE_URL becomes the variable
# CAMVAULT_DATABASE_URL of the service (camvault reads its settings from the environment).
# Only files named like a camvault setting are read; nothing is printed.
set -eu
dir=${CAMVAULT_SECRETS_DIR:-/run/secrets}
if [ -d "$dir" ]; then
  for f in "$dir"/CAMVAULT_*; do
    [ -f "$f" ] || continue
    name=$(basename "$f")
    export "$name=$(cat "$f")"
  done
fi
exec "$@"
