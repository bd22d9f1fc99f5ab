"""One way to run a use case and one mapping of its failures.

`run_use_case` opens a unit of work, runs a handler `(uow, command)` and commits. Every failure
a handler may raise is mapped once, by `problem_for`: HTTP answers it as problem details
(RFC 9457), a consumer sends the event to its DLQ with the same slug as category — or retries,
when the database is only unavailable.

Domain packages import nothing from here (they hold pure rules); a service registers its
domain errors with `register` in its composition root or handlers module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg

from .db import UNAVAILABLE
from .problems import ProblemError
from .uow import UnitOfWork

T = TypeVar("T")
C = TypeVar("C")


class UseCaseError(Exception):
    """A failure a handler raises on purpose; subclasses say how it is answered."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str = "", **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail, self.extensions = detail, extensions


class NotFound(UseCaseError, LookupError):
    """No such thing (404)."""

    status, slug, title = 404, "not-found", "Not found"


class Conflict(UseCaseError):
    """Cannot be done in the current state (409)."""

    status, slug, title = 409, "conflict", "Conflict"


class IllegalTransition(Conflict):
    """The state machine refuses the step (409)."""

    slug, title = "illegal-transition", "Illegal transition"


class Rejected(UseCaseError):
    """A handler refuses an event or request as invalid; a consumer dead-letters it with
    `category`, HTTP answers 422."""

    status, title = 422, "Rejected"

    def __init__(self, reason: str, category: str = "rejected", **extensions: Any) -> None:
        super().__init__(reason, **extensions)
        self.reason, self.category = reason, category

    @property  # type: ignore[override]
    def slug(self) -> str:
        return self.category


@dataclass(frozen=True)
class Problem:
    """How a failure is answered: problem details, or a DLQ entry with `slug` as category."""

    status: int
    slug: str
    title: str
    detail: str = ""
    extensions: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    retry: bool = False  # transient: a consumer retries instead of dead-lettering

    def error(self) -> ProblemError:
        return ProblemError(self.status, self.slug, self.title, self.detail,
                            headers=dict(self.headers), **self.extensions)


Builder = Callable[[BaseException], Problem]
_REGISTERED: list[tuple[type[BaseException], Builder]] = []
UNAVAILABLE_PROBLEM = Problem(503, "unavailable", "Service unavailable",
                              "storage is unavailable; nothing was changed",
                              headers={"Retry-After": "5"}, retry=True)
TRANSIENT = (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)


def register(error: type[BaseException], status: int, slug: str | None = None,
             title: str | None = None, *, detail: Callable[[Any], str] = str) -> None:
    """Answer `error` (a domain exception that cannot import this module) as given; `slug`
    defaults to the exception's own `slug` attribute."""

    def build(exc: BaseException) -> Problem:
        name = slug or getattr(exc, "slug", None) or "error"
        return Problem(status, name, title or name.replace("-", " ").capitalize(), detail(exc))

    _REGISTERED.append((error, build))


def known_errors() -> tuple[type[BaseException], ...]:
    """Every exception type problem_for answers (for the HTTP exception handlers)."""
    return (UseCaseError, *(error for error, _ in _REGISTERED), *UNAVAILABLE, *TRANSIENT,
            asyncpg.DataError, UnicodeEncodeError)


def problem_for(exc: BaseException) -> Problem | None:
    """The answer to a known failure; None for a bug (HTTP 500, consumer retries then DLQ)."""
    if isinstance(exc, UseCaseError):
        return Problem(exc.status, exc.slug, exc.title, exc.detail, dict(exc.extensions))
    for error, build in reversed(_REGISTERED):
        if isinstance(exc, error):
            return build(exc)
    if isinstance(exc, UNAVAILABLE) or isinstance(exc, TRANSIENT):
        return UNAVAILABLE_PROBLEM
    if isinstance(exc, asyncpg.DataError):
        # SQLSTATE class 22: a value the database cannot take (NUL bytes, out of range, …)
        return Problem(422, "invalid-value", "Invalid value",
                       f"a value was refused: {type(exc).__name__}")
    if isinstance(exc, UnicodeEncodeError):
        return Problem(422, "invalid-text", "Text is not valid Unicode",
                       "a field contains characters that cannot be stored (lone surrogates)")
    return None


async def run_use_case(unit_of_work: Callable[[], UnitOfWork],
                       handler: Callable[[UnitOfWork, C], Awaitable[T]], command: C) -> T:
    """Run `handler(uow, command)` in a fresh unit of work and commit it; a known failure
    becomes a ProblemError (problem details), anything else propagates (500)."""
    try:
        async with unit_of_work() as uow:
            result = await handler(uow, command)
            await uow.commit()
        return result
    except ProblemError:
        raise
    except Exception as exc:
        problem = problem_for(exc)
        if problem is None:
            raise
        raise problem.error() from exc
