#!/usr/bin/env bash
# Real MLflow tracking servers for the tests of projects generated with model_serving=mlflow.
#
#   bash .ci/mlflow.sh start   install MLflow if missing, start both servers, wait until they answer
#   bash .ci/mlflow.sh wait    wait (bounded) until both answer; fail naming the one that does not
#   bash .ci/mlflow.sh stop    stop the servers this script started
#
# MLflow (the full package: mlflow-skinny has no server) lives in its own tool environment,
# $MLFLOW_HOME (default /opt/prodready-mlflow), never in the template's or a project's
# environment: its ~850 MB of pins would fight theirs. Two servers, each with a SQLite store and
# a local artifact root under $MLFLOW_STATE (a fresh temporary folder per start):
#   - 127.0.0.1:$MLFLOW_PORT (5000)       open, what TEST_MLFLOW_URL names;
#   - 127.0.0.1:$MLFLOW_AUTH_PORT (5001)  `--app-name basic-auth`, what TEST_MLFLOW_AUTH_URL
#     names: the wrong-credentials test needs a server that checks them.
# `--allowed-hosts` is explicit: MLflow 3 answers 403 to Host headers outside its allow list, and
# the tests reach the server through proxies on other loopback ports.
set -euo pipefail

MLFLOW_VERSION="${MLFLOW_VERSION:-3.17.2}"
MLFLOW_HOME="${MLFLOW_HOME:-/opt/prodready-mlflow}"
MLFLOW_PORT="${MLFLOW_PORT:-5000}"
MLFLOW_AUTH_PORT="${MLFLOW_AUTH_PORT:-5001}"
MLFLOW_STATE="${MLFLOW_STATE:-/tmp/prodready-mlflow}"
# Seconds `wait` gives the servers (an install from an empty cache plus a cold start is ~90 s).
MLFLOW_WAIT_SECONDS="${MLFLOW_WAIT_SECONDS:-240}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
uv="${UV:-$root/.venv/bin/uv}"

answers() { curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$1/health"; }

install() {
  if [ -x "$MLFLOW_HOME/bin/mlflow" ] && "$MLFLOW_HOME/bin/python" -c 'import mlflow.server.auth' 2>/dev/null &&
    [ "$("$MLFLOW_HOME/bin/mlflow" --version | awk '{print $NF}')" = "$MLFLOW_VERSION" ]; then
    return
  fi
  local started=$SECONDS
  # .ci/run starts this script before it has made the tool environment that holds uv.
  until [ -x "$uv" ] || command -v uv >/dev/null; do
    [ $((SECONDS - started)) -lt 300 ] || { echo "mlflow.sh: no uv at $uv after 300 s" >&2; return 1; }
    sleep 1
  done
  [ -x "$uv" ] || uv="$(command -v uv)"
  "$uv" venv --quiet --allow-existing --python 3.12 "$MLFLOW_HOME" 2>/dev/null ||
    "$uv" venv --quiet --allow-existing "$MLFLOW_HOME"
  "$uv" pip install --quiet --python "$MLFLOW_HOME/bin/python" "mlflow[auth]==$MLFLOW_VERSION"
  echo "mlflow.sh: installed MLflow $MLFLOW_VERSION into $MLFLOW_HOME in $((SECONDS - started)) s"
}

serve() { # port name [extra args]
  local port=$1 name=$2
  shift 2
  local dir="$MLFLOW_STATE/$name"
  mkdir -p "$dir/artifacts"
  # The basic-auth app keeps its users in a database of its own, next to the store.
  printf '[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///%s/auth.db\nadmin_username = admin\nadmin_password = %s\nauthorization_function = mlflow.server.auth:authenticate_request_basic_auth\n' \
    "$dir" "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d " \n")" >"$dir/auth.ini"
  # The basic-auth app signs its CSRF tokens with this; a fresh one per start is enough here.
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false MLFLOW_FLASK_SERVER_SECRET_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    MLFLOW_AUTH_CONFIG_PATH="$dir/auth.ini" setsid "$MLFLOW_HOME/bin/mlflow" server \
    --host 127.0.0.1 --port "$port" --workers 1 \
    --backend-store-uri "sqlite:///$dir/store.db" \
    --artifacts-destination "$dir/artifacts" \
    --allowed-hosts "127.0.0.1:*,localhost:*" \
    "$@" >"$dir/server.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
}

wait_for() {
  local deadline=$((SECONDS + MLFLOW_WAIT_SECONDS)) port name pid
  for port in "$MLFLOW_PORT" "$MLFLOW_AUTH_PORT"; do
    name=open
    [ "$port" = "$MLFLOW_AUTH_PORT" ] && name=auth
    until answers "$port"; do
      pid="$(cat "$MLFLOW_STATE/$name/pid" 2>/dev/null || true)"
      # A server that exited will never answer: say so now rather than at the deadline.
      if [ $SECONDS -ge $deadline ] || { [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; }; then
        echo "mlflow.sh: no MLflow server answers on 127.0.0.1:$port (log: $MLFLOW_STATE/$name/server.log)" >&2
        tail -n 20 "$MLFLOW_STATE/$name/server.log" >&2 2>/dev/null || true
        return 1
      fi
      sleep 1
    done
  done
  echo "mlflow.sh: MLflow answers on 127.0.0.1:$MLFLOW_PORT and (basic-auth) 127.0.0.1:$MLFLOW_AUTH_PORT"
}

stop() {
  local pidfile
  for pidfile in "$MLFLOW_STATE"/*/pid; do
    [ -f "$pidfile" ] || continue
    # setsid made each server the leader of its own group: its gunicorn/uvicorn workers go too.
    kill -- "-$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

case "${1:-start}" in
  start)
    if answers "$MLFLOW_PORT" && answers "$MLFLOW_AUTH_PORT"; then
      echo "mlflow.sh: MLflow already answers on $MLFLOW_PORT and $MLFLOW_AUTH_PORT"
      exit 0
    fi
    install
    stop
    rm -rf "$MLFLOW_STATE"
    answers "$MLFLOW_PORT" || serve "$MLFLOW_PORT" open
    answers "$MLFLOW_AUTH_PORT" || serve "$MLFLOW_AUTH_PORT" auth --app-name basic-auth
    wait_for
    ;;
  wait) wait_for ;;
  stop) stop ;;
  *)
    echo "usage: bash .ci/mlflow.sh start|wait|stop" >&2
    exit 2
    ;;
esac
