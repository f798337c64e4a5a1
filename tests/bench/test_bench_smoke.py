"""One tiny run of every benchmark scenario: the machinery works and writes the JSON the README reads."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMON = {"scenario", "title", "params", "rows", "columns", "comparisons", "notes", "plots", "run"}
ROW_KEYS = {
    "idle": {"system", "sockets", "kib_per_socket", "idle_cpu_pct"},
    "relay": {"system", "layer", "rate_msgs_s", "p50_ms", "p99_ms", "within_budget"},
    "streaming": {"system", "replies", "delay_p50_ms", "delay_p99_ms", "ttft_added_p50_ms", "cpu_us_per_token"},
    "stop": {"system", "stops", "stop_to_close_p50_ms", "stop_to_close_p99_ms", "stop_to_end_p50_ms",
             "stop_to_end_p99_ms"},
    "reconnect": {"system", "clients", "all_back_s", "lost", "duplicates"},
    "sse": {"system", "transport", "replies", "delay_p50_ms", "delay_p99_ms", "cpu_us_per_token"},
    "kb": {"provider", "messages", "p50_ms", "p99_ms"},
}

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """Run every scenario once at smoke size, on SQLite and the in-memory layer (no services needed)."""
    out = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "-m", "bench.run", "--smoke", "--database", "sqlite", "--out", str(out)]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "ratio" in finished.stdout  # every comparison is printed as Parley / baseline
    return out


@pytest.mark.parametrize("scenario", sorted(ROW_KEYS))
def test_scenario_wrote_its_numbers(results: Path, scenario: str):
    data = json.loads((results / f"{scenario}.json").read_text())
    assert "error" not in data, data.get("error")
    assert COMMON <= set(data)
    assert data["rows"], "no measurement"
    for row in data["rows"]:
        missing = ROW_KEYS[scenario] - set(row)
        assert not missing, f"{scenario} row lacks {missing}: {row}"
    assert data["comparisons"], "no baseline comparison"
    for comparison in data["comparisons"]:
        assert {"what", "parley", "baseline", "baseline_value", "ratio"} <= set(comparison)
    if importlib.util.find_spec("matplotlib"):
        assert (results / f"{scenario}.png").exists() or (results / f"{scenario}-1.png").exists()


def test_parley_takes_every_widget_back_without_loss_or_duplicates(results: Path):
    parley = next(row for row in json.loads((results / "reconnect.json").read_text())["rows"]
                  if row["system"] == "Parley")
    assert parley["back"] == parley["clients"]
    assert parley["lost"] == 0, parley
    assert parley["duplicates"] == 0, parley


def test_the_markdown_table_lists_every_scenario(results: Path):
    table = (results / "results.md").read_text()
    for scenario in ROW_KEYS:
        assert f"### {scenario}:" in table
