"""Reaching the real Redis and PostgreSQL from tests: skip without them, fail when REQUIRE_SERVICES=1."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def services_required() -> bool:
    """CI sets REQUIRE_SERVICES=1: a missing service is then a failure, not a skip."""
    return os.environ.get("REQUIRE_SERVICES") == "1"


def need(available: bool, reason: str) -> None:
    """Skip (or fail under REQUIRE_SERVICES=1) when a service is missing."""
    if available:
        return
    if services_required():
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def redis_url() -> str:
    """The Redis to test against; skipped/failed if it does not answer PING."""
    url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        ok = True
    except Exception:
        ok = False
    need(ok, f"Redis is not reachable at {url}")
    return url


def postgres_server_url() -> str:
    """A PostgreSQL maintenance URL; skipped/failed if it does not accept a connection."""
    url = os.environ.get("TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    try:
        import psycopg

        psycopg.connect(_psycopg_dsn(url), connect_timeout=2).close()
        ok = True
    except Exception:
        ok = False
    need(ok, f"PostgreSQL is not reachable at {url}")
    return url


def _psycopg_dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


class ScratchDatabase:
    """A PostgreSQL database made for one test module and dropped after it."""

    def __init__(self, server_url: str):
        self.server_url = server_url
        self.name = f"parley_scratch_{uuid.uuid4().hex[:10]}"
        parts = urlsplit(server_url)
        self.url = urlunsplit((parts.scheme, parts.netloc, f"/{self.name}", "", ""))

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(_psycopg_dsn(self.server_url), autocommit=True) as connection:
            connection.execute(sql)

    def create(self) -> ScratchDatabase:
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
