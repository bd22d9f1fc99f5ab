"""The session cookie and CSRF tokens.

The console keeps no state of its own: a session is a cookie holding the user's bearer token,
the scopes found at sign-in, an expiry and a CSRF secret, sealed with AES-256-GCM (authenticated
encryption: signed, and the token is unreadable to whoever sees the cookie). The cookie is
HttpOnly, SameSite=Strict, Secure in production, with Max-Age equal to the session's life; the
expiry inside the sealed payload is what counts, so an old cookie replayed after its Max-Age is
refused all the same.

CSRF: every form carries the session's random `csrf` value (a synchronizer token checked in
constant time); the sign-in form, which has no session yet, carries a nonce from a short-lived
sealed pre-session cookie (double submit). Requests with an `Origin` of another site are
refused as well.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SESSION_COOKIE = "whistle_console"
LOGIN_COOKIE = "whistle_console_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOGIN_SECONDS = 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Session:
    """Who is signed in, with what token and role, until when."""

    token: str
    client: str
    scopes: list[str]
    role: str  # street | operator | dept
    issued_at: float
    expires_at: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def depts(self) -> list[str]:
        return sorted(s.split(":", 1)[1] for s in self.scopes if s.startswith("dept:"))

    @property
    def streets(self) -> list[str]:
        return sorted(s.split(":", 1)[1] for s in self.scopes if s.startswith("street:"))

    @property
    def street(self) -> str | None:
        return self.streets[0] if self.streets else None

    @property
    def dept(self) -> str | None:
        return self.depts[0] if self.depts else None

    def expired(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) >= self.expires_at


class Sealer:
    """AES-GCM sealing of small JSON payloads under a key derived from the console secret."""

    def __init__(self, secret: str, purpose: str) -> None:
        key = hashlib.sha256(f"whistle-console|{purpose}|".encode() + secret.encode()).digest()
        self._aead = AESGCM(key)
        self._aad = f"whistle-console/{purpose}/v1".encode()

    def seal(self, payload: dict) -> str:
        nonce = os.urandom(12)
        data = json.dumps(payload, separators=(",", ":")).encode()
        return _b64(nonce + self._aead.encrypt(nonce, data, self._aad))

    def open(self, value: str | None) -> dict | None:
        if not value or len(value) > 8192:
            return None
        try:
            raw = _unb64(value)
            payload = self._aead.decrypt(raw[:12], raw[12:], self._aad)
            found = json.loads(payload)
        except (ValueError, InvalidTag):
            return None
        return found if isinstance(found, dict) else None


class SessionCodec:
    """Session cookies and the sign-in form's nonce."""

    def __init__(self, secret: str, lifetime: int) -> None:
        self.lifetime = lifetime
        self._session = Sealer(secret, "session")
        self._login = Sealer(secret, "login")

    def new(self, token: str, client: str, scopes: list[str], role: str,
            now: float | None = None) -> Session:
        now = time.time() if now is None else now
        return Session(token, client, sorted(scopes), role, now, now + self.lifetime)

    def dump(self, session: Session) -> str:
        return self._session.seal(asdict(session))

    def load(self, value: str | None) -> Session | None:
        """The session in a cookie, or None when absent, forged or malformed (expiry is the
        caller's check, so that it can say the session expired)."""
        found = self._session.open(value)
        if found is None:
            return None
        try:
            return Session(**found)
        except TypeError:
            return None

    def login_nonce(self, value: str | None, now: float | None = None) -> str | None:
        found = self._login.open(value)
        now = time.time() if now is None else now
        if not found or found.get("exp", 0) <= now:
            return None
        return found.get("n")

    def new_login(self, now: float | None = None) -> tuple[str, str]:
        """A nonce for the sign-in form and the sealed cookie that vouches for it."""
        nonce = secrets.token_urlsafe(24)
        now = time.time() if now is None else now
        return nonce, self._login.seal({"n": nonce, "exp": now + LOGIN_SECONDS})


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens; False when either is missing."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())
