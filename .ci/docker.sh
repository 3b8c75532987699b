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
# PRODREADY_DOCKER_LOG (default /tmp/prodready-dockerd.log) receives dockerd's output;
# PRODREADY_DEBIAN_MIRROR (default: the machine's apt sources) is the archive debootstrap uses.
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

# debian_mirror [APT_DIR]: the Debian archive the machine's own apt uses, so the stand-in comes
# from the same place: the first enabled "deb" source whose URI ends in /debian (the main
# archive, not debian-security), read from APT_DIR (default /etc/apt): sources.list and
# sources.list.d (one-line *.list files and deb822 *.sources files). PRODREADY_DEBIAN_MIRROR
# overrides it.
debian_mirror() {
  local apt_dir="${1:-/etc/apt}" files=() uri
  if [[ -n "${PRODREADY_DEBIAN_MIRROR:-}" ]]; then
    printf '%s\n' "$PRODREADY_DEBIAN_MIRROR"
    return 0
  fi
  [[ -f "$apt_dir/sources.list" ]] && files+=("$apt_dir/sources.list")
  shopt -s nullglob
  files+=("$apt_dir"/sources.list.d/*.list "$apt_dir"/sources.list.d/*.sources)
  shopt -u nullglob
  uri=""
  if ((${#files[@]})); then
    uri="$(awk '
      function consider(u) { sub(/\/+$/, "", u); if (!found && u ~ /^(https?|file):.*\/debian$/) { print u; found = 1 } }
      function stanza_end(   n, i, list) {
        if (types ~ /(^|[[:space:]])deb([[:space:]]|$)/ && enabled != "no") {
          n = split(uris, list, /[[:space:]]+/)
          for (i = 1; i <= n; i++) if (list[i] != "") consider(list[i])
        }
        types = ""; uris = ""; enabled = ""
      }
      FNR == 1 { stanza_end() }
      /^[[:space:]]*#/ { next }
      FILENAME ~ /\.sources$/ {
        if ($0 ~ /^[[:space:]]*$/) { stanza_end(); next }
        key = tolower($1); value = $0; sub(/^[^:]*:[[:space:]]*/, "", value)
        if (key == "types:") types = value
        else if (key == "uris:") uris = value
        else if (key == "enabled:") enabled = tolower(value)
        next
      }
      $1 == "deb" {
        for (i = 2; i <= NF; i++) {
          if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; continue }
          consider($i); break
        }
      }
      END { stanza_end() }
    ' "${files[@]}")"
  fi
  if [[ -z "$uri" ]]; then
    say "no Debian archive in the machine's apt sources ($apt_dir/sources.list, $apt_dir/sources.list.d/*.list, *.sources):" >&2
    say "add one, or set PRODREADY_DEBIAN_MIRROR to the URL of a Debian archive mirror" >&2
    return 1
  fi
  printf '%s\n' "$uri"
}

build_base() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "$BASE_IMAGE already built"
    return 0
  fi
  local root mirror
  mirror="$(debian_mirror)" || return 1
  root="$(mktemp -d /tmp/prodready-base.XXXXXX)"
  # The folder is root's own and removed whatever happens below.
  trap 'rm -rf "$root"' RETURN
  say "debootstrap $SUITE from $mirror into $root (a few minutes)"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$root" "$mirror" >"$root.log" 2>&1 || {
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

# Sourced (the tests read debian_mirror that way), the script only defines its functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  install_missing
  start_engine
  build_base
fi
