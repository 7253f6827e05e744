#!/usr/bin/env bash
# Installs the real programs camvault's tests run against, idempotently:
#   - age and PostgreSQL from Debian's packages (apt, needs root or sudo);
#   - MinIO built from source with `go install` at the pinned version, cached in .cache/bin
#     (a second run finds the binary and its version stamp and does not rebuild);
#   - the C2SP CCTV age test vectors (npm package cctv-age) into .cache/npm.
# Any failure stops with a clear message: the tests must never run without these.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tool-versions.env
source "$root/scripts/tool-versions.env"
cache=${CAMVAULT_CACHE_DIR:-$root/.cache}
mkdir -p "$cache/bin"

# Components to install: all by default, or a subset named on the command line
# (e.g. `install-tools.sh age` for `make demo`).
want=" ${*:-age postgres minio cctv camera} "
wants() { [[ "$want" == *" $1 "* ]]; }

say() { printf '[install-tools] %s\n' "$*" >&2; }
die() { printf '[install-tools] ERROR: %s\n' "$*" >&2; exit 1; }

apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root or sudo to apt-get install $*"
    sudo="sudo"
  fi
  say "apt-get install $*"
  if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$cache/apt.log" 2>&1; then
    $sudo apt-get update -q >>"$cache/apt.log" 2>&1 || true
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$cache/apt.log" 2>&1 \
      || die "apt-get install $* failed; see $cache/apt.log"
  fi
}

# --- age -------------------------------------------------------------------------------
if wants age; then
  if ! command -v age >/dev/null || ! command -v age-keygen >/dev/null; then
    apt_install age
  fi
  command -v age >/dev/null || die "age is still missing after apt-get install age"
fi

# --- PostgreSQL ------------------------------------------------------------------------
pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && { echo "$d"; return 0; }
  done
  return 1
}
if wants postgres; then
  pg_bindir >/dev/null || apt_install postgresql
  pg_bindir >/dev/null || die "PostgreSQL server binaries (initdb, postgres) not found after apt-get install postgresql"
fi

# --- camera agent: ffmpeg (segmenter) and OpenCV's data files (cat-face cascade) -----------
if wants camera; then
  if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null \
     || [ ! -f /usr/share/opencv4/lbpcascades/lbpcascade_frontalcatface.xml ]; then
    apt_install ffmpeg opencv-data
  fi
  command -v ffmpeg >/dev/null || die "ffmpeg is still missing after apt-get install ffmpeg"
fi

# --- MinIO (built from source, pinned) --------------------------------------------------
minio_bin="$cache/bin/minio"
stamp="$cache/bin/minio.version"
if ! wants minio; then
  :
elif [ -x "$minio_bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$MINIO_VERSION" ]; then
  say "MinIO $MINIO_VERSION already built: $minio_bin"
else
  command -v go >/dev/null || die "Go toolchain not found: needed to build MinIO from source"
  say "building MinIO $MINIO_MODULE@$MINIO_VERSION with go install (first run only, a few minutes)"
  rm -f "$stamp"
  GOBIN="$cache/bin" GOFLAGS=-buildvcs=false go install "$MINIO_MODULE@$MINIO_VERSION" \
    >"$cache/minio-build.log" 2>&1 || { tail -20 "$cache/minio-build.log" >&2; die "go install of MinIO failed; see $cache/minio-build.log"; }
  [ -x "$minio_bin" ] || die "go install finished but $minio_bin is missing"
  echo "$MINIO_VERSION" >"$stamp"
fi

# --- C2SP CCTV age test vectors ---------------------------------------------------------
cctv="$cache/npm/node_modules/cctv-age"
if wants cctv && [ "$(node -p "require('$cctv/package.json').version" 2>/dev/null)" != "$CCTV_AGE_VERSION" ]; then
  command -v npm >/dev/null || die "npm not found: needed to install the cctv-age test vectors"
  say "npm install cctv-age@$CCTV_AGE_VERSION"
  npm install --no-save --no-audit --no-fund --prefix "$cache/npm" "cctv-age@$CCTV_AGE_VERSION" \
    >"$cache/npm.log" 2>&1 || die "npm install cctv-age failed; see $cache/npm.log"
fi
say "tools ready:${want}"
