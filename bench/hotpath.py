"""The generated service's hot path side by side with bare FastAPI and full-stack-fastapi-template.

One run measures, with ``wrk -t1 --latency`` on loopback, every server started by uvicorn with
``--workers 1 --loop uvloop --http httptools --no-access-log`` (the generated app writes its own
access log, batched, into a file), each server loaded alone while the others sit idle, the
order rotating from round to round:

- the generated app (rendered from this working tree with the default answers) with its
  production settings (``APP_ENV=production``: host check, HSTS, JSON access log, rate limits),
  on PostgreSQL and a private ``redis-server`` on a port of its own: an authenticated
  ``GET /items/{id}`` that the worker's memory answers (hits), one that it does not (misses:
  the caches are emptied before each run and wrk walks through 40,000 items), ``/health/live``
  and a 404;
- the same app with two workers, on the cache-hit read;
- bare FastAPI: one route, ``/health/live``, and its 404;
- full-stack-fastapi-template's backend at 0.10.0 (``BENCH_PEERS``, default
  ``../shared/peers``): ``GET /api/v1/items/{id}`` with a bearer token on the same PostgreSQL
  (a database of its own, migrated and seeded as its ``scripts/prestart.sh`` does), its
  health check and a 404. Its default of 40 threads for sync routes and 15 pooled
  connections stops answering at 56 connections or more on one worker, so its thread limit
  is raised to 64 at startup;
- with ``--baseline-ref REF``, the generated app as rendered from that commit as well.

The server CPU per request comes from ``/proc`` (the process and its children). Figures are
medians over the rounds; the load average before and after is recorded, because other work on
the machine moves every figure. The report goes into ``docs/benchmarks-service.md``, between
the ``hotpath`` markers (``bench/service.py`` keeps that section when it rewrites the file)::

    .venv/bin/python bench/hotpath.py --rounds 5
    .venv/bin/python bench/hotpath.py --rounds 3 --baseline-ref main --duration 5
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import textwrap
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import service

ROOT = service.ROOT
PACKAGE = service.PACKAGE
PEERS = Path(os.environ.get("BENCH_PEERS", ROOT.parent / "shared" / "peers"))
FFS_TAG = "0.10.0"
FFS_ITEMS = 50
START_MARK = "<!-- hotpath:start -->"
END_MARK = "<!-- hotpath:end -->"
# The goals this benchmark reports against (never asserted).
HIT_RPS_TARGET = 2000
HIT_P99_TARGET_MS = 50.0
MISS_RPS_TARGET = 1000
ROUTED_TARGET = 0.80
HEALTH_TARGET = 0.85
TWO_WORKERS_TARGET = 1.7

# A route that spends this much CPU per request: the control for the latency tail of a route as
# costly as a cache-hit read, with nothing of the generated app in it.
BUSY_ROUTE_US = 400
BARE_APP = f'''\
"""The baseline: a bare FastAPI app, its probe and a route that only spends CPU."""

import time

from fastapi import FastAPI

app = FastAPI()


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {{"status": "ok"}}


@app.get("/busy")
async def busy() -> dict[str, str]:
    until = time.process_time() + {BUSY_ROUTE_US / 1e6}
    while time.process_time() < until:
        pass
    return {{"status": "ok"}}
'''

# full-stack-fastapi-template's app with anyio's thread limit raised from 40 to 64 at startup.
FFS_APP = '''\
"""full-stack-fastapi-template's backend, its sync routes' thread limit raised to 64."""

from contextlib import asynccontextmanager

import anyio.to_thread

from app.main import app

_lifespan = app.router.lifespan_context


@asynccontextmanager
async def _raised(application):
    anyio.to_thread.current_default_thread_limiter().total_tokens = 64
    async with _lifespan(application) as state:
        yield state


app.router.lifespan_context = _raised
'''

IDS_SCRIPT = """\
local ids = {}
for line in io.lines("%s") do ids[#ids + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, "%s" .. ids[(n - 1) %% #ids + 1])
end
"""

# The app driven in process (no server, no socket to the client): CPU microseconds per cache-hit
# read, then the same reads under cProfile, split by the layers they pass through.
PROFILE_DRIVER = r"""
import asyncio, cProfile, json, os, pstats, sys, time
from {package}.main import create_app

path, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
SCOPE = {{"type": "http", "asgi": {{"version": "3.0"}}, "http_version": "1.1", "method": "GET", "scheme": "http",
         "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
         "headers": [(b"host", sys.argv[4].encode()), (b"authorization", b"Bearer " + token.encode())],
         "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}}

async def request(app):
    status = []
    async def receive():
        return {{"type": "http.request", "body": b"", "more_body": False}}
    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])
    await app(dict(SCOPE, headers=list(SCOPE["headers"]), state={{}}), receive, send)
    return status[0]

async def main():
    app = create_app()
    async with app.router.lifespan_context(app):
        await asyncio.sleep(1.5)  # the change listener connects
        for _ in range(300):
            assert await request(app) == 200
        best = float("inf")
        for _ in range(3):
            start = time.process_time()  # CPU time: waiting on PostgreSQL or Redis is not the app's work
            for _ in range(n):
                await request(app)
            best = min(best, (time.process_time() - start) / n)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(n):
            await request(app)
        profile.disable()
    cumulative = {{}}
    for (filename, _, name), (_, _, _, cum, _) in pstats.Stats(profile).stats.items():
        key = filename.replace(os.sep, "/").split("site-packages/")[-1].split("/src/")[-1] + ":" + name
        cumulative[key] = max(cumulative.get(key, 0.0), cum)
    print(json.dumps({{"us": best * 1e6, "cumulative": cumulative}}))

asyncio.run(main())
"""
# Layers of a cache-hit read, as cumulative profile times: the outer one's minus the inner ones'.
SOLVE = "fastapi/dependencies/utils.py:solve_dependencies"
ENDPOINT = "fastapi/routing.py:run_endpoint_function"
SERIALIZE = "fastapi/routing.py:serialize_response"
LAYERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "FastAPI's and Starlette's outer layers (error middleware, body limit)",
        "driver",
        ("core/middleware.py:__call__",),
    ),
    (
        "the service's middleware: host check, request id, headers, limits, access log",
        "core/middleware.py:__call__",
        ("starlette/middleware/exceptions.py:__call__",),
    ),
    (
        "exception middleware, routing, writing the response (before: closing the request's session)",
        "starlette/middleware/exceptions.py:__call__",
        (SOLVE, ENDPOINT, SERIALIZE),
    ),
    ("dependencies: the token and who it belongs to", "api/deps.py:get_current_user", ()),
    (
        "dependencies: the rest (FastAPI solving them, the item service; before: its session)",
        SOLVE,
        ("api/deps.py:get_current_user",),
    ),
    ("the item: Redis GET (none while the worker's memory is on)", "cache/__init__.py:get", ()),
    (
        "the item: from memory (before: signature check, JSON), decryption, building the answer",
        ENDPOINT,
        ("cache/__init__.py:get",),
    ),
    ("the response model: validation and serialization", SERIALIZE, ()),
)


def tree_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` and its live children (uvicorn's workers)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class TreeServer(service.Server):
    """A server whose CPU time counts its worker processes too."""

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid)


@dataclass
class Target:
    """One measured row: a server, a path or a Lua script, and a bearer token."""

    name: str
    server: str
    path: str = "/"
    script: Path | None = None
    token: str = ""
    before: str | None = None  # what runs before each wrk run ("flush": empty the private Redis)
    series: service.Series = field(init=False)

    def __post_init__(self) -> None:
        self.series = service.Series(self.name)


@contextlib.contextmanager
def started(
    name: str,
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    logdir: Path,
    host: str | None,
    probe: str,
    workers: int = 1,
) -> Iterator[service.Server]:
    flags = (*service.UVICORN_FLAGS[:1], str(workers), *service.UVICORN_FLAGS[2:])  # "--workers", "1", ...
    with service.serve(name, argv, cwd=cwd, env=env, logdir=logdir, host_header=host, flags=flags, probe=probe) as s:
        yield TreeServer(s.name, s.url, s.process, s.log, s.host_header)


def ids_script(workdir: Path, name: str, prefix: str, ids: list[str]) -> Path:
    ids_file = workdir / f"{name}-ids.txt"
    ids_file.write_text("\n".join(ids) + "\n", encoding="utf-8")
    script = workdir / f"{name}.lua"
    script.write_text(IDS_SCRIPT % (ids_file, prefix), encoding="utf-8")
    return script


def seed_generated(server: service.Server, database: str, host: str) -> tuple[str, list[str], list[str]]:
    """Register, log in and create items; return the token, the ids the hits read and those the misses read."""
    headers = {"Host": host, "Content-Type": "application/json"}
    body = json.dumps({"email": "bench@example.com", "password": service.PASSWORD, "full_name": "Bench"}).encode()
    status, answer = service.http("POST", server.url + "/auth/register", body=body, headers=headers)
    if status != 201:
        raise RuntimeError(f"register answered {status}: {answer!r}")
    form = urllib.parse.urlencode({"username": "bench@example.com", "password": service.PASSWORD}).encode()
    status, answer = service.http("POST", server.url + "/auth/token", body=form, headers={"Host": host})
    if status != 200:
        raise RuntimeError(f"login answered {status}: {answer!r}")
    token = json.loads(answer)["access_token"]
    authorized = {**headers, "Authorization": f"Bearer {token}"}
    hits = []
    for n in range(service.HIT_SET):
        item = {"title": f"benchmark item {n}", "description": "read again and again " * 10, "secret_note": "secret"}
        status, answer = service.http("POST", server.url + "/items", body=json.dumps(item).encode(), headers=authorized)
        if status != 201:
            raise RuntimeError(f"POST /items answered {status}: {answer!r}")
        hits.append(json.loads(answer)["id"])
    # The rows the misses walk through: copies made with SQL. A secret note is bound to its row's
    # id when encrypted, so these carry none.
    service.psql(
        database,
        "INSERT INTO items (id, owner_id, title, description, created_at, updated_at) "
        "SELECT gen_random_uuid(), owner_id, title || ' ' || n, description, now(), now() "
        f"FROM items, generate_series(1, {service.ITEMS}) AS n WHERE id = '{hits[0]}'",
    )
    service.psql(database, "ANALYZE items")
    others = service.psql(database, "SELECT id FROM items WHERE secret_note_encrypted IS NULL ORDER BY id")
    return token, hits, others.splitlines()


def prepare_ffs(workdir: Path, database: str) -> tuple[Path, dict[str, str]]:
    """Clone the peer at its release, install its backend, migrate and seed a database of its own."""
    checkout = workdir / "full-stack-fastapi-template"
    service.run(["git", "clone", "--quiet", str(PEERS / "full-stack-fastapi-template.bundle"), str(checkout)])
    service.run(["git", "-C", str(checkout), "checkout", "--quiet", FFS_TAG])
    uv = shutil.which("uv") or str(service.BIN / "uv")
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    service.run([uv, "sync", "--frozen", "--no-dev", "--quiet", "--python", sys.executable], cwd=checkout, env=env)
    parts = urllib.parse.urlsplit(database)
    env.update(
        ENVIRONMENT="production",
        PROJECT_NAME="ffs",
        SECRET_KEY=os.urandom(24).hex(),
        FIRST_SUPERUSER="admin@example.com",
        FIRST_SUPERUSER_PASSWORD="Bench-Password-42",
        POSTGRES_SERVER=parts.hostname or "127.0.0.1",
        POSTGRES_PORT=str(parts.port or 5432),
        POSTGRES_USER=urllib.parse.unquote(parts.username or "postgres"),
        POSTGRES_PASSWORD=urllib.parse.unquote(parts.password or ""),
        POSTGRES_DB=parts.path.lstrip("/"),
        BACKEND_CORS_ORIGINS="",
        PATH=os.pathsep.join([str(checkout / ".venv" / "bin"), env.get("PATH", "")]),
    )
    backend = checkout / "backend"
    # What its scripts/prestart.sh runs: migrations, then the first superuser.
    service.run([str(checkout / ".venv" / "bin" / "alembic"), "upgrade", "head"], cwd=backend, env=env)
    service.run([str(checkout / ".venv" / "bin" / "python"), "app/initial_data.py"], cwd=backend, env=env)
    (backend / "ffs_bench_app.py").write_text(FFS_APP, encoding="utf-8")
    return backend, env


def profile(
    python: str, project: Path, env: dict[str, str], path: str, token: str, host: str, src: Path | None
) -> dict[str, object]:
    """Drive the app (``src``: another rendering's code) in process; its µs per request and profile."""
    code = PROFILE_DRIVER.format(package=PACKAGE)
    environ = {**env, **({"PYTHONPATH": str(src)} if src else {})}
    out = service.run([python, "-c", code, path, token, "2000", host], cwd=project, env=environ)
    return json.loads(out.strip().splitlines()[-1])


def breakdown(result: dict[str, object]) -> list[tuple[str, float]]:
    """Microseconds per request of each of :data:`LAYERS`, scaled from profile shares to the real total."""
    cumulative: dict[str, float] = result["cumulative"]  # type: ignore[assignment]

    def cum(suffix: str | None) -> float:
        if suffix is None:
            return 0.0
        if suffix == "driver":
            return max(v for k, v in cumulative.items() if k.endswith(":request"))
        return max((v for k, v in cumulative.items() if k.endswith(suffix)), default=0.0)

    total = cum("driver")
    scale = float(result["us"]) / total  # type: ignore[arg-type]
    return [(label, max(0.0, cum(outer) - sum(map(cum, inner))) * scale) for label, outer, inner in LAYERS]


def database_settings(rendering: Path) -> dict[str, str]:
    """The pool and timeouts a rendering's ``config/services/database.yaml`` sets, as environment variables.

    The baseline runs from the measured project's directory, so on its config files: these
    give it its own pool (the connection, host to user, stays the benchmark's).
    """
    config = rendering / "config" / "services" / "database.yaml"
    if not config.exists():
        return {}
    section = yaml.safe_load(config.read_text(encoding="utf-8")).get("database", {})
    return {
        f"DATABASE__{key.upper()}": str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in section.items()
        if key not in {"host", "port", "name", "user"}
    }


def seed_ffs(server: service.Server) -> tuple[str, list[str]]:
    form = urllib.parse.urlencode({"username": "admin@example.com", "password": "Bench-Password-42"}).encode()
    status, answer = service.http("POST", server.url + "/api/v1/login/access-token", body=form)
    if status != 200:
        raise RuntimeError(f"full-stack-fastapi-template login answered {status}: {answer!r}")
    token = json.loads(answer)["access_token"]
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    ids = []
    for n in range(FFS_ITEMS):
        item = {"title": f"benchmark item {n}", "description": "read again and again " * 10}
        status, answer = service.http(
            "POST", server.url + "/api/v1/items/", body=json.dumps(item).encode(), headers=headers
        )
        if status != 200:
            raise RuntimeError(f"full-stack-fastapi-template POST /items answered {status}: {answer!r}")
        ids.append(json.loads(answer)["id"])
    return token, ids


def measure(args: argparse.Namespace, workdir: Path) -> tuple[list[Target], dict[str, str]]:
    project = args.project or service.render_project(workdir / "project")
    service.prepare_project(project)
    python = str(project / ".venv" / "bin" / "python")
    factory = [python, "-m", "uvicorn", "--factory", f"{PACKAGE}.main:create_app"]
    host = service.production_host(project)
    (workdir / "bare_app.py").write_text(BARE_APP, encoding="utf-8")
    info = {"load_before": service.load_average()}
    targets: list[Target] = []
    with contextlib.ExitStack() as stack:
        database = stack.enter_context(service.bench_database(args.postgres))
        ffs_database = stack.enter_context(service.bench_database(args.postgres, "_ffs"))
        redis_port, redis = stack.enter_context(service.private_redis(workdir))
        env = service.project_env(
            project,
            APP_ENV="production",
            DATABASE_URL=service.with_database(
                database, urllib.parse.urlsplit(database).path[1:], "postgresql+asyncpg"
            ),
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            CACHE__KEY_PREFIX="bench:",
            CACHE__DEFAULT_TTL="3600",  # entries outlive the run: a miss is made by emptying the cache
        )
        service.run([str(project / ".venv" / "bin" / "alembic"), "upgrade", "head"], cwd=project, env=env)

        def start(
            name: str,
            argv: list[str],
            cwd: Path,
            environ: dict[str, str],
            *,
            workers: int = 1,
            with_host: bool = True,
            probe: str = "/health/live",
        ) -> service.Server:
            return stack.enter_context(
                started(
                    name,
                    argv,
                    cwd=cwd,
                    env=environ,
                    logdir=workdir,
                    host=host if with_host else None,
                    probe=probe,
                    workers=workers,
                )
            )

        generated = start("generated", factory, project, env)
        baseline = service.render_project(workdir / "baseline", args.baseline_ref) if args.baseline_ref else None
        token, hit_ids, miss_ids = seed_generated(generated, database, host)
        hits = ids_script(workdir, "hits", "/items/", hit_ids)
        misses = ids_script(workdir, "misses", "/items/", miss_ids)
        two = start("generated, 2 workers", factory, project, env, workers=2)
        bare = start(
            "bare FastAPI",
            [python, "-m", "uvicorn", "bare_app:app"],
            workdir,
            service.project_env(project),
            with_host=False,
        )
        backend, ffs_env = prepare_ffs(workdir, ffs_database)
        ffs_python = str(backend.parent / ".venv" / "bin" / "python")
        ffs = start(
            "full-stack-fastapi-template",
            [ffs_python, "-m", "uvicorn", "ffs_bench_app:app"],
            backend,
            ffs_env,
            with_host=False,
            probe="/api/v1/utils/health-check/",
        )
        ffs_token, ffs_ids = seed_ffs(ffs)
        ffs_reads = ids_script(workdir, "ffs", "/api/v1/items/", ffs_ids)
        targets += [
            Target("generated: cache-hit read", "generated", script=hits, token=token),
            Target("generated: cache-miss read", "generated", script=misses, token=token, before="flush"),
            Target("generated, 2 workers: cache-hit read", "two", script=hits, token=token),
            Target("full-stack-fastapi-template: read", "ffs", script=ffs_reads, token=ffs_token),
            Target("generated: /health/live", "generated", "/health/live"),
            Target("bare FastAPI: /health/live", "bare", "/health/live"),
            Target("full-stack-fastapi-template: health check", "ffs", "/api/v1/utils/health-check/"),
            Target("generated: 404", "generated", "/nothing/here"),
            Target("bare FastAPI: 404", "bare", "/nothing/here"),
            Target(f"bare FastAPI: a route spending {BUSY_ROUTE_US} µs of CPU", "bare", "/busy"),
            Target("full-stack-fastapi-template: 404", "ffs", "/nothing/here"),
        ]
        servers = {"generated": generated, "two": two, "bare": bare, "ffs": ffs}
        if args.baseline_ref:
            old = {**env, **database_settings(baseline), "PYTHONPATH": str(baseline / "src")}
            servers["baseline"] = start(f"generated @ {args.baseline_ref}", factory, project, old)
            targets += [
                Target(f"generated @ {args.baseline_ref}: cache-hit read", "baseline", script=hits, token=token),
                Target(
                    f"generated @ {args.baseline_ref}: cache-miss read",
                    "baseline",
                    script=misses,
                    token=token,
                    before="flush",
                ),
                Target(f"generated @ {args.baseline_ref}: 404", "baseline", "/nothing/here"),
            ]

        def load(target: Target, duration: float) -> service.Load:
            if target.before == "flush":
                service.empty_caches(redis, database)
            elif target.script is hits:
                service.empty_caches(redis, database)
                warm(servers[target.server], target.token)
            return service.wrk(
                servers[target.server],
                target.path,
                duration=duration,
                connections=args.connections,
                token=target.token,
                script=target.script,
            )

        def warm(server: service.Server, bearer: str) -> None:
            for item_id in hit_ids:
                status, _ = service.http(
                    "GET", f"{server.url}/items/{item_id}", headers={"Host": host, "Authorization": f"Bearer {bearer}"}
                )
                if status != 200:
                    raise RuntimeError(f"GET /items/{item_id} answered {status}")

        warm(generated, token)
        # Each profile twice, alternating, and the quicker of each kept: a moment when the machine
        # is slower then moves neither against the other.
        sources = {"after": None, **({"before": baseline / "src"} if baseline is not None else {})}
        profiles: dict[str, dict[str, object]] = {}
        for _ in range(2):
            for label, src in sources.items():
                result = profile(python, project, env, f"/items/{hit_ids[0]}", token, host, src)
                if label not in profiles or float(result["us"]) < float(profiles[label]["us"]):  # type: ignore[arg-type]
                    profiles[label] = result
        info["profile"] = json.dumps(profiles)
        for target in targets:  # warm-up, not counted
            load(target, 2)
        for number in range(args.rounds):
            shift = number % len(targets)
            for target in [*targets[shift:], *targets[:shift]]:
                result = load(target, args.duration)
                target.series.loads.append(result)
                print(
                    f"  round {number + 1}: {target.name}: {result.rps:,.0f} req/s, p99 {result.p99_ms:.1f} ms, "
                    f"{result.cpu_us:.0f} µs CPU, {result.errors} errors",
                    flush=True,
                )
    info["load_after"] = service.load_average()
    info["versions"] = service._versions(project)
    return targets, info


def render(targets: list[Target], info: dict[str, str], args: argparse.Namespace) -> str:
    by = {t.name: t.series for t in targets}

    def rps(name: str) -> float:
        return by[name].median("rps")

    def verdict(met: bool) -> str:
        return "met" if met else "**missed**"

    hit, miss = by["generated: cache-hit read"], by["generated: cache-miss read"]
    two = by["generated, 2 workers: cache-hit read"]
    routed = rps("generated: 404") / rps("bare FastAPI: 404")
    health = rps("generated: /health/live") / rps("bare FastAPI: /health/live")
    scaling = two.median("rps") / hit.median("rps")
    of_bare = hit.median("rps") / rps("bare FastAPI: /health/live")
    lines = [
        START_MARK,
        "## The hot path, side by side (`bench/hotpath.py`)",
        "",
        f"- date (UTC): {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} cores shared by the",
        "  load generator, the servers, PostgreSQL and Redis; " + info["versions"],
        f"- load average before / after: {info['load_before']} → {info['load_after']} (other work on the machine",
        "  moves every figure; CPU per request moves least)",
        f"- {args.rounds} rounds of `wrk -t1 -c{args.connections} -d{args.duration:g}s --latency` per row, the order",
        "  rotating; medians. Every server: `uvicorn --workers 1 --loop uvloop --http httptools",
        "  --no-access-log` (the generated app with two workers where the row says so), each loaded",
        "  alone while the others idle. The generated app runs with `APP_ENV=production` (host",
        "  check, security headers and HSTS, request ids, body limits, its JSON access log batched into",
        "  a file), PostgreSQL and a private Redis. Reads: `GET /items/{id}` with a bearer token;",
        f"  hits cycle through {service.HIT_SET} items (each with an encrypted note), read once each before the",
        "  run, so the worker's memory holds them (PostgreSQL, for what expires from it); misses walk",
        f"  through {service.ITEMS:,} items (without one) with both emptied before each run (Redis `FLUSHDB`,",
        "  and the notification a `TRUNCATE` of `items` would send, which every worker listens for).",
        "  full-stack-fastapi-template 0.10.0's backend reads",
        f"  `GET /api/v1/items/{{id}}` ({FFS_ITEMS} items, bearer token) from a database of its own on the same",
        "  server, with its thread limit raised from 40 to 64 (at 56 connections or more it otherwise",
        "  stops answering on one worker).",
        "- The generated app answers `/health/live` in its outermost middleware, after the host check and",
        "  with its headers and access line, but before routing; bare FastAPI's probe and",
        "  full-stack-fastapi-template's health check are routes.",
        *(
            [
                f"- `{args.baseline_ref}`'s rows: the app as rendered from that commit, on the same servers, with",
                "  its own pool settings (its `config/services/database.yaml`).",
            ]
            if args.baseline_ref
            else []
        ),
        "",
        "| row | requests/s | p50 | p99 | server CPU per request | errors |",
        "|---|---|---|---|---|---|",
    ]
    for target in targets:
        s = target.series
        lines.append(
            f"| {s.name} | **{s.median('rps'):,.0f}** | {s.median('p50_ms'):.2f} ms | "
            f"{s.median('p99_ms'):.2f} ms | {s.median('cpu_us'):.0f} µs | {s.errors} |"
        )
    lines += [
        "",
        "The errors column counts socket errors and answers other than 2xx/3xx: every answer of a 404",
        "row is one, and nothing else is.",
        "",
        "| goal | figure | |",
        "|---|---|---|",
        f"| cache-hit read ≥ {HIT_RPS_TARGET:,} req/s per worker, p99 ≤ {HIT_P99_TARGET_MS:.0f} ms | "
        f"{hit.median('rps'):,.0f} req/s, p99 {hit.median('p99_ms'):.1f} ms | "
        f"{verdict(hit.median('rps') >= HIT_RPS_TARGET and hit.median('p99_ms') <= HIT_P99_TARGET_MS)} |",
        f"| cache-miss read ≥ {MISS_RPS_TARGET:,} req/s | {miss.median('rps'):,.0f} req/s | "
        f"{verdict(miss.median('rps') >= MISS_RPS_TARGET)} |",
        f"| routed 404 ≥ {ROUTED_TARGET:.2f} of bare FastAPI's | {routed:.2f} | {verdict(routed >= ROUTED_TARGET)} |",
        f"| health probe ≥ {HEALTH_TARGET:.2f} of bare FastAPI's | {health:.2f} | {verdict(health >= HEALTH_TARGET)} |",
        f"| cache-hit read ≥ 0.20 of bare FastAPI's `/health/live` | {of_bare:.2f} | {verdict(of_bare >= 0.20)} |",
        f"| two workers ≥ {TWO_WORKERS_TARGET}x one, cache-hit read | {scaling:.2f}x | "
        f"{verdict(scaling >= TWO_WORKERS_TARGET)} |",
    ]
    for mine, theirs in (
        ("generated: cache-hit read", "full-stack-fastapi-template: read"),
        ("generated: cache-miss read", "full-stack-fastapi-template: read"),
        ("generated: /health/live", "full-stack-fastapi-template: health check"),
        ("generated: 404", "full-stack-fastapi-template: 404"),
    ):
        ratio = rps(mine) / rps(theirs)
        lines.append(
            f"| ahead of full-stack-fastapi-template: {mine.split(': ')[1]} | {ratio:.2f}x | {verdict(ratio > 1)} |"
        )
    busy = next(t.series for t in targets if t.path == "/busy")
    lines += [
        "",
        f"The latency tail, against a control: bare FastAPI's route that only spends {BUSY_ROUTE_US} µs of CPU per",
        f"request, served the same way, answered {busy.median('rps'):,.0f} req/s with a p99 of "
        f"{busy.median('p99_ms'):.0f} ms (p50 {busy.median('p50_ms'):.0f} ms); the",
        f"cache-hit read, {hit.median('rps'):,.0f} req/s with a p99 of {hit.median('p99_ms'):.0f} ms. "
        + (
            "One worker kept busy on two cores shared with wrk, PostgreSQL and Redis has such a tail "
            "whatever the app does: a route this costly in a bare app shows it too."
            if busy.median("p99_ms") >= hit.median("p99_ms") / 2
            else "The bare route's tail is the shorter: the difference is the generated app's."
        ),
    ]
    profiles = json.loads(info["profile"])
    after = breakdown(profiles["after"])
    before = breakdown(profiles["before"]) if "before" in profiles else None
    lines += [
        "",
        "Where a cache-hit read's CPU time goes, in process (the app called directly, without",
        "uvicorn or a socket to the client): CPU µs per request measured without a profiler, split",
        "by the shares cProfile gives each layer (differences of cumulative times)"
        + (f", before (`{args.baseline_ref}`) and after:" if before else ":"),
        "",
        "| layer | " + (f"`{args.baseline_ref}` µs | " if before else "") + "µs |",
        "|---|" + ("---|" if before else "") + "---|",
    ]
    for index, (label, micros) in enumerate(after):
        old = f"{before[index][1]:.0f} | " if before else ""
        lines.append(f"| {label} | {old}{micros:.0f} |")
    total_before = f"{float(profiles['before']['us']):.0f} | " if before else ""
    lines.append(f"| **total** | {total_before}{float(profiles['after']['us']):.0f} |")
    lines += [
        "",
        "A hit is answered from the worker's memory of items, kept true by PostgreSQL's notifications",
        "(`services/notified.py`): no Redis, no database, no session. What it still costs: FastAPI",
        "solving the dependencies and routing, the middleware, decrypting the note and building the",
        "answer. A miss adds the item's `SELECT`: one round trip, sent by asyncpg directly on a pooled",
        "connection (`RowReads` in `db.py`), without `BEGIN` and `ROLLBACK`; Redis is not asked, as",
        "a primary-key read costs PostgreSQL the same one round trip.",
        "",
        "With two workers on two cores, the load generator, PostgreSQL and Redis share those same",
        "two cores, so the two-worker figure is a floor of what two dedicated cores give.",
        "",
        "Per-round requests/s:",
        "",
        "| round | " + " | ".join(t.name for t in targets) + " |",
        "|---|" + "---|" * len(targets),
    ]
    for number in range(args.rounds):
        lines.append(f"| {number + 1} | " + " | ".join(f"{t.series.loads[number].rps:,.0f}" for t in targets) + " |")
    lines += [
        "",
        "Reproduce: `.venv/bin/python bench/hotpath.py --rounds 5` (add `--baseline-ref REF` to",
        "measure the app as rendered from an older commit in the same run).",
        END_MARK,
    ]
    return "\n".join(lines) + "\n"


def write_section(output: Path, section: str) -> None:
    """Put ``section`` between the markers of ``output`` (appended when it has none)."""
    text = output.read_text(encoding="utf-8") if output.exists() else ""
    if START_MARK in text and END_MARK in text:
        head, rest = text.split(START_MARK, 1)
        text = head + section.rstrip("\n") + rest.split(END_MARK, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    output.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per row (default 5)")
    parser.add_argument("--duration", type=float, default=5, help="seconds of each wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--project", type=Path, help="an already generated project (default: render one)")
    parser.add_argument("--baseline-ref", help="also measure the app as rendered from this commit")
    parser.add_argument(
        "--postgres", default=service.DEFAULT_POSTGRES, help="libpq URL of a role that may create databases"
    )
    parser.add_argument("--output", type=Path, default=service.DEFAULT_OUTPUT, help="Markdown report to update")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    missing = [tool for tool in ("wrk", "redis-server", "psql", "git") if shutil.which(tool) is None]
    if missing:
        parser.error(f"missing tools: {', '.join(missing)} (wrk: apt-get install wrk)")
    if not (PEERS / "full-stack-fastapi-template.bundle").exists():
        parser.error(f"no full-stack-fastapi-template.bundle in {PEERS} (set BENCH_PEERS)")
    with tempfile.TemporaryDirectory(prefix="prodready-hotpath-") as scratch:
        targets, info = measure(args, Path(scratch))
    section = render(targets, info, args)
    write_section(args.output, section)
    print(textwrap.indent(section, "  "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
