"""Administration from a shell: ``python -m <package>.admin promote EMAIL | reencrypt``.

``promote``: only an admin may list users or change roles through the API, so the first admin is
made here, on the machine that holds the configuration: register through ``POST /auth/register``,
then promote that account.

``reencrypt``: move every stored encrypted value to the current ``DB_ENCRYPTION_KEY``
(:mod:`.services.reencryption`) and record the run in the key audit log, which ``keys rotate``
reads before it drops a previous key (``make keys-reencrypt ENV=…``).

Both work on the database the settings name (``APP_ENV``, ``DATABASE_URL``, ``.env`` or the
``--env-file`` given), through the same services layer as the API.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from .cache import create_cache
from .core.crypto import FieldCipher
from .core.errors import NotFoundError
from .core.keys import KEY_AUDIT_LOG, fingerprint
from .core.settings import Settings, get_settings
from .db import Database
from .models.tables import User
from .services import reencryption, users


async def promote(settings: Settings, email: str) -> User:
    """Give the user with ``email`` the admin role in the database of ``settings``.

    Raises:
        NotFoundError: no user has this email.
    """
    database = Database(settings)
    try:
        async with database.sessions() as session:
            return await users.promote(session, email)
    finally:
        await database.dispose()


async def reencrypt(
    settings: Settings, batch_size: int, dry_run: bool = False, progress: bool = False
) -> reencryption.Counts:
    """Re-encrypt every stored value of the database of ``settings`` with its current key."""
    previous = settings.db_encryption_key_previous
    cipher = FieldCipher(
        settings.db_encryption_key.get_secret_value(), previous.get_secret_value() if previous else None
    )
    database = Database(settings)
    cache = create_cache(settings)

    def report(counts: reencryption.Counts) -> None:
        print(f"  … {counts.scanned} scanned, {counts.reencrypted} re-encrypted", flush=True)

    try:
        return await reencryption.reencrypt(
            database.sessions,
            cipher,
            batch_size=batch_size,
            cache=None if dry_run else cache,
            dry_run=dry_run,
            after_batch=report if progress else None,
        )
    finally:
        await cache.close()
        await database.dispose()


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}.admin", description="Administer the service's users from a shell."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    promote_command = commands.add_parser("promote", help="give a registered user the admin role")
    promote_command.add_argument("email", help="the email the user registered with")
    reencrypt_command = commands.add_parser(
        "reencrypt",
        help="move every encrypted value to the current DB_ENCRYPTION_KEY (batched; safe to interrupt and re-run)",
    )
    reencrypt_command.add_argument(
        "--batch-size",
        type=_positive,
        default=reencryption.DEFAULT_BATCH_SIZE,
        help=f"rows per transaction (default {reencryption.DEFAULT_BATCH_SIZE})",
    )
    reencrypt_command.add_argument("--dry-run", action="store_true", help="count what would change; write nothing")
    reencrypt_command.add_argument(
        "--env-file", type=Path, help="dotenv file with the keys (default: .env; e.g. .env.production)"
    )
    reencrypt_command.add_argument(
        "--audit-log", type=Path, default=KEY_AUDIT_LOG, help=f"where the run is recorded (default {KEY_AUDIT_LOG})"
    )
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    """Run the command in ``argv`` against ``settings`` (default: loaded from the environment)."""
    args = build_parser().parse_args(argv)
    if args.command == "reencrypt":
        return reencrypt_main(args, settings)
    try:
        user = asyncio.run(promote(settings or get_settings(), args.email))
    except NotFoundError:
        print(f"no user has the email {args.email}: register it first (POST /auth/register)", file=sys.stderr)
        return 1
    print(f"{user.email} is an admin")
    return 0


def reencrypt_main(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """Run ``reencrypt``: report the counts, record a finished run; exit 1 while values remain."""
    if settings is None:
        if args.env_file is not None and not args.env_file.is_file():
            print(
                f"reencrypt: {args.env_file} is not a file: name the dotenv file that holds the keys", file=sys.stderr
            )
            return 2
        try:
            settings = Settings(_env_file=args.env_file) if args.env_file is not None else get_settings()
        except ValidationError as exc:
            # The settings name each problem (never a value: hide_input_in_errors); one line each.
            problems = "; ".join(
                f"{'.'.join(map(str, error['loc'])) or 'settings'}: {error['msg']}" for error in exc.errors()
            )
            print(f"reencrypt: the settings do not load: {problems}", file=sys.stderr)
            return 2
    key = settings.db_encryption_key.get_secret_value()
    previous = settings.db_encryption_key_previous
    mode = " (dry run: nothing is written)" if args.dry_run else ""
    print(
        f"reencrypt: {settings.app_env}, to DB_ENCRYPTION_KEY {fingerprint(key)}, {args.batch_size} rows a batch{mode}"
    )
    counts = asyncio.run(reencrypt(settings, args.batch_size, args.dry_run, progress=True))
    print(
        f"reencrypt: {counts.scanned} scanned, {counts.reencrypted} re-encrypted, "
        f"{counts.already_current} already current, {counts.failed} failed, {counts.changed} changed during the run"
    )
    if counts.failed_ids:
        shown = ", ".join(counts.failed_ids)
        print(f"  failed (no configured key decrypts them for their row; see the log): items {shown}")
    if args.dry_run:
        return 0 if counts.remaining == 0 else 1
    try:
        reencryption.record(
            settings.app_env, key, previous.get_secret_value() if previous else None, counts, args.audit_log
        )
    except OSError as exc:
        print(f"reencrypt: could not record the run in {args.audit_log} ({exc.strerror})", file=sys.stderr)
        return 1
    if counts.remaining:
        print(
            f"  {counts.remaining} values are not on the current key: fix or clear the failed ones and run again; "
            "until then `keys rotate DB_ENCRYPTION_KEY` keeps refusing to drop DB_ENCRYPTION_KEY_PREVIOUS"
        )
        return 1
    print(
        f"  recorded in {args.audit_log}: every value is on {fingerprint(key)}, "
        "so `keys rotate DB_ENCRYPTION_KEY` may drop the previous key"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
