"""Run benchmarks: `python -m bench.run [scenario ...] [--smoke]`; every scenario when none is named."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from bench import plots, procstat, report
from bench.context import Context

SCENARIOS = report.ORDER


def run_one(name: str, context: Context, out: Path) -> dict:
    """Run one scenario; a failure is recorded in its result rather than ending the run."""
    module = importlib.import_module(f"bench.scenarios.{name}")
    started = time.time()
    print(f"== {name}: {module.TITLE} ({'smoke' if context.smoke else 'full'})", flush=True)
    try:
        result = module.run(context)
    except Exception:
        traceback.print_exc()
        result = {"rows": [], "comparisons": [], "error": traceback.format_exc()[-2000:]}
    result = {"scenario": name, "title": module.TITLE, "params": context.params(module), **result}
    result["run"] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
        "smoke": context.smoke,
        "seconds": round(time.time() - started, 1),
        "database": context.engine,
        "redis": context.redis,
        "fd_limit": context.fd_limit,
        "machine": procstat.machine(),
    }
    report.write_json(result, out)
    plots.draw(result, out)
    for line in report.comparison_lines(result):
        print(line, flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenarios", nargs="*", metavar="scenario", help=f"any of: {', '.join(SCENARIOS)}")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the machinery in seconds")
    parser.add_argument("--out", type=Path, default=report.RESULTS, help="where JSON, Markdown and PNGs go")
    parser.add_argument("--database", choices=["postgres", "sqlite"], help="default: postgres when it answers")
    parser.add_argument("--readme", action="store_true", help="also put the tables into bench/README.md")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help='override a size, e.g. --set sizes=[2000] --set rates=[100,200] --set layers=["memory"]',
    )
    args = parser.parse_args(argv)
    try:
        overrides = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    except ValueError:
        parser.error("--set takes KEY=JSON, e.g. --set concurrency=[100]")
    names = args.scenarios or SCENARIOS
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    context = Context.create(smoke=args.smoke, engine=args.database, overrides=overrides)
    print(
        f"database {context.engine}, redis {'yes' if context.redis else 'no'}, open files {context.fd_limit}",
        flush=True,
    )
    failed = []
    try:
        for name in names:
            if run_one(name, context, args.out).get("error"):
                failed.append(name)
    finally:
        context.close()
    latest = report.load_all(args.out)
    (args.out / "results.md").write_text(report.machine_line(latest) + "\n\n" + report.markdown(latest))
    if args.readme:
        report.update_readme(latest)
    print(f"results in {args.out}/ (results.md, <scenario>.json, <scenario>.png)")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
