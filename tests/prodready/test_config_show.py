"""``config show``: the effective settings of an environment, layer by layer, secrets masked.

The service's own tests check that its settings follow the same layers (defaults from
``config/schema.json``, then the YAML files); these check that prodready computes them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from scratch import random_value, set_yaml

from prodready import cli, config, layers


def _flat(data: dict[str, Any]) -> dict[str, Any]:
    # Sections of at most two levels, the schema's shape: {"app": {"debug": x}} -> {"app.debug": x}.
    return {f"{section}.{key}": value for section, values in data.items() for key, value in values.items()}


def _yaml(path: Path) -> dict[str, Any]:
    return _flat(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


@pytest.mark.parametrize("env", layers.ENVIRONMENTS)
def test_show_is_the_schema_defaults_under_the_yaml_layers(project: Path, env: str) -> None:
    schema = json.loads((project / "config" / "schema.json").read_text(encoding="utf-8"))
    expected = {
        f"{section}.{key}": spec["default"]
        for section, properties in schema["properties"].items()
        for key, spec in properties["properties"].items()
    }
    services = sorted((project / "config" / "services").glob("*.yaml"))
    environment = project / "config" / "environments" / f"{env}.yaml"
    for path in [*services, environment]:
        expected.update(_yaml(path))

    result = config.effective_config(env)

    assert result["env"] == env
    assert result["values"] == expected
    assert result["sources"]["app.debug"] == str(Path("config") / "environments" / f"{env}.yaml")
    assert result["sources"]["database.pool_size"] == str(Path("config") / "services" / "database.yaml")
    unset = next(key for key in expected if all(key not in _yaml(path) for path in [*services, environment]))
    assert result["sources"][unset] == "default"


def test_environment_variables_win_and_are_attributed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP__LOG_LEVEL", "WARNING")
    monkeypatch.setenv("SERVER__WORKERS", "7")
    monkeypatch.setenv("APP__CORS_ORIGINS", '["https://a.example"]')
    monkeypatch.setenv("APP__NAME", "7")
    (project / ".env").write_text("APP__MAX_PAGE_SIZE=42\nSERVER__WORKERS=3\n", encoding="utf-8")

    result = config.effective_config("development", dotenv=project / ".env")

    assert result["values"]["app.log_level"] == "WARNING"
    # JSON in a variable becomes the number or list the schema asks for; a string stays a string.
    assert result["values"]["server.workers"] == 7
    assert result["values"]["app.cors_origins"] == ["https://a.example"]
    assert result["values"]["app.max_page_size"] == 42
    assert result["values"]["app.name"] == "7"
    assert result["sources"]["server.workers"] == "environment: SERVER__WORKERS"
    assert result["sources"]["app.max_page_size"] == f"{project / '.env'}: APP__MAX_PAGE_SIZE"


def test_secrets_are_masked(project: Path, monkeypatch: pytest.MonkeyPatch, key_names: tuple[str, ...]) -> None:
    values = {name: random_value() for name in key_names}
    values["JWT_SECRET_KEY_PREVIOUS"] = random_value()
    values["DATABASE_URL"] = f"postgresql+asyncpg://svc:{random_value()}@db/svc"
    (project / ".env").write_text("".join(f"{name}={value}\n" for name, value in values.items()), encoding="utf-8")

    result = config.effective_config("development", dotenv=project / ".env")

    assert {name: result["values"][name] for name in values} == dict.fromkeys(values, "***")
    printed = json.dumps(result)
    for value in values.values():
        assert value not in printed


def test_a_password_inside_a_url_is_masked_wherever_the_url_comes_from(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    staging = project / "config" / "environments" / "staging.yaml"
    set_yaml(staging, "database.url", "postgresql://app:FromYaml@db/app")
    monkeypatch.setenv("DATABASE__URL", "postgresql+asyncpg://app:SuperSecret@db/app")

    assert cli.main(["config", "show", "--env", "development"]) == 0
    from_variable = capsys.readouterr().out
    monkeypatch.delenv("DATABASE__URL")
    assert cli.main(["config", "show", "--env", "staging", "--json"]) == 0
    from_yaml = capsys.readouterr().out

    assert "SuperSecret" not in from_variable
    assert "postgresql+asyncpg://app:***@db/app" in from_variable
    assert "FromYaml" not in from_yaml
    assert "postgresql://app:***@db/app" in from_yaml
