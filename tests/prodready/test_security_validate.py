"""`security validate --env ENV` fails on unfinished or unsafe setups, naming what to fix."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from scratch import git, set_yaml

from prodready import auditlog, cli, keyrules


def _filled_production(project: Path) -> Path:
    """Generate .env.production and fill its deployment values, as an operator would."""
    assert cli.main(["keys", "generate", "--env", "production"]) == 0
    path = project / ".env.production"
    text = re.sub(r"\$\{[A-Z_]+\}", "db.internal", path.read_text())
    path.write_text(text)
    return path


def _validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = cli.main(["security", "validate", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def _failed(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in result["findings"] if f["status"] == "fail"]


def _set(path: Path, name: str, value: str) -> None:
    lines = path.read_text().splitlines()
    if any(line.startswith(f"{name}=") for line in lines):
        lines = [f"{name}={value}" if line.startswith(f"{name}=") else line for line in lines]
    else:
        lines.append(f"{name}={value}")
    path.write_text("\n".join(lines) + "\n")


def test_a_properly_filled_production_file_passes(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_production(project)
    code, result = _validate(capsys, "--env", "production")
    assert code == 0, _failed(result)
    assert result["ok"] is True
    checks = {f["check"] for f in result["findings"] if f["status"] == "pass"}
    assert {*keyrules.KEY_NAMES, "placeholders", "https", "debug off", "cors", "allowed hosts"} <= checks
    assert {"untracked", "file mode", "key age", "policy", "committed template"} <= checks


def test_the_untouched_production_template_fails_naming_every_key(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = _validate(capsys, "--env", "production", "--file", ".env.production.template")
    assert code == 1
    failed = {f["check"]: f["message"] for f in _failed(result)}
    for name in keyrules.KEY_NAMES:
        assert name in failed
        assert "placeholder" in failed[name]


def test_one_weak_key_fails_and_is_named(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _filled_production(project)
    _set(path, "JWT_SECRET_KEY", "only-twenty-chars-xy")
    code, result = _validate(capsys, "--env", "production")
    assert code == 1
    failed = _failed(result)
    assert [f["check"] for f in failed] == ["JWT_SECRET_KEY"]
    assert "JWT_SECRET_KEY is 20 characters long; the minimum is 32" in failed[0]["message"]
    assert "only-twenty-chars-xy" not in json.dumps(result)


@pytest.mark.parametrize(("copied", "reused"), [("SECRET_KEY", "JWT_SECRET_KEY"), ("DB_PASSWORD", "REDIS_PASSWORD")])
def test_two_keys_with_one_value_fail_naming_both(
    project: Path, capsys: pytest.CaptureFixture[str], key_names: tuple[str, ...], copied: str, reused: str
) -> None:
    if reused not in key_names:
        pytest.skip(f"the example project has no {reused}")
    path = _filled_production(project)
    value = next(line for line in path.read_text().splitlines() if line.startswith(f"{copied}="))
    _set(path, reused, value.partition("=")[2])

    code, result = _validate(capsys, "--env", "production")

    assert code == 1
    failed = _failed(result)
    assert [f["check"] for f in failed] == [reused]
    assert f"{reused} has the same value as {copied}" in failed[0]["message"]
    assert value.partition("=")[2] not in json.dumps(result)


def test_a_production_key_equal_to_the_development_one_fails(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keys", "ensure"]) == 0
    path = _filled_production(project)
    development = (project / ".env").read_text().splitlines()
    value = next(line for line in development if line.startswith("JWT_SECRET_KEY=")).partition("=")[2]
    _set(path, "JWT_SECRET_KEY", value)

    code, result = _validate(capsys, "--env", "production")

    assert code == 1
    failed = _failed(result)
    assert [f["check"] for f in failed] == ["reuse"]
    assert "JWT_SECRET_KEY has the same value as development:JWT_SECRET_KEY (.env)" in failed[0]["message"]
    assert value not in json.dumps(result)


def test_the_readable_report_names_the_weak_key(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _filled_production(project)
    _set(path, "DB_ENCRYPTION_KEY", "CHANGE_ME")
    capsys.readouterr()
    assert cli.main(["security", "validate", "--env", "production"]) == 1
    printed = capsys.readouterr().out
    assert "✗ DB_ENCRYPTION_KEY [.env.production]: DB_ENCRYPTION_KEY is a placeholder" in printed
    assert printed.rstrip().endswith("FAILED")


def test_deployment_placeholders_fail(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keys", "generate", "--env", "production"]) == 0
    _set(project / ".env.production", "APP__NAME", "${SERVICE_NAME}")
    code, result = _validate(capsys, "--env", "production")
    assert code == 1
    failed = _failed(result)
    assert [f["check"] for f in failed] == ["placeholders"]
    assert "APP__NAME" in failed[0]["message"]


def test_the_minimum_length_comes_from_the_encryption_policy(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_production(project)
    policy_path = project / "security" / "policies" / "encryption_policy.json"
    policy = json.loads(policy_path.read_text())
    policy["min_key_length"] = 80
    policy_path.write_text(json.dumps(policy))
    code, result = _validate(capsys, "--env", "production")
    assert code == 1
    failed = {f["check"] for f in _failed(result)}
    short = {spec.name for spec in keyrules.KEYS if len(spec.generate()) < 80}
    assert failed == short
    assert short


def test_a_weak_previous_key_fails(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _filled_production(project)
    _set(path, "JWT_SECRET_KEY_PREVIOUS", "short")
    code, result = _validate(capsys, "--env", "production")
    assert code == 1
    assert [f["check"] for f in _failed(result)] == ["JWT_SECRET_KEY_PREVIOUS"]


@pytest.mark.parametrize(
    ("variable", "value", "check"),
    [
        ("APP__PUBLIC_URL", "http://api.example.org", "https"),
        ("APP__DEBUG", "true", "debug off"),
        ("APP__CORS_ORIGINS", '["*"]', "cors"),
        ("APP__ALLOWED_HOSTS", '["*"]', "allowed hosts"),
        ("APP__ALLOWED_HOSTS", "[]", "allowed hosts"),
    ],
)
def test_unsafe_settings_in_the_env_file_fail(
    project: Path, capsys: pytest.CaptureFixture[str], variable: str, value: str, check: str
) -> None:
    _set(_filled_production(project), variable, value)
    code, result = _validate(capsys, "--env", "production")
    assert code == 1
    assert [f["check"] for f in _failed(result)] == [check]


def test_unsafe_settings_in_the_yaml_fail(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_production(project)
    path = project / "config" / "environments" / "production.yaml"
    path.write_text(path.read_text().replace("public_url: https://", "public_url: http://"))
    code, result = _validate(capsys, "--env", "production")
    assert code == 1
    assert [f["check"] for f in _failed(result)] == ["https"]


def test_a_password_inside_a_committed_url_fails(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_production(project)
    set_yaml(project / "config" / "environments" / "production.yaml", "database.url", "postgresql://app:Hunter2@db/a")

    code, result = _validate(capsys, "--env", "production")

    assert code == 1
    where = "config/environments/production.yaml: database.url"
    assert [(f["check"], f["where"]) for f in _failed(result)] == [("credential", where)]
    assert "Hunter2" not in json.dumps(result)


def test_an_env_file_for_another_environment_fails(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _filled_production(project)
    shutil.copy2(path, project / ".env.staging")
    code, result = _validate(capsys, "--env", "staging")
    assert code == 1
    assert "APP_ENV is production, not staging" in [f["message"] for f in _failed(result)]


def test_a_loose_file_mode_fails(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_production(project)
    assert cli.main(["keys", "ensure"]) == 0
    (project / ".env").chmod(0o640)
    code, result = _validate(capsys, "--env", "production")
    assert code == 1
    failed = _failed(result)
    assert [(f["check"], f["where"]) for f in failed] == [("file mode", ".env")]
    assert "chmod 600 .env" in failed[0]["fix"]


def test_a_tracked_env_file_fails(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_production(project)
    git(project, "init", "-q")
    (project / ".gitignore").write_text(".env\n.env.*\n!.env.example\n!.env.production.template\n")
    git(project, "add", "-f", ".env.production")
    code, result = _validate(capsys, "--env", "production")
    assert code == 1
    assert [(f["check"], f["where"]) for f in _failed(result)] == [("untracked", ".env.production")]


def test_an_env_file_git_would_pick_up_is_a_warning(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_production(project)
    git(project, "init", "-q")
    code, result = _validate(capsys, "--env", "production")
    assert code == 0
    assert any(f["check"] == "untracked" and f["status"] == "warn" for f in result["findings"])


def test_a_real_key_in_a_committed_template_fails(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_production(project)
    _set(project / ".env.example", "SECRET_KEY", keyrules.generate("SECRET_KEY"))
    code, result = _validate(capsys, "--env", "production")
    assert code == 1
    failed = _failed(result)
    assert [(f["check"], f["where"]) for f in failed] == [("committed template", ".env.example")]
    assert "SECRET_KEY" in failed[0]["message"]


def test_a_key_older_than_the_policy_fails(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _filled_production(project)
    max_age = json.loads((project / "security" / "policies" / "encryption_policy.json").read_text())["max_key_age_days"]
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(days=max_age + 1)
    monkeypatch.setattr(auditlog, "now", lambda: moment)
    code, result = _validate(capsys, "--env", "production")
    assert code == 1
    failed = _failed(result)
    assert {f["check"] for f in failed} == {"key age"}
    assert len(failed) == len(keyrules.KEY_NAMES)
    assert all(f"the encryption policy allows {max_age}" in f["message"] for f in failed)


def test_keys_without_an_audit_trail_only_warn(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_production(project)
    (project / "var" / "audit" / "keys.jsonl").unlink()
    code, result = _validate(capsys, "--env", "production")
    assert code == 0
    assert any(f["check"] == "key age" and f["status"] == "warn" for f in result["findings"])


def test_a_missing_env_file_fails_with_the_command_that_makes_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = _validate(capsys, "--env", "staging")
    assert code == 1
    failed = _failed(result)
    assert failed[0]["check"] == "env file"
    assert "make keys-generate ENV=staging" in failed[0]["fix"]


def test_development_warns_about_weak_keys_without_failing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keys", "ensure"]) == 0
    _set(project / ".env", "SECRET_KEY", "dev")
    code, result = _validate(capsys, "--env", "development")
    assert code == 0
    assert {f["check"]: f["status"] for f in result["findings"]}["SECRET_KEY"] == "warn"


def test_a_fresh_development_setup_has_no_warnings(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keys", "ensure"]) == 0
    code, result = _validate(capsys, "--env", "development")
    assert code == 0
    assert [f for f in result["findings"] if f["status"] != "pass"] == []


# --- policies and their schemas ---------------------------------------------------------------


def _edit_policy(project: Path, name: str, **changes: Any) -> None:
    path = project / "security" / "policies" / f"{name}_policy.json"
    policy = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            policy.pop(key, None)
        else:
            policy[key] = value
    path.write_text(json.dumps(policy))


@pytest.mark.parametrize(
    ("name", "changes", "expected"),
    [
        ("encryption", {"min_key_length": 16}, "min_key_length must be at least 32"),
        ("encryption", {"field_encryption": "DES"}, "field_encryption must be 'AES-256-GCM'"),
        ("encryption", {"max_key_age_days": None}, "max_key_age_days is required"),
        ("access", {"jwt_algorithm": "none"}, "jwt_algorithm must be one of HS256, HS384, HS512"),
        ("access", {"access_token_expire_minutes": 0}, "access_token_expire_minutes must be at least 1"),
        ("access", {"roles": {"user": [], "admin": [], "root": []}}, "roles.root is not a known key"),
        ("access", {"roles": {"user": [1], "admin": []}}, "roles.user.0 must be of type string"),
        ("access", {"default_role": "root"}, "default_role must be one of user, admin"),
        ("password", {"min_length": 4}, "min_length must be at least 8"),
        ("password", {"require_digit": "yes"}, "require_digit must be of type boolean"),
        ("password", {"max_length": 64, "min_length": 100}, "max_length must not be below min_length"),
        ("password", {"surprise": 1}, "surprise is not a known key"),
    ],
)
def test_invalid_policies_fail_with_the_broken_rule(
    project: Path, capsys: pytest.CaptureFixture[str], name: str, changes: dict[str, Any], expected: str
) -> None:
    _filled_production(project)
    _edit_policy(project, name, **changes)
    code, result = _validate(capsys, "--env", "production")
    assert code == 1
    messages = [f["message"] for f in _failed(result) if f["check"] == "policy"]
    assert any(expected in message for message in messages), messages
    assert all(f["where"].endswith(f"{name}_policy.json") for f in _failed(result) if f["check"] == "policy")


def test_the_default_role_must_exist(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_production(project)
    path = project / "security" / "policies" / "access_policy.json"
    policy = json.loads(path.read_text())
    policy["default_role"] = "admin"
    schema_path = project / "security" / "policies" / "schemas" / "access_policy.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["properties"]["roles"]["required"] = ["user"]
    schema_path.write_text(json.dumps(schema))
    del policy["roles"]["admin"]
    path.write_text(json.dumps(policy))
    code, result = _validate(capsys, "--env", "production")
    assert code == 1
    assert any("default_role must be one of the roles" in f["message"] for f in _failed(result))


@pytest.mark.parametrize(("env", "status"), [("production", "fail"), ("staging", "fail"), ("development", "warn")])
def test_an_admin_default_role_fails_where_real_users_sign_up(
    project: Path, capsys: pytest.CaptureFixture[str], env: str, status: str
) -> None:
    _edit_policy(project, "access", default_role="admin")

    _, result = _validate(capsys, "--env", env)

    found = [f for f in result["findings"] if f["check"] == "default role"]
    assert [f["status"] for f in found] == [status]
    assert found[0]["where"].endswith("access_policy.json: default_role")
    assert '"default_role": "user"' in found[0]["fix"]


def test_every_policy_points_at_its_schema(rendered_project: Path) -> None:
    for name in ("password", "access", "encryption"):
        policy = json.loads((rendered_project / "security" / "policies" / f"{name}_policy.json").read_text())
        pointer = policy["$schema"]
        assert pointer == f"./schemas/{name}_policy.schema.json"
        assert (rendered_project / "security" / "policies" / pointer).is_file()


def test_a_policy_without_a_pointer_uses_the_default_schema(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_production(project)
    _edit_policy(project, "encryption", **{"$schema": None, "min_key_length": 8})
    code, result = _validate(capsys, "--env", "production")
    assert code == 1
    assert any("min_key_length must be at least 32" in f["message"] for f in _failed(result))


def test_a_policy_pointing_at_a_lax_schema_is_still_held_to_the_projects(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _filled_production(project)
    (project / "security" / "policies" / "lax.schema.json").write_text("{}")
    _edit_policy(project, "encryption", **{"$schema": "./lax.schema.json", "min_key_length": 8})

    code, result = _validate(capsys, "--env", "production")

    assert code == 1
    assert any("min_key_length must be at least 32" in f["message"] for f in _failed(result))


def test_a_broken_policy_file_fails_and_names_it(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_production(project)
    (project / "security" / "policies" / "password_policy.json").write_text("{")
    code, result = _validate(capsys, "--env", "production")
    assert code == 1
    assert any("password_policy.json: is not valid JSON" in f["message"] for f in _failed(result))


def test_every_keyword_of_the_schema_is_enforced(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_production(project)
    schema_path = project / "security" / "policies" / "schemas" / "password_policy.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["properties"]["min_length"]["multipleOf"] = 7
    schema_path.write_text(json.dumps(schema))
    min_length = json.loads((project / "security" / "policies" / "password_policy.json").read_text())["min_length"]
    assert min_length % 7

    code, result = _validate(capsys, "--env", "production")

    assert code == 1
    assert [f["message"] for f in _failed(result)] == [f"min_length {min_length} is not a multiple of 7"]


def test_a_broken_schema_fails_and_names_the_policy(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_production(project)
    schema_path = project / "security" / "policies" / "schemas" / "password_policy.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["properties"]["min_length"]["type"] = "integr"
    schema_path.write_text(json.dumps(schema))

    code, result = _validate(capsys, "--env", "production")

    assert code == 1
    [failure] = _failed(result)
    assert failure["check"] == "policy"
    assert failure["where"].endswith("password_policy.json")
    assert "not a valid JSON Schema" in failure["message"]


def test_a_schema_that_points_outside_itself_fails(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled_production(project)
    schema_path = project / "security" / "policies" / "schemas" / "encryption_policy.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["properties"]["min_key_length"] = {"$ref": "https://example.com/permissive.schema.json"}
    schema_path.write_text(json.dumps(schema))

    code, result = _validate(capsys, "--env", "production")

    assert code == 1
    assert any("does not resolve" in f["message"] for f in _failed(result) if f["check"] == "policy")
