#!/usr/bin/env bash
# MLflow tracking servers for the project tier (model_serving=mlflow): the very script generated
# projects run in their CI, with the template's tool environment's uv and a machine-wide install
# that later runs reuse. `bash .ci/mlflow.sh start|wait|stop`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export UV="${UV:-$root/.venv/bin/uv}"
export MLFLOW_HOME="${MLFLOW_HOME:-/opt/prodready-mlflow}"
export MLFLOW_STATE="${MLFLOW_STATE:-/tmp/prodready-mlflow}"
exec bash "$root/template/scripts/{% if model_serving == 'mlflow' %}mlflow-test-servers.sh{% endif %}" "$@"
