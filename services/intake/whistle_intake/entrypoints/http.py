"""HTTP API of intake."""

from __future__ import annotations

from fastapi import APIRouter
from whistle_catalogue import load_catalogue

router = APIRouter(prefix="/v1", tags=["intake"])


@router.get("/categories")
async def categories() -> dict:
    """The dispatch catalogue (派单目录)."""
    return load_catalogue().as_dict()
