"""Notify the service of every change to a user, so it can cache who a token belongs to.

Each worker keeps the users its tokens belong to in memory and listens on the ``user_changed``
channel (``services/notified.py``); this trigger sends the user's id there when a row of
``users`` is updated or deleted (``*`` when the table is truncated), on commit, from any client:
the API, ``python -m <package>.admin`` or ``psql``. A worker that cannot find the trigger, or
loses its listening connection, reads the user from the database on every request instead.
Other databases (SQLite in development) have no notifications: nothing changes there.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    """Create the notifying function and its triggers on ``users`` (PostgreSQL only)."""
    if not _postgresql():
        return
    op.execute(
        """
        CREATE FUNCTION notify_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                PERFORM pg_notify('user_changed', '*');
            ELSE
                PERFORM pg_notify('user_changed', OLD.id::text);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER users_notify_changed AFTER UPDATE OR DELETE ON users "
        "FOR EACH ROW EXECUTE FUNCTION notify_user_changed()"
    )
    op.execute(
        "CREATE TRIGGER users_notify_truncated AFTER TRUNCATE ON users "
        "FOR EACH STATEMENT EXECUTE FUNCTION notify_user_changed()"
    )


def downgrade() -> None:
    """Drop the triggers and the function (PostgreSQL only)."""
    if not _postgresql():
        return
    op.execute("DROP TRIGGER IF EXISTS users_notify_truncated ON users")
    op.execute("DROP TRIGGER IF EXISTS users_notify_changed ON users")
    op.execute("DROP FUNCTION IF EXISTS notify_user_changed()")
