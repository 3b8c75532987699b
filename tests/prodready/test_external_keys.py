"""External keys: issued by another system's operator (a model registry's password), never made here.

The key list of a project with ``model_serving=mlflow`` has one; these tests add the same entry
to a scratch project's ``security/keys.json`` so they run on the shared default render.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prodready import cli, envfile, keyrules

NAME = "MLFLOW_TRACKING_PASSWORD"
USER = "MLFLOW_TRACKING_USERNAME"


@pytest.fixture
def workdir(project: Path) -> Path:
    path = project / "security" / "keys.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["keys"].append(
        {
            "name": NAME,
            "purpose": "password of the service's user on the MLflow tracking server (issued by its operator)",
            "encoding": "urlsafe",
            "bytes": 32,
            "external": True,
            "required_with": USER,
        }
    )
    path.write_text(json.dumps(data), encoding="utf-8")
    return project


def test_ensure_never_makes_an_external_key(workdir: Path) -> None:
    assert cli.main(["keys", "ensure"]) == 0
    values = envfile.read(workdir / ".env")
    assert NAME not in values
    assert "SECRET_KEY" in values


def test_generate_leaves_an_external_key_for_its_issuer(workdir: Path) -> None:
    template = workdir / ".env.production.template"
    template.write_text(template.read_text(encoding="utf-8") + f"{USER}=${{{USER}}}\n{NAME}=${{{NAME}}}\n")
    assert cli.main(["keys", "generate", "--env", "production"]) == 0
    values = envfile.read(workdir / ".env.production")
    assert values[NAME] == "${" + NAME + "}", "still a placeholder: security validate fails until it is filled"
    with pytest.raises(KeyError, match="never generated here"):
        keyrules.generate(NAME)


def test_rotate_refuses_an_external_key(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / ".env.production").write_text(f"{USER}=svc\n{NAME}=issued-by-the-operator-{'q' * 3}7Zr\n")
    assert cli.main(["keys", "rotate", NAME, "--env", "production", "--yes"]) == 2
    assert "issued by another system's operator: change it there" in capsys.readouterr().out


def test_an_external_key_is_checked_for_presence_and_placeholders_only(workdir: Path) -> None:
    assert keyrules.key_problems(NAME, "short-but-real-9") == []
    assert keyrules.key_problems(NAME, "password1234") == [f"{NAME} is a placeholder, not a real key"]
    assert keyrules.key_problems(NAME, "") == [f"{NAME} is missing"]


def test_a_password_is_needed_only_beside_its_user_name(workdir: Path) -> None:
    others = {spec.name: keyrules.fresh_value(spec) for spec in keyrules.generated_keys()}
    assert NAME not in keyrules.check_keys(others)
    assert keyrules.check_keys({**others, USER: "svc"})[NAME] == [f"{NAME} is missing"]
    assert NAME not in keyrules.check_keys({**others, USER: "svc", NAME: "issued-by-the-operator-7Zr"})
