"""Editor support -> the real yaml-language-server (npm, pinned in package-lock.json) over LSP,
and check-jsonschema, both with the checked-in schemas/crossfed.schema.json.

The fixtures name the schema with the modeline the README documents
(`# yaml-language-server: $schema=../../schemas/crossfed.schema.json`); the VS Code-style
`yaml.schemas` mapping is exercised on a copy without the modeline. SchemaStore is off: no network.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, VALID, required_env, require_tool
from support import lsp

SCHEMA = REPO / "schemas" / "crossfed.schema.json"
TYPO = REPO / "fixtures" / "invalid" / "unknown-field-typo.yaml"


def settings(schemas: dict | None = None) -> dict:
    return {
        "yaml": {
            "validate": True,
            "hover": True,
            "completion": True,
            "format": {"enable": False},
            "schemaStore": {"enable": False, "url": ""},
            "schemas": schemas or {},
            "yamlVersion": "1.2",
        }
    }


def server_argv() -> list[str]:
    modules = Path(required_env("CROSSFED_NODE_MODULES", "node_modules holding yaml-language-server (npm ci of tests/interop)"))
    script = modules / "yaml-language-server" / "bin" / "yaml-language-server"
    assert script.is_file(), f"{script} is missing: `npm ci` of tests/interop/package-lock.json did not complete"
    node = require_tool("node", "Install Node.js 20 (yaml-language-server 1.25 runs on it).")
    return [node, str(script), "--stdio"]


@pytest.fixture(scope="module")
def server():
    client = lsp.Client(server_argv(), settings(), REPO)
    yield client
    client.close()


def key_position(text: str, key: str) -> tuple[int, int]:
    for n, line in enumerate(text.splitlines()):
        m = re.match(rf"^(\s*){re.escape(key)}:", line)
        if m:
            return n, len(m.group(1)) + 1
    raise AssertionError(f"no `{key}:` key in the document")


def describe(diags: list[dict]) -> str:
    return "; ".join(f"{d['range']['start']['line'] + 1}:{d['range']['start']['character'] + 1} {d['message']}" for d in diags)


@pytest.mark.parametrize("fixture", VALID, ids=[p.stem for p in VALID])
def test_valid_fixture_has_no_diagnostics(server, fixture):
    uri = server.open(fixture)
    diags = server.diagnostics(uri)
    assert diags == [], f"{fixture.name}: {describe(diags)}"
    # The schema really applied: a key's hover shows its description.
    line, char = key_position(fixture.read_text(), "federations")
    assert "The federations to render" in server.hover(uri, line, char)


def test_misspelt_key_is_flagged_at_its_line(server):
    uri = server.open(TYPO)
    diags = server.diagnostics(uri, expect_some=True)
    text = TYPO.read_text().splitlines()
    line = next(n for n, l in enumerate(text) if "serviceAcount" in l)
    col = text[line].index("serviceAcount")
    hits = [d for d in diags if d["range"]["start"]["line"] == line]
    assert hits, f"no diagnostic on line {line + 1}; got: {describe(diags)}"
    assert any("serviceAcount" in d["message"] and d["range"]["start"]["character"] == col for d in hits), describe(hits)
    assert len(diags) == 1, f"expected exactly the typo, got: {describe(diags)}"


def _description(*path: str) -> str:
    schema = json.loads(SCHEMA.read_text())
    node = schema
    for p in path:
        node = node["properties"][p] if p in node.get("properties", {}) else node
        if "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
        elif "allOf" in node and len(node["allOf"]) == 1:
            node = {**node, **schema["definitions"][node["allOf"][0]["$ref"].rsplit("/", 1)[1]]}
    return node.get("description", "")


@pytest.mark.parametrize("key", ["version", "gcp", "aws", "federations"])
def test_hover_on_a_key_shows_its_description(server, key):
    fixture = REPO / "fixtures" / "valid" / "quickstart.yaml"
    uri = server.open(fixture)
    server.diagnostics(uri)
    want = _description(key)
    assert want, f"the schema has no description for `{key}`"
    line, char = key_position(fixture.read_text(), key)
    got = server.hover(uri, line, char)
    assert want.split("`")[0].strip() in got, f"hover on `{key}`: {got!r}; schema says {want!r}"


def test_nested_key_hover(server):
    fixture = REPO / "fixtures" / "valid" / "quickstart.yaml"
    text = fixture.read_text()
    uri = server.open(fixture)
    server.diagnostics(uri)
    line, char = key_position(text, "workloadIdentityPools")
    got = server.hover(uri, line, char)
    want = _description("gcp", "workloadIdentityPools")
    assert want and want.split("`")[0].strip()[:40] in got, f"hover: {got!r}; schema: {want!r}"


def test_settings_mapping_without_modeline(tmp_path):
    """VS Code's `yaml.schemas` mapping (README) applies the schema to a file with no modeline."""
    text = "\n".join(l for l in TYPO.read_text().splitlines() if "yaml-language-server:" not in l) + "\n"
    spec = tmp_path / "crossfed.yaml"
    spec.write_text(text)
    client = lsp.Client(server_argv(), settings({SCHEMA.as_uri(): ["crossfed.yaml", "**/crossfed*.yaml"]}), tmp_path)
    try:
        diags = client.diagnostics(client.open(spec), expect_some=True)
    finally:
        client.close()
    assert any("serviceAcount" in d["message"] for d in diags), describe(diags)


# --- check-jsonschema ---------------------------------------------------------------------------


def check_jsonschema(paths: list[Path]) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "check-jsonschema"
    assert exe.is_file(), f"{exe} is missing: the venv bootstrap is incomplete"
    return subprocess.run([str(exe), "--schemafile", str(SCHEMA), *map(str, paths)], capture_output=True, text=True, timeout=120)


def test_check_jsonschema_accepts_every_valid_fixture():
    r = check_jsonschema(VALID)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mutation_misspelt_key_fails_check_jsonschema():
    r = check_jsonschema([TYPO])
    assert r.returncode != 0 and "serviceAcount" in r.stdout + r.stderr, r.stdout + r.stderr


def test_mutation_misspelt_key_in_valid_fixture_is_flagged_by_the_editor(server):
    fixture = REPO / "fixtures" / "valid" / "quickstart.yaml"
    text = fixture.read_text().replace("serviceAccount:", "serviceAcount:", 1)
    assert text != fixture.read_text()
    # Opened with its text under a name beside the fixture (so the modeline resolves); no file is written.
    uri = server.open(fixture.with_name("interop-mutated.yaml"), text)
    diags = server.diagnostics(uri, expect_some=True)
    assert any("serviceAcount" in d["message"] for d in diags), describe(diags)

