"""``config validate``, ``config sync`` and ``config show``: the checks CI runs on the YAML configuration."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from scratch import random_value, set_yaml

from prodready import cli, config, layers, policyfiles

SAFE_PRODUCTION: dict[str, Any] = {
    "app": {
        "debug": False,
        "public_url": "https://api.example.com",
        "log_level": "INFO",
        "cors_origins": [],
        "allowed_hosts": ["api.example.com"],
    },
    "database": {"url": None},
    "cache": {"backend": "redis"},
}


def _edit(path: Path, section: str, key: str, value: Any) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.setdefault(section, {})[key] = value
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def _statuses(report: Any) -> list[tuple[str, str]]:
    return [(finding.check, finding.status) for finding in report.findings]


def _set_hashing_minimum(project: Path, floor: dict[str, int] | None) -> None:
    path = policyfiles.policy_path("password", project / "security" / "policies")
    policy = json.loads(path.read_text(encoding="utf-8"))
    policy.pop("hashing_minimum", None)
    if floor is not None:
        policy["hashing_minimum"] = floor
    path.write_text(json.dumps(policy), encoding="utf-8")


def test_the_projects_configuration_is_valid(project: Path) -> None:
    report = config.validate(layers.ENVIRONMENTS)

    assert not report.failed, [f for f in report.findings if f.status == "fail"]
    assert {f.check for f in report.findings} >= set(layers.ENVIRONMENTS)


def test_rules_apply_only_to_deployed_environments(project: Path) -> None:
    unsafe = {"app": {"debug": True, "public_url": "http://x", "log_level": "DEBUG", "allowed_hosts": ["*"]}}

    assert config.environment_rules("development", unsafe) == []
    assert config.environment_rules("testing", unsafe) == []
    assert config.environment_rules("production", SAFE_PRODUCTION) == []


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("debug", True, "debug must be false"),
        ("debug", None, "debug must be false"),
        ("public_url", "http://api.example.com", "https://"),
        ("log_level", "debug", "must not be DEBUG"),
        ("cors_origins", ["*"], "CORS origins"),
        ("allowed_hosts", ["*"], "allowed hosts"),
        ("allowed_hosts", [], "allowed hosts"),
    ],
)
@pytest.mark.parametrize("env", config.DEPLOYED)
def test_each_deployed_rule_names_its_key(project: Path, env: str, key: str, value: Any, rule: str) -> None:
    merged = json.loads(json.dumps(SAFE_PRODUCTION))
    merged["app"][key] = value

    broken = config.environment_rules(env, merged)

    assert len(broken) == 1
    assert broken[0][0] == f"app.{key}"
    assert rule in broken[0][1]
    assert env in broken[0][1]


# Argon2id costs relative to the floor (time_cost, memory_kib): what each case sets, what breaks.
HASHING_CASES: list[tuple[Callable[[dict[str, int]], dict[str, int]], list[str]]] = [
    (
        lambda floor: {"time_cost": floor["time_cost"] - 1, "memory_kib": floor["memory_kib"] // 2},
        ["password_hashing.memory_kib", "password_hashing.time_cost"],
    ),
    (lambda floor: {"memory_kib": floor["memory_kib"] - 1}, ["password_hashing.memory_kib"]),
    (lambda floor: {"time_cost": floor["time_cost"] - 1}, ["password_hashing.time_cost"]),
    (lambda floor: dict(floor), []),
    (lambda floor: {}, []),  # unset: the settings' defaults, which meet the floor
]


@pytest.mark.parametrize(("costs", "keys"), HASHING_CASES, ids=["both", "memory", "time", "at-floor", "unset"])
@pytest.mark.parametrize("env", config.DEPLOYED)
def test_deployed_password_hashing_meets_the_policys_minimum(
    project: Path, env: str, costs: Callable[[dict[str, int]], dict[str, int]], keys: list[str]
) -> None:
    floor = config.hashing_minimum()
    merged = {**json.loads(json.dumps(SAFE_PRODUCTION)), "password_hashing": costs(floor)}

    broken = config.environment_rules(env, merged)

    assert [key for key, _ in broken] == keys
    assert all("the password policy's hashing_minimum" in rule and env in rule for _, rule in broken)


def test_without_a_hashing_minimum_the_owasp_floor_applies(project: Path) -> None:
    _set_hashing_minimum(project, None)
    assert config.hashing_minimum() == {"memory_kib": 19_456, "time_cost": 2}

    policyfiles.policy_path("password").unlink()
    assert config.hashing_minimum() == {"memory_kib": 19_456, "time_cost": 2}


def test_the_password_policy_raises_the_hashing_floor(project: Path) -> None:
    production = {**json.loads(json.dumps(SAFE_PRODUCTION)), "password_hashing": {"time_cost": 3, "memory_kib": 65_536}}
    _set_hashing_minimum(project, {"memory_kib": 65_536, "time_cost": 3})
    assert config.environment_rules("production", production) == []

    _set_hashing_minimum(project, {"memory_kib": 131_072, "time_cost": 3})
    broken = config.environment_rules("production", production)

    assert broken == [
        (
            "password_hashing.memory_kib",
            "password_hashing.memory_kib 65536 is below 131072 (the password policy's hashing_minimum) in production",
        )
    ]


def test_servers_the_project_has_are_required_when_deployed(project: Path) -> None:
    local = {**SAFE_PRODUCTION, "database": {"url": "sqlite+aiosqlite:///./var/app.db"}, "cache": {"backend": "memory"}}
    assert config.has_service("database")
    assert config.has_service("redis")

    assert [key for key, _ in config.environment_rules("production", local)] == ["database.url", "cache.backend"]

    (project / "config" / "services" / "database.yaml").unlink()
    (project / "config" / "services" / "redis.yaml").unlink()
    assert config.environment_rules("production", local) == []


def test_a_served_model_is_named_when_deployed(project: Path) -> None:
    unnamed = {**SAFE_PRODUCTION, "mlflow": {"model_name": "", "alias": " "}}
    assert config.environment_rules("production", unnamed) == [], "no mlflow.yaml: no model to name"

    (project / "config" / "services" / "mlflow.yaml").write_text("mlflow:\n  model_name: churn\n  alias: champion\n")
    broken = config.environment_rules("production", unnamed)

    assert broken == [
        ("mlflow.model_name", "the served model needs a name (mlflow.model_name) in production"),
        ("mlflow.alias", "the served model needs an alias (mlflow.alias) in production"),
    ]
    named = {**SAFE_PRODUCTION, "mlflow": {"model_name": "churn", "alias": "champion"}}
    assert config.environment_rules("production", named) == []


def test_a_broken_rule_points_at_the_file_that_set_the_value(project: Path) -> None:
    production = project / "config" / "environments" / "production.yaml"
    _edit(production, "app", "debug", True)

    report = config.validate(("production",), project / "config")

    assert report.failed
    failure = next(f for f in report.findings if f.status == "fail")
    assert failure.where == f"{production}: app.debug"
    assert failure.fix == f"set app.debug in {production}"


def test_schema_violations_are_reported_per_file_and_key(project: Path) -> None:
    testing = project / "config" / "environments" / "testing.yaml"
    _edit(testing, "server", "port", "eighty")

    report = config.validate(("testing",), project / "config")

    failures = [f for f in report.findings if f.status == "fail"]
    assert [f.where for f in failures] == [f"{testing}: server.port"]
    assert failures[0].message == "server.port must be of type integer"


def test_unparsable_files_fail_validation(project: Path) -> None:
    staging = project / "config" / "environments" / "staging.yaml"
    staging.write_text("app: [unclosed\n", encoding="utf-8")

    report = config.validate(("staging",), project / "config")

    assert ("parse", "fail") in _statuses(report)
    assert any(f.where == str(staging) for f in report.findings if f.check == "parse")


def test_a_missing_schema_fails_validation(project: Path) -> None:
    (project / "config" / "schema.json").unlink()

    report = config.validate(layers.ENVIRONMENTS, project / "config")

    assert _statuses(report) == [("schema", "fail")]


def test_a_missing_environment_file_fails_that_environment(project: Path) -> None:
    (project / "config" / "environments" / "staging.yaml").unlink()

    report = config.validate(("staging", "production"), project / "config")

    assert ("parse", "fail") in _statuses(report)
    assert ("production", "pass") in _statuses(report)


def test_the_projects_environments_define_the_same_keys(project: Path) -> None:
    report = config.sync(check=True)

    assert not report.failed, [f.where for f in report.findings if f.status == "fail"]


def test_sync_check_reports_drift_and_sync_repairs_it(project: Path) -> None:
    directory = project / "config"
    staging = directory / "environments" / "staging.yaml"
    original = staging.read_text(encoding="utf-8")
    assert "  max_page_size: 100\n" in original
    staging.write_text(original.replace("  max_page_size: 100\n", ""), encoding="utf-8")

    check = config.sync(check=True, directory=directory)
    assert check.failed
    assert [f.where for f in check.findings if f.status == "fail"] == [f"{staging}: app.max_page_size"]

    repaired = config.sync(check=False, directory=directory)
    assert not repaired.failed
    assert ("staging", "warn") in _statuses(repaired)
    text = staging.read_text(encoding="utf-8")
    assert config.REVIEW_MARK in text
    # Comments and every other line survive the repair.
    assert all(line in text.splitlines() for line in original.splitlines() if "max_page_size" not in line)
    assert layers.read_yaml(staging)["app"]["max_page_size"] == 100
    assert not config.sync(check=True, directory=directory).failed


def test_sync_of_an_unparsable_file_fails(project: Path) -> None:
    (project / "config" / "environments" / "testing.yaml").write_text("- not a mapping\n", encoding="utf-8")

    assert _statuses(config.sync(check=True, directory=project / "config")) == [("parse", "fail")]


def _flow_style_rate_limit(staging: Path) -> str:
    """Rewrite staging's ``rate_limit`` block as one flow mapping with 3 login attempts, lacking a key."""
    text = staging.read_text(encoding="utf-8")
    start = text.index("rate_limit:\n")
    end = re.compile(r"^\S", re.MULTILINE).search(text, start + 1)
    end = end.start() if end else len(text)
    flow = "rate_limit: {enabled: true, login_attempts: 3}\n"
    staging.write_text(text[:start] + flow + text[end:], encoding="utf-8")
    return staging.read_text(encoding="utf-8")


def test_sync_refuses_a_flow_mapping_naming_the_file_and_line(project: Path) -> None:
    staging = project / "config" / "environments" / "staging.yaml"
    before = _flow_style_rate_limit(staging)
    line = before.splitlines().index("rate_limit: {enabled: true, login_attempts: 3}") + 1

    report = config.sync(check=False, directory=project / "config")

    failed = [f for f in report.findings if f.status == "fail"]
    assert [f.where for f in failed] == [f"{staging}: line {line}"]
    assert "rate_limit" in failed[0].message and "flow" in failed[0].message
    assert staging.read_text(encoding="utf-8") == before
    assert layers.read_yaml(staging)["rate_limit"]["login_attempts"] == 3


def test_validate_refuses_a_repeated_key(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    staging = project / "config" / "environments" / "staging.yaml"
    _flow_style_rate_limit(staging)
    with staging.open("a", encoding="utf-8") as handle:
        handle.write("rate_limit:\n  login_attempts: 10\n")

    assert cli.main(["config", "validate", "--env", "staging"]) == 1
    assert "rate_limit is set twice" in capsys.readouterr().out


def test_add_keys_inserts_text_without_rewriting(tmp_path: Path) -> None:
    path = tmp_path / "env.yaml"
    path.write_text("# header\napp:\n  debug: false  # keep me\n\nserver:\n  port: 1", encoding="utf-8")

    config.add_keys(path, {"app.name": "x: y", "cache.default_ttl": 5, "flag": True})

    text = path.read_text(encoding="utf-8")
    assert text.startswith("# header\napp:\n  debug: false  # keep me\n  name: ")
    assert "\n\nserver:\n  port: 1\n" in text
    assert yaml.safe_load(text) == {
        "app": {"debug": False, "name": "x: y"},
        "server": {"port": 1},
        "cache": {"default_ttl": 5},
        "flag": True,
    }


def test_key_paths_flattens_sections() -> None:
    assert config.key_paths({"app": {"a": 1, "b": {"c": [1]}}, "empty": {}, "top": 2}) == {
        "app.a": 1,
        "app.b.c": [1],
        "empty": {},
        "top": 2,
    }


def test_the_cli_runs_config_validate(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["config", "validate", "--json"]) == 0

    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is True
    assert payload["title"] == "config validate"


def test_the_cli_fails_config_validate_on_an_unsafe_environment(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(project / "config" / "environments" / "staging.yaml", "app", "debug", True)

    assert cli.main(["config", "validate", "--env", "staging"]) == 1
    assert capsys.readouterr().out.rstrip().endswith("FAILED")


def test_the_cli_runs_config_sync_check(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["config", "sync", "--check"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("OK")


def test_the_cli_rejects_unknown_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["config", "explode"])

    assert raised.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_the_cli_shows_the_effective_configuration(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = random_value()
    monkeypatch.setenv("SECRET_KEY", secret)

    assert cli.main(["config", "show", "--env", "production"]) == 0

    out = capsys.readouterr().out
    assert out.startswith("config show --env production")
    assert "app.debug" in out
    assert "SECRET_KEY" in out
    assert secret not in out


def test_the_cli_shows_json_for_the_current_environment(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APP_ENV", "testing")
    monkeypatch.setenv("SECRET_KEY", random_value())

    assert cli.main(["config", "show", "--json"]) == 0

    shown = json.loads(capsys.readouterr().out)
    assert shown["env"] == "testing"
    assert shown["values"]["SECRET_KEY"] == "***"
    assert shown["values"]["password_hashing.time_cost"] == 1


def test_show_takes_the_environment_from_the_dotenv_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / ".env").write_text("APP_ENV=staging\n", encoding="utf-8")

    assert cli.main(["config", "show", "--json"]) == 0

    assert json.loads(capsys.readouterr().out)["env"] == "staging"


def test_show_reports_a_broken_configuration(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "config" / "schema.json").unlink()

    assert cli.main(["config", "show", "--env", "staging"]) == 1
    assert "schema.json" in capsys.readouterr().out


def test_validate_refuses_a_billion_laughs_file_within_a_second(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    staging = project / "config" / "environments" / "staging.yaml"
    bomb = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    bomb += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 10)]
    staging.write_text("\n".join(bomb) + "\n", encoding="utf-8")
    started = time.perf_counter()

    code = cli.main(["config", "validate"])

    assert time.perf_counter() - started < 1
    assert code == 1
    assert "config/environments/staging.yaml: line 1: anchors and aliases" in capsys.readouterr().out


def test_a_password_inside_a_committed_url_fails_validation(project: Path) -> None:
    staging = project / "config" / "environments" / "staging.yaml"
    set_yaml(staging, "database.url", "postgresql://postgres:postgres@db/app")

    report = config.validate(layers.ENVIRONMENTS, project / "config")

    failed = [f for f in report.findings if f.status == "fail"]
    assert [(f.check, f.where) for f in failed] == [("credential", f"{staging}: database.url")]
    assert "postgres:postgres" not in failed[0].message
    assert ".env" in failed[0].fix and "DATABASE_URL" in failed[0].fix


def test_a_url_without_a_password_or_with_a_placeholder_passes(project: Path) -> None:
    staging = project / "config" / "environments" / "staging.yaml"
    set_yaml(staging, "database.url", "postgresql://app:${DB_PASSWORD}@db/app")
    set_yaml(project / "config" / "environments" / "production.yaml", "database.url", "postgresql://app@db/app")

    assert not config.validate(layers.ENVIRONMENTS, project / "config").failed
