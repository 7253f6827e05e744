#!/usr/bin/env bash
# Make ./secrets/ for docker-compose.yml: random passwords and keys (0600, never printed), the
# database URLs that embed them, and a self-signed TLS certificate for CAMVAULT_HOST unless
# ./secrets/tls.pem exists (put your CA-signed certificate + key there instead, as one PEM).
# Existing files are kept: running it again changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(sed -n 's/^CAMVAULT_HOST=//p' .env 2>/dev/null || true)
host=${host:-camvault.example.net}
umask 077
mkdir -p secrets
new() { [ -s "secrets/$1" ] || printf '%s' "$2" >"secrets/$1"; }
rand() { head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32; }
new minio_root_user "camvault-root"
new minio_root_password "$(rand)"
new CAMVAULT_S3_ACCESS_KEY "camvault-storage"
new CAMVAULT_S3_SECRET_KEY "$(rand)"
new storage_db_password "$(rand)"
new CAMVAULT_DATABASE_URL "postgresql+psycopg://camvault:$(cat secrets/storage_db_password)@storage-db/camvault"
for c in c1 c2 c3; do
  new "${c}_db_password" "$(rand)"
  new "${c}_database_url" "postgresql+psycopg://camvault:$(cat "secrets/${c}_db_password")@${c}-db/camvault"
done
if [ ! -s secrets/tls.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
    -subj "/CN=$host" -addext "subjectAltName=DNS:$host" \
    -keyout secrets/tls.key -out secrets/tls.crt 2>/dev/null
  cat secrets/tls.crt secrets/tls.key >secrets/tls.pem
  rm secrets/tls.key
fi
echo "secrets ready in $(pwd)/secrets (self-signed certificate for $host unless you put yours)"
