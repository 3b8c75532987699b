"""Kubernetes manifests (``deploy_target=kubernetes``): rendered, validated, scanned and probed.

Every check runs offline. ``kubectl kustomize`` renders the overlays (kubectl with Kustomize v5:
the machine's own, or the one ``.ci/tools-k8s.sh`` installs into ``.venv-tools``; the fixture
runs that script when a tool is missing). ``kubernetes-validate`` (dev group) checks every
rendered object against the OpenAPI schemas of the Kubernetes versions below, in strict mode.
checkov (its own environment, ``.venv-tools/checkov``) scans the rendered objects and the
Dockerfile. The consistency tests hold the manifests to the service they deploy: routes, port,
user, required variables, shutdown timing, allowed hosts and the connection budget.

The slow tier builds the image of each variant and runs it as the production overlay says
(command, env, user, read-only root, emptyDir as tmpfs, a claim as a Docker volume, no
capabilities, limits): the migrations first (the Job, or the init container), then the server,
whose startup, liveness and readiness paths it asks as the kubelet would, then preStop and
SIGTERM within the grace period. Where the project has PostgreSQL and Redis, which do not run
there, a SQLite file in the /tmp emptyDir and the in-process cache stand in for them.
"""

from __future__ import annotations

import ast
import base64
import fcntl
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from docker_engine import BASE_PYTHON, Engine, EngineUnavailable, prepare
from helpers import BIN, ROOT, Render, copier_cli, copy_project, example_answers, run

SLUG = example_answers()["project_slug"]
PACKAGE = example_answers()["package_name"]
VARIANTS: dict[str, dict[str, Any]] = {
    "pg-redis": {"use_postgres": True, "use_redis": True},
    "nopg-noredis": {"use_postgres": False, "use_redis": False},
}
# The fast tier checks the manifests of the PostgreSQL and Redis variant; the slow tier both.
VARIANT_PARAMS = ["pg-redis", pytest.param("nopg-noredis", marks=pytest.mark.slow)]
OVERLAYS = ("staging", "production")
# The oldest and the newest schemas kubernetes-validate ships (its version is pinned in uv.lock).
KUBERNETES_VERSIONS = ("1.25.0", "1.37.0")
# checkov rules the manifests and the Dockerfile skip; each skip states its reason where it is
# made (annotations, a Dockerfile comment). A new skip has to be added here, on purpose.
EXPECTED_SKIPS = {"CKV_K8S_35", "CKV_K8S_43", "CKV_DOCKER_7"}
# PostgreSQL's default max_connections, less what migrations, admin sessions and monitoring need.
CONNECTION_BUDGET = 100 - 20
CHECKOV_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "LOG_LEVEL": "WARNING"}
TOOLS = ROOT / ".venv-tools"
YAMLLINT_CONFIG = json.dumps(
    {
        "extends": "default",
        "rules": {
            "line-length": {"max": 120},
            "document-start": "disable",
            "truthy": {"check-keys": False},
            "comments": {"min-spaces-from-content": 1},
        },
    }
)


# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------


def _kustomize_major(kubectl: str) -> int:
    result = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True, check=False)
    found = re.search(r"Kustomize Version: v(\d+)", result.stdout)
    return int(found.group(1)) if found else 0


def _find_tool(name: str) -> Path | None:
    if name == "kubectl":
        if (TOOLS / "bin" / "kubectl").is_file():
            return TOOLS / "bin" / "kubectl"
        system = shutil.which("kubectl")
        return Path(system) if system and _kustomize_major(system) >= 5 else None
    checkov = TOOLS / "checkov" / "bin" / "checkov"
    return checkov if checkov.is_file() else None


def _tool(name: str) -> Path:
    """Return the tool ``name``; install it with .ci/tools-k8s.sh when it is missing."""
    found = _find_tool(name)
    if found is None:
        # One installer at a time when several test workers find the tool missing.
        TOOLS.mkdir(exist_ok=True)
        with (TOOLS / ".install.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if _find_tool(name) is None:
                run(["bash", ROOT / ".ci" / "tools-k8s.sh", name], cwd=ROOT, timeout=900)
        found = _find_tool(name)
    assert found is not None, f"{name} not found after .ci/tools-k8s.sh {name}"
    return found


@pytest.fixture(scope="session")
def kubectl() -> Path:
    """kubectl with Kustomize v5: the machine's, or one .ci/tools-k8s.sh installs."""
    return _tool("kubectl")


@pytest.fixture(scope="session")
def checkov() -> Path:
    """checkov in its own environment (.venv-tools/checkov); installing it needs the package index."""
    return _tool("checkov")


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def kustomize(kubectl: Path, project: Path, overlay: str) -> list[dict[str, Any]]:
    """Render one overlay of ``project`` with ``kubectl kustomize``; return its objects."""
    output = run([kubectl, "kustomize", project / "deploy" / "kubernetes" / "overlays" / overlay], cwd=project).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


@pytest.fixture(scope="session")
def k8s_project(rendered: Render) -> Callable[[str], Path]:
    """The project rendered with ``deploy_target=kubernetes`` and a variant's answers (read-only)."""
    return lambda variant: rendered(deploy_target="kubernetes", **VARIANTS[variant])


@pytest.fixture(scope="session")
def overlay_objects(k8s_project: Callable[[str], Path], kubectl: Path) -> Callable[[str, str], list[Any]]:
    """The rendered objects of ``(variant, overlay)``, rendered once per session."""
    cache: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def objects(variant: str, overlay: str) -> list[dict[str, Any]]:
        if (variant, overlay) not in cache:
            cache[variant, overlay] = kustomize(kubectl, k8s_project(variant), overlay)
        return cache[variant, overlay]

    return objects


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The single object of ``kind``."""
    found = [obj for obj in objects if obj["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {[obj['metadata']['name'] for obj in found]}"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def server_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    containers = {c["name"]: c for c in pod_spec(one(objects, "Deployment"))["containers"]}
    return containers["app"]


def all_containers(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every (pod spec, container) of every workload, init containers included."""
    for obj in objects:
        if obj["kind"] in {"Deployment", "Job"}:
            spec = pod_spec(obj)
            for container in spec.get("initContainers", []) + spec["containers"]:
                yield spec, container


def config_map_data(objects: list[dict[str, Any]], name: str) -> dict[str, str]:
    maps = {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == "ConfigMap"}
    assert name in maps, f"envFrom names ConfigMap {name}, which the overlay does not render ({sorted(maps)})"
    return dict(maps[name].get("data", {}))


# ---------------------------------------------------------------------------
# What the service and its image say
# ---------------------------------------------------------------------------


def health_routes(project: Path) -> dict[str, str]:
    """Map the health route functions (``live``, ``ready``) to the paths ``register`` adds them at."""
    module = project / "src" / PACKAGE / "api" / "routes" / "health.py"
    routes = {}
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_api_route":
            path, endpoint = node.args[:2]
            assert isinstance(endpoint, ast.Name), ast.dump(endpoint)
            # A literal, or a constant of the module (LIVE_PATH).
            named = isinstance(path, ast.Name)
            routes[endpoint.id] = module_constant(module, path.id) if named else ast.literal_eval(path)
    return routes


def module_constant(path: Path, name: str) -> Any:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path} defines no {name}")


def required_settings(project: Path) -> set[str]:
    """Environment variables the settings cannot start without: fields of Settings with no default."""
    tree = ast.parse((project / "src" / PACKAGE / "core" / "settings.py").read_text(encoding="utf-8"))
    settings = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    return {
        node.target.id.upper()
        for node in settings.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is None
    }


def dockerfile_runtime(project: Path) -> dict[str, list[str]]:
    """The runtime stage's instructions (after the last FROM), by name, continuation lines joined."""
    lines = (project / "Dockerfile").read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    text = re.sub(r"\\\n", " ", text)
    stage: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        word, _, rest = line.strip().partition(" ")
        if word.upper() == "FROM":
            stage = {}
        stage.setdefault(word.upper(), []).append(rest.strip())
    return stage


def environment_settings(project: Path, env: str, overrides: dict[str, str]) -> dict[str, Any]:
    """The YAML layers of ``env`` (services, then the environment), then ``NAME__KEY`` overrides."""
    merged: dict[str, Any] = {}

    def merge(base: dict[str, Any], layer: dict[str, Any]) -> None:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value

    config = project / "config"
    for path in [*sorted((config / "services").glob("*.yaml")), config / "environments" / f"{env}.yaml"]:
        merge(merged, yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    for name, value in overrides.items():
        if "__" in name:
            *parents, leaf = name.lower().split("__")
            node = merged
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = yaml.safe_load(value)
    return merged


def generate_env_file(project: Path, env: str, workdir: Path) -> Path:
    """Run the project's ``keys generate --env ENV`` as the README says; return the file it wrote.

    It runs in ``workdir`` (its audit log lands there, not in the shared project) with the
    project's own template, policies and configuration.
    """
    target = workdir / f".env.{env}"
    template = project / ".env.production.template"
    env_vars = dict(
        os.environ,
        POLICY_DIR=str(project / "security" / "policies"),
        CONFIG_DIR=str(project / "config"),
        KEYS_FILE=str(project / "security" / "keys.json"),
    )
    command = [sys.executable, "-m", "prodready", "keys", "generate", "--env", env]
    run([*command, "--template", template, "--file", target], cwd=workdir, env=env_vars)
    return target


def secret_from_env_file(kubectl: Path, name: str, env_file: Path) -> dict[str, Any]:
    """The Secret the README's ``kubectl create secret generic --from-env-file`` makes (client side)."""
    command = [kubectl, "create", "secret", "generic", name, f"--from-env-file={env_file}"]
    output = run([*command, "--dry-run=client", "-o", "yaml"], cwd=env_file.parent).stdout
    return yaml.safe_load(output)


def secret_values(secret: dict[str, Any]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in secret.get("data", {}).items()}


def env_refs(container: dict[str, Any], kind: str) -> list[str]:
    ref = "secretRef" if kind == "Secret" else "configMapRef"
    return [source[ref]["name"] for source in container.get("envFrom", []) if ref in source]


# ---------------------------------------------------------------------------
# The answer
# ---------------------------------------------------------------------------


def test_compose_renders_no_kubernetes(rendered: Render) -> None:
    # The default is compose, so projects made before the question existed keep their files.
    project = rendered()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["deploy_target"] == "compose"
    assert not (project / "deploy").exists()
    assert "## Kubernetes" not in (project / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("variant", VARIANT_PARAMS)
def test_kubernetes_renders_base_and_overlays(variant: str, k8s_project: Callable[[str], Path]) -> None:
    project = k8s_project(variant)
    root = project / "deploy" / "kubernetes"
    assert (root / "base" / "kustomization.yaml").is_file()
    for overlay in OVERLAYS:
        assert (root / "overlays" / overlay / "kustomization.yaml").is_file()
    # The manifests never contain a key: no Secret object and no key value anywhere under deploy/.
    keys = {
        line.split("=", 1)[1]
        for line in (project / ".env").read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.startswith("#")
    }
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "kind: Secret" not in text, path
            assert not [k for k in keys if len(k) >= 16 and k in text], f"{path} holds a key from .env"
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "## Kubernetes" in readme
    assert f"create secret generic {SLUG}-keys --from-env-file=.env.production" in readme


def test_slug_too_long_for_kubernetes_names_is_rejected(tmp_path: Path) -> None:
    slug = "s" * 53
    dst = tmp_path / "project"
    args = ["copy", "--defaults", "--trust", "--vcs-ref=HEAD", "--data", f"project_slug={slug}"]
    result = copier_cli(*args, "--data", "deploy_target=kubernetes", str(ROOT), str(dst))
    assert result.returncode != 0
    assert "the slug has 53 characters" in result.stdout + result.stderr
    assert "at most 52 with Kubernetes" in result.stdout + result.stderr
    assert not dst.exists() or not any(dst.iterdir())


@pytest.mark.parametrize("variant", VARIANT_PARAMS)
def test_manifest_sources_pass_yamllint(variant: str, k8s_project: Callable[[str], Path]) -> None:
    # The generated project's YAML rules (tests/test_delivery.py uses the same settings).
    files = sorted((k8s_project(variant) / "deploy").rglob("*.yaml"))
    assert files
    run([BIN / "yamllint", "--strict", "--config-data", YAMLLINT_CONFIG, *files], cwd=ROOT)


# ---------------------------------------------------------------------------
# Kustomize, schemas, checkov
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("variant", VARIANT_PARAMS)
def test_overlay_renders_every_object(variant: str, overlay: str, overlay_objects: Callable[..., Any]) -> None:
    objects = overlay_objects(variant, overlay)
    kinds = sorted(obj["kind"] for obj in objects)
    common = ["ConfigMap", "Deployment", "NetworkPolicy", "Service", "ServiceAccount"]
    if VARIANTS[variant]["use_postgres"]:
        expected = [*common, "HorizontalPodAutoscaler", "Job", "PodDisruptionBudget"]
    else:
        expected = [*common, "PersistentVolumeClaim"]
    assert kinds == sorted(expected)
    assert {obj["metadata"].get("namespace") for obj in objects} == {f"{SLUG}-{overlay}"}
    assert config_map_data(objects, env_refs(server_container(objects), "ConfigMap")[0])["APP_ENV"] == overlay
    for _, container in all_containers(objects):
        assert container["image"] == f"registry.example.com/{SLUG}:0.1.0", "the overlay's images entry applies"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("variant", VARIANT_PARAMS)
def test_objects_match_kubernetes_schemas_strictly(
    variant: str, overlay: str, version: str, overlay_objects: Callable[..., Any]
) -> None:
    for obj in overlay_objects(variant, overlay):
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} is not valid Kubernetes {version}: {exc}")


@pytest.mark.parametrize("variant", VARIANT_PARAMS)
def test_secret_from_keys_generate_supplies_the_required_variables(
    variant: str,
    k8s_project: Callable[[str], Path],
    overlay_objects: Callable[..., Any],
    kubectl: Path,
    tmp_path: Path,
) -> None:
    # The README's path from `keys generate` to the Secret, run for real (client side), then held
    # against what the settings need and what the Deployment references.
    project = k8s_project(variant)
    answers = VARIANTS[variant]
    needed = required_settings(project) | {"APP_ENV"}
    assert {"SECRET_KEY", "JWT_SECRET_KEY", "DB_ENCRYPTION_KEY"} <= needed, needed
    if answers["use_postgres"]:
        needed.add("DB_PASSWORD")
    if answers["use_redis"]:
        needed.add("REDIS_PASSWORD")
    for overlay in OVERLAYS:
        objects = overlay_objects(variant, overlay)
        container = server_container(objects)
        (secret_name,) = env_refs(container, "Secret")
        (map_name,) = env_refs(container, "ConfigMap")
        # The ConfigMap comes last, so its APP_ENV beats the one in the Secret's file.
        assert [next(iter(source)) for source in container["envFrom"]] == ["secretRef", "configMapRef"]
        secret = secret_from_env_file(kubectl, secret_name, generate_env_file(project, overlay, tmp_path))
        kubernetes_validate.validate(secret, KUBERNETES_VERSIONS[-1], strict=True)
        from_secret = secret_values(secret)
        from_map = config_map_data(objects, map_name)
        missing = needed - set(from_secret) - set(from_map)
        assert not missing, f"{overlay}: nothing supplies {sorted(missing)}"
        assert not (needed - {"APP_ENV"}) & set(from_map), "keys must never be in the ConfigMap"
        for name in needed - {"APP_ENV"}:
            assert len(from_secret[name]) >= 32 and "${" not in from_secret[name], f"{name} is not a generated key"
        # Every workload reads the same Secret and ConfigMap.
        for _, other in all_containers(objects):
            assert env_refs(other, "Secret") == [secret_name] and env_refs(other, "ConfigMap") == [map_name]


# Slow tier: the first run installs checkov from the package index (.ci/tools-k8s.sh).
@pytest.mark.slow
def test_checkov_passes_manifests_and_dockerfile(
    k8s_project: Callable[[str], Path], overlay_objects: Callable[..., Any], checkov: Path, tmp_path: Path
) -> None:
    # Only what is applied is scanned: the rendered overlays (the base alone is never deployed),
    # of every variant, with its Dockerfile; one run, as checkov takes long to start.
    for variant in VARIANTS:
        folder = tmp_path / variant
        folder.mkdir()
        for overlay in OVERLAYS:
            rendered_yaml = yaml.safe_dump_all(overlay_objects(variant, overlay), sort_keys=False)
            (folder / f"{overlay}.yaml").write_text(rendered_yaml, encoding="utf-8")
        shutil.copy(k8s_project(variant) / "Dockerfile", folder / "Dockerfile")
    command = [checkov, "--directory", tmp_path, "--framework", "kubernetes", "dockerfile"]
    # JSON with every result (no --quiet: it drops the skipped checks and their reasons).
    command += ["--output", "json", "--compact", "--skip-download"]
    result = subprocess.run(
        [os.fspath(part) for part in command],
        capture_output=True,
        text=True,
        env={**os.environ, **CHECKOV_ENV},
        timeout=600,
        check=False,
    )
    try:
        reports = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"checkov printed no JSON (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    reports = reports if isinstance(reports, list) else [reports]
    assert {r["check_type"] for r in reports} == {"kubernetes", "dockerfile"}, result.stderr
    skipped = set()
    for report in reports:
        summary, results = report["summary"], report["results"]
        failed = [(c["check_id"], c["resource"], c["check_name"]) for c in results["failed_checks"]]
        assert not failed, f"checkov {report['check_type']}: {failed}"
        assert summary["parsing_errors"] == 0 and summary["passed"] > 0, summary
        assert summary["skipped"] == len(results["skipped_checks"]), summary
        for check in results["skipped_checks"]:
            reason = check.get("check_result", {}).get("suppress_comment", "")
            assert len(reason.strip()) >= 30, f"{check['check_id']} on {check['resource']} skipped without a reason"
            skipped.add(check["check_id"])
    assert result.returncode == 0, result.stderr
    assert skipped <= EXPECTED_SKIPS, f"new checkov skips {skipped - EXPECTED_SKIPS}: add them on purpose"


# ---------------------------------------------------------------------------
# Consistency with the service and its image
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("variant", VARIANT_PARAMS)
def test_probes_port_and_command_match_the_service_and_image(
    variant: str, overlay: str, k8s_project: Callable[[str], Path], overlay_objects: Callable[..., Any]
) -> None:
    project = k8s_project(variant)
    objects = overlay_objects(variant, overlay)
    container = server_container(objects)
    routes = health_routes(project)
    assert routes == {"live": "/health/live", "ready": "/health/ready"}, routes
    assert container["startupProbe"]["httpGet"]["path"] == routes["live"]
    assert container["livenessProbe"]["httpGet"]["path"] == routes["live"]
    assert container["readinessProbe"]["httpGet"]["path"] == routes["ready"]

    runtime = dockerfile_runtime(project)
    (expose,) = runtime["EXPOSE"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": int(expose)}
    settings = environment_settings(project, overlay, config_map_data(objects, env_refs(container, "ConfigMap")[0]))
    assert settings["server"]["port"] == int(expose)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert ports[container[probe]["httpGet"]["port"]] == int(expose), probe
    service = one(objects, "Service")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    assert service["spec"]["selector"] == one(objects, "Deployment")["spec"]["selector"]["matchLabels"]
    # The image's HEALTHCHECK asks the same liveness path (serve.py's LIVE_PATH).
    (healthcheck,) = runtime["HEALTHCHECK"]
    assert json.loads(healthcheck.split(" CMD ", 1)[1]) == ["python", "-m", f"{PACKAGE}.serve", "--check"]
    assert module_constant(project / "src" / PACKAGE / "serve.py", "LIVE_PATH") == routes["live"]
    # The Deployment runs what the image runs.
    (cmd,) = runtime["CMD"]
    assert container["command"] + container.get("args", []) == json.loads(cmd)
    # Probes name a host the app accepts (its host check answers 400 to any other).
    allowed = settings["app"]["allowed_hosts"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        headers = {h["name"].lower(): h["value"] for h in container[probe]["httpGet"].get("httpHeaders", [])}
        assert "*" in allowed or headers.get("host") in allowed, f"{probe} Host {headers.get('host')} not in {allowed}"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("variant", VARIANT_PARAMS)
def test_pods_are_hardened_as_the_image_user(
    variant: str, overlay: str, k8s_project: Callable[[str], Path], overlay_objects: Callable[..., Any]
) -> None:
    project = k8s_project(variant)
    objects = overlay_objects(variant, overlay)
    (user,) = dockerfile_runtime(project)["USER"]
    uid, gid = (int(part) for part in user.split(":"))
    assert uid != 0
    assert one(objects, "ServiceAccount")["automountServiceAccountToken"] is False
    (workdir,) = dockerfile_runtime(project)["WORKDIR"][-1:]
    for spec, container in all_containers(objects):
        pod = spec["securityContext"]
        assert (pod["runAsNonRoot"], pod["runAsUser"], pod["runAsGroup"]) == (True, uid, gid)
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        own = container["securityContext"]
        assert (own["runAsUser"], own["runAsGroup"], own["runAsNonRoot"]) == (uid, gid, True)
        assert own["allowPrivilegeEscalation"] is False
        assert own["readOnlyRootFilesystem"] is True
        assert own["capabilities"] == {"drop": ["ALL"]}
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{container['name']} {kind}"
        # Every place the app writes is a volume: /tmp always; var/ when the database is SQLite.
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
        assert "emptyDir" in mounts["/tmp"]
        if not VARIANTS[variant]["use_postgres"]:
            url = environment_settings(project, overlay, {})["database"]["url"]
            assert url.startswith("sqlite+aiosqlite:///./var/"), url
            assert "persistentVolumeClaim" in mounts[f"{workdir}/var"]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("variant", VARIANT_PARAMS)
def test_shutdown_outlasts_the_graceful_timeout(
    variant: str, overlay: str, k8s_project: Callable[[str], Path], overlay_objects: Callable[..., Any]
) -> None:
    objects = overlay_objects(variant, overlay)
    container = server_container(objects)
    overrides = config_map_data(objects, env_refs(container, "ConfigMap")[0])
    graceful = environment_settings(k8s_project(variant), overlay, overrides)["server"]["graceful_timeout"]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep", pre_stop
    grace = pod_spec(one(objects, "Deployment"))["terminationGracePeriodSeconds"]
    # The pause, then SIGTERM and uvicorn's graceful timeout, all before SIGKILL.
    assert grace > int(pre_stop[1]) + graceful, (grace, pre_stop, graceful)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("variant", VARIANT_PARAMS)
def test_network_policy_and_scaling_fit_the_answers(
    variant: str, overlay: str, k8s_project: Callable[[str], Path], overlay_objects: Callable[..., Any]
) -> None:
    project = k8s_project(variant)
    answers = VARIANTS[variant]
    objects = overlay_objects(variant, overlay)
    container = server_container(objects)
    settings = environment_settings(project, overlay, config_map_data(objects, env_refs(container, "ConfigMap")[0]))
    policy = one(objects, "NetworkPolicy")["spec"]
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    assert policy["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": SLUG}
    (ingress,) = policy["ingress"]
    assert "from" not in ingress or ingress["from"]
    assert [p["port"] for p in ingress["ports"]] == [settings["server"]["port"]]
    egress = sorted((p["protocol"], p["port"]) for rule in policy["egress"] for p in rule["ports"])
    expected = [("TCP", 53), ("UDP", 53)]
    if answers["use_postgres"]:
        expected.append(("TCP", settings["database"]["port"]))
    if answers["use_redis"]:
        expected.append(("TCP", settings["cache"]["port"]))
    if answers.get("model_serving") == "mlflow":
        # The tracking server as `mlflow server` serves it, or behind HTTPS.
        expected += [("TCP", 5000), ("TCP", 443)]
    assert egress == sorted(expected)

    deployment = one(objects, "Deployment")
    if answers["use_postgres"]:
        # The autoscaler owns the replica count, within the connection budget.
        assert "replicas" not in deployment["spec"]
        hpa = one(objects, "HorizontalPodAutoscaler")["spec"]
        assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
        assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
        database = settings["database"]
        # Each worker's pool, and the one connection its change listener holds.
        per_worker = database["pool_size"] + database["max_overflow"] + 1
        connections = hpa["maxReplicas"] * settings["server"]["workers"] * per_worker
        assert connections <= CONNECTION_BUDGET, f"{overlay}: {connections} connections at maxReplicas"
        pdb = one(objects, "PodDisruptionBudget")["spec"]
        assert pdb["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
        assert pdb.get("maxUnavailable") == 1, "minAvailable would block drains of a single replica"
    else:
        # SQLite on a ReadWriteOnce volume: one pod, replaced rather than rolled.
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        (init,) = pod_spec(deployment)["initContainers"]
        assert init["command"] == ["alembic", "upgrade", "head"]
    migrations = [c["command"] for obj in objects if obj["kind"] == "Job" for c in pod_spec(obj)["containers"]]
    assert migrations == ([["alembic", "upgrade", "head"]] if answers["use_postgres"] else [])
    assert container["command"][:3] == ["python", "-m", f"{PACKAGE}.serve"], "no migration in the app's start"


# ---------------------------------------------------------------------------
# Probe simulation: the built image, run as the Deployment says
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> Engine:
    """The Docker engine and the stand-in base image (tests/docker_engine.py, shared with test_image)."""
    try:
        return prepare()
    except EngineUnavailable as exc:
        pytest.skip(str(exc))


def _memory_bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(quantity)


def _cpus(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def docker_run_args(
    spec: dict[str, Any], container: dict[str, Any], env: dict[str, str], image: str, claims: dict[str, str]
) -> list[str]:
    """``docker run`` options that give the container what the pod spec gives it.

    An emptyDir becomes a tmpfs of its size limit; a PersistentVolumeClaim the Docker volume
    ``claims`` names for it (shared by the pod's init containers and the server, like the claim).
    """
    pod, own = spec["securityContext"], container["securityContext"]
    user = own.get("runAsUser", pod["runAsUser"])
    group = own.get("runAsGroup", pod["runAsGroup"])
    assert user != 0 and (own.get("runAsNonRoot") or pod.get("runAsNonRoot")), "the kubelet would refuse root"
    args = ["--user", f"{user}:{group}"]
    if own["readOnlyRootFilesystem"]:
        args.append("--read-only")
    if own["capabilities"]["drop"] == ["ALL"]:
        args += ["--cap-drop", "ALL"]
    if own["allowPrivilegeEscalation"] is False:
        args += ["--security-opt", "no-new-privileges"]
    # seccomp RuntimeDefault is Docker's default profile: nothing to add.
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    volumes = {v["name"]: v for v in spec["volumes"]}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "persistentVolumeClaim" in volume:
            claim = claims[volume["persistentVolumeClaim"]["claimName"]]
            args += ["--mount", f"type=volume,source={claim},target={mount['mountPath']}"]
            continue
        assert "emptyDir" in volume, f"the simulation stands in for emptyDir and claims only, not {volume}"
        size = volume["emptyDir"].get("sizeLimit")
        # An emptyDir is world-writable, like this tmpfs.
        options = f"rw,mode=1777{f',size={_memory_bytes(size)}' if size else ''}"
        args += ["--tmpfs", f"{mount['mountPath']}:{options}"]
    limits = container["resources"]["limits"]
    args += ["--memory", str(_memory_bytes(limits["memory"]))]
    args += ["--cpus", str(min(_cpus(limits["cpu"]), float(os.cpu_count() or 1)))]
    for name, value in env.items():
        args += ["--env", f"{name}={value}"]
    command = container.get("command", [])
    if command:
        args += ["--entrypoint", command[0]]
    return [*args, image, *command[1:], *container.get("args", [])]


def kubelet_get(host_port: int, probe: dict[str, Any]) -> tuple[int, bytes]:
    """One HTTP probe as the kubelet sends it: GET path, its headers, its timeout; (status, body)."""
    action = probe["httpGet"]
    headers = {"User-Agent": "kube-probe/1.33", "Accept": "*/*"}
    headers.update({h["name"]: h["value"] for h in action.get("httpHeaders", [])})
    connection = http.client.HTTPConnection("127.0.0.1", host_port, timeout=probe.get("timeoutSeconds", 1))
    try:
        connection.request("GET", action["path"], headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def probe_succeeds(host_port: int, probe: dict[str, Any]) -> bool:
    try:
        status, _ = kubelet_get(host_port, probe)
    except OSError:
        return False
    # The kubelet counts 200-399 as success.
    return 200 <= status < 400


@pytest.fixture
def built(request: pytest.FixtureRequest, engine: Engine, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Render the variant with deploy_target=kubernetes, lock, build the image; remove it afterwards."""
    answers = {"deploy_target": "kubernetes", "python_version": BASE_PYTHON, **VARIANTS[request.param]}
    project = copy_project(tmp_path / "project", **answers)
    if not (project / "uv.lock").is_file():
        run(["uv", "lock"], cwd=project, timeout=600)
    tag = f"prodready-k8s-probe:{uuid.uuid4().hex[:12]}"
    build = ["build", "--network", "host", "--build-arg", f"BASE_IMAGE={engine.base_image}", "--tag", tag, "."]
    run([engine.client, *build], cwd=project, env={**os.environ, "DOCKER_BUILDKIT": "1"}, timeout=1500)
    try:
        yield tag, project
    finally:
        engine.run("image", "rm", "--force", tag, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("built", list(VARIANTS), indirect=True)
def test_built_image_answers_the_probes_as_the_deployment_declares(
    built: tuple[str, Path], engine: Engine, kubectl: Path, tmp_path: Path
) -> None:
    tag, project = built

    def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return engine.run(*args, check=False, timeout=timeout)

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    objects = kustomize(kubectl, project, "production")
    spec = pod_spec(one(objects, "Deployment"))
    container = server_container(objects)
    assert docker("image", "inspect", "--format", "{{.Config.User}}", tag).stdout.strip() == (
        f"{spec['securityContext']['runAsUser']}:{spec['securityContext']['runAsGroup']}"
    )

    # The environment the kubelet assembles: envFrom in order (the Secret made as the README
    # says, then the overlay's ConfigMap), later sources winning. Where the project has servers
    # (not running here), stand-ins replace them: the database becomes a SQLite file in the
    # /tmp emptyDir, the cache the in-process one. Everything else is production's: keys
    # checked, hosts allowed, workers, timeouts.
    (secret_name,) = env_refs(container, "Secret")
    secret = secret_from_env_file(kubectl, secret_name, generate_env_file(project, "production", tmp_path))
    env = {**secret_values(secret), **config_map_data(objects, env_refs(container, "ConfigMap")[0])}
    if answers["use_postgres"]:
        env["DATABASE_URL"] = "sqlite+aiosqlite:////tmp/probe.db"
    if answers["use_redis"]:
        env["CACHE__BACKEND"] = "memory"

    suffix = uuid.uuid4().hex[:8]
    claims = {
        obj["metadata"]["name"]: f"prodready-k8s-{suffix}-{obj['metadata']['name']}"
        for obj in objects
        if obj["kind"] == "PersistentVolumeClaim"
    }
    name = f"prodready-k8s-probe-{suffix}"
    try:
        # Migrations first, as the cluster runs them: the Job's container in the Job's pod
        # settings, or the Deployment's init containers on the pod's own volumes.
        jobs = [(pod_spec(obj), c) for obj in objects if obj["kind"] == "Job" for c in pod_spec(obj)["containers"]]
        for pod, migrate in [*jobs, *((spec, c) for c in spec.get("initContainers", []))]:
            done = docker("run", "--rm", *docker_run_args(pod, migrate, env, tag, claims), timeout=300)
            assert done.returncode == 0, f"{migrate['command']} failed:\n{done.stdout}\n{done.stderr}"
            assert "Running upgrade" in done.stderr + done.stdout, done.stderr

        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        publish = [arg for port in ports.values() for arg in ("--publish", f"127.0.0.1::{port}")]
        started = docker(
            "run", "--detach", "--name", name, *publish, *docker_run_args(spec, container, env, tag, claims)
        )
        assert started.returncode == 0, started.stderr
        host_ports = {
            pname: int(docker("port", name, f"{port}/tcp").stdout.split(":")[-1]) for pname, port in ports.items()
        }

        def host_port(probe: dict[str, Any]) -> int:
            port = probe["httpGet"]["port"]
            return host_ports[port if isinstance(port, str) else next(k for k, v in ports.items() if v == port)]

        def logs() -> str:
            result = docker("logs", name)
            return f"--- container log ---\n{result.stdout}{result.stderr}"

        # Startup: every periodSeconds, at most failureThreshold times.
        startup = container["startupProbe"]
        time.sleep(startup.get("initialDelaySeconds", 0))
        for _ in range(startup["failureThreshold"]):
            if probe_succeeds(host_port(startup), startup):
                break
            running = docker("inspect", "--format", "{{.State.Running}}", name).stdout.strip()
            assert running == "true", f"the container stopped while starting\n{logs()}"
            time.sleep(startup["periodSeconds"])
        else:
            pytest.fail(f"startup probe failed {startup['failureThreshold']} times\n{logs()}")

        live_status, _ = kubelet_get(host_port(container["livenessProbe"]), container["livenessProbe"])
        ready_status, ready_body = kubelet_get(host_port(container["readinessProbe"]), container["readinessProbe"])
        assert live_status == 200, logs()
        assert ready_status == 200, f"{ready_body!r}\n{logs()}"
        ready = json.loads(ready_body)
        assert ready["status"] == "ok" and set(ready["checks"]) == {"database", "cache"}, ready

        # preStop runs in the container (the image has `sleep`); then SIGTERM, and the server
        # must be gone, by itself, before the rest of the grace period is over.
        pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        paused = docker("exec", name, *pre_stop, timeout=int(pre_stop[1]) + 30)
        assert paused.returncode == 0, f"preStop {pre_stop} failed: {paused.stderr}"
        remaining = spec["terminationGracePeriodSeconds"] - int(pre_stop[1])
        began = time.monotonic()
        docker("stop", "--time", str(remaining), name, timeout=remaining + 30)
        took = time.monotonic() - began
        code = docker("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        assert code == "0" and took < remaining, f"exit {code} after {took:.1f}s (grace {remaining}s)\n{logs()}"
    finally:
        docker("rm", "--force", name)
        for claim in claims.values():
            docker("volume", "rm", "--force", claim)
