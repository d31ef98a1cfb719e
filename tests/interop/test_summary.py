"""The review summary (OUT/README.md) -> the real Mermaid parser.

GitHub renders the ```mermaid block of the rendered README.md in pull requests; a block the
parser rejects shows as an error box instead of the trust chain. Each fixture's block must parse
as a flowchart, and a deliberately broken block must not (so the check can fail).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import fixture_ids, require_tool, required_env

PARSER = Path(__file__).resolve().parent / "support" / "mermaid_parse.mjs"


def mermaid_block(readme: str) -> str:
    blocks = re.findall(r"```mermaid\n(.*?)```", readme, flags=re.S)
    assert len(blocks) == 1, f"expected one mermaid block, found {len(blocks)}"
    return blocks[0]


def parse(text: str) -> subprocess.CompletedProcess:
    node = require_tool("node", "Node.js runs the Mermaid parser (Debian: nodejs).")
    modules = required_env("CROSSFED_NODE_MODULES", "node_modules holding mermaid and jsdom (npm ci of tests/interop)")
    # An ES module resolves packages from its own location, so run a copy beside node_modules.
    runner = Path(modules).parent / "mermaid_parse.mjs"
    runner.write_text(PARSER.read_text())
    return subprocess.run([node, str(runner)], input=text, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("stem", fixture_ids())
def test_summary_mermaid_parses(render_tree, stem):
    readme = (render_tree(stem).root / "README.md").read_text()
    result = parse(mermaid_block(readme))
    assert result.returncode == 0, f"{stem}: mermaid rejected the trust chain:\n{result.stderr}"
    assert result.stdout.strip().startswith("flowchart"), result.stdout


def test_summary_table_lists_every_federation(render_tree):
    for stem in fixture_ids():
        tree = render_tree(stem)
        readme = (tree.root / "README.md").read_text()
        names = [f["name"] for f in tree.spec.raw["federations"]]
        assert names, stem
        for name in names:
            assert f"| `{name}` |" in readme, f"{stem}: {name} missing from the summary table"
        for link in re.findall(r"\]\(([^)]+)\)", readme):
            assert (tree.root / link).is_file(), f"{stem}: the summary links to {link}, which was not rendered"


def test_a_broken_block_is_rejected(render_tree):
    block = mermaid_block((render_tree(fixture_ids()[0]).root / "README.md").read_text())
    broken = block.replace('"]', '"', 1)
    assert broken != block
    assert parse(broken).returncode == 1
