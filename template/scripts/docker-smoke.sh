#!/usr/bin/env bash
# Smoke test of the built image (`make docker-smoke`; the CI image job runs the same).
#
#   bash scripts/docker-smoke.sh IMAGE
#
# Runs IMAGE the way production should (read-only root file system, no capabilities, no
# privilege escalation) in the development environment, which needs no database server, with
# throw-away keys made inside the image from its security/keys.json (so only docker, bash and
# curl are needed here), and checks that:
#   - GET $SMOKE_PATH (default /health/live) answers 200 on the published port;
#   - the server process runs as UID 10001, not root;
#   - Docker's HEALTHCHECK (the image's own probe) reports the container healthy;
#   - no .env file is anywhere in the image.
# SMOKE_HOST: where the Docker engine publishes ports (default 127.0.0.1; `docker` with GitLab's
# docker:dind service). SMOKE_PORT: the host port (default 18000).
set -euo pipefail

image="${1:?usage: docker-smoke.sh IMAGE}"
host="${SMOKE_HOST:-127.0.0.1}"
port="${SMOKE_PORT:-18000}"
name="smoke-$$"
expected_uid=10001
keys="$(mktemp)"

# A remote engine (dind) publishes on its own interfaces; a local one on loopback only.
bind=127.0.0.1
[[ "$host" == 127.0.0.1 || "$host" == localhost ]] || bind=0.0.0.0

cleanup() {
  docker rm --force "$name" >/dev/null 2>&1 || true
  rm -f "$keys"
}
trap cleanup EXIT

fail() {
  printf 'docker-smoke: FAIL: %s\n' "$*" >&2
  docker logs "$name" >&2 || true
  exit 1
}

# One random value per key of the image's own key list, in the encoding the service expects.
make_keys='import json, secrets
for key in json.load(open("security/keys.json"))["keys"]:
    make = secrets.token_hex if key["encoding"] == "hex" else secrets.token_urlsafe
    print(key["name"] + "=" + make(key["bytes"]))'
docker run --rm --entrypoint python "$image" -c "$make_keys" >"$keys" ||
  fail "the image could not make development keys"

docker run --detach --name "$name" \
  --env-file "$keys" --env APP_ENV=development \
  --publish "${bind}:${port}:8000" \
  --read-only --tmpfs /tmp --tmpfs "/app/var:uid=${expected_uid},gid=${expected_uid}" \
  --cap-drop ALL --security-opt no-new-privileges \
  --health-interval 2s --health-start-period 30s \
  "$image" >/dev/null

url="http://${host}:${port}${SMOKE_PATH:-/health/live}"
for _ in $(seq 1 30); do
  curl --fail --silent --max-time 2 "$url" >/dev/null 2>&1 && break
  sleep 1
done
curl --fail --silent --show-error --max-time 5 "$url" || fail "$url did not answer 200"
echo

uid="$(docker top "$name" -o pid,uid,args | awk 'NR > 1 && /serve/ { print $2; exit }')"
[[ "$uid" == "$expected_uid" ]] || fail "the server runs as UID '${uid}', expected ${expected_uid}"

status=starting
for _ in $(seq 1 30); do
  status="$(docker inspect --format '{{.State.Health.Status}}' "$name")"
  [[ "$status" == starting ]] || break
  sleep 1
done
[[ "$status" == healthy ]] || fail "HEALTHCHECK reports '${status}'"

# As root, so that no folder is unreadable to the search.
leaked="$(docker run --rm --user 0:0 --entrypoint find "$image" / -xdev -name '.env*' -print)"
[[ -z "$leaked" ]] || fail "env files inside the image: ${leaked}"

size="$(docker image inspect --format '{{.Size}}' "$image")"
printf 'docker-smoke: OK: %s answers %s as UID %s, healthy, no .env inside (%s MB)\n' \
  "$image" "${SMOKE_PATH:-/health/live}" "$uid" "$((size / 1000000))"
