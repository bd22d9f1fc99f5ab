"""Phone number validation with Google's libphonenumber rules (region CN)."""

from __future__ import annotations

import phonenumbers

from ..domain.incident import IncidentInvalid


def normalize_cn_phone(raw: str | None) -> str | None:
    """A valid Chinese number as digits (mobile 11 digits, fixed line with area code)."""
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException as exc:
        raise IncidentInvalid("invalid-phone", f"phone is not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise IncidentInvalid("invalid-phone", "phone is not a valid number in China")
    if number.country_code != 86:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL).replace(
        " ", "").replace("-", "")
