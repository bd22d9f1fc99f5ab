"""What a department may see of the reporter: a masked phone number only."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str | None:
    """138****1234 for a mobile; the middle hidden for any other number."""
    if not phone:
        return None
    digits = phone.lstrip("+")
    if len(digits) < 8:
        return "****"
    return f"{digits[:3]}****{digits[-4:]}"
