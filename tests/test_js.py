"""The browser code's checks, as part of the one test command: unit tests, type check, and the module graph."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from tests.services import need

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "static"
TSC = ROOT / "node_modules" / "typescript" / "bin" / "tsc"

# `import ... from "./x.js"` and `export ... from "../y.js"`, also spread over lines; no bare specifiers here.
RELATIVE_IMPORT = re.compile(r"^\s*(?:import|export)\b[^;\"']*?\bfrom\s*[\"'](\.{1,2}/[^\"']+)[\"']", re.MULTILINE)
MODULEPRELOAD = re.compile(r"<link rel=\"modulepreload\" href=\"\{% static '([^']+)' %\}\">")


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def node_path() -> str:
    node = shutil.which("node")
    need(node is not None, "Node.js is not installed")
    return node


def relative_imports(module: Path) -> list[Path]:
    return [(module.parent / spec).resolve() for spec in RELATIVE_IMPORT.findall(module.read_text())]


def module_graph(entry: Path) -> set[Path]:
    """Every module `entry` loads, itself included."""
    seen: set[Path] = set()
    todo = [entry.resolve()]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(relative_imports(module))
    return seen


def preloaded(template: str) -> set[Path]:
    return {(STATIC / path).resolve() for path in MODULEPRELOAD.findall((ROOT / "templates" / template).read_text())}


def test_javascript_unit_tests_pass():
    result = run(node_path(), "--test", "tests/js/")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_typescript_check_passes():
    """`npm run typecheck`: tsc checks the modules that carry `// @ts-check` (jsconfig.json)."""
    node = node_path()
    need(TSC.is_file(), "TypeScript is not installed (run `npm ci`)")
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["typescript"]
    version = run(node, str(TSC), "--version")
    need(version.returncode == 0, f"the installed TypeScript does not run (run `npm ci`): {version.stderr.strip()}")
    installed = version.stdout.split()[-1]
    need(installed == pinned, f"TypeScript {installed} is installed but package.json pins {pinned} (run `npm ci`)")
    result = run(node, str(TSC), "-p", "jsconfig.json")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_type_checked_modules_are_exactly_those_marked_ts_check():
    config = json.loads((ROOT / "jsconfig.json").read_text())
    included = {path for pattern in config["include"] for path in ROOT.glob(pattern)}
    marked = {path for path in STATIC.rglob("*.js") if path.read_text().startswith("// @ts-check\n")}
    assert included == marked, sorted(str(p.relative_to(ROOT)) for p in included ^ marked)
    assert STATIC / "shared" / "events.js" in marked


def test_every_relative_import_in_static_resolves():
    missing = [
        f"{module.relative_to(ROOT)} imports {target}"
        for module in STATIC.rglob("*.js")
        for target in relative_imports(module)
        if not target.is_file() or STATIC.resolve() not in target.parents
    ]
    assert not missing, missing


def test_widget_frame_preloads_exactly_the_modules_it_imports():
    """frame.html names every module of the frame up front, so the iframe loads them in one round."""
    graph = module_graph(STATIC / "widget" / "frame.js") - {(STATIC / "widget" / "frame.js").resolve()}
    preloads = preloaded("widget/frame.html")
    assert preloads == graph, sorted(str(p.relative_to(STATIC)) for p in preloads ^ graph)


def test_desk_preloads_only_modules_it_imports():
    graph = module_graph(STATIC / "desk" / "desk.js")
    stale = preloaded("desk/desk.html") - graph
    assert not stale, sorted(str(p.relative_to(STATIC)) for p in stale)
