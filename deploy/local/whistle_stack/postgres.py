"""PostgreSQL for the local stack: Debian's server binaries on a project-local data folder."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .paths import Layout
from .procs import StackError, port_open, wait_until

DATABASES = ("intake", "dispatch", "scoring", "notify")
DEV_USER = "whistle"
DEV_PASSWORD = "whistle"  # development default; the local cluster listens on 127.0.0.1 only


def _bindir() -> Path | None:
    explicit = os.environ.get("PG_BINDIR")
    if explicit:
        return Path(explicit)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if candidates:
        return Path(candidates[-1])
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


@dataclass(frozen=True)
class Postgres:
    """A project-local PostgreSQL cluster, or an existing server named by DATABASE_URL."""

    layout: Layout
    port: int = int(os.environ.get("PGPORT_LOCAL", "5432"))

    @property
    def external_url(self) -> str | None:
        return os.environ.get("DATABASE_URL") or None

    @property
    def admin_url(self) -> str:
        if self.external_url:
            return self.external_url
        return f"postgresql://{DEV_USER}:{DEV_PASSWORD}@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        """URL of one service's database on the same server as admin_url."""
        base, _, _ = self.admin_url.rpartition("/")
        query = ""
        tail = self.admin_url.rpartition("/")[2]
        if "?" in tail:
            query = "?" + tail.split("?", 1)[1]
        return f"{base}/{database}{query}"

    # -- local cluster --------------------------------------------------------------------------

    def _bin(self, name: str) -> str:
        bindir = _bindir()
        if bindir is None or not (bindir / name).exists():
            self._install()
            bindir = _bindir()
        if bindir is None or not (bindir / name).exists():
            raise StackError(
                "PostgreSQL server binaries not found. Install Debian's `postgresql` package "
                "(apt-get install postgresql) or set DATABASE_URL to an existing server."
            )
        return str(bindir / name)

    @staticmethod
    def _install() -> None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            return
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], env=env,
                       capture_output=True)

    @staticmethod
    def _as_owner(argv: list[str]) -> list[str]:
        """PostgreSQL refuses to run as root: run it as the `postgres` system user instead."""
        if os.geteuid() != 0:
            return argv
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
        return ["runuser", "-u", "postgres", "--", *argv]

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for p in [path, *path.rglob("*")]:
                os.chown(p, entry.pw_uid, entry.pw_gid)

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess:
        result = subprocess.run(self._as_owner(argv), capture_output=True, text=True)
        if result.returncode != 0:
            raise StackError(f"{' '.join(argv[:2])} failed:\n{result.stdout}{result.stderr}")
        return result

    def initialized(self) -> bool:
        return (self.layout.pg_data / "PG_VERSION").exists()

    def running(self) -> bool:
        return (self.layout.pg_data / "postmaster.pid").exists() and port_open(
            "127.0.0.1", self.port)

    def init(self) -> None:
        if self.initialized():
            return
        data = self.layout.pg_data
        data.mkdir(parents=True, exist_ok=True)
        self.layout.pg_socket.mkdir(parents=True, exist_ok=True)
        pwfile = data.parent / "pwfile"
        pwfile.write_text(DEV_PASSWORD + "\n")
        self._chown(data.parent)
        self._run([self._bin("initdb"), "-D", str(data), "-U", DEV_USER, "--pwfile", str(pwfile),
                   "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"])
        pwfile.unlink()

    def start(self, *, timeout: float = 60.0) -> bool:
        """Start the local cluster if needed; True when this call started it."""
        if self.external_url:
            return False
        self.layout.ensure()
        self.init()
        if self.running():
            return False
        if port_open("127.0.0.1", self.port):
            raise StackError(f"port {self.port} is taken by a PostgreSQL this stack did not start")
        log = self.layout.logfile("postgres")
        log.touch()
        self._chown(log)
        self._chown(self.layout.pg_socket)
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                f"-c unix_socket_directories={self.layout.pg_socket} -c max_connections=200 "
                "-c shared_buffers=128MB -c fsync=on")
        self._run([self._bin("pg_ctl"), "-D", str(self.layout.pg_data), "-l", str(log),
                   "-o", opts, "-w", "-t", str(int(timeout)), "start"])
        wait_until(lambda: port_open("127.0.0.1", self.port), timeout=timeout, what="PostgreSQL")
        return True

    def stop(self, *, mode: str = "fast") -> None:
        if self.external_url or not self.initialized():
            return
        if not (self.layout.pg_data / "postmaster.pid").exists():
            return
        self._run([self._bin("pg_ctl"), "-D", str(self.layout.pg_data), "-m", mode, "-w", "stop"])

    def kill(self) -> None:
        """SIGKILL the postmaster (fault tests)."""
        pidfile = self.layout.pg_data / "postmaster.pid"
        if pidfile.exists():
            pid = int(pidfile.read_text().splitlines()[0])
            os.kill(pid, 9)

    async def ensure_databases(self) -> list[str]:
        """Create the four service databases when missing; return those created."""
        import asyncpg

        conn = await asyncpg.connect(self.admin_url)
        created = []
        try:
            existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
            for name in DATABASES:
                if name not in existing:
                    await conn.execute(f'CREATE DATABASE "{name}"')
                    created.append(name)
        finally:
            await conn.close()
        return created
