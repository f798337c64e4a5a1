"""Invariant 2: seq is gap-free and strictly increasing under concurrent writers, on SQLite and PostgreSQL."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.services import ScratchDatabase, postgres_server_url

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "concurrent_senders.py"
WRITERS, MESSAGES = 8, 25


def run_writers(database_url: str) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("REDIS_URL", None)  # the writers only need the database
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(WRITERS), str(MESSAGES)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_gap_free(outcome: dict) -> None:
    total = 2 + WRITERS * MESSAGES  # the first message, the line saying the agent joined, and every writer's
    assert outcome["exit_codes"] == [0] * WRITERS
    assert outcome["seqs"] == list(range(1, total + 1))  # 1..N, no gap, no duplicate
    assert outcome["last_seq"] == total
    sent = [client_id for client_id in outcome["client_ids"][1:] if client_id]  # the system line has none
    assert sorted(sent) == sorted(outcome["sent"])  # every retry stored once


def test_concurrent_senders_on_sqlite(tmp_path: Path):
    assert_gap_free(run_writers(f"sqlite:///{tmp_path / 'seq.sqlite3'}"))


def test_concurrent_senders_on_postgresql():
    database = ScratchDatabase(postgres_server_url()).create()
    try:
        assert_gap_free(run_writers(database.url))
    finally:
        database.drop()
