"""Years of conversations: the desk's lists and search, the admin and the reports at 1,000,000 messages.

Each page is timed through the real views (Django's test client, in a process of its own) on a PostgreSQL
database seeded with bulk SQL, against the same page on a tenth of the data: the ratio is how much the page
grows with ten times the history (at most 2 is the target; a scan would be about 10).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from bench import stats
from bench.databases import POSTGRES_URL, ROOT, _postgres_admin, _with_database, django_env, postgres_available

TITLE = "Search, lists and reports with years of conversations"
# The seeded databases are kept and reused by later runs (seeding 1,000,000 messages takes a few minutes).
FULL = {"messages": 1_000_000, "repeats": 7, "timeout_s": 1800, "database": "parley_bench_data"}
SMOKE = {"messages": 10_000, "repeats": 2, "timeout_s": 300, "database": "parley_bench_data_smoke"}
COLUMNS = ["page", "messages", "p50_ms", "min_ms", "max_ms"]


def _schema() -> str:
    """A fingerprint of the migrations: a kept database seeded under other ones (other indexes) is seeded again."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "chat" / "migrations").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return f"parley-schema {digest.hexdigest()[:16]}"


def _kept_schema(name: str) -> str | None:
    """The schema a kept database was seeded under (its comment), "" without one, None if there is no database."""
    import psycopg

    with psycopg.connect(POSTGRES_URL.replace("postgres://", "postgresql://", 1), autocommit=True) as connection:
        row = connection.execute(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        return None if row is None else row[0]


def _measure(database: str, messages: int, p: dict) -> dict:
    """Seed (unless already there) and time every page on one database; the pages' timings and seeding time."""
    kept = _kept_schema(database)
    if kept is not None and kept != _schema():
        _postgres_admin(f'DROP DATABASE "{database}" WITH (FORCE)')
        kept = None
    if kept is None:
        _postgres_admin(f'CREATE DATABASE "{database}"')
        _postgres_admin(f"COMMENT ON DATABASE \"{database}\" IS '{_schema()}'")
    env = django_env(_with_database(POSTGRES_URL, database), ALLOWED_HOSTS="testserver,127.0.0.1,localhost")
    finished = subprocess.run(
        [sys.executable, "bench/data_pages.py", str(messages), str(p["repeats"])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=p["timeout_s"],
    )
    if finished.returncode != 0:
        raise RuntimeError(f"data_pages.py on {database} failed:\n{finished.stderr[-3000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def run(context) -> dict:
    p = context.params(sys.modules[__name__])
    if context.engine != "postgres" or not postgres_available():
        row = {"page": "skipped: needs PostgreSQL", "messages": p["messages"], "p50_ms": None, "min_ms": None}
        row["max_ms"] = None
        return {"rows": [row], "columns": COLUMNS, "comparisons": [], "notes": [], "plots": []}
    big, small = p["messages"], p["messages"] // 10
    measured = {
        small: _measure(f"{p['database']}_tenth", small, p),
        big: _measure(p["database"], big, p),
    }
    rows = [
        {"page": page, "messages": messages, **timing}
        for messages, result in measured.items()
        for page, timing in result["pages"].items()
    ]
    comparisons = [
        {
            "what": f"{page} p50 ms, {big:,} messages",
            "parley": timing["p50_ms"],
            "baseline": f"the same page at {small:,} messages",
            "baseline_value": measured[small]["pages"][page]["p50_ms"],
            "ratio": stats.ratio(timing["p50_ms"], measured[small]["pages"][page]["p50_ms"]),
        }
        for page, timing in measured[big]["pages"].items()
    ]
    notes = [
        f"One site, {big // 10:,} conversations of 10 messages (2% open), English and Chinese sentences, at "
        "the same rate per day at both sizes (1,000,000 messages are two years, a tenth of them 73 days), so the "
        "ratio shows what a longer history costs; a second site with 100 conversations. Seeded once with "
        "generate_series, then reused "
        f"(seeding took {measured[big]['seed_s']} s this run, 0 when reused).",
        "Desk search p50 is the median over five queries of each kind, each the median of its repeats. Reports "
        "are timed twice: with the 30 days counted from rows (first visit) and read from stored daily rollups.",
    ]
    plots = [
        {
            "title": "Page time, 10x the history",
            "xlabel": "messages",
            "ylabel": "ms",
            "series": {
                page: [[small, measured[small]["pages"][page]["p50_ms"]], [big, timing["p50_ms"]]]
                for page, timing in measured[big]["pages"].items()
            },
        }
    ]
    return {"rows": rows, "columns": COLUMNS, "comparisons": comparisons, "notes": notes, "plots": plots}
