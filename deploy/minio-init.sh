#!/bin/sh
# Run once by docker-compose's minio-init: the bucket (versioned), its lifecycle, and the
# storage service's own MinIO user, allowed only object read/write/delete and multipart on
# that bucket (no bucket administration, no version deletion, no other bucket).
set -eu
secret() { cat "/run/secrets/$1"; }
bucket=${CAMVAULT_S3_BUCKET:?}
mc alias set camvault http://minio1:9000 "$(secret minio_root_user)" "$(secret minio_root_password)" >/dev/null
mc mb --ignore-existing "camvault/$bucket"
mc version enable "camvault/$bucket"
# a deleted payload's old versions go after 7 days (crypto-shredding already made them unreadable)
mc ilm rule add --noncurrent-expire-days 7 "camvault/$bucket" >/dev/null 2>&1 || true
sed "s/BUCKET/$bucket/g" /deploy/storage-policy.json >/tmp/policy.json
mc admin policy create camvault camvault-storage /tmp/policy.json 2>/dev/null \
  || mc admin policy add camvault camvault-storage /tmp/policy.json
mc admin user add camvault "$(secret CAMVAULT_S3_ACCESS_KEY)" "$(secret CAMVAULT_S3_SECRET_KEY)"
mc admin policy attach camvault camvault-storage --user "$(secret CAMVAULT_S3_ACCESS_KEY)" 2>/dev/null \
  || mc admin policy set camvault camvault-storage "user=$(secret CAMVAULT_S3_ACCESS_KEY)"
echo "minio-init: bucket $bucket ready"
