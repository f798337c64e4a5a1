"""One tiny run of every benchmark scenario: the machinery works and writes the JSON the README reads.

Every scenario runs on SQLite and the in-memory layer, except `cluster`, which needs what production has
(PostgreSQL, Redis, nginx), and `data`, which seeds PostgreSQL with its own SQL: they are skipped without them, and
fail under REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report
from bench.context import Context
from bench.databases import POSTGRES_URL, REDIS_URL, postgres_available, redis_available
from bench.scenarios import cluster
from deploy.cluster import NGINX
from tests.services import need

ROOT = Path(__file__).resolve().parents[2]
COMMON = {"scenario", "title", "params", "rows", "columns", "comparisons", "notes", "plots", "run"}
ROW_KEYS = {
    "idle": {"system", "sockets", "kib_per_socket", "idle_cpu_pct"},
    "relay": {
        "system",
        "layer",
        "rate_msgs_s",
        "p50_ms",
        "p99_ms",
        "cpu_ms_per_msg",
        "server_cpu_pct",
        "within_budget",
    },
    "streaming": {"system", "replies", "delay_p50_ms", "delay_p99_ms", "ttft_added_p50_ms", "cpu_us_per_token"},
    "stop": {
        "system",
        "stops",
        "stop_to_close_p50_ms",
        "stop_to_close_p99_ms",
        "stop_to_end_p50_ms",
        "stop_to_end_p99_ms",
    },
    "reconnect": {"system", "clients", "all_back_s", "lost", "duplicates"},
    "sse": {"system", "transport", "replies", "delay_p50_ms", "delay_p99_ms", "cpu_us_per_token"},
    "kb": {"provider", "messages", "p50_ms", "p99_ms"},
}
CLUSTER_ROW_KEYS = ROW_KEYS["relay"]  # the relay ladder's rows, on two topologies
DATA_ROW_KEYS = {"page", "messages", "p50_ms", "max_ms"}

pytestmark = pytest.mark.integration


def _smoke_run(out: Path, *args: str) -> None:
    """`python -m bench.run --smoke` with the given arguments; fails with the run's output if it did."""
    command = [sys.executable, "-m", "bench.run", "--smoke", "--out", str(out), *args]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "ratio" in finished.stdout  # every comparison is printed as Parley / baseline


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """Run every scenario but the service ones once at smoke size, on SQLite and the in-memory layer."""
    out = tmp_path_factory.mktemp("bench")
    # In the runner's order: a later scenario may reuse an earlier one's measurement (sse reads streaming's).
    _smoke_run(out, "--database", "sqlite", *(name for name in report.ORDER if name in ROW_KEYS))
    return out


@pytest.fixture(scope="module")
def cluster_results(tmp_path_factory) -> Path:
    """Run the cluster scenario at smoke size on PostgreSQL, Redis and nginx; skipped (or failed) without them."""
    need(os.path.exists(NGINX), f"nginx is not installed at {NGINX}")
    need(postgres_available(), f"PostgreSQL is not reachable at {POSTGRES_URL}")
    need(redis_available(), f"Redis is not reachable at {REDIS_URL}")
    out = tmp_path_factory.mktemp("bench-cluster")
    _smoke_run(out, "--database", "postgres", "cluster")
    return out


@pytest.fixture(scope="module")
def data_results(tmp_path_factory) -> Path:
    """Run the data scenario at smoke size on PostgreSQL (its seeding is PostgreSQL's SQL); skipped without it."""
    need(postgres_available(), f"PostgreSQL is not reachable at {POSTGRES_URL}")
    out = tmp_path_factory.mktemp("bench-data")
    _smoke_run(out, "--database", "postgres", "data")
    return out


def _check_numbers(results: Path, scenario: str, row_keys: set) -> dict:
    """The scenario's JSON has rows with `row_keys`, comparisons and (with matplotlib) a chart; returns it."""
    data = json.loads((results / f"{scenario}.json").read_text())
    assert "error" not in data, data.get("error")
    assert COMMON <= set(data)
    assert data["rows"], "no measurement"
    for row in data["rows"]:
        missing = row_keys - set(row)
        assert not missing, f"{scenario} row lacks {missing}: {row}"
    assert data["comparisons"], "no baseline comparison"
    for comparison in data["comparisons"]:
        assert {"what", "parley", "baseline", "baseline_value", "ratio"} <= set(comparison)
    if importlib.util.find_spec("matplotlib"):
        assert (results / f"{scenario}.png").exists() or (results / f"{scenario}-1.png").exists()
    return data


@pytest.mark.parametrize("scenario", sorted(ROW_KEYS))
def test_scenario_wrote_its_numbers(results: Path, scenario: str):
    _check_numbers(results, scenario, ROW_KEYS[scenario])


def test_relay_compares_server_cpu_per_message(results: Path):
    comparisons = json.loads((results / "relay.json").read_text())["comparisons"]
    cpu = [c for c in comparisons if c["what"].startswith("server CPU ms per message")]
    assert {c["baseline"] for c in cpu} == {"minimal relay (memory)", "raw floor (none)"}, cpu
    assert all(c["ratio"] is not None for c in cpu), cpu


def test_cluster_measured_both_topologies(cluster_results: Path):
    rows = json.loads((cluster_results / "cluster.json").read_text())["rows"]
    assert {row["system"] for row in rows} == {"Parley cluster", "Parley, one Daphne"}
    # Delivered across processes (customer and agent on different Daphnes); a slow moment may miss the drain.
    assert all(row.get("sent") and row["lost"] <= row["sent"] // 10 and row["cpu_ms_per_msg"] for row in rows), rows
    data = _check_numbers(cluster_results, "cluster", CLUSTER_ROW_KEYS)
    cpu = [c for c in data["comparisons"] if c["what"].startswith("server CPU ms per message")]
    assert cpu and all(c["ratio"] is not None for c in cpu), data["comparisons"]


def test_data_times_every_page_at_both_sizes(data_results: Path):
    data = _check_numbers(data_results, "data", DATA_ROW_KEYS)
    sizes = {row["messages"] for row in data["rows"]}
    assert len(sizes) == 2, sizes  # the full size and a tenth of it
    assert all(c["ratio"] is not None for c in data["comparisons"]), data["comparisons"]


@pytest.mark.parametrize(
    ("nginx", "engine", "redis", "reason"),
    [
        ("/nowhere/nginx", "postgres", True, "nginx is not installed"),
        (sys.executable, "postgres", False, "Redis does not answer"),
        (sys.executable, "sqlite", True, "needs PostgreSQL"),
    ],
)
def test_cluster_without_its_services_says_why_in_a_row(monkeypatch, nginx: str, engine: str, redis: bool, reason: str):
    monkeypatch.setattr(cluster, "NGINX", nginx)  # any existing file passes the check; nothing is started
    result = cluster.run(Context(smoke=True, engine=engine, redis=redis))
    assert result["rows"] and all(row["within_budget"].startswith(f"skipped: {reason}") for row in result["rows"])


def test_parley_takes_every_widget_back_without_loss_or_duplicates(results: Path):
    parley = next(
        row for row in json.loads((results / "reconnect.json").read_text())["rows"] if row["system"] == "Parley"
    )
    assert parley["back"] == parley["clients"]
    assert parley["lost"] == 0, parley
    assert parley["duplicates"] == 0, parley


def test_the_markdown_table_lists_every_scenario(results: Path):
    table = (results / "results.md").read_text()
    for scenario in ROW_KEYS:
        assert f"### {scenario}:" in table
