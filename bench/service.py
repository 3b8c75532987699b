"""Benchmarks of the generated service, written to docs/benchmarks-service.md.

Three measurements of a project rendered from this working tree with the default answers:

- ``overhead``: ``/health/live`` requests per second of the generated app (production settings,
  every middleware, the JSON access log on) next to a bare FastAPI app with one route, both
  under the same uvicorn settings, driven by wrk from a separate process on loopback, in
  alternating rounds. ``--baseline-ref REF`` adds the app as rendered from an older commit
  (a commit id: copier renders ``HEAD`` with the working tree's uncommitted changes).
- ``items``: ``GET /items/{id}`` with a JWT, PostgreSQL behind it and Redis in front, first
  with every read a cache hit, then with every read a miss; the hit ratio is counted by a Redis
  server of the benchmark's own (``INFO stats``), and each step of the path is timed alone.
- ``suite``: the generated test suite: how many tests, warm wall time, coverage, time per
  tier and the slowest tests.

Run it from the repository root with the tool environment. It needs wrk (Debian package), uv,
a PostgreSQL server (``--postgres``: a libpq URL of a role that may create databases) and the
``redis-server`` binary (a private server, so its statistics count nobody else's commands)::

    .venv/bin/python bench/service.py                          # everything, 5 rounds
    .venv/bin/python bench/service.py --only overhead --rounds 7 --baseline-ref 33b73b0

Figures are medians over rounds. Targets are goals that the report marks met or missed, never
assertions. Other work on the machine moves every figure, so the report records the load
average: compare the figures of one run with each other, not with another machine's.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks-service.md"
DEFAULT_POSTGRES = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
PACKAGE = "my_service"  # what the default answers name the package
BENCHMARKS = ("overhead", "items", "suite")
# Every server of a comparison runs with exactly these settings: one worker, the same event loop
# and HTTP parser, uvicorn's own access log off (the generated app writes its own).
UVICORN_FLAGS = (
    *("--workers", "1", "--loop", "uvloop", "--http", "httptools", "--no-access-log"),
    *("--log-level", "warning", "--host", "127.0.0.1"),
)
OVERHEAD_TARGET = 0.85
SUITE_TESTS_TARGET = 120
SUITE_SECONDS_TARGET = 15.0
SUITE_COVERAGE_TARGET = 95.0
STARTUP_TIMEOUT = 90  # seconds: a loaded machine imports slowly
# Items of the read-path benchmark: the hit phase reads a few hundred again and again; the miss
# phase walks through all of them once per round, so no id repeats within a round.
HIT_SET = 500
ITEMS = 40_000
PASSWORD = "Bench-Password-42"

BARE_APP = '''\
"""The baseline: a bare FastAPI app with one route and nothing else."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}
'''

# The baseline answering with the generated app's response headers (the security set, HSTS
# and a request id), added by the smallest ASGI wrapper: what those headers alone cost.
BARE_HEADERS_APP = '''\
"""Bare FastAPI answering with the generated app's response headers (benchmark only)."""

import os

from bare_app import app as bare
from {package}.core.middleware import HSTS, SECURITY_HEADERS

HEADERS = (*SECURITY_HEADERS, HSTS)


async def app(scope, receive, send):
    if scope["type"] != "http":
        await bare(scope, receive, send)
        return

    async def send_with_headers(message):
        if message["type"] == "http.response.start":
            request_id = (b"x-request-id", os.urandom(16).hex().encode())
            message["headers"] = [*message.get("headers", ()), *HEADERS, request_id]
        await send(message)

    await bare(scope, receive, send_with_headers)
'''

# The generated app with one part taken away at a time, to show what each part costs.
BREAKDOWN_APP = '''\
"""The generated app without its middleware, or without its access log (benchmark only)."""

import logging

from fastapi import FastAPI

from {package}.main import create_app


def without_middleware() -> FastAPI:
    app = create_app()
    app.user_middleware = [m for m in app.user_middleware if m.cls.__name__ != "RequestContextMiddleware"]
    return app


def without_access_log() -> FastAPI:
    app = create_app()
    logging.getLogger("access").setLevel(logging.WARNING)
    return app
'''
BARE_LOGGED = "bare FastAPI + uvicorn access log"
BARE_HEADERS = "bare FastAPI + the generated app's response headers"
NO_MIDDLEWARE = "generated without its middleware"
NO_ACCESS_LOG = "generated without its access log"

# wrk script: each request reads the next id of a file, so a run walks through the ids in order.
IDS_SCRIPT = """\
local ids = {}
for line in io.lines("%s") do ids[#ids + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, "/items/" .. ids[(n - 1) %% #ids + 1])
end
"""

# Each step of the read path timed alone, in the project's environment, against the same servers.
BREAKDOWN = r"""
import asyncio, json, os, sys, time, uuid
from {package}.cache import create_cache
from {package}.core.crypto import FieldCipher
from {package}.core.policies import get_policies
from {package}.core.security import decode_access_token, unsign
from {package}.core.settings import get_settings
from {package}.db import Database
from {package}.models.schemas import ItemRead
from {package}.models.tables import Item, User
from {package}.services.items import ItemService, _item_from_json

token, user_id, item_id = sys.argv[1:4]

def per_op(function, n):
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            function()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6

async def per_op_async(function, n):
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            await function()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6

async def main():
    settings = get_settings()
    policy = get_policies().access
    database = Database(settings)
    cache = create_cache(settings)
    cipher = FieldCipher(settings.db_encryption_key.get_secret_value())
    uid, iid = uuid.UUID(user_id), uuid.UUID(item_id)
    out = {{}}
    out["JWT verification (HS256)"] = per_op(lambda: decode_access_token(token, settings, policy), 2000)

    async def load_user():
        async with database.sessions() as session:
            await session.get(User, uid)
    out["user row: PostgreSQL round trip + ORM"] = await per_op_async(load_user, 300)

    async def load_item():
        async with database.sessions() as session:
            await session.get(Item, iid)
    out["item row: PostgreSQL round trip + ORM"] = await per_op_async(load_item, 300)

    async with database.sessions() as session:
        service = ItemService(session=session, cache=cache, cipher=cipher, settings=settings)
        await service.get(iid, await session.get(User, uid))  # leaves the item in the cache
    key = f"item:{{iid}}"
    out["Redis GET (hit)"] = await per_op_async(lambda: cache.get(key), 1000)
    cached = (await cache.get(key)).decode()
    out["Redis SET (after a miss)"] = await per_op_async(lambda: cache.set("bench:probe", cached.encode(), 60), 1000)
    out["cache entry: HMAC check + JSON parse"] = per_op(lambda: _item_from_json(unsign(cached, settings)), 3000)
    item = _item_from_json(unsign(cached, settings))
    out["secret note: AES-GCM decryption"] = per_op(lambda: cipher.decrypt(item.secret_note_encrypted), 3000)
    read = service._to_read(item)
    out["response: pydantic serialization"] = per_op(lambda: read.model_dump_json(), 3000)
    await cache.close()
    await database.dispose()
    print(json.dumps(out))

asyncio.run(main())
"""


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------


def run(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run ``command``; return its standard output; raise with the output when it fails."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(command)}` exited {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def project_env(project: Path, **extra: str) -> dict[str, str]:
    """Environment for the generated project's processes: its venv first, no outside settings."""
    settings_prefixes = ("APP_", "SERVER__", "DATABASE", "CACHE__", "REDIS", "RATE_LIMIT__", "TEST_")
    env = {
        key: value
        for key, value in os.environ.items()
        # PYTHONDONTWRITEBYTECODE goes too, as the project's Makefile drops it: "warm" includes
        # Python's bytecode cache.
        if key not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}
        and not key.startswith(settings_prefixes)
    }
    env["PATH"] = os.pathsep.join([str(project / ".venv" / "bin"), str(BIN), env.get("PATH", "")])
    env.update(extra)
    return env


def http(
    method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, bytes]:
    """Send one request with the standard library; return the status and body."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass
class Server:
    """A uvicorn process started by the benchmark."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    host_header: str | None

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server process has used so far."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def serve(
    name: str,
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    logdir: Path,
    host_header: str | None = None,
    flags: tuple[str, ...] = UVICORN_FLAGS,
    probe: str = "/health/live",
) -> Iterator[Server]:
    """Start uvicorn (``argv``, then ``flags``), wait until ``probe`` answers 200, stop it afterwards."""
    port = free_port()
    log = logdir / f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*argv, *flags, "--port", str(port)], cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    server = Server(name, f"http://127.0.0.1:{port}", process, log, host_header)
    try:
        headers = {"Host": host_header} if host_header else {}
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{server.output()[-4000:]}")
            with contextlib.suppress(OSError):
                if http("GET", server.url + probe, headers=headers, timeout=2)[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer within {STARTUP_TIMEOUT} s:\n{server.output()[-4000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------------------
# Load generation (wrk)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """One wrk run against one server."""

    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors plus answers other than 2xx/3xx
    cpu_us: float  # the server's CPU time per request, in microseconds


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _to_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def wrk(
    server: Server, path: str, *, duration: float, connections: int, token: str = "", script: Path | None = None
) -> Load:
    """Drive ``server`` with wrk: one thread, ``connections`` keep-alive connections, ``duration`` s."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "--timeout", "5s"]
    if server.host_header:
        command += ["-H", f"Host: {server.host_header}"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    if script is not None:
        command += ["-s", str(script)]
    cpu_before = server.cpu_seconds()
    out = run([*command, server.url + path])
    cpu = server.cpu_seconds() - cpu_before
    done = re.search(r"(\d+) requests in ([\d.]+(?:us|ms|s|m))", out)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    if done is None or set(latency) != {"50", "99"}:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    requests = int(done.group(1))
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Load(
        requests=requests,
        rps=requests / (_to_ms(done.group(2)) / 1000),
        p50_ms=_to_ms(latency["50"]),
        p99_ms=_to_ms(latency["99"]),
        errors=socket_errors + (int(non_2xx.group(1)) if non_2xx else 0),
        cpu_us=cpu / max(requests, 1) * 1e6,
    )


@dataclass
class Series:
    """The rounds of one target, summarized by medians."""

    name: str
    loads: list[Load] = field(default_factory=list)
    hit_ratios: list[float] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(load, attribute) for load in self.loads)

    @property
    def errors(self) -> int:
        return sum(load.errors for load in self.loads)

    @property
    def requests(self) -> int:
        return sum(load.requests for load in self.loads)


# ---------------------------------------------------------------------------
# The project under test
# ---------------------------------------------------------------------------


def render_project(dst: Path, ref: str | None = None) -> Path:
    """Render the template (this working tree, or commit ``ref``) with the default answers."""
    command = [str(BIN / "copier"), "copy", "--defaults", "--trust", "--quiet"]
    if ref is not None:
        # An older commit only lends its code to compare with: no hook, no keys, no lock.
        command += [f"--vcs-ref={ref}", "--skip-tasks"]
    run([*command, str(ROOT), str(dst)], env=project_env(dst))
    return dst


def prepare_project(project: Path) -> None:
    """Install the project's environment unless it has one."""
    if not (project / ".venv" / "bin" / "python").exists():
        run(["uv", "sync", "--quiet"], cwd=project, env=project_env(project))


def production_host(project: Path) -> str:
    """A host name production accepts (its host check answers 400 to any other)."""
    config = yaml.safe_load((project / "config" / "environments" / "production.yaml").read_text(encoding="utf-8"))
    first: str = config["app"]["allowed_hosts"][0]
    return "www" + first[1:] if first.startswith("*.") else first


# ---------------------------------------------------------------------------
# Middleware overhead
# ---------------------------------------------------------------------------


@dataclass
class Overhead:
    series: list[Series]
    connections: int
    duration: float
    access_lines: int
    load_before: str
    load_after: str


def measure_overhead(
    project: Path, workdir: Path, *, rounds: int, duration: float, connections: int, baseline_ref: str | None
) -> Overhead:
    """Rounds of wrk against the bare app and the generated app, alternating which goes first."""
    load_before = load_average()
    (workdir / "bare_app.py").write_text(BARE_APP, encoding="utf-8")
    (workdir / "bare_headers_app.py").write_text(BARE_HEADERS_APP.format(package=PACKAGE), encoding="utf-8")
    python = str(project / ".venv" / "bin" / "python")
    generated = [python, "-m", "uvicorn", "--factory", f"{PACKAGE}.main:create_app"]
    # Production settings: every middleware (trusted hosts, HSTS), INFO logs, the keys of .env.
    production = project_env(project, APP_ENV="production")
    (workdir / "breakdown_app.py").write_text(BREAKDOWN_APP.format(package=PACKAGE), encoding="utf-8")
    bare = [python, "-m", "uvicorn", "bare_app:app"]
    with_breakdown = {**production, "PYTHONPATH": str(workdir)}
    # uvicorn takes the last of --access-log / --no-access-log.
    logged = (*UVICORN_FLAGS, "--access-log", "--log-level", "info")
    targets: list[tuple[str, list[str], Path, dict[str, str], tuple[str, ...]]] = [
        ("bare FastAPI", bare, workdir, project_env(project), UVICORN_FLAGS),
        ("generated", generated, project, production, UVICORN_FLAGS),
        (BARE_LOGGED, bare, workdir, project_env(project), logged),
        (NO_MIDDLEWARE, [*generated[:-1], "breakdown_app:without_middleware"], project, with_breakdown, UVICORN_FLAGS),
        (NO_ACCESS_LOG, [*generated[:-1], "breakdown_app:without_access_log"], project, with_breakdown, UVICORN_FLAGS),
        (BARE_HEADERS, [*bare[:-1], "bare_headers_app:app"], workdir, project_env(project), UVICORN_FLAGS),
    ]
    if baseline_ref is not None:
        baseline = render_project(workdir / "baseline", baseline_ref)
        old_src = {**production, "PYTHONPATH": str(baseline / "src")}
        targets.append((f"generated @ {baseline_ref}", generated, project, old_src, UVICORN_FLAGS))
    host = production_host(project)
    series = [Series(name) for name, *_ in targets]
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(serve(name, argv, cwd=cwd, env=env, logdir=workdir, host_header=host, flags=flags))
            for name, argv, cwd, env, flags in targets
        ]
        for server in servers:  # warm-up, not counted
            wrk(server, "/health/live", duration=2, connections=connections)
        access_before = servers[1].output().count('"logger": "access"')
        for number in range(rounds):
            # Rotate who goes first, so a drift of the machine's load falls on every target alike.
            shift = number % len(servers)
            for index in [*range(shift, len(servers)), *range(shift)]:
                load = wrk(servers[index], "/health/live", duration=duration, connections=connections)
                series[index].loads.append(load)
                print(f"  round {number + 1}: {series[index].name}: {load.rps:,.0f} req/s", flush=True)
        time.sleep(1.5)  # the last batch of access lines reaches the log file
        access_lines = servers[1].output().count('"logger": "access"') - access_before
    return Overhead(series, connections, duration, access_lines, load_before, load_average())


# ---------------------------------------------------------------------------
# Items read path
# ---------------------------------------------------------------------------


class Redis:
    """The few Redis commands the benchmark needs, over RESP on a plain socket."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.reader = self.sock.makefile("rb")

    def command(self, *args: str) -> object:
        payload = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg.encode()
            payload.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(payload))
        return self._reply()

    def _reply(self) -> object:
        line = self.reader.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:].decode()
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RuntimeError(f"Redis: {rest}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            return None if int(rest) < 0 else self.reader.read(int(rest) + 2)[:-2].decode()
        if kind == b"*":
            return [self._reply() for _ in range(int(rest))]
        raise RuntimeError(f"Redis: unexpected reply {line!r}")

    def keyspace(self) -> tuple[int, int]:
        """The server's keyspace hits and misses so far."""
        info = str(self.command("INFO", "stats"))
        stats = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        return int(stats["keyspace_hits"]), int(stats["keyspace_misses"])

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


@contextlib.contextmanager
def private_redis(workdir: Path) -> Iterator[tuple[int, Redis]]:
    """A redis-server of the benchmark's own on a free loopback port, without persistence."""
    port = free_port()
    log = (workdir / "redis.log").open("wb")
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client = Redis(port)
                if client.command("PING") == "PONG":
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        try:
            yield port, client
        finally:
            client.close()
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def psql(url: str, sql: str) -> str:
    """Run SQL with psql; return the rows, one per line, fields separated by ``|``."""
    return run(["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]).strip()


def empty_caches(redis: Redis, database: str) -> None:
    """Empty the shared cache and every worker's memory of items.

    The workers forget their items on the notification a TRUNCATE of ``items`` would send.
    """
    redis.command("FLUSHDB")
    psql(database, "SELECT pg_notify('item_changed', '*')")


def with_database(url: str, database: str, scheme: str | None = None) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + database, scheme=scheme or parts.scheme))


@contextlib.contextmanager
def bench_database(admin_url: str, suffix: str = "") -> Iterator[str]:
    """A database of the benchmark's own, dropped at the end; yields its libpq URL."""
    name = f"prodready_bench_{os.getpid()}_{int(time.time())}{suffix}"
    psql(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_url, name)
    finally:
        psql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Items:
    hits: Series
    misses: Series
    breakdown: dict[str, float]
    items: int
    connections: int
    duration: float
    load_before: str
    load_after: str


def measure_items(
    project: Path, workdir: Path, *, rounds: int, duration: float, connections: int, postgres: str
) -> Items:
    """The read path with every read a cache hit, then with every read a miss, in alternating rounds."""
    load_before = load_average()
    python = str(project / ".venv" / "bin" / "python")
    with bench_database(postgres) as database, private_redis(workdir) as (redis_port, redis):
        env = project_env(
            project,
            APP_ENV="testing",
            DATABASE_URL=with_database(database, urllib.parse.urlsplit(database).path[1:], "postgresql+asyncpg"),
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            CACHE__KEY_PREFIX="bench:",
            # Entries outlive the benchmark: a miss is made by emptying the cache, never by expiry.
            CACHE__DEFAULT_TTL="3600",
        )
        run([str(project / ".venv" / "bin" / "alembic"), "upgrade", "head"], cwd=project, env=env)
        argv = [python, "-m", "uvicorn", "--factory", f"{PACKAGE}.main:create_app"]
        with serve("items", argv, cwd=project, env=env, logdir=workdir) as server:
            token, user_id, first_id = _seed(server, database)
            ids = psql(database, "SELECT id FROM items ORDER BY id").splitlines()
            hit_ids, miss_ids = workdir / "hit-ids.txt", workdir / "miss-ids.txt"
            hit_ids.write_text("\n".join(ids[:HIT_SET]) + "\n", encoding="utf-8")
            miss_ids.write_text("\n".join(ids) + "\n", encoding="utf-8")
            hit_script, miss_script = workdir / "hits.lua", workdir / "misses.lua"
            hit_script.write_text(IDS_SCRIPT % hit_ids, encoding="utf-8")
            miss_script.write_text(IDS_SCRIPT % miss_ids, encoding="utf-8")

            def warm() -> None:
                for item_id in ids[:HIT_SET]:
                    status, _ = http(
                        "GET", f"{server.url}/items/{item_id}", headers={"Authorization": f"Bearer {token}"}
                    )
                    if status != 200:
                        raise RuntimeError(f"GET /items/{item_id} answered {status}")

            hits, misses = Series("cache hits"), Series("cache misses")
            empty_caches(redis, database)
            warm()
            wrk(server, "/", duration=2, connections=connections, token=token, script=hit_script)  # warm-up
            for number in range(rounds):
                phases = [(hits, hit_script), (misses, miss_script)]
                for series, script in phases if number % 2 == 0 else phases[::-1]:
                    empty_caches(redis, database)
                    if series is hits:
                        warm()
                    before = redis.keyspace()
                    load = wrk(server, "/", duration=duration, connections=connections, token=token, script=script)
                    after = redis.keyspace()
                    hit, miss = after[0] - before[0], after[1] - before[1]
                    series.loads.append(load)
                    series.hit_ratios.append(hit / max(hit + miss, 1))
                    print(
                        f"  round {number + 1}: {series.name}: {load.rps:,.0f} req/s, "
                        f"hit ratio {series.hit_ratios[-1]:.1%} ({hit} hits, {miss} misses)",
                        flush=True,
                    )
                    if load.requests > len(ids):
                        print(f"  warning: {load.requests} requests walked past the {len(ids)} ids", flush=True)
        script = BREAKDOWN.format(package=PACKAGE)
        breakdown = json.loads(run([python, "-c", script, token, user_id, first_id], cwd=project, env=env))
    return Items(hits, misses, breakdown, len(ids), connections, duration, load_before, load_average())


def _seed(server: Server, database: str) -> tuple[str, str, str]:
    """Register and log in through the API, create one item, then copy it into ITEMS rows with SQL."""
    json_headers = {"Content-Type": "application/json"}
    registration = {"email": "bench@example.com", "password": PASSWORD, "full_name": "Bench"}
    status, body = http(
        "POST", server.url + "/auth/register", body=json.dumps(registration).encode(), headers=json_headers
    )
    if status != 201:
        raise RuntimeError(f"register answered {status}: {body!r}")
    user_id = json.loads(body)["id"]
    form = urllib.parse.urlencode({"username": "bench@example.com", "password": PASSWORD}).encode()
    status, body = http("POST", server.url + "/auth/token", body=form)
    if status != 200:
        raise RuntimeError(f"login answered {status}: {body!r}")
    token = json.loads(body)["access_token"]
    item = {"title": "benchmark item", "description": "read again and again " * 10, "secret_note": "encrypted at rest"}
    headers = {**json_headers, "Authorization": f"Bearer {token}"}
    status, body = http("POST", server.url + "/items", body=json.dumps(item).encode(), headers=headers)
    if status != 201:
        raise RuntimeError(f"POST /items answered {status}: {body!r}")
    first_id = json.loads(body)["id"]
    # A secret note is bound to its row's id when encrypted (another row's ciphertext fails its
    # check and answers 500), so the copies carry none.
    psql(
        database,
        "INSERT INTO items (id, owner_id, title, description, created_at, updated_at) "
        "SELECT gen_random_uuid(), owner_id, title || ' ' || n, description, now(), now() "
        f"FROM items, generate_series(2, {ITEMS}) AS n WHERE id = '{first_id}'",
    )
    psql(database, "ANALYZE items")
    return token, user_id, first_id


# ---------------------------------------------------------------------------
# Generated test suite
# ---------------------------------------------------------------------------


@dataclass
class Suite:
    wall: list[float]
    plain: float  # the same tests without coverage, seconds
    branch: tuple[float, float | None]  # with branch coverage as Python 3.11 measures it: seconds, %
    passed: int
    failed: int
    skipped: int
    coverage: float | None
    tiers: dict[str, tuple[float, int]]
    slowest: list[str]
    load_before: str
    load_after: str


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str, int]:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, result.stdout + result.stderr, result.returncode


def _count(output: str, word: str) -> int:
    match = re.search(rf"(\d+) {word}", output.splitlines()[-1] if output.strip() else "")
    return int(match.group(1)) if match else 0


def branch_coverage_config(project: Path, target: Path) -> Path:
    """Write the project's coverage settings as a Python 3.11 project has them: branches measured
    by the trace-function core, which needs greenlet support (the project's own measure lines
    through sys.monitoring)."""
    with (project / "pyproject.toml").open("rb") as handle:
        coverage = tomllib.load(handle)["tool"]["coverage"]
    run = {key: value for key, value in coverage["run"].items() if key != "core"}
    run.update(branch=True, concurrency=["thread", "greenlet"])
    config = configparser.RawConfigParser()
    for section, values in (("run", run), ("report", coverage.get("report", {}))):
        config[section] = {
            key: "\n".join(map(str, value)) if isinstance(value, list) else str(value) for key, value in values.items()
        }
    with target.open("w", encoding="utf-8") as handle:
        config.write(handle)
    return target


def measure_suite(project: Path, runs: int) -> Suite:
    """``make test`` once to warm up, then ``runs`` timed runs; the reliability tier; each tier; durations."""
    load_before = load_average()
    env = project_env(project)
    _timed(["make", "test"], project, env)
    wall, output = [], ""
    for _ in range(runs):
        seconds, output, _ = _timed(["make", "test"], project, env)
        wall.append(seconds)
    summary = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    last = summary[-1] if summary else ""
    coverage = re.search(r"Total coverage: ([\d.]+)%", output)
    pytest = [str(project / ".venv" / "bin" / "pytest"), "-q", "-p", "no:cacheprovider"]
    plain, _, _ = _timed([*pytest, "-m", "not reliability"], project, env)
    with tempfile.TemporaryDirectory(prefix="prodready-bench-coverage-") as scratch:
        rc = branch_coverage_config(project, Path(scratch) / "coveragerc")
        branch_seconds, out, _ = _timed([*pytest, "-m", "not reliability", "--cov", f"--cov-config={rc}"], project, env)
    branch_coverage = re.search(r"Total coverage: ([\d.]+)%", out)
    tiers = {}
    for tier, marks in (
        ("unit", "unit"),
        ("integration", "integration and not reliability"),
        ("e2e", "e2e and not reliability"),
        ("reliability (`make test-reliability`)", "reliability"),
    ):
        seconds, out, _ = _timed([*pytest, "-m", marks], project, env)
        tiers[tier] = (seconds, _count(out.strip(), "passed"))
    _, out, _ = _timed([*pytest, "-m", "not reliability", "--durations=15"], project, env)
    slowest = re.findall(r"^([\d.]+s (?:setup|call|teardown) +\S+)$", out, re.MULTILINE)
    return Suite(
        wall=wall,
        plain=plain,
        branch=(branch_seconds, float(branch_coverage.group(1)) if branch_coverage else None),
        passed=_count(last, "passed"),
        failed=_count(last, "failed"),
        skipped=_count(last, "skipped"),
        coverage=float(coverage.group(1)) if coverage else None,
        tiers=tiers,
        slowest=slowest,
        load_before=load_before,
        load_after=load_average(),
    )


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def _first_line(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    except OSError:
        return "not found"
    text = (result.stdout or result.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def _versions(project: Path) -> str:
    modules = ("fastapi", "starlette", "uvicorn", "pydantic")
    code = f"import {', '.join(modules)}; print({', '.join(m + '.__version__' for m in modules)})"
    try:
        fastapi, starlette, uvicorn, pydantic = run([str(project / ".venv" / "bin" / "python"), "-c", code]).split()
    except (RuntimeError, ValueError):
        return "unknown"
    return f"FastAPI {fastapi}, Starlette {starlette}, uvicorn {uvicorn}, pydantic {pydantic}"


def render(overhead: Overhead | None, items: Items | None, suite: Suite | None, *, project: Path, rounds: int) -> str:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    python_version = _first_line([str(project / ".venv" / "bin" / "python"), "--version"]).split()[-1]
    wrk_version = _first_line(["wrk", "--version"]).split(" Copyright")[0]
    redis_version = _first_line(["redis-server", "--version"]).split(" sha=")[0]
    lines = [
        "# Benchmarks: the generated service",
        "",
        "Written by `bench/service.py`; do not edit by hand. Medians over alternating rounds;",
        "targets are goals, and a miss is reported here, never raised.",
        "",
        "## Machine",
        "",
        f"- date (UTC): {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M')}",
        f"- CPU: {cpu}, {os.cpu_count()} cores (load generator and server share them)",
        f"- Python {python_version}; {_versions(project)}",
        f"- {wrk_version}; {redis_version}; {_first_line(['psql', '--version'])}",
        "",
    ]
    if overhead is not None:
        lines += _render_overhead(overhead, rounds)
    if items is not None:
        lines += _render_items(items, rounds)
    if suite is not None:
        lines += _render_suite(suite)
    lines += [
        "## Reproducing",
        "",
        "```",
        ".venv/bin/python bench/service.py                               # all three, 7 rounds",
        ".venv/bin/python bench/service.py --only overhead --baseline-ref 33b73b0 --rounds 7  # vs a commit",
        ".venv/bin/python bench/service.py --only items --postgres postgresql://user:pw@host:5432/postgres",
        ".venv/bin/python bench/hotpath.py --rounds 5 --baseline-ref main  # side by side, with a profile",
        "```",
        "",
        "Needs wrk, uv, `redis-server` and a PostgreSQL role that may create databases. Run it on an",
        "otherwise idle machine: the load average above shows how idle this one was.",
        "",
    ]
    return "\n".join(lines)


def _render_overhead(result: Overhead, rounds: int) -> list[str]:
    by_name = {series.name: series for series in result.series}
    bare, generated = result.series[:2]
    ratio = generated.median("rps") / bare.median("rps")
    logged = by_name[BARE_LOGGED]
    lines = [
        "## Middleware overhead: `/health/live`, generated app vs bare FastAPI",
        "",
        f"{rounds} rounds of `wrk -t1 -c{result.connections} -d{result.duration:g}s --latency` per app, the apps",
        "taking turns to go first; all served by `uvicorn --workers 1 --loop uvloop --http httptools",
        "--no-access-log` on 127.0.0.1 at the same time. The generated app runs with its production",
        "settings (`APP_ENV=production`): host check, request id, security headers and HSTS,",
        "body-size limit, and its JSON access log at INFO into a file, written in batches",
        f"(`app.access_log_flush_seconds`; {result.access_lines:,} lines for {generated.requests:,} measured",
        "requests).",
        f"Load average before / after: {result.load_before} → {result.load_after}.",
        "",
        "| app | requests/s | p50 | p99 | server CPU per request | errors |",
        "|---|---|---|---|---|---|",
    ]
    for series in result.series:
        lines.append(
            f"| {series.name} | **{series.median('rps'):,.0f}** | {series.median('p50_ms'):.2f} ms | "
            f"{series.median('p99_ms'):.2f} ms | {series.median('cpu_us'):.0f} µs | {series.errors} |"
        )
    lines += [
        "",
        f"Ratio generated / bare: **{ratio:.2f}** (target ≥ {OVERHEAD_TARGET}: {_verdict(ratio >= OVERHEAD_TARGET)}); "
        f"from CPU time per request, which other processes disturb less: "
        f"{bare.median('cpu_us') / generated.median('cpu_us'):.2f}.",
        "Against bare FastAPI with uvicorn's own access log on (its default; `--access-log`), the",
        f"cheapest way to get one line per request out of a bare app: "
        f"{generated.median('rps') / logged.median('rps'):.2f}.",
    ]
    headers = by_name[BARE_HEADERS]
    lines += [
        "",
        "The response headers alone: bare FastAPI answering with the generated app's headers (the",
        "security set, HSTS and a request id, added by a minimal ASGI wrapper) runs at "
        f"{headers.median('rps') / bare.median('rps'):.2f} of bare;",
        "uvicorn checks and writes every header of every response. Against that app, which pays for",
        f"the same headers, the generated app's ratio is {generated.median('rps') / headers.median('rps'):.2f}.",
    ]
    for series in result.series:
        if "@ " not in series.name:
            continue
        before = series.median("rps") / bare.median("rps")
        lines.append(f"The same app at `{series.name.split('@ ')[-1]}`: ratio {before:.2f}.")
    # The probe is an app-level route answering bytes serialized once; the bare app's route
    # serializes its dict on every request, so this step can come out negative.
    routing = "routing and the probe's handler (app-level route, answer serialized once)"
    middleware = "the middleware: host check, request id, six headers (written by uvicorn), body limit"
    steps = [
        (routing, bare, by_name[NO_MIDDLEWARE]),
        (middleware, by_name[NO_MIDDLEWARE], by_name[NO_ACCESS_LOG]),
        ("the JSON access log line", by_name[NO_ACCESS_LOG], generated),
    ]
    lines += [
        "",
        "Where the difference goes, from the server CPU per request of the same app with one part",
        "taken away (medians; each step is the difference of two rows above, so noise of a few µs",
        "shows in each). The middleware and the access log together are what the generated app adds",
        "to every request; against the same app without them the ratio is "
        f"{by_name[NO_MIDDLEWARE].median('cpu_us') / generated.median('cpu_us'):.2f} (CPU per request).",
        "",
        "| part | µs per request |",
        "|---|---|",
    ]
    for label, without, with_ in steps:
        lines.append(f"| {label} | {with_.median('cpu_us') - without.median('cpu_us'):+.0f} |")
    lines += [
        f"| total: generated minus bare | {generated.median('cpu_us') - bare.median('cpu_us'):+.0f} |",
        "",
        "Per-round requests/s:",
        "",
        "| round | " + " | ".join(series.name for series in result.series) + " |",
        "|---|" + "---|" * len(result.series),
    ]
    for number in range(rounds):
        lines.append(f"| {number + 1} | " + " | ".join(f"{s.loads[number].rps:,.0f}" for s in result.series) + " |")
    lines.append("")
    return lines


def _render_items(result: Items, rounds: int) -> list[str]:
    hits, misses = result.hits, result.misses
    lines = [
        "## Authenticated read path: `GET /items/{id}`",
        "",
        f"The generated app with `APP_ENV=testing`, PostgreSQL ({result.items:,} items of one user, each with",
        "an encrypted note) and Redis (a private `redis-server`, so `INFO stats` counts only these",
        f"reads), one uvicorn worker, the access log on; {rounds} rounds of `wrk -t1 -c{result.connections} "
        f"-d{result.duration:g}s` per phase,",
        "phases alternating. Hits: the cache is emptied, then warmed with "
        f"{HIT_SET} items, and wrk cycles through those {HIT_SET}. Misses: the cache is emptied and wrk walks",
        f"through the {result.items:,} items in order, so no id comes twice in a round. The hit ratio is",
        "`keyspace_hits / (keyspace_hits + keyspace_misses)` of the Redis server over each wrk run, as",
        "counted (the miss phase still sees a few hits: about one repeated id per wrk connection).",
        f"Load average before / after: {result.load_before} → {result.load_after}.",
        "",
        "| phase | requests/s | p50 | p99 | server CPU per request | measured hit ratio | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for series in (hits, misses):
        lines.append(
            f"| {series.name} | **{series.median('rps'):,.0f}** | {series.median('p50_ms'):.2f} ms | "
            f"{series.median('p99_ms'):.2f} ms | {series.median('cpu_us'):.0f} µs | "
            f"{statistics.median(series.hit_ratios):.1%} | {series.errors} |"
        )
    lines += [
        "",
        "Each step of the path timed alone (best of 3, µs per operation, same servers, one client):",
        "",
        "| step | µs | on a hit | on a miss |",
        "|---|---|---|---|",
    ]
    on_hit = {
        "JWT verification (HS256)": True,
        "user row: PostgreSQL round trip + ORM": True,
        "item row: PostgreSQL round trip + ORM": False,
        "Redis GET (hit)": True,
        "Redis SET (after a miss)": False,
        "cache entry: HMAC check + JSON parse": True,
        "secret note: AES-GCM decryption": True,
        "response: pydantic serialization": True,
    }
    for step, micros in result.breakdown.items():
        lines.append(f"| {step} | {micros:.0f} | {'yes' if on_hit.get(step) else '—'} | yes |")
    lines += [
        "",
        "What bounds it: a token used again within seconds is not verified again, and the user it",
        "belongs to comes from the worker's memory while PostgreSQL notifies every change to users",
        "(a deactivated, deleted or demoted user is refused at once; see the project's README), so",
        "a hit is the Redis GET and Python: the JWT and user-row steps above run only when a",
        "token or its user is not in memory. A miss adds the item query (a primary-key lookup)",
        "and a Redis SET. argon2 is not on this path: passwords are hashed only at registration",
        "and login. Python CPU of the one worker (FastAPI, pydantic, the middleware) is the",
        "ceiling: the server CPU per request column is close to 1 / requests per second, so more",
        "throughput comes from more workers or replicas, not from a faster database.",
        "",
    ]
    return lines


def _percent(coverage: float | None) -> str:
    return "" if coverage is None else f", {coverage:.1f} % covered"


def _render_suite(result: Suite) -> list[str]:
    wall = statistics.median(result.wall)
    total = result.passed + result.failed
    [(reliability_seconds, reliability_count)] = [
        figures for tier, figures in result.tiers.items() if tier.startswith("reliability")
    ]
    lines = [
        "## Generated test suite",
        "",
        "`make test`: the unit, integration and e2e tiers with line coverage (subprocesses too)",
        f"and the coverage gate, after one warm-up run; median of {len(result.wall)}. The reliability",
        "scenarios (load bursts, SIGTERM under load, outages, fuzzing) are a tier of their own,",
        "`make test-reliability`, which CI runs after `make test`.",
        "",
        "Coverage is measured through sys.monitoring (Python 3.12+), which reports each line once",
        "and then stops watching it. Branch coverage needs coverage's trace-function core before",
        "Python 3.14, and that core needs greenlet support for SQLAlchemy's asyncio layer; the",
        "table shows what that would cost. A project generated for Python 3.11, which has no",
        "sys.monitoring, measures branches that way.",
        f"Load average before / after: {result.load_before} → {result.load_after}.",
        "",
        "| figure | value | target | |",
        "|---|---|---|---|",
        f"| tests in `make test` | {total} ({result.passed} passed, {result.failed} failed, {result.skipped} skipped) "
        f"| ≥ {SUITE_TESTS_TARGET} | {_verdict(total >= SUITE_TESTS_TARGET)} |",
        f"| `make test` wall time, warm, with coverage | {wall:.1f} s | ≤ {SUITE_SECONDS_TARGET:.0f} s | "
        f"{_verdict(wall <= SUITE_SECONDS_TARGET)} |",
        f"| the same tests without coverage (`pytest -m 'not reliability'`) | {result.plain:.1f} s | "
        f"≤ {SUITE_SECONDS_TARGET:.0f} s | {_verdict(result.plain <= SUITE_SECONDS_TARGET)} |",
        f"| the same tests with branch coverage (trace-function core, greenlet support) | "
        f"{result.branch[0]:.1f} s{_percent(result.branch[1])} | | |",
        f"| every test: `make test` then `make test-reliability` ({total + reliability_count} tests) | "
        f"{wall + reliability_seconds:.1f} s | | |",
    ]
    if result.coverage is not None:
        met = result.coverage >= SUITE_COVERAGE_TARGET
        lines.append(f"| coverage | {result.coverage:.1f} % | ≥ {SUITE_COVERAGE_TARGET:.0f} % | {_verdict(met)} |")
    lines += ["", "Each tier alone, without coverage:", "", "| tier | tests | wall time |", "|---|---|---|"]
    lines += [f"| {tier} | {count} | {seconds:.1f} s |" for tier, (seconds, count) in result.tiers.items()]
    lines += ["", "Slowest tests of `make test` (`--durations=15`, without coverage):", ""]
    lines += ["```", *result.slowest, "```", ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per target (default 7)")
    parser.add_argument("--duration", type=float, default=5, help="seconds of each wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--suite-runs", type=int, default=3, help="timed `make test` runs (default 3)")
    parser.add_argument("--project", type=Path, help="an already generated project (default: render one)")
    parser.add_argument("--baseline-ref", help="also measure the app rendered from this commit (overhead)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="libpq URL of a role that may create databases")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown report to write")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    if args.rounds < 1 or args.suite_runs < 1:
        parser.error("--rounds and --suite-runs must be at least 1")
    missing = [tool for tool in ("wrk", "uv", "redis-server", "psql") if shutil.which(tool) is None]
    if missing:
        parser.error(f"missing tools: {', '.join(missing)}")

    with tempfile.TemporaryDirectory(prefix="prodready-bench-service-") as scratch:
        workdir = Path(scratch)
        if args.project is not None:
            project = args.project.resolve()
        else:
            print("rendering a project with the default answers …", flush=True)
            project = render_project(workdir / "project")
        prepare_project(project)
        overhead = items = suite = None
        if "overhead" in names:
            print("overhead: /health/live, generated vs bare …", flush=True)
            (workdir / "overhead").mkdir()
            overhead = measure_overhead(
                project,
                workdir / "overhead",
                rounds=args.rounds,
                duration=args.duration,
                connections=args.connections,
                baseline_ref=args.baseline_ref,
            )
        if "items" in names:
            print("items: GET /items/{id}, cache hits and misses …", flush=True)
            (workdir / "items").mkdir()
            items = measure_items(
                project,
                workdir / "items",
                rounds=args.rounds,
                duration=args.duration,
                connections=args.connections,
                postgres=args.postgres,
            )
        if "suite" in names:
            print("suite: make test, tiers, durations …", flush=True)
            suite = measure_suite(project, args.suite_runs)
        report = render(overhead, items, suite, project=project, rounds=args.rounds)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    previous = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
    start, end = "<!-- hotpath:start -->", "<!-- hotpath:end -->"
    if start in previous and end in previous:  # bench/hotpath.py's section stays
        report = report.rstrip("\n") + "\n\n" + start + previous.split(start, 1)[1].split(end, 1)[0] + end + "\n"
    args.output.write_text(report, encoding="utf-8")
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
