"""Logging with the request id of the request being served: JSON lines, or readable ones.

JSON lines everywhere a machine reads the log (containers, CI, files); readable lines only for a
developer's terminal (``configure_logging(..., development=True)`` with stderr a terminal).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import TextIO, cast

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
access_logger = logging.getLogger("access")

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged too,
# except uvicorn's `color_message`: the message again, with ANSI colour codes for its own
# formatter, which would put escape sequences into every line.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "color_message"}
# One encoder for every line: json.dumps with options would build a new one per call.
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)
# How that encoder writes a string (ensure_ascii=False: escapes quotes, backslashes, controls).
_json_string = json.encoder.encode_basestring
# Held access lines are written once they reach this many characters (about 300 lines), so a
# burst never holds much memory or a large part of the interval's log.
ACCESS_BUFFER_CHARS = 64 * 1024


class _Clock:
    """ISO 8601 UTC timestamps with milliseconds, formatting each second only once."""

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")

    def format(self, created: float, msecs: float) -> str:
        """Return ``created`` as ``2024-01-02T03:04:05.678+00:00``."""
        second = int(created)
        cached, text = self._second
        if cached != second:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, text)  # one assignment: safe when threads log too
        return f"{text}.{int(msecs):03d}+00:00"


def _extra_fields(record: logging.LogRecord) -> dict[str, object]:
    """Return the fields passed with ``extra=`` (private ones, starting with ``_``, left out)."""
    return {key: value for key, value in record.__dict__.items() if key not in _STANDARD and not key.startswith("_")}


class JsonFormatter(logging.Formatter):
    """Format records as one JSON object per line."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as JSON with time, level, logger, message and request id."""
        payload: dict[str, object] = {
            "time": self.clock.format(record.created, record.msecs),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        payload.update(_extra_fields(record))
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(payload)


class ConsoleFormatter(logging.Formatter):
    """Readable lines for a developer's terminal: local time, level, logger, message, fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Return ``12:34:56.789 INFO    logger: message  request_id=… key=value``."""
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        line = f"{clock}.{int(record.msecs):03d} {record.levelname:<7} {record.name}: {record.getMessage()}"
        fields = _extra_fields(record)
        if (request_id := request_id_var.get()) != "-":
            fields = {"request_id": request_id, **fields}
        if fields:
            line += "  " + " ".join(f"{key}={value}" for key, value in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _access_record(message: str) -> logging.LogRecord:
    """A bare access record, for reporting a failed write of ``message``."""
    return access_logger.makeRecord(access_logger.name, logging.INFO, "", 0, message, (), None)


class JsonHandler(logging.StreamHandler[TextIO]):
    """The service's handler: JSON lines on stderr (what container platforms collect).

    With ``readable=True`` it writes :class:`ConsoleFormatter` lines instead (a developer's
    terminal); access lines then travel as regular records (see :func:`log_access`).

    Access lines can be held back and written in batches (``access_flush_seconds`` > 0), the
    way nginx's ``access_log ... buffer= flush=`` does: one write per batch instead of one per
    request, whose system call and wake-up of the log collector cost a served request more than
    everything else the middleware does. Every other record is written at once, after the
    access lines held so far, so the stream keeps its order. Held lines are written when the
    interval ends, when they pass :data:`ACCESS_BUFFER_CHARS`, at :meth:`flush` and at
    :meth:`close` (the app's shutdown and interpreter exit): only a killed process loses them,
    at most ``access_flush_seconds`` worth.
    """

    def __init__(self, access_flush_seconds: float = 0.0, *, readable: bool = False) -> None:
        """Write to stderr; hold access lines up to ``access_flush_seconds`` (0: write each at once)."""
        super().__init__(sys.stderr)
        self.setFormatter(ConsoleFormatter() if readable else JsonFormatter())
        self.access_flush_seconds = access_flush_seconds
        self._held: list[str] = []
        self._held_chars = 0
        self._timer_armed = False

    def write_access(self, line: str) -> None:
        """Write one rendered access line now, or hold it for the next batch."""
        self.acquire()
        try:
            if self.access_flush_seconds <= 0:
                self.stream.write(line)
                self.stream.flush()
                return
            self._held.append(line)
            self._held_chars += len(line)
            if self._held_chars >= ACCESS_BUFFER_CHARS:
                self._write_held()
            elif not self._timer_armed:
                self._arm_timer()
        except Exception:  # a failed write follows the handler's own policy: reported, never raised
            self.handleError(_access_record(line))
        finally:
            self.release()

    def _arm_timer(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the event loop: nothing would come back for the lines
            self._write_held()
            return
        self._timer_armed = True
        loop.call_later(self.access_flush_seconds, self._timer_fired)

    def _timer_fired(self) -> None:
        self.acquire()  # re-entrant: the write below takes it again
        try:
            self._timer_armed = False
            self._write_held_or_report(_access_record("held lines"))
        finally:
            self.release()

    def _write_held_or_report(self, record: logging.LogRecord) -> None:
        """Write the held lines under the lock; a failure is reported against ``record``, never raised."""
        self.acquire()
        try:
            self._write_held()
        except Exception:
            self.handleError(record)
        finally:
            self.release()

    def _write_held(self) -> None:
        # Called with the lock held. The lines are dropped from the buffer first: a write that
        # fails is reported once, not retried on every later record.
        if not self._held:
            return
        batch = "".join(self._held)
        self._held.clear()
        self._held_chars = 0
        self.stream.write(batch)
        self.stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        """Write ``record`` after the access lines held so far."""
        if self._held:
            self._write_held_or_report(record)
        super().emit(record)

    def flush(self) -> None:
        """Write the held access lines, then flush the stream."""
        self.acquire()
        try:
            self._write_held()
        finally:
            self.release()
        super().flush()


def configure_logging(level: str, access_flush_seconds: float = 0.0, *, development: bool = False) -> None:
    """Send every log record to stderr at ``level``: JSON, or readable lines in development.

    ``development`` and a terminal on stderr give :class:`ConsoleFormatter` lines; anything else
    (a container, CI, a redirect to a file) gets JSON. ``access_flush_seconds`` > 0 writes
    access lines in batches at most that far apart (see :class:`JsonHandler`); 0 writes each
    line as its request ends.
    """
    root = logging.getLogger()
    root.handlers[:] = [JsonHandler(access_flush_seconds, readable=development and sys.stderr.isatty())]
    root.setLevel(level)
    # The JSON lines never show thread or process names, so records skip looking them up (the
    # "Optimization" flags of the logging HOWTO).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # Driver chatter (every SQLite call) drowns the service's own debug logs.
    logging.getLogger("aiosqlite").setLevel(max(root.level, logging.INFO))
    # uvicorn's access log duplicates the request log written by the middleware.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def flush_logs() -> None:
    """Write what the root logger's handlers hold (access lines waiting for their batch)."""
    for handler in logging.getLogger().handlers:
        handler.flush()


def log_access(method: str, path: str, status: int, duration_ms: float) -> None:
    """Log one served request: logger ``access``, level INFO, message ``request``.

    Every request makes this call, so it is kept cheap. When the record would reach only the
    :class:`JsonHandler` that :func:`configure_logging` installs (the service's own set-up),
    the line is rendered here straight from the fields, as :class:`JsonFormatter` renders the
    record, and handed to :meth:`JsonHandler.write_access`: about a third of the cost of a
    LogRecord travelling through the logging machinery. Any other set-up (more handlers, filters,
    pytest's ``caplog``) gets a regular record, so it sees every request as before.
    """
    if not access_logger.isEnabledFor(logging.INFO):
        return
    handler = _only_json_handler()
    if handler is None:
        fields = {"method": method, "path": path, "status": status, "duration_ms": duration_ms}
        record = access_logger.makeRecord("access", logging.INFO, __file__, 0, "request", (), None, extra=fields)
        access_logger.handle(record)
        return
    clock = cast(JsonFormatter, handler.formatter).clock
    now = time.time()
    # Same keys, order and escaping (the JSON encoder's own string function) as JsonFormatter.
    handler.write_access(
        f'{{"time": "{clock.format(now, (now - int(now)) * 1000)}", "level": "INFO", "logger": "access", '
        f'"message": "request", "request_id": {_json_string(request_id_var.get())}, '
        f'"method": {_json_string(method)}, "path": {_json_string(path)}, '
        f'"status": {int(status)}, "duration_ms": {float(duration_ms)!r}}}{handler.terminator}'
    )


def _only_json_handler() -> JsonHandler | None:
    """Return the handler an access record would reach when that is a JsonHandler alone, unfiltered."""
    root = logging.root
    if access_logger.handlers or access_logger.filters or not access_logger.propagate or root.filters:
        return None
    if access_logger.parent is not root or len(root.handlers) != 1:
        return None
    handler = root.handlers[0]
    if type(handler) is not JsonHandler or handler.filters or handler.level > logging.INFO:
        return None
    if type(handler.formatter) is not JsonFormatter:
        return None
    return handler
