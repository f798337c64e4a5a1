"""Databases for benchmark servers: one migrated, seeded template per run, cloned per server."""

from __future__ import annotations

import json
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
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PARLEY_", "AI_", "CHANNEL_LAYER_")) and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="bench-secret-not-for-production-" + "h3Jk8Lm2Np5Qr9St" * 3,
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        PYTHONUNBUFFERED="1",
        SECURE_COOKIES="0",
        LOG_LEVEL="WARNING",
        PORT="8000",
    )
    env.update(extra)
    return env


def manage(env: dict, *args: str, timeout: float = 300) -> str:
    """Run a management command; its output, or RuntimeError with the tail of its errors."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


class Databases:
    """Fresh copies of a migrated, seeded database, with fixture data (bench/fixtures.py) made once per spec.

    A scenario starts many servers on the same data; copying a template is much cheaper than building it.
    """

    def __init__(self, engine: str):
        self.engine = engine
        self.tag = uuid.uuid4().hex[:8]
        self.base: str | None = None
        self.templates: dict[str, tuple[str, dict]] = {}  # fixture spec -> (database name, fixture output)
        self.names: list[str] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="parley-bench-"))

    def url(self, name: str) -> str:
        if self.engine == "postgres":
            return _with_database(POSTGRES_URL, name)
        return f"sqlite:///{self.tmp / (name + '.sqlite3')}"

    def _new_name(self) -> str:
        name = f"parley_bench_{self.tag}_{len(self.names)}"
        self.names.append(name)
        return name

    def _copy(self, template: str) -> str:
        name = self._new_name()
        if self.engine == "postgres":
            _postgres_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            shutil.copy(self.tmp / f"{template}.sqlite3", self.tmp / f"{name}.sqlite3")
        return name

    def _base(self) -> str:
        if self.base is None:
            name = self._new_name()
            if self.engine == "postgres":
                _postgres_admin(f'CREATE DATABASE "{name}"')
            env = django_env(self.url(name))
            manage(env, "migrate", "--noinput")
            manage(env, "seed_demo", "--origin", BENCH_ORIGIN)
            self.base = name
        return self.base

    def fresh(self, fixture: dict | None = None) -> tuple[str, dict]:
        """A new database with the fixture's data: its URL and the fixture's output (tokens, cookies, ids)."""
        key = json.dumps(fixture or {}, sort_keys=True)
        if key not in self.templates:
            name = self._copy(self._base())
            output = run_fixture(django_env(self.url(name)), fixture) if fixture else {}
            self.templates[key] = (name, output)
        template, output = self.templates[key]
        return self.url(self._copy(template)), output

    def drop(self, url: str) -> None:
        """Remove one copy (its server has stopped)."""
        name = url.rsplit("/", 1)[1].removesuffix(".sqlite3")
        if self.engine == "postgres":
            _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            for suffix in ("", "-wal", "-shm", "-journal"):
                (self.tmp / f"{name}.sqlite3{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        """Drop everything this run created."""
        for name in reversed(self.names):
            self.drop(self.url(name))
        shutil.rmtree(self.tmp, ignore_errors=True)


def run_fixture(env: dict, spec: dict) -> dict:
    """Make bench/fixtures.py's data in the database `env` names; its JSON output."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.fixtures", json.dumps(spec)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"fixtures failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
