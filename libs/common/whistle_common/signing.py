"""HMAC-SHA256 signatures over `timestamp.body`, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "x-whistle-signature"
TIMESTAMP_HEADER = "x-whistle-timestamp"
SENDER_HEADER = "x-whistle-dept"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `timestamp.` + body."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(sender: str, secret: str, body: bytes, now: float | None = None) -> dict:
    """Headers that authenticate body as sent by `sender`."""
    timestamp = str(int(now if now is not None else time.time()))
    return {SENDER_HEADER: sender, TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(secret: str, timestamp: str, body: bytes, signature: str, *,
           max_age: float | None = None, now: float | None = None) -> str | None:
    """None when valid; otherwise why not. `max_age` adds a replay window in seconds."""
    if not signature or not timestamp:
        return "unsigned"
    if not timestamp.isdigit():
        return "malformed timestamp"
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected, signature.lower()):
        return "signature mismatch"
    if max_age is not None:
        age = (now if now is not None else time.time()) - int(timestamp)
        if abs(age) > max_age:
            return f"timestamp outside the {int(max_age)} s replay window"
    return None
