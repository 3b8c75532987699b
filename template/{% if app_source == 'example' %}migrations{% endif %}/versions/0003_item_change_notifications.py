"""Notify the service of every change to an item, so each worker can keep the items read most.

Each worker keeps recently read items in memory and listens on the ``item_changed`` channel
(``services/notified.py``); this trigger sends the item's id there when a row of ``items`` is
updated or deleted (``*`` when the table is truncated), on commit, from any client. A worker
that cannot find the trigger, or loses its listening connection, reads items from the shared
cache or the database instead. Other databases (SQLite in development) have no notifications.
It repeats the shape of 0002 rather than sharing code with it: a migration must run the same way
whatever the code around it becomes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    """Create the notifying function and its triggers on ``items`` (PostgreSQL only)."""
    if not _postgresql():
        return
    op.execute(
        """
        CREATE FUNCTION notify_item_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                PERFORM pg_notify('item_changed', '*');
            ELSE
                PERFORM pg_notify('item_changed', OLD.id::text);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER items_notify_changed AFTER UPDATE OR DELETE ON items "
        "FOR EACH ROW EXECUTE FUNCTION notify_item_changed()"
    )
    op.execute(
        "CREATE TRIGGER items_notify_truncated AFTER TRUNCATE ON items "
        "FOR EACH STATEMENT EXECUTE FUNCTION notify_item_changed()"
    )


def downgrade() -> None:
    """Drop the triggers and the function (PostgreSQL only)."""
    if not _postgresql():
        return
    op.execute("DROP TRIGGER IF EXISTS items_notify_truncated ON items")
    op.execute("DROP TRIGGER IF EXISTS items_notify_changed ON items")
    op.execute("DROP FUNCTION IF EXISTS notify_item_changed()")
