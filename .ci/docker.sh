#!/usr/bin/env bash
# Prepares the Docker engine for the image tests (tests/test_image.py) and the image benchmark
# (bench/image.py). Idempotent: a second run finds the engine up and the base image built.
#
# 1. Starts dockerd in the background unless `docker info` already answers.
# 2. Builds the stand-in base image prodready-base:<python> unless it exists. The generated
#    Dockerfile defaults to the official python:<version>-slim image; where no container
#    registry is reachable (this project's machines reach PyPI, npm and Debian only), a minimal
#    Debian made with debootstrap stands in for it. Debian trixie's python3 is 3.13, the
#    template's default python_version, so the stand-in serves that version only.
#
# Environment: PRODREADY_BASE_IMAGE (default prodready-base:3.13) names the stand-in image;
# PRODREADY_DOCKER_LOG (default /tmp/prodready-dockerd.log) receives dockerd's output.
set -euo pipefail

BASE_IMAGE="${PRODREADY_BASE_IMAGE:-prodready-base:3.13}"
SUITE=trixie
LOG="${PRODREADY_DOCKER_LOG:-/tmp/prodready-dockerd.log}"

say() { printf 'docker.sh: %s\n' "$*"; }

install_missing() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

start_engine() {
  if docker info >/dev/null 2>&1; then
    say "engine already running"
    return 0
  fi
  say "starting dockerd (log: $LOG)"
  nohup dockerd >"$LOG" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      say "engine up"
      return 0
    fi
    sleep 1
  done
  say "dockerd did not answer within 60 s; last lines of $LOG:"
  tail -n 40 "$LOG" >&2 || true
  return 1
}

build_base() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "$BASE_IMAGE already built"
    return 0
  fi
  local root
  root="$(mktemp -d /tmp/prodready-base.XXXXXX)"
  # The folder is root's own and removed whatever happens below.
  trap 'rm -rf "$root"' RETURN
  say "debootstrap $SUITE into $root (a few minutes)"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$root" http://deb.debian.org/debian >"$root.log" 2>&1 || {
    tail -n 40 "$root.log" >&2
    return 1
  }
  # The machine reaches its registries through a proxy with its own certificate authority;
  # builds inside the image must trust it as the host does.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null
  fi
  # What python:*-slim has and a minbase lacks: nothing else is needed (no curl, no compiler).
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  say "importing $BASE_IMAGE"
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' \
    - "$BASE_IMAGE" >/dev/null
  rm -f "$root.log"
  say "$BASE_IMAGE built ($(docker image inspect --format '{{.Size}}' "$BASE_IMAGE") bytes)"
}

install_missing
start_engine
build_base
