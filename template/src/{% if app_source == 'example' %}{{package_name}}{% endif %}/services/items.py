"""Items: CRUD owned by a user, with a read-through cache and an encrypted field."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..cache import SafeCache
from ..core.crypto import DecryptionError, FieldCipher
from ..core.errors import NotFoundError, StoredValueError
from ..core.security import sign, unsign
from ..core.settings import Settings
from ..models.schemas import ItemCreate, ItemRead, ItemUpdate
from ..models.tables import Item
from .principals import Caller

logger = logging.getLogger(__name__)


@dataclass
class ItemService:
    """Item operations for one request."""

    session: AsyncSession
    cache: SafeCache
    cipher: FieldCipher
    settings: Settings

    def _to_read(self, item: Item) -> ItemRead:
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

    async def _load(self, item_id: uuid.UUID) -> Item | None:
        """Read an item through the cache.

        The cache holds the row as stored (ciphertext, never the plaintext note), signed with
        SECRET_KEY so a value written into the cache by anyone else is ignored.
        """
        cached = await self.cache.get(self._cache_key(item_id))
        if cached is not None:
            payload = unsign(cached.decode("utf-8"), self.settings)
            if payload is not None:
                return _item_from_json(payload)
        item = await self.session.get(Item, item_id)
        if item is not None:
            await self.cache.set(
                self._cache_key(item_id),
                sign(_item_to_json(item), self.settings).encode(),
                self.settings.cache.default_ttl,
            )
        return item

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
        self.session.add(item)
        await self.session.commit()
        return self._to_read(item)

    async def list(self, user: Caller, limit: int, offset: int) -> tuple[list[ItemRead], int]:
        """Return one page of the user's items, oldest first, and their total count."""
        owned = Item.owner_id == user.id
        total = await self.session.scalar(select(func.count()).select_from(Item).where(owned))
        result = await self.session.execute(
            select(Item).where(owned).order_by(Item.created_at, Item.id).limit(limit).offset(offset)
        )
        return [self._to_read(item) for item in result.scalars()], int(total or 0)

    async def _owned(self, item_id: uuid.UUID, user: Caller) -> Item:
        item = await self.session.get(Item, item_id)
        if item is None or (item.owner_id != user.id and user.role != "admin"):
            raise NotFoundError("item not found")
        return item

    async def update(self, item_id: uuid.UUID, data: ItemUpdate, user: Caller) -> ItemRead:
        """Change the given fields of an item the user owns.

        Raises:
            NotFoundError: no such item, or it belongs to someone else.
        """
        item = await self._owned(item_id, user)
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
        await self.session.commit()
        await self.cache.delete(self._cache_key(item_id))
        return self._to_read(item)

    async def delete(self, item_id: uuid.UUID, user: Caller) -> None:
        """Delete an item the user owns.

        Raises:
            NotFoundError: no such item, or it belongs to someone else.
        """
        item = await self._owned(item_id, user)
        await self.session.delete(item)
        await self.session.commit()
        await self.cache.delete(self._cache_key(item_id))


def _item_to_json(item: Item) -> str:
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


def _item_from_json(payload: str) -> Item:
    data = json.loads(payload)
    return Item(
        id=uuid.UUID(data["id"]),
        owner_id=uuid.UUID(data["owner_id"]),
        title=data["title"],
        description=data["description"],
        secret_note_encrypted=data["secret_note_encrypted"],
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
    )
