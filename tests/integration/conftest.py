"""A small cluster on loopback: scratch PostgreSQL database, real Redis, real processes."""

import uuid

import pytest

from tests.integration.processes import manage, service_env
from tests.services import ScratchDatabase, postgres_server_url, redis_url

SHOP_ORIGIN = "http://shop.test"


@pytest.fixture(scope="module")
def cluster_env():
    """Environment for processes sharing a freshly migrated and seeded PostgreSQL database and Redis."""
    database = ScratchDatabase(postgres_server_url()).create()
    env = service_env(database.url, redis_url(), prefix=f"parley-it-{uuid.uuid4().hex[:8]}")
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--open-all-hours", "--origin", SHOP_ORIGIN)
        yield env
    finally:
        database.drop()
