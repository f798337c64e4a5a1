"""The server and the browser code agree on which event types belong to a transcript (deduped, replayed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from chat.realtime.dedupe import TRACKED
from tests.services import need

ROOT = Path(__file__).resolve().parents[1]
EVENTS_JS = ROOT / "static" / "shared" / "events.js"
STRING = r"\"([a-z_.]+)\""
TRACKED_TYPES = re.compile(r"^export const TRACKED_TYPES = [^\[]*\[([^\]]*)\]", re.MULTILINE)


def js_tracked_types() -> list[str]:
    """The list literal of `TRACKED_TYPES` in static/shared/events.js, which must hold string literals only."""
    match = TRACKED_TYPES.search(EVENTS_JS.read_text())
    assert match, f"no `export const TRACKED_TYPES = [...]` in {EVENTS_JS.relative_to(ROOT)}"
    literal = match.group(1)
    assert re.fullmatch(rf"\s*(?:{STRING}\s*,\s*)*(?:{STRING}\s*,?\s*)?", literal), (
        f"not a list of strings: {literal!r}"
    )
    return re.findall(STRING, literal)


def test_the_javascript_tracks_the_same_event_types_as_the_server():
    types = js_tracked_types()
    assert len(types) == len(set(types)), f"listed twice: {types}"
    assert set(types) == set(TRACKED)


def test_the_parsed_list_is_what_the_module_exports():
    """Guards the parsing above: node imports the module and prints what it really exports."""
    node = shutil.which("node")
    need(node is not None, "Node.js is not installed")
    script = "const m = await import(process.argv[1]); console.log(JSON.stringify([...m.TRACKED_TYPES]));"
    result = subprocess.run(
        [node, "--input-type=module", "-e", script, EVENTS_JS.as_uri()], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == js_tracked_types()


def test_no_other_browser_module_keeps_its_own_list():
    """The widget and the desk import the shared list; a second copy is how the lists drifted apart before."""
    copies = []
    for module in (ROOT / "static").rglob("*.js"):
        if module == EVENTS_JS:
            continue
        for literal in re.findall(r"\[([^\[\]]*)\]", module.read_text()):
            if set(re.findall(STRING, literal)) >= set(TRACKED):
                copies.append(str(module.relative_to(ROOT)))
    assert not copies, copies
