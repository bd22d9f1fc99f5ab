"""asyncpg pool and a minimal, lock-protected SQL migration runner."""

from __future__ import annotations

import hashlib
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

MIGRATION_LOCK = 0x5717_0001  # pg advisory lock id: one migrator at a time per database


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10,
                      wait_seconds: float = 30.0) -> asyncpg.Pool:
    """Create a pool, retrying while the server is still starting."""
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(wait_seconds), wait=wait_exponential(0.2, max=2.0), reraise=True,
        retry=retry_if_exception_type((OSError, asyncpg.CannotConnectNowError,
                                       asyncpg.TooManyConnectionsError)),
    ):
        with attempt:
            return await asyncpg.create_pool(url, min_size=min_size, max_size=max_size,
                                             command_timeout=30, reset=reset_on_release)
    raise AssertionError("unreachable")


async def reset_on_release(conn: asyncpg.Connection) -> None:
    """What a connection needs before it goes back to the pool: no transaction left open.

    asyncpg's default reset sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
    on every release — a round trip and a transaction of its own for each of the thirty-odd
    pool uses of an incident. Nothing here leaves that state behind: settings are
    transaction-local (`set_config(..., true)`), advisory locks are `xact` locks except the
    migration lock (released in `migrate`'s finally), no cursor outlives its transaction, and
    the outbox relay removes its LISTEN before releasing its connection.
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


def migration_files(package: str) -> list[Traversable]:
    """The `NNNN_name.sql` files of a package's `migrations` folder, in order."""
    folder = resources.files(package) / "migrations"
    files = [f for f in folder.iterdir() if f.name.endswith(".sql")]
    return sorted(files, key=lambda f: f.name)


async def migrate(conn: asyncpg.Connection, packages: list[str]) -> list[str]:
    """Apply pending migrations of each package, each in its own transaction.

    Applied files are recorded in `schema_migrations` with a checksum; an edited file
    that was already applied is an error, not silently skipped.
    """
    applied_now = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   component text NOT NULL, version text NOT NULL, checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (component, version))""")
        for package in packages:
            done = {r["version"]: r["checksum"] for r in await conn.fetch(
                "SELECT version, checksum FROM schema_migrations WHERE component=$1", package)}
            for file in migration_files(package):
                sql = file.read_text(encoding="utf-8")
                checksum = hashlib.sha256(sql.encode()).hexdigest()
                if file.name in done:
                    if done[file.name] != checksum:
                        raise RuntimeError(f"migration {package}/{file.name} changed after "
                                           "it was applied; add a new migration instead")
                    continue
                async with conn.transaction():
                    if _has_statements(sql):
                        await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations(component, version, checksum) "
                        "VALUES ($1, $2, $3)", package, file.name, checksum)
                applied_now.append(f"{package}/{file.name}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return applied_now


def _has_statements(sql: str) -> bool:
    """False for a file of only comments and blank lines (asyncpg rejects an empty query)."""
    return any(line.strip() and not line.strip().startswith("--") for line in sql.splitlines())


# Errors meaning "the database is not reachable right now": answer 503 with Retry-After,
# never a 2xx for something not stored, never a 500.
UNAVAILABLE = (OSError, TimeoutError, asyncpg.PostgresConnectionError,
               asyncpg.CannotConnectNowError, asyncpg.InterfaceError,
               asyncpg.TooManyConnectionsError, asyncpg.OperatorInterventionError)
