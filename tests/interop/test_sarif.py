"""`crossfed validate --format sarif` -> the official SARIF 2.1.0 JSON Schema (OASIS), through the
`jsonschema` package's draft-04 validator. The schema is vendored in schemas/ (see the README
there for its source), so nothing reaches the network.

Code-scanning tools (GitHub code scanning, SARIF viewers) reject or silently drop a log the schema
rejects. Each invalid fixture below must produce a conforming log with one result per diagnostic
that points back into the fixture; a valid spec with a note must too. The mutation tests break a
real log on purpose and expect the schema to notice, so the check can fail.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from conftest import REPO

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "sarif-schema-2.1.0.json"

# Diagnostics from every stage: YAML syntax, schema, semantic checks, plan limits, security rules.
INVALID = [
    "yaml-syntax-unclosed-bracket",
    "unknown-field-typo",
    "several-mistakes",
    "dangling-role",
    "trust-policy-too-large",
    "kubernetes-system-namespace",
    "long-session-token-lifetime",
    "accept-rule-that-does-not-fire",
]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def sarif(crossfed_bin: str, spec: str, expected_exit: int) -> dict:
    result = subprocess.run(
        [crossfed_bin, "validate", spec, "--format", "sarif"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == expected_exit, f"{spec}: exit {result.returncode}\n{result.stderr}"
    return json.loads(result.stdout)


def errors(validator: jsonschema.Draft4Validator, log: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]


@pytest.mark.parametrize("stem", INVALID)
def test_sarif_of_invalid_fixtures_conforms(crossfed_bin, validator, stem):
    spec = f"fixtures/invalid/{stem}.yaml"
    log = sarif(crossfed_bin, spec, 1)
    assert errors(validator, log) == [], stem
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "crossfed"
    assert run["results"], stem
    lines = (REPO / spec).read_text().splitlines()
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == "error" or result["level"] == "note"
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == spec
        assert 1 <= location["region"]["startLine"] <= max(len(lines), 1)
        assert location["region"]["startColumn"] >= 1
    assert any(r["level"] == "error" for r in run["results"]), stem


def test_sarif_of_a_valid_spec_with_a_note_conforms(crossfed_bin, validator):
    log = sarif(crossfed_bin, "fixtures/valid/eks-oidc-impersonation.yaml", 0)
    assert errors(validator, log) == []
    (result,) = log["runs"][0]["results"]
    assert result["level"] == "note"
    assert result["ruleId"] == "impersonation-where-direct-access-would-do"


def test_sarif_of_a_clean_spec_conforms(crossfed_bin, validator):
    log = sarif(crossfed_bin, "fixtures/valid/gke-to-aws-walkthrough.yaml", 0)
    assert errors(validator, log) == []
    assert log["runs"][0]["results"] == []


@pytest.mark.parametrize(
    "what, breaks",
    [
        ("wrong version", lambda log: log.update(version="2.0.0")),
        ("unknown level", lambda log: log["runs"][0]["results"][0].update(level="fatal")),
        ("line 0", lambda log: log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"].update(startLine=0)),
        ("message without text", lambda log: log["runs"][0]["results"][0].update(message={})),
        ("driver without name", lambda log: log["runs"][0]["tool"]["driver"].pop("name")),
        ("misspelt key", lambda log: log["runs"][0]["results"][0].update(ruleID="x")),
    ],
)
def test_sarif_mutations_are_caught(crossfed_bin, validator, what, breaks):
    log = sarif(crossfed_bin, "fixtures/invalid/several-mistakes.yaml", 1)
    assert errors(validator, log) == []
    broken = copy.deepcopy(log)
    breaks(broken)
    assert errors(validator, broken), f"{what}: the SARIF schema accepted a broken log"
