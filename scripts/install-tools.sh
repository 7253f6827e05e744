#!/usr/bin/env bash
# Installs the real programs camvault's tests run against, idempotently:
#   - age and PostgreSQL from Debian's packages (apt, needs root or sudo);
#   - rtsp: GStreamer's RTSP server with its plugins (Debian), the tests' IP camera;
#   - deploy: docker-compose (checks docker-compose.yml, no engine needed) and HAProxy (Debian);
#   - browser: Chromium (Debian), the web app's end-to-end tests drive /usr/bin/chromium through
#     playwright-core (no browser is ever downloaded);
#   - MinIO, OpenTofu (tofu), the AWS provider tofu validates infra/terraform/ with, and
#     SeaweedFS (weed) built from source with Go at the pinned versions, cached in .cache/bin
#     (a second run finds the binary and its version stamp and does not rebuild);
#   - the C2SP CCTV age test vectors (npm package cctv-age) into .cache/npm;
#   - models: the camera's COCO CenterNet detector (centernet.json/.bin from the npm package
#     @vladmandic/human, pinned, checked against clients/detect/centernet.sha256, the pins the
#     camera also checks at every load) into .cache/models/centernet;
#   - samples: real test photographs with vehicles and animals (dog.jpg, person.jpg,
#     horses.jpg from Debian's darknet package, sha256-checked) into .cache/samples/darknet.
# Any failure stops with a clear message: the tests must never run without these.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tool-versions.env
source "$root/scripts/tool-versions.env"
cache=${CAMVAULT_CACHE_DIR:-$root/.cache}
mkdir -p "$cache/bin"

# Components to install: all by default, or a subset named on the command line
# (e.g. `install-tools.sh age` for `make demo`).
want=" ${*:-age age13 postgres minio tofu tofu-aws seaweedfs cctv camera rtsp deploy rclone browser models samples} "
wants() { [[ "$want" == *" $1 "* ]]; }

say() { printf '[install-tools] %s\n' "$*" >&2; }
die() { printf '[install-tools] ERROR: %s\n' "$*" >&2; exit 1; }

# Temporary directories (in $cache) are removed on every exit path: success, die, Ctrl-C.
tmp_dirs=()
cleanup() { if [ ${#tmp_dirs[@]} -gt 0 ]; then rm -rf "${tmp_dirs[@]}"; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The command prefix that runs a command as root: "" for root, "sudo" otherwise (fails when
# neither is possible).
root_prefix() {
  if [ "$(id -u)" -eq 0 ]; then echo ""
  elif command -v sudo >/dev/null; then echo sudo
  else return 1
  fi
}

apt_install() {
  local sudo
  sudo=$(root_prefix) || die "need root or sudo to apt-get install $*"
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

# --- an IP camera for the tests: GStreamer's RTSP server (tests/support/rtsp_server.py) ----
# Debian's PyGObject and GStreamer plugins (x264enc: ugly; avenc_aac: libav), run by the
# system Python: the RTSP source is tested against a real RTSP server, with sound.
rtsp_ready() {
  /usr/bin/python3 - <<'PY' >/dev/null 2>&1
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
assert all(Gst.ElementFactory.find(e) for e in ("x264enc", "avenc_aac", "rtph264pay", "rtpmp4gpay"))
PY
}
if wants rtsp && ! rtsp_ready; then
  apt_install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
    gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-libav
  rtsp_ready || die "GStreamer's RTSP server still cannot run after apt-get install"
fi

# --- deploy: the tools that check docker-compose.yml and the proxy configurations -----------
if wants deploy && { ! command -v docker-compose >/dev/null || ! command -v haproxy >/dev/null; }; then
  apt_install docker-compose haproxy
  command -v docker-compose >/dev/null && command -v haproxy >/dev/null \
    || die "docker-compose or haproxy still missing after apt-get install"
fi

# --- rclone: the baseline of the transfer bench (bench/transfer.py: rclone crypt over MinIO) --
if wants rclone && ! command -v rclone >/dev/null; then
  apt_install rclone
  command -v rclone >/dev/null || die "rclone is still missing after apt-get install rclone"
fi

# --- browser: Debian's Chromium for the web app's headless end-to-end tests (web/e2e) --------
chromium_ready() { /usr/bin/chromium --version >/dev/null 2>&1; }
if wants browser && ! chromium_ready; then
  apt_install chromium
  chromium_ready || die "/usr/bin/chromium still cannot run after apt-get install"
fi

# --- Go programs built from source at pinned versions, cached in $cache/bin ----------------
# go_tool NAME MODULE/PATH VERSION [MODULE]: a second run finds the binary and its version stamp and
# does not rebuild (a clean clone relinks from Go's own build cache, which is fast).
go_tool() {
  local name=$1 pkg=$2 version=$3 module=${4:-} bin="$cache/bin/$1" stamp="$cache/bin/$1.version"
  if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    say "$name $version already built: $bin"
    return 0
  fi
  command -v go >/dev/null || die "Go toolchain not found: needed to build $name from source"
  say "building $name ($pkg@$version) from source with Go (first run only, a few minutes)"
  rm -f "$stamp"
  local log="$cache/$name-build.log"
  if [ -z "$module" ]; then
    GOBIN="$cache/bin" GOFLAGS=-buildvcs=false go install "$pkg@$version" >"$log" 2>&1 \
      || { tail -20 "$log" >&2; die "go install of $name failed; see $log"; }
  else
    # A module whose go.mod has replace directives cannot be `go install`ed by version: build
    # it as the main module, in its own (verified, read-only) copy in Go's module cache.
    local dir
    dir=$(go mod download -json "$module@$version" 2>>"$log" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [ -d "$dir" ] || { tail -20 "$log" >&2; die "go mod download of $module@$version failed; see $log"; }
    (cd "$dir" && GOFLAGS=-buildvcs=false go build -trimpath -o "$bin" "./${pkg#"$module"/}") >>"$log" 2>&1 \
      || { tail -20 "$log" >&2; die "go build of $name failed; see $log"; }
  fi
  [ -x "$bin" ] || die "go install finished but $bin is missing"
  echo "$version" >"$stamp"
}
# MinIO: the object store of every test. OpenTofu: checks infra/terraform/. SeaweedFS's S3
# gateway: the second S3 implementation the blob-store contract suite runs against.
if wants minio; then go_tool minio "$MINIO_MODULE" "$MINIO_VERSION"; fi
if wants tofu; then go_tool tofu "$TOFU_MODULE/cmd/tofu" "$TOFU_VERSION" "$TOFU_MODULE"; fi
if wants seaweedfs; then go_tool weed "$SEAWEEDFS_MODULE/weed" "$SEAWEEDFS_VERSION" "$SEAWEEDFS_MODULE"; fi
# age 1.3 (Go, pinned): the reference for the mlkem768x25519 hybrid recipients (Debian's age is
# 1.1). In its own directory, so Debian's age, which the 1.1 interop tests find on PATH, stays.
if wants age13; then
  a13="$cache/age13"
  if [ "$(cat "$a13/version" 2>/dev/null)" != "$AGE13_VERSION" ]; then
    command -v go >/dev/null || die "Go toolchain not found: needed to build age $AGE13_VERSION"
    say "building age $AGE13_VERSION (filippo.io/age/cmd/...) from source with Go"
    mkdir -p "$a13"
    GOBIN="$a13" GOFLAGS=-buildvcs=false go install "filippo.io/age/cmd/...@$AGE13_VERSION" \
      >"$cache/age13-build.log" 2>&1 \
      || { tail -20 "$cache/age13-build.log" >&2; die "go install of age $AGE13_VERSION failed; see $cache/age13-build.log"; }
    echo "$AGE13_VERSION" >"$a13/version"
  fi
fi
# The AWS provider for `tofu validate` (tests/deploy/test_terraform.py): a 1.2 GB binary. The
# first build takes 20-40 minutes on 2 cores; afterwards Go's build cache makes it a link of
# about a minute (11 GB of memory at its peak). tofu finds it in an unpacked filesystem
# mirror ($cache/tofu-mirror), named by the release it was cut for.
if wants tofu-aws; then
  go_tool terraform-provider-aws "$TOFU_AWS_MODULE/." "$TOFU_AWS_VERSION" "$TOFU_AWS_MODULE"
  mirror="$cache/tofu-mirror/registry.opentofu.org/hashicorp/aws/$TOFU_AWS_RELEASE/linux_amd64"
  mkdir -p "$mirror"
  ln -f "$cache/bin/terraform-provider-aws" "$mirror/terraform-provider-aws_v$TOFU_AWS_RELEASE"
fi

# --- C2SP CCTV age test vectors ---------------------------------------------------------
cctv="$cache/npm/node_modules/cctv-age"
if wants cctv && [ "$(node -p "require('$cctv/package.json').version" 2>/dev/null)" != "$CCTV_AGE_VERSION" ]; then
  command -v npm >/dev/null || die "npm not found: needed to install the cctv-age test vectors"
  say "npm install cctv-age@$CCTV_AGE_VERSION"
  npm install --no-save --no-audit --no-fund --prefix "$cache/npm" "cctv-age@$CCTV_AGE_VERSION" \
    >"$cache/npm.log" 2>&1 || die "npm install cctv-age failed; see $cache/npm.log"
fi
# --- camera detector model (npm package, pinned, sha256-checked) -----------------------------
# The pins live in one file, also read by clients/detect/centernet.py at every load.
HUMAN_NPM_VERSION=3.3.6
model_pins="$root/clients/detect/centernet.sha256"
models="$cache/models/centernet"
if wants models && ! (cd "$models" 2>/dev/null && sha256sum --strict --quiet -c "$model_pins" >/dev/null 2>&1); then
  command -v npm >/dev/null || die "npm not found: needed to fetch the CenterNet detector model"
  mapfile -t model_files < <(awk '{print $2}' "$model_pins")
  say "npm pack @vladmandic/human@$HUMAN_NPM_VERSION (CenterNet model, 4 MB of a 29 MB package)"
  tmp=$(mktemp -d "$cache/models-XXXXXX"); tmp_dirs+=("$tmp")
  (cd "$tmp" && npm pack --silent "@vladmandic/human@$HUMAN_NPM_VERSION" >"$cache/models.log" 2>&1) \
    || die "npm pack @vladmandic/human failed; see $cache/models.log"
  tar -xzf "$tmp"/vladmandic-human-*.tgz -C "$tmp" "${model_files[@]/#/package/models/}" package/LICENSE \
    || die "the @vladmandic/human package holds no models/{${model_files[*]}}"
  (cd "$tmp/package/models" && sha256sum --strict --quiet -c "$model_pins") \
    || die "CenterNet model files do not match their pins in $model_pins"
  mkdir -p "$models"
  mv "${model_files[@]/#/$tmp/package/models/}" "$models/"
  mv "$tmp/package/LICENSE" "$models/LICENSE.human"
fi

# --- real test photographs from Debian's darknet package (sha256-checked) ----------------
SAMPLES_SHA256="5a9522051c3cec2bbd2f6323fccba32e8fbf3ddcc2b3e2fd46b04c720bc6f866  dog.jpg
cdcbab947e46110fc2b77784ac54ddbbab2640f1e44cb5e91fc8984a9793a7d1  person.jpg
c8f0a677a1356569e2ce71d2fa88c1030c0ae57ecf5e14170e02d9a86a20dcb4  horses.jpg"
samples="$cache/samples/darknet"
if wants samples && ! (cd "$samples" 2>/dev/null && sha256sum --quiet -c <<<"$SAMPLES_SHA256" >/dev/null 2>&1); then
  say "apt-get download darknet (sample photographs only, nothing installed)"
  tmp=$(mktemp -d "$cache/samples-XXXXXX"); tmp_dirs+=("$tmp")
  # Run as root, apt-get downloads as its sandbox user _apt when _apt can write the directory
  # (otherwise as root, with a warning); mktemp's directory is 0700, so hand it to _apt. A
  # non-root user downloads as itself. The sha256 check below is what vouches for the files.
  if [ "$(id -u)" -eq 0 ] && id -u _apt >/dev/null 2>&1; then chown _apt "$tmp"; fi
  if ! (cd "$tmp" && apt-get download -q darknet >"$cache/samples.log" 2>&1); then
    if sudo=$(root_prefix); then
      $sudo apt-get update -q >>"$cache/samples.log" 2>&1 || true
    else
      say "cannot apt-get update (needs root or sudo): retrying the download as is"
    fi
    (cd "$tmp" && apt-get download -q darknet >>"$cache/samples.log" 2>&1) \
      || die "apt-get download darknet failed; see $cache/samples.log"
  fi
  dpkg-deb -x "$tmp"/darknet_*.deb "$tmp/x" || die "could not unpack the darknet package"
  (cd "$tmp/x/usr/share/darknet/data" && sha256sum --quiet -c <<<"$SAMPLES_SHA256") \
    || die "darknet sample photographs do not match their pinned sha256"
  mkdir -p "$samples"
  cp "$tmp"/x/usr/share/darknet/data/{dog,person,horses}.jpg "$samples/"
  cp "$tmp/x/usr/share/doc/darknet/copyright" "$samples/copyright"
fi
say "tools ready:${want}"
