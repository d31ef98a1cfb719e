"""Editor support -> the real yaml-language-server (npm, pinned in package-lock.json) over LSP,
check-jsonschema and Ajv in strict mode, all with the checked-in schemas/crossfed.schema.json.

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

INVALID = sorted((REPO / "fixtures" / "invalid").glob("*.yaml"))
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



# --- Ajv (strict mode) ----------------------------------------------------------------------------

AJV_RUNNER = Path(__file__).resolve().parent / "support" / "ajv_validate.mjs"


def as_json(paths: list[Path], into: Path) -> dict[Path, Path]:
    """Each YAML spec that parses as one YAML 1.2 document, written as JSON (what a validator
    sees); YAML syntax errors and empty files are the parser's to report, not the schema's."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    reader = YAML(typ="safe", pure=True)
    out = {}
    for path in paths:
        try:
            doc = reader.load(path.read_text())
        except YAMLError:
            continue
        # An alias is one shared object here, and writing it out expands it: an alias bomb
        # would never finish. Documents with aliases are the YAML parser's to judge.
        if doc is None or has_aliases(doc):
            continue
        target = into / (path.stem + ".json")
        target.write_text(json.dumps(doc))
        out[path] = target
    return out


def has_aliases(doc) -> bool:
    seen: set[int] = set()
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, (dict, list)):
            if id(node) in seen:
                return True
            seen.add(id(node))
            stack.extend(node.values() if isinstance(node, dict) else node)
    return False


def ajv(docs: list[Path]) -> dict[str, str]:
    node = require_tool("node", "Node.js runs Ajv (Debian: nodejs).")
    modules = required_env("CROSSFED_NODE_MODULES", "node_modules holding ajv (npm ci of tests/interop)")
    # An ES module resolves packages from its own location, so run a copy beside node_modules.
    runner = Path(modules).parent / "ajv_validate.mjs"
    runner.write_text(AJV_RUNNER.read_text())
    r = subprocess.run([node, str(runner), str(SCHEMA), *map(str, docs)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"Ajv (strict) refused the schema: {r.stderr}"
    verdicts = {}
    for line in r.stdout.splitlines():
        verdict, _, rest = line.partition(" ")
        name, _, errors = rest.partition(" ")
        verdicts[name] = verdict if verdict == "ok" else f"invalid: {errors}"
    return verdicts


def test_ajv_strict_accepts_the_schema_and_every_valid_fixture(tmp_path):
    docs = as_json(VALID, tmp_path)
    assert len(docs) == len(VALID)
    verdicts = ajv(list(docs.values()))
    bad = {p.name: verdicts.get(str(j)) for p, j in docs.items() if verdicts.get(str(j)) != "ok"}
    assert not bad, bad


def test_ajv_and_check_jsonschema_agree_on_every_invalid_fixture(tmp_path):
    """Two independent validators of the one schema give the same verdict on every mistake of the
    error corpus (as JSON, so both read the same document); and every one that the schema alone
    rejects is rejected by crossfed with an error at the same place's field path."""
    docs = as_json(INVALID, tmp_path)
    verdicts = ajv(list(docs.values()))
    disagree = {}
    rejected = 0
    for path, doc in docs.items():
        by_ajv = verdicts.get(str(doc), "missing") != "ok"
        by_cj = check_jsonschema([doc]).returncode != 0
        if by_ajv != by_cj:
            disagree[path.name] = (verdicts.get(str(doc)), by_cj)
        rejected += by_ajv
    assert not disagree, disagree
    # The corpus holds schema-level mistakes (formats, types, unknown keys), not only semantic ones.
    assert rejected >= 20, rejected


def test_mutation_ajv_rejects_a_misspelt_key(tmp_path):
    docs = as_json([TYPO], tmp_path)
    verdict = ajv(list(docs.values()))[str(docs[TYPO])]
    assert verdict.startswith("invalid") and "serviceAcount" in verdict, verdict
