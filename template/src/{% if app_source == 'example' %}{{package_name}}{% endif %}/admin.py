"""Administration from a shell: ``python -m <package>.admin promote EMAIL``.

Only an admin may list users or change roles through the API, so the first admin is made here,
on the machine that holds the configuration: register through ``POST /auth/register``, then
promote that account. The command works on the database the settings name (``APP_ENV``,
``DATABASE_URL``, ``.env``), through the same services layer as the API.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from .core.errors import NotFoundError
from .core.settings import Settings, get_settings
from .db import Database
from .models.tables import User
from .services import users


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


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}.admin", description="Administer the service's users from a shell."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    promote_command = commands.add_parser("promote", help="give a registered user the admin role")
    promote_command.add_argument("email", help="the email the user registered with")
    return parser


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    """Run the command in ``argv`` against ``settings`` (default: loaded from the environment)."""
    args = build_parser().parse_args(argv)
    try:
        user = asyncio.run(promote(settings or get_settings(), args.email))
    except NotFoundError:
        print(f"no user has the email {args.email}: register it first (POST /auth/register)", file=sys.stderr)
        return 1
    print(f"{user.email} is an admin")
    return 0


if __name__ == "__main__":
    sys.exit(main())
