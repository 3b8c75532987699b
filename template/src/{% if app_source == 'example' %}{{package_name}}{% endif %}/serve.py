"""Production server: ``python -m <package>.serve`` runs uvicorn the way the settings say.

This is the container's command. Host, port, worker count and the graceful-shutdown timeout
come from ``settings.server`` (``config/environments/<APP_ENV>.yaml``, overridden by variables
such as ``SERVER__WORKERS=4``), so one image serves every environment without per-environment
flags. The settings are loaded, and the keys checked, before uvicorn starts: in staging and
production a weak or placeholder key stops the container instead of serving.

Behind a reverse proxy, uvicorn trusts ``X-Forwarded-*`` headers only from the addresses in
``server.forwarded_allow_ips`` (none by default: the client address is the connection's peer,
which is what the rate limits count). uvicorn's own ``FORWARDED_ALLOW_IPS`` is not read.

``python -m <package>.serve --check`` is the container's HEALTHCHECK: it asks ``/health/live``
on the configured port with the standard library alone, because slim images have no curl.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import signal
import sys
from collections.abc import Sequence
from types import FrameType

import uvicorn

from .core.logging import configure_logging
from .core.settings import Settings, get_settings

# The app factory, as an import string: uvicorn needs one to start several workers.
APP = f"{__package__}.main:create_app"
LIVE_PATH = "/health/live"
# A probe that hangs is a failed probe; Docker's own timeout is only the last resort.
CHECK_TIMEOUT_SECONDS = 3.0


def probe_address(settings: Settings) -> tuple[str, int]:
    """Return the host and port the probe connects to: the server's, seen from the same host.

    A server bound to every interface (``0.0.0.0``, ``::``) is probed on the loopback address.
    """
    server = settings.server
    try:
        unspecified = ipaddress.ip_address(server.host).is_unspecified
    except ValueError:  # a host name, not an address
        unspecified = not server.host
    return ("127.0.0.1" if unspecified else server.host), server.port


def probe_host_header(settings: Settings) -> str | None:
    """Return a Host header the app accepts, or None when it accepts any host.

    Outside development the app answers only the host names in ``app.allowed_hosts`` (400 to
    anything else), so a probe of the loopback address names the first of them; a wildcard
    entry such as ``*.example.com`` is matched by any name under it.
    """
    allowed = settings.app.allowed_hosts
    if not allowed or "*" in allowed:
        return None
    first = allowed[0]
    return "healthcheck" + first[1:] if first.startswith("*.") else first


def check(settings: Settings) -> int:
    """Probe the liveness endpoint once; return 0 when it answers 200, else 1."""
    host, port = probe_address(settings)
    header = probe_host_header(settings)
    headers = {"Host": header} if header is not None else {}
    connection = http.client.HTTPConnection(host, port, timeout=CHECK_TIMEOUT_SECONDS)
    try:
        connection.request("GET", LIVE_PATH, headers=headers)
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        print(f"unhealthy: {host}:{port}{LIVE_PATH}: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"unhealthy: {host}:{port}{LIVE_PATH} answered {status}", file=sys.stderr)
        return 1
    return 0


def serve(settings: Settings) -> None:
    """Run uvicorn in the foreground until SIGTERM or SIGINT, then shut down gracefully.

    On SIGTERM uvicorn stops accepting connections and gives in-flight requests
    ``graceful_timeout`` seconds to finish; with several workers the supervisor passes the
    signal on to each of them. The process then exits 0, whatever the worker count.
    """
    server = settings.server
    # The supervisor of several workers logs too, and never runs the app factory that sets up
    # the JSON logging: set it up here, and keep uvicorn from installing its text formatter.
    configure_logging(settings.app.log_level)
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        uvicorn.run(
            APP,
            factory=True,
            host=server.host,
            port=server.port,
            workers=server.workers,
            timeout_graceful_shutdown=server.graceful_timeout,
            timeout_keep_alive=server.keepalive_timeout,
            # Only proxies named in the settings are believed; with none, no header is read.
            proxy_headers=bool(server.forwarded_allow_ips),
            forwarded_allow_ips=list(server.forwarded_allow_ips),
            # The Server header would only tell a scanner which software to try.
            server_header=False,
            log_config=None,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stopped(signum: int, frame: FrameType | None) -> None:
    """Exit 0: the stop that SIGTERM or SIGINT asked for is done.

    uvicorn handles both signals while it serves. With one worker it then puts this handler
    back and sends the signal to itself again, which would otherwise kill the process with it
    (exit 143 for SIGTERM: Kubernetes reports the pod's container as failed, "Error"). With
    several workers the supervisor already exits 0. A signal before uvicorn takes over stops
    the process here as well, before it serves anything.
    """
    raise SystemExit(0)


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}.serve",
        description="Serve the app with uvicorn as settings.server says (host, port, workers, timeouts).",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"probe {LIVE_PATH} on the configured port and exit 0 when it answers 200 (container HEALTHCHECK)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve, or with ``--check`` probe the running server; return the exit code."""
    args = build_parser().parse_args(argv)
    settings = get_settings()
    if args.check:
        return check(settings)
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
