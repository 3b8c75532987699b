"""Items: CRUD owned by a user, with read-through caches and an encrypted field.

A read looks in the worker's own memory first (:class:`~.notified.NotifiedCache`, on only
while PostgreSQL notifies every change to an item), and a row it lacks comes from the database.
While that memory is off (SQLite, or the listener reconnecting), the shared cache (Redis where
configured), which every worker and instance fills, stands in front of the database instead.
Both hold the row as stored: the note stays encrypted until an answer needs it.

Why not both in turn: a row by primary key costs PostgreSQL one round trip, as a Redis ``GET``
does, so the shared cache behind the worker's memory would add a ``GET`` and a ``SET`` to every
miss and save nothing; and only the database's copy is never older than a change made outside
the API (``psql``, another service), which the notifications report but the shared cache never
hears of.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..cache import SafeCache
from ..core.crypto import DecryptionError, FieldCipher, field_context
from ..core.errors import NotFoundError, StoredValueError
from ..core.security import sign, unsign
from ..core.settings import Settings
from ..models.schemas import ItemCreate, ItemRead, ItemUpdate
from ..models.tables import Item
from .notified import NotifiedCache
from .principals import Caller, RowReader

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CachedItem:
    """An item row as the cache holds it: the columns, the note still encrypted.

    A plain record rather than an ORM ``Item``: building one of those costs more than the rest
    of a cache hit, and a cached row is never changed or saved.
    """

    id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    description: str
    secret_note_encrypted: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def secret_note_context(self) -> str:
        """What the note's ciphertext is bound to (see ``Item.secret_note_context``)."""
        return field_context(Item.__tablename__, "secret_note", self.id)


# One item's columns in :class:`CachedItem`'s order, read without the ORM (a cache miss).
_ITEM_BY_ID = select(
    Item.id,
    Item.owner_id,
    Item.title,
    Item.description,
    Item.secret_note_encrypted,
    Item.created_at,
    Item.updated_at,
).where(Item.id == bindparam("item_id"))


@dataclass
class ItemService:
    """Item operations; one instance serves every request of an app.

    Each operation opens its own database session, and a read a cache answers opens none;
    ``reads`` runs the one statement of a cache miss (``Database.reads``). ``rows`` is the
    worker's memory of items (see the module docstring).
    """

    sessions: async_sessionmaker[AsyncSession]
    reads: RowReader
    cache: SafeCache
    rows: NotifiedCache[CachedItem]
    cipher: FieldCipher
    settings: Settings

    def _to_read(self, item: Item | CachedItem) -> ItemRead:
        """Return the item as the API shows it, its note decrypted.

        Raises:
            StoredValueError: the note does not decrypt for this row (moved from another row,
                or tampered with): answered 500, and the value is never shown.
        """
        note = None
        if item.secret_note_encrypted:
            try:
                note = self.cipher.decrypt(item.secret_note_encrypted, context=item.secret_note_context)
            except DecryptionError as exc:
                logger.error("the secret note of item %s does not decrypt for its row: %s", item.id, exc)
                raise StoredValueError("a stored value of this item failed its integrity check") from exc
        return ItemRead(
            id=item.id,
            owner_id=item.owner_id,
            title=item.title,
            description=item.description,
            secret_note=note,
            created_at=item.created_at,
            updated_at=item.updated_at,
        )

    @staticmethod
    def _cache_key(item_id: uuid.UUID) -> str:
        return f"item:{item_id}"

    async def _load(self, item_id: uuid.UUID) -> CachedItem | None:
        """Read an item: from the worker's memory, else from the database or the shared cache."""
        return await self.rows.fetch(item_id, lambda: self._read_through(item_id))

    async def _read_through(self, item_id: uuid.UUID) -> CachedItem | None:
        """Read an item from the database, through the shared cache while the worker's memory is off.

        The shared cache holds the row as stored (ciphertext, never the plaintext note), signed
        with SECRET_KEY so a value written into the cache by anyone else is ignored.
        """
        shared = not self.rows.enabled
        if shared:
            cached = await self.cache.get(self._cache_key(item_id))
            if cached is not None:
                payload = unsign(cached.decode("utf-8"), self.settings)
                if payload is not None:
                    return _item_from_json(payload)
        found = await self.reads.first(_ITEM_BY_ID, item_id=item_id)
        if found is None:
            return None
        row = CachedItem(*found)
        if shared:
            entry = sign(_item_to_json(row), self.settings).encode()
            await self.cache.set(self._cache_key(item_id), entry, self.settings.cache.default_ttl)
        return row

    async def get(self, item_id: uuid.UUID, user: Caller) -> ItemRead:
        """Return an item the user owns (admins see every item).

        Raises:
            NotFoundError: no such item, or it belongs to someone else.
        """
        item = await self._load(item_id)
        if item is None or (item.owner_id != user.id and user.role != "admin"):
            raise NotFoundError("item not found")
        return self._to_read(item)

    async def create(self, data: ItemCreate, user: Caller) -> ItemRead:
        """Create an item owned by ``user``."""
        # The id is chosen here rather than at flush: the note is bound to it when encrypted.
        item = Item(id=uuid.uuid4(), owner_id=user.id, title=data.title, description=data.description)
        if data.secret_note is not None:
            item.secret_note_encrypted = self.cipher.encrypt(data.secret_note, context=item.secret_note_context)
        async with self.sessions() as session:
            session.add(item)
            await session.commit()
        return self._to_read(item)

    async def list(self, user: Caller, limit: int, offset: int) -> tuple[list[ItemRead], int]:
        """Return one page of the user's items, oldest first, and their total count."""
        owned = Item.owner_id == user.id
        async with self.sessions() as session:
            total = await session.scalar(select(func.count()).select_from(Item).where(owned))
            result = await session.execute(
                select(Item).where(owned).order_by(Item.created_at, Item.id).limit(limit).offset(offset)
            )
            rows = list(result.scalars())
        return [self._to_read(item) for item in rows], int(total or 0)

    @staticmethod
    async def _owned(session: AsyncSession, item_id: uuid.UUID, user: Caller) -> Item:
        item = await session.get(Item, item_id)
        if item is None or (item.owner_id != user.id and user.role != "admin"):
            raise NotFoundError("item not found")
        return item

    async def update(self, item_id: uuid.UUID, data: ItemUpdate, user: Caller) -> ItemRead:
        """Change the given fields of an item the user owns.

        Raises:
            NotFoundError: no such item, or it belongs to someone else.
        """
        async with self.sessions() as session:
            item = await self._owned(session, item_id, user)
            self._change(item, data)
            await session.commit()
        await self._forget(item_id)
        return self._to_read(item)

    def _change(self, item: Item, data: ItemUpdate) -> None:
        changes = data.model_dump(exclude_unset=True)
        if "title" in changes and changes["title"] is not None:
            item.title = changes["title"]
        if "description" in changes and changes["description"] is not None:
            item.description = changes["description"]
        if "secret_note" in changes:
            note = changes["secret_note"]
            item.secret_note_encrypted = (
                self.cipher.encrypt(note, context=item.secret_note_context) if note is not None else None
            )

    async def delete(self, item_id: uuid.UUID, user: Caller) -> None:
        """Delete an item the user owns.

        Raises:
            NotFoundError: no such item, or it belongs to someone else.
        """
        async with self.sessions() as session:
            await session.delete(await self._owned(session, item_id, user))
            await session.commit()
        await self._forget(item_id)

    async def _forget(self, item_id: uuid.UUID) -> None:
        """Drop the copies of a changed item: this worker's at once, then the shared cache's.

        The other workers drop theirs when the change's notification reaches them.
        """
        self.rows.invalidate(item_id)
        await self.cache.delete(self._cache_key(item_id))


def _item_to_json(item: Item | CachedItem) -> str:
    return json.dumps(
        {
            "id": str(item.id),
            "owner_id": str(item.owner_id),
            "title": item.title,
            "description": item.description,
            "secret_note_encrypted": item.secret_note_encrypted,
            "created_at": item.created_at.isoformat(),
            "updated_at": item.updated_at.isoformat(),
        }
    )


def _item_from_json(payload: str) -> CachedItem:
    data = json.loads(payload)
    return CachedItem(
        id=uuid.UUID(data["id"]),
        owner_id=uuid.UUID(data["owner_id"]),
        title=data["title"],
        description=data["description"],
        secret_note_encrypted=data["secret_note_encrypted"],
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
    )
