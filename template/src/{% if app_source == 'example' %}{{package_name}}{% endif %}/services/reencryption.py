"""Re-encryption: move every stored encrypted value to the current ``DB_ENCRYPTION_KEY``, format ``v2``.

``keys rotate DB_ENCRYPTION_KEY`` keeps the old key as ``DB_ENCRYPTION_KEY_PREVIOUS``; the
rotation after it replaces that key, and a value still sealed with it could never be read again.
So, between two rotations, this moves every value to the current key (and from the unbound ``v1``
format to ``v2``, bound to its row; see ``core/crypto.py``), and records the run in the key
audit log, where ``keys rotate`` reads it before it drops a key.

The work goes in batches of rows ordered by id, each committed on its own: an interrupted run
keeps what it did, and running again skips every value already on the current key. A row is
written only if it still holds the value that was read (compare and swap), so a note the service
changes meanwhile is never overwritten with an older one; such rows are counted as changed, and a
later run picks them up if they need it.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..cache import SafeCache
from ..core.crypto import DecryptionError, FieldCipher
from ..core.keys import reencryption_event
from ..models.tables import Item
from .items import ItemService

logger = logging.getLogger(__name__)
DEFAULT_BATCH_SIZE = 500
# Row ids of failures named in the report; the log names every one.
SHOWN_FAILURES = 20


@dataclass
class Counts:
    """What a run did, row by row (a row holds one encrypted value)."""

    scanned: int = 0
    reencrypted: int = 0
    already_current: int = 0
    failed: int = 0
    changed: int = 0
    failed_ids: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        """Values not known to be on the current key: failed, or changed by someone else meanwhile."""
        return self.failed + self.changed

    def as_record(self) -> dict[str, int]:
        """Return the counts as the audit record holds them."""
        return {
            "scanned": self.scanned,
            "reencrypted": self.reencrypted,
            "already_current": self.already_current,
            "failed": self.failed,
            "changed": self.changed,
            "remaining": self.remaining,
        }


async def reencrypt(
    sessions: async_sessionmaker[AsyncSession],
    cipher: FieldCipher,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    cache: SafeCache | None = None,
    dry_run: bool = False,
    after_batch: Callable[[Counts], None] | None = None,
) -> Counts:
    """Re-encrypt every item's secret note that is not on the current key in format ``v2``.

    Args:
        sessions: makes one session per batch; each batch commits before the next starts.
        cipher: the service's cipher (current key, and the previous one to read old values).
        batch_size: rows read and written per transaction.
        cache: the service's cache; cached copies of rewritten rows are deleted from it.
        dry_run: count only, write nothing.
        after_batch: called with the counts so far after each committed batch (progress).

    Returns:
        The counts of the whole run.
    """
    if batch_size < 1:
        raise ValueError(f"batch size {batch_size} must be at least 1")
    counts = Counts()
    last: uuid.UUID | None = None
    while True:
        async with sessions() as session:
            query = select(Item.id, Item.secret_note_encrypted).where(Item.secret_note_encrypted.is_not(None))
            if last is not None:
                query = query.where(Item.id > last)
            rows = (await session.execute(query.order_by(Item.id).limit(batch_size))).all()
            if not rows:
                return counts
            rewritten = []
            for item_id, value in rows:
                stored = cast(str, value)  # the query leaves out rows without a note
                counts.scanned += 1
                context = Item(id=item_id).secret_note_context
                try:
                    fresh = cipher.rewrap(stored, context=context)
                except DecryptionError:
                    logger.error("the secret note of item %s does not decrypt with either key; left as it is", item_id)
                    counts.failed += 1
                    if len(counts.failed_ids) < SHOWN_FAILURES:
                        counts.failed_ids.append(str(item_id))
                    continue
                if fresh is None:
                    counts.already_current += 1
                elif dry_run:
                    counts.reencrypted += 1
                elif await _swap(session, item_id, stored, fresh):
                    counts.reencrypted += 1
                    rewritten.append(item_id)
                else:
                    counts.changed += 1
            await session.commit()
            last = rows[-1][0]
        if cache is not None:
            for item_id in rewritten:
                # A cached copy holds the old ciphertext, which the next rotation makes unreadable.
                await cache.delete(ItemService._cache_key(item_id))
        if after_batch is not None:
            after_batch(counts)


async def _swap(session: AsyncSession, item_id: uuid.UUID, stored: str, fresh: str) -> bool:
    # Written only where the row still holds what was read; updated_at stays: nobody edited the note.
    result = await session.execute(
        update(Item)
        .where(Item.id == item_id, Item.secret_note_encrypted == stored)
        .values(secret_note_encrypted=fresh, updated_at=Item.updated_at)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def record(env: str, key: str, previous: str | None, counts: Counts, log: Path) -> dict[str, Any]:
    """Append the run to the key audit log; ``keys rotate`` reads it before dropping a previous key.

    The record holds fingerprints (as prodready writes them), never a key: which key every value
    is now on (``fingerprint``), the previous key the run could still read, and the counts.

    Returns:
        The record as written.
    """
    event = reencryption_event(env, key, previous, counts.as_record(), _actor(), datetime.now(UTC))
    log.parent.mkdir(parents=True, exist_ok=True)
    # Append-only, one line per run, readable by its owner only (the log sits beside the keys).
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(event, sort_keys=True) + "\n")
    return event


def _actor() -> str:
    name = os.environ.get("GITHUB_ACTOR") or os.environ.get("GITLAB_USER_LOGIN")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
