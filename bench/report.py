"""Results: one JSON per scenario, a Markdown table of every scenario's latest result, ratios on stdout."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ORDER = ["idle", "relay", "cluster", "streaming", "stop", "reconnect", "sse", "kb", "data"]


def write_json(result: dict, out: Path = RESULTS) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{result['scenario']}.json"
    path.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    return path


def load_all(out: Path = RESULTS) -> list[dict]:
    """Every scenario's latest JSON, in the README's order."""
    found = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    return [found[name] for name in ORDER if name in found]


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: list[dict], columns: list[str]) -> str:
    """A Markdown table of the given columns."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(column)) for column in columns) + " |" for row in rows]
    return "\n".join(lines)


def comparison_lines(result: dict) -> list[str]:
    """One line per comparison: what, Parley's value (or its `subject`'s), the baseline's, and their ratio."""
    lines = []
    for c in result.get("comparisons", []):
        ratio = "n/a" if c.get("ratio") is None else f"{c['ratio']:.2f}x"
        lines.append(
            f"{result['scenario']:>9} | {c['what']}: {c.get('subject', 'Parley')} {_cell(c['parley'])} "
            f"vs {c['baseline']} {_cell(c['baseline_value'])} -> ratio {ratio}"
        )
    return lines


def markdown(results: list[dict]) -> str:
    """The tables for bench/results/results.md and the README."""
    parts = []
    for result in results:
        parts.append(f"### {result['scenario']}: {result.get('title', '')}\n")
        run = result.get("run", {})
        parts.append(
            f"Run {run.get('started', '?')} ({'smoke' if run.get('smoke') else 'full'} sizes, "
            f"{run.get('seconds', '?')} s, database {run.get('database', '?')}, load average at its start "
            f"{run.get('machine', {}).get('load_at_start')}). "
            f"Sizes: `{json.dumps(result.get('params', {}), separators=(',', ':'))}`\n"
        )
        if result.get("rows"):
            parts.append(table(result["rows"], result.get("columns") or list(result["rows"][0])) + "\n")
        if result.get("comparisons"):
            comparisons = [
                {
                    "comparison": c["what"],
                    "Parley": c["parley"],
                    "baseline": c["baseline"],
                    "baseline value": c["baseline_value"],
                    "ratio": c["ratio"],
                }
                for c in result["comparisons"]
            ]
            parts.append(table(comparisons, ["comparison", "Parley", "baseline", "baseline value", "ratio"]) + "\n")
        for note in result.get("notes", []):
            parts.append(f"- {note}")
        if result.get("error"):
            parts.append(f"- **failed**: `{result['error'].strip().splitlines()[-1]}`")
        parts.append("")
    return "\n".join(parts)


README = Path(__file__).resolve().parent / "README.md"
README_MARK = "## Latest results"


def machine_line(results: list[dict]) -> str:
    """Where and when the tables were measured."""
    if not results:
        return "No results yet."
    run = results[0].get("run", {})
    m = run.get("machine", {})
    sizes = {"smoke" if r.get("run", {}).get("smoke") else "full" for r in results}
    return (
        f"Measured on {m.get('cpus', '?')} cores ({m.get('cpu_model') or 'unknown CPU'}), "
        f"{m.get('memory_gib', '?')} GiB, Linux {m.get('kernel', '?')}; load average at the start "
        f"{m.get('load_at_start')}; {' and '.join(sorted(sizes))} sizes; database {run.get('database')}, "
        f"Redis {'yes' if run.get('redis') else 'no'}; clients on the same machine."
    )


def update_readme(results: list[dict], preface: str = "") -> None:
    """Replace everything after README's "Latest results" heading with these tables."""
    text = README.read_text()
    head = text.split(README_MARK, 1)[0]
    body = "\n\n".join(part for part in (preface.strip(), machine_line(results), markdown(results)) if part)
    README.write_text(f"{head}{README_MARK}\n\n{body.rstrip()}\n")
