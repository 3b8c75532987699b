"""``keys`` group: make, rotate and audit the service's keys.

* ``ensure`` — add missing keys to the development ``.env``; existing values never change
  (run by the post-generation hook, ``make setup`` and after ``copier update``).
* ``generate --env ENV`` — write ``.env.<ENV>`` from the committed template with fresh keys.
* ``rotate NAME`` — a new value for one key; the old one stays as ``NAME_PREVIOUS`` so tokens
  signed and fields encrypted with it keep working. ``JWT_SECRET_KEY`` also gets
  ``NAME_ROTATED_AT``, from which the service ends the old key's grace period; a rotation that
  would drop a previous ``DB_ENCRYPTION_KEY`` still in use is refused until the service's
  re-encryption command has recorded that no value needs it (:func:`previous_key_in_use`).
* ``audit`` — per key and env file: present, strength, placeholder, reuse, age, file mode.

Every change is appended to the audit log (:mod:`.auditlog`), with a fingerprint, never the
value; no command prints a key.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import auditlog, config, envfile, keyrules, layers, policyfiles
from .report import Report, Status

# Where each environment's keys live and which committed template `keys generate` fills.
# Testing uses the production template: it runs against the same servers (PostgreSQL, Redis)
# and so needs the same variables; only APP_ENV differs.
TEMPLATES = {
    "development": Path(".env.example"),
    "testing": Path(".env.production.template"),
    "staging": Path(".env.production.template"),
    "production": Path(".env.production.template"),
}
# `VAR=value` lines, keeping what surrounds the value so a rewrite touches nothing else.
_ASSIGNMENT = re.compile(r"^(?P<lead>\s*(?:export\s+)?)(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=(?P<value>[^\r\n]*)")


class KeysError(Exception):
    """A keys command cannot proceed; the message says why and what to do."""


def register(groups: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``keys`` commands."""
    parser = groups.add_parser("keys", help="generate, rotate and audit the service's keys")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ensure = commands.add_parser("ensure", help="add missing keys to .env (existing values never change)")
    ensure.add_argument("--file", type=Path, default=Path(".env"), help="dotenv file (default: .env)")
    ensure.set_defaults(handler=ensure_command)

    generate = commands.add_parser(
        "generate",
        help="write .env.ENV with fresh keys (mode 0600) from .env.production.template "
        "(testing, staging, production) or .env.example (development)",
    )
    generate.add_argument("--env", choices=layers.ENVIRONMENTS, required=True)
    generate.add_argument("--file", type=Path, help="output file (default: .env for development, else .env.ENV)")
    generate.add_argument("--template", type=Path, help="template to fill (default: by environment)")
    generate.add_argument("--force", action="store_true", help="replace an existing file")
    generate.set_defaults(handler=generate_command)

    rotate = commands.add_parser("rotate", help="give one key a new value, keeping the old one as NAME_PREVIOUS")
    rotate.add_argument("name", metavar="NAME", help="a key of security/keys.json")
    rotate.add_argument("--env", choices=layers.ENVIRONMENTS, default=layers.DEFAULT_ENVIRONMENT)
    rotate.add_argument("--file", type=Path, help="dotenv file (default: .env for development, else .env.ENV)")
    rotate.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rotate.add_argument(
        "--accept-data-loss",
        action="store_true",
        help="drop a previous encryption key even though stored values may still be encrypted with it (they "
        "become unreadable for good); only for a leaked key that must go before re-encryption can run",
    )
    rotate.set_defaults(handler=rotate_command)

    audit = commands.add_parser("audit", help="report each key's strength, reuse, age and file mode")
    audit.add_argument("--env", choices=layers.ENVIRONMENTS, help="one environment (default: every env file present)")
    audit.add_argument("--json", action="store_true", help="print JSON")
    audit.set_defaults(handler=audit_command)


def env_file_for(env: str) -> Path:
    """Return the dotenv file that holds ``env``'s keys by convention."""
    return Path(".env") if env == layers.DEFAULT_ENVIRONMENT else Path(f".env.{env}")


def _in_repository(directory: Path) -> bool:
    # What git would find walking up from `directory`: with no .git anywhere (a scratch folder,
    # an unpacked release) there is no answer to ask a git process for.
    if "GIT_DIR" in os.environ:
        return True
    directory = directory.resolve()
    return any((folder / ".git").exists() for folder in (directory, *directory.parents))


def _git(path: Path, *args: str) -> int | None:
    git = shutil.which("git")
    directory = path.parent
    if git is None or not directory.is_dir() or not _in_repository(directory):
        return None
    try:
        # A fixed argument list without a shell: nothing here is interpreted.
        result = subprocess.run([git, *args, "--", path.name], capture_output=True, check=False, cwd=directory)
    except OSError:
        return None
    return result.returncode


def is_tracked(path: Path) -> bool:
    """Return True when git tracks ``path`` (False outside a repository or without git)."""
    return _git(path, "ls-files", "--error-unmatch") == 0


def is_ignored(path: Path) -> bool | None:
    """Return whether git ignores ``path``; None outside a repository or without git."""
    code = _git(path, "check-ignore", "-q")
    # 0: ignored, 1: not ignored, 128: not a repository (or another fatal error).
    return {0: True, 1: False}.get(code) if code is not None else None


def file_mode(path: Path) -> int:
    """Return the permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


def _refuse_tracked(path: Path) -> None:
    if is_tracked(path):
        raise KeysError(f"{path} is tracked by git: untrack it (git rm --cached {path}) before keys go in")


def write_secret_file(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, mode 0600 from the first byte.

    The text goes to a new file beside ``path`` (created 0600, so no other user ever reads a
    key) and is renamed over it: a crash leaves the old file or the new one, never half of each.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, envfile.SECRET_FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _last_assignment(lines: list[str], name: str) -> int | None:
    found = None
    for index, line in enumerate(lines):
        match = _ASSIGNMENT.match(line)
        if match and match.group("name") == name:
            found = index
    return found


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def _assign(line: str, name: str, value: str, ending: str | None = None) -> str:
    # ``name=value`` with the indent and ``export`` of ``line`` and its line ending.
    match = _ASSIGNMENT.match(line)
    lead = match.group("lead") if match else ""
    return f"{lead}{name}={value}{_ending(line) if ending is None else ending}"


# --- ensure ------------------------------------------------------------------------------


def ensure(path: Path) -> list[str]:
    """Append every missing key to ``path``; return the names added.

    Raises:
        KeysError: ``path`` is tracked by git, so a key written there would be committed.
    """
    _refuse_tracked(path)
    existing = envfile.read(path)
    missing: dict[str, str] = {}
    if "APP_ENV" not in existing:
        missing["APP_ENV"] = layers.DEFAULT_ENVIRONMENT
    for spec in keyrules.generated_keys():
        if not existing.get(spec.name):
            missing[spec.name] = keyrules.fresh_value(spec)
    stamp = auditlog.now().strftime("%Y-%m-%d")
    envfile.append(path, missing, header=f"added by `keys ensure` on {stamp}; never commit this file")
    if path.exists() and file_mode(path) != envfile.SECRET_FILE_MODE:
        os.chmod(path, envfile.SECRET_FILE_MODE)
    env = existing.get("APP_ENV") or layers.DEFAULT_ENVIRONMENT
    for name, value in missing.items():
        if name in keyrules.KEY_NAMES:
            auditlog.record("generate", env, name, value)
    return list(missing)


def ensure_command(args: argparse.Namespace) -> int:
    """Run ``keys ensure`` and report the names (never the values) it added."""
    try:
        added = ensure(args.file)
    except KeysError as exc:
        print(f"keys ensure: {exc}")
        return 1
    if added:
        print(f"keys ensure: added {', '.join(added)} to {args.file} (mode 0600)")
    else:
        print(f"keys ensure: {args.file} already has every key; nothing changed")
    return 0


# --- generate ----------------------------------------------------------------------------


def fill_template(text: str, env: str) -> tuple[str, dict[str, str]]:
    """Fill a committed env template for ``env``: fresh keys, ``APP_ENV`` set, the rest kept.

    Deployment values (``${DB_HOST}`` and the like) stay as they are, so ``security
    validate`` flags them until someone fills them in. Keys the template lacks are appended.

    Returns:
        The filled text and the keys it holds, by name.
    """
    made: dict[str, str] = {}
    lines = []
    for line in text.splitlines(keepends=True):
        match = _ASSIGNMENT.match(line)
        name = match.group("name") if match else ""
        generated = name in {spec.name for spec in keyrules.generated_keys()}
        # An external key's line stays a placeholder: `security validate` fails until it is filled.
        if match and (generated or name == "APP_ENV"):
            value = env if name == "APP_ENV" else made.setdefault(name, keyrules.generate(name))
            lines.append(_assign(line, name, value))
        else:
            lines.append(line)
    if lines and not lines[-1].endswith("\n"):
        lines.append("\n")
    missing = [spec.name for spec in keyrules.generated_keys() if spec.name not in made]
    if missing:
        lines.append("\n# keys the template does not list, added by `keys generate`\n")
        for name in missing:
            made[name] = keyrules.generate(name)
            lines.append(f"{name}={made[name]}\n")
    return "".join(lines), made


def generate(env: str, path: Path, template: Path, force: bool = False) -> dict[str, str]:
    """Write ``path`` for ``env`` from ``template`` with fresh keys; return the keys by name.

    Raises:
        KeysError: the template is missing, ``path``'s folder is missing, ``path`` exists and
            ``force`` is off, or git tracks ``path``.
    """
    if not template.is_file():
        raise KeysError(f"{template} is missing: it is the committed template `keys generate` fills")
    if not path.parent.is_dir():
        raise KeysError(f"{path.parent} is not a folder: create it first, or name a file in an existing folder")
    if path.exists() and not force:
        raise KeysError(
            f"{path} already exists: rotate single keys with `keys rotate NAME --env {env}`, "
            "or pass --force to replace every key in it"
        )
    _refuse_tracked(path)
    stamp = auditlog.now().strftime("%Y-%m-%d")
    header = (
        f"# Generated by `keys generate --env {env}` on {stamp} from {template.name}.\n"
        "# Secret: keep it out of git (mode 0600), load it into your secret store.\n"
    )
    text, made = fill_template(template.read_text(encoding="utf-8"), env)
    write_secret_file(path, header + text)
    for name, value in made.items():
        auditlog.record("generate", env, name, value)
    return made


def generate_command(args: argparse.Namespace) -> int:
    """Run ``keys generate``."""
    path = args.file or env_file_for(args.env)
    try:
        made = generate(args.env, path, args.template or TEMPLATES[args.env], args.force)
    except KeysError as exc:
        print(f"keys generate: {exc}")
        return 1
    print(f"keys generate: wrote {path} (mode 0600) with fresh {', '.join(made)}")
    if is_ignored(path) is False:
        print(f"  warning: git does not ignore {path}; add it to .gitignore so it is never committed")
    unfilled = [name for name, value in envfile.read(path).items() if keyrules.is_unfilled(value)]
    if unfilled:
        print(f"  still to fill in: {', '.join(unfilled)} (security validate --env {args.env} fails until then)")
    return 0


# --- rotate ------------------------------------------------------------------------------


class KeyInUseError(KeysError):
    """The rotation would drop a previous key that stored values may still need."""


def rotated_text(text: str, name: str, new: str, rotated_at: str | None = None) -> tuple[str, str | None]:
    """Return ``text`` with ``name`` set to ``new`` and the old value kept as ``NAME_PREVIOUS``.

    Only those lines change: an existing ``NAME_PREVIOUS=`` line (or a commented
    ``# NAME_PREVIOUS=`` slot from the template) takes the old value, else a new line right
    after ``NAME`` does. With ``rotated_at``, ``NAME_ROTATED_AT`` records it the same way, right
    after ``NAME_PREVIOUS``. A placeholder old value is not worth keeping and is dropped.

    Returns:
        The new text and the old value (None when it was a placeholder).

    Raises:
        KeysError: ``text`` does not assign ``name``.
    """
    lines = text.splitlines(keepends=True)
    at = _last_assignment(lines, name)
    if at is None:
        raise KeysError(f"{name} is not set in this file: add it first (`keys ensure` or `keys generate`)")
    old = envfile.parse(lines[at]).get(name, "")
    lines[at] = _assign(lines[at], name, new)
    if not old or keyrules.is_placeholder(old):
        return "".join(lines), None
    at = _put(lines, name + keyrules.PREVIOUS_SUFFIX, old, after=at)
    if rotated_at is not None:
        _put(lines, name + keyrules.ROTATED_AT_SUFFIX, rotated_at, after=at)
    return "".join(lines), old


def _put(lines: list[str], name: str, value: str, after: int) -> int:
    # Set `name` in its own line, its commented template slot, or a new line after `after`;
    # return the index of the line written.
    slot = _last_assignment(lines, name)
    commented = re.compile(rf"^\s*#\s*{name}=\s*$")
    empty_slot = next((i for i, line in enumerate(lines) if commented.match(line)), None)
    if slot is not None:
        lines[slot] = _assign(lines[slot], name, value)
        return slot
    if empty_slot is not None:
        lines[empty_slot] = f"{name}={value}{_ending(lines[empty_slot])}"
        return empty_slot
    ending = _ending(lines[after])
    if not ending:
        # The anchor was the last line, without a newline: the new line keeps the file ending so.
        lines[after] += "\n"
    lines.insert(after + 1, _assign(lines[after], name, value, ending))
    return after + 1


def previous_key_in_use(name: str, env: str, values: dict[str, str]) -> str | None:
    """Say why rotating ``name`` in ``values`` (an env file of ``env``) may lose stored data; None: it cannot.

    A rotation keeps the old value as ``NAME_PREVIOUS`` and so drops the value
    ``NAME_PREVIOUS`` held. For a signing key that only ends the old key's tokens; for a key
    whose ``previous_until`` is ``reencryption`` (``DB_ENCRYPTION_KEY``) it makes every value
    still sealed with it unreadable for good, so only such keys are checked here.

    Only the service can tell which key a stored value uses (it owns the cipher and the
    database), and prodready never imports it. So the service's re-encryption command
    (``make keys-reencrypt``, ``python -m <package>.admin reencrypt``) moves every value to the
    current key and appends a record of the finished run to the key audit log: the fingerprint
    of the key every value is now on (never the key), when, and the counts. This reads that
    record, never the database: dropping the previous key is safe when the latest record of
    ``env`` names the current key and left no value behind. Without such a record (none, one of
    another key, an unreadable log, values left over) it cannot tell, and says so. Running the
    project's code from here instead would need its virtualenv and a route to the deployed
    database on every machine that rotates keys, and would still need this refusal when either
    is missing.
    """
    spec = keyrules.spec_for(name)
    previous_name = name + keyrules.PREVIOUS_SUFFIX
    previous, current = values.get(previous_name, ""), values.get(name, "")
    if spec is None or spec.previous_until != "reencryption" or not previous or keyrules.is_placeholder(previous):
        return None
    if previous == current:
        return None
    dropped = f"{previous_name} ({keyrules.fingerprint(previous)})"
    try:
        event = auditlog.last_reencryption(env)
    except (OSError, UnicodeDecodeError) as exc:
        return f"it would drop {dropped}, and {auditlog.AUDIT_LOG} cannot be read ({exc}) to tell whether values use it"
    target = f"{name} {keyrules.fingerprint(current)}" if current else name
    if event is None or event.get("fingerprint") != keyrules.fingerprint(current):
        return (
            f"it would drop {dropped}, and no re-encryption to {target} is recorded for {env} in "
            f"{auditlog.AUDIT_LOG}: an unknown number of stored values may still be encrypted with it"
        )
    counts = event.get("counts")
    remaining = counts.get("remaining") if isinstance(counts, dict) else None
    if not isinstance(remaining, int) or isinstance(remaining, bool):
        return f"it would drop {dropped}, and the re-encryption record of {event.get('time')} has no counts"
    if remaining:
        detail = ", ".join(f"{counts.get(kind, 0)} {kind}" for kind in ("failed", "changed"))
        return (
            f"it would drop {dropped}, and {remaining} stored values may still be encrypted with it "
            f"(re-encryption of {event.get('time')}: {detail} during the run)"
        )
    return None


def rotate(name: str, env: str, path: Path, accept_data_loss: bool = False) -> tuple[str, str | None]:
    """Rotate ``name`` in ``path``; return the new value and the one kept as ``NAME_PREVIOUS``.

    Raises:
        KeyInUseError: the rotation would drop a previous encryption key that stored values may
            still use (:func:`previous_key_in_use`) and ``accept_data_loss`` is off.
        KeysError: the file is missing or tracked, or does not set ``name``.
    """
    if not path.exists():
        raise KeysError(f"{path} does not exist: create it with `make keys-generate ENV={env}`")
    _refuse_tracked(path)
    try:
        current = path.read_bytes().decode("utf-8")
    except IsADirectoryError:
        raise KeysError(f"{path} is a directory, not a dotenv file") from None
    except UnicodeDecodeError as exc:
        raise KeysError(f"{path} cannot be read as UTF-8 text (byte {exc.start})") from None
    in_use = previous_key_in_use(name, env, envfile.parse(current))
    if in_use and not accept_data_loss:
        raise KeyInUseError(
            f"refusing to rotate {name} in {path}: {in_use}. Run `make keys-reencrypt ENV={env}` first (it moves "
            f"every value to the current key and records that in {auditlog.AUDIT_LOG}), then rotate again"
        )
    spec = keyrules.spec_for(name)
    stamp = auditlog.now().isoformat(timespec="seconds") if spec and spec.previous_until == "grace_period" else None
    new = keyrules.generate(name)
    text, old = rotated_text(current, name, new, rotated_at=stamp)
    write_secret_file(path, text)
    auditlog.record("rotate", env, name, new, previous=old)
    return new, old


def confirm(question: str) -> bool:
    """Ask a yes/no question on the terminal (questionary when installed); no terminal: no."""
    if not sys.stdin.isatty():
        return False
    try:
        # Imported here: optional, and only the interactive path needs it.
        import questionary
    except ImportError:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    return bool(questionary.confirm(question, default=False).ask())


def _after_rotation(name: str, env: str) -> str:
    spec = keyrules.spec_for(name)
    previous = name + keyrules.PREVIOUS_SUFFIX
    if spec is None or not spec.keeps_previous:
        return (
            f"set the new {name} on the server before deploying; {previous} keeps the old one "
            "until then (the service does not read it)"
        )
    if spec.previous_until == "reencryption":
        return (
            f"deploy it: fields encrypted with the old key stay readable through {previous}; once every "
            f"instance runs with the new key, run `make keys-reencrypt ENV={env}` to move every value to it "
            "(the next rotation is refused until then)"
        )
    if spec.previous_until == "grace_period":
        return (
            f"deploy it: values signed with the old key stay valid through {previous} until the access "
            f"policy's previous_jwt_key_grace_minutes after {name}{keyrules.ROTATED_AT_SUFFIX} have passed; "
            "the service refuses them after that"
        )
    return (
        f"deploy it: values signed with the old key stay valid through {previous}; remove it "
        "once the longest-lived of them (access tokens: see access_policy.json) has expired"
    )


def rotate_command(args: argparse.Namespace) -> int:
    """Run ``keys rotate``, asking first unless ``--yes``."""
    path = args.file or env_file_for(args.env)
    if args.name not in keyrules.KEY_NAMES:
        names = ", ".join(keyrules.KEY_NAMES)
        print(f"keys rotate: {args.name!r} is not a key of {keyrules.keys_file()}: use one of {names}")
        return 2
    if args.name not in {spec.name for spec in keyrules.generated_keys()}:
        print(
            f"keys rotate: {args.name} is issued by another system's operator: change it there, then put the "
            f"new value in {path}"
        )
        return 2
    question = f"Rotate {args.name} in {path} ({args.env})? The current value moves to {args.name}_PREVIOUS."
    if not args.yes and not confirm(question):
        print("keys rotate: not confirmed; nothing changed (pass --yes when no terminal is attached)")
        return 1
    try:
        new, old = rotate(args.name, args.env, path, accept_data_loss=args.accept_data_loss)
    except KeyInUseError as exc:
        print(f"keys rotate: {exc}")
        print("  nothing changed. A leaked key that must go now: --accept-data-loss drops it anyway, and every")
        print("  value still encrypted with it becomes unreadable for good")
        return 1
    except KeysError as exc:
        print(f"keys rotate: {exc}")
        return 1
    kept = f", old {keyrules.fingerprint(old)} kept as {args.name}_PREVIOUS" if old else ""
    print(f"keys rotate: {args.name} in {path} is now {keyrules.fingerprint(new)}{kept}")
    print(f"  next: {_after_rotation(args.name, args.env)}")
    return 0


# --- audit -------------------------------------------------------------------------------


def env_files() -> dict[str, Path]:
    """Return the env files present in the working directory, by environment."""
    # exists(), not is_file(): a folder named .env is reported by envfile.read, not skipped.
    return {env: env_file_for(env) for env in layers.ENVIRONMENTS if env_file_for(env).exists()}


def key_places(files: dict[str, Path]) -> dict[str, list[str]]:
    """Return, per key value, the ``env:NAME`` places of ``files`` (env → path) that hold it.

    Keys and their ``_PREVIOUS`` twins count; empty values and placeholders do not.
    """
    places: dict[str, list[str]] = {}
    for env, path in files.items():
        for name, value in envfile.read(path).items():
            if value and keyrules.spec_for(name) is not None and not keyrules.is_placeholder(value):
                places.setdefault(value, []).append(f"{env}:{name}")
    return places


def audit_keys(envs: list[str]) -> Report:
    """Audit the keys of ``envs`` (each env's conventional file) against the policies.

    Every present env file takes part in the reuse check, even when ``envs`` names one.
    """
    try:
        min_length = policyfiles.min_key_length()
        max_age = policyfiles.max_key_age_days()
    except policyfiles.PolicyError as exc:
        report = Report("keys audit")
        report.add("encryption policy", "fail", str(exc))
        return report
    rotation = f"rotate every {max_age} days" if max_age else "no rotation policy found"
    report = Report(f"keys audit (policy: at least {min_length} characters, {rotation})")
    everywhere = env_files()
    places = key_places(everywhere)
    details: list[dict[str, Any]] = []
    for env in envs:
        path = env_file_for(env)
        if not path.exists():
            fix = "make setup" if env == layers.DEFAULT_ENVIRONMENT else f"make keys-generate ENV={env}"
            report.add("env file", "fail", f"{path} does not exist", where=env, fix=fix)
            continue
        mode = file_mode(path)
        mode_ok = not mode & 0o077
        report.add(
            "file mode",
            "pass" if mode_ok else "fail",
            f"{mode:04o}" if mode_ok else f"{mode:04o}: keys need 0600",
            where=str(path),
            fix="" if mode_ok else f"chmod 600 {path}",
        )
        values = envfile.read(path)
        changes = auditlog.last_changes(env)
        entry: dict[str, Any] = {"env": env, "file": str(path), "mode": f"{mode:04o}", "keys": []}
        for spec in keyrules.KEYS:
            item = _audit_key(
                spec.name, env, values.get(spec.name), (min_length, max_age), places, changes.get(spec.name)
            )
            entry["keys"].append(item)
            report.add(spec.name, item["status"], item["summary"], where=str(path), fix=item["fix"])
        details.append(entry)
    report.details = {"min_key_length": min_length, "max_key_age_days": max_age, "files": details}
    return report


def _audit_key(
    name: str,
    env: str,
    value: str | None,
    rules: tuple[int, int | None],
    places: dict[str, list[str]],
    event: dict[str, Any] | None,
) -> dict[str, Any]:
    # One key's facts and verdict; `rules` is (minimum length, maximum age in days or None).
    min_length, max_age = rules
    strict = env in config.DEPLOYED
    item: dict[str, Any] = {
        "name": name,
        "present": bool(value),
        "length": len(value or ""),
        "bits": keyrules.estimated_bits(value or ""),
        "placeholder": bool(value) and keyrules.is_placeholder(value or ""),
        "fingerprint": keyrules.fingerprint(value) if value else None,
        "reused_in": [p for p in places.get(value, []) if p != f"{env}:{name}"] if value else [],
        "problems": [],
        "warnings": [],
    }
    problems = keyrules.key_problems(name, value, min_length)
    (item["problems"] if strict else item["warnings"]).extend(problems)
    if item["reused_in"]:
        reuse = f"{name} has the same value as {', '.join(item['reused_in'])}"
        deployed = strict or any(p.split(":")[0] in config.DEPLOYED for p in item["reused_in"])
        (item["problems"] if deployed else item["warnings"]).append(reuse)
    age = auditlog.age_days(event) if event else None
    item.update(age_days=round(age, 1) if age is not None else None, max_age_days=max_age)
    if value and event is None:
        item["warnings"].append(f"{name}: no generate/rotate event in {auditlog.AUDIT_LOG}, so its age is unknown")
    elif value and event is not None and event.get("fingerprint") != keyrules.fingerprint(value):
        item["warnings"].append(f"{name} was changed outside `keys` since its last logged event; its age is unknown")
    elif age is not None and max_age is not None and age > max_age:
        late = f"{name} is {age:.0f} days old; the encryption policy allows {max_age}"
        (item["problems"] if strict else item["warnings"]).append(late)
    status: Status = "fail" if item["problems"] else "warn" if item["warnings"] else "pass"
    facts = [f"{item['length']} characters, ~{item['bits']} bits"] if value else ["missing"]
    if age is not None:
        facts.append(f"{age:.0f} of {max_age} days" if max_age else f"{age:.0f} days old")
    item["status"] = status
    item["summary"] = "; ".join(facts + item["problems"] + item["warnings"])
    spec = keyrules.spec_for(name)
    if status == "pass":
        item["fix"] = ""
    elif spec is not None and spec.external:
        item["fix"] = f"set {name} in {env_file_for(env)} to the value its issuer (the registry's operator) gave"
    elif value:
        item["fix"] = f"keys rotate {name} --env {env}"
    else:
        # `ensure` appends missing keys to any env file and never touches the others.
        item["fix"] = f"keys ensure --file {env_file_for(env)}"

    return item


def audit_command(args: argparse.Namespace) -> int:
    """Run ``keys audit``."""
    envs = [args.env] if args.env else list(env_files()) or [layers.DEFAULT_ENVIRONMENT]
    return audit_keys(envs).emit(args.json)
