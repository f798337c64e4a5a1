"""Databases for benchmark servers: one migrated, seeded template per run, cloned per server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# A Redis database of its own, so bench keys never meet the test suites' rate-limit counters.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
BENCH_ORIGIN = "http://bench.test"


def _dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def postgres_available() -> bool:
    """True when the PostgreSQL server answers."""
    try:
        import psycopg

        psycopg.connect(_dsn(POSTGRES_URL), connect_timeout=2).close()
        return True
    except Exception:
        return False


def redis_available() -> bool:
    """True when Redis answers PING."""
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


def _postgres_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(_dsn(POSTGRES_URL), autocommit=True) as connection:
        connection.execute(sql)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def django_env(database_url: str, **extra: str) -> dict:
    """A server environment: no inherited Parley/AI settings, production mode, quiet logs."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PARLEY_", "AI_", "CHANNEL_LAYER_")) and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL=database_url, SECRET_KEY="bench-secret-not-for-production", DEBUG="0",
               ALLOWED_HOSTS="127.0.0.1,localhost", DJANGO_SETTINGS_MODULE="chatsite.settings",
               PYTHONUNBUFFERED="1", SECURE_COOKIES="0", LOG_LEVEL="WARNING", PORT="8000", **extra)
    return env


def manage(env: dict, *args: str, timeout: float = 300) -> str:
    """Run a management command; its output, or RuntimeError with the tail of its errors."""
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


class Databases:
    """Hands out fresh copies of one migrated, seeded database (PostgreSQL, or SQLite files)."""

    def __init__(self, engine: str):
        self.engine = engine
        self.tag = uuid.uuid4().hex[:8]
        self.template: str | None = None
        self.copies: list[str] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="parley-bench-"))

    def _url(self, name: str) -> str:
        if self.engine == "postgres":
            return _with_database(POSTGRES_URL, name)
        return f"sqlite:///{self.tmp / (name + '.sqlite3')}"

    def _build_template(self) -> None:
        name = f"parley_bench_tmpl_{self.tag}"
        if self.engine == "postgres":
            _postgres_admin(f'CREATE DATABASE "{name}"')
        env = django_env(self._url(name))
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--origin", BENCH_ORIGIN)
        self.template = name

    def fresh(self) -> str:
        """The URL of a new database equal to the template."""
        if self.template is None:
            self._build_template()
        name = f"parley_bench_{self.tag}_{len(self.copies)}"
        if self.engine == "postgres":
            _postgres_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        else:
            shutil.copy(self.tmp / f"{self.template}.sqlite3", self.tmp / f"{name}.sqlite3")
        self.copies.append(name)
        return self._url(name)

    def drop(self, url: str) -> None:
        """Remove one copy (its server has stopped)."""
        name = url.rsplit("/", 1)[1].removesuffix(".sqlite3")
        if self.engine == "postgres":
            _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            for suffix in ("", "-wal", "-shm"):
                (self.tmp / f"{name}.sqlite3{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        """Drop everything this run created."""
        for name in self.copies:
            self.drop(self._url(name))
        if self.template and self.engine == "postgres":
            _postgres_admin(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        shutil.rmtree(self.tmp, ignore_errors=True)
