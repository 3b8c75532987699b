"""service_settings: the configuration layers and their precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from service_settings import ENVIRONMENTS, SettingsError, load, merge


def test_every_environment_loads_with_its_own_name() -> None:
    for env in ENVIRONMENTS:
        settings = load(env, environ={})
        assert settings["environment"] == env
        assert settings["app"]["name"]


def test_app_env_chooses_the_environment() -> None:
    assert load(environ={"APP_ENV": "production"})["environment"] == "production"
    assert load(environ={})["environment"] == "development"


def test_environment_variables_override_nested_keys_as_yaml_values() -> None:
    settings = load("production", environ={"APP__DEBUG": "true", "APP__NAME": "renamed"})
    assert settings["app"]["debug"] is True
    assert settings["app"]["name"] == "renamed"


def test_an_unknown_environment_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match="'prod' is not an environment"):
        load("prod", environ={})


def test_a_file_that_is_not_a_mapping_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "development.yaml").write_text("- a list\n", encoding="utf-8")
    monkeypatch.setenv("CONFIG_DIR", str(tmp_path))
    with pytest.raises(SettingsError, match=r"development\.yaml must hold a mapping"):
        load("development", environ={})


def test_merge_keeps_what_the_override_does_not_set() -> None:
    assert merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}
