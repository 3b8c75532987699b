"""Legacy repositories to score and adopt: a FastAPI prediction service in the shape teams inherit it.

:func:`make_legacy_repo` writes one into a folder: a ``/predict`` route, pins that uv's resolver
rejects (``great-expectations==1.5.11`` needs ``pandas<2.2``; ``pandas==2.2.3`` is pinned),
``CHANGE_ME`` keys in a ``.env`` that git tracks, a root Dockerfile running as root, debug
configuration, three tests and no CI. Tests of ``prodready check`` and of adoption share it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

SHAPES = ("src", "app")
# What the app answers on /predict for {"features": [1, 2, 3]}: the mean, times two.
PREDICT_REQUEST = {"features": [1.0, 2.0, 3.0]}
PREDICT_RESPONSE = {"prediction": 4.0, "model": "mean-v1"}
# The keys of the legacy .env; every value is the placeholder.
ENV_KEYS = ("SECRET_KEY", "JWT_SECRET_KEY", "DB_ENCRYPTION_KEY", "REDIS_PASSWORD")
PLACEHOLDER = "CHANGE_ME"

# Application pins; the first two cannot be installed together. The data-science packages are
# never imported by the app, so an environment with fastapi and uvicorn runs it.
_CONFLICTING = ("great-expectations==1.5.11", "pandas==2.2.3")
_COMPATIBLE = ("great-expectations==1.5.11", "pandas==2.1.4")
_APP_PINS = ("fastapi==0.115.12", "uvicorn==0.34.0", "pydantic==2.11.3", "numpy==1.26.4", "requests==2.32.3")
_TEST_PINS = ("pytest==8.3.4", "httpx==0.28.1")

_APP = '''\
"""Prediction service."""

import os

from fastapi import FastAPI
from pydantic import BaseModel

DEBUG = os.getenv("DEBUG", "true") == "true"
SECRET_KEY = os.getenv("SECRET_KEY", "CHANGE_ME")

app = FastAPI(title="predictor", debug=DEBUG)


class Features(BaseModel):
    features: list[float]


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
def predict(body: Features) -> dict[str, object]:
    mean = sum(body.features) / len(body.features) if body.features else 0.0
    return {"prediction": mean * 2, "model": "mean-v1"}
'''

_TESTS = {
    "test_health.py": """\
        from fastapi.testclient import TestClient

        from {module} import app


        def test_health():
            assert TestClient(app).get("/health").json() == {{"status": "ok"}}
        """,
    "test_predict.py": """\
        from fastapi.testclient import TestClient

        from {module} import app


        def test_predict():
            answer = TestClient(app).post("/predict", json={{"features": [1, 2, 3]}})
            assert answer.json() == {{"prediction": 4.0, "model": "mean-v1"}}
        """,
    "test_empty.py": """\
        from fastapi.testclient import TestClient

        from {module} import app


        def test_predict_without_features():
            answer = TestClient(app).post("/predict", json={{"features": []}})
            assert answer.json()["prediction"] == 0.0
        """,
}


def make_legacy_repo(
    path: Path,
    shape: str = "src",
    *,
    conflict: bool = True,
    env_example: bool | None = None,
    git_init: bool = True,
    track_env: bool = True,
) -> Path:
    """Write a legacy FastAPI prediction service into ``path`` (created) and return ``path``.

    Args:
        path: the folder to write; it must not exist or be empty.
        shape: ``"src"``: ``src/main.py`` (import ``main:app`` with ``src`` on the path),
            ``requirements.txt`` and ``requirements-dev.txt`` (``-r requirements.txt``), a
            ``.env.example``. ``"app"``: the package ``app/`` (``app.main:app``), a
            ``requirements/`` folder (``base.txt``; ``dev.txt`` and ``prod.txt`` include it) and
            no ``.env.example``.
        conflict: pin ``pandas==2.2.3`` beside ``great-expectations==1.5.11`` (unsatisfiable);
            False pins ``pandas==2.1.4``, which fits.
        env_example: write ``.env.example`` (default: True for ``src``, False for ``app``).
        git_init: ``git init`` and commit everything (the machine's system git config left out).
        track_env: with ``git_init``, commit ``.env`` too (as the legacy team did); False adds it to
            ``.gitignore`` instead.

    The ``.env`` holds :data:`ENV_KEYS`, each ``CHANGE_ME``, and ``DATABASE_URL``; the
    Dockerfile (``python:3.11``, no ``USER``, no ``HEALTHCHECK``) runs uvicorn as root;
    ``config/settings.yaml`` turns debug on. ``/predict`` answers :data:`PREDICT_RESPONSE` to
    :data:`PREDICT_REQUEST`; ``/health`` answers ``{"status": "ok"}``.
    """
    if shape not in SHAPES:
        raise ValueError(f"shape {shape!r} is not one of {', '.join(SHAPES)}")
    pins = [*_APP_PINS, *(_CONFLICTING if conflict else _COMPATIBLE)]
    if shape == "src":
        module, app_file, target = "main", "src/main.py", "main:app --app-dir src"
        files = {
            "requirements.txt": "\n".join(pins) + "\n",
            "requirements-dev.txt": "-r requirements.txt\n" + "\n".join(_TEST_PINS) + "\n",
            "pytest.ini": "[pytest]\npythonpath = src\n",
        }
    else:
        module, app_file, target = "app.main", "app/main.py", "app.main:app"
        files = {
            "app/__init__.py": "",
            "requirements/base.txt": "\n".join(pins) + "\n",
            "requirements/dev.txt": "-r base.txt\n" + "\n".join(_TEST_PINS) + "\n",
            "requirements/prod.txt": "-r base.txt\ngunicorn==23.0.0\n",
        }
    secrets = "".join(f"{name}={PLACEHOLDER}\n" for name in ENV_KEYS)
    files.update(
        {
            app_file: _APP,
            ".env": secrets + "DATABASE_URL=postgresql://app:app@localhost:5432/predictions\nDEBUG=true\n",
            ".gitignore": "__pycache__/\n*.pyc\n" + ("" if track_env else ".env\n"),
            "config/settings.yaml": "debug: true\nlog_level: DEBUG\nmodel_path: models/model.pkl\n",
            "Dockerfile": (
                "FROM python:3.11\nWORKDIR /app\nCOPY . .\n"
                f"RUN pip install -r {'requirements.txt' if shape == 'src' else 'requirements/prod.txt'}\n"
                f'CMD ["uvicorn", "{target.split()[0]}", "--host", "0.0.0.0", "--port", "8000"]\n'
            ),
            "README.md": f"# predictor\n\nRun it: `uvicorn {target} --reload`.\n",
        }
    )
    files.update({f"tests/{name}": textwrap.dedent(text).format(module=module) for name, text in _TESTS.items()})
    if env_example if env_example is not None else shape == "src":
        files[".env.example"] = "".join(f"{name}=\n" for name in ENV_KEYS) + "DATABASE_URL=\n"
    path.mkdir(parents=True, exist_ok=True)
    if any(path.iterdir()):
        raise ValueError(f"{path} is not empty")
    for relative, text in files.items():
        (path / relative).parent.mkdir(parents=True, exist_ok=True)
        (path / relative).write_text(text, encoding="utf-8")
    if git_init:
        git(path, "init", "--quiet")
        git(path, "add", "--all", "--force" if track_env else "--")
        git(path, "-c", "user.name=Legacy Team", "-c", "user.email=team@example.com", "commit", "--quiet", "-m", "v1")
    return path


def git(directory: Path, *args: str) -> None:
    """Run ``git ARGS`` in ``directory`` (the machine's system-wide git config left out)."""
    program = shutil.which("git")
    assert program is not None, "these tests need git"
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run([program, *args], cwd=directory, check=True, env=env, capture_output=True)
