"""Benchmarks of model serving (``model_serving=mlflow``), written to docs/benchmarks-model.md.

A project rendered from this working tree with the default answers and ``model_serving=mlflow``
serves the logistic pyfunc model of its own tests (``tests/mlflow_model.py``), registered on a
real MLflow tracking server in two versions. Measured:

- ``predict``: ``POST /predict`` requests per second, p50 and p99, with a batch of 1 and of 64
  records, for the generated app (production settings: every middleware, its access log) and,
  side by side, a bare FastAPI app that loads the same model version with ``mlflow.pyfunc`` and
  calls ``predict`` on a thread pool of the same size, both under the same uvicorn settings,
  driven by wrk in alternating rounds (target: generated at least 0.85 x bare).
- ``swap``: the same load on the generated app while the alias moves from version 1 to 2 and
  back, the app looking at the alias every 0.5 s: errors (target 0) and p99 during the swap
  against the steady p99 (target at most 2 x).

The generated app gets a PostgreSQL database (``--postgres``: a libpq URL of a role that may
create databases; default the local ``postgres`` role) and a redis-server of its own.

One command, from the repository root with the tool environment (wrk from Debian)::

    .venv/bin/python bench/model.py            # 3 rounds of 5 s per app and batch size

The MLflow server is ``TEST_MLFLOW_URL`` (default ``http://127.0.0.1:5000``); when nothing answers
there, ``.ci/mlflow.sh start`` installs and starts one. The report records the load average: the
machine is shared, so compare the figures of one run with each other.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service import (
    BIN,
    DEFAULT_POSTGRES,
    PACKAGE,
    ROOT,
    UVICORN_FLAGS,
    Load,
    bench_database,
    http,
    load_average,
    private_redis,
    production_host,
    project_env,
    run,
    serve,
    with_database,
    wrk,
)

OUTPUT = ROOT / "docs" / "benchmarks-model.md"
MLFLOW_URL = os.environ.get("TEST_MLFLOW_URL", "http://127.0.0.1:5000")
MODEL_NAME = f"bench-{os.getpid()}-{int(time.time())}"
CONNECTIONS = 16
BATCHES = (1, 64)
THREADS = 4  # mlflow.worker_threads in config/services/mlflow.yaml; the bare app uses as many

BARE_APP = """
import asyncio, os
from concurrent.futures import ThreadPoolExecutor
import mlflow, mlflow.pyfunc
from fastapi import FastAPI
from pydantic import BaseModel

mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
model = mlflow.pyfunc.load_model(f"models:/{os.environ['MODEL_NAME']}@champion")
executor = ThreadPoolExecutor(max_workers=int(os.environ["THREADS"]))
app = FastAPI()


class Record(BaseModel):
    features: list[float]


class Batch(BaseModel):
    records: list[Record]


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
async def predict(batch: Batch) -> dict[str, object]:
    rows = [record.model_dump() for record in batch.records]
    output = await asyncio.get_running_loop().run_in_executor(executor, model.predict, rows)
    return {"model_version": "1", "predictions": [float(value) for value in output]}
"""

REGISTER = """
import json, sys
import mlflow, mlflow.pyfunc
url, name, code = sys.argv[1:4]
mlflow.set_tracking_uri(url)
versions = []
for config in ({"weights": [1.0, 2.0], "bias": 0.5}, {"weights": [-1.0, 0.5], "bias": 0.0}):
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=code, model_config=config,
                                       registered_model_name=name, pip_requirements=[])
    versions.append(str(info.registered_model_version))
mlflow.MlflowClient(url).set_registered_model_alias(name, "champion", versions[0])
print(json.dumps(versions))
"""

ALIAS = """
import sys
import mlflow
url, name, version = sys.argv[1:4]
mlflow.MlflowClient(url).set_registered_model_alias(name, "champion", version)
"""


def wrk_script(workdir: Path, batch: int) -> Path:
    """A wrk script that posts a batch of ``batch`` records."""
    body = json.dumps({"records": [{"features": [0.5, -0.25]}] * batch})
    path = workdir / f"predict-{batch}.lua"
    path.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = {json.dumps(body)}\n',
        encoding="utf-8",
    )
    return path


def ensure_mlflow() -> None:
    """Start the MLflow servers of .ci/mlflow.sh unless ``MLFLOW_URL`` answers."""
    with contextlib.suppress(OSError):
        if http("GET", MLFLOW_URL + "/health", timeout=2)[0] == 200:
            return
    run(["bash", str(ROOT / ".ci" / "mlflow.sh"), "start"])


def render(workdir: Path) -> Path:
    """Render the defaults with model serving and install the project's environment."""
    project = workdir / "project"
    command = [str(BIN / "copier"), "copy", "--defaults", "--trust", "--quiet", "--data", "model_serving=mlflow"]
    run([*command, str(ROOT), str(project)], env=project_env(project))
    if not (project / ".venv" / "bin" / "python").exists():
        run(["uv", "sync", "--quiet"], cwd=project, env=project_env(project))
    return project


def median_load(loads: list[Load]) -> dict[str, float]:
    return {
        "rps": statistics.median(load.rps for load in loads),
        "p50_ms": statistics.median(load.p50_ms for load in loads),
        "p99_ms": statistics.median(load.p99_ms for load in loads),
        "errors": sum(load.errors for load in loads),
        "requests": sum(load.requests for load in loads),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument(
        "--postgres", default=DEFAULT_POSTGRES, help="libpq URL of a role that may create the app's database"
    )
    args = parser.parse_args(argv)

    ensure_mlflow()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-model-") as scratch, contextlib.ExitStack() as services:
        workdir = Path(scratch)
        project = render(workdir)
        python = str(project / ".venv" / "bin" / "python")
        code = str(project / "tests" / "mlflow_model.py")
        versions = json.loads(run([python, "-c", REGISTER, MLFLOW_URL, MODEL_NAME, code]).strip().splitlines()[-1])
        (workdir / "bare_app.py").write_text(BARE_APP, encoding="utf-8")
        model_env = {"MLFLOW_TRACKING_URI": MLFLOW_URL, "MODEL_NAME": MODEL_NAME, "THREADS": str(THREADS)}
        # The generated app runs as in production, with its database and Redis: without them its
        # background tasks (the user-change listener) would try to reconnect every second.
        database = services.enter_context(bench_database(args.postgres, "_model"))
        redis_port, _ = services.enter_context(private_redis(workdir))
        generated_env = project_env(
            project,
            APP_ENV="production",
            DATABASE_URL=with_database(database, urllib.parse.urlsplit(database).path[1:], "postgresql+asyncpg"),
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            MLFLOW_TRACKING_URI=MLFLOW_URL,
            MLFLOW__MODEL_NAME=MODEL_NAME,
            MLFLOW__WORKER_THREADS=str(THREADS),
        )
        run([str(project / ".venv" / "bin" / "alembic"), "upgrade", "head"], cwd=project, env=generated_env)
        # The swap phase has a server of its own that looks at the alias every half second; the
        # side-by-side rounds run the configured interval (30 s).
        swap_env = {**generated_env, "MLFLOW__RELOAD_INTERVAL_SECONDS": "0.5"}
        bare_env = {**project_env(project), **model_env, "PYTHONPATH": str(workdir)}
        host = production_host(project)
        scripts = {batch: wrk_script(workdir, batch) for batch in BATCHES}
        results: dict[str, dict[int, list[Load]]] = {"bare FastAPI": {b: [] for b in BATCHES}, "generated": {}}
        results["generated"] = {b: [] for b in BATCHES}
        with contextlib.ExitStack() as stack:
            bare = stack.enter_context(
                serve(
                    "bare FastAPI",
                    [python, "-m", "uvicorn", "bare_app:app"],
                    cwd=workdir,
                    env=bare_env,
                    logdir=workdir,
                    host_header=host,
                    flags=UVICORN_FLAGS,
                )
            )
            generated = stack.enter_context(
                serve(
                    "generated",
                    [python, "-m", "uvicorn", "--factory", f"{PACKAGE}.main:create_app"],
                    cwd=project,
                    env=generated_env,
                    logdir=workdir,
                    host_header=host,
                    flags=UVICORN_FLAGS,
                )
            )
            deadline = time.monotonic() + 90
            # Ready once the model is loaded: /predict answers 200.
            body = json.dumps({"records": [{"features": [0.5, -0.25]}]}).encode()
            headers = {"Host": host, "Content-Type": "application/json"}
            while http("POST", generated.url + "/predict", body=body, headers=headers)[0] != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the generated app never loaded the model:\n{generated.output()[-3000:]}")
                time.sleep(0.5)
            servers = {"bare FastAPI": bare, "generated": generated}
            for server in servers.values():  # warm-up, not counted
                wrk(server, "/predict", duration=2, connections=CONNECTIONS, script=scripts[1])
            for number in range(args.rounds):
                order = list(servers) if number % 2 == 0 else list(reversed(servers))
                for batch in BATCHES:
                    for name in order:
                        load = wrk(
                            servers[name],
                            "/predict",
                            duration=args.duration,
                            connections=CONNECTIONS,
                            script=scripts[batch],
                        )
                        results[name][batch].append(load)
                        print(f"  round {number + 1}, batch {batch}: {name}: {load.rps:,.0f} req/s", flush=True)

            stack.close()

            # A version swap under load: steady first, then the alias moves to 2 and back to 1.
            generated = stack.enter_context(
                serve(
                    "generated, swapping",
                    [python, "-m", "uvicorn", "--factory", f"{PACKAGE}.main:create_app"],
                    cwd=project,
                    env=swap_env,
                    logdir=workdir,
                    host_header=host,
                    flags=UVICORN_FLAGS,
                )
            )
            deadline = time.monotonic() + 90
            while http("POST", generated.url + "/predict", body=body, headers=headers)[0] != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the generated app never loaded the model:\n{generated.output()[-3000:]}")
                time.sleep(0.5)
            wrk(generated, "/predict", duration=2, connections=CONNECTIONS, script=scripts[1])
            steady = wrk(generated, "/predict", duration=args.duration, connections=CONNECTIONS, script=scripts[1])

            def move() -> None:
                time.sleep(1)
                run([python, "-c", ALIAS, MLFLOW_URL, MODEL_NAME, versions[1]])
                time.sleep(2.5)
                run([python, "-c", ALIAS, MLFLOW_URL, MODEL_NAME, versions[0]])

            mover = threading.Thread(target=move)
            mover.start()
            swapping = wrk(
                generated, "/predict", duration=max(args.duration, 6), connections=CONNECTIONS, script=scripts[1]
            )
            mover.join()
            served = generated.output().count("serving version")
        load_after = load_average()

    lines = [
        "# Benchmarks: model serving (`model_serving=mlflow`)",
        "",
        "Written by `bench/model.py` (`.venv/bin/python bench/model.py`); do not edit by hand. Targets are",
        "goals; a miss is reported here, never raised.",
        "",
        "## Machine",
        "",
        f"- date (UTC): {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}",
        f"- {platform.machine()}, {os.cpu_count()} cores shared by the load generator, both apps and the MLflow server",
        f"- load average before / after: {load_before} → {load_after} (the machine is shared: compare figures"
        " of this run with each other)",
        f"- Python {platform.python_version()}; the model: `tests/mlflow_model.py` (pure-Python logistic function)"
        f" from a real MLflow tracking server, versions {versions[0]} and {versions[1]}",
        "",
        "## `POST /predict`: generated app vs bare FastAPI",
        "",
        f"{args.rounds} rounds of `wrk -t1 -c{CONNECTIONS} -d{args.duration:g}s` per app and batch size, the apps",
        f"taking turns to go first; both run `uvicorn --workers 1 --loop uvloop --http httptools`, {THREADS} inference",
        "threads. The generated app runs its production settings (host check, request id, security headers,",
        "body limit, JSON access log) with a database and Redis of its own, and looks at the alias every",
        "30 s, as configured; the bare app is one route that validates the batch with pydantic and",
        "calls the same pyfunc model on a thread pool.",
        "",
        "| batch | app | requests/s | p50 | p99 | errors |",
        "|---|---|---|---|---|---|",
    ]
    ratios = []
    for batch in BATCHES:
        figures = {name: median_load(results[name][batch]) for name in results}
        for name, fig in figures.items():
            lines.append(
                f"| {batch} | {name} | **{fig['rps']:,.0f}** | {fig['p50_ms']:.2f} ms | {fig['p99_ms']:.2f} ms |"
                f" {int(fig['errors'])} |"
            )
        ratios.append((batch, figures["generated"]["rps"] / figures["bare FastAPI"]["rps"]))
    lines.append("")
    for batch, ratio in ratios:
        verdict = "met" if ratio >= 0.85 else "missed"
        lines.append(f"- batch {batch}: generated / bare = **{ratio:.2f}** (target ≥ 0.85: {verdict})")
    swap_ratio = swapping.p99_ms / steady.p99_ms
    lines += [
        "",
        "## A version swap under load",
        "",
        "A generated app that looks at the alias every 0.5 s, under the same load (batch 1): first steady,",
        f"then for {max(args.duration, 6):g} s while the alias moves from",
        f"version {versions[0]} to {versions[1]} and back (it loads the new version beside the old one and swaps);",
        f"the server logged {served} loads in this run (the start-up load included).",
        "",
        "| phase | requests/s | p50 | p99 | errors |",
        "|---|---|---|---|---|",
        f"| steady | {steady.rps:,.0f} | {steady.p50_ms:.2f} ms | {steady.p99_ms:.2f} ms | {steady.errors} |",
        f"| during the swaps | {swapping.rps:,.0f} | {swapping.p50_ms:.2f} ms | {swapping.p99_ms:.2f} ms |"
        f" {swapping.errors} |",
        "",
        f"- errors during the swaps: **{swapping.errors}** (target 0: {'met' if swapping.errors == 0 else 'missed'})",
        f"- p99 during / steady: **{swap_ratio:.2f}** (target ≤ 2: {'met' if swap_ratio <= 2 else 'missed'})",
        "",
    ]
    args.output.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
