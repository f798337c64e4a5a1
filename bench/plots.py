"""PNG line charts of each scenario's `plot` section (matplotlib from bench/requirements.txt)."""

from __future__ import annotations

from pathlib import Path


def draw(result: dict, out: Path) -> list[Path]:
    """One PNG per chart in result["plots"]; none (and no error) when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no display
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = []
    for index, chart in enumerate(result.get("plots", [])):
        if not any(y is not None for points in chart["series"].values() for _, y in points):
            continue  # nothing was measured (the scenario was skipped or failed): no empty chart
        figure, axes = plt.subplots(figsize=(7, 4.2), dpi=110)
        for label, points in chart["series"].items():
            points = [p for p in points if p[1] is not None]
            if points:
                xs, ys = zip(*points)
                axes.plot(xs, ys, marker="o", label=label)
        if chart.get("logx"):
            axes.set_xscale("log")
        if chart.get("logy"):
            axes.set_yscale("log")
        if chart.get("hline") is not None:
            axes.axhline(chart["hline"], color="grey", linestyle="--", linewidth=1)
        axes.set_title(chart["title"], fontsize=10)
        axes.set_xlabel(chart["xlabel"])
        axes.set_ylabel(chart["ylabel"])
        axes.grid(True, alpha=0.3)
        if axes.get_lines():
            axes.legend(fontsize=8)
        figure.tight_layout()
        suffix = f"-{index + 1}" if len(result["plots"]) > 1 else ""
        path = out / f"{result['scenario']}{suffix}.png"
        figure.savefig(path)
        plt.close(figure)
        paths.append(path)
    return paths
