"""Items owned by the authenticated user."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from ...models.schemas import ItemCreate, ItemRead, ItemUpdate, Page
from ..deps import CurrentUser, ItemServiceDep, PageDep

router = APIRouter(prefix="/items", tags=["items"])


@router.post("", response_model=ItemRead, status_code=status.HTTP_201_CREATED)
async def create_item(data: ItemCreate, user: CurrentUser, items: ItemServiceDep) -> ItemRead:
    """Create an item owned by the caller."""
    return await items.create(data, user)


@router.get("", response_model=Page[ItemRead])
async def list_items(user: CurrentUser, items: ItemServiceDep, page: PageDep) -> Page[ItemRead]:
    """List the caller's items, oldest first."""
    rows, total = await items.list(user, page.limit, page.offset)
    return Page[ItemRead](items=rows, total=total, limit=page.limit, offset=page.offset)


@router.get("/{item_id}", response_model=ItemRead)
async def get_item(item_id: uuid.UUID, user: CurrentUser, items: ItemServiceDep) -> ItemRead:
    """Return one of the caller's items."""
    return await items.get(item_id, user)


@router.patch("/{item_id}", response_model=ItemRead)
async def update_item(item_id: uuid.UUID, data: ItemUpdate, user: CurrentUser, items: ItemServiceDep) -> ItemRead:
    """Change some fields of one of the caller's items."""
    return await items.update(item_id, data, user)


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(item_id: uuid.UUID, user: CurrentUser, items: ItemServiceDep) -> Response:
    """Delete one of the caller's items."""
    await items.delete(item_id, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
